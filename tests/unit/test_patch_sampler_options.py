"""PatchSampler's options for training across datasets: balance, noise, zoom (off by default)."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.training import PatchSampler, TrainingVolume, check_sampling
from liverbench.errors import ConfigError


def volume(value: float, group: str, shape=(16, 16, 16)) -> TrainingVolume:
    image = np.full(shape, value, np.float32)
    mask = np.zeros(shape, np.float32)
    mask[4:12, 4:12, 4:12] = 1.0
    return TrainingVolume(f"{group}-{value}", image, mask, (5.0, 5.0, 5.0), group)


def sources(sampler: PatchSampler, n: int = 400) -> np.ndarray:
    images, _ = sampler.sample(np.random.default_rng(0), n)
    return images[:, 0, 4, 4, 4]  # each volume is one constant value: it names the volume


def test_balance_dataset_gives_each_dataset_an_equal_share():
    vols = [volume(0.1 * i, "synthetic") for i in range(1, 10)] + [volume(0.95, "real")]
    plain = sources(PatchSampler(vols, (8, 8, 8)))
    balanced = sources(PatchSampler(vols, (8, 8, 8), balance="dataset"))
    assert abs(np.mean(np.isclose(plain, 0.95)) - 0.1) < 0.05
    assert abs(np.mean(np.isclose(balanced, 0.95)) - 0.5) < 0.08
    with pytest.raises(ConfigError, match="balance"):
        PatchSampler(vols, (8, 8, 8), balance="volume")


def test_options_off_draw_exactly_what_the_plain_sampler_draws():
    rng_vol = np.random.default_rng(1)
    vols = [TrainingVolume(f"c{i}", rng_vol.random((20, 24, 24), dtype=np.float32),
                           (rng_vol.random((20, 24, 24)) > 0.5).astype(np.float32), (5.0,) * 3) for i in range(3)]
    a = PatchSampler(vols, (8, 16, 16), 0.5, True).sample(np.random.default_rng(3), 4)
    b = PatchSampler(vols, (8, 16, 16), 0.5, True, balance="case", noise=0.0, zoom=0.0).sample(np.random.default_rng(3), 4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_noise_adds_bounded_gaussian_noise():
    vols = [volume(0.5, "synthetic")]
    images, _ = PatchSampler(vols, (8, 8, 8), noise=0.04).sample(np.random.default_rng(0), 50)
    sds = images.reshape(50, -1).std(axis=1)
    assert sds.max() <= 0.04 * 1.2 and sds.max() > 0.02 and np.allclose(images.mean(), 0.5, atol=0.01)


def test_zoom_resamples_regions_of_other_sizes_to_the_patch():
    # a ramp along x: a patch cut from a larger region spans a wider range of values
    ramp = np.broadcast_to(np.arange(64, dtype=np.float32), (16, 64, 64)).copy()
    mask = np.zeros_like(ramp)
    mask[:, 16:48, 16:48] = 1.0
    vols = [TrainingVolume("ramp", ramp, mask, (5.0,) * 3)]
    plain, _ = PatchSampler(vols, (8, 16, 16), fg_fraction=1.0).sample(np.random.default_rng(0), 40)
    images, masks = PatchSampler(vols, (8, 16, 16), fg_fraction=1.0, zoom=0.5).sample(np.random.default_rng(0), 40)
    assert images.shape == plain.shape == (40, 1, 8, 16, 16)
    spans = images[:, 0, 4, 8, -1] - images[:, 0, 4, 8, 0]
    assert np.ptp(plain[:, 0, 4, 8, -1] - plain[:, 0, 4, 8, 0]) == 0  # always 15 without zoom
    assert spans.min() < 13 and spans.max() > 17  # 16 / 1.5 .. 16 * 1.5 voxels of ramp
    assert masks.min() >= 0.0 and masks.max() <= 1.0


def test_config_checks_name_the_method_and_key():
    good = {"balance": "case", "augment_noise": 0.0, "augment_zoom": 0.0}
    check_sampling(good, "di2in")
    with pytest.raises(ConfigError, match="di2in: balance"):
        check_sampling({**good, "balance": "cases"}, "di2in")
    with pytest.raises(ConfigError, match="dsn3d: augment_zoom"):
        check_sampling({**good, "augment_zoom": -0.1}, "dsn3d")
    from baselines.di2in import DI2IN

    with pytest.raises(ConfigError, match=r"di2in\.params\.augment_noise: expected a number"):
        DI2IN(augment_noise="lots")
    assert DI2IN(balance="dataset", augment_zoom=0.2).config["balance"] == "dataset"


def test_issue29_augmentations_off_draw_what_the_plain_sampler_draws_and_each_changes_the_patch():
    rng_vol = np.random.default_rng(2)
    vols = [TrainingVolume(f"c{i}", rng_vol.random((20, 24, 24), dtype=np.float32),
                           (rng_vol.random((20, 24, 24)) > 0.5).astype(np.float32), (5.0,) * 3) for i in range(2)]
    plain = PatchSampler(vols, (8, 16, 16), 0.5).sample(np.random.default_rng(4), 3)
    off = PatchSampler(vols, (8, 16, 16), 0.5, hu_shift=0.0, gamma=0.0, slices_mm=0.0, crop=0.0).sample(
        np.random.default_rng(4), 3)
    assert all(np.array_equal(x, y) for x, y in zip(plain, off))
    for option in ({"hu_shift": 0.1}, {"gamma": 0.3}, {"slices_mm": 10.0}, {"crop": 1.0}):
        images, _ = PatchSampler(vols, (8, 16, 16), 0.5, **option).sample(np.random.default_rng(4), 3)
        assert not np.array_equal(images, plain[0]), option


def test_crop_ends_the_field_of_view_inside_the_patch_for_image_and_target():
    vols = [volume(0.5, "synthetic")]
    images, masks = PatchSampler(vols, (8, 8, 8), fg_fraction=1.0, crop=1.0).sample(np.random.default_rng(0), 30)
    for image, mask in zip(images[:, 0], masks[:, 0]):
        empty = ~image.any(axis=(1, 2))
        assert 0 < empty.sum() < 8  # some slices cut, never all
        assert not mask[empty].any()
        edges = np.flatnonzero(np.diff(empty.astype(int)))
        assert len(edges) == 1  # one contiguous end, at the top or the bottom


def test_hu_shift_and_gamma_are_bounded_and_checked():
    vols = [volume(0.5, "synthetic")]
    images, _ = PatchSampler(vols, (8, 8, 8), hu_shift=0.1).sample(np.random.default_rng(0), 40)
    means = images.reshape(40, -1).mean(axis=1)
    assert means.min() >= 0.4 - 1e-6 and means.max() <= 0.6 + 1e-6 and np.ptp(means) > 0.1
    images, _ = PatchSampler(vols, (8, 8, 8), gamma=0.5).sample(np.random.default_rng(0), 40)
    values = images.reshape(40, -1)[:, 0]
    assert values.min() >= 0.5 ** np.exp(0.5) - 1e-6 and values.max() <= 0.5 ** np.exp(-0.5) + 1e-6
    good = {"balance": "case", "augment_noise": 0.0, "augment_zoom": 0.0}
    check_sampling({**good, "augment_crop": 0.5, "augment_slices": 6.0}, "di2in")
    with pytest.raises(ConfigError, match="dsn3d: augment_crop"):
        check_sampling({**good, "augment_crop": 1.5}, "dsn3d")
    with pytest.raises(ConfigError, match="augment_gamma"):
        check_sampling({**good, "augment_gamma": True}, "di2in")

import numpy as np
import pytest
import torch

from liverbench.data.preprocess import (
    crop_to_body,
    hu_window,
    pad_to_multiple,
    resample,
    resample_array,
    resampled_shape,
    uncrop,
    zscore,
)
from liverbench.data.volume import Volume, affine_from_spacing
from liverbench.errors import InputError

torch.set_num_threads(1)


def liver_like_mask(shape=(90, 240, 260), spacing=(1.5, 0.7, 0.7), seed=0) -> Volume:
    """A big right lobe and a smaller left lobe (two ellipsoids) with a wavy surface: about 1.1 l."""
    rng = np.random.default_rng(seed)
    z, y, x = (np.arange(n) * s for n, s in zip(shape, spacing))
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    wobble = 1 + 0.08 * np.sin(xx / 9 + rng.uniform(0, 6)) * np.cos(yy / 7 + rng.uniform(0, 6))
    right = ((zz - 65) / 55) ** 2 + ((yy - 85) / 70) ** 2 + ((xx - 65) / 60) ** 2 < wobble
    left = ((zz - 70) / 30) ** 2 + ((yy - 70) / 45) ** 2 + ((xx - 130) / 40) ** 2 < wobble
    return Volume((right | left).astype(np.uint8), spacing, affine_from_spacing(spacing, (12.0, -34.0, 56.0)))


def world_centroid(volume: Volume) -> np.ndarray:
    z, y, x = np.nonzero(volume.array)
    return (volume.affine @ np.array([x.mean(), y.mean(), z.mean(), 1.0]))[:3]


@pytest.mark.parametrize("kind", ["prob", "nearest"])
def test_mask_to_3mm_and_back_keeps_volume_within_2_percent(kind):
    mask = liver_like_mask()
    litres = mask.array.sum() * mask.voxel_volume_ml / 1000
    assert 1.0 < litres < 2.5  # liver-sized
    coarse = resample(mask, 3.0, kind)
    np.testing.assert_allclose(coarse.spacing, 3.0, rtol=0.02)
    coarse_ml = coarse.array.astype(bool).sum() * coarse.voxel_volume_ml
    assert abs(coarse_ml / (litres * 1000) - 1) < 0.02
    back = resample_array(coarse.array, coarse.spacing, mask.shape, kind).astype(bool)
    assert abs(back.sum() / mask.array.sum() - 1) < 0.02
    dice = 2 * (back & mask.array.astype(bool)).sum() / (back.sum() + mask.array.sum())
    assert dice > 0.95
    # the mask stays where it was in the world, within a third of a 3 mm voxel (nearest may
    # pick the source voxel half a voxel off when a target centre falls on a boundary)
    np.testing.assert_allclose(world_centroid(coarse), world_centroid(mask), atol=1.0)


def test_prob_round_trip_is_closer_than_nearest():
    mask = liver_like_mask(seed=1)
    truth = mask.array.astype(bool)

    def dice(kind):
        coarse = resample(mask, 3.0, kind)
        back = resample_array(coarse.array, coarse.spacing, mask.shape, kind).astype(bool)
        return 2 * (back & truth).sum() / (back.sum() + truth.sum())

    assert dice("prob") > dice("nearest")


def test_resample_keeps_the_extent_and_reports_the_true_spacing():
    volume = Volume(np.zeros((129, 512, 512), np.int16)[:, :97, :101], (1.6, 0.57, 0.57))
    shape = resampled_shape(volume.shape, volume.spacing, (3.0, 3.0, 3.0))
    assert shape == (69, 18, 19)
    out = resample(volume, 3.0)
    assert out.shape == shape
    np.testing.assert_allclose(np.multiply(out.shape, out.spacing), np.multiply(volume.shape, volume.spacing))
    np.testing.assert_allclose(np.abs(np.diag(out.affine)[:3]), out.spacing[::-1])


def test_linear_upsampling_reproduces_a_linear_ramp_inside_and_world_positions_match():
    spacing = (4.0, 3.0, 2.0)
    z = np.arange(5, dtype=np.float32)[:, None, None] * spacing[0]
    ramp = np.broadcast_to(z + 0.5 * np.arange(6)[None, :, None] * spacing[1], (5, 6, 7)).copy()
    volume = Volume(ramp, spacing, affine_from_spacing(spacing, (5.0, 6.0, 7.0)))
    fine = resample(volume, 1.0, "linear")
    assert fine.array.dtype == np.float32
    # a voxel well inside: its value is the ramp at its world position
    k, j, i = 9, 8, 6
    world = fine.affine @ np.array([i, j, k, 1.0])
    index = np.linalg.solve(volume.affine, world)  # continuous source index (x, y, z)
    expected = index[2] * spacing[0] + 0.5 * index[1] * spacing[1]
    assert fine.array[k, j, i] == pytest.approx(expected, abs=1e-4)


def test_linear_downsampling_averages_noise_away():
    rng = np.random.default_rng(0)
    noise = Volume(rng.normal(0, 100, size=(40, 120, 120)).astype(np.float32), (1.0, 0.6, 0.6))
    coarse = resample(noise, 3.0, "linear")
    # area averaging over ~75 voxels per output voxel cuts the noise std about 8x; plain sampling would not
    assert coarse.array.std() < 25


def test_nearest_keeps_dtype_and_values_and_prob_gives_bool():
    labels = np.random.default_rng(0).integers(0, 3, size=(6, 8, 10)).astype(np.int16)
    out = resample_array(labels, (1, 1, 1), (12, 4, 15), "nearest")
    assert out.dtype == np.int16 and set(np.unique(out)) <= {0, 1, 2}
    np.testing.assert_array_equal(resample_array(labels, (1, 1, 1), labels.shape, "nearest"), labels)
    assert resample_array(labels > 0, (1, 1, 1), (3, 4, 5), "prob").dtype == bool


def test_resample_rejects_bad_arguments():
    volume = Volume(np.zeros((4, 4, 4)), (1, 1, 1))
    with pytest.raises(InputError, match="kind"):
        resample(volume, 2.0, "cubic")
    with pytest.raises(InputError, match="spacing"):
        resample(volume, (0.0, 1.0, 1.0))


def test_hu_window_and_zscore():
    hu = np.array([-1000, -200, 50, 300, 2000], dtype=np.int16)
    np.testing.assert_allclose(hu_window(hu), [0, 0, 0.5, 1, 1])
    assert hu_window(hu).dtype == np.float32
    with pytest.raises(InputError):
        hu_window(hu, lo=100, hi=100)
    values = np.array([0.0, 10.0, 20.0, 1000.0], dtype=np.float32)
    body = np.array([True, True, True, False])
    z = zscore(values, body)
    assert z[body].mean() == pytest.approx(0, abs=1e-6) and z[body].std() == pytest.approx(1, abs=1e-5)
    assert z.dtype == np.float32


def body_phantom(table: bool = True) -> Volume:
    array = np.full((30, 90, 100), -1000, dtype=np.int16)
    zz, yy, xx = np.meshgrid(np.arange(30), np.arange(90), np.arange(100), indexing="ij")
    array[((yy - 40) / 25) ** 2 + ((xx - 45) / 35) ** 2 < 1] = 40
    if table:
        array[:, 80:83, 5:95] = 200  # the scanner table, separated from the body by air
    spacing = (2.0, 0.8, 0.8)
    return Volume(array, spacing, affine_from_spacing(spacing, (1.0, 2.0, 3.0)))


def test_crop_to_body_keeps_the_body_drops_the_table_and_uncrops():
    volume = body_phantom()
    cropped, slices = crop_to_body(volume, margin_mm=4.0)
    body = volume.array == 40
    assert body[slices].sum() == body.sum()  # nothing of the body is cut
    assert slices[1].stop <= 80  # the table rows are outside
    assert cropped.shape[1] < volume.shape[1] and cropped.shape[2] < volume.shape[2]
    restored = uncrop(cropped.array, slices, volume.shape, fill=-1000)
    np.testing.assert_array_equal(restored[body], volume.array[body])
    # the cropped volume's first voxel keeps its world position
    first = np.array([s.start for s in slices][::-1] + [1.0])
    np.testing.assert_allclose(cropped.affine[:, 3], volume.affine @ first)


def test_crop_to_body_of_pure_air_returns_everything():
    volume = Volume(np.full((4, 5, 6), -1000, np.int16), (1, 1, 1))
    cropped, slices = crop_to_body(volume)
    assert cropped.shape == volume.shape and slices == (slice(0, 4), slice(0, 5), slice(0, 6))


def test_pad_to_multiple_pads_at_the_end_and_undoes():
    array = np.ones((5, 16, 17), np.float32)
    padded, undo = pad_to_multiple(array, 8, value=-1)
    assert padded.shape == (8, 16, 24)
    np.testing.assert_array_equal(padded[undo], array)
    assert (padded[5:] == -1).all()
    padded, undo = pad_to_multiple(array, (1, 4, 4))
    assert padded.shape == (5, 16, 20)
    same, _ = pad_to_multiple(np.ones((4, 8, 8)), 4)
    assert same.shape == (4, 8, 8)
    with pytest.raises(InputError):
        pad_to_multiple(array, (2, 2))


def test_same_shape_linear_resampling_returns_a_copy():
    array = np.ones((3, 4, 5), np.float32)
    out = resample_array(array, (1, 1, 1), array.shape, "linear")
    out[0, 0, 0] = 7
    assert array[0, 0, 0] == 1

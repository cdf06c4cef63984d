"""The learning-free intensity baseline on phantoms and on a real CT (downsampled in memory)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from baselines.intensity import IntensityBaseline, block_mean, upsample_prob
from liverbench.errors import ConfigError
from liverbench.metrics import evaluate
from liverbench.phantom import make_phantom
from liverbench.plugin import Context
from liverbench.volume import Volume


def dice(seg, ref):
    return evaluate(seg, ref, (1.0, 1.0, 1.0))["dice"]


@pytest.mark.parametrize("seed", [1, 3, 6])
def test_contrast_phantoms_segmented(seed):
    # Measured on small contrast phantoms 1/3/6: Dice 0.92/0.90/0.93.
    case = make_phantom(seed, preset="small")
    pred = IntensityBaseline().predict(case.image, Context(case_id=case.id))
    assert pred.prob.dtype == np.float32 and pred.prob.shape == case.image.shape
    assert 0.0 <= pred.prob.min() and pred.prob.max() <= 1.0
    assert dice(pred.prob >= 0.5, case.liver) > 0.85


def test_tiny_contrast_phantoms():
    # Tiny phantoms have 8 mm voxels; measured Dice on contrast seeds 1/3/6 about 0.85 each.
    # (Native tiny phantoms are out of reach of a threshold method at that noise: 0-0.55.)
    for seed in (1, 3, 6):
        case = make_phantom(seed, preset="tiny")
        assert case.meta["phase"] == "contrast"
        assert dice(IntensityBaseline().predict(case.image, Context()).prob >= 0.5, case.liver) > 0.75, seed


def test_no_body_gives_empty_map():
    air = Volume(np.full((20, 40, 40), -1000, np.int16), (2.5, 2.5, 2.5))
    assert not IntensityBaseline().predict(air, Context()).prob.any()


def test_save_load_round_trip(tmp_path):
    model = IntensityBaseline(opening_mm=10.0)
    model.save(tmp_path)
    again = IntensityBaseline.load(tmp_path)
    assert again.params == model.params and again.params["opening_mm"] == 10.0
    case = make_phantom(1, preset="tiny")
    np.testing.assert_array_equal(model.predict(case.image, Context()).prob, again.predict(case.image, Context()).prob)


def test_unknown_parameter_rejected():
    with pytest.raises(ConfigError, match="openng_mm"):
        IntensityBaseline(openng_mm=3)


def test_block_mean_and_upsampling_are_aligned():
    coarse = np.zeros((4, 5, 6), np.float32)
    coarse[1:3, 2:4, 2:5] = 1.0
    fine = upsample_prob(coarse, (2, 3, 3), (7, 15, 17))  # sizes that are not whole blocks
    assert fine.shape == (7, 15, 17)
    np.testing.assert_allclose(block_mean(fine >= 0.5, (2, 3, 3))[:3, :5, :5] >= 0.5, coarse[:3, :5, :5] >= 0.5)


@pytest.mark.real
def test_real_ircadb_case(real_data):
    """ircadb1_01 (manual reference), reduced 2x in-plane in memory to keep the test quick."""
    from liverbench.io import read_case

    case = read_case("ircadb1_01", real_data / "ircadb1_01" / "image.nii.gz", real_data / "ircadb1_01" / "liver.nii.gz")
    image = case.image.array[:, ::2, ::2]
    ref = case.liver[:, ::2, ::2]
    spacing = (case.image.spacing[0], case.image.spacing[1] * 2, case.image.spacing[2] * 2)
    start = time.perf_counter()
    prob = IntensityBaseline().predict(Volume(image, spacing), Context(case_id=case.id)).prob
    elapsed = time.perf_counter() - start
    metrics = evaluate(prob >= 0.5, ref, spacing)
    assert metrics["dice"] >= 0.85, metrics
    assert elapsed < 10.0

"""The far-component guard (baselines/guard.py) and the neural methods' `guard_mm` (issue 29)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.di2in import DI2IN
from baselines.guard import apply_guard, far_component_guard
from liverbench.data.phantom import make_phantom
from liverbench.errors import ConfigError
from liverbench.plugins.base import Context

torch.set_num_threads(1)


def two_blobs(gap_voxels: int) -> np.ndarray:
    prob = np.zeros((20, 40, 80), np.float32)
    prob[5:15, 10:30, 5:30] = 0.9  # the liver: the largest
    prob[8:12, 15:20, 30 + gap_voxels:35 + gap_voxels] = 0.8
    return prob


def test_a_component_far_from_the_liver_is_taken_out_and_a_near_one_kept():
    far = far_component_guard(two_blobs(30), (5.0, 5.0, 5.0), 30.0)  # 150 mm away
    assert far.fired and far.removed_voxels == 4 * 5 * 5
    maps = apply_guard({"prob": two_blobs(30), "branch1": two_blobs(30)}, far.keep)
    assert maps["prob"][8:12, 15:20, 60:65].max() == 0 and maps["branch1"][8:12, 15:20, 60:65].max() == 0
    assert np.array_equal(maps["prob"][5:15, 10:30, 5:30], two_blobs(30)[5:15, 10:30, 5:30])
    near = far_component_guard(two_blobs(4), (5.0, 5.0, 5.0), 30.0)  # 20 mm away: kept
    assert not near.fired and near.keep is None
    single = far_component_guard(two_blobs(30)[:, :, :40], (5.0,) * 3, 30.0)
    assert not single.fired


def test_guard_mm_is_off_unless_given_so_earlier_fit_keys_stay():
    assert "guard_mm" not in DI2IN().params and "augment_crop" not in DI2IN().params
    assert DI2IN(guard_mm=25).params["guard_mm"] == 25
    with pytest.raises(ConfigError, match="guard_mm"):
        DI2IN(guard_mm=-1)


def test_predict_with_the_guard_counts_what_it_took_out():
    cases = [make_phantom(seed, "tiny") for seed in range(3)]
    method = DI2IN(preset="cpu", width=0.125, spacing_mm=8.0, patch=[16, 32, 32], batch_size=2, iterations=2,
                   val_patches=0)
    method.fit(cases[:2], [], Context(seed=0))
    plain = method.predict(cases[2].image, Context(case_id="c")).prob
    assert method.last_guard is None
    method.params["guard_mm"] = 8.0
    guarded = method.predict(cases[2].image, Context(case_id="c")).prob
    g = method.last_guard
    assert g is not None
    if g.fired:
        assert (guarded >= 0.5).sum() < (plain >= 0.5).sum()
    else:
        assert np.array_equal(guarded, plain)

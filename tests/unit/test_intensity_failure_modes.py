"""The intensity baseline on phantoms drawn with one failure mode (liverbench.data.phantom.failure_modes).

Figures in the comments were measured on versions 1, 2 and 3 of the baseline; see
benchmarks/RESULTS.md, "Version 2 against version 1, side by side" (v3: benchmarks/baseline_accuracy.py).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from baselines.intensity import IntensityBaseline
from liverbench.data.phantom import generate_phantom, make_phantom
from liverbench.data.phantom.failure_modes import FAILURE_MODES, with_failure_mode
from liverbench.errors import ConfigError
from liverbench.metrics import evaluate
from liverbench.plugins.base import Context


def segment(case):
    return IntensityBaseline().predict(case.image, Context(case_id=case.id)).prob >= 0.5


@pytest.mark.parametrize("seed", [0, 6])
def test_right_pleural_effusion(seed):
    # Version 1 put its seed in the fluid and its window on it: Dice 0.026 (seed 0, native) and
    # 0.000 (seed 6, contrast). Version 2: 0.853 and 0.888; version 3: 0.866 and 0.905.
    case = with_failure_mode(generate_phantom(seed, "small"), "effusion")
    assert evaluate(segment(case), case.liver, case.image.spacing)["dice"] > 0.8


def test_border_lesion_counted_as_liver():
    # A 22 mm hypodense lesion on the right lateral border: version 1 took 62 % of it, version 2 94 %, version 3 91 %.
    phantom = generate_phantom(1, "small")
    case = with_failure_mode(phantom, "border_lesion")
    lesion = case.liver.astype(bool) & (case.image.array < phantom.case.image.array - 30)
    assert lesion.sum() > 100
    assert (segment(case) & lesion).sum() / lesion.sum() > 0.75


def test_gas_loop_under_the_right_lobe():
    # A ~350 ml gas-filled loop under the right lobe, below the right lung: the seed and window
    # must stay on the liver (Dice 0.869 in version 2, 0.872 in v3; version 1 also held, 0.866) and the gas
    # is never liver.
    phantom = generate_phantom(1, "small")
    case = with_failure_mode(phantom, "gas_loop")
    loop = (case.image.array < -500) & (phantom.case.image.array > -500)
    assert loop.sum() * case.image.voxel_volume_ml > 200
    seg = segment(case)
    assert evaluate(seg, case.liver, case.image.spacing)["dice"] > 0.85
    assert (seg & loop).sum() < 0.01 * loop.sum()


def test_thick_slices_keep_the_inferior_tip():
    # Slices averaged in pairs (11 mm): the bottom 30 mm of the liver is 80 % found (v1: 76 %, v3: 78 %), Dice 0.866 (v3: 0.873).
    case = with_failure_mode(generate_phantom(1, "small"), "thick_slices")
    ref = case.liver.astype(bool)
    seg = segment(case)
    zs = np.nonzero(ref.any(axis=(1, 2)))[0]
    tip = ref.copy()
    tip[zs[0] + max(1, int(round(30.0 / case.image.spacing[0]))):] = False
    assert evaluate(seg, ref, case.image.spacing)["dice"] > 0.85
    assert (seg & tip).sum() / tip.sum() > 0.7


@pytest.mark.parametrize("seed, found", [(1, 0.6), (6, 0.8)])
def test_thin_left_lobe_partly_found(seed, found):
    # A wedge of liver running 95 mm to the left, 24 -> 8 mm thick, at the liver's HU. Version 3
    # finds 0.68 (seed 1) and 0.89 (seed 6) of it; the 12 mm opening that cuts bridges to the
    # neighbours also cuts the thinnest part, and regrowing further leaks into them (seed 0's
    # 44 ml wedge: 0.43 found; see benchmarks/RESULTS.md, "Version 3").
    phantom = generate_phantom(seed, "small")
    case = with_failure_mode(phantom, "thin_left_lobe")
    wedge = case.liver.astype(bool) & ~phantom.case.liver.astype(bool)
    assert wedge.sum() * case.image.voxel_volume_ml > 5
    assert (segment(case) & wedge).sum() / wedge.sum() > found


def test_failure_modes_change_only_their_copy():
    # The default phantoms stay bit for bit what other tests and the demo depend on.
    before = hashlib.sha256(make_phantom(1, preset="small").image.array.tobytes()).hexdigest()
    phantom = generate_phantom(1, "small")
    for mode in FAILURE_MODES:
        edited = with_failure_mode(phantom, mode)
        assert edited.id.endswith(mode) and edited.meta["failure_mode"] == mode
        assert edited.image.shape == edited.liver.shape
    assert hashlib.sha256(phantom.case.image.array.tobytes()).hexdigest() == before
    assert hashlib.sha256(make_phantom(1, preset="small").image.array.tobytes()).hexdigest() == before


def test_unknown_failure_mode_named():
    with pytest.raises(ConfigError, match="'efusion'"):
        with_failure_mode(generate_phantom(0, "tiny"), "efusion")

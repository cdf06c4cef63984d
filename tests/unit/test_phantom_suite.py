"""The generalisation suite (issue 29) and the phantom options it is drawn with: forced phase, HU
offset, the `wide` preset, Preset objects made outside PRESETS. The default phantoms do not change."""

from __future__ import annotations

import numpy as np
import pytest

from liverbench.data.phantom import PRESETS, generate_phantom, make_phantom
from liverbench.data.phantom.acquisition import sample_acquisition, tissue_hu
from liverbench.data.phantom.anatomy import sample_anatomy
from liverbench.data.phantom.suite import SUITE, load_suite_case, suite_case_ids
from liverbench.data.phantom.tissues import Tissue
from liverbench.errors import ConfigError, InputError


def test_the_suite_spans_the_axes_scans_vary_in():
    slices = sorted(c.preset.slice_spacings[0] for c in SUITE)
    assert slices[0] <= 0.7 and slices[-1] >= 5.0
    assert {c.phase for c in SUITE} >= {"native", "arterial", "contrast"}
    assert min(c.hu_offset for c in SUITE) <= -40 and max(c.hu_offset for c in SUITE) >= 40
    assert {c.failure_mode for c in SUITE} >= {"border_lesion", "effusion", "thin_left_lobe"}
    lengths = [c.preset.scan_length[0] for c in SUITE]
    assert max(lengths) >= 480 and min(lengths) <= 185  # chest-to-pelvis and liver-only
    assert len(set(suite_case_ids())) == len(SUITE)


def test_a_suite_case_is_deterministic_and_fully_scanned():
    a = load_suite_case("suite-slice-5mm")
    b = load_suite_case("suite-slice-5mm")
    assert np.array_equal(a.image.array, b.image.array) and np.array_equal(a.liver, b.liver)
    assert a.image.spacing[0] == pytest.approx(5.0) and a.image.shape[1:] == (256, 256)
    assert a.meta["suite_axis"] == "slice thickness" and a.meta["liver_cut"] == ""
    with pytest.raises(InputError, match="no generalisation suite case 'suite-nope'"):
        load_suite_case("suite-nope")


def test_long_field_of_view_reaches_from_the_chest_to_the_pelvis():
    case = load_suite_case("suite-fov-chest-pelvis-4mm")
    dz = case.image.spacing[0]
    zs = np.nonzero(case.liver.any(axis=(1, 2)))[0]
    assert case.image.shape[0] * dz >= 490
    assert (case.image.shape[0] - 1 - zs[-1]) * dz >= 140  # chest above the liver
    assert zs[0] * dz >= 100  # abdomen and pelvis below it


def test_forcing_the_drawn_phase_changes_nothing():
    plain = make_phantom(3, "tiny")
    forced = generate_phantom(3, "tiny", phase=plain.meta["phase"]).case
    assert np.array_equal(plain.image.array, forced.image.array)
    assert "hu_offset" not in plain.meta  # the default phantoms' meta is as it was


def test_hu_offset_shifts_the_whole_image():
    plain = generate_phantom(2, "tiny").case.image.array.astype(int)
    shifted = generate_phantom(2, "tiny", hu_offset=40.0).case
    inside = (plain > -900) & (plain < 3000)
    diff = shifted.image.array.astype(int)[inside] - plain[inside]
    assert np.abs(diff - 40).max() <= 1 and np.mean(diff == 40) > 0.999  # float32 rounding at .5
    assert shifted.meta["hu_offset"] == 40.0
    with pytest.raises(ConfigError, match="phase"):
        generate_phantom(2, "tiny", phase="delayed")


def test_arterial_phase_liver_is_darker_and_spleen_aorta_brighter_than_portal():
    for seed in range(5):
        portal = tissue_hu("contrast", np.random.default_rng([seed, 1]))
        arterial = tissue_hu("arterial", np.random.default_rng([seed, 1]))
        assert arterial[Tissue.LIVER][0] < portal[Tissue.LIVER][0] - 5
        assert arterial[Tissue.SPLEEN][0] > arterial[Tissue.LIVER][0] + 35
        assert arterial[Tissue.AORTA][0] > portal[Tissue.AORTA][0]


def test_wide_preset_spans_thin_to_thick_slices_and_long_fields_of_view():
    wide = PRESETS["wide"]
    draws = [sample_acquisition(np.random.default_rng([s, 2]), wide, sample_anatomy(np.random.default_rng([s, 0])))
             for s in range(12)]
    dz = [a.spacing[0] for a in draws]
    lengths = [a.shape[0] * a.spacing[0] for a in draws]
    assert min(dz) < 2.5 and max(dz) > 4.5
    assert max(lengths) > 400 and min(lengths) < 300
    # the presets that were there keep their random streams (their index among PRESETS)
    assert list(PRESETS)[:3] == ["tiny", "small", "realistic"]

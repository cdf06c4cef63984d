"""evaluate(): the row's columns, empty-mask conventions, input checks, properties, a real case."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from liverbench.errors import ConfigError, InputError
from liverbench.metrics import evaluate
from liverbench.schema import METRIC_COLUMNS

SPACING = (2.0, 0.8, 0.8)


def _cube(shape=(10, 12, 12), lo=(3, 3, 3), hi=(7, 9, 9)):
    mask = np.zeros(shape, bool)
    mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = True
    return mask


def _all_finite(row):
    return all(math.isfinite(row[c]) for c in METRIC_COLUMNS)


def test_returns_exactly_the_metric_columns_and_a_note():
    row = evaluate(_cube(), _cube(lo=(3, 4, 3)), SPACING)
    assert list(row) == list(METRIC_COLUMNS) + ["note"]
    assert all(type(row[c]) is float for c in METRIC_COLUMNS) and row["note"] == ""


def test_overlap_measures_from_counts():
    seg, ref = _cube(hi=(7, 9, 9)), _cube(hi=(7, 9, 7))  # seg: 4x6x6 = 144, ref: 4x6x4 = 96, all of ref inside seg
    row = evaluate(seg, ref, SPACING)
    assert row["voe"] == pytest.approx(100 * (1 - 96 / 144))
    assert row["rvd"] == pytest.approx(100 * (144 - 96) / 96)
    assert row["dice"] == pytest.approx(2 * 96 / 240)
    assert row["jaccard"] == pytest.approx(96 / 144)
    scores = [row[f"{m}_score"] for m in ("voe", "rvd", "asd", "rmsd", "maxd")]
    assert row["score"] == pytest.approx(sum(scores) / 5)


def test_identical_masks_are_perfect():
    row = evaluate(_cube(), _cube(), SPACING)
    assert row["voe"] == row["rvd"] == row["asd"] == row["rmsd"] == row["maxd"] == row["hd95"] == 0.0
    assert row["dice"] == row["jaccard"] == row["nsd"] == 1.0 and row["score"] == 100.0


def test_uint8_masks_and_custom_refs_accepted():
    seg, ref = _cube(lo=(3, 3, 4)), _cube()
    as_bool = evaluate(seg, ref, SPACING)
    as_uint8 = evaluate(seg.astype(np.uint8), ref.astype(np.uint8), SPACING, refs={"maxd": 38.0})
    assert as_uint8["maxd"] == as_bool["maxd"]
    assert as_uint8["maxd_score"] == pytest.approx(100 - 25 * as_bool["maxd"] / 38.0)


def test_volumes_are_accepted_as_masks():
    from liverbench.data.volume import Volume

    seg, ref = _cube(lo=(3, 3, 4)), _cube()
    assert evaluate(Volume(seg, SPACING), Volume(ref, SPACING), SPACING) == evaluate(seg, ref, SPACING)


def test_nsd_tolerance():
    seg, ref = np.zeros((12, 10, 10), bool), np.zeros((12, 10, 10), bool)
    seg[3, 2:8, 2:8] = True
    ref[5, 2:8, 2:8] = True  # every border voxel is exactly 4 mm from the other plate
    assert evaluate(seg, ref, SPACING, nsd_tolerance_mm=3.9)["nsd"] == 0.0
    assert evaluate(seg, ref, SPACING, nsd_tolerance_mm=4.0)["nsd"] == 1.0


def test_both_empty_is_perfect_agreement_with_a_note():
    empty = np.zeros((6, 7, 8), bool)
    row = evaluate(empty, empty, SPACING)
    assert row["score"] == 100.0 and row["dice"] == 1.0 and row["asd"] == 0.0 and row["nsd"] == 1.0
    assert "both masks empty" in row["note"] and _all_finite(row)


def test_empty_segmentation_scores_zero_on_distances_and_says_why():
    ref = _cube()
    row = evaluate(np.zeros_like(ref), ref, SPACING)
    diagonal = math.sqrt((9 * 2.0) ** 2 + 2 * (11 * 0.8) ** 2)
    assert _all_finite(row)
    assert row["asd"] == row["rmsd"] == row["maxd"] == row["hd95"] == pytest.approx(diagonal)
    assert row["asd_score"] == row["rmsd_score"] == row["maxd_score"] == 0.0
    assert row["voe"] == 100.0 and row["rvd"] == -100.0 and row["dice"] == 0.0 and row["nsd"] == 0.0
    assert row["score"] == 0.0
    assert "segmentation is empty" in row["note"]


def test_empty_reference_with_a_segmentation_is_a_total_failure():
    seg = _cube()
    row = evaluate(seg, np.zeros_like(seg), SPACING)
    assert _all_finite(row) and row["score"] == 0.0
    assert row["rvd"] == 100.0 and row["voe"] == 100.0 and row["jaccard"] == 0.0
    assert "reference is empty" in row["note"] and "RVD undefined" in row["note"]


def test_mask_filling_the_image_has_no_surface_under_the_official_convention():
    ref = _cube()
    full = np.ones_like(ref)
    row = evaluate(full, ref, SPACING)
    assert "segmentation fills the whole image" in row["note"] and row["maxd_score"] == 0.0 and _all_finite(row)
    both = evaluate(full, full, SPACING)
    assert both["score"] == 100.0 and "both masks fill the whole image" in both["note"]
    # With the outside as background the image faces are a surface, so it is measured normally.
    measured = evaluate(full, ref, SPACING, convention="18-background")
    assert measured["note"] == "" and 0 < measured["maxd"] < row["maxd"]


def test_mask_on_the_volume_border_follows_the_convention():
    seg, ref = np.zeros((8, 10, 10), bool), np.zeros((8, 10, 10), bool)
    seg[:, :, :4] = True  # half-spaces cut by the image faces; interior faces 2 voxels apart
    ref[:, :, :6] = True
    official = evaluate(seg, ref, (1.0, 1.0, 1.5))
    assert official["asd"] == pytest.approx(3.0) and official["maxd"] == pytest.approx(3.0)
    # Outside as background: the cut faces are surfaces too, and they largely coincide.
    background = evaluate(seg, ref, (1.0, 1.0, 1.5), convention="18-background")
    assert background["asd"] < official["asd"]


def test_input_errors_name_the_problem():
    with pytest.raises(InputError, match=r"shape \(4, 4, 4\) does not match reference shape \(4, 4, 5\)"):
        evaluate(np.zeros((4, 4, 4), bool), np.zeros((4, 4, 5), bool), SPACING)
    with pytest.raises(InputError, match="segmentation.*not binary"):
        evaluate(np.full((4, 4, 4), 2, np.uint8), np.zeros((4, 4, 4), bool), SPACING)
    with pytest.raises(InputError, match="reference.*NaN"):
        evaluate(np.zeros((4, 4, 4)), np.full((4, 4, 4), np.nan), SPACING)
    with pytest.raises(InputError, match="3D mask"):
        evaluate(np.zeros((4, 4), bool), np.zeros((4, 4), bool), SPACING)
    with pytest.raises(InputError, match="spacing"):
        evaluate(np.zeros((4, 4, 4), bool), np.zeros((4, 4, 4), bool), (1.0, 0.0, 1.0))
    with pytest.raises(InputError, match="spacing"):
        evaluate(np.zeros((4, 4, 4), bool), np.zeros((4, 4, 4), bool), (1.0, 1.0))
    with pytest.raises(ConfigError, match="unknown border convention"):
        evaluate(np.zeros((4, 4, 4), bool), np.zeros((4, 4, 4), bool), SPACING, convention="nope")


# --- properties -------------------------------------------------------------------------------

masks = arrays(bool, st.tuples(st.integers(2, 7), st.integers(2, 7), st.integers(2, 7)))
spacings = st.tuples(*(st.floats(0.3, 5.0) for _ in range(3)))
conventions = st.sampled_from(["sliver07", "6-object", "6-background", "26-background"])


@settings(max_examples=60, deadline=None)
@given(mask=masks, spacing=spacings, convention=conventions)
def test_identical_masks_give_zero(mask, spacing, convention):
    row = evaluate(mask, mask.copy(), spacing, convention=convention)
    assert row["voe"] == row["rvd"] == row["asd"] == row["rmsd"] == row["maxd"] == row["hd95"] == 0.0
    assert row["score"] == 100.0


@settings(max_examples=60, deadline=None)
@given(data=st.data(), spacing=spacings, convention=conventions)
def test_surface_measures_are_symmetric_and_scores_bounded(data, spacing, convention):
    a = data.draw(masks)
    b = data.draw(arrays(bool, a.shape))
    ab, ba = evaluate(a, b, spacing, convention=convention), evaluate(b, a, spacing, convention=convention)
    for key in ("asd", "rmsd", "maxd", "hd95", "nsd", "voe", "dice", "jaccard"):
        assert ab[key] == pytest.approx(ba[key], rel=1e-12, abs=1e-12)
    for row in (ab, ba):
        assert _all_finite(row)
        assert all(0.0 <= row[c] <= 100.0 for c in METRIC_COLUMNS if c.endswith("score"))
        assert row["asd"] <= row["rmsd"] + 1e-12 and row["rmsd"] <= row["maxd"] + 1e-12
        assert 0.0 <= row["nsd"] <= 1.0 and 0.0 <= row["dice"] <= 1.0


# --- a real case ------------------------------------------------------------------------------


@pytest.mark.real
def test_ircadb1_01_totalsegmentator_against_the_manual_mask(real_data):
    from liverbench.data.io import read_volume

    case = real_data / "ircadb1_01"
    ref = read_volume(case / "liver.nii.gz")
    pred = read_volume(case / "pred_totalsegmentator.nii.gz")
    assert pred.same_grid(ref)
    official = evaluate(pred.array, ref.array, ref.spacing)
    assert official["dice"] == pytest.approx(0.9766, abs=1e-4)
    assert official["voe"] == pytest.approx(4.58, abs=0.01)
    assert official["rvd"] == pytest.approx(-0.61, abs=0.01)
    # The data README's distances (ASD 0.694, RMSD 1.143, MaxD 12.61 mm) used 6-neighbourhood
    # erosion; the liver does not touch the image border, so either outside rule reproduces them.
    for convention in ("6-object", "6-background"):
        six = evaluate(pred.array, ref.array, ref.spacing, convention=convention)
        assert six["asd"] == pytest.approx(0.694, abs=5e-4)
        assert six["rmsd"] == pytest.approx(1.143, abs=5e-4)
        assert six["maxd"] == pytest.approx(12.61, abs=5e-3)
    # The official 18-neighbourhood border is a thicker layer (it adds voxels that touch the
    # background only across an edge), so more border voxels of the two masks coincide or lie
    # close: ASD 0.601 and RMSD 1.076 mm, lower than with 6-neighbourhood borders. MaxD comes
    # from the single farthest voxel and stays 12.61 mm.
    assert official["asd"] == pytest.approx(0.601, abs=5e-4)
    assert official["rmsd"] == pytest.approx(1.076, abs=5e-4)
    assert official["maxd"] == pytest.approx(12.61, abs=5e-3)


# --- the whole pipeline against an independent computation on the uncropped arrays -------------


@pytest.mark.parametrize("convention, structure_rank, border_value", [("sliver07", 2, 1), ("6-background", 1, 0), ("26-object", 3, 1)])
def test_evaluate_matches_an_independent_uncropped_computation(convention, structure_rank, border_value):
    from scipy import ndimage as ndi
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(structure_rank)
    spacing = np.array([3.0, 0.6, 0.9])
    for _ in range(3):
        fields = [ndi.gaussian_filter(rng.normal(size=(14, 30, 26)), 2.0) for _ in range(2)]
        seg, ref = (f > np.quantile(f, 0.6) for f in fields)  # blobs that reach the image faces
        structure = ndi.generate_binary_structure(3, structure_rank)
        borders = [m & ~ndi.binary_erosion(m, structure, border_value=border_value) for m in (seg, ref)]
        points = [np.argwhere(b) * spacing for b in borders]
        d_seg, d_ref = cKDTree(points[1]).query(points[0])[0], cKDTree(points[0]).query(points[1])[0]
        pooled = np.concatenate([d_seg, d_ref])
        # Fortran order and a strided view: the layout of the inputs must not matter.
        row = evaluate(np.asfortranarray(seg), np.pad(ref, 1)[1:-1, 1:-1, 1:-1], tuple(spacing), convention=convention)
        assert row["asd"] == pytest.approx(pooled.mean(), abs=1e-9)
        assert row["rmsd"] == pytest.approx(np.sqrt((pooled**2).mean()), abs=1e-9)
        assert row["maxd"] == pytest.approx(pooled.max(), abs=1e-9)
        assert row["hd95"] == pytest.approx(max(np.percentile(d_seg, 95), np.percentile(d_ref, 95)), abs=1e-9)
        assert row["nsd"] == pytest.approx(np.mean(pooled <= 1.0), abs=1e-12)
        assert row["voe"] == pytest.approx(100 * (1 - (seg & ref).sum() / (seg | ref).sum()), abs=1e-9)

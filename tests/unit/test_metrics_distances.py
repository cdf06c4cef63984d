"""Surface distances: a brute-force k-d tree oracle, analytic spheres, single voxels, plates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from liverbench.metrics import border_distances, border_voxels, distances, evaluate


def _oracle(border_a, border_b, spacing):
    """Every border voxel's distance to the nearest border voxel of the other mask, by brute force."""
    a, b = np.argwhere(border_a) * spacing, np.argwhere(border_b) * spacing
    return cKDTree(b).query(a)[0], cKDTree(a).query(b)[0]


def _blob(rng, shape, sigma, fraction):
    noise = ndi.gaussian_filter(rng.normal(size=shape), sigma)
    return noise > np.quantile(noise, 1 - fraction)


def _ball(shape, spacing, centre_mm, radius_mm):
    coords = np.indices(shape).astype(float) * np.asarray(spacing, float).reshape(3, 1, 1, 1)
    return np.linalg.norm(coords - np.asarray(centre_mm, float).reshape(3, 1, 1, 1), axis=0) <= radius_mm


SPACINGS = [(2.5, 0.7, 0.7), (0.6, 0.6, 5.0), (1.0, 1.0, 1.0), (3.0, 0.5, 1.3)]


@pytest.mark.parametrize(
    "spacing, convention, path",
    [(s, c, "search") for s in SPACINGS for c in ("sliver07", "6-background", "26-object")]
    + [(s, "sliver07", p) for s in SPACINGS for p in ("tree", "edt")],
)
def test_matches_brute_force_oracle_on_random_blobs(spacing, convention, path, monkeypatch):
    if path != "search":  # a tiny search window sends most voxels to the chosen fallback
        monkeypatch.setattr(distances, "_SEARCH_OFFSETS", 8)
        monkeypatch.setattr(distances, "_NS_PER_EDT_VOXEL", 0.0 if path == "edt" else np.inf)
        monkeypatch.setattr(distances, "_EDT_MIN_NS", 0.0)
    rtol = 1e-6 if path == "edt" else 0.0  # edt is float32
    fallback_calls = []
    if path == "tree":
        real_tree = distances.cKDTree
        monkeypatch.setattr(distances, "cKDTree", lambda *a, **k: fallback_calls.append(1) or real_tree(*a, **k))
    if path == "edt":
        real_edt = distances.edt.edt
        monkeypatch.setattr(distances.edt, "edt", lambda *a, **k: fallback_calls.append(1) or real_edt(*a, **k))
    rng = np.random.default_rng([int(10 * s) for s in spacing] + [len(convention), len(path)])
    spacing = np.asarray(spacing)
    for _ in range(3):
        # Scattered, irregular blobs: far-apart pieces exercise the k-d tree fallback too.
        a = _blob(rng, (18, 40, 36), 2.0, 0.3)
        b = _blob(rng, (18, 40, 36), 1.5, 0.2)
        border_a, border_b = border_voxels(a, convention), border_voxels(b, convention)
        got_ab, got_ba = border_distances(border_a, border_b, spacing)
        want_ab, want_ba = _oracle(border_a, border_b, spacing)
        np.testing.assert_allclose(got_ab, want_ab, rtol=rtol, atol=1e-6)
        np.testing.assert_allclose(got_ba, want_ba, rtol=rtol, atol=1e-6)
    assert (len(fallback_calls) > 0) == (path != "search")  # the fallback under test really ran


def test_far_apart_objects_use_exact_distances():
    a = np.zeros((10, 60, 60), bool)
    b = np.zeros_like(a)
    a[4:6, 2:5, 2:5] = True
    b[4:6, 50:55, 52:57] = True  # far beyond the local search window
    spacing = np.array([2.0, 0.8, 0.8])
    got = border_distances(border_voxels(a), border_voxels(b), spacing)
    want = _oracle(border_voxels(a), border_voxels(b), spacing)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-9)


def test_single_voxels():
    seg, ref = np.zeros((5, 9, 9), bool), np.zeros((5, 9, 9), bool)
    seg[1, 2, 3] = True
    ref[3, 6, 3] = True
    spacing = (2.5, 0.7, 0.9)
    m = evaluate(seg, ref, spacing)
    expected = float(np.hypot(2 * 2.5, 4 * 0.7))
    for key in ("asd", "rmsd", "maxd", "hd95"):
        assert m[key] == pytest.approx(expected, abs=1e-12)
    assert m["voe"] == 100.0 and m["dice"] == 0.0 and m["nsd"] == 0.0


def test_parallel_thin_plates_are_exactly_their_offset_apart():
    seg, ref = np.zeros((12, 10, 10), bool), np.zeros((12, 10, 10), bool)
    seg[3, 2:8, 2:8] = True
    ref[6, 2:8, 2:8] = True  # three slices above
    m = evaluate(seg, ref, (1.5, 0.8, 0.8))
    assert m["asd"] == pytest.approx(4.5) and m["rmsd"] == pytest.approx(4.5) and m["maxd"] == pytest.approx(4.5)


def test_concentric_spheres_asd_is_the_radius_difference():
    spacing = (1.2, 0.8, 0.8)
    shape, centre = (40, 60, 60), (24.0, 24.0, 24.0)
    m = evaluate(_ball(shape, spacing, centre, 12.0), _ball(shape, spacing, centre, 17.0), spacing)
    # Both borders are the inner voxel layer of their ball, so the offset cancels to within a voxel.
    assert m["asd"] == pytest.approx(5.0, abs=0.5 * max(spacing))
    assert m["maxd"] == pytest.approx(5.0, abs=max(spacing))
    assert m["hd95"] <= m["maxd"]


@pytest.mark.parametrize("spacing, shape", [((0.5, 0.5, 0.5), (48, 48, 60)), ((2.0, 0.75, 0.75), (16, 34, 40))])
def test_shifted_spheres_known_distances(spacing, shape):
    radius, shift = 10.0, 4.0  # mm; shifted along x
    ref = _ball(shape, spacing, (12.0, 12.0, 11.0), radius)
    seg = _ball(shape, spacing, (12.0, 12.0, 11.0 + shift), radius)
    m = evaluate(seg, ref, spacing)
    # Continuous spheres: a point at angle theta from the shift axis lies | |R u - d e| - R | from
    # the other sphere; over the sphere its max is d, its mean d / 2, its RMS as integrated here.
    t = np.linspace(-1.0, 1.0, 200001)
    offset = np.abs(np.sqrt(radius**2 + shift**2 - 2 * radius * shift * t) - radius)
    tolerance = 0.5 * max(spacing)  # voxel discretisation of the border layers
    assert m["maxd"] == pytest.approx(shift, abs=tolerance)
    assert m["asd"] == pytest.approx(offset.mean(), abs=tolerance)
    assert m["rmsd"] == pytest.approx(np.sqrt((offset**2).mean()), abs=tolerance)


def test_distances_use_the_spacing_per_axis():
    seg, ref = np.zeros((20, 20, 20), bool), np.zeros((20, 20, 20), bool)
    seg[5:10, 5:10, 5:10] = True
    ref[7:12, 5:10, 5:10] = True  # shifted 2 voxels along z
    thin = evaluate(seg, ref, (1.0, 1.0, 1.0))
    thick = evaluate(seg, ref, (5.0, 1.0, 1.0))
    assert thin["maxd"] == pytest.approx(2.0)
    assert thick["maxd"] == pytest.approx(10.0)


def test_padded_entry_point_refuses_unpadded_borders():
    border = np.zeros((6, 8, 8), bool)
    border[0, 0, 0] = True  # on the array's edge: a look-up from here would wrap to another row
    with pytest.raises(ValueError, match="search_padding"):
        distances.padded_border_distances(border, border, (1.0, 1.0, 1.0))

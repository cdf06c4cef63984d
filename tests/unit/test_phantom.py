"""Synthetic CT phantoms: determinism, variety, geometry, HU behaviour, and that they stay hard."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from liverbench.data.phantom import PRESETS, Tissue, generate_phantom, make_phantom
from liverbench.data.phantom.acquisition import sample_acquisition
from liverbench.data.phantom.anatomy import sample_anatomy
from liverbench.data.phantom.generate import upsample_linear
from liverbench.data.phantom.grid import Grid
from liverbench.errors import ConfigError, UnknownNameError


@pytest.fixture(scope="module")
def tiny_cases():
    return [generate_phantom(seed, "tiny") for seed in range(10)]


@pytest.fixture(scope="module")
def small_cases():
    return [generate_phantom(seed, "small") for seed in range(4)]


def _dice(a, b):
    return 2.0 * np.logical_and(a, b).sum() / max(1, a.sum() + b.sum())


def test_same_seed_gives_identical_case():
    a, b = make_phantom(3, "tiny"), make_phantom(3, "tiny")
    assert np.array_equal(a.image.array, b.image.array)
    assert np.array_equal(a.mask.array, b.mask.array)
    assert np.array_equal(a.image.affine, b.image.affine)
    assert a.meta == b.meta


def test_anatomy_and_phase_do_not_depend_on_the_preset():
    tiny, small = make_phantom(5, "tiny"), make_phantom(5, "small")
    assert tiny.meta["phase"] == small.meta["phase"]
    assert tiny.meta["tumours"] == small.meta["tumours"]
    # Same organ, drawn on an 8 mm and a 4 mm grid (unless the scan range differs: compare only uncut).
    if not tiny.meta["liver_cut"] and not small.meta["liver_cut"]:
        assert tiny.meta["liver_ml"] == pytest.approx(small.meta["liver_ml"], rel=0.12)


def test_seeds_vary_shape_size_phase_spacing_and_findings(tiny_cases):
    metas = [p.case.meta for p in tiny_cases]
    volumes = [m["liver_ml"] for m in metas]
    assert np.std(volumes) > 60.0
    assert {m["phase"] for m in metas} == {"contrast", "native"}
    assert len({p.case.image.spacing for p in tiny_cases}) == len(tiny_cases)
    assert len({len(m["tumours"]) for m in metas}) >= 3
    centroids = [np.argwhere(p.case.liver).mean(axis=0) for p in tiny_cases]
    assert np.std([c[2] for c in centroids]) > 0.5  # position in voxels changes too
    # Rarer findings: look at the anatomy and acquisition of many seeds (cheap, nothing rendered).
    effusion, cuts = set(), set()
    for seed in range(40):
        anatomy = sample_anatomy(np.random.default_rng([seed, 0]))
        effusion.add(anatomy.effusion)
        cuts.add(sample_acquisition(np.random.default_rng([seed, 2, 1]), PRESETS["small"], anatomy).liver_cut)
    assert () in effusion and ("right",) in effusion
    assert {"", "top", "bottom"} <= cuts


def test_mask_is_binary_on_the_image_grid(tiny_cases):
    for p in tiny_cases:
        case = p.case
        assert case.mask.array.dtype == np.uint8
        assert set(np.unique(case.mask.array)) <= {0, 1}
        assert case.mask.same_grid(case.image)
        assert case.image.array.dtype == np.int16
        assert -1024 <= case.image.array.min() and case.image.array.max() <= 3071
        assert case.liver.any()


def test_small_preset_geometry_and_liver_volume(small_cases):
    for p in small_cases:
        case = p.case
        nz, ny, nx = case.image.shape
        assert (ny, nx) == (96, 96) and 48 <= nz <= 64
        sz, sy, sx = case.image.spacing
        assert sy == sx and 350 <= 96 * sx <= 452 and 4.0 <= sz <= 6.0
        # Uncut livers: like the real ones (1.1-1.9 l), with a margin for drawing at 4 mm.
        if not case.meta["liver_cut"]:
            assert 1000.0 <= case.meta["liver_ml"] <= 2050.0
        assert case.meta["liver_ml"] == pytest.approx(case.liver.sum() * case.image.voxel_volume_ml, rel=1e-3)


def test_tumours_and_liver_vessels_are_inside_the_reference_ivc_and_gallbladder_outside(tiny_cases, small_cases):
    seen_tumour = False
    for p in tiny_cases + small_cases:
        liver = p.case.liver
        tumour = np.isin(p.labels, [Tissue.TUMOUR_HYPO, Tissue.TUMOUR_HYPER])
        seen_tumour |= tumour.any()
        assert not (tumour & ~liver).any()
        assert not (np.isin(p.labels, [Tissue.HEPATIC_VEIN]) & ~liver).any()
        assert not (np.isin(p.labels, [Tissue.IVC, Tissue.GALLBLADDER]) & liver).any()
        # The reference is exactly the liver-class labels.
        liver_labels = np.isin(p.labels, [Tissue.LIVER, Tissue.TUMOUR_HYPO, Tissue.TUMOUR_HYPER,
                                          Tissue.HEPATIC_VEIN, Tissue.PORTAL_VEIN])
        assert not (liver & ~liver_labels).any()
    assert seen_tumour


def test_liver_is_on_the_patients_right(tiny_cases):
    nib = pytest.importorskip("nibabel")
    for p in tiny_cases:
        case = p.case
        assert nib.orientations.aff2axcodes(case.image.affine) == ("L", "P", "S")
        z, y, x = np.argwhere(case.liver).mean(axis=0)
        body_x = np.argwhere(case.image.array > -500)[:, 2].mean()
        assert x < body_x - 3  # small x index = patient's right
        world = case.image.affine @ np.array([x, y, z, 1.0])
        body_world = case.image.affine @ np.array([body_x, y, z, 1.0])
        assert world[0] > body_world[0]  # RAS: larger R is the patient's right


def _tissue_values(phantom, tissue):
    inner = ndi.binary_erosion(phantom.labels == tissue)  # away from partial-volume edges
    return phantom.case.image.array[inner].astype(np.float64)


def test_native_phase_liver_and_spleen_overlap_contrast_phase_separates(small_cases):
    phases = {p.case.meta["phase"] for p in small_cases}
    assert phases == {"contrast", "native"}
    for p in small_cases:
        liver, spleen = _tissue_values(p, Tissue.LIVER), _tissue_values(p, Tissue.SPLEEN)
        assert len(liver) > 100 and len(spleen) > 20
        lo, hi = np.percentile(liver, [10, 90])
        within = np.mean((spleen > lo) & (spleen < hi))
        if p.case.meta["phase"] == "native":
            assert abs(np.median(spleen) - np.median(liver)) < 12.0
            assert within > 0.5
        else:
            assert np.median(spleen) > np.median(liver) + 12.0
            # The veins light up in the contrast phase.
            assert p.anatomy is not None
            portal = _tissue_values(p, Tissue.PORTAL_VEIN) if (p.labels == Tissue.PORTAL_VEIN).sum() > 30 else None
            if portal is not None and len(portal):
                assert np.median(portal) > np.median(liver) + 25.0


def test_hu_levels_resemble_abdominal_ct(small_cases):
    for p in small_cases:
        image, meta = p.case.image.array, p.case.meta
        liver = _tissue_values(p, Tissue.LIVER)
        if meta["phase"] == "contrast":
            assert 85.0 < np.median(liver) < 125.0
        else:
            assert 40.0 < np.median(liver) < 72.0
        assert -125.0 < np.median(_tissue_values(p, Tissue.FAT)) < -75.0
        assert np.median(image[p.labels == Tissue.AIR]) < -950.0
        assert np.median(_tissue_values(p, Tissue.LUNG)) < -700.0
        bone = image[np.isin(p.labels, [Tissue.BONE_MARROW, Tissue.BONE_CORTEX])]
        assert 150.0 < np.median(bone) < 700.0


def test_a_liver_hu_window_threshold_is_far_from_a_segmentation(small_cases):
    """Neighbours at liver-like HU must keep a plain intensity window well below Dice 0.85."""
    for p in small_cases:
        image, liver = p.case.image.array.astype(np.float32), p.case.liver
        mu, sd = image[liver].mean(), image[liver].std()
        best = max(_dice((image > mu - k * sd) & (image < mu + k * sd), liver) for k in (0.5, 1.0, 1.5, 2.0, 3.0))
        assert best < 0.85, (p.case.meta["seed"], best)


def test_realistic_preset_geometry_over_many_seeds():
    preset = PRESETS["realistic"]
    for seed in range(30):
        anatomy = sample_anatomy(np.random.default_rng([seed, 0]))
        acq = sample_acquisition(np.random.default_rng([seed, 2, 2]), preset, anatomy)
        assert acq.shape[1:] == (512, 512)
        assert 0.5 <= acq.spacing[1] == acq.spacing[2] <= 0.9
        assert 0.7 <= acq.spacing[0] <= 5.0
        assert acq.shape[0] <= 300


def test_realistic_preset_renders_a_512_case():
    case_phantom = generate_phantom(32, "realistic")  # 36 slices of 5 mm: quick
    case = case_phantom.case
    assert case.image.shape[1:] == (512, 512)
    assert 0.5 <= case.image.spacing[1] <= 0.9
    assert case.mask.same_grid(case.image)
    liver = case.liver
    assert liver.any()
    # The mask interpolated at full resolution agrees with the (2x coarser) label map.
    from_labels = np.isin(case_phantom.labels, [Tissue.LIVER, Tissue.TUMOUR_HYPO, Tissue.TUMOUR_HYPER,
                                                Tissue.HEPATIC_VEIN, Tissue.PORTAL_VEIN])
    assert _dice(liver, from_labels) > 0.95


def test_upsampling_matches_ndimage_zoom_and_lands_on_the_fine_grid():
    rng = np.random.default_rng(0)
    array = rng.normal(size=(5, 7, 6)).astype(np.float32)
    for factors in ((2, 2, 2), (1, 2, 2), (3, 1, 2)):
        expected = ndi.zoom(array, factors, order=1, grid_mode=True, mode="nearest")
        np.testing.assert_allclose(upsample_linear(array, factors), expected, atol=1e-5)
    fine = Grid.centred((9, 11, 10), (1.5, 0.7, 0.7), (3.0, -2.0, 10.0))
    coarse = fine.coarsened((2, 2, 2))
    x_up = upsample_linear(coarse.axis("x")[None, None, :], (1, 1, 2))[0, 0, 1:-1][: fine.shape[2] - 2]
    np.testing.assert_allclose(x_up, fine.axis("x")[1:-1], atol=1e-4)


def test_bad_seed_or_preset_is_a_clear_error():
    with pytest.raises(ConfigError, match="seed"):
        make_phantom(-1, "tiny")
    with pytest.raises(ConfigError, match="seed"):
        make_phantom(1.5, "tiny")
    with pytest.raises(UnknownNameError, match="huge"):
        make_phantom(0, "huge")


def test_phantom_survives_a_nifti_round_trip(tmp_path):
    io = pytest.importorskip("liverbench.data.io")
    case = make_phantom(4, "tiny")
    path = tmp_path / "phantom.nii.gz"
    io.write_volume(case.image, path)
    back = io.read_volume(path)
    assert np.array_equal(back.array, case.image.array)  # canonical orientation: nothing flips
    np.testing.assert_allclose(back.spacing, case.image.spacing, rtol=1e-5)
    np.testing.assert_allclose(back.affine, case.image.affine, atol=1e-3)

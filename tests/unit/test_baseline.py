"""The learning-free intensity baseline on phantoms and on a real CT (downsampled in memory)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import ndimage as ndi

from baselines.intensity import DEFAULTS, IntensityBaseline, analyse, segment
from baselines.intensity.anatomy.body import body_mask, right_front
from baselines.intensity.anatomy.lungs import inner_columns, lung_mask
from baselines.intensity.anatomy.spine import vertebral_front
from baselines.intensity.anatomy.window import Window, intensity_window
from baselines.intensity.corrections.back_muscles import back_muscles
from baselines.intensity.corrections.left_lobe import thin_parts
from baselines.intensity.corrections.vena_cava import vein_sections
from baselines.intensity.grid import block_mean, upsample_prob
from baselines.intensity.scene import Scene
from liverbench.data.phantom import make_phantom
from liverbench.data.volume import Volume
from liverbench.errors import ConfigError
from liverbench.metrics import evaluate
from liverbench.plugins.base import Context


def dice(seg, ref):
    return evaluate(seg, ref, (1.0, 1.0, 1.0))["dice"]


def three_times_finer(array: np.ndarray) -> np.ndarray:
    """Each voxel repeated 3 x 3 in-plane: a phantom on a grid finer than the 2.5 mm target."""
    return np.repeat(np.repeat(array, 3, axis=1), 3, axis=2)


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
    from liverbench.data.io import read_case

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


@pytest.mark.parametrize("fat_max_hu, inside", [(-10.0, False), (-1000.0, True)])
def test_fat_enclosed_by_the_liver_is_left_out(fat_max_hu, inside):
    # Fat enclosed deep in the liver (a 15 mm ball, the size of the porta's fat; the small
    # phantom's 3.7-5.5 mm voxels blur a thinner fissure away): hole filling takes it in (version
    # 4 did, fat_max_hu = -1000 still does); version 5 takes it out again, as references do.
    case = make_phantom(1, preset="small")
    liver = case.liver.astype(bool)
    spacing = np.asarray(case.image.spacing)
    depth = ndi.distance_transform_edt(liver, sampling=spacing)
    centre = np.unravel_index(np.argmax(depth), liver.shape)
    assert depth[centre] > 25.0
    grid = np.indices(liver.shape, dtype=np.float32)
    fat = sum(((g - c) * s) ** 2 for g, c, s in zip(grid, centre, spacing)) <= 15.0 ** 2
    image = case.image.array.copy()
    image[fat] = -90
    seg = IntensityBaseline(fat_max_hu=fat_max_hu).predict(Volume(image, case.image.spacing), Context()).prob >= 0.5
    found = (seg & fat).sum() / fat.sum()
    assert (found > 0.9) if inside else (found < 0.05), found
    assert dice(seg, liver & ~fat) > 0.85


def test_thin_parts_kept_only_where_the_left_lobe_lies():
    # Coarse-grid masks, 2.5 mm voxels: a body, a liver block in its front right, and what a finer
    # opening adds to the liver (x grows to the patient's left, y to the back).
    spacing = (2.5, 2.5, 2.5)
    body = np.ones((60, 60, 60), bool)
    liver = np.zeros(body.shape, bool)
    liver[10:50, 5:30, 5:30] = True  # top slice 49
    finer = liver.copy()
    finer[38:48, 5:25, 30:34] = True  # a 10 mm thick, 12.5 ml lobe on the liver's left face, near its top, in front: kept
    finer[12:22, 5:25, 30:34] = True  # the same, 80 mm below the top (bowel level): dropped
    finer[30:34, 30:40, 12:16] = True  # touching the liver by a small face (8 %): dropped
    finer[42:48, 12:20, 3:5] = True  # along the liver, but 1.5 ml (a border difference): dropped
    finer[30:48, 30:34, 20:30] = True  # 11 ml on the liver's back face (crus, diaphragm), behind the body's middle: dropped
    kept = thin_parts(liver, finer, body, spacing, {**DEFAULTS})
    assert kept[38:48, 5:25, 30:34].all()
    assert not (kept & liver).any() and kept.sum() == 10 * 20 * 4
    assert not thin_parts(liver, finer, body, spacing, {**DEFAULTS, "lobe_depth_mm": 5.0}).any()
    assert not thin_parts(liver, finer, body, spacing, {**DEFAULTS, "lobe_right": 0.6}).any()


@pytest.mark.real
def test_thin_left_lobe_behind_a_fissure_on_real_ct(real_data):
    """ircadb1_17: the 12 mm opening cuts off part of the left lobe behind a fissure (version 4
    missed it); the finer opening brings back 28.7 ml, 25.6 of them inside the reference."""
    from liverbench.data.io import read_case

    case = read_case("ircadb1_17", real_data / "ircadb1_17" / "image.nii.gz", real_data / "ircadb1_17" / "liver.nii.gz")
    ref = case.liver.astype(bool)
    with_parts = IntensityBaseline().predict(case.image, Context(case_id=case.id)).prob >= 0.5
    without = IntensityBaseline(lobe_opening_mm=0.0).predict(case.image, Context(case_id=case.id)).prob >= 0.5
    added = with_parts & ~without
    ml = case.image.voxel_volume_ml
    assert (without & ~with_parts).sum() * ml < 1.0  # the native-grid border may move a little
    assert (added & ref).sum() * ml > 20.0 and (added & ~ref).sum() * ml < 6.0


@pytest.mark.real
def test_dome_lesion_against_the_diaphragm_on_real_ct(real_data):
    """ircadb1_17: a hypodense lesion fills the dome under the right lung, below the window; the
    dome rim (version 6) adds 9.4 ml there, 90 % of them inside the reference (Dice 0.929 -> 0.932)."""
    from liverbench.data.io import read_case

    case = read_case("ircadb1_17", real_data / "ircadb1_17" / "image.nii.gz", real_data / "ircadb1_17" / "liver.nii.gz")
    ref = case.liver.astype(bool)
    with_rim = IntensityBaseline().predict(case.image, Context(case_id=case.id)).prob >= 0.5
    without = IntensityBaseline(dome_gap_mm=0.0).predict(case.image, Context(case_id=case.id)).prob >= 0.5
    added, ml = with_rim & ~without, case.image.voxel_volume_ml
    assert not (without & ~with_rim).any()
    assert (added & ref).sum() * ml > 7.0 and (added & ~ref).sum() * ml < 2.0


def test_no_border_band_where_the_grid_was_not_coarsened():
    # The band undoes the block means' shift of the border. The small phantoms' 3.7 mm voxels are
    # already coarser than the 2.5 mm target (block factors 1): there the band of version 5 only
    # crept into neighbours at the liver's HU (phantom 1 with an effusion: 43 ml added, 12 % of
    # it liver; Dice 0.922, version 6 0.931).
    from liverbench.data.phantom import generate_phantom
    from liverbench.data.phantom.failure_modes import with_failure_mode

    case = with_failure_mode(generate_phantom(1, "small"), "effusion")
    on = IntensityBaseline().predict(case.image, Context()).prob
    off = IntensityBaseline(border_band_mm=0.0).predict(case.image, Context()).prob
    np.testing.assert_array_equal(on, off)
    assert dice(on >= 0.5, case.liver) > 0.928
    # On a grid finer than the target (1.24 mm in-plane: factors 1, 2, 2) the border is redecided.
    fine = Volume(three_times_finer(case.image.array),
                  (case.image.spacing[0], case.image.spacing[1] / 3, case.image.spacing[2] / 3))
    on = IntensityBaseline().predict(fine, Context()).prob >= 0.5
    off = IntensityBaseline(border_band_mm=0.0).predict(fine, Context()).prob >= 0.5
    assert (on != off).sum() > 0.01 * off.sum()


def test_window_on_the_liver_when_a_darker_tissue_fills_half_the_seed():
    # Small phantom 18: half of the seed under the right lung is mesentery (49 HU), half liver
    # (contrast, ~110 HU); version 5 centred the window on the mesentery's peak (Dice 0.0007),
    # version 6 takes the brighter of two peaks that hold about as much of the seed (Dice 0.884).
    case = make_phantom(18, preset="small")
    assert dice(IntensityBaseline().predict(case.image, Context()).prob >= 0.5, case.liver) > 0.85
    rng = np.random.default_rng(0)
    cfg = DEFAULTS
    seed = np.ones(2000, bool)
    half_dark = np.r_[rng.normal(49, 6, 1000), rng.normal(105, 10, 1000)]
    assert abs(intensity_window(half_dark, seed, cfg)[2] - 105) < 6
    # A brighter tissue that holds much less of the seed (vessels) does not move it.
    some_bright = np.r_[rng.normal(105, 10, 1700), rng.normal(180, 10, 300)]
    assert abs(intensity_window(some_bright, seed, cfg)[2] - 105) < 6
    # Nor does a darker one that holds less (the diaphragm at the seed's edge).
    some_dark = np.r_[rng.normal(49, 6, 700), rng.normal(105, 10, 1300)]
    assert abs(intensity_window(some_dark, seed, cfg)[2] - 105) < 6


@pytest.mark.parametrize("lesion_hu, found_min, found_max", [(55, 0.45, 1.0), (-90, 0.0, 0.05)])
def test_dome_rim_between_the_liver_and_the_lung(lesion_hu, found_min, found_max):
    # The top 15 mm of the liver under the right lung made darker than the window: a hypodense
    # lesion against the diaphragm (55 HU: version 6 fills the gap between the liver's top and
    # the lung, leaving the 10 mm margin of diaphragm; measured 0.18 -> 0.56) or fat (never filled).
    case = make_phantom(6, preset="small")
    image = case.image.array.copy()
    liver, spacing = case.liver.astype(bool), case.image.spacing
    body = body_mask(image.astype(np.float32), -350.0)
    lungs = lung_mask(image.astype(np.float32), body, spacing, -400.0)
    columns = inner_columns(lungs & right_front(body), spacing)
    top = liver.shape[0] - 1 - np.argmax(liver[::-1], axis=0)
    z = np.arange(liver.shape[0])[:, None, None]
    lesion = liver & columns[None] & (z > top[None] - int(round(15.0 / spacing[0])))
    assert lesion.sum() * np.prod(spacing) / 1000.0 > 50.0
    image[lesion] = lesion_hu
    found = {}
    for gap in (0.0, 30.0):
        seg = IntensityBaseline(dome_gap_mm=gap).predict(Volume(image, spacing), Context()).prob >= 0.5
        found[gap] = ((seg & lesion).sum() / lesion.sum(), (seg & ~liver).sum())
    assert found[0.0][0] < 0.25, found
    assert found_min <= found[30.0][0] <= found_max, found
    assert found[30.0][1] - found[0.0][1] < 0.02 * lesion.sum(), found  # next to nothing outside the liver


def _phantom_with_cava(seed=1):
    from liverbench.data.phantom import generate_phantom
    from liverbench.data.phantom.tissues import Tissue

    phantom = generate_phantom(seed, "small")
    return phantom.case, phantom.labels == Tissue.IVC


def test_vena_cava_taken_out_of_the_liver():
    # Small contrast phantom 1: the cava (126 HU) is in the window and the liver wraps it, so
    # version 6 took 83 ml of it (Dice 0.909). Version 7 follows it up from below the liver and
    # takes out 51 ml, none of it liver (Dice 0.924); the top 3 cm are left (cava_top_mm).
    case, cava = _phantom_with_cava()
    ref, ml = case.liver.astype(bool), case.image.voxel_volume_ml
    on = IntensityBaseline().predict(case.image, Context()).prob >= 0.5
    off = IntensityBaseline(cava_min_mm=0.0).predict(case.image, Context()).prob >= 0.5
    assert (off & cava).sum() * ml > 70.0
    assert (on & cava).sum() * ml < 40.0
    assert (off & ~on & ref).sum() * ml < 1.0 and not (on & ~off).any()
    assert dice(on, ref) > dice(off, ref) + 0.01


def test_vena_cava_kept_out_of_the_native_grid_border():
    # On a grid finer than the target the border band redecides voxels by HU; the cava is in the
    # window, so without a keep-out the band put back 26 of the 56 ml taken out (measured: 28 ->
    # 54 ml of cava left).
    case, cava = _phantom_with_cava()
    spacing = case.image.spacing
    fine = Volume(three_times_finer(case.image.array), (spacing[0], spacing[1] / 3, spacing[2] / 3))
    cava, ref, ml = three_times_finer(cava), three_times_finer(case.liver.astype(bool)), fine.voxel_volume_ml
    on = IntensityBaseline().predict(fine, Context()).prob >= 0.5
    off = IntensityBaseline(cava_min_mm=0.0).predict(fine, Context()).prob >= 0.5
    assert (off & cava).sum() * ml > 70.0
    assert (on & cava).sum() * ml < 35.0
    assert (off & ~on & ref).sum() * ml < 1.0


def test_no_cava_taken_without_its_run_below_the_liver():
    # A scan that starts inside the liver shows no stack of cava sections below it: nothing is
    # taken (as on small phantom 44), rather than a guess.
    case, _ = _phantom_with_cava()
    liver_slices = np.nonzero(case.liver.any(axis=(1, 2)))[0]
    image = case.image.array[liver_slices[0] + 4:]
    found = analyse(image, case.image.spacing)
    cava = found.coarse.taken_out["vena_cava"]
    assert cava.shape == image.shape and not cava.any()
    np.testing.assert_array_equal(found.prob, segment(image, case.image.spacing, {"cava_min_mm": 0.0}))


def test_vein_sections_are_round_and_vein_sized():
    plane = (2.0, 2.0)
    yy, xx = np.mgrid[:80, :80]
    cava = (yy - 20) ** 2 + (xx - 20) ** 2 <= 6 ** 2  # 12 mm radius
    vessel = (yy - 60) ** 2 + (xx - 20) ** 2 <= 2 ** 2  # 4 mm: a hepatic vein's branch
    bowel_wall = (yy >= 50) & (yy < 56) & (xx >= 40) & (xx < 78)  # 12 x 76 mm
    sections = vein_sections(cava | vessel | bowel_wall, plane)
    assert len(sections) == 1 and (sections[0] == cava).all()


@pytest.mark.real
def test_vena_cava_on_real_ct(real_data):
    """ircadb1_17: the cava behind the caudate lobe is as bright as the liver; version 7 takes
    out 8.3 ml of it (0.6 ml inside the reference), Dice 0.9316 -> 0.9334. On ircadb1_01 the cava
    below the liver is flattened and darker than the window: nothing is taken."""
    from liverbench.data.io import read_case

    for case_id, least_ml in (("ircadb1_17", 6.0), ("ircadb1_01", 0.0)):
        case = read_case(case_id, real_data / case_id / "image.nii.gz", real_data / case_id / "liver.nii.gz")
        ref = case.liver.astype(bool)
        on = IntensityBaseline().predict(case.image, Context(case_id=case.id)).prob >= 0.5
        off = IntensityBaseline(cava_min_mm=0.0).predict(case.image, Context(case_id=case.id)).prob >= 0.5
        taken, ml = off & ~on, case.image.voxel_volume_ml
        assert not (on & ~off).any()
        assert taken.sum() * ml >= least_ml and (taken & ref).sum() <= 0.1 * taken.sum(), case_id


def test_back_muscles_taken_out_on_native_scans():
    # Small native phantom 4: the muscles share the liver's HU (44-56 vs ~51) and the liver
    # touches the right erector spinae, so version 7 took 627 ml of muscle down the whole scan
    # (Dice 0.752). Version 8 follows them up from below the liver: 24 ml of muscle left, 8.8 ml
    # of liver lost where the two touch, Dice 0.889.
    from liverbench.data.phantom import generate_phantom
    from liverbench.data.phantom.tissues import Tissue

    phantom = generate_phantom(4, "small")
    case, muscle = phantom.case, phantom.labels == Tissue.MUSCLE
    ref, ml = case.liver.astype(bool), case.image.voxel_volume_ml
    on = IntensityBaseline().predict(case.image, Context()).prob >= 0.5
    off = IntensityBaseline(back_min_mm2=0.0).predict(case.image, Context()).prob >= 0.5
    assert (off & muscle).sum() * ml > 500.0
    assert (on & muscle).sum() * ml < 60.0
    assert (off & ~on & ref).sum() * ml < 15.0
    assert dice(on, ref) > dice(off, ref) + 0.1


def test_no_back_muscles_taken_on_contrast_scans():
    # After contrast the liver (~110 HU) is above the muscles' window: nothing to take.
    case = make_phantom(1, preset="small")
    found = analyse(case.image.array, case.image.spacing)
    back = found.coarse.taken_out["back_muscles"]
    assert back.shape == case.image.shape and not back.any()
    np.testing.assert_array_equal(found.prob, segment(case.image.array, case.image.spacing, {"back_min_mm2": 0.0}))


def _back_scene(spacing=(2.5, 2.5, 2.5), shape=(40, 100, 100)):
    """A 2.5 mm abdomen with a spine: body (40 HU) with a vertebral body (400 HU) centred at
    y 60, x 50 (front at y 54)."""
    coarse = np.full(shape, -1000.0, dtype=np.float32)
    yy, xx = np.mgrid[:shape[1], :shape[2]]
    body2d = ((yy - 50) / 45.0) ** 2 + ((xx - 50) / 48.0) ** 2 <= 1.0
    coarse[:, body2d] = 40.0
    vertebra = ((yy - 60) / 6.0) ** 2 + ((xx - 50) / 7.0) ** 2 <= 1.0
    coarse[:, vertebra] = 400.0
    body = coarse > -350
    empty = np.zeros(shape, dtype=bool)
    spine = vertebral_front(coarse, body, spacing[1:])
    return Scene(spacing, spine, body, empty, empty[0], empty, empty, coarse, body, Window(20.0, 80.0, 50.0, 10.0))


def test_back_muscles_are_the_pieces_behind_the_spine_along_the_scan():
    scene = _back_scene()
    shape = scene.body.shape
    zz, yy, xx = np.mgrid[:shape[0], :shape[1], :shape[2]]
    # Erector spinae: 40 x 25 mm right of the spinous process, 18-28 voxels (45-70 mm) behind
    # the vertebral bodies' front, the scan's whole length.
    muscle = (yy >= 72) & (yy < 82) & (xx >= 32) & (xx < 48)
    # A kidney-like column as deep but further out (85 mm from the middle), also the whole length.
    kidney = (yy >= 64) & (yy < 76) & (xx >= 8) & (xx < 22)
    # The liver: the upper two thirds, in front, joined to the muscle by a bridge in two slices.
    liver = (zz >= 14) & (yy >= 20) & (yy < 50) & (xx >= 15) & (xx < 60)
    bridge = (zz >= 20) & (zz < 22) & (yy >= 50) & (yy < 72) & (xx >= 36) & (xx < 44)
    mask = muscle | kidney | liver | bridge
    back = back_muscles(mask, scene, DEFAULTS)
    assert back[muscle].all()  # the whole column, up through the liver's slices
    assert not (back & (kidney | liver)).any()
    assert (back & bridge).sum() <= 2 * 8  # at most the voxel next to the muscle, in two slices

    # Not the muscles: a column just behind the vertebral bodies' front (the psoas, the cava:
    # 5-25 mm behind it), or pieces behind the spine that do not reach the scan's lowest slices.
    psoas = (yy >= 56) & (yy < 66) & (xx >= 28) & (xx < 44)
    assert not back_muscles(psoas | kidney | liver, scene, DEFAULTS).any()
    assert back_muscles(psoas | liver, scene, {**DEFAULTS, "back_depth_mm": 0.0}).any()
    assert back_muscles(kidney | liver, scene, {**DEFAULTS, "back_side_mm": 100.0}).any()
    assert not back_muscles((muscle & (zz >= 14)) | liver, scene, DEFAULTS).any()


def test_corrections_are_named_stages_run_in_order():
    # The back muscles first (the left lobe's search reads the liver's top off the mask without
    # them), the vena cava last (the left lobe's hole filling would put it back).
    from baselines.intensity.corrections import CORRECTIONS

    names = [c.name for c in CORRECTIONS]
    assert names == ["back_muscles", "left_lobe", "vena_cava"]
    assert all(c.switch in DEFAULTS and c.switch in IntensityBaseline.param_checks for c in CORRECTIONS)
    case, _ = _phantom_with_cava()
    on = analyse(case.image.array, case.image.spacing)
    assert list(on.coarse.taken_out) == names
    assert on.coarse.taken_out["vena_cava"].any() and not (on.coarse.liver & on.coarse.kept_out).any()
    off = analyse(case.image.array, case.image.spacing, {"cava_min_mm": 0.0})
    assert not off.coarse.taken_out["vena_cava"].any() and (off.coarse.liver & on.coarse.taken_out["vena_cava"]).any()

"""The four real cases (LPS, RAS and LAS files) load with their README geometry, in the same
canonical orientation: the liver on the patient's right, i.e. in the smaller-x half."""

import json

import numpy as np
import pytest

from liverbench.data.datasets.real import RealDataset
from liverbench.data.io import read_volume, write_volume
from liverbench.data.preprocess import resample, resample_array

pytestmark = pytest.mark.real

# From shared/data/real/README.md: shape and spacing as (x, y, z), liver ml, HU range.
README = {
    "ircadb1_01": ((512, 512, 129), (0.57, 0.57, 1.6), 1489.4, (-1024, 1023)),
    "ircadb1_17": ((512, 512, 119), (0.743, 0.743, 1.6), 1860.6, (-1024, 1023)),
    "ts_example_ct": ((122, 101, 112), (3.0, 3.0, 3.0), 1125.7, (-1207, 3382)),
    "ts_dicom_slab": ((512, 512, 20), (0.977, 0.977, 2.0), 699.4, (-1024, 1839)),
}


@pytest.fixture(scope="module")
def cases(real_data):
    dataset = RealDataset(root=str(real_data))
    assert dataset.case_ids() == sorted(README)
    return {case_id: dataset.load(case_id) for case_id in dataset.case_ids()}


@pytest.mark.parametrize("case_id", sorted(README))
def test_real_case_geometry_matches_its_readme(cases, case_id):
    shape_xyz, spacing_xyz, liver_ml, (hu_min, hu_max) = README[case_id]
    case = cases[case_id]
    assert case.image.shape == shape_xyz[::-1]
    np.testing.assert_allclose(case.image.spacing, spacing_xyz[::-1], atol=6e-4)
    assert case.image.array.dtype == np.int16 and case.mask.array.dtype == np.uint8
    assert (int(case.image.array.min()), int(case.image.array.max())) == (hu_min, hu_max)
    assert case.liver.sum() * case.image.voxel_volume_ml == pytest.approx(liver_ml, abs=0.1)


@pytest.mark.parametrize("case_id", sorted(README))
def test_liver_lies_on_the_patients_right_in_every_orientation(cases, case_id):
    case = cases[case_id]
    z, y, x = np.nonzero(case.liver)
    nx = case.image.shape[2]
    assert x.mean() < 0.5 * nx, f"{case_id}: liver centroid at x = {x.mean():.0f} of {nx} (x runs to the Left)"
    # and anterior-posterior is consistent too: the liver centroid is never in the back third
    assert y.mean() < 0.67 * case.image.shape[1]
    # world coordinates agree: RAS +x points to the patient's right, so the liver centroid
    # lies at a larger RAS x than the middle of the field of view
    centroid = case.image.affine @ np.array([x.mean(), y.mean(), z.mean(), 1.0])
    centre = case.image.affine @ np.array([(nx - 1) / 2, 0, 0, 1.0])
    assert centroid[0] > centre[0]


def test_meta_comes_from_the_manifest(cases, real_data):
    manifest = json.loads((real_data / "manifest.json").read_text(encoding="utf-8"))
    for case_id, case in cases.items():
        assert case.meta["mask_kind"] == manifest[case_id]["mask_kind"]
        assert case.meta["licence"] == manifest[case_id]["license"]
        assert case.meta["phase"] == "contrast"
        assert case.meta["dataset"] == "real"


def test_real_ras_case_round_trips_through_dicom_and_metaimage(cases, tmp_path):
    image = cases["ts_example_ct"].image  # stored RAS on disk
    for name in ("series", "ct.mhd"):
        write_volume(image, tmp_path / name, axcodes="RAS")
        back = read_volume(tmp_path / name)
        np.testing.assert_array_equal(back.array, image.array)
        np.testing.assert_allclose(back.affine, image.affine, atol=1e-3)


@pytest.mark.parametrize("kind", ["prob", "nearest"])
def test_real_liver_resampled_to_3mm_and_back_keeps_its_volume(cases, kind):
    mask = cases["ircadb1_17"].mask
    # a smaller copy in memory (1.486 mm in-plane) keeps the test quick; 3 mm is still coarser
    half = resample(mask, (1.6, 1.486, 1.486), "nearest")
    coarse = resample(half, 3.0, kind)
    back = resample_array(coarse.array, coarse.spacing, half.shape, kind).astype(bool)
    before = half.array.astype(bool).sum()
    assert abs(back.sum() / before - 1) < 0.02
    assert abs(coarse.array.astype(bool).sum() * np.prod(coarse.spacing) / (before * np.prod(half.spacing)) - 1) < 0.02

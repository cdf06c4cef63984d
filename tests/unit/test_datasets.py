"""Each file-based dataset adapter on a tiny dataset built here in its real layout."""

import json
import os
from importlib.metadata import entry_points

import numpy as np
import pytest

from liverbench.data.datasets.lits import LitsDataset
from liverbench.data.datasets.manifest import ManifestDataset
from liverbench.data.datasets.msd import MsdDataset
from liverbench.data.datasets.nifti_folder import NiftiFolderDataset
from liverbench.data.datasets.real import ENV_VAR, RealDataset
from liverbench.data.datasets.sliver07 import Sliver07Dataset
from liverbench.data.io import write_volume
from liverbench.data.volume import Volume, affine_from_spacing
from liverbench.errors import InputError
from liverbench.plugins.base import ParamError
from liverbench.plugins.testing import check_dataset

SHAPE = (4, 5, 6)
SPACING = (2.0, 0.8, 0.8)


def image(seed: int) -> Volume:
    array = np.random.default_rng(seed).integers(-1000, 400, size=SHAPE).astype(np.int16)
    return Volume(array, SPACING, affine_from_spacing(SPACING, (seed, 0.0, 0.0)))


def labels(seed: int, tumour: bool = False) -> np.ndarray:
    """A small liver block whose position depends on the seed; label 2 inside if `tumour`."""
    out = np.zeros(SHAPE, np.uint8)
    out[1:3, 1 + seed % 2 : 4, 2:5] = 1
    if tumour:
        out[2, 2, 3] = 2
    return out


def write_case(image_path, mask_path, seed, tumour=False, mask_axcodes=None):
    volume = image(seed)
    write_volume(volume, image_path)
    if mask_path is not None:
        write_volume(volume.with_array(labels(seed, tumour)), mask_path, axcodes=mask_axcodes)


def assert_case(case, case_id, seed, has_mask=True):
    assert case.id == case_id
    np.testing.assert_array_equal(case.image.array, image(seed).array)
    if has_mask:
        np.testing.assert_array_equal(case.liver, labels(seed) >= 1)
        assert case.mask.array.dtype == np.uint8
    else:
        assert case.mask is None


def test_every_adapter_is_declared_as_an_entry_point():
    declared = {ep.name: ep.value for ep in entry_points(group="liverbench.datasets")}
    for cls in (Sliver07Dataset, LitsDataset, MsdDataset, NiftiFolderDataset, ManifestDataset, RealDataset):
        assert declared[cls.name] == f"{cls.__module__}:{cls.__name__}"


# --------------------------------------------------------------------------------- sliver07


def test_sliver07(tmp_path):
    (tmp_path / "training").mkdir()
    (tmp_path / "test").mkdir()
    write_case(tmp_path / "training/liver-orig002.mhd", tmp_path / "training/liver-seg002.mhd", 2)
    write_case(tmp_path / "training/liver-orig001.mhd", tmp_path / "training/liver-seg001.mhd", 1)
    write_case(tmp_path / "test/liver-orig021.mhd", None, 21)
    dataset = Sliver07Dataset(root=str(tmp_path))
    assert dataset.case_ids() == ["001", "002", "021"]
    assert_case(dataset.load("002"), "002", 2)
    case = dataset.load("021")
    assert_case(case, "021", 21, has_mask=False)
    assert case.meta["phase"] == "contrast" and case.meta["dataset"] == "sliver07"
    check_dataset(dataset, max_cases=1)


def test_sliver07_mask_without_image_and_empty_folder(tmp_path):
    write_case(tmp_path / "liver-orig001.mhd", tmp_path / "liver-seg001.mhd", 1)
    write_volume(image(3).with_array(labels(3)), tmp_path / "liver-seg003.mhd")
    with pytest.raises(InputError, match="liver-seg003.mhd"):
        Sliver07Dataset(root=str(tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=f"no cases found in {tmp_path / 'empty'}"):
        Sliver07Dataset(root=str(tmp_path / "empty"))


# ------------------------------------------------------------------------------------- lits


def test_lits_liver_is_label_one_or_more(tmp_path):
    batch1, batch2 = tmp_path / "Training Batch 1", tmp_path / "Training Batch 2"
    batch1.mkdir()
    batch2.mkdir()
    write_case(batch1 / "volume-0.nii", batch1 / "segmentation-0.nii", 0, tumour=True)
    write_case(batch2 / "volume-10.nii.gz", batch2 / "segmentation-10.nii.gz", 10, tumour=True)
    write_case(batch1 / "volume-2.nii", batch1 / "segmentation-2.nii", 2)
    (batch1 / "notes.txt").write_text("not a volume", encoding="utf-8")
    dataset = LitsDataset(root=str(tmp_path))
    assert dataset.case_ids() == ["000", "002", "010"]
    case = dataset.load("010")
    assert_case(case, "010", 10)  # the tumour voxel (label 2) counts as liver
    assert case.meta["image_path"].endswith("volume-10.nii.gz")
    check_dataset(dataset, max_cases=1)


# -------------------------------------------------------------------------------------- msd


def make_msd(root, n=(0, 10, 3)):
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    (root / "imagesTs").mkdir()
    training = []
    for i in n:
        write_case(root / f"imagesTr/liver_{i}.nii.gz", root / f"labelsTr/liver_{i}.nii.gz", i, tumour=True)
        training.append({"image": f"./imagesTr/liver_{i}.nii.gz", "label": f"./labelsTr/liver_{i}.nii.gz"})
    (root / "imagesTr/._liver_0.nii.gz").write_bytes(b"macOS resource fork")  # shipped in the real tarball
    write_case(root / "imagesTs/liver_132.nii.gz", None, 132)
    index = {"name": "Liver", "labels": {"0": "background", "1": "liver", "2": "cancer"},
             "training": training, "test": ["./imagesTs/liver_132.nii.gz"]}
    (root / "dataset.json").write_text(json.dumps(index), encoding="utf-8")


def test_msd(tmp_path):
    root = tmp_path / "Task03_Liver"
    make_msd(root)
    dataset = MsdDataset(root=str(root))
    assert dataset.case_ids() == ["liver_0", "liver_3", "liver_10"]
    assert_case(dataset.load("liver_3"), "liver_3", 3)
    test = MsdDataset(root=str(root), subset="test")
    assert test.case_ids() == ["liver_132"]
    assert_case(test.load("liver_132"), "liver_132", 132, has_mask=False)
    check_dataset(dataset, max_cases=1)


def test_msd_bad_layouts_name_the_file(tmp_path):
    (tmp_path / "no_json").mkdir()
    with pytest.raises(InputError, match="dataset.json not found"):
        MsdDataset(root=str(tmp_path / "no_json"))
    root = tmp_path / "Task03_Liver"
    make_msd(root, n=(1,))
    (root / "labelsTr/liver_1.nii.gz").unlink()
    with pytest.raises(InputError, match="liver_1.nii.gz listed in .*dataset.json not found"):
        MsdDataset(root=str(root))
    # a bad parameter is a config error naming it (ParamError: the runner prefixes dataset.params.)
    with pytest.raises(ParamError, match="^subset: 'validation'"):
        MsdDataset(root=str(root), subset="validation")


# ----------------------------------------------------------------------------- nifti-folder


@pytest.mark.parametrize("mask_folder", ["labels", "masks"])
def test_nifti_folder(tmp_path, mask_folder):
    (tmp_path / "images").mkdir()
    (tmp_path / mask_folder).mkdir()
    write_case(tmp_path / "images/b_0000.nii.gz", tmp_path / f"{mask_folder}/b.nii.gz", 2)  # nnU-Net naming
    write_case(tmp_path / "images/a.nii.gz", tmp_path / f"{mask_folder}/a.nii.gz", 1, mask_axcodes="RAS")
    write_case(tmp_path / "images/c.mha", None, 3)
    dataset = NiftiFolderDataset(root=str(tmp_path))
    assert dataset.case_ids() == ["a", "b", "c"]
    assert_case(dataset.load("a"), "a", 1)
    assert_case(dataset.load("b"), "b", 2)
    assert_case(dataset.load("c"), "c", 3, has_mask=False)
    check_dataset(dataset, max_cases=2)


def test_nifti_folder_label_maps_need_min_label(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    write_case(tmp_path / "images/a.nii.gz", tmp_path / "labels/a.nii.gz", 1, tumour=True)
    with pytest.raises(InputError, match="labels/a.nii.gz: mask is not binary"):
        NiftiFolderDataset(root=str(tmp_path)).load("a")
    assert_case(NiftiFolderDataset(root=str(tmp_path), min_label=1).load("a"), "a", 1)


def test_nifti_folder_bad_layouts_name_the_folder(tmp_path):
    with pytest.raises(InputError, match=f"{tmp_path} has no images/ folder"):
        NiftiFolderDataset(root=str(tmp_path))
    (tmp_path / "images").mkdir()
    with pytest.raises(InputError, match=f"no cases found in {tmp_path / 'images'}"):
        NiftiFolderDataset(root=str(tmp_path))
    (tmp_path / "labels").mkdir()
    write_case(tmp_path / "images/a.nii.gz", tmp_path / "labels/typo.nii.gz", 1)
    with pytest.raises(InputError, match="labels/typo.nii.gz has no image"):
        NiftiFolderDataset(root=str(tmp_path))
    (tmp_path / "labels/typo.nii.gz").unlink()
    (tmp_path / "masks").mkdir()
    with pytest.raises(InputError, match="both labels/ and masks/"):
        NiftiFolderDataset(root=str(tmp_path))
    with pytest.raises(ParamError, match="^root: folder .*missing_root' not found"):
        NiftiFolderDataset(root=str(tmp_path / "missing_root"))


# --------------------------------------------------------------------------------- manifest


def test_manifest_relative_absolute_dicom_and_no_mask(tmp_path):
    (tmp_path / "data/scans").mkdir(parents=True)
    write_case(tmp_path / "data/scans/p1.nii.gz", tmp_path / "data/scans/p1_liver.nii.gz", 1)
    write_case(tmp_path / "p2.mhd", tmp_path / "p2_seg.mhd", 2)
    write_case(tmp_path / "data/p3_series", tmp_path / "data/p3_liver.nii.gz", 3)  # a DICOM directory
    write_case(tmp_path / "data/p10.nii.gz", None, 10)
    csv = tmp_path / "data/cases.csv"
    csv.write_text(
        "id,image,mask,phase\n"
        "p1,scans/p1.nii.gz,scans/p1_liver.nii.gz,native\n"
        f"p2,{tmp_path / 'p2.mhd'},{tmp_path / 'p2_seg.mhd'},contrast\n"
        "p10,p10.nii.gz,,\n"
        "p3,p3_series,p3_liver.nii.gz,contrast\n"
    , encoding="utf-8")
    dataset = ManifestDataset(path=str(csv))
    assert dataset.case_ids() == ["p1", "p2", "p3", "p10"]
    case = dataset.load("p1")
    assert_case(case, "p1", 1)
    assert case.meta["phase"] == "native"
    assert_case(dataset.load("p2"), "p2", 2)
    assert_case(dataset.load("p3"), "p3", 3)
    p10 = dataset.load("p10")
    assert_case(p10, "p10", 10, has_mask=False)
    assert "phase" not in p10.meta
    check_dataset(dataset, max_cases=2)


def test_manifest_without_mask_column(tmp_path):
    write_case(tmp_path / "a.nii.gz", None, 1)
    (tmp_path / "list.csv").write_text("id,image\nA,a.nii.gz\n", encoding="utf-8")
    assert_case(ManifestDataset(path=str(tmp_path / "list.csv")).load("A"), "A", 1, has_mask=False)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("name,image\nA,a.nii.gz\n", r"lacks column\(s\) \['id'\]"),
        ("id,image\nA,a.nii.gz\nA,a.nii.gz\n", "line 3: duplicate id 'A'"),
        ("id,image,mask\nA,a.nii.gz,gone.nii.gz\n", "line 2: .*gone.nii.gz not found"),
        ("id,image\n", "no cases found"),
    ],
)
def test_manifest_errors_name_the_csv(tmp_path, text, fragment):
    write_case(tmp_path / "a.nii.gz", None, 1)
    (tmp_path / "bad.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=fragment) as info:
        ManifestDataset(path=str(tmp_path / "bad.csv"))
    assert "bad.csv" in str(info.value)
    with pytest.raises(ParamError, match="^path: .*absent.csv' not found"):
        ManifestDataset(path=str(tmp_path / "absent.csv"))


# ------------------------------------------------------------------------------------- real


def make_real(root):
    for seed, name in enumerate(["case_b", "case_a"]):
        (root / name).mkdir(parents=True)
        write_case(root / name / "image.nii.gz", root / name / "liver.nii.gz", seed)
    (root / "case_c").mkdir()
    write_case(root / "case_c/image.nii.gz", None, 7)
    (root / "not_a_case").mkdir()
    (root / "manifest.json").write_text(
        json.dumps({"case_a": {"mask_kind": "manual", "license": "CC BY-NC-ND 4.0", "source_repo": "x/y"},
                    "case_b": {"mask_kind": "model_output", "phase": "native"}})
    , encoding="utf-8")


def test_real_layout_with_manifest(tmp_path):
    make_real(tmp_path / "real")
    dataset = RealDataset(root=str(tmp_path / "real"))
    assert dataset.case_ids() == ["case_a", "case_b", "case_c"]
    a = dataset.load("case_a")
    assert_case(a, "case_a", 1)
    assert a.meta["mask_kind"] == "manual" and a.meta["licence"] == "CC BY-NC-ND 4.0"
    assert a.meta["source"] == "x/y" and a.meta["phase"] == "contrast"
    assert dataset.load("case_b").meta["phase"] == "native"
    assert_case(dataset.load("case_c"), "case_c", 7, has_mask=False)
    check_dataset(dataset, max_cases=2)


def test_real_root_from_environment(tmp_path, monkeypatch):
    make_real(tmp_path / "elsewhere")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere"))
    assert RealDataset().case_ids() == ["case_a", "case_b", "case_c"]
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(ParamError, match=f"^root: .*nowhere not found; pass params.root or set {ENV_VAR}"):
        RealDataset()


# ------------------------------------------------------------------------ shared behaviour


def test_fingerprint_is_stable_and_follows_files_and_params(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    write_case(tmp_path / "images/a.nii.gz", tmp_path / "labels/a.nii.gz", 1)
    write_case(tmp_path / "images/b.mhd", tmp_path / "labels/b.mhd", 2)
    first = NiftiFolderDataset(root=str(tmp_path)).fingerprint()
    assert len(first) == 16
    assert NiftiFolderDataset(root=str(tmp_path)).fingerprint() == first
    assert NiftiFolderDataset(root=str(tmp_path), min_label=1).fingerprint() != first
    dataset = NiftiFolderDataset(root=str(tmp_path))
    raw = tmp_path / "images/b.raw"  # the .mhd's data file counts too
    stat = raw.stat()
    os.utime(raw, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert dataset.fingerprint() != first
    second = dataset.fingerprint()
    write_case(tmp_path / "images/c.nii.gz", None, 3)
    assert NiftiFolderDataset(root=str(tmp_path)).fingerprint() != second


def test_unknown_case_id_suggests_near_matches(tmp_path):
    make_real(tmp_path)
    with pytest.raises(InputError, match="no case 'case_x'.*did you mean"):
        RealDataset(root=str(tmp_path)).load("case_x")


def test_a_bad_file_surfaces_from_load_naming_it(tmp_path):
    make_real(tmp_path)
    liver = tmp_path / "case_a/liver.nii.gz"
    liver.write_bytes(liver.read_bytes()[:40])
    dataset = RealDataset(root=str(tmp_path))  # scanning does not read volumes
    with pytest.raises(InputError, match="case_a/liver.nii.gz"):
        dataset.load("case_a")

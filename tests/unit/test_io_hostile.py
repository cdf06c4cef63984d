"""Hostile volume files are refused by name in a small, fixed amount of memory.

The bombs are made here: a gzip stream of many identical members (each 1 MiB of zeros, about
1 KB compressed) decompresses to gigabytes from a file of a few MB, and a NIfTI header can claim
any shape. Each is read by `eval` (and by a dataset) in a subprocess whose address space is
limited to what its imports took plus 256 MiB: reading any of them whole would fail there with
a MemoryError, so passing proves the refusal came first.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from liverbench.data.io import read_volume, write_volume
from liverbench.data.volume import Volume
from liverbench.errors import InputError

MIB = 1 << 20
ZEROS_MEMBER = gzip.compress(bytes(MIB), compresslevel=9, mtime=0)


def nifti_header(shape, dtype=np.uint8) -> bytes:
    """A NIfTI-1 header claiming `shape`, with its 4 extension bytes (data at offset 352)."""
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header["vox_offset"] = 352
    return header.binaryblock + bytes(4)


def write_bomb(path: Path, header: bytes, data_mib: int) -> Path:
    """`header` then `data_mib` MiB of zeros, as a multi-member gzip stream (valid gzip)."""
    with open(path, "wb") as f:
        f.write(gzip.compress(header, mtime=0))
        for _ in range(data_mib):
            f.write(ZEROS_MEMBER)
    return path


def hostile_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what its refusal must say)."""
    folder.mkdir(parents=True, exist_ok=True)
    small = (64, 64, 64)
    return {
        # header and data agree on 2 GiB: more than the 1 GiB a volume may declare
        "claims-2GiB": (write_bomb(folder / "a.nii.gz", nifti_header((1024, 1024, 1024), np.int16), 2048),
                        "more than the 1.0 GiB limit"),
        # a 256 KiB volume followed by 2 GiB more: decompression stops at the header's size
        "trailing-2GiB": (write_bomb(folder / "b.nii.gz", nifti_header(small), 2048),
                          "decompresses to more data than its header declares"),
        # a few KB of gzip cannot hold the 512 MiB its header declares
        "gz-too-small": (write_bomb(folder / "c.nii.gz", nifti_header((1024, 1024, 256), np.int16), 1),
                         "can decompress to at most"),
        # an 8 KB .nii claiming 512 MiB
        "nii-too-small": (_write(folder / "d.nii", nifti_header((1024, 1024, 256), np.int16) + bytes(8000)),
                          "has 8352 bytes"),
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


LIMITED = textwrap.dedent("""
    import json, resource, sys
    from liverbench.commands import cli, folder_eval  # imported before the limit is set
    from liverbench.data import io
    from liverbench.data.datasets import nifti_folder
    from liverbench.metrics import evaluate
    from liverbench.report import console
    import pandas
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + 256 * 2**20, resource.RLIM_INFINITY))
    sys.exit(cli.main(sys.argv[1:]))
""")


def run_limited(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LIMITED, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_files(tmp_path_factory.mktemp("hostile"))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ["claims-2GiB", "trailing-2GiB", "gz-too-small", "nii-too-small"])
def test_eval_refuses_a_hostile_prediction_by_name_under_a_memory_limit(tmp_path, hostile, name):
    path, message = hostile[name]
    pred, ref = tmp_path / "pred", tmp_path / "ref"
    pred.mkdir()
    case_file = pred / ("case" + "".join(path.suffixes))
    case_file.symlink_to(path)
    write_volume(Volume(np.zeros((4, 4, 4), np.uint8), (1.0, 1.0, 1.0)), ref / "case.nii.gz")
    done = run_limited("eval", "--pred", str(pred), "--ref", str(ref), "--out", str(tmp_path / "scores.csv"))
    assert done.returncode == 3, done.stderr + done.stdout
    import pandas as pd

    error = pd.read_csv(tmp_path / "scores.csv")["error"].iloc[0]
    assert str(case_file) in error and message in error, error
    assert "MemoryError" not in done.stdout + done.stderr


@pytest.mark.timeout(300)
def test_a_dataset_case_with_a_bomb_for_its_mask_is_refused_by_name_under_a_memory_limit(tmp_path, hostile):
    root = tmp_path / "ds"
    (root / "labels").mkdir(parents=True)
    write_volume(Volume(np.zeros((4, 4, 4), np.int16), (1.0, 1.0, 1.0)), root / "images" / "case.nii.gz")
    bomb = root / "labels" / "case.nii.gz"
    bomb.symlink_to(hostile["trailing-2GiB"][0])
    pred = tmp_path / "pred"
    write_volume(Volume(np.zeros((4, 4, 4), np.uint8), (1.0, 1.0, 1.0)), pred / "case.nii.gz")
    done = run_limited("eval", "--pred", str(pred), "--ref", "nifti-folder",
                       "--ref-params", json.dumps({"root": str(root)}), "--out", str(tmp_path / "s.csv"))
    assert done.returncode == 3, done.stderr + done.stdout
    import pandas as pd

    error = pd.read_csv(tmp_path / "s.csv")["error"].iloc[0]
    assert str(bomb) in error and "more data than its header declares" in error, error


def test_the_volume_limit_can_be_raised_for_a_genuinely_large_scan(tmp_path, monkeypatch):
    path = write_volume(Volume(np.zeros((64, 64, 64), np.int16), (1.0, 1.0, 1.0)), tmp_path / "v.nii.gz")
    monkeypatch.setenv("LIVERBENCH_MAX_VOLUME_GB", str(100_000 / 2**30))  # 100 kB: this 512 kB volume is over
    with pytest.raises(InputError, match=r"v\.nii\.gz: the NIfTI header declares shape \(64, 64, 64\)"):
        read_volume(path)
    monkeypatch.setenv("LIVERBENCH_MAX_VOLUME_GB", "1")
    assert read_volume(path).shape == (64, 64, 64)
    monkeypatch.setenv("LIVERBENCH_MAX_VOLUME_GB", "lots")
    with pytest.raises(InputError, match="LIVERBENCH_MAX_VOLUME_GB: 'lots' must be a positive number"):
        read_volume(path)


def test_a_mhd_declaring_more_than_the_limit_is_refused_before_itk_reads_it(tmp_path):
    (tmp_path / "big.mhd").write_text("ObjectType = Image\nNDims = 3\nDimSize = 2048 2048 2048\n"
                                      "ElementType = MET_SHORT\nCompressedData = True\nElementDataFile = big.zraw\n")
    (tmp_path / "big.zraw").write_bytes(ZEROS_MEMBER)
    with pytest.raises(InputError, match=r"big\.mhd: the MetaImage header declares shape \(2048, 2048, 2048\)"):
        read_volume(tmp_path / "big.mhd")


def test_zero_length_axes_are_named_as_such(tmp_path):
    nii = _write(tmp_path / "z.nii", nifti_header((0, 4, 4)))
    with pytest.raises(InputError, match=r"z\.nii: the NIfTI header declares a zero-length axis: shape \(0, 4, 4\)"):
        read_volume(nii)
    (tmp_path / "z.mhd").write_text("ObjectType = Image\nNDims = 3\nDimSize = 4 4 0\n"
                                    "ElementType = MET_SHORT\nElementDataFile = z.raw\n")
    (tmp_path / "z.raw").write_bytes(b"")
    with pytest.raises(InputError, match=r"z\.mhd: the MetaImage header declares a zero-length axis"):
        read_volume(tmp_path / "z.mhd")


def test_symlink_loops_and_broken_links_are_named_as_such(tmp_path):
    (tmp_path / "a.nii.gz").symlink_to(tmp_path / "b.nii.gz")
    (tmp_path / "b.nii.gz").symlink_to(tmp_path / "a.nii.gz")
    with pytest.raises(InputError, match=r"a\.nii\.gz: a symbolic link loop"):
        read_volume(tmp_path / "a.nii.gz")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(InputError, match="a symbolic link loop"):
        read_volume(tmp_path / "loop" / "x.nii")
    (tmp_path / "gone.nii").symlink_to(tmp_path / "elsewhere.nii")
    with pytest.raises(InputError, match=r"gone\.nii: a broken symbolic link \(it points to '.*elsewhere\.nii'"):
        read_volume(tmp_path / "gone.nii")
    with pytest.raises(InputError, match=r"absent\.nii: file not found"):
        read_volume(tmp_path / "absent.nii")


def test_the_streaming_reader_still_checks_the_gzip_crc(tmp_path):
    path = write_volume(Volume(np.arange(4096, dtype=np.int16).reshape(16, 16, 16), (1.0, 1.0, 1.0)),
                        tmp_path / "v.nii.gz")
    raw = bytearray(path.read_bytes())
    raw[-8] ^= 0xFF  # the CRC in the trailer
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match=r"v\.nii\.gz: cannot read volume: BadGzipFile: CRC check failed"):
        read_volume(path)


def test_a_dicom_folder_with_two_series_names_both_and_each_can_be_picked(tmp_path):
    import shutil

    import SimpleITK as sitk

    first = Volume(np.full((3, 8, 9), 100, np.int16), (2.0, 1.0, 1.0))
    second = Volume(np.full((4, 8, 9), -50, np.int16), (2.5, 1.0, 1.0))
    folder = tmp_path / "study"
    write_volume(first, folder)
    write_volume(second, tmp_path / "other")
    for f in (tmp_path / "other").iterdir():  # the second series' slices into the same folder
        shutil.move(str(f), str(folder / f"b_{f.name}"))
    uids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    assert len(uids) == 2
    with pytest.raises(InputError) as info:
        read_volume(folder)
    message = str(info.value)
    assert message.startswith(f"{folder}: holds 2 DICOM series: ") and "keep one series per folder" in message
    assert all(uid in message for uid in uids) and "(3 files)" in message and "(4 files)" in message
    picked = {read_volume(folder, series_id=uid).shape for uid in uids}
    assert picked == {(3, 8, 9), (4, 8, 9)}
    with pytest.raises(InputError, match="has no DICOM series '1.2.3'"):
        read_volume(folder, series_id="1.2.3")
    # through a dataset (and so through a run or eval) the same error names the folder
    from liverbench.data.datasets.manifest import ManifestDataset

    write_volume(first.with_array(np.ones((3, 8, 9), np.uint8)), tmp_path / "liver.nii.gz")
    (tmp_path / "cases.csv").write_text("id,image,mask\np1,study,liver.nii.gz\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"{folder}: holds 2 DICOM series"):
        ManifestDataset(path=str(tmp_path / "cases.csv")).load("p1")


def test_a_huge_declared_extension_is_skipped_in_bounded_memory(tmp_path):
    header = nib.Nifti1Header()
    header.set_data_shape((4, 4, 4))
    header.set_data_dtype(np.uint8)
    header["vox_offset"] = 352 + 32 * MIB  # 32 MiB of "extensions", then the 64 voxels
    path = write_bomb(tmp_path / "ext.nii.gz", header.binaryblock + bytes(4), 32)
    with open(path, "ab") as f:
        f.write(gzip.compress(bytes(range(64)), mtime=0))
    import tracemalloc

    tracemalloc.start()
    try:
        array = read_volume(path).array
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sorted(array.ravel().tolist()) == list(range(64))  # the voxels after the extension
    assert peak < 8 * MIB, f"{peak / MIB:.1f} MiB to skip 32 MiB of extensions"

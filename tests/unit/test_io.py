"""IO: every format round trips, files in LPS/RAS/LAS give the same canonical array, bad input
gives an InputError naming the file.

Files in a given orientation are written here with nibabel and SimpleITK directly (not with
liverbench's writer), so a mistake shared by reader and writer cannot cancel out.
"""

import gzip

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from liverbench.data.io import read_case, read_volume, write_volume
from liverbench.data.volume import Volume, affine_from_spacing
from liverbench.errors import InputError

SPACING = (2.5, 0.75, 0.6)  # z, y, x: all different so a swapped axis shows
ORIGIN_RAS = (40.0, -60.0, -300.0)
SHAPE = (6, 7, 8)  # z, y, x: all different so a transposition shows


def anatomy() -> Volume:
    """A canonical volume (x -> Left, y -> Posterior, z -> Superior) with a marker on the
    patient's right, anterior, superior side and a unique value in every voxel."""
    array = np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE) - 500
    array[-1, 1, 1] = 2000  # superior, anterior, right
    return Volume(array, SPACING, affine_from_spacing(SPACING, ORIGIN_RAS))


def file_geometry(volume: Volume, axcodes: str):
    """(data indexed x, y, z; RAS affine) storing `volume` in `axcodes`, worked out by hand.

    Canonical index (i, j, k) lies at RAS = diag(-sx, -sy, sz) (i, j, k) + o. Storing x
    reversed (R instead of L) means i = nx - 1 - i', so the x column turns positive and the
    origin moves to the other end of the axis; the same for y (A instead of P).
    """
    data = volume.array.transpose(2, 1, 0)
    sz, sy, sx = volume.spacing
    nx, ny, _ = data.shape
    affine = volume.affine.copy()
    if axcodes[0] == "R":
        data = data[::-1]
        affine[0, 0], affine[0, 3] = sx, affine[0, 3] - sx * (nx - 1)
    if axcodes[1] == "A":
        data = data[:, ::-1]
        affine[1, 1], affine[1, 3] = sy, affine[1, 3] - sy * (ny - 1)
    assert axcodes[2] == "S"
    return np.ascontiguousarray(data), affine


def write_nifti_by_hand(volume, path, axcodes):
    data, affine = file_geometry(volume, axcodes)
    image = nib.Nifti1Image(data, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    nib.save(image, str(path))
    assert "".join(nib.aff2axcodes(nib.load(str(path)).affine)) == axcodes


def write_metaimage_by_hand(volume, path, axcodes):
    data, affine = file_geometry(volume, axcodes)
    image = sitk.GetImageFromArray(np.ascontiguousarray(data.transpose(2, 1, 0)))
    lps = np.diag([-1.0, -1.0, 1.0])
    spacing = np.abs(np.diag(affine)[:3])
    image.SetSpacing(tuple(spacing))
    image.SetDirection(tuple((lps @ affine[:3, :3] / spacing).ravel()))
    image.SetOrigin(tuple(lps @ affine[:3, 3]))
    sitk.WriteImage(image, str(path))


def assert_same_volume(got: Volume, expected: Volume):
    np.testing.assert_array_equal(got.array, expected.array)
    np.testing.assert_allclose(got.spacing, expected.spacing, rtol=1e-6)
    np.testing.assert_allclose(got.affine, expected.affine, atol=1e-4)


def world_of(volume: Volume, zyx) -> np.ndarray:
    return (volume.affine @ np.array([*zyx[::-1], 1.0]))[:3]


@pytest.mark.parametrize("axcodes", ["LPS", "RAS", "LAS"])
@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".mhd", ".mha"])
def test_any_stored_orientation_reads_as_the_same_canonical_array(tmp_path, axcodes, suffix):
    volume = anatomy()
    path = tmp_path / f"ct_{axcodes}{suffix}"
    (write_nifti_by_hand if suffix.startswith(".nii") else write_metaimage_by_hand)(volume, path, axcodes)
    got = read_volume(path)
    assert_same_volume(got, volume)
    assert got.array.flags.c_contiguous
    # the marker is superior (last z), anterior (small y) and on the patient's right (small x)
    assert np.unravel_index(np.argmax(got.array), got.shape) == (SHAPE[0] - 1, 1, 1)
    assert nib.aff2axcodes(got.affine) == ("L", "P", "S")


@pytest.mark.parametrize("name", ["ct.nii.gz", "ct.nii", "ct.mhd", "ct.mha", "ct_dicom"])
@pytest.mark.parametrize("axcodes", [None, "RAS", "LAS"])
def test_write_then_read_round_trips_values_spacing_and_world_position(tmp_path, name, axcodes):
    volume = anatomy()
    write_volume(volume, tmp_path / name, axcodes=axcodes)
    got = read_volume(tmp_path / name)
    assert_same_volume(got, volume)
    assert got.array.dtype == np.int16


def test_writer_stores_the_requested_axcodes_and_other_tools_agree_on_world_positions(tmp_path):
    volume = anatomy()
    marker_world_ras = world_of(volume, (SHAPE[0] - 1, 1, 1))
    for suffix in (".nii.gz", ".mha"):
        path = tmp_path / f"ct_ras{suffix}"
        write_volume(volume, path, axcodes="RAS")
        image = sitk.ReadImage(str(path))  # ITK reads our file independently, in LPS world
        array = sitk.GetArrayFromImage(image)  # (k, j, i) of the file
        index = tuple(int(i) for i in np.argwhere(array == 2000)[0][::-1])
        marker_lps = np.array(image.TransformIndexToPhysicalPoint(index))
        np.testing.assert_allclose(marker_lps * (-1, -1, 1), marker_world_ras, atol=1e-4)
        assert image.GetDirection()[0] == pytest.approx(-1.0)  # first index axis points to patient right
    assert nib.aff2axcodes(nib.load(str(tmp_path / "ct_ras.nii.gz")).affine) == ("R", "A", "S")


def test_metaimage_writes_a_separate_raw_file(tmp_path):
    write_volume(anatomy(), tmp_path / "liver-orig001.mhd")
    assert (tmp_path / "liver-orig001.raw").is_file()
    assert "ElementDataFile = liver-orig001.raw" in (tmp_path / "liver-orig001.mhd").read_text(encoding="utf-8")


def test_dicom_series_written_in_ras_is_read_back_by_itk_with_its_slices_in_order(tmp_path):
    volume = anatomy()
    write_volume(volume, tmp_path / "series", axcodes="RAS")
    assert len(list((tmp_path / "series").glob("*.dcm"))) == SHAPE[0]
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "series")))
    image = reader.Execute()
    assert image.GetSize() == SHAPE[::-1]
    np.testing.assert_allclose(image.GetSpacing(), SPACING[::-1], rtol=1e-5)
    np.testing.assert_allclose(np.reshape(image.GetDirection(), (3, 3)), np.diag([-1.0, -1.0, 1.0]), atol=1e-6)


def test_float_and_mask_volumes_keep_their_dtype(tmp_path):
    image = anatomy()
    as_float = image.with_array(image.array.astype(np.float32) / 7)
    mask = image.with_array(image.array > 0)
    write_volume(as_float, tmp_path / "f.nii.gz")
    write_volume(mask, tmp_path / "m.mhd")
    assert read_volume(tmp_path / "f.nii.gz").array.dtype == np.float32
    np.testing.assert_allclose(read_volume(tmp_path / "f.nii.gz").array, as_float.array)
    got_mask = read_volume(tmp_path / "m.mhd")
    assert got_mask.array.dtype == np.uint8
    np.testing.assert_array_equal(got_mask.array, mask.array)


def test_nifti_scale_slope_is_applied(tmp_path):
    data, affine = file_geometry(anatomy(), "LPS")
    image = nib.Nifti1Image(data.astype(np.int16), affine)
    image.header.set_slope_inter(2.0, -1024.0)
    nib.save(image, str(tmp_path / "scaled.nii"))
    got = read_volume(tmp_path / "scaled.nii")
    np.testing.assert_allclose(got.array, anatomy().array * 2.0 - 1024.0)


def test_trailing_singleton_fourth_dimension_is_dropped(tmp_path):
    data, affine = file_geometry(anatomy(), "LPS")
    nib.save(nib.Nifti1Image(data[..., None], affine), str(tmp_path / "t1.nii.gz"))
    assert_same_volume(read_volume(tmp_path / "t1.nii.gz"), anatomy())


# ---------------------------------------------------------------------------- read_case


def write_pair(tmp_path, mask_array=None, mask_volume=None, image=None, mask_name="mask.nii.gz"):
    image = image if image is not None else anatomy()
    write_volume(image, tmp_path / "image.nii.gz")
    if mask_volume is None:
        mask_array = (image.array > 0).astype(np.uint8) if mask_array is None else mask_array
        mask_volume = image.with_array(mask_array)
    write_volume(mask_volume, tmp_path / mask_name)
    return tmp_path / "image.nii.gz", tmp_path / mask_name


def test_read_case_gives_int16_image_and_uint8_mask_with_meta(tmp_path):
    image_path, mask_path = write_pair(tmp_path)
    case = read_case("c1", image_path, mask_path, {"phase": "contrast"})
    assert case.id == "c1"
    assert case.image.array.dtype == np.int16 and case.mask.array.dtype == np.uint8
    np.testing.assert_array_equal(case.liver, anatomy().array > 0)
    assert case.meta["phase"] == "contrast"
    assert case.meta["image_path"].endswith("image.nii.gz") and case.meta["mask_path"].endswith("mask.nii.gz")
    assert read_case("c2", image_path).mask is None


def test_read_case_accepts_a_mask_stored_in_another_orientation(tmp_path):
    image_path, _ = write_pair(tmp_path)
    mask = anatomy().with_array((anatomy().array > 0).astype(np.uint8))
    write_volume(mask, tmp_path / "mask_ras.nii.gz", axcodes="RAS")
    case = read_case("c", image_path, tmp_path / "mask_ras.nii.gz")
    np.testing.assert_array_equal(case.liver, anatomy().array > 0)


def test_read_case_label_map_with_min_label(tmp_path):
    labels = np.zeros(SHAPE, np.uint8)
    labels[1:3, 2:4, 2:5] = 1
    labels[2, 3, 3] = 2  # a tumour inside the liver counts as liver
    image_path, mask_path = write_pair(tmp_path, mask_array=labels)
    case = read_case("c", image_path, mask_path, min_label=1)
    np.testing.assert_array_equal(case.liver, labels >= 1)
    with pytest.raises(InputError, match="mask.nii.gz.*not binary"):
        read_case("c", image_path, mask_path)


def test_float_image_with_non_integer_values_stays_float32(tmp_path):
    image = anatomy().with_array(anatomy().array.astype(np.float64) + 0.25)
    write_volume(image, tmp_path / "image.nii.gz")
    case = read_case("c", tmp_path / "image.nii.gz")
    assert case.image.array.dtype == np.float32


# ---------------------------------------------------------------------------- bad input


def expect_input_error(path_fragment, call, *args, match=None, **kwargs):
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    assert str(path_fragment) in str(info.value), str(info.value)
    if match:
        assert match in str(info.value), str(info.value)
    return info.value


@pytest.mark.parametrize("name", ["absent.nii.gz", "absent.mhd", "absent_dicom_dir"])
def test_missing_file(tmp_path, name):
    expect_input_error(tmp_path / name, read_volume, tmp_path / name, match="not found")


def test_missing_mask_file_is_named(tmp_path):
    image_path, _ = write_pair(tmp_path)
    expect_input_error("nope.nii.gz", read_case, "c", image_path, tmp_path / "nope.nii.gz")


@pytest.mark.parametrize("name, keep", [("cut.nii.gz", 0.5), ("cut.nii.gz", 0.02), ("cut.nii", 0.6)])
def test_truncated_nifti(tmp_path, name, keep):
    path = tmp_path / name
    # random values so gzip cannot shrink the file to a few bytes
    noise = np.random.default_rng(0).integers(-1000, 1000, size=(20, 30, 40), dtype=np.int16)
    write_volume(Volume(noise, (1.0, 1.0, 1.0)), path)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    expect_input_error(name, read_volume, path)


def test_corrupt_gzip_stream(tmp_path):
    path = tmp_path / "corrupt.nii.gz"
    write_volume(anatomy(), path)
    raw = bytearray(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1))
    raw[len(raw) // 2 : len(raw) // 2 + 16] = b"\x00" * 16
    path.write_bytes(bytes(raw))
    expect_input_error("corrupt.nii.gz", read_volume, path)


def test_mhd_whose_raw_is_missing(tmp_path):
    write_volume(anatomy(), tmp_path / "liver-orig003.mhd")
    (tmp_path / "liver-orig003.raw").unlink()
    error = expect_input_error("liver-orig003.mhd", read_volume, tmp_path / "liver-orig003.mhd")
    assert "liver-orig003.raw" in str(error) and "missing" in str(error)


def test_mhd_whose_raw_is_short(tmp_path):
    write_volume(anatomy(), tmp_path / "short.mhd")
    raw = tmp_path / "short.raw"
    raw.write_bytes(raw.read_bytes()[:50])
    expect_input_error("short.mhd", read_volume, tmp_path / "short.mhd")


def test_2d_volumes_are_refused(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((8, 7), np.int16), np.eye(4)), str(tmp_path / "flat.nii.gz"))
    expect_input_error("flat.nii.gz", read_volume, tmp_path / "flat.nii.gz", match="2D")
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((7, 8), np.int16)), str(tmp_path / "flat.mha"))
    expect_input_error("flat.mha", read_volume, tmp_path / "flat.mha", match="2D")


def test_4d_volumes_are_refused(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((8, 7, 6, 3), np.int16), np.eye(4)), str(tmp_path / "series.nii.gz"))
    expect_input_error("series.nii.gz", read_volume, tmp_path / "series.nii.gz", match="4D")
    image = sitk.JoinSeries([sitk.Image(8, 7, 6, sitk.sitkInt16)] * 2)
    sitk.WriteImage(image, str(tmp_path / "series.mha"))
    expect_input_error("series.mha", read_volume, tmp_path / "series.mha", match="4D")


def test_nan_in_image(tmp_path):
    array = np.zeros(SHAPE, np.float32)
    array[2, 3, 4] = np.nan
    write_volume(Volume(array, SPACING), tmp_path / "nan.nii.gz")
    expect_input_error("nan.nii.gz", read_case, "c", tmp_path / "nan.nii.gz", match="NaN")


@pytest.mark.parametrize("values", [(0, 2), (0, 255), (0.0, 0.4)])
def test_non_binary_mask(tmp_path, values):
    mask = np.full(SHAPE, values[0], dtype=np.float32 if isinstance(values[0], float) else np.uint8)
    mask[1:3, 1:3, 1:3] = values[1]
    image_path, mask_path = write_pair(tmp_path, mask_array=mask, mask_name="bad_mask.nii.gz")
    expect_input_error("bad_mask.nii.gz", read_case, "c", image_path, mask_path, match="not binary")


@pytest.mark.parametrize(
    "mask_volume, fragment",
    [
        (Volume(np.zeros((6, 7, 9), np.uint8), SPACING, affine_from_spacing(SPACING, ORIGIN_RAS)), "shape"),
        (Volume(np.zeros(SHAPE, np.uint8), (3.0, 0.75, 0.6), affine_from_spacing((3.0, 0.75, 0.6), ORIGIN_RAS)), "spacing"),
        (Volume(np.zeros(SHAPE, np.uint8), SPACING, affine_from_spacing(SPACING, (40.0, -60.0, -290.0))), "origin"),
    ],
)
def test_mask_on_another_grid(tmp_path, mask_volume, fragment):
    image_path, mask_path = write_pair(tmp_path, mask_volume=mask_volume, mask_name="other_grid.nii.gz")
    expect_input_error("other_grid.nii.gz", read_case, "c", image_path, mask_path, match=fragment)


def test_unsupported_suffix_and_empty_dicom_folder(tmp_path):
    (tmp_path / "scan.nrrd").write_bytes(b"NRRD0004")
    expect_input_error("scan.nrrd", read_volume, tmp_path / "scan.nrrd", match="unsupported")
    (tmp_path / "empty_series").mkdir()
    expect_input_error("empty_series", read_volume, tmp_path / "empty_series", match="no DICOM series")


def test_dicom_stores_masks_as_uint8_and_refuses_fractional_floats(tmp_path):
    mask = anatomy().with_array(anatomy().array > 0)
    write_volume(mask, tmp_path / "mask_series")
    got = read_volume(tmp_path / "mask_series")
    np.testing.assert_array_equal(got.array, mask.array)
    fractional = anatomy().with_array(anatomy().array / 3.0)
    expect_input_error("frac_series", write_volume, fractional, tmp_path / "frac_series", match="integers")


@pytest.mark.parametrize("name", ["n2.nii.gz", "n2.nii"])
def test_nifti2_files_are_read(tmp_path, name):
    data, affine = file_geometry(anatomy(), "RAS")
    nib.save(nib.Nifti2Image(data, affine), str(tmp_path / name))
    assert_same_volume(read_volume(tmp_path / name), anatomy())

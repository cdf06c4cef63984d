"""Reading and writing CT volumes and masks: NIfTI, MetaImage and DICOM series.

Every reader returns a `Volume` in the canonical orientation of `liverbench.data.volume`: array
(z, y, x) with x increasing to the patient's Left, y to Posterior, z to Superior, whatever the
file's own axis order (LPS, RAS, LAS, ...). The reorientation only flips and permutes axes
(never interpolates); the affine is updated with it, so every voxel keeps its world position
and writing the volume back out reproduces the file's geometry.

Libraries: nibabel for NIfTI (the reference implementation of its qform/sform rules),
SimpleITK for MetaImage (.mhd/.raw as SLiver07 ships it, .mha) and DICOM series (GDCM).
ITK works in LPS world coordinates, nibabel in RAS; `Volume.affine` is RAS (nibabel style)
and the conversion happens here only.

Every failure to read is an `InputError` whose message starts with the offending path.
"""

from __future__ import annotations

import errno
import gzip
import math
import os
import re
import uuid
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, io_orientation, ornt_transform
from nibabel.volumeutils import apply_read_scaling

from liverbench.data.validate import binary_mask, finite_image, same_grid
from liverbench.data.volume import Case, Volume
from liverbench.errors import InputError

CANONICAL_AXCODES = ("L", "P", "S")  # for index order (x, y, z); see liverbench/data/volume.py
NIFTI_SUFFIXES = (".nii.gz", ".nii")
METAIMAGE_SUFFIXES = (".mhd", ".mha")
VOLUME_SUFFIXES = NIFTI_SUFFIXES + METAIMAGE_SUFFIXES

# RAS <-> LPS: negate the first two world axes (the same matrix both ways).
_LPS_RAS = np.diag([-1.0, -1.0, 1.0])


def volume_format(path: str | Path) -> str:
    """"nifti", "metaimage" or "dicom" (a directory), from the path's name."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(METAIMAGE_SUFFIXES):
        return "metaimage"
    if path.is_dir() or not path.suffix:
        return "dicom"
    raise InputError(
        f"{path}: unsupported volume format; expected .nii, .nii.gz, .mhd, .mha or a DICOM series directory"
    )


def spacing_from_affine(affine: np.ndarray) -> tuple[float, float, float]:
    """Voxel size (z, y, x) in mm: the lengths of the affine's (x, y, z) columns, reversed."""
    sx, sy, sz = np.linalg.norm(np.asarray(affine)[:3, :3], axis=0)
    return float(sz), float(sy), float(sx)


def to_canonical(data_xyz: np.ndarray, affine: np.ndarray, where: str) -> Volume:
    """A Volume in canonical orientation from data indexed (x, y, z) with its RAS affine."""
    affine = np.asarray(affine, dtype=np.float64)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise InputError(f"{where}: the affine is singular or not finite:\n{affine}")
    transform = ornt_transform(io_orientation(affine), axcodes2ornt(CANONICAL_AXCODES))
    data = apply_orientation(data_xyz, transform)
    affine = affine @ inv_ornt_aff(transform, data_xyz.shape)
    # (x, y, z) -> (z, y, x). Files are usually x-fastest, so this is already C-contiguous;
    # flipped axes need a copy, done once here so consumers (torch.from_numpy) get a plain array.
    array = np.ascontiguousarray(data.transpose(2, 1, 0))
    return Volume(array, spacing_from_affine(affine), affine)


def from_canonical(volume: Volume, axcodes: str | tuple[str, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(data indexed (x, y, z), RAS affine) for writing, optionally reoriented to `axcodes` (e.g. "RAS")."""
    data = volume.array.transpose(2, 1, 0)
    affine = np.asarray(volume.affine, dtype=np.float64)
    if axcodes is not None:
        transform = ornt_transform(io_orientation(affine), axcodes2ornt(tuple(axcodes)))
        affine = affine @ inv_ornt_aff(transform, data.shape)
        data = apply_orientation(data, transform)
    return data, affine


def _squeeze_to_3d(data: np.ndarray, where: str) -> np.ndarray:
    """Drop trailing singleton dimensions (x, y, z, 1); refuse 2D and true 4D data."""
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(
            f"{where}: expected a 3D volume, got {data.ndim}D data of shape {data.shape}"
            + (" (a time series or multi-channel image; extract one 3D volume first)" if data.ndim > 3 else "")
        )
    return data


def _wrap_read_error(path: Path, error: Exception) -> InputError:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    hint = ""
    if isinstance(error, EOFError) or "truncated" in text.lower() or "ended before" in text.lower():
        hint = " (the file looks truncated; was the download or copy complete?)"
    return InputError(f"{path}: cannot read volume: {type(error).__name__}: {text}{hint}")


# ----------------------------------------------------------------------------------- NIfTI

# Deflate expands by at most 1032:1, so a .nii.gz of S bytes holds at most ~1032 S bytes.
_DEFLATE_MAX_RATIO = 1032
# Bytes read past the data's end to reach the gzip trailer (whose CRC is then checked); a
# stream that goes on beyond this holds more than its header describes.
_GZIP_TAIL_SLACK = 1 << 20


def max_volume_bytes() -> int:
    """The largest voxel data (bytes) a volume file may declare: 1 GiB by default (512 x 512 x
    1024 float32, or 2048 slices of int16), `LIVERBENCH_MAX_VOLUME_GB` to raise it. A header
    asking for more is refused before any memory is taken for it."""
    text = os.environ.get("LIVERBENCH_MAX_VOLUME_GB", "").strip()
    if not text:
        return 1 << 30
    try:
        gb = float(text)
    except ValueError:
        gb = float("nan")
    if not (math.isfinite(gb) and gb > 0):
        raise InputError(f"LIVERBENCH_MAX_VOLUME_GB: {text!r} must be a positive number of GiB")
    return int(gb * (1 << 30))


def _check_declared_size(path: Path, shape: tuple[int, ...], nbytes: int, what: str) -> None:
    """Refuse a header declaring a zero-length axis or more voxel data than `max_volume_bytes`."""
    if any(n == 0 for n in shape):
        raise InputError(f"{path}: the {what} declares a zero-length axis: shape {tuple(shape)}")
    limit = max_volume_bytes()
    if nbytes > limit:
        raise InputError(f"{path}: the {what} declares shape {tuple(shape)} = {nbytes / 2**30:.1f} GiB of voxel "
                         f"data, more than the {limit / 2**30:.1f} GiB limit (a corrupt or hostile header? "
                         f"LIVERBENCH_MAX_VOLUME_GB raises the limit for a genuinely larger scan)")


def _read_exactly(stream, n: int, path: Path, describe: str) -> bytearray:
    """`n` bytes from `stream` into one buffer allocated once (no intermediate copies)."""
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        count = stream.readinto(view[got:])
        if not count:
            raise InputError(f"{path}: the file ends after {got} of the {n} bytes of {describe} "
                             f"(truncated, or the header is wrong)")
        got += count
    return buffer


def _skip(stream, n: int, path: Path) -> None:
    """Read past `n` bytes in chunks of 1 MiB (memory stays bounded whatever `n` a header says)."""
    while n > 0:
        chunk = stream.read(min(n, 1 << 20))
        if not chunk:
            raise InputError(f"{path}: the file ends inside its header extensions (truncated, or the header is wrong)")
        n -= len(chunk)


def _nifti_header(stream, path: Path):
    """The NIfTI-1 or -2 header (chosen by its size field, 348 or 540, either byte order)."""
    first = stream.read(4)
    if len(first) < 4:
        raise InputError(f"{path}: too short for a NIfTI header ({len(first)} bytes)")
    sizes = {int(np.frombuffer(first, dtype=f"{order}i4")[0]) for order in "<>"}
    header_class, size = (nib.Nifti2Header, 540) if 540 in sizes else (nib.Nifti1Header, 348)
    block = first + stream.read(size - 4)
    if len(block) < size:
        raise InputError(f"{path}: the file ends inside its NIfTI header ({len(block)} of {size} bytes)")
    return header_class(block), size


def _read_nifti(path: Path) -> Volume:
    """Read a .nii or .nii.gz without trusting its header: the declared data size is checked
    against the file's size and `max_volume_bytes` first, then the data is read (decompressed
    as a stream) into one buffer of exactly that size, so a gzip bomb or a header claiming a
    huge shape is refused in a small, fixed amount of memory."""
    compressed = path.name.lower().endswith(".gz")
    file_size = path.stat().st_size
    try:
        with (gzip.open(path, "rb") if compressed else open(path, "rb")) as stream:
            header, header_size = _nifti_header(stream, path)
            shape = tuple(int(n) for n in header.get_data_shape())
            if len(shape) < 3:
                raise InputError(f"{path}: expected a 3D volume, got {len(shape)}D data of shape {shape}")
            dtype = header.get_data_dtype()
            if dtype.kind not in "iufb":
                raise InputError(f"{path}: expected a scalar volume, got voxels of type {dtype}")
            nbytes = math.prod(shape) * dtype.itemsize
            _check_declared_size(path, shape, nbytes, "NIfTI header")
            offset = max(int(header.get_data_offset()), header_size)
            needed = offset + nbytes
            room = file_size * _DEFLATE_MAX_RATIO if compressed else file_size
            if needed > room:
                held = f"can decompress to at most {room} bytes" if compressed else f"has {file_size} bytes"
                raise InputError(f"{path}: its header declares shape {shape} of {dtype} ({needed} bytes with the "
                                 f"header), but the file {held} (truncated, or the header is wrong)")
            _skip(stream, offset - header_size, path)  # the header extensions: not used
            buffer = _read_exactly(stream, nbytes, path, f"voxel data (shape {shape} of {dtype})")
            if compressed and stream.read(_GZIP_TAIL_SLACK) and stream.read(1):  # reaches the CRC check
                raise InputError(f"{path}: decompresses to more data than its header declares "
                                 f"(shape {shape} of {dtype}); a corrupt file or a gzip bomb")
        data = np.frombuffer(buffer, dtype=dtype).reshape(shape, order="F")
        if not dtype.isnative:
            data = data.astype(dtype.newbyteorder("="))
        slope, inter = header.get_slope_inter()
        if not (slope in (None, 1.0) and inter in (None, 0.0)):  # as nibabel's get_fdata scales
            data = np.asarray(apply_read_scaling(data, slope, inter), dtype=np.float32)
        affine = header.get_best_affine()
    except InputError:
        raise
    except Exception as error:  # nibabel/gzip/zlib raise many types for one cause: a bad file
        raise _wrap_read_error(path, error) from error
    return to_canonical(_squeeze_to_3d(data, str(path)), affine, str(path))


def _write_nifti(volume: Volume, path: Path, axcodes) -> None:
    data, affine = from_canonical(volume, axcodes)
    image = nib.Nifti1Image(_storable(data, path), affine)
    image.header.set_xyzt_units("mm", "sec")
    image.set_qform(affine, code=1)  # 1 = scanner anatomical: other tools then trust the geometry
    image.set_sform(affine, code=1)
    nib.save(image, str(path))


# ------------------------------------------------------------------ MetaImage and DICOM (ITK)


def _metaimage_data_file(path: Path) -> Path | None:
    """The data file an .mhd header names (None for LOCAL data or a file list)."""
    try:
        header = path.read_text(errors="replace", encoding="utf-8")
    except OSError as error:
        raise _wrap_read_error(path, error) from error
    match = re.search(r"^\s*ElementDataFile\s*=\s*(.+?)\s*$", header, flags=re.MULTILINE)
    if not match:
        raise InputError(f"{path}: MetaImage header has no ElementDataFile line")
    name = match.group(1)
    if name.upper() in ("LOCAL", "LIST") or "%" in name or " " in name:
        return None
    return path.parent / name


_MET_BYTES = {"MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4, "MET_UINT": 4,
              "MET_LONG": 8, "MET_ULONG": 8, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8, "MET_FLOAT": 4,
              "MET_DOUBLE": 8}


def _header_fields(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text(errors="replace", encoding="utf-8").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            fields[key.strip().lower()] = value.strip()
    return fields


def _check_metaimage_size(path: Path, data_file: Path) -> None:
    """The declared size must be within `max_volume_bytes`, and an uncompressed .raw must hold exactly what the header's DimSize and ElementType say:
    fewer bytes is a truncated file, more means the header describes another volume (ITK would
    read the first bytes silently)."""
    try:
        fields = _header_fields(path)
        dims = [int(v) for v in fields["dimsize"].split()]
        element = _MET_BYTES[fields["elementtype"].upper()]
        channels = int(fields.get("elementnumberofchannels", "1"))
        header = int(fields.get("headersize", "0"))
    except (KeyError, ValueError):
        return  # an unusual header: ITK's own reader reports what it cannot read
    expected = math.prod(dims) * element * channels
    _check_declared_size(path, tuple(dims), expected, "MetaImage header")  # compressed data too
    if fields.get("compresseddata", "false").lower() == "true":
        return
    actual = data_file.stat().st_size
    if header == -1:  # the data is the file's last bytes: only a shortfall can be told apart
        if actual < expected:
            raise InputError(f"{path}: DimSize {dims} x {fields['elementtype']} needs {expected} bytes, but "
                             f"{data_file.name} has only {actual} (truncated, or the header is wrong)")
        return
    if actual != expected + header:
        what = "truncated, or the header is wrong" if actual < expected + header else             "the header describes a smaller volume than the data file holds"
        raise InputError(f"{path}: the sizes disagree: DimSize {dims} x {fields['elementtype']} is "
                         f"{expected + header} bytes, {data_file.name} has {actual} ({what})")


def _volume_from_itk(image, where: str) -> Volume:
    import SimpleITK as sitk

    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{where}: expected a scalar volume, got {image.GetNumberOfComponentsPerPixel()} components per voxel")
    dim = image.GetDimension()
    size = image.GetSize()
    if dim < 3:
        raise InputError(f"{where}: expected a 3D volume, got {dim}D data of shape {size}")
    if 0 in size:
        raise InputError(f"{where}: the image has a zero-length axis: size {size} (x, y, z)")
    array = sitk.GetArrayFromImage(image)  # reversed index order: (..., z, y, x)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    data = _squeeze_to_3d(array.transpose(tuple(range(array.ndim))[::-1]), where)
    spacing = np.asarray(image.GetSpacing()[:3], dtype=np.float64)
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(dim, dim)[:3, :3]
    origin = np.asarray(image.GetOrigin()[:3], dtype=np.float64)
    affine = np.eye(4)
    affine[:3, :3] = _LPS_RAS @ direction @ np.diag(spacing)
    affine[:3, 3] = _LPS_RAS @ origin
    return to_canonical(data, affine, where)


def _itk_geometry(affine: np.ndarray) -> tuple[tuple, tuple, tuple]:
    """(spacing, direction, origin) in ITK's LPS terms from a RAS affine."""
    linear = _LPS_RAS @ affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    direction = linear / spacing
    origin = _LPS_RAS @ affine[:3, 3]
    return tuple(map(float, spacing)), tuple(map(float, direction.ravel())), tuple(map(float, origin))


def _itk_image(volume: Volume, path: Path, axcodes):
    import SimpleITK as sitk

    data, affine = from_canonical(volume, axcodes)
    image = sitk.GetImageFromArray(np.ascontiguousarray(_storable(data, path).transpose(2, 1, 0)))
    spacing, direction, origin = _itk_geometry(affine)
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    image.SetOrigin(origin)
    return image


def _read_metaimage(path: Path) -> Volume:
    import SimpleITK as sitk

    if path.suffix.lower() == ".mhd":
        data_file = _metaimage_data_file(path)
        if data_file is not None and not data_file.is_file():
            raise InputError(f"{path}: its data file {data_file.name} is missing (looked in {data_file.parent})")
        if data_file is not None:
            _check_metaimage_size(path, data_file)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise _wrap_read_error(path, error) from error
    return _volume_from_itk(image, str(path))


def _write_metaimage(volume: Volume, path: Path, axcodes) -> None:
    import SimpleITK as sitk

    # .mhd gets a separate .raw (SLiver07's layout); compression off so the .raw is plain.
    sitk.WriteImage(_itk_image(volume, path, axcodes), str(path), useCompression=False)


def _read_dicom(path: Path, series_id: str | None) -> Volume:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    try:
        series = list(reader.GetGDCMSeriesIDs(str(path)))
    except RuntimeError as error:
        raise _wrap_read_error(path, error) from error
    if not series:
        raise InputError(f"{path}: no DICOM series found in this directory")
    if series_id is None:
        if len(series) > 1:
            counts = ", ".join(f"{uid} ({len(reader.GetGDCMSeriesFileNames(str(path), uid))} files)" for uid in series)
            raise InputError(f"{path}: holds {len(series)} DICOM series: {counts}; keep one series per folder "
                             f"(or pick one with read_volume(..., series_id=...))")
        series_id = series[0]
    elif series_id not in series:
        raise InputError(f"{path}: has no DICOM series {series_id!r}; found {series}")
    files = reader.GetGDCMSeriesFileNames(str(path), series_id)  # sorted along the slice normal
    reader.SetFileNames(files)
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise _wrap_read_error(path, error) from error
    return _volume_from_itk(image, str(path))


def _write_dicom(volume: Volume, path: Path, axcodes) -> None:
    """One CT slice file per z index, with the geometry tags readers use to rebuild the grid."""
    import SimpleITK as sitk

    if volume.array.dtype.kind == "f":
        rounded = np.rint(volume.array)
        if not np.array_equal(rounded, volume.array):
            raise InputError(f"{path}: DICOM writing stores integers; round or rescale this float volume first")
        volume = volume.with_array(rounded)
    if volume.array.dtype in (np.bool_, np.uint8):
        volume = volume.with_array(volume.array.astype(np.uint8))
    elif volume.array.min() >= -32768 and volume.array.max() <= 32767:
        volume = volume.with_array(volume.array.astype(np.int16))
    else:
        raise InputError(f"{path}: values outside the int16 range cannot be written as DICOM")
    image = _itk_image(volume, path, axcodes)
    path.mkdir(parents=True, exist_ok=True)
    study, series = f"2.25.{uuid.uuid4().int}", f"2.25.{uuid.uuid4().int}"
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    row_col = "\\".join(f"{v:.10g}" for v in (*direction[:, 0], *direction[:, 1]))
    sx, sy, sz = image.GetSpacing()
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(image.GetDepth()):
        slice_image = image[:, :, k]
        position = image.TransformIndexToPhysicalPoint((0, 0, k))
        tags = {
            "0008|0060": "CT",
            "0008|0016": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
            "0008|0018": f"2.25.{uuid.uuid4().int}",
            "0020|000d": study,
            "0020|000e": series,
            "0020|0013": str(k + 1),
            "0020|0032": "\\".join(f"{v:.6f}" for v in position),
            "0020|0037": row_col,
            "0028|0030": f"{sy:.6f}\\{sx:.6f}",  # row spacing (y) then column spacing (x)
            "0018|0050": f"{sz:.6f}",
            "0028|1052": "0",
            "0028|1053": "1",
        }
        for tag, value in tags.items():
            slice_image.SetMetaData(tag, value)
        writer.SetFileName(str(path / f"slice_{k:04d}.dcm"))
        writer.Execute(slice_image)


# ------------------------------------------------------------------------------ public API


def _storable(data: np.ndarray, path: Path) -> np.ndarray:
    if data.dtype == bool:
        return data.astype(np.uint8)
    if data.dtype == np.float16:
        return data.astype(np.float32)
    if data.dtype.kind not in "iuf":
        raise InputError(f"{path}: cannot write an array of dtype {data.dtype}")
    return data


def _why_missing(path: Path) -> str:
    """Why `path` cannot be opened, where `exists()` says only False: a symbolic link loop (in
    the file's name or a folder above it), a dangling link, or no such file."""
    loop = "a symbolic link loop (a link that leads back to itself)"
    try:
        path.resolve(strict=True)
    except RuntimeError:  # how Python < 3.13 reports a loop
        return loop
    except OSError as error:
        if error.errno == errno.ELOOP:
            return loop
    if path.is_symlink():
        return f"a broken symbolic link (it points to {os.readlink(path)!r}, which does not exist)"
    return "file not found"


def read_volume(path: str | Path, *, series_id: str | None = None) -> Volume:
    """Read a .nii/.nii.gz/.mhd/.mha file or a DICOM series directory into a canonical Volume.

    The array keeps the file's value type after any scaling the format prescribes (int16 for
    most CT, uint8 for masks; float32 when NIfTI slope/intercept or DICOM rescale demand it).
    A trailing singleton dimension (x, y, z, 1) is dropped; 2D and 4D data are refused.
    """
    path = Path(path)
    kind = volume_format(path)
    if not path.exists():
        raise InputError(f"{path}: {_why_missing(path)}")
    if kind != "dicom" and path.is_dir():
        raise InputError(f"{path}: is a folder, not a volume file")
    if kind != "dicom" and path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes); was the download or copy complete?")
    if kind == "nifti":
        return _read_nifti(path)
    if kind == "metaimage":
        return _read_metaimage(path)
    return _read_dicom(path, series_id)


def write_volume(volume: Volume, path: str | Path, *, axcodes: str | None = None) -> Path:
    """Write `volume` as NIfTI (.nii/.nii.gz), MetaImage (.mhd + .raw, or .mha) or, for a path
    without a suffix, a DICOM series directory (integer arrays only).

    The file is written in canonical orientation unless `axcodes` (e.g. "RAS", "LAS") asks for
    another axis order; the world position of every voxel is the same either way.
    """
    path = Path(path)
    kind = volume_format(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    {"nifti": _write_nifti, "metaimage": _write_metaimage, "dicom": _write_dicom}[kind](volume, path, axcodes)
    return path


def as_hu(array: np.ndarray) -> np.ndarray:
    """An image array as int16 when its values are integers that fit (lossless, half the
    memory of float32, and what CT files store), otherwise float32."""
    if array.dtype == np.int16:
        return array
    if array.dtype.kind in "iub" and array.size:
        if array.min() >= np.iinfo(np.int16).min and array.max() <= np.iinfo(np.int16).max:
            return array.astype(np.int16)
    return array.astype(np.float32, copy=False)


def labels_to_mask(array: np.ndarray, min_label: int, where: str) -> np.ndarray:
    """Liver = every voxel whose label is >= `min_label` (LiTS/MSD: liver 1, tumour 2 -> >= 1)."""
    array = np.asarray(array)
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or not np.array_equal(array, np.rint(array)):
            raise InputError(f"{where}: a label map must hold integer labels; found non-integer or NaN values")
    if array.size and array.min() < 0:
        raise InputError(f"{where}: a label map must not hold negative labels (min {array.min()})")
    return array >= min_label


def read_case(
    case_id: str,
    image_path: str | Path,
    mask_path: str | Path | None = None,
    meta: dict[str, Any] | None = None,
    *,
    min_label: int | None = None,
) -> Case:
    """Read one case: image (int16 or float32 HU) and optional liver mask (uint8 0/1, same grid).

    The mask must be binary, unless `min_label` is given: then it is a label map and the liver
    is every voxel with label >= min_label. Raises InputError naming the file on a missing or
    unreadable file, NaNs in the image, a non-binary mask, or a mask on another grid.
    """
    image = read_volume(image_path)
    image.array = as_hu(finite_image(image.array, str(image_path)))
    mask = None
    if mask_path is not None:
        where = str(mask_path)
        mask = read_volume(mask_path)
        same_grid(image, mask, f"{where} (mask of {image_path})")
        labels = labels_to_mask(mask.array, min_label, where) if min_label is not None else mask.array
        mask.array = binary_mask(labels, where).view(np.uint8)
    info = {"image_path": str(image_path), "mask_path": None if mask_path is None else str(mask_path)}
    info.update(meta or {})
    return Case(str(case_id), image, mask, info)

"""Input checks shared by IO, the engine and the metrics: the one place these rules live.

Each check raises `InputError` whose message starts with `where` (a file name or case id), so
a user can tell which input is wrong without reading a traceback.
"""

from __future__ import annotations

import numpy as np

from liverbench.errors import InputError

# Grids are "the same" within these tolerances. Scanners and converters round spacing and
# positions differently (0.976562 vs 0.9766 mm; float32 sform vs float64), so exact equality
# would reject real image/mask pairs; a shift of 1 % of a voxel changes no metric.
SPACING_RTOL = 1e-3
DIRECTION_ATOL = 1e-3
ORIGIN_TOL_VOXELS = 0.01


def _value_summary(array: np.ndarray, limit: int = 6) -> str:
    values = np.unique(array[np.isfinite(array)] if array.dtype.kind == "f" else array)
    shown = ", ".join(f"{v:g}" for v in values[:limit])
    return f"{{{shown}{', ...' if values.size > limit else ''}}} ({values.size} distinct)"


def binary_mask(array: np.ndarray, where: str) -> np.ndarray:
    """The mask as a bool array; raises InputError unless every value is 0 or 1 (or bool).

    Float masks holding exactly 0.0/1.0 are accepted (some tools save masks as float);
    probabilities, label maps ({0, 1, 2}) and 0/255 masks are refused, since silently
    thresholding them would change the reference.
    """
    array = np.asarray(array)
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "biuf":
        raise InputError(f"{where}: a mask must be numeric or bool, got dtype {array.dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InputError(f"{where}: mask contains NaN or infinite values")
    # Fast path for the usual uint8 mask: max/min are cheaper than unique on 30M voxels.
    if array.size and (array.min() < 0 or array.max() > 1 or (array.dtype.kind == "f" and not np.isin(array, (0, 1)).all())):
        raise InputError(
            f"{where}: mask is not binary; values {_value_summary(array)} (expected only 0 and 1; "
            "a label map needs its liver labels selected first)"
        )
    return array.astype(bool)


def finite_image(array: np.ndarray, where: str) -> np.ndarray:
    """The array unchanged; raises InputError if a float image holds NaN or inf values."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise InputError(f"{where}: an image must be numeric, got dtype {array.dtype}")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(
                f"{where}: image contains {int(bad.sum())} NaN or infinite values (first at z, y, x = {first})"
            )
    return array


def same_grid(a, b, where: str) -> None:
    """Raise InputError unless volumes `a` and `b` lie on the same grid (shape, spacing, affine).

    `a` is taken as the reference (the image), `b` as the one that must match (the mask).
    """
    if a.shape != b.shape:
        raise InputError(f"{where}: grid shape {b.shape} (z, y, x) does not match the image's {a.shape}")
    spacing_a, spacing_b = np.asarray(a.spacing), np.asarray(b.spacing)
    if not np.allclose(spacing_a, spacing_b, rtol=SPACING_RTOL, atol=0):
        raise InputError(
            f"{where}: spacing {tuple(round(s, 4) for s in b.spacing)} mm does not match the image's "
            f"{tuple(round(s, 4) for s in a.spacing)} mm"
        )
    linear_a, linear_b = a.affine[:3, :3], b.affine[:3, :3]
    directions_a = linear_a / np.linalg.norm(linear_a, axis=0)
    directions_b = linear_b / np.linalg.norm(linear_b, axis=0)
    if not np.allclose(directions_a, directions_b, rtol=0, atol=DIRECTION_ATOL):
        raise InputError(
            f"{where}: orientation (affine directions) differs from the image's:\n"
            f"{np.round(directions_b, 4)}\nvs\n{np.round(directions_a, 4)}"
        )
    shift = float(np.linalg.norm(a.affine[:3, 3] - b.affine[:3, 3]))
    if shift > ORIGIN_TOL_VOXELS * min(a.spacing):
        raise InputError(
            f"{where}: grid origin differs from the image's by {shift:.3f} mm "
            f"({np.round(b.affine[:3, 3], 3).tolist()} vs {np.round(a.affine[:3, 3], 3).tolist()})"
        )

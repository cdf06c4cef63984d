"""The data model: a `Volume` is an array on a grid, a `Case` is one CT scan with its liver mask.

Conventions (see DESIGN.md):
- `Volume.array` is indexed (z, y, x). Readers reorient every file to one canonical
  orientation using its affine, so the same anatomy has the same array orientation whatever
  the file's axcodes (LPS, RAS, LAS, ...): x increases towards the patient's Left, y towards
  Posterior, z towards Superior ("LPS" for the (x, y, z) index order, ITK's convention).
  A transverse slice `array[k]` shown with imshow is in radiological view (patient's right on
  the image's left, anterior at the top).
- `Volume.spacing` is in mm, ordered (z, y, x) like the array.
- `Volume.affine` is the nibabel-style 4x4 matrix that maps a voxel index given in (x, y, z)
  order (the array index reversed) to RAS+ world coordinates in mm. It describes the
  canonical array, so writing it back out preserves the world position of every voxel.

What a plugin sees, and how a dataset builds it:

    >>> import numpy as np
    >>> from liverbench import Case, Volume
    >>> image = Volume(np.full((40, 64, 64), -1000.0, np.float32), spacing=(5.0, 0.8, 0.8))  # (z, y, x), mm
    >>> image.array[10:30, 20:50, 10:40] = 60.0                                            # HU
    >>> case = Case("p001", image, mask=image.with_array((image.array > 0).astype(np.uint8)),
    ...             meta={"phase": "contrast"})
    >>> case.image.shape, case.image.spacing, int(case.liver.sum()), round(case.mask.voxel_volume_ml * case.liver.sum())
    ((40, 64, 64), (5.0, 0.8, 0.8), 18000, 58)

A segmenter's `predict(image, ctx)` gets `case.image` (never the mask) and returns a
`Prediction` whose `prob` has `image.shape`; a dataset's `load(case_id)` returns a `Case`
(`liverbench.data.io.read_volume` reads a file into a canonical `Volume`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from liverbench.errors import InputError


def affine_from_spacing(spacing_zyx, origin_xyz=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Affine of a canonical (LPS index order) grid with the given spacing: RAS = diag(-sx, -sy, sz)."""
    sz, sy, sx = (float(s) for s in spacing_zyx)
    affine = np.diag([-sx, -sy, sz, 1.0])
    affine[:3, 3] = origin_xyz
    return affine


@dataclass(eq=False)
class Volume:
    """A 3D array on a grid: `array` indexed (z, y, x), `spacing` in mm (z, y, x), `affine` the
    voxel (x, y, z) -> RAS+ mm map of that canonical array (from the spacing when not given).
    `with_array` puts another array (a mask, a probability map) on the same grid."""

    array: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        if self.array.ndim != 3:
            raise InputError(f"a Volume needs a 3D array (z, y, x); got {self.array.ndim}D shape {self.array.shape}")
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing):
            raise InputError(f"spacing must be three positive numbers in mm (z, y, x); got {self.spacing}")
        self.spacing = spacing
        if self.affine is None:
            self.affine = affine_from_spacing(spacing)
        self.affine = np.asarray(self.affine, dtype=np.float64)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.spacing)) / 1000.0

    def with_array(self, array: np.ndarray) -> "Volume":
        """A volume on the same grid holding another array (a mask, a probability map)."""
        if array.shape != self.array.shape:
            raise InputError(f"array shape {array.shape} does not match the grid {self.array.shape}")
        return Volume(array, self.spacing, self.affine.copy())

    def same_grid(self, other: "Volume", tol: float = 1e-3) -> bool:
        return self.shape == other.shape and np.allclose(self.spacing, other.spacing, rtol=0, atol=tol) and np.allclose(
            self.affine, other.affine, rtol=0, atol=tol * max(1.0, float(np.abs(self.affine).max()))
        )


@dataclass(eq=False)
class Case:
    """One CT scan: image in HU, the liver mask on the same grid (or None), metadata.

    `mask` is a 0/1 `Volume` on the image's grid (checked here: shape and spacing); `liver` is
    it as a bool array. `meta` carries facts such as phase ("contrast"/"native"), source,
    licence, file paths. Training gets cases with masks; `predict` gets `case.image` only.
    See the module docstring for an example.
    """

    id: str
    image: Volume
    mask: Volume | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mask is None:
            return
        where = self.meta.get("mask_path") or f"case {self.id!r}"
        if self.mask.shape != self.image.shape:
            raise InputError(
                f"{where}: mask grid {self.mask.shape} does not match image grid {self.image.shape} (case {self.id!r})"
            )
        if not np.allclose(self.mask.spacing, self.image.spacing, rtol=1e-3, atol=1e-4):
            raise InputError(
                f"{where}: mask spacing {self.mask.spacing} differs from image spacing {self.image.spacing} (case {self.id!r})"
            )

    @property
    def liver(self) -> np.ndarray | None:
        """The reference as a bool array, or None."""
        return None if self.mask is None else self.mask.array.astype(bool, copy=False)

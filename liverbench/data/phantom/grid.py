"""A voxel grid placed in the patient frame, with evaluation restricted to a world-space box.

Organs are small compared with the field of view, so each implicit solid is evaluated only on
the sub-block of the grid that its bounding box covers; this is what keeps the 512x512 preset
within a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liverbench.data.volume import affine_from_spacing


@dataclass(frozen=True)
class Grid:
    shape: tuple[int, int, int]  # (nz, ny, nx)
    spacing: tuple[float, float, float]  # mm, (z, y, x)
    origin: tuple[float, float, float]  # patient-frame (x, y, z) in mm of voxel (0, 0, 0)

    @classmethod
    def centred(cls, shape, spacing, centre_xyz) -> "Grid":
        """A grid whose middle lies at `centre_xyz` (patient frame, mm)."""
        nz, ny, nx = shape
        sz, sy, sx = spacing
        origin = (centre_xyz[0] - (nx - 1) / 2 * sx, centre_xyz[1] - (ny - 1) / 2 * sy, centre_xyz[2] - (nz - 1) / 2 * sz)
        return cls(tuple(int(n) for n in shape), tuple(float(s) for s in spacing), tuple(float(o) for o in origin))

    def axis(self, name: str) -> np.ndarray:
        i = {"z": 0, "y": 1, "x": 2}[name]
        o = self.origin[2 - i]
        return (o + np.arange(self.shape[i]) * self.spacing[i]).astype(np.float32)

    def coarsened(self, factors) -> "Grid":
        """A grid with voxels exactly `factors` (z, y, x; integers) times larger, starting at the same edge.

        It covers at least this grid's field of view (ceil), so upsampling it by the factors with
        `ndimage.zoom(..., grid_mode=True)` and cropping to `self.shape` lands voxel for voxel on
        this grid, and any sub-block [a:b] of it maps onto [a*f:b*f] here.
        """
        factors = tuple(int(f) for f in factors)
        shape = tuple(-(-n // f) for n, f in zip(self.shape, factors))
        spacing = tuple(s * f for s, f in zip(self.spacing, factors))
        # Same outer edge: the first coarse voxel's centre sits half a coarse voxel in from it.
        origin = tuple(o - s / 2 + cs / 2 for o, s, cs in zip(self.origin, self.spacing[::-1], spacing[::-1]))
        return Grid(shape, spacing, origin)

    def window(self, lo=None, hi=None):
        """Index slices (z, y, x) of the voxels inside the box, and their broadcastable coordinates.

        Returns None when the box misses the grid.
        """
        slices, coords = [], []
        for name, i in (("z", 0), ("y", 1), ("x", 2)):
            values = self.axis(name)
            a = 0 if lo is None else int(np.searchsorted(values, lo[2 - i], side="left"))
            b = len(values) if hi is None else int(np.searchsorted(values, hi[2 - i], side="right"))
            if b <= a:
                return None
            slices.append(slice(a, b))
            shape = [1, 1, 1]
            shape[i] = b - a
            coords.append(values[a:b].reshape(shape))
        z, y, x = coords
        return tuple(slices), (x, y, z)

    def affine(self) -> np.ndarray:
        """RAS affine: patient-frame x (Left) is -R, y (Posterior) is -A, z (Superior) is S."""
        x0, y0, z0 = self.origin
        return affine_from_spacing(self.spacing, origin_xyz=(-x0, -y0, z0))

"""The region of interest the heavy refinements (dense CRF, graph cut) work in.

The bounding box of the voxels with P above a low level, dilated by a margin in mm, clipped to
the volume. Refining only there is what lets CRF and graph cut scale to 512x512x500 volumes:
the liver fills a small part of an abdominal CT. Outside the box the result is "not liver"
(P was below the low level there, far below 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ROI:
    slices: tuple[slice, slice, slice]
    shape: tuple[int, int, int]  # the full grid's shape

    def crop(self, array: np.ndarray) -> np.ndarray:
        if array.shape != self.shape:
            raise ValueError(f"ROI.crop: array shape {array.shape} differs from the grid {self.shape}")
        return array[self.slices]

    def paste(self, cropped: np.ndarray, fill=False) -> np.ndarray:
        """Put a cropped result back on the full grid; outside the box gets `fill`."""
        out = np.full(self.shape, fill, dtype=cropped.dtype)
        out[self.slices] = cropped
        return out

    @property
    def size(self) -> int:
        return int(np.prod([s.stop - s.start for s in self.slices]))


def find_roi(prob: np.ndarray, spacing, margin_mm: float = 10.0, level: float = 0.1) -> ROI | None:
    """The dilated bounding box of P > level, or None when no voxel exceeds it."""
    prob = np.asarray(prob)
    support = prob > level
    if not support.any():
        return None
    slices = []
    for axis, (n, sp) in enumerate(zip(prob.shape, spacing)):
        hit = np.nonzero(support.any(axis=tuple(a for a in range(3) if a != axis)))[0]
        pad = int(np.ceil(margin_mm / float(sp)))
        slices.append(slice(max(0, int(hit[0]) - pad), min(n, int(hit[-1]) + 1 + pad)))
    return ROI(tuple(slices), tuple(prob.shape))


def full_roi(shape) -> ROI:
    return ROI(tuple(slice(0, n) for n in shape), tuple(shape))

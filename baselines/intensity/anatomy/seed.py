"""The seed: voxels that are liver in nearly every abdomen, just below the right hemidiaphragm."""

from __future__ import annotations

import numpy as np

from .body import right_front
from .lungs import inner_columns
from .spine import BONE_HU

MIN_RIGHT_LUNG_ML = 5.0  # less right lung than this: no diaphragm to hang the seed from
MIN_SEED_ML = 5.0  # a seed under the lung smaller than this falls back to the top slices
TOP_SLICES_MM = 40.0  # without lungs in view: the seed is in this much of the scan's top
RIGHT_SHARE = 0.35  # ... and in this share of the body's width from its right side


def seed_region(coarse: np.ndarray, body: np.ndarray, lungs: np.ndarray, spacing, depth_mm,
                fluid_max_hu: float = 30.0) -> np.ndarray:
    """Soft tissue `depth_mm` (near, far) below the right lung's base, in front.

    Only tissue above `fluid_max_hu`: a pleural effusion under the lung (0-25 HU) would otherwise
    fill the seed and pull the window onto fluid.
    """
    if not body.any():
        return np.zeros_like(body)
    front = right_front(body)
    z_idx = np.arange(coarse.shape[0])[:, None, None]
    soft = body & ~lungs & (coarse > fluid_max_hu) & (coarse < BONE_HU)

    right_lung = lungs & front
    if right_lung.sum() * np.prod(spacing) / 1000.0 > MIN_RIGHT_LUNG_ML:
        column = inner_columns(right_lung, spacing)
        base = np.where(column, np.argmax(right_lung, axis=0), -1)  # lowest lung voxel per column
        d1, d2 = (int(round(d / spacing[0])) for d in depth_mm)
        seed = column[None] & (z_idx <= base[None] - d1) & (z_idx >= base[None] - d2) & soft
        if seed.sum() * np.prod(spacing) / 1000.0 > MIN_SEED_ML:
            return seed
    # No lungs in view (the scan starts below them): the right anterior part of the top slices.
    xs = np.nonzero(body.any(axis=(0, 1)))[0]
    top = coarse.shape[0] - max(1, int(round(TOP_SLICES_MM / spacing[0])))
    lateral = np.arange(coarse.shape[2])[None, None, :] < xs[0] + RIGHT_SHARE * (xs[-1] - xs[0])
    return soft & front & lateral & (z_idx >= top)

"""The lungs, and the columns under the right lung where the diaphragm's dome lies."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..grid import ball

TOP_OF_SCAN_MM = 20.0  # air reaching this far down from the scan's top is lung (bowel gas lies lower)
LUNG_MIN_ML = 300.0  # air this large is lung wherever it is
TOP_LUNG_MIN_ML = 5.0  # air at the top of the scan smaller than this is noise
COLUMN_INSET_MM = 10.0  # how far in from the lung's edge: ribs, chest-wall muscle and the crus lie in that rim
MIN_INNER_COLUMNS = 10  # fewer columns that far in: take all of them


def lung_mask(coarse: np.ndarray, body: np.ndarray, spacing, air_hu: float) -> np.ndarray:
    """Air inside the body that reaches the top slices or is big: the lungs, not bowel gas."""
    air = body & (coarse < air_hu)
    labels, n = ndi.label(air)
    if n == 0:
        return air
    voxel_ml = float(np.prod(spacing)) / 1000.0
    sizes_ml = np.bincount(labels.ravel()) * voxel_ml
    top = coarse.shape[0] - max(1, int(round(TOP_OF_SCAN_MM / spacing[0])))
    reaches_top = np.zeros(n + 1, dtype=bool)
    reaches_top[np.unique(labels[top:])] = True
    keep = (sizes_ml > LUNG_MIN_ML) | (reaches_top & (sizes_ml > TOP_LUNG_MIN_ML))
    keep[0] = False
    return keep[labels]


def inner_columns(lung: np.ndarray, spacing, inset_mm: float = COLUMN_INSET_MM) -> np.ndarray:
    """The (y, x) columns under `lung`, `inset_mm` in from its edge, where ribs, chest-wall muscle
    and the crus lie (all of its columns if fewer than `MIN_INNER_COLUMNS` are that far in)."""
    column = lung.any(axis=0)
    inner = ndi.binary_erosion(column, structure=ball(inset_mm, spacing[1:]), border_value=0)
    return inner if inner.sum() >= MIN_INNER_COLUMNS else column

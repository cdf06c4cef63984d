"""The liver's dome that the window missed: the gap between the liver's top and the right lung."""

from __future__ import annotations

import numpy as np

from ..scene import Scene


def dome_rim(liver: np.ndarray, scene: Scene, cfg) -> np.ndarray:
    """Liver at the dome that the window missed: the gap between the liver's top and the lung.

    Between the dome of the liver and the base of the right lung lies only the diaphragm. Where,
    in a column under the right lung (away from its edge, `Scene.lung_columns`), the liver stops
    short of the lung by more than `dome_margin_mm` (the diaphragm, 3-5 mm, and the lung's partial
    volume on a coarse slice) and by at most `dome_gap_mm`, the gap is liver the window missed -- a
    hypodense lesion against the diaphragm or the partial-volume rim of the dome -- when all of it
    is soft tissue (`lesion_min_hu` to the window's top) and it is darker than the window on
    average, which leaves out the caval and hepatic-vein blood that reaches the diaphragm inside
    the window.
    """
    spacing, smooth, (lo, hi, _, _) = scene.spacing, scene.smooth, scene.window
    if not scene.right_lung.any():
        return np.zeros(liver.shape, dtype=bool)
    nz = liver.shape[0]
    base = np.argmax(scene.right_lung, axis=0)  # lowest right-lung voxel per column
    top = nz - 1 - np.argmax(liver[::-1], axis=0)  # highest liver voxel per column
    stop = base - int(round(cfg["dome_margin_mm"] / spacing[0]))  # first voxel of the diaphragm
    length = stop - top - 1
    columns = (scene.lung_columns & liver.any(axis=0) & (length >= 1)
               & (length * spacing[0] <= cfg["dome_gap_mm"]))
    z = np.arange(nz)[:, None, None]
    gap = columns[None] & (z > top[None]) & (z < stop[None])
    tissue = (smooth >= cfg["lesion_min_hu"]) & (smooth <= hi)
    mean = np.where(gap, smooth, 0.0).sum(axis=0) / np.maximum(gap.sum(axis=0), 1)
    keep = ~(gap & ~tissue).any(axis=0) & (mean < lo)
    return gap & keep[None]

"""Surface measures from the two border-distance arrays (A = segmentation, B = reference).

`d_seg`: the distance in mm from every border voxel of A to the nearest border voxel of B;
`d_ref`: the same from B to A (`distances.py`). Both directions are pooled, as in the SLiver07
evaluation program. Each function takes (d_seg, d_ref, tolerance_mm) so that a metric
declaration (`declarations.py`) can name it; only NSD uses the tolerance.
"""

from __future__ import annotations

import math

import numpy as np


def asd(d_seg: np.ndarray, d_ref: np.ndarray, tolerance_mm: float) -> float:
    """Average symmetric surface distance: the mean of both directions' distances."""
    return (float(d_seg.sum()) + float(d_ref.sum())) / (d_seg.size + d_ref.size)


def rmsd(d_seg: np.ndarray, d_ref: np.ndarray, tolerance_mm: float) -> float:
    """Root mean square symmetric surface distance."""
    return math.sqrt((float(np.dot(d_seg, d_seg)) + float(np.dot(d_ref, d_ref))) / (d_seg.size + d_ref.size))


def maxd(d_seg: np.ndarray, d_ref: np.ndarray, tolerance_mm: float) -> float:
    """Maximum symmetric surface distance (the Hausdorff distance)."""
    return max(float(d_seg.max()), float(d_ref.max()))


def hd95(d_seg: np.ndarray, d_ref: np.ndarray, tolerance_mm: float) -> float:
    """The larger of the two directed 95th percentiles (numpy's default linear interpolation)."""
    return max(float(np.percentile(d_seg, 95)), float(np.percentile(d_ref, 95)))


def nsd(d_seg: np.ndarray, d_ref: np.ndarray, tolerance_mm: float) -> float:
    """Normalised surface Dice: the fraction of border voxels of both masks within the tolerance
    of the other's border (border voxels, consistent with the border definition, not surfel
    areas as DeepMind's surface-distance counts)."""
    near = int(np.count_nonzero(d_seg <= tolerance_mm)) + int(np.count_nonzero(d_ref <= tolerance_mm))
    return near / (d_seg.size + d_ref.size)

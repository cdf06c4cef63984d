"""Border-voxel extraction: a mask minus its erosion with a radius-1 ball.

Hand-written erosion instead of `scipy.ndimage.binary_erosion`: the erosion is an AND of the
mask with its shifted copies, done in place on one array (no temporaries), which measured
about 8x faster than scipy's generic binary erosion on a liver-sized crop and gives the same
voxels (tests/unit/test_metrics_borders.py checks against scipy for every convention).
"""

from __future__ import annotations

import itertools

import numpy as np

from liverbench.metrics.conventions import BorderConvention, resolve_convention

_MAX_NONZERO = {6: 1, 18: 2, 26: 3}  # offsets of the ball: at most this many non-zero coordinates


def neighbour_offsets(neighbourhood: int) -> list[tuple[int, int, int]]:
    """The (dz, dy, dx) offsets of the 6-, 18- or 26-neighbourhood (centre excluded)."""
    limit = _MAX_NONZERO[neighbourhood]
    return [o for o in itertools.product((-1, 0, 1), repeat=3) if 0 < sum(map(abs, o)) <= limit]


def border_voxels(mask: np.ndarray, convention: str | BorderConvention = "sliver07") -> np.ndarray:
    """Bool array of the border voxels of a 3D bool mask under `convention`.

    Outside "object": a voxel whose neighbour lies beyond the image keeps that neighbour as
    object, so the edge of the field of view is no surface. Outside "background": voxels on the
    faces of the image are always border voxels.
    """
    convention = resolve_convention(convention)
    mask = np.asarray(mask, dtype=bool)
    eroded = mask.copy()
    shape = mask.shape
    for offset in neighbour_offsets(convention.neighbourhood):
        # eroded[v] &= mask[v + offset] wherever v + offset lies inside the image; voxels whose
        # neighbour is outside are left alone, which is the outside-as-object rule.
        dst = tuple(slice(max(0, -d), n - max(0, d)) for d, n in zip(offset, shape))
        src = tuple(slice(max(0, d), n - max(0, -d)) for d, n in zip(offset, shape))
        view = eroded[dst]
        np.logical_and(view, mask[src], out=view)
    if convention.outside == "background":
        # Every face voxel has a face neighbour outside the image (in all three neighbourhoods).
        for axis in range(3):
            index = [slice(None)] * 3
            for end in (0, -1):
                index[axis] = end
                eroded[tuple(index)] = False
    # The erosion is a subset of the mask, so mask minus erosion is their XOR.
    return np.logical_xor(mask, eroded, out=eroded)

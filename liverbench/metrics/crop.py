"""The union's bounding box: everything the metrics need lies inside it.

Both masks (and so both borders and every nearest-border pair) lie in the union's bounding box,
so cropping to it changes no metric. The one-voxel margin keeps a background layer around the
masks wherever the box does not reach the edge of the image; at the edge of the image the crop
face is the image face, so the border convention's outside rule still applies there.
"""

from __future__ import annotations

import numpy as np


def _extent(mask: np.ndarray) -> list[tuple[int, int]] | None:
    """[(first, last)] index of the mask's voxels along each axis, or None if it is empty."""
    planes = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))
    if planes.size == 0:
        return None
    slab = mask[planes[0] : planes[-1] + 1]  # reduce the other axes over the occupied slab only
    extent = [(int(planes[0]), int(planes[-1]))]
    for axis in range(1, mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(slab.any(axis=other))
        extent.append((int(hits[0]), int(hits[-1])))
    return extent


def union_bounding_box(seg: np.ndarray, ref: np.ndarray, margin: int = 1) -> tuple[slice, ...] | None:
    """Slices of the bounding box of seg | ref grown by `margin` voxels (clipped to the image); None if both are empty."""
    extents = [e for e in (_extent(seg), _extent(ref)) if e is not None]
    if not extents:
        return None
    return tuple(
        slice(max(0, min(e[axis][0] for e in extents) - margin), min(n, max(e[axis][1] for e in extents) + 1 + margin))
        for axis, n in enumerate(seg.shape)
    )

"""Euclidean distances from every border voxel of one mask to the nearest border voxel of the other.

Measured choice (benchmarks/metrics_speed.py, RESULTS.md): a distance transform over the
cropped box costs time in proportion to its volume, while only the border voxels need a
distance. So the nearest border voxel is searched directly:

1. Local search (exact): the neighbour offsets inside a small box are visited in order of
   increasing physical length; each still-unresolved query voxel looks up the other border at
   that offset, and the first hit is its nearest border voxel. Any voxel outside the box lies at
   least `cover` mm away, so a hit at distance <= `cover` is certified exact. Almost all border
   voxels of a reasonable segmentation resolve within a few offsets.
2. The voxels farther than `cover` (they set MaxD), or left when the look-ups stop paying, go
   to whichever is cheaper by a rough cost model: a k-d tree over the other border's voxel
   centres (scipy.spatial.cKDTree, exact; the usual case, a few thousand voxels) or, when very
   many voxels are far (a displaced or speckled segmentation, where k-d tree queries get slow),
   one distance transform of the box with the `edt` package (float32: relative error < 1e-6).

Distances are computed in float64 from voxel centres with anisotropic spacing, so they equal a
brute-force search (to rounding; to 1e-6 relative where the edt fallback is used). On the
liver-sized benchmark this took a fraction of the time of one `edt` transform per direction and
a small fraction of scipy's `distance_transform_edt` (RESULTS.md), and its extra memory scales
with the surface, not the box.
"""

from __future__ import annotations

import edt
import numpy as np
from scipy.spatial import cKDTree

# The local search visits at most about this many offsets; more would cost Python-loop
# overhead for little gain, since far voxels go to the k-d tree anyway.
_SEARCH_OFFSETS = 1000
_PROGRESS_WINDOW = 16
_NS_PER_STEP, _NS_PER_LOOKUP, _NS_PER_TREE_POINT, _NS_PER_QUERY = 5000.0, 4.0, 300.0, 1500.0
_NS_PER_FAR_QUERY, _NS_PER_EDT_VOXEL = 20000.0, 70.0  # a k-d tree query beyond `cover`; one voxel of `edt`
_EDT_MIN_NS = 50e6  # below about 50 ms of tree work the exact tree is always used


def _search_window(spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(radius per axis, offsets sorted by length, their lengths in mm, cover radius in mm)."""
    voxel_volume = float(np.prod(spacing))
    # A ball holding about _SEARCH_OFFSETS voxels, but at least one step along the coarsest axis.
    target = max(float(spacing.max()), (3.0 * _SEARCH_OFFSETS * voxel_volume / (4.0 * np.pi)) ** (1.0 / 3.0))
    radius = np.ceil(target / spacing).astype(np.int64)
    cover = float(((radius + 1) * spacing).min())  # every voxel outside the box is >= cover away
    grids = np.meshgrid(*(np.arange(-r, r + 1) for r in radius), indexing="ij")
    offsets = np.stack([g.ravel() for g in grids], axis=1)
    lengths = np.sqrt(((offsets * spacing) ** 2).sum(axis=1))
    keep = lengths <= cover
    order = np.argsort(lengths[keep], kind="stable")
    return radius, offsets[keep][order], lengths[keep][order], cover


def _directed(query_flat: np.ndarray, target_padded: np.ndarray, offset_flat: np.ndarray, lengths: np.ndarray,
              shape: tuple[int, ...], spacing: np.ndarray) -> np.ndarray:
    """Distance from each query voxel (flat index in the padded box) to the nearest True of target_padded."""
    target = target_padded.ravel()
    target_count = int(np.count_nonzero(target))
    distances = np.empty(query_flat.size, dtype=np.float64)
    index_type = np.int32 if target.size < np.iinfo(np.int32).max else np.int64  # halves memory traffic
    pending = np.arange(query_flat.size, dtype=index_type)  # positions in `distances` still unanswered
    current = query_flat.astype(index_type)
    steps = offset_flat.astype(index_type)
    lookup, hit = np.empty(current.size, dtype=index_type), np.empty(current.size, dtype=bool)
    pending_before = pending.size
    for i, (step, length) in enumerate(zip(steps, lengths)):
        n = current.size
        # Indices stay in range thanks to the padding; mode="clip" skips numpy's buffered bounds check.
        np.take(target, np.add(current, step, out=lookup[:n]), out=hit[:n], mode="clip")
        if hit[:n].any():
            found = hit[:n]
            distances[pending[found]] = length  # offsets are sorted by length: the first hit is the nearest
            missed = ~found
            pending, current = pending[missed], current[missed]
            if pending.size == 0:
                return distances
        # Switch to the k-d tree once the look-ups stop paying: little progress over the last
        # _PROGRESS_WINDOW offsets (the pending voxels are far away, e.g. a displaced or speckled
        # segmentation) and the remaining look-ups would cost more than the tree. The per-operation
        # costs (ns) are rough measurements; they move the switch point, never the answer.
        if i % _PROGRESS_WINDOW == _PROGRESS_WINDOW - 1:
            stalled = pending.size > 0.75 * pending_before
            pending_before = pending.size
            remaining = steps.size - i - 1
            if stalled and remaining * (_NS_PER_STEP + _NS_PER_LOOKUP * pending.size) > (
                _NS_PER_TREE_POINT * target_count + _NS_PER_QUERY * pending.size
            ):
                break
    # The rest: farther than `cover`, or left when the look-ups stalled. Few of them (the usual
    # case): exact k-d tree. Many (a displaced or speckled segmentation, where every far query
    # walks much of the tree): one distance transform of the box is cheaper.
    tree_cost = _NS_PER_TREE_POINT * target_count + _NS_PER_FAR_QUERY * pending.size
    # Exact answers are preferred: the transform only when the tree would be slow and clearly slower.
    if tree_cost > _EDT_MIN_NS and 2 * _NS_PER_EDT_VOXEL * target.size < tree_cost:
        # edt works in float32: relative error below 1e-6, far below any reported digit.
        transform = edt.edt(np.logical_not(target_padded), anisotropy=tuple(spacing), black_border=False, parallel=1)
        distances[pending] = transform.ravel()[current]
        return distances
    target_points = np.stack(np.unravel_index(np.flatnonzero(target), shape), axis=1) * spacing
    query_points = np.stack(np.unravel_index(current, shape), axis=1) * spacing
    tree = cKDTree(target_points, balanced_tree=False, compact_nodes=False)  # faster build, same answers
    distances[pending] = tree.query(query_points)[0]
    return distances


def search_padding(spacing) -> list[tuple[int, int]]:
    """np.pad widths that keep every look-up of the local search inside the array."""
    radius = _search_window(np.asarray(spacing, dtype=np.float64))[0]
    return [(int(r), int(r)) for r in radius]


def padded_border_distances(padded_a: np.ndarray, padded_b: np.ndarray, spacing) -> tuple[np.ndarray, np.ndarray]:
    """border_distances for borders already padded with `search_padding(spacing)` (saves a copy of each)."""
    if padded_a.shape != padded_b.shape:
        raise ValueError(f"border shapes differ: {padded_a.shape} vs {padded_b.shape}")
    a_flat, b_flat = np.flatnonzero(padded_a), np.flatnonzero(padded_b)
    if a_flat.size == 0 or b_flat.size == 0:
        raise ValueError("border distances need two non-empty borders (empty masks are handled by evaluate)")
    spacing = np.asarray(spacing, dtype=np.float64)
    radius, offsets, lengths, _ = _search_window(spacing)
    shape = padded_a.shape
    for padded in (padded_a, padded_b):  # look-ups must never leave the array (they would wrap rows)
        for axis, r in enumerate(radius):
            edges = (slice(None, r), slice(-r, None)) if r else ()
            if any(padded[(slice(None),) * axis + (edge,)].any() for edge in edges) or shape[axis] <= 2 * r:
                raise ValueError(f"borders must be padded with search_padding(spacing) = {search_padding(spacing)}")
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.int64)
    offset_flat = offsets @ strides
    a_to_b = _directed(a_flat, padded_b, offset_flat, lengths, shape, spacing)
    b_to_a = _directed(b_flat, padded_a, offset_flat, lengths, shape, spacing)
    return a_to_b, b_to_a


def border_distances(border_a: np.ndarray, border_b: np.ndarray, spacing) -> tuple[np.ndarray, np.ndarray]:
    """(a->b, b->a): for each True voxel of border_a (C order) the distance in mm to the nearest True voxel
    of border_b, and the reverse. Both borders must be non-empty and on the same grid."""
    if border_a.shape != border_b.shape:
        raise ValueError(f"border shapes differ: {border_a.shape} vs {border_b.shape}")
    pad = search_padding(spacing)
    return padded_border_distances(np.pad(border_a, pad), np.pad(border_b, pad), spacing)

"""One case's metrics: the SLiver07 measures, their scores, and Dice, Jaccard, HD95, surface Dice.

One pass per case: crop both masks to the union's bounding box (plus a one-voxel margin),
count overlaps, extract both borders, and compute each border voxel's distance to the nearest
border voxel of the other mask, in both directions (`distances.py`: an exact nearest-border
search, measured faster than a distance transform). Then every declared metric
(`declarations.py`) is computed by its own function: an overlap measure from the counts, a
surface measure from those two distance arrays (`surface.py`).

Surface measures (A = segmentation, B = reference, distances in mm between voxel centres using
the reference's spacing, both directions pooled as in the SLiver07 evaluation program):
ASD = mean, RMSD = sqrt(mean of squares), MaxD = max. HD95 = the larger of the two directed
95th percentiles (numpy's default linear interpolation). NSD (normalised surface Dice) = the
fraction of border voxels of both masks within `nsd_tolerance_mm` of the other's border
(counting border voxels, consistent with the border definition, not surfel areas as
DeepMind's surface-distance does).

Conventions where a measure does not exist (never NaN; "note" says which applied):
- both masks empty: perfect agreement (VOE, RVD, distances 0; Dice, Jaccard, NSD 1; scores 100);
- one mask empty while the other is not: no surface to measure against, so the distance
  measures (ASD, RMSD, MaxD, HD95) are set to the diagonal of the field of view (the largest
  distance two voxel centres of the image can have), their scores to 0 and NSD to 0; VOE is
  100 %, RVD is -100 % for an empty segmentation and +100 % by convention for an empty
  reference (see overlap.rvd), Dice and Jaccard 0;
- a mask that fills the whole image has no surface under the outside-as-object rule: treated
  like a missing surface (same distance convention), unless both fill it (identical: zero).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from liverbench.data.validate import binary_mask
from liverbench.errors import InputError
from liverbench.metrics import declarations
from liverbench.metrics.borders import border_voxels
from liverbench.metrics.conventions import BorderConvention, resolve_convention
from liverbench.metrics.crop import union_bounding_box
from liverbench.metrics.declarations import OVERLAP, SURFACE
from liverbench.metrics.distances import padded_border_distances, search_padding
from liverbench.metrics.overlap import OverlapCounts
from liverbench.metrics.scores import case_score, resolve_refs, sliver07_score


def _check_spacing(spacing) -> np.ndarray:
    try:
        values = np.asarray(spacing, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"metrics: spacing must be three numbers in mm (z, y, x), got {spacing!r}") from None
    if values.size != 3 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise InputError(f"metrics: spacing must be three positive numbers in mm (z, y, x), got {spacing!r}")
    return values


def _as_mask(mask, where: str) -> np.ndarray:
    array = mask.array if hasattr(mask, "array") and hasattr(mask, "spacing") else mask  # a Volume
    array = binary_mask(array, where)
    if array.ndim != 3:
        raise InputError(f"{where}: metrics need a 3D mask (z, y, x), got {array.ndim}D shape {array.shape}")
    return array


def _surface_measures(d_seg: np.ndarray, d_ref: np.ndarray, tolerance: float) -> dict[str, float]:
    return {m.column: m.compute(d_seg, d_ref, tolerance) for m in declarations.METRICS if m.family == SURFACE}


def _identical_surfaces() -> dict[str, float]:
    return {m.column: m.identical for m in declarations.METRICS if m.family == SURFACE}


def _no_surface(shape, spacing: np.ndarray) -> dict[str, float]:
    """One mask has no surface: each surface measure's declared value, the distances the
    diagonal of the field of view (the largest distance two voxel centres of the image can have)."""
    diagonal = float(np.sqrt((((np.asarray(shape) - 1) * spacing) ** 2).sum()))
    return {m.column: diagonal if m.missing is None else m.missing
            for m in declarations.METRICS if m.family == SURFACE}


def evaluate(
    seg,
    ref,
    spacing,
    *,
    convention: str | BorderConvention = "sliver07",
    nsd_tolerance_mm: float = 1.0,
    refs: Mapping[str, float] | None = None,
) -> dict:
    """Metrics of segmentation `seg` against reference `ref` (3D binary arrays on one grid, (z, y, x)).

    `spacing` is the reference's voxel size in mm (z, y, x). Returns a dict with exactly the
    columns of liverbench.schema.METRIC_COLUMNS (floats; each computed by its declaration,
    `declarations.METRICS`) plus "note" (empty unless a convention for empty masks or missing
    surfaces applied).
    """
    seg = _as_mask(seg, "metrics: segmentation")
    ref = _as_mask(ref, "metrics: reference")
    if seg.shape != ref.shape:
        raise InputError(f"metrics: segmentation shape {seg.shape} does not match reference shape {ref.shape} (z, y, x)")
    spacing = _check_spacing(spacing)
    convention = resolve_convention(convention)
    tolerance = float(nsd_tolerance_mm)
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise InputError(f"metrics: nsd_tolerance_mm must be a non-negative number, got {nsd_tolerance_mm!r}")
    refs = resolve_refs(refs)

    box = union_bounding_box(seg, ref, margin=1)
    notes: list[str] = []
    surface_missing = False  # one mask has a surface, the other none: the surface measures score 0
    if box is None:
        counts = OverlapCounts(0, 0, 0)
        surface = _identical_surfaces()
        notes.append("both masks empty: perfect agreement by convention")
    else:
        seg_box, ref_box = seg[box], ref[box]
        counts = OverlapCounts(
            int(np.count_nonzero(seg_box)),
            int(np.count_nonzero(ref_box)),
            int(np.count_nonzero(np.logical_and(seg_box, ref_box))),
        )
        # Borders go straight into arrays padded for the distance search; keeping only those
        # saves a box-sized copy of each.
        pad = search_padding(spacing)
        seg_border, ref_border = (np.pad(border_voxels(m, convention), pad) for m in (seg_box, ref_box))
        seg_has, ref_has = bool(seg_border.any()), bool(ref_border.any())
        if seg_has and ref_has:
            surface = _surface_measures(*padded_border_distances(seg_border, ref_border, spacing), tolerance)
        elif not seg_has and not ref_has:
            # Non-empty masks without a border both fill the whole image: identical.
            surface = _identical_surfaces()
            notes.append(f"both masks fill the whole image: no surface under the {convention.name} convention, "
                         "distances 0 by convention")
        else:
            surface = _no_surface(seg.shape, spacing)
            surface_missing = True
            missing = "segmentation" if not seg_has else "reference"
            why = "is empty" if (counts.seg if missing == "segmentation" else counts.ref) == 0 else (
                f"fills the whole image (no surface under the {convention.name} convention)")
            notes.append(f"{missing} {why}: distances set to the field-of-view diagonal "
                         f"({surface['maxd']:.1f} mm), their scores and NSD to 0 by convention")
    row = {m.column: m.compute(counts) for m in declarations.METRICS if m.family == OVERLAP} | surface
    if counts.ref == 0 and counts.seg > 0:
        notes.append("RVD undefined for an empty reference: +100 % by convention")
    scores = {m.column: 0.0 if surface_missing and m.family == SURFACE else sliver07_score(m.column, row[m.column], refs)
              for m in declarations.scored()}
    row.update({m.score_column: scores[m.column] for m in declarations.scored()})
    row[declarations.SCORE] = case_score(scores)
    result = {column: float(row[column]) for column in declarations.metric_columns()}
    result["note"] = "; ".join(notes)
    return result

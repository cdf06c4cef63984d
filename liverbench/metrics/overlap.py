"""Volume-overlap measures from voxel counts (A = segmentation, B = reference)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OverlapCounts:
    seg: int  # |A|
    ref: int  # |B|
    both: int  # |A and B|

    @property
    def union(self) -> int:
        return self.seg + self.ref - self.both


def voe(c: OverlapCounts) -> float:
    """Volumetric overlap error in %: 100 (1 - |A and B| / |A or B|); 0 when both masks are empty."""
    return 100.0 * (1.0 - c.both / c.union) if c.union else 0.0


def rvd(c: OverlapCounts) -> float:
    """Signed relative volume difference in %: 100 (|A| - |B|) / |B| (positive = over-segmentation).

    With an empty reference the ratio does not exist: by convention +100 % if the segmentation
    is not empty (it can only over-segment; the score is 0 either way) and 0 if both are empty.
    """
    if c.ref:
        return 100.0 * (c.seg - c.ref) / c.ref
    return 100.0 if c.seg else 0.0


def dice(c: OverlapCounts) -> float:
    """2 |A and B| / (|A| + |B|); 1 when both masks are empty."""
    return 2.0 * c.both / (c.seg + c.ref) if c.seg + c.ref else 1.0


def jaccard(c: OverlapCounts) -> float:
    """|A and B| / |A or B|; 1 when both masks are empty."""
    return c.both / c.union if c.union else 1.0

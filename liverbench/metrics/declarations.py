"""Every metric declared once: what it is computed from, how it is computed, its value where a
mask has no surface, and how the store, the report and tuning show and rank it.

`evaluate` loops over `METRICS`; the store, the report, the terminal table and tuning read the
same declarations (through `liverbench.schema`) and never name a metric. Adding a metric is one
declaration here plus its function (`overlap.py` for a measure of voxel counts, `surface.py`
for one of the two border-distance arrays).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from liverbench.metrics import overlap, surface

OVERLAP = "overlap"  # computed from the voxel counts (overlap.OverlapCounts); defined for empty masks too
SURFACE = "surface"  # computed from the two border-distance arrays (surface.py)
SCORE_FAMILY = "score"  # a SLiver07 score: 0..100 against the challenge's human rater (scores.py)
FAMILIES = (OVERLAP, SURFACE, SCORE_FAMILY)


@dataclass(frozen=True)
class MetricInfo:
    column: str
    label: str
    unit: str  # "" for a ratio
    higher_is_better: bool
    decimals: int  # how many the report shows
    family: str  # OVERLAP or SURFACE: what `compute` takes
    compute: Callable[..., float]  # overlap: f(counts); surface: f(d_seg, d_ref, tolerance_mm)
    # Surface measures where a border is missing (overlap ones follow from the counts):
    identical: float = 0.0  # neither mask has a surface (both empty, or both fill the image)
    missing: float | None = None  # one mask has none; None = the field-of-view diagonal (a distance)
    score_column: str | None = None  # its SLiver07 score column, if it has one
    leaderboard: bool = False  # a column of the leaderboard, the box plots and `liverbench eval`
    signed: bool = False  # its magnitude is what counts: scored and tuned as |value|
    # Where the report shows it besides the per-case tables and the leaderboard:
    gain: bool = False  # the refinement-gain table: the measures a refinement is meant to move
    finer_gain: bool = False  # ... with one more decimal there (refinements move it by less than its rounding)
    distribution: bool = False  # the distribution over cases (Yang et al., Table 1)
    context: bool = False  # the findings' mean differences beside the score's (what the papers report)

    def __post_init__(self) -> None:
        if self.family not in (OVERLAP, SURFACE):
            raise ValueError(f"metric {self.column!r}: family must be {OVERLAP!r} or {SURFACE!r}, got {self.family!r}")

    @property
    def format(self) -> str:
        return f".{self.decimals}f"

    @property
    def header(self) -> str:
        """'VOE [%]', 'Dice'."""
        return f"{self.label} [{self.unit}]" if self.unit else self.label


# The five SLiver07 measures, in the challenge's table order, then the extras; the leaderboard
# keeps this order (that of Dou et al., Table 2).
METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("voe", "VOE", "%", False, 2, OVERLAP, overlap.voe, score_column="voe_score", leaderboard=True,
               gain=True, context=True),
    MetricInfo("rvd", "RVD", "%", False, 2, OVERLAP, overlap.rvd, score_column="rvd_score", leaderboard=True,
               signed=True),
    MetricInfo("asd", "ASD", "mm", False, 2, SURFACE, surface.asd, score_column="asd_score", leaderboard=True,
               gain=True, finer_gain=True, distribution=True, context=True),
    MetricInfo("rmsd", "RMSD", "mm", False, 2, SURFACE, surface.rmsd, score_column="rmsd_score", leaderboard=True),
    MetricInfo("maxd", "MaxD", "mm", False, 2, SURFACE, surface.maxd, score_column="maxd_score", leaderboard=True,
               gain=True),
    MetricInfo("dice", "Dice", "", True, 3, OVERLAP, overlap.dice, leaderboard=True,
               gain=True, finer_gain=True, distribution=True, context=True),
    MetricInfo("jaccard", "Jaccard", "", True, 3, OVERLAP, overlap.jaccard),
    MetricInfo("hd95", "HD95", "mm", False, 2, SURFACE, surface.hd95),
    MetricInfo("nsd", "Surface Dice", "", True, 3, SURFACE, surface.nsd, identical=1.0, missing=0.0),
)
SCORE = "score"  # the case's SLiver07 score: mean of the five unrounded metric scores
SCORE_FORMAT = ".1f"  # every SLiver07 score, per measure and per case


def metric(column: str) -> MetricInfo:
    """The declaration of a metric column (KeyError for anything else)."""
    for info in METRICS:
        if info.column == column:
            return info
    raise KeyError(column)


def scored() -> tuple[MetricInfo, ...]:
    """The SLiver07 measures (those with a score column), in declaration order."""
    return tuple(m for m in METRICS if m.score_column)


def metric_columns() -> tuple[str, ...]:
    """Every column `evaluate` returns: the measures, their scores, the case score."""
    return tuple(m.column for m in METRICS) + tuple(m.score_column for m in scored()) + (SCORE,)


def family(column: str) -> str:
    """OVERLAP, SURFACE or SCORE_FAMILY for any column of `metric_columns()`."""
    if column == SCORE or column in {m.score_column for m in scored()}:
        return SCORE_FAMILY
    return metric(column).family

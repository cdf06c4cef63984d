"""The columns of a result row: one row per case x method x post-processor x fold x seed.

The result store writes these columns (Parquet); reports read them. Each metric is declared
once here (label, unit, format, direction, its SLiver07 score, whether the leaderboard shows
it): the store, the report and tuning read these declarations and never name a metric, so a
new metric is its declaration here plus its computation in liverbench.metrics.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    column: str
    label: str
    unit: str  # "" for a ratio
    higher_is_better: bool
    decimals: int  # how many the report shows
    score_column: str | None = None  # its SLiver07 score column, if it has one
    leaderboard: bool = False  # a column of the leaderboard, the box plots and `liverbench eval`
    signed: bool = False  # its magnitude is what counts: scored and tuned as |value|

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
    MetricInfo("voe", "VOE", "%", False, 2, "voe_score", leaderboard=True),
    MetricInfo("rvd", "RVD", "%", False, 2, "rvd_score", leaderboard=True, signed=True),
    MetricInfo("asd", "ASD", "mm", False, 2, "asd_score", leaderboard=True),
    MetricInfo("rmsd", "RMSD", "mm", False, 2, "rmsd_score", leaderboard=True),
    MetricInfo("maxd", "MaxD", "mm", False, 2, "maxd_score", leaderboard=True),
    MetricInfo("dice", "Dice", "", True, 3, leaderboard=True),
    MetricInfo("jaccard", "Jaccard", "", True, 3),
    MetricInfo("hd95", "HD95", "mm", False, 2),
    MetricInfo("nsd", "Surface Dice", "", True, 3),
)
SCORE = "score"  # the case's SLiver07 score: mean of the five unrounded metric scores
SCORE_FORMAT = ".1f"  # every SLiver07 score, per measure and per case


def metric(column: str) -> MetricInfo:
    """The declaration of a metric column (KeyError for anything else)."""
    for info in METRICS:
        if info.column == column:
            return info
    raise KeyError(column)


KEY_COLUMNS = (
    "row_key",  # content hash of everything below that identifies the row
    "fit_key",  # content hash of the trained model (dataset, split, fold, method+params, seed)
    "run",
    "dataset",
    "case_id",
    "method",
    "method_version",
    "method_params",  # canonical JSON
    "postprocessor",
    "pp_version",
    "pp_params",  # canonical JSON
    "fold",
    "seed",
)
# Seconds per stage for this row; t_fit is the fit time of the model that made it.
TIMING_COLUMNS = ("t_read", "t_preprocess", "t_predict", "t_refine", "t_metrics", "t_fit")
ENV_COLUMNS = ("cold", "device", "gpu_name", "host", "peak_rss_mb", "peak_gpu_mb")
STATUS_COLUMNS = ("status", "error", "note")  # status: "ok" | "failed"; note: e.g. empty-mask convention


def __getattr__(name: str):
    """SLIVER07, METRIC_COLUMNS and ALL_COLUMNS, derived from METRICS on each access so they
    never disagree with it (a test may add a declaration)."""
    sliver07 = tuple(m for m in METRICS if m.score_column)
    metric_columns = tuple(m.column for m in METRICS) + tuple(m.score_column for m in sliver07) + (SCORE,)
    derived = {
        "SLIVER07": sliver07,  # the scored measures
        "METRIC_COLUMNS": metric_columns,
        "ALL_COLUMNS": KEY_COLUMNS + metric_columns + TIMING_COLUMNS + ENV_COLUMNS + STATUS_COLUMNS,
    }
    if name not in derived:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return derived[name]

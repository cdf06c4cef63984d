"""The columns of a result row: one row per case x method x post-processor x fold x seed.

The result store writes these columns (Parquet); reports read them. Metric columns are
described once here (unit, direction) so tables and rankings never hard-code them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    column: str
    label: str
    unit: str
    higher_is_better: bool
    score_column: str | None = None  # its SLiver07 score column, if it has one


# The five SLiver07 measures, in the challenge's table order, then the extras.
METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("voe", "VOE", "%", False, "voe_score"),
    MetricInfo("rvd", "RVD", "%", False, "rvd_score"),  # signed; |RVD| is what is scored
    MetricInfo("asd", "ASD", "mm", False, "asd_score"),
    MetricInfo("rmsd", "RMSD", "mm", False, "rmsd_score"),
    MetricInfo("maxd", "MaxD", "mm", False, "maxd_score"),
    MetricInfo("dice", "Dice", "", True),
    MetricInfo("jaccard", "Jaccard", "", True),
    MetricInfo("hd95", "HD95", "mm", False),
    MetricInfo("nsd", "Surface Dice", "", True),
)
SLIVER07 = METRICS[:5]
SCORE = "score"  # the case's SLiver07 score: mean of the five unrounded metric scores

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

METRIC_COLUMNS = tuple(m.column for m in METRICS) + tuple(m.score_column for m in SLIVER07) + (SCORE,)
ALL_COLUMNS = KEY_COLUMNS + METRIC_COLUMNS + TIMING_COLUMNS + ENV_COLUMNS + STATUS_COLUMNS

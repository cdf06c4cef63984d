"""The columns of a result row: one row per case x method x post-processor x fold x seed.

The result store writes these columns (Parquet); reports read them. Each metric is declared
once, in `liverbench.metrics.declarations` (label, unit, format, direction, family, its
function, its values where a surface is missing, its SLiver07 score, where the report shows
it), and read here as `METRICS`: the store, the report and tuning read these declarations and
never name a metric, so a new metric is its declaration plus its function.
"""

from __future__ import annotations

from liverbench.metrics import declarations
from liverbench.metrics.declarations import SCORE, SCORE_FORMAT, MetricInfo, metric

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
    """METRICS, SLIVER07, METRIC_COLUMNS and ALL_COLUMNS, read from the declarations on each
    access so they never disagree with them (a test may add a declaration)."""
    metric_columns = declarations.metric_columns()
    derived = {
        "METRICS": declarations.METRICS,
        "SLIVER07": declarations.scored(),  # the scored measures
        "METRIC_COLUMNS": metric_columns,
        "ALL_COLUMNS": KEY_COLUMNS + metric_columns + TIMING_COLUMNS + ENV_COLUMNS + STATUS_COLUMNS,
    }
    if name not in derived:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return derived[name]

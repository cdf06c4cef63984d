"""Result rows: the key columns known before the work, what a prediction reports, the result
of scoring one row, and the row of a unit that failed.

Built in the driver (from the plan) and in workers (a case that cannot be read still gives
its rows), so both sides share this module and nothing else.
"""

from __future__ import annotations

import math
import socket
from dataclasses import dataclass
from typing import Any

from liverbench.hashing import canonical_json

# What a prediction's info carries into its rows (timing and where it ran).
PREDICT_COLUMNS = ("t_read", "t_preprocess", "t_predict", "cold", "device", "host", "gpu_name", "peak_gpu_mb")


@dataclass
class PredictInfo:
    """What predicting one case reported: its timings, where it ran, and the error if it failed."""

    case_id: str
    cold: bool  # the first case this loaded model predicted
    device: str  # what it really computed on
    host: str
    t_read: float = math.nan
    t_preprocess: float = math.nan
    t_predict: float = math.nan
    gpu_name: str = ""
    peak_gpu_mb: float | None = None
    peak_rss_mb: float | None = None
    error: str = ""  # empty when the case was read and predicted
    stage: str = "predict"  # where it was when it failed: "read" or "predict"

    def columns(self) -> dict[str, Any]:
        """Its values for the row columns PREDICT_COLUMNS."""
        return {k: getattr(self, k) for k in PREDICT_COLUMNS}



@dataclass
class RowResult:
    """One scored (or failed) row, and the refined mask beside it (not a column)."""

    row: dict[str, Any]  # the stored columns (liverbench.schema.ALL_COLUMNS)
    mask: bytes | None = None  # the refined mask as .nii.gz bytes, where the run saves predictions

    @property
    def ok(self) -> bool:
        return self.row.get("status") == "ok"


def row_header(job, row, run: str, dataset: str, pp_params: dict[str, Any], t_fit: float | None) -> dict[str, Any]:
    """The key columns of a row of `job` (a plan.FitJob) and `row` (a plan.RowJob)."""
    return {"row_key": row.row_key, "fit_key": row.fit_key, "run": run, "dataset": dataset,
            "case_id": row.case_id, "method": job.method, "method_version": job.method_version,
            "method_params": canonical_json(job.method_params), "postprocessor": row.postprocessor,
            "pp_version": row.pp_version, "pp_params": canonical_json(pp_params), "fold": row.fold,
            "seed": row.seed, "t_fit": t_fit}


def failed_row(header: dict[str, Any], error: str, info: PredictInfo | None = None) -> RowResult:
    """A failed row: the key columns, what the prediction reported (if it got that far), the error."""
    row = dict(header)
    if info is not None:
        row.update(info.columns(), peak_rss_mb=info.peak_rss_mb)
    row.setdefault("host", socket.gethostname())
    row.update(status="failed", error=error, note="")
    return RowResult(row)

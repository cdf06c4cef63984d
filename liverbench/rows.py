"""Result rows: the key columns known before the work, and the row of a unit that failed.

Built in the driver (from the plan) and in workers (a case that cannot be read still gives
its rows), so both sides share this module and nothing else.
"""

from __future__ import annotations

import socket
from typing import Any

from liverbench.hashing import canonical_json

# What a prediction's info carries into its rows (timing and where it ran).
PREDICT_COLUMNS = ("t_read", "t_preprocess", "t_predict", "cold", "device", "host", "gpu_name", "peak_gpu_mb")


def row_header(job, row, run: str, dataset: str, pp_params: dict[str, Any], t_fit: float | None) -> dict[str, Any]:
    """The key columns of a row of `job` (a plan.FitJob) and `row` (a plan.RowJob)."""
    return {"row_key": row.row_key, "fit_key": row.fit_key, "run": run, "dataset": dataset,
            "case_id": row.case_id, "method": job.method, "method_version": job.method_version,
            "method_params": canonical_json(job.method_params), "postprocessor": row.postprocessor,
            "pp_version": row.pp_version, "pp_params": canonical_json(pp_params), "fold": row.fold,
            "seed": row.seed, "t_fit": t_fit}


def failed_row(header: dict[str, Any], error: str, info: dict[str, Any] | None = None) -> dict[str, Any]:
    row = dict(header)
    for k in (*PREDICT_COLUMNS, "peak_rss_mb"):
        if info and k in info:
            row[k] = info[k]
    row.setdefault("host", socket.gethostname())
    row.update(status="failed", error=error, note="")
    return row

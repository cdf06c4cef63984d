"""What a report reads from a run directory: rows, resolved config, learning curves, masks.

Everything goes through `liverbench.store.ResultStore` (the one reader of the store layout);
this module only adds the report's view on top: which rows succeeded, how methods are
labelled, and where a saved prediction lies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liverbench.errors import InputError
from liverbench.schema import ALL_COLUMNS
from liverbench.store import ResultStore

@dataclass
class RunData:
    run_dir: Path
    # Every stored row, plus labels: an *entry* is one line of the leaderboard, a method
    # (name, version, params) followed by a post-processor (name, version, params).
    rows: pd.DataFrame
    config: dict[str, Any]
    manifest: dict[str, Any]
    curves: pd.DataFrame  # fit_key, method, fold, seed, step, split, loss
    store: ResultStore = field(repr=False)

    @property
    def ok(self) -> pd.DataFrame:
        return self.rows[self.rows["status"] == "ok"]

    @property
    def failed(self) -> pd.DataFrame:
        return self.rows[self.rows["status"] != "ok"]

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.run_dir.name)

    def prediction_path(self, row_key: str) -> Path:
        return Path(self.store.prediction_path(row_key))


def load_run(run_dir: str | Path) -> RunData:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"run directory {run_dir} does not exist")
    store = ResultStore(run_dir)
    config = store.config()  # raises, naming the directory, when this is not a run
    rows = _normalise_rows(store.rows(), run_dir)
    return RunData(run_dir, rows, config, store.manifest(), store.curves(), store)


def _normalise_rows(rows: pd.DataFrame, run_dir: Path) -> pd.DataFrame:
    rows = rows.copy()
    for column in ALL_COLUMNS:  # rows written by an older schema lack newer columns
        if column not in rows.columns:
            rows[column] = np.nan
    rows["status"] = rows["status"].fillna("failed").astype(str)
    for column in ("method", "postprocessor", "case_id"):
        if rows[column].isna().any():
            bad = rows.loc[rows[column].isna(), "row_key"].tolist()[:3]
            raise InputError(f"{run_dir}: rows {bad} have no {column!r}")
    for column in ("method_version", "method_params", "pp_version", "pp_params", "error", "note", "device"):
        rows[column] = rows[column].fillna("").astype(str)
    rows["case_id"] = rows["case_id"].astype(str)
    rows["method_label"], rows["pp_label"] = variant_labels(rows)
    rows["entry"] = rows["method_label"] + " + " + rows["pp_label"]
    return rows.reset_index(drop=True)


def _short_params(params_json: str) -> str:
    try:
        params = json.loads(params_json) if params_json else {}
    except json.JSONDecodeError:
        return params_json
    if not isinstance(params, dict):
        return str(params)
    return ", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in sorted(params.items()))


def _variant_names(frame: pd.DataFrame, name: str, version: str, params: str) -> dict[tuple, str]:
    """Label each (name, version, params) by its name, adding params/version only where needed
    to tell two variants of the same name apart."""
    labels: dict[tuple, str] = {}
    variants = frame[[name, version, params]].drop_duplicates()
    for base, group in variants.groupby(name, sort=False):
        keys = [tuple(r) for r in group.itertuples(index=False)]
        if len(keys) == 1:
            labels[keys[0]] = str(base)
            continue
        params_differ = group[params].nunique() > 1
        for key in keys:
            parts = []
            if params_differ:
                parts.append(_short_params(key[2]) or "defaults")
            if group[version].nunique() > 1:
                parts.append(f"v{key[1]}")
            labels[key] = f"{base} ({'; '.join(parts)})"
    return labels


def variant_labels(rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Method and post-processor labels, disambiguated by params/version where a name has several."""
    if rows.empty:
        empty = pd.Series([], dtype=str, index=rows.index)
        return empty, empty.copy()
    methods = _variant_names(rows, "method", "method_version", "method_params")
    pps = _variant_names(rows, "postprocessor", "pp_version", "pp_params")
    m = [methods[tuple(k)] for k in rows[["method", "method_version", "method_params"]].itertuples(index=False)]
    p = [pps[tuple(k)] for k in rows[["postprocessor", "pp_version", "pp_params"]].itertuples(index=False)]
    return pd.Series(m, index=rows.index, dtype=str), pd.Series(p, index=rows.index, dtype=str)

"""What a report reads from a run directory: rows, resolved config, learning curves, masks.

Everything goes through `liverbench.run.store.ResultStore` (the one reader of the store layout);
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

from liverbench import schema
from liverbench.errors import InputError
from liverbench.hashing import canonical_json
from liverbench.run.store import ResultStore

TUNED = "\x00tuned"  # stands in for the parameters of a tuned refinement when labelling (no JSON looks like it)


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
    rows = _normalise_rows(store.rows(), run_dir, config, store)
    return RunData(run_dir, rows, config, store.manifest(), store.curves(), store)


def _normalise_rows(rows: pd.DataFrame, run_dir: Path, config: dict[str, Any] | None = None,
                    store: ResultStore | None = None) -> pd.DataFrame:
    rows = rows.copy()
    for column in schema.ALL_COLUMNS:  # rows written by an older schema lack newer columns
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
    rows["pp_tuned"] = tuned_rows(rows, config or {}, store)
    rows["method_label"], rows["pp_label"] = variant_labels(rows, rows["pp_tuned"])
    rows["entry"] = rows["method_label"] + " + " + rows["pp_label"]
    return rows.reset_index(drop=True)


def tuned_rows(rows: pd.DataFrame, config: dict[str, Any], store: ResultStore | None) -> pd.Series:
    """Which rows used refinement parameters tuned on the training predictions of their model.

    A row's `pp_params` hold the parameters it ran with, tuned or given. A refinement the
    config tunes and never lists with fixed parameters is tuned in every row (failed rows
    included); otherwise a row is tuned when its parameters are the ones stored for its model.
    """
    tuned = pd.Series(False, index=rows.index)
    specs = [pp for pp in config.get("postprocessors") or [] if isinstance(pp, dict) and pp.get("tune")]
    fixed = {pp.get("name") for pp in config.get("postprocessors") or [] if isinstance(pp, dict) and not pp.get("tune")}
    cache: dict[tuple[str, str, str], str | None] = {}
    for spec in specs:
        name, metric = spec.get("name"), spec.get("metric", "score")
        mine = rows["postprocessor"] == name
        if name not in fixed or store is None:
            tuned |= mine
            continue
        for index in rows.index[mine]:
            fit_key = str(rows.at[index, "fit_key"])
            if (fit_key, name, metric) not in cache:
                params = store.tuned_params(fit_key, name, metric)
                cache[(fit_key, name, metric)] = None if params is None else canonical_json(params)
            stored = cache[(fit_key, name, metric)]
            if stored is not None and stored == _canonical(rows.at[index, "pp_params"]):
                tuned.at[index] = True
    return tuned


def _canonical(params_json: str) -> str | None:
    try:
        return canonical_json(json.loads(params_json)) if params_json else canonical_json({})
    except json.JSONDecodeError:
        return None


def params_text(params_json: str, value=None) -> str:
    """`{"mu1": 5.0, "tau": [0.2, 0.2]}` -> `mu1=5.0, tau=[0.2, 0.2]` (keys sorted; `value` formats
    each value, JSON by default with strings bare); unparsable text is returned as it is."""
    try:
        params = json.loads(params_json) if params_json else {}
    except json.JSONDecodeError:
        return params_json
    if not isinstance(params, dict):
        return str(params)
    value = value or (lambda v: v if isinstance(v, str) else json.dumps(v))
    return ", ".join(f"{k}={value(v)}" for k, v in sorted(params.items()))


def _variant_names(frame: pd.DataFrame, name: str, version: str, params: str) -> dict[tuple, str]:
    """Label each (name, version, params) by its name, adding params/version only where needed
    to tell two variants of the same name apart."""
    labels: dict[tuple, str] = {}
    variants = frame[[name, version, params]].drop_duplicates()
    for base, group in variants.groupby(name, sort=False):
        params_differ = group[params].nunique() > 1
        for key in (tuple(r) for r in group.itertuples(index=False)):
            parts = []
            if key[2] == TUNED:  # its parameters differ per model: they go in a table, not the label
                parts.append("tuned")
            elif params_differ:
                parts.append(params_text(key[2]) or "defaults")
            if group[version].nunique() > 1:
                parts.append(f"v{key[1]}")
            labels[key] = f"{base} ({'; '.join(parts)})" if parts else str(base)
    return labels


def variant_labels(rows: pd.DataFrame, tuned: pd.Series | None = None) -> tuple[pd.Series, pd.Series]:
    """Method and post-processor labels, disambiguated by params/version where a name has several;
    a tuned refinement is `name (tuned)` whatever parameters the tuning chose for each model."""
    if rows.empty:
        empty = pd.Series([], dtype=str, index=rows.index)
        return empty, empty.copy()
    pp_rows = rows[["postprocessor", "pp_version", "pp_params"]].copy()
    if tuned is not None:
        pp_rows.loc[tuned.astype(bool), "pp_params"] = TUNED
    methods = _variant_names(rows, "method", "method_version", "method_params")
    pps = _variant_names(pp_rows, "postprocessor", "pp_version", "pp_params")
    m = [methods[tuple(k)] for k in rows[["method", "method_version", "method_params"]].itertuples(index=False)]
    p = [pps[tuple(k)] for k in pp_rows.itertuples(index=False)]
    return pd.Series(m, index=rows.index, dtype=str), pd.Series(p, index=rows.index, dtype=str)

"""Result store: atomic parts, dedup by row_key, temp files ignored, fits, curves."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from liverbench.errors import StoreError
from liverbench.run.store import ResultStore, atomic_write_text, rows_frame
from liverbench.schema import ALL_COLUMNS


def row(key, status="ok", score=80.0, **kw):
    r = {"row_key": key, "fit_key": "f", "run": "r", "dataset": "d", "case_id": key, "method": "m",
         "method_version": "1", "method_params": "{}", "postprocessor": "threshold", "pp_version": "1",
         "pp_params": "{}", "fold": 0, "seed": 0, "score": score, "voe": 5.0, "t_predict": 0.1, "cold": False,
         "status": status, "error": "" if status == "ok" else "boom", "note": ""}
    r.update(kw)
    return r


def test_rows_have_schema_columns_and_dtypes():
    df = rows_frame([row("a"), row("b", status="failed", score=None)])
    assert tuple(df.columns) == ALL_COLUMNS
    assert df["score"].dtype == np.float64 and np.isnan(df.loc[1, "score"])
    assert df["fold"].dtype == np.int64 and df["cold"].dtype == bool


def test_flush_append_and_dedup(tmp_path):
    s = ResultStore(tmp_path)
    assert s.rows().empty and s.flush() is None
    s.append(row("a", status="failed"))
    s.append(row("b"))
    s.flush()
    s.append(row("a", score=90.0))  # a retried row supersedes the failed one
    s.flush()
    df = ResultStore(tmp_path).rows()
    assert sorted(df["row_key"]) == ["a", "b"]
    assert df.set_index("row_key").loc["a", "status"] == "ok"
    assert df.set_index("row_key").loc["a", "score"] == 90.0
    assert len(s.rows(include_superseded=True)) == 3
    assert s.row_status() == {"a": "ok", "b": "ok"}


def test_partial_temp_files_are_ignored(tmp_path):
    s = ResultStore(tmp_path)
    s.append(row("a"))
    s.flush()
    # what a SIGKILL during a write leaves behind: a half-written temp file
    (tmp_path / "results" / ".tmp-abc.parquet").write_bytes(b"PAR1\x00\x01garbage")
    (tmp_path / "fits").mkdir()
    (tmp_path / "fits" / ".tmp-xyz").mkdir()
    assert list(ResultStore(tmp_path).rows()["row_key"]) == ["a"]
    assert ResultStore(tmp_path).curves().empty


def test_atomic_write_leaves_old_content_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    atomic_write_text(path, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(StoreError, match=r"config\.json: cannot write: disk full; rows already stored are kept"):
        atomic_write_text(path, "new")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # the temp file was removed


def test_fit_roundtrip_and_curves(tmp_path):
    s = ResultStore(tmp_path)
    assert not s.has_fit("k1")
    s.save_fit("k1", {"weights.json": b"[1, 2]", "sub/x.bin": b"\x00"},
               [{"step": 1, "split": "train", "loss": 0.5}, {"step": 1, "split": "val", "loss": 0.7}],
               {"method": "m", "fold": 2, "seed": 1, "t_fit": 3.0})
    assert s.has_fit("k1") and s.fit_info("k1")["t_fit"] == 3.0
    assert s.fit_files("k1") == {"weights.json": b"[1, 2]", "sub/x.bin": b"\x00"}
    c = s.curves()
    assert list(c.columns) == ["fit_key", "method", "fold", "seed", "step", "split", "loss"]
    assert len(c) == 2 and set(c["split"]) == {"train", "val"} and (c["fold"] == 2).all()
    with pytest.raises(ValueError, match="escapes"):
        s.save_fit("k2", {"../evil": b""}, [], {})
    assert not s.has_fit("k2") and not (tmp_path / "fits" / "k2").exists()


def test_json_documents_and_predictions(tmp_path):
    s = ResultStore(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        s.config()
    s.write_config({"name": "x"})
    s.write_manifest({"host": "h"})
    assert s.config() == {"name": "x"} and s.manifest() == {"host": "h"}
    assert s.splits() is None
    p = s.save_prediction("rk", b"data")
    assert p == s.prediction_path("rk") and p.read_bytes() == b"data" and p.name == "rk.nii.gz"
    s.save_tuned("fk", "densecrf", "score", {"w": 3})
    assert s.tuned_params("fk", "densecrf", "score") == {"w": 3}
    assert s.tuned_params("fk", "graphcut", "score") is None

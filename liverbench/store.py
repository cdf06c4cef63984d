"""The result store: one directory per run, written only by the driver, always atomically.

Layout of `runs/<name>/`::

    config.json               resolved run config
    manifest.json             environment: versions, git commit, host, CPUs, GPUs, plugin distributions
    splits.json               {"spec": ..., "folds": [{"fold", "train", "val", "test"}, ...]}
    fits/<fit_key>/           the model's save() output + curves.json + fit.json
    results/part-*.parquet    result rows (columns of liverbench.schema.ALL_COLUMNS)
    predictions/<row_key>.nii.gz   optional uint8 masks on the case grid

Every file appears by `os.replace` of a finished temp file (a fit directory by renaming a
finished temp directory), so a driver killed with SIGKILL leaves either the old state or the
new one; temp files (`.tmp-*`) are ignored by readers. Rows are appended as new Parquet parts
and never rewritten; readers deduplicate by `row_key`, the latest part winning.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from liverbench.schema import ALL_COLUMNS, METRIC_COLUMNS, TIMING_COLUMNS

_FLOAT_COLUMNS = set(METRIC_COLUMNS) | set(TIMING_COLUMNS) | {"peak_rss_mb", "peak_gpu_mb"}
_INT_COLUMNS = {"fold", "seed"}
_BOOL_COLUMNS = {"cold"}
CURVE_COLUMNS = ("fit_key", "method", "fold", "seed", "step", "split", "loss")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def rows_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> a DataFrame with exactly the schema's columns and stable dtypes."""
    df = pd.DataFrame(list(rows))
    for col in ALL_COLUMNS:
        if col not in df.columns:
            df[col] = None
    df = df[list(ALL_COLUMNS)].copy()
    for col in df.columns:
        if col in _FLOAT_COLUMNS:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        elif col in _INT_COLUMNS:
            df[col] = pd.to_numeric(df[col], errors="coerce").fillna(-1).astype("int64")
        elif col in _BOOL_COLUMNS:
            df[col] = df[col].fillna(False).astype(bool)
        else:
            df[col] = df[col].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)).astype(object)
    return df


class ResultStore:
    """Read and write one run directory. Writers: the driver only."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.results_dir = self.run_dir / "results"
        self.fits_dir = self.run_dir / "fits"
        self.predictions_dir = self.run_dir / "predictions"
        self._buffer: list[dict[str, Any]] = []

    # --- small JSON documents --------------------------------------------------------------
    def _read_json(self, name: str) -> Any:
        path = self.run_dir / name
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def _write_json(self, name: str, obj: Any) -> None:
        atomic_write_text(self.run_dir / name, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")

    def config(self) -> dict[str, Any]:
        cfg = self._read_json("config.json")
        if cfg is None:
            raise FileNotFoundError(f"{self.run_dir}: no config.json (not a liverbench run directory?)")
        return cfg

    def manifest(self) -> dict[str, Any]:
        return self._read_json("manifest.json") or {}

    def splits(self) -> dict[str, Any] | None:
        return self._read_json("splits.json")

    def write_config(self, cfg: dict[str, Any]) -> None:
        self._write_json("config.json", cfg)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self._write_json("manifest.json", manifest)

    def write_splits(self, splits: dict[str, Any]) -> None:
        self._write_json("splits.json", splits)

    # --- result rows -----------------------------------------------------------------------
    def _parts(self) -> list[Path]:
        # Part names sort in write order (zero-padded time_ns); .tmp-* files are not parts.
        return sorted(self.results_dir.glob("part-*.parquet"))

    def append(self, row: dict[str, Any]) -> None:
        """Buffer one row; `flush()` makes buffered rows durable."""
        self._buffer.append(row)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def flush(self) -> Path | None:
        if not self._buffer:
            return None
        df = rows_frame(self._buffer)
        self.results_dir.mkdir(parents=True, exist_ok=True)
        import time

        path = self.results_dir / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=self.results_dir)
        os.close(fd)
        try:
            df.to_parquet(tmp, index=False)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise
        self._buffer.clear()
        return path

    def rows(self, include_superseded: bool = False) -> pd.DataFrame:
        """All stored rows, one per row_key (the latest written wins)."""
        frames = [pd.read_parquet(p) for p in self._parts()]
        frames = [f for f in frames if len(f)]
        if not frames:
            return rows_frame([])
        df = pd.concat(frames, ignore_index=True)
        if not include_superseded:
            df = df.drop_duplicates("row_key", keep="last").reset_index(drop=True)
        return df

    def row_status(self) -> dict[str, str]:
        """row_key -> status of its latest stored row."""
        df = self.rows()
        return dict(zip(df["row_key"], df["status"]))

    # --- fits ------------------------------------------------------------------------------
    def fit_dir(self, fit_key: str) -> Path:
        return self.fits_dir / fit_key

    def has_fit(self, fit_key: str) -> bool:
        return (self.fit_dir(fit_key) / "fit.json").is_file()

    def fit_info(self, fit_key: str) -> dict[str, Any]:
        return json.loads((self.fit_dir(fit_key) / "fit.json").read_text(encoding="utf-8"))

    def save_fit(self, fit_key: str, files: dict[str, bytes], curves: list[dict[str, Any]], info: dict[str, Any]) -> Path:
        """Write a trained model's files, then rename the finished directory into place."""
        self.fits_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.fits_dir))
        try:
            for rel, data in files.items():
                target = tmp / rel
                if tmp.resolve() not in target.resolve().parents:
                    raise ValueError(f"fit {fit_key}: file name {rel!r} escapes the fit directory")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            (tmp / "curves.json").write_text(json.dumps(curves, indent=1, default=float), encoding="utf-8")
            (tmp / "fit.json").write_text(json.dumps(info, indent=2, sort_keys=True, default=str), encoding="utf-8")
            final = self.fit_dir(fit_key)
            if final.exists():  # an earlier fit of the same key without fit.json: incomplete
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def fit_files(self, fit_key: str) -> dict[str, bytes]:
        """The model's own files (what `save()` wrote), as bytes, to ship to workers."""
        root = self.fit_dir(fit_key)
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and p.name not in ("curves.json", "fit.json")}

    def curves(self) -> pd.DataFrame:
        out = []
        for d in sorted(self.fits_dir.glob("*")):
            if d.name.startswith(".tmp-") or not (d / "fit.json").is_file():
                continue
            info = json.loads((d / "fit.json").read_text(encoding="utf-8"))
            path = d / "curves.json"
            for c in json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []:
                out.append({"fit_key": d.name, "method": info.get("method"), "fold": info.get("fold"),
                            "seed": info.get("seed"), "step": c.get("step"), "split": c.get("split"),
                            "loss": c.get("loss")})
        return pd.DataFrame(out, columns=list(CURVE_COLUMNS))

    # --- tuned refinement parameters ------------------------------------------------------
    def _tuned_path(self, fit_key: str, pp_name: str, metric: str) -> Path:
        return self.run_dir / "tuning" / fit_key / f"{pp_name}-{metric}.json"

    def tuned_params(self, fit_key: str, pp_name: str, metric: str) -> dict[str, Any] | None:
        path = self._tuned_path(fit_key, pp_name, metric)
        return json.loads(path.read_text(encoding="utf-8"))["params"] if path.is_file() else None

    def save_tuned(self, fit_key: str, pp_name: str, metric: str, params: dict[str, Any]) -> None:
        atomic_write_text(self._tuned_path(fit_key, pp_name, metric),
                          json.dumps({"postprocessor": pp_name, "metric": metric, "params": params}, indent=2))

    # --- predictions -----------------------------------------------------------------------
    def prediction_path(self, row_key: str) -> Path:
        return self.predictions_dir / f"{row_key}.nii.gz"

    def save_prediction(self, row_key: str, data: bytes) -> Path:
        path = self.prediction_path(row_key)
        atomic_write_bytes(path, data)
        return path

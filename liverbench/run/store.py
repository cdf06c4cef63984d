"""The result store: one directory per run, written only by the driver, always atomically.

Layout of `runs/<name>/`::

    config.json               resolved run config
    manifest.json             environment: versions, git commit, host, CPUs, GPUs, plugin distributions
    splits.json               {"spec": ..., "folds": [{"fold", "train", "val", "test"}, ...]}
    fits/<fit_key>/           the model's save() output + curves.json + fit.json
    results/part-*.parquet    result rows (columns of liverbench.schema.ALL_COLUMNS)
    results/journal-*.jsonl   rows finished since the last part was written (one JSON line each)
    predictions/<row_key>.nii.gz   optional uint8 masks on the case grid

Every file appears by `os.replace` of a finished temp file (a fit directory by renaming a
finished temp directory), so a driver killed with SIGKILL leaves either the old state or the
new one; temp files (`.tmp-*`) are ignored by readers. Rows are appended as new Parquet parts
and never rewritten; readers deduplicate by `row_key`, the latest part winning.

Each row is also appended to a journal the moment it is recorded (one JSON line, flushed to the
OS), so a driver killed between two parts loses no finished row; writing a part deletes the
journal it covers. Readers take parts and journals in write order, skip a line cut short by
the kill, and skip (with a warning naming the file) a part that is empty or corrupt: its rows
are simply missing, so a resumed run computes them again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from liverbench import schema
from liverbench.errors import StoreError

_FLOAT_COLUMNS = set(schema.TIMING_COLUMNS) | {"peak_rss_mb", "peak_gpu_mb"}  # and every metric column
_INT_COLUMNS = {"fold", "seed"}
_BOOL_COLUMNS = {"cold"}
CURVE_COLUMNS = ("fit_key", "method", "fold", "seed", "step", "split", "loss")


@contextlib.contextmanager
def writing(path: Path):
    """Turn a failed write under the run folder (disk full, read-only, ...) into a StoreError
    naming the file: what was stored before stays, and the same command resumes from it."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        raise StoreError(f"{path}: cannot write: {reason}; rows already stored are kept "
                         f"(free space or fix the folder's permissions, then run the same command again "
                         f"to resume)") from error


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    with writing(path):
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


def _jsonable(value: Any) -> Any:
    """numpy scalars -> Python (json's `default` hook)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


_WRITE_ORDER = re.compile(r"^(?:part|journal)-(\d+)-")


def _write_order(path: Path) -> tuple[int, str]:
    match = _WRITE_ORDER.match(path.name)
    return (int(match.group(1)) if match else 0, path.name)


def rows_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> a DataFrame with exactly the schema's columns and stable dtypes."""
    df = pd.DataFrame(list(rows))
    columns = schema.ALL_COLUMNS  # read per call: the metrics declared now
    for col in columns:
        if col not in df.columns:
            df[col] = None
    df = df[list(columns)].copy()
    floats = _FLOAT_COLUMNS | set(schema.METRIC_COLUMNS)
    for col in df.columns:
        if col in floats:
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
        self._journal: Any = None  # open file object of this writer's journal, if any
        self._journal_path: Path | None = None

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

    def _sources(self) -> list[Path]:
        """Parts and journals, in write order."""
        return sorted([*self._parts(), *self.results_dir.glob("journal-*.jsonl")], key=_write_order)

    def append(self, row: dict[str, Any]) -> None:
        """Record one finished row: journaled at once (survives a kill of this process), written
        to a Parquet part by `flush()`."""
        with writing(self._journal_path or self.results_dir):
            if self._journal is None:
                self.results_dir.mkdir(parents=True, exist_ok=True)
                self._journal_path = self.results_dir / f"journal-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.jsonl"
                self._journal = open(self._journal_path, "a", encoding="utf-8")
            # a line cut short here (disk full) is skipped by every reader; the row is not counted
            self._journal.write(json.dumps(row, default=_jsonable) + "\n")
            self._journal.flush()  # into the OS: a SIGKILL of this process no longer loses it
        self._buffer.append(row)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def flush(self) -> Path | None:
        if not self._buffer:
            return None
        path = self._write_part()
        self._close_journal(delete=True)  # the part holds its rows now
        return path

    def _write_part(self) -> Path:
        """The buffered rows as a new Parquet part (temp file + fsync + rename)."""
        df = rows_frame(self._buffer)
        path = self.results_dir / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
        with writing(path):
            self.results_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=self.results_dir)
            os.close(fd)
            try:  # a part cut short stays a .tmp- file, removed here: never read as rows
                df.to_parquet(tmp, index=False)
                with open(tmp, "rb") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                _unlink(tmp)
                raise
        self._buffer.clear()
        return path

    def _close_journal(self, delete: bool) -> None:
        if self._journal is not None:
            self._journal.close()
            if delete and self._journal_path is not None:
                _unlink(self._journal_path)
        self._journal, self._journal_path = None, None

    def close(self) -> None:
        """Write what is buffered and close the journal."""
        self.flush()
        self._close_journal(delete=False)

    def _read_source(self, path: Path) -> pd.DataFrame | None:
        """One part or journal as a frame; None (with a warning naming the file) if unreadable."""
        if path.suffix == ".jsonl":
            rows, bad = [], 0
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                warnings.warn(f"{path}: result journal unreadable, skipped ({exc}); its rows will be recomputed",
                              stacklevel=3)
                return None
            for line in text.splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    bad += 1  # the line a kill cut short
                    continue
                if isinstance(rec, dict) and rec.get("row_key"):
                    rows.append(rec)
                else:
                    bad += 1
            if bad:
                warnings.warn(f"{path}: skipped {bad} incomplete journal line(s); those rows will be recomputed",
                              stacklevel=3)
            return rows_frame(rows) if rows else None
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 -- pyarrow raises several types for one cause: a bad file
            reason = (str(exc).splitlines()[0] if str(exc) else type(exc).__name__).replace(f" '{path}'", "")
            warnings.warn(f"{path}: empty or corrupt result part skipped ({reason}); its rows will be recomputed",
                          stacklevel=3)
            return None
        missing = {"row_key", "status"} - set(frame.columns)
        if missing:
            warnings.warn(f"{path}: result part without column(s) {sorted(missing)} skipped; "
                          "its rows will be recomputed", stacklevel=3)
            return None
        return frame

    def tidy(self) -> list[str]:
        """For the writer, at the start of a run (under the run lock): move unreadable parts
        to `results/unreadable/` (so they warn once, not on every read) and fold the journals a
        killed run left into one part. Returns what it did, one line each."""
        done: list[str] = []
        if not self.results_dir.is_dir():
            return done
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for part in self._parts():
                if self._read_source(part) is None:
                    target = self.results_dir / "unreadable" / part.name
                    target.parent.mkdir(exist_ok=True)
                    os.replace(part, target)
                    done.append(f"{part}: empty or corrupt, moved to {target}; its rows are computed again")
            journals = sorted((j for j in self.results_dir.glob("journal-*.jsonl") if j != self._journal_path),
                              key=_write_order)
            frames = [self._read_source(j) for j in journals]
        frames = [f for f in frames if f is not None and len(f)]
        if frames:
            self._buffer.extend(pd.concat(frames, ignore_index=True).to_dict("records"))
            n = len(self._buffer)
            self._write_part()
            done.append(f"{self.results_dir}: {n} row(s) journaled by an interrupted run kept")
        for j in journals:
            _unlink(j)
        if not done:  # nothing moved: let the read warnings (e.g. cut journal lines) through
            for w in caught:
                warnings.warn(w.message, stacklevel=2)
        return done

    def rows(self, include_superseded: bool = False) -> pd.DataFrame:
        """All stored rows, one per row_key (the latest written wins)."""
        if not self.results_dir.is_dir():
            return rows_frame([])
        frames = [self._read_source(p) for p in self._sources()]
        frames = [f for f in frames if f is not None and len(f)]
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
        with writing(self.fit_dir(fit_key)):
            return self._save_fit(fit_key, files, curves, info)

    def _save_fit(self, fit_key: str, files: dict[str, bytes], curves: list[dict[str, Any]],
                  info: dict[str, Any]) -> Path:
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

    def set_aside_fit(self, fit_key: str) -> Path:
        """Move a stored fit that cannot be used to fits/unreadable/ (kept for a look, never
        read again); the next run fits it anew."""
        target = self.fits_dir / "unreadable" / f"{fit_key}-{time.time_ns()}"
        with writing(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.fit_dir(fit_key), target)
        return target

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
            path = d / "curves.json"
            try:
                info = json.loads((d / "fit.json").read_text(encoding="utf-8"))
                curves = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
            except ValueError as exc:  # the next run sets such a fit aside and fits it again
                warnings.warn(f"{d}: unreadable fit record skipped ({type(exc).__name__}: {exc})")
                continue
            for c in curves:
                out.append({"fit_key": d.name, "method": info.get("method"), "fold": info.get("fold"),
                            "seed": info.get("seed"), "step": c.get("step"), "split": c.get("split"),
                            "loss": c.get("loss")})
        return pd.DataFrame(out, columns=list(CURVE_COLUMNS))

    # --- tuned refinement parameters ------------------------------------------------------
    def _tuned_path(self, fit_key: str, pp_name: str, metric: str) -> Path:
        return self.run_dir / "tuning" / fit_key / f"{pp_name}-{metric}.json"

    def tuned_params(self, fit_key: str, pp_name: str, metric: str,
                     cases: list[str] | None = None) -> dict[str, Any] | None:
        """The stored tuning result; with `cases`, only if it was tuned on exactly those."""
        path = self._tuned_path(fit_key, pp_name, metric)
        if not path.is_file():
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
        if cases is not None and record.get("cases") != list(cases):
            return None  # tuned on other cases (or before the file said which): tune again
        return record["params"]

    def save_tuned(self, fit_key: str, pp_name: str, metric: str, params: dict[str, Any],
                   cases: list[str] | None = None) -> None:
        record = {"postprocessor": pp_name, "metric": metric, "params": params}
        if cases is not None:
            record["cases"] = list(cases)
        atomic_write_text(self._tuned_path(fit_key, pp_name, metric), json.dumps(record, indent=2))

    # --- predictions -----------------------------------------------------------------------
    def prediction_path(self, row_key: str) -> Path:
        return self.predictions_dir / f"{row_key}.nii.gz"

    def save_prediction(self, row_key: str, data: bytes) -> Path:
        path = self.prediction_path(row_key)
        atomic_write_bytes(path, data)
        return path

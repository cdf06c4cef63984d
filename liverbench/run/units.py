"""The units of work, shared by every backend: fit one model, predict one case with a loaded
model, refine + score rows, tune a refinement. Local and Ray run exactly these functions, which
is why both give identical metric values for the same plan. A unit's first argument is the
run's `WorkSpec`; a unit never raises: a failing case or method comes back as a failed result.

Workers never see the registry: the driver resolves every plugin class once and ships it in
`WorkSpec` (by value where needed), so in-process registrations work on Ray workers too.
Trained models travel as the bytes of their `save()` directory, so a fit made on one node can
be loaded on any other and the driver alone writes the run directory.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from liverbench.data.volume import Case
from liverbench.devices import gpu_state, reset_gpu_peak, resolve_device
from liverbench.errors import InputError, error_text
from liverbench.hashing import canonical_json
from liverbench.memory import peak_rss_mb
from liverbench.plugins.base import Context, Prediction
from liverbench.run.fit_progress import FileReporter
from liverbench.run.plan import FitJob
from liverbench.run.rows import PredictInfo, RowResult, failed_row
from liverbench.run.workspec import WorkSpec, construct
from liverbench.stopwatch import Stopwatch

_DATASETS: dict[str, Any] = {}  # per process: opening a dataset may scan a folder


def open_dataset(spec: WorkSpec, source: str = "dataset"):
    """The run's [dataset] (or [train_dataset]) opened once per process."""
    table = spec.table(source)
    key = canonical_json({"name": table.name, "params": table.params})
    if key not in _DATASETS:
        _DATASETS[key] = construct(spec.datasets[table.name], table.params, f"{source}.params")
    return _DATASETS[key]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    # Torch only where a plugin already imported it: importing it here would cost every worker of
    # a torch-free method about a second (on the critical path before the first case).
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


class Predicted(NamedTuple):
    """One case predicted by a loaded model: the case and its prediction (None where it failed), and what it reported."""

    case: Case | None
    prediction: Prediction | None
    info: PredictInfo


# (row header, post-processor name, its params): one row for a unit to refine and score
RowOrder = tuple[dict[str, Any], str, dict[str, Any]]


# --- fit -------------------------------------------------------------------------------------


@dataclass
class FitResult:
    """A fit's outcome: the saved model directory as bytes (path -> content), or the error."""

    ok: bool
    t_fit: float
    device: str = "cpu"
    host: str = ""
    error: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    curves: list[dict[str, Any]] = field(default_factory=list)
    gpu_name: str = ""
    peak_gpu_mb: float | None = None
    peak_rss_mb: float | None = None


@dataclass
class TuneResult:
    """A refinement's tuned parameters, or the error."""

    ok: bool
    params: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    n_items: int = 0


def run_fit(spec: WorkSpec, job: FitJob) -> FitResult:
    """Train one model (or just build it, if not trainable); returns its saved files as bytes."""
    t0 = time.perf_counter()
    # The device this worker really computes on, for the record (rows, fit.json, GPU timing):
    # "cuda" only where planned *and* visible (Ray sets CUDA_VISIBLE_DEVICES). The method's
    # Context carries the planned `job.device`: the method decides what to do with a GPU it was
    # promised but cannot see (the built-ins fall back to the CPU with a warning).
    device = resolve_device(job.device)
    try:
        seed_everything(job.seed)
        cls = spec.segmenters[job.method]
        model = cls(**job.method_params)
        with tempfile.TemporaryDirectory(prefix="liverbench-fit-") as tmp:
            work = fit_workdir(spec, job.fit_key)
            # ctx.progress writes to the work directory; the driver's watcher shows it on the bar
            ctx = Context(device=job.device, seed=job.seed, workdir=work, stopwatch=Stopwatch(),
                          progress=FileReporter(work))
            curves: list[dict[str, Any]] = []
            if job.trainable:
                # a loo/kfold fold with a [train_dataset] trains on scored-dataset cases too
                sources = {job.train_source} | {source for source, _ in job.training_cases()}
                datasets = {source: open_dataset(spec, source) for source in sources}
                train = [_load_case(datasets[source], cid, need_mask=True) for source, cid in job.training_cases()]
                val = [_load_case(datasets[job.train_source], cid, need_mask=True) for cid in job.val]
                reset_gpu_peak(device)
                model.fit(train, val, ctx)
                curves = [dict(c) for c in model.learning_curves()]
            out = Path(tmp) / "model"
            out.mkdir()
            model.save(out)
            files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        gpu_name, gpu_mb = gpu_state(device)
        return FitResult(ok=True, files=files, curves=curves, t_fit=time.perf_counter() - t0, device=device,
                         gpu_name=gpu_name, peak_gpu_mb=gpu_mb, peak_rss_mb=peak_rss_mb(), host=socket.gethostname())
    except Exception as exc:  # noqa: BLE001 -- a failing method becomes failed rows, the run goes on
        return FitResult(ok=False, t_fit=time.perf_counter() - t0, device=device, host=socket.gethostname(),
                         error=f"fit of {job.method} (fold {job.fold}, seed {job.seed}) failed: {error_text(exc)}")


def fit_workdir(spec: WorkSpec, fit_key: str) -> Path:
    """Where a fit keeps its checkpoints: `<run>/fits/<fit_key>/work`, so a fit killed with its
    driver resumes when the run is started again (the store replaces the whole folder with the
    finished model). A worker that cannot write there (another node without the run folder)
    uses a folder in its temp dir named by the key: a retry on that node still resumes."""
    if spec.run_dir:
        work = Path(spec.run_dir) / "fits" / fit_key / "work"
        try:
            work.mkdir(parents=True, exist_ok=True)
            if os.access(work, os.W_OK):
                return work
        except OSError:
            pass
    work = Path(tempfile.gettempdir()) / f"liverbench-fit-{fit_key}"
    work.mkdir(parents=True, exist_ok=True)
    return work


def _load_case(ds, case_id: str, need_mask: bool) -> Case:
    case = ds.load(case_id)
    if not isinstance(case, Case):
        raise InputError(f"case {case_id!r}: the dataset returned {type(case).__name__}, not a Case")
    if need_mask and case.mask is None:
        raise InputError(f"case {case_id!r}: has no reference liver mask (needed for training and scoring)")
    return case


# --- predict ---------------------------------------------------------------------------------


def load_model(cls: type, directory: Path, stored_in: Path | None = None):
    """`cls.load(directory)`; any failure is an InputError naming the folder and its files
    (`stored_in`: the folder to name instead, where `directory` is a worker's temporary copy).
    PyTorch's advice to retry with `weights_only=False` is left out on purpose: a file that
    only loads that way can run arbitrary code."""
    directory = Path(directory)
    try:
        return cls.load(directory)
    except Exception as exc:  # noqa: BLE001 -- a bad or hostile file raises anything
        files = sorted(p.name for p in directory.iterdir())[:6] if directory.is_dir() else []
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        unpickler = [ln for ln in lines if "WeightsUnpickler error" in ln]
        reason = unpickler[0] if unpickler else next((ln for ln in lines if "weights_only" not in ln), "")
        reason = " ".join(s for s in reason.split(". ") if "weights_only" not in s)
        remedy = ""
        if stored_in is not None:
            reason = reason.replace(str(directory), str(stored_in))
            remedy = f"; delete {stored_in} and run again with --retry-failed to fit it anew"
        raise InputError(f"{stored_in or directory} ({', '.join(files) or 'empty'}): cannot load a saved {cls.name} "
                         f"model: {type(exc).__name__}: {reason[:400]}{remedy}") from None


class Predictor:
    """One trained model, loaded once, predicting cases it reads itself (a Ray actor's body)."""

    def __init__(self, job: FitJob, files: dict[str, bytes], spec: WorkSpec) -> None:
        self.job, self.spec = job, spec
        self.device = resolve_device(job.device)  # what it computes on, for the record (see run_fit)
        self.error = ""
        self.model = None
        self._tmp = tempfile.TemporaryDirectory(prefix="liverbench-model-")
        self.t_load = 0.0
        try:
            t0 = time.perf_counter()
            root = Path(self._tmp.name)
            for rel, data in files.items():
                target = root / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            seed_everything(job.seed)
            self.model = load_model(spec.segmenters[job.method], root, Path(spec.run_dir) / "fits" / job.fit_key)
            self.t_load = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 -- reported on every case it would have predicted
            self.error = (f"loading {job.method} (fold {job.fold}, seed {job.seed}, saved in fits/{job.fit_key}) "
                          f"failed: {error_text(exc)}")
        self.cold = True

    def predict(self, case_id: str, source: str = "dataset") -> Predicted:
        """Read `case_id` (from the scored dataset, or the training one for tuning), predict it.
        Never raises: a failure comes back as a Predicted without case and prediction."""
        info = PredictInfo(case_id=case_id, cold=self.cold, device=self.device, host=socket.gethostname())
        self.cold = False
        if self.model is None:
            info.error, info.peak_rss_mb = self.error, peak_rss_mb()
            return Predicted(None, None, info)
        try:
            t0 = time.perf_counter()
            info.stage = "read"
            ds = open_dataset(self.spec, source)
            case = _load_case(ds, case_id, need_mask=True)
            from liverbench.data.validate import finite_image

            finite_image(case.image.array, f"case {case_id!r} image")
            info.t_read = time.perf_counter() - t0
            info.stage = "predict"
            sw = Stopwatch(sync_cuda=self.device.startswith("cuda"))
            ctx = Context(device=self.job.device, seed=self.job.seed, stopwatch=sw, case_id=case_id)
            reset_gpu_peak(self.device)
            seed_everything(self.job.seed)
            t1 = time.perf_counter()
            with sw.stage("__predict_total"):
                pred = self.model.predict(case.image, ctx)
            total = time.perf_counter() - t1
            # A segmenter may time its own resampling / normalisation as "preprocess".
            info.t_preprocess = float(sw.totals.get("preprocess", 0.0))
            info.t_predict = max(0.0, total - info.t_preprocess)
            pred = check_prediction(pred, case, self.job.method)
            info.gpu_name, info.peak_gpu_mb = gpu_state(self.device)
            info.peak_rss_mb = peak_rss_mb()
            return Predicted(case, pred, info)
        except Exception as exc:  # noqa: BLE001
            where = "reading" if info.stage == "read" else f"{self.job.method} predicting"
            info.error = f"case {case_id!r}: {where} failed: {error_text(exc)}"
            info.peak_rss_mb = peak_rss_mb()
            return Predicted(None, None, info)

    def predict_and_score(self, case_id: str, rows: list[RowOrder]) -> list[RowResult]:
        """Predict `case_id` once, then refine + score each (header, pp_name, pp_params) row in
        this process: the case and its prediction never leave it. Never raises."""
        return refine_rows(self.spec, self.predict(case_id), rows)


def check_prediction(pred: Any, case: Case, method: str) -> Prediction:
    where = f"{method} on case {case.id!r}"
    if isinstance(pred, np.ndarray):  # tolerated: a bare probability map
        pred = Prediction(prob=pred)
    if not isinstance(pred, Prediction):
        raise TypeError(f"{where}: predict() returned {type(pred).__name__}, not a Prediction")
    prob = np.asarray(pred.prob)
    if prob.shape != case.image.shape:
        raise ValueError(f"{where}: probability map shape {prob.shape} differs from the image grid {case.image.shape}")
    if prob.dtype.kind not in "biuf":
        raise ValueError(f"{where}: probability map has dtype {prob.dtype}")
    prob = prob.astype(np.float32, copy=False)
    if not np.isfinite(prob).all() or prob.size and (prob.min() < 0 or prob.max() > 1):
        raise ValueError(f"{where}: probabilities must be finite and within [0, 1]")
    for k, v in pred.extras.items():
        if np.asarray(v).shape != case.image.shape:
            raise ValueError(f"{where}: extra map {k!r} shape {np.asarray(v).shape} differs from the image grid")
    return Prediction(prob=prob, extras=dict(pred.extras))


# --- refine + score --------------------------------------------------------------------------


def refine_rows(spec: WorkSpec, predicted: Predicted, rows: list[RowOrder]) -> list[RowResult]:
    """Refine + score one prediction (`Predictor.predict`'s result) for each (header,
    post-processor name, its params) row."""
    return [refine_and_score(predicted, header, pp, params, spec) for header, pp, params in rows]


def refine_and_score(predicted: Predicted, header: dict[str, Any], pp_name: str, pp_params: dict[str, Any],
                     spec: WorkSpec) -> RowResult:
    """Refine one prediction with one post-processor and score it against the reference; the
    refined mask comes back beside the row where the run saves predictions."""
    case, pred, info = predicted
    if case is None or pred is None:
        return failed_row(header, info.error or "prediction missing", info)
    row = dict(header) | info.columns()
    from liverbench.data.validate import binary_mask
    from liverbench.metrics import evaluate

    stage = "refine"
    saved = None
    try:
        sw = Stopwatch(sync_cuda=False)
        ctx = Context(device="cpu", seed=header["seed"], stopwatch=sw, case_id=case.id)
        pp = spec.postprocessors[pp_name](**pp_params)
        t0 = time.perf_counter()
        mask = pp(case.image, pred, ctx)
        row["t_refine"] = time.perf_counter() - t0
        mask = np.asarray(mask)
        if mask.shape != case.image.shape:
            raise ValueError(f"{pp_name} returned a mask of shape {mask.shape}, not the image grid {case.image.shape}")
        mask = binary_mask(mask, f"{pp_name} output on case {case.id!r}")
        stage = "metrics"
        ref = binary_mask(case.mask.array, f"case {case.id!r} reference mask")
        t0 = time.perf_counter()
        m = evaluate(mask, ref, case.mask.spacing, convention=spec.metrics.convention,
                     nsd_tolerance_mm=spec.metrics.nsd_tolerance_mm, refs=spec.metrics.refs)
        row["t_metrics"] = time.perf_counter() - t0
        note = m.pop("note", "") or ""
        row.update({k: float(v) for k, v in m.items()})
        row.update(status="ok", error="", note=note)
        if spec.save_predictions:
            saved = encode_mask(case, mask)
    except Exception as exc:  # noqa: BLE001
        what = f"{pp_name} refining" if stage == "refine" else "scoring"
        row.update(status="failed", error=f"case {case.id!r}: {what} failed: {error_text(exc)}", note="")
        saved = None
    row["peak_rss_mb"] = max(float(info.peak_rss_mb or 0.0), peak_rss_mb())
    return RowResult(row, saved)


def encode_mask(case: Case, mask: np.ndarray) -> bytes:
    """The refined mask as .nii.gz bytes on the case grid (small: a compressed binary mask)."""
    from liverbench.data.io import write_volume

    with tempfile.TemporaryDirectory(prefix="liverbench-pred-") as tmp:
        path = Path(tmp) / "pred.nii.gz"
        write_volume(case.image.with_array(mask.astype(np.uint8)), path)
        return path.read_bytes()


# --- tuning ----------------------------------------------------------------------------------


def tune(spec: WorkSpec, pp_name: str, metric: str, *predictions: Predicted) -> TuneResult:
    """Grid-search a refinement on training-set predictions (`Predictor.predict` results;
    liverbench.run.tuning)."""
    from liverbench.run.tuning import tune_refinement

    items = []
    for case, pred, info in predictions:
        if case is None:
            return TuneResult(ok=False, error=f"tuning {pp_name}: {info.error}", n_items=len(predictions))
        items.append((case, pred))
    try:
        # the class itself, not its name: workers have no registry (in-process plugins too)
        best, table = tune_refinement(spec.postprocessors[pp_name], items, metric=metric,
                                      convention=spec.metrics.convention)
        return TuneResult(ok=True, params=dict(best), n_items=len(items))
    except Exception as exc:  # noqa: BLE001
        return TuneResult(ok=False, error=f"tuning {pp_name} failed: {error_text(exc)}", n_items=len(items))

"""The flow of one run's work, composed once above every backend.

Per model: fit -> (tune refinements on training-set predictions) -> cases; models proceed
independently, so one model's cases are scored while another still trains -- except that while
unfinished fits alone fill the cluster's CPUs, the finished models' work waits: fits are the
longest units (the run's critical path), and Ray does not start tasks in submission order, so a
late fit could otherwise queue behind scoring work. At most `execution.max_in_flight` cases are
submitted at a time.

The backend offers primitives only (`liverbench.backends.base`): submit a unit, open a model session,
wait. Every unit handed to it is registered with the method that takes its result, so there
are no ticket kinds to dispatch on. A unit the backend lost (a worker killed past its retries)
becomes a failed fit, tuning or row with the backend's error; the run goes on.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable

from liverbench.backends.base import Backend, Future, ModelSession
from liverbench.errors import StoreError
from liverbench.plugins.base import Resources
from liverbench.run import units
from liverbench.run.fit_progress import Watcher
from liverbench.run.plan import FitJob, Plan, RowJob
from liverbench.run.progress import Progress
from liverbench.run.rows import RowResult, failed_row, row_header
from liverbench.run.store import ResultStore
from liverbench.run.units import RowOrder
from liverbench.run.workspec import WorkSpec

# A tuning unit scores parameter points on predictions it is handed: one CPU. Tuning and
# refinement units reserve no memory: the prediction actors already hold the models' memory
# reservations, and on a small machine a reservation here could wait for them forever (the
# actors live until their model's work, which includes this unit, is done).
TUNE_RESOURCES = Resources(num_cpus=1.0, memory_gb=0.0)


def refine_resources(pp_cls: type) -> Resources:
    """A refinement's CPUs: a CRF or graph cut never holds a GPU, nor reserves memory (see TUNE_RESOURCES)."""
    return replace(pp_cls.resources, num_gpus=0.0, memory_gb=0.0)


@dataclass
class _CaseUnit:
    """One case of one model in flight: done when all of its futures are."""

    job: FitJob
    open_futures: int


def tuning_cases(job: FitJob) -> list[str]:
    """The cases a model is tuned on, as the store records them ("source:case_id"): all it trained on."""
    return [f"{source}:{cid}" for source, cid in job.training_cases()]


def _fit_name(job: FitJob) -> str:
    """How the progress bar names a fit: 'dsn3d fold 0 seed 0'."""
    return f"{job.method} fold {job.fold} seed {job.seed}"


class Scheduler:
    """Computes `todo` (rows of `plan`) on `backend`, recording each row in `store` as it comes."""

    def __init__(self, spec: WorkSpec, store: ResultStore, plan: Plan, backend: Backend, *,
                 max_in_flight: int, flush_every: int, progress: Progress) -> None:
        self.spec, self.store, self.plan, self.backend = spec, store, plan, backend
        self.max_in_flight, self.flush_every, self.progress = max_in_flight, flush_every, progress
        self.rows_by_fit: dict[str, list[RowJob]] = defaultdict(list)
        self.fit_info: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, bytes]] = {}
        self.sessions: dict[str, ModelSession] = {}
        self.pending: dict[Future, Callable[[Future], None]] = {}
        self.fit_cpus: dict[Future, float] = {}  # CPUs of the fits not finished yet
        self.deferred: deque[FitJob] = deque()  # models whose work waits for the fits
        self.ready_cases: deque[tuple[FitJob, str, list[RowJob]]] = deque()
        self.open_units: dict[str, int] = defaultdict(int)  # fit_key -> tunings / cases queued or in flight
        self.in_flight = 0  # cases submitted, not finished
        self.tune_errors: dict[tuple[str, str, str], str] = {}
        self.computed = 0
        self.failures: list[dict[str, Any]] = []
        self._since_flush = 0
        self.watcher = Watcher(progress)  # what running fits report through ctx.progress

    # --- the loop ----------------------------------------------------------------------------
    def run(self, todo: list[RowJob]) -> None:
        for r in todo:
            self.rows_by_fit[r.fit_key].append(r)
        try:
            with self.watcher:
                self._loop()
        except BaseException:
            try:
                self.store.flush()  # what finished before the error (or Ctrl-C) is kept
            except StoreError:
                pass  # the folder cannot be written: the error already under way says so
            raise
        else:
            self.store.flush()
        finally:
            for session in self.sessions.values():
                session.close()
            self.sessions.clear()

    def _loop(self) -> None:
        self._start_fits()
        while self.pending or self.ready_cases or self.deferred:
            while self.deferred and not self._fits_fill_cluster():
                self._model_ready(self.deferred.popleft())
            while self.ready_cases and self.in_flight < self.max_in_flight:
                self._submit_case(*self.ready_cases.popleft())
            if not self.pending:
                continue
            for future in self.backend.wait(list(self.pending)):
                self.fit_cpus.pop(future, None)
                self.pending.pop(future)(future)

    def _fits_fill_cluster(self) -> bool:
        return bool(self.fit_cpus) and sum(self.fit_cpus.values()) >= self.backend.cpu_slots()

    def _expect(self, future: Future, handler: Callable[[Future], None]) -> None:
        self.pending[future] = handler

    # --- fits --------------------------------------------------------------------------------
    def _start_fits(self) -> None:
        """Reuse stored fits; submit the rest (the backend runs them side by side)."""
        for key in self.rows_by_fit:
            job = self.plan.fit(key)
            if self.store.has_fit(key) and self._reuse_fit(key):
                self.deferred.append(job)
            elif not job.trainable:
                # Nothing to train: building and saving the model takes milliseconds here, while
                # a unit would hold a worker (and delay the prediction actors) for its round trip.
                self._fitted(job, Future(value=units.run_fit(self.spec, job)))
            else:
                future = self.backend.submit(units.run_fit, job, resources=job.fit_resources)
                self._expect(future, partial(self._fitted, job))
                self.fit_cpus[future] = job.fit_resources.num_cpus
                self.progress.add_fits(1)
                if self.spec.run_dir:  # where the fit writes its ctx.progress reports (units.fit_workdir)
                    self.watcher.watch(_fit_name(job), Path(self.spec.run_dir) / "fits" / job.fit_key / "work")

    def _reuse_fit(self, key: str) -> bool:
        """Read a stored fit's record and files; an unreadable record (cut short, edited) is
        moved aside with a note, and the model is fitted again."""
        try:
            self.fit_info[key] = self.store.fit_info(key)
            self.files[key] = self.store.fit_files(key)
        except (ValueError, OSError) as exc:  # JSONDecodeError, UnicodeDecodeError
            moved = self.store.set_aside_fit(key)
            self.progress.message(f"note: {self.store.fit_dir(key)}/fit.json unreadable ({type(exc).__name__}: "
                                  f"{exc}); moved to {moved}, fitting it again")
            self.fit_info.pop(key, None)
            return False
        return True

    def _fitted(self, job: FitJob, future: Future) -> None:
        result: units.FitResult = future.value if not future.error else \
            units.FitResult(ok=False, t_fit=math.nan, error=future.error)
        if job.trainable:
            self.watcher.forget(_fit_name(job))
            self.progress.fit_done(_fit_name(job))
        if not result.ok:
            self.fit_info[job.fit_key] = {"t_fit": result.t_fit}
            self.progress.message(result.error.splitlines()[0])
            self._fail_rows(job, self.rows_by_fit[job.fit_key], result.error)
            return
        info = {"method": job.method, "method_version": job.method_version, "params": job.method_params,
                "fold": job.fold, "seed": job.seed, "train": list(job.train), "val": list(job.val),
                "train_from_dataset": list(job.train_from_dataset), "t_fit": result.t_fit,
                "device": result.device, "gpu_name": result.gpu_name, "peak_gpu_mb": result.peak_gpu_mb,
                "peak_rss_mb": result.peak_rss_mb, "host": result.host}
        self.store.save_fit(job.fit_key, result.files, result.curves, info)
        self.fit_info[job.fit_key], self.files[job.fit_key] = info, result.files
        if job.trainable:
            self.progress.message(f"fitted {job.method} fold {job.fold} seed {job.seed} in {result.t_fit:.1f} s")
        self.deferred.append(job)  # started at the loop's top once the fits allow

    # --- tuning ------------------------------------------------------------------------------
    def _model_ready(self, job: FitJob) -> None:
        """The model exists: tune what needs tuning, else queue its cases."""
        self.sessions[job.fit_key] = self.backend.open_session(job, self.files[job.fit_key])
        needed = {(r.postprocessor, r.tune_metric): True for r in self.rows_by_fit[job.fit_key]
                  if r.tune and self._tuned_params(job, r.postprocessor, r.tune_metric) is None}
        if not needed:
            self._queue_cases(job)
            return
        for pp_name, metric in needed:
            # Predict the training cases in the model's session, then tune on those predictions
            # in a unit of its own (as Dou et al. chose their CRF's parameters on training data).
            session = self.sessions[job.fit_key]
            predictions = [session.predict(cid, source) for source, cid in job.training_cases()]
            future = self.backend.submit(units.tune, pp_name, metric, *predictions, resources=TUNE_RESOURCES)
            self._expect(future, partial(self._tuned, job, pp_name, metric))
            self.open_units[job.fit_key] += 1

    def _tuned(self, job: FitJob, pp_name: str, metric: str, future: Future) -> None:
        result: units.TuneResult = future.value if not future.error else units.TuneResult(ok=False, error=future.error)
        if result.ok:
            self.store.save_tuned(job.fit_key, pp_name, metric, result.params, cases=tuning_cases(job))
            self.progress.message(f"tuned {pp_name} for {job.method} fold {job.fold}: {result.params}")
        else:
            self.tune_errors[(job.fit_key, pp_name, metric)] = result.error
            self.progress.message(result.error.splitlines()[0])
        self.open_units[job.fit_key] -= 1
        if self.open_units[job.fit_key] == 0:  # every tuning of this model is done
            self._queue_cases(job)

    def _tuned_params(self, job: FitJob, pp_name: str, metric: str) -> dict[str, Any] | None:
        return self.store.tuned_params(job.fit_key, pp_name, metric, cases=tuning_cases(job))

    # --- cases -------------------------------------------------------------------------------
    def _queue_cases(self, job: FitJob) -> None:
        by_case: dict[str, list[RowJob]] = defaultdict(list)
        for r in self.rows_by_fit[job.fit_key]:
            by_case[r.case_id].append(r)
        for case_id, rows in by_case.items():
            self.ready_cases.append((job, case_id, rows))
            self.open_units[job.fit_key] += 1

    def _submit_case(self, job: FitJob, case_id: str, rows: list[RowJob]) -> None:
        orders: list[RowOrder] = []
        for r in rows:
            params = r.pp_params if not r.tune else self._tuned_params(job, r.postprocessor, r.tune_metric)
            if params is None:  # tuning of this refinement failed
                self._fail_rows(job, [r], self.tune_errors.get((job.fit_key, r.postprocessor, r.tune_metric),
                                                               f"tuning {r.postprocessor} failed"))
            else:
                orders.append((self._header(job, r, params), r.postprocessor, params))
        if not orders:
            self._finish_unit(job.fit_key)
            return
        session = self.sessions[job.fit_key]
        if self.backend.scores_in_session(job):
            groups = [(session.predict_and_score(case_id, orders), orders)]
        else:  # predict once, then one CPU unit per row, handed the prediction by reference
            prediction = session.predict(case_id)
            groups = [(self.backend.submit(units.refine_rows, prediction, [o],
                                           resources=refine_resources(self.spec.postprocessors[o[1]])), [o])
                      for o in orders]
        unit = _CaseUnit(job, open_futures=len(groups))
        for future, group in groups:
            self._expect(future, partial(self._scored, unit, group))
        self.in_flight += 1

    def _scored(self, unit: _CaseUnit, orders: list[RowOrder], future: Future) -> None:
        results = future.value if not future.error else [failed_row(header, future.error) for header, _, _ in orders]
        for result in results:
            self._record(result)
        unit.open_futures -= 1
        if unit.open_futures == 0:
            self.in_flight -= 1
            self._finish_unit(unit.job.fit_key)

    def _finish_unit(self, fit_key: str) -> None:
        self.open_units[fit_key] -= 1
        if self.open_units[fit_key] == 0 and fit_key in self.sessions:  # no more work for this model
            self.sessions.pop(fit_key).close()

    # --- rows --------------------------------------------------------------------------------
    def _header(self, job: FitJob, r: RowJob, pp_params: dict[str, Any]) -> dict[str, Any]:
        return row_header(job, r, self.spec.run, self.spec.dataset.name, pp_params,
                          self.fit_info.get(job.fit_key, {}).get("t_fit"))

    def _fail_rows(self, job: FitJob, rows: list[RowJob], error: str) -> None:
        for r in rows:
            self._record(failed_row(self._header(job, r, r.pp_params), error))

    def _record(self, result: RowResult) -> None:
        row = result.row
        if result.mask is not None and result.ok:
            self.store.save_prediction(row["row_key"], result.mask)
        self.store.append(row)
        self.computed += 1
        self._since_flush += 1
        if not result.ok:
            self.failures.append(row)
        self.progress.update(1, failed=int(not result.ok))
        if self._since_flush >= self.flush_every:
            self.store.flush()
            self._since_flush = 0

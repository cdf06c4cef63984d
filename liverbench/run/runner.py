"""The orchestrator: config -> plan -> backend -> result store. The only writer of a run dir.

    outcome = run(load_config("benchmarks/demo.toml"))

`run` locks the run directory, resolves the config's plugins (`workspec.resolve`), opens the
datasets, makes or reuses the split, plans, starts the configured backend and hands the rows
still to compute to `liverbench.run.scheduler`. Rows already stored with status ok are skipped
(resume); failed ones are re-run with `retry_failed=True`. A failing case, fit or worker
becomes a failed row; the run goes on.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from liverbench.backends.base import Backend
from liverbench.data.splits import load_or_make, make_splits, read_saved
from liverbench.errors import ConfigError
from liverbench.run.config import RunConfig
from liverbench.run.plan import Plan, build_plan
from liverbench.run.progress import Progress
from liverbench.run.scheduler import Scheduler
from liverbench.run.store import ResultStore
from liverbench.run.workspec import WorkSpec, construct, resolve


@dataclass
class RunOutcome:
    run_dir: Path
    plan: Plan
    computed: int = 0  # rows computed in this invocation
    skipped: int = 0  # rows found in the store
    n_ok: int = 0  # over the whole plan, after this invocation
    n_failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.n_failed else 0

    def summary(self) -> str:
        lines = [f"{self.run_dir}: {self.n_ok} ok, {self.n_failed} failed of {len(self.plan.rows)} rows "
                 f"({self.computed} computed now, {self.skipped} already stored)"]
        if self.failures:
            lines.append("failures:")
            grouped: dict[str, list[str]] = defaultdict(list)
            for f in self.failures:
                first = (f.get("error") or "").splitlines()[0] if f.get("error") else "?"
                grouped[first].append(f"{f['method']}/{f['postprocessor']}/{f['case_id']}")
            for err, where in sorted(grouped.items(), key=lambda kv: -len(kv[1])):
                shown = ", ".join(where[:4]) + (f", ... ({len(where)} rows)" if len(where) > 4 else "")
                lines.append(f"  - {err}\n    in {shown}")
        return "\n".join(lines)


def open_datasets(cfg: RunConfig, spec: WorkSpec):
    """(dataset, train dataset or None), with params errors named by their config key."""
    return tuple(None if (table := getattr(cfg, key)) is None else construct(spec.datasets[table.name], table.params,
                                                                                f"{key}.params")
                 for key in ("dataset", "train_dataset"))


def check_runs_dir(cfg: RunConfig) -> None:
    """`runs_dir` and the run folder are folders or can be made (nothing is written here): the
    first part of the path that exists must be a folder."""
    path = cfg.run_dir
    while not path.exists() and not path.is_symlink() and path != path.parent:
        path = path.parent
    if path.exists() and not path.is_dir():
        what = "the run folder" if path == cfg.run_dir else f"{path}"
        raise ConfigError(f"runs_dir: {cfg.runs_dir!r}: {what} is a file, not a folder "
                          f"(the run would be written to {cfg.run_dir})")
    if not path.exists():  # a dangling link or a loop
        raise ConfigError(f"runs_dir: {cfg.runs_dir!r}: {path} is a broken symbolic link")


def check_method_inputs(cfg: RunConfig, spec: WorkSpec, case_ids: list[str]) -> None:
    """Each method's `check_inputs` on the cases it will see (a ParamError names its key)."""
    for i, m in enumerate(cfg.methods):
        ids = [c for c in case_ids if m.cases is None or c in m.cases]
        try:
            spec.segmenters[m.name](**m.params).check_inputs(ids)
        except ParamError as exc:
            raise ConfigError(f"methods[{i}].params.{exc.param}: {exc.problem}") from exc


def prepare(cfg: RunConfig, spec: WorkSpec | None = None, *, write: bool, available_gpus: float | None = None):
    """Datasets, splits and plan; writes config/splits when `write`."""
    check_runs_dir(cfg)
    spec = spec or resolve(cfg)
    ds, train_ds = open_datasets(cfg, spec)
    case_ids = list(ds.case_ids())
    train_ids = list(train_ds.case_ids()) if train_ds is not None else None
    fp, train_fp = ds.fingerprint(), (train_ds.fingerprint() if train_ds is not None else None)
    check_method_inputs(cfg, spec, case_ids)
    store = ResultStore(cfg.run_dir)
    split = cfg.split.as_dict()
    if write:
        store.write_config(cfg.to_dict())
        folds = load_or_make(store, split, case_ids, train_ids, fp, train_fp)
    else:
        saved = read_saved(store, set_aside=False)
        folds = saved["folds"] if saved else make_splits(split, case_ids, train_ids)
    gpus = spec.backend.planning_gpus(cfg.execution) if available_gpus is None else available_gpus
    plan = build_plan(cfg, spec, folds, fp, train_fp, gpus)
    return spec, store, plan


def dry_run(cfg: RunConfig, out: TextIO | None = None) -> Plan:
    out = out or sys.stdout
    _, store, plan = prepare(cfg, write=False)
    done = store.row_status() if store.results_dir.is_dir() else {}
    out.write(plan.summary(done) + "\n")
    return plan


def run(cfg: RunConfig, *, retry_failed: bool = False, quiet: bool = False,
        backend: Backend | None = None, wait: bool = False) -> RunOutcome:
    """Execute (or resume) the run described by `cfg`, on `backend` (default: the one the
    config names, started here and closed at the end).

    The run directory is locked for the whole run: another live run on it is refused
    (RunLockedError naming its pid and host) or, with `wait`, waited for."""
    from liverbench.run.lock import RunLock

    check_runs_dir(cfg)
    lock = RunLock(cfg.run_dir, wait=wait)
    try:
        lock.acquire()
    except OSError as error:  # read-only, no permission: the config's folder cannot hold a run
        raise ConfigError(f"runs_dir: {cfg.runs_dir!r}: cannot create the run folder {cfg.run_dir}: "
                          f"{error.strerror or error}") from error
    try:
        if lock.took_over:
            print(f"note: {lock.path.parent}: the previous run (pid {lock.took_over.get('pid')} on "
                  f"{lock.took_over.get('host')}) ended without releasing it (killed?); resuming", file=sys.stderr)
        return _run_locked(cfg, retry_failed=retry_failed, quiet=quiet, backend=backend)
    finally:
        lock.release()


def _run_locked(cfg: RunConfig, *, retry_failed: bool, quiet: bool, backend: Backend | None) -> RunOutcome:
    from liverbench.run.environment import manifest

    spec = backend.spec if backend is not None else resolve(cfg)
    own_backend = backend is None
    backend = backend or spec.backend(spec, cfg.execution, spec.backend_options)
    try:
        spec, store, plan = prepare(cfg, spec, write=True, available_gpus=backend.available_gpus())
        store.write_manifest(manifest(spec, backend.describe()))
        return _execute(cfg, spec, store, plan, backend, retry_failed=retry_failed, quiet=quiet)
    finally:
        if own_backend:
            backend.close()


def _execute(cfg: RunConfig, spec: WorkSpec, store: ResultStore, plan: Plan, backend: Backend, *,
             retry_failed: bool, quiet: bool) -> RunOutcome:
    outcome = RunOutcome(run_dir=store.run_dir, plan=plan)
    for note in store.tidy():  # what an interrupted run left: moved aside or kept, said once
        print(f"note: {note}", file=sys.stderr)
    status = store.row_status()
    todo = [r for r in plan.rows if status.get(r.row_key) is None or (status[r.row_key] == "failed" and retry_failed)]
    outcome.skipped = len(plan.rows) - len(todo)
    progress = Progress(len(todo), "rows", quiet=quiet)
    if not quiet:
        progress.message(f"run {plan.run!r}: {len(plan.rows)} rows, {outcome.skipped} already stored, "
                         f"{len(todo)} to compute on {backend.name}")
    for note in plan.notes:
        progress.message(f"note: {note}")
    scheduler = Scheduler(spec, store, plan, backend, max_in_flight=cfg.execution.max_in_flight,
                          flush_every=cfg.execution.flush_every, progress=progress)
    try:
        scheduler.run(todo)
    finally:
        outcome.computed, outcome.failures = scheduler.computed, scheduler.failures
        progress.close()

    final = store.rows()
    keys = {r.row_key for r in plan.rows}
    final = final[final["row_key"].isin(keys)]
    outcome.n_ok = int((final["status"] == "ok").sum())
    outcome.n_failed = len(plan.rows) - outcome.n_ok
    stored_failures = final[final["status"] != "ok"]
    seen = {f["row_key"] for f in outcome.failures}
    for rec in stored_failures.to_dict("records"):
        if rec["row_key"] not in seen:
            outcome.failures.append(rec)
    return outcome

"""The orchestrator: config -> plan -> executor -> result store. The only writer of a run dir.

    outcome = run(load_config("benchmarks/demo.toml"))

Per model the work flows fit -> (tune refinements on training predictions) -> cases; models
proceed independently, so one model's cases are scored while another still trains -- except
that while unfinished fits alone fill the cluster's CPUs, the finished models' work waits: fits
are the longest units (the run's critical path), and Ray does not start tasks in submission
order, so a late fit could otherwise queue behind scoring work. Rows
already stored with status ok are skipped (resume); failed ones are re-run with
`retry_failed=True`. A failing case, fit or worker becomes a failed row; the run goes on.
"""

from __future__ import annotations

import sys
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from liverbench import registry
from liverbench.errors import ConfigError, InputError
from liverbench.executors.base import Executor, make_executor
from liverbench.executors.units import WorkSpec, failed_row, row_header
from liverbench.plan import FitJob, Plan, RowJob, build_plan
from liverbench.plugin import ParamError
from liverbench.progress import Progress
from liverbench.splits import load_or_make, make_splits
from liverbench.store import ResultStore


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


def work_spec(cfg: dict[str, Any]) -> WorkSpec:
    """Resolve every plugin class once, in the driver (workers never consult the registry)."""
    spec = WorkSpec(run=cfg["name"], dataset=cfg["dataset"], train_dataset=cfg["train_dataset"],
                    metrics=cfg["metrics"], save_predictions=cfg["execution"]["save_predictions"],
                    run_dir=str((Path(cfg["runs_dir"]) / cfg["name"]).resolve()))
    for m in cfg["methods"]:
        spec.segmenters[m["name"]] = registry.get_segmenter(m["name"])
    for pp in cfg["postprocessors"]:
        spec.postprocessors[pp["name"]] = registry.get_postprocessor(pp["name"])
    for t in ("dataset", "train_dataset"):
        if cfg[t]:
            spec.datasets[cfg[t]["name"]] = registry.get_dataset(cfg[t]["name"])
    return spec


def open_datasets(cfg: dict[str, Any], spec: WorkSpec):
    """(dataset, train dataset or None), with params errors named by their config key."""
    out = []
    for t in ("dataset", "train_dataset"):
        if not cfg[t]:
            out.append(None)
            continue
        try:
            out.append(spec.datasets[cfg[t]["name"]](**cfg[t]["params"]))
        except ParamError as exc:  # e.g. a root folder that does not exist: the config's fault
            raise ConfigError(f"{t}.params.{exc.param}: {exc.problem}") from exc
        except TypeError as exc:
            raise ConfigError(f"{t}.params: dataset {cfg[t]['name']!r} rejected {cfg[t]['params']!r}: {exc}") from exc
    return out[0], out[1]


def _planning_gpus(cfg: dict[str, Any]) -> float:
    """GPUs a run would get, without starting anything (for --dry-run)."""
    ex = cfg["execution"]
    if ex.get("num_gpus") is not None:
        return float(ex["num_gpus"])
    if ex["backend"] == "ray":
        try:
            import ray

            if ray.is_initialized():
                return float(ray.cluster_resources().get("GPU", 0.0))
        except ImportError:
            pass
    try:
        import torch

        return float(torch.cuda.device_count())
    except ImportError:
        return 0.0


def prepare(cfg: dict[str, Any], *, write: bool, available_gpus: float | None = None):
    """Datasets, splits and plan; writes config/manifest/splits when `write`."""
    spec = work_spec(cfg)
    ds, train_ds = open_datasets(cfg, spec)
    case_ids = list(ds.case_ids())
    train_ids = list(train_ds.case_ids()) if train_ds is not None else None
    fp, train_fp = ds.fingerprint(), (train_ds.fingerprint() if train_ds is not None else None)
    store = ResultStore(Path(cfg["runs_dir"]) / cfg["name"])
    if write:
        store.write_config(cfg)
        folds = load_or_make(store, cfg["split"], case_ids, train_ids, fp, train_fp)
    else:
        saved = store.splits()
        folds = saved["folds"] if saved else make_splits(cfg["split"], case_ids, train_ids)
    gpus = _planning_gpus(cfg) if available_gpus is None else available_gpus
    plan = build_plan(cfg, folds, fp, train_fp, gpus)
    return spec, store, plan


def dry_run(cfg: dict[str, Any], out: TextIO | None = None) -> Plan:
    out = out or sys.stdout
    _, store, plan = prepare(cfg, write=False)
    done = store.row_status() if store.results_dir.is_dir() else {}
    out.write(plan.summary(done) + "\n")
    return plan


def run(cfg: dict[str, Any], *, retry_failed: bool = False, quiet: bool = False,
        executor: Executor | None = None, wait: bool = False) -> RunOutcome:
    """Execute (or resume) the run described by the resolved config `cfg`.

    The run directory is locked for the whole run: another live run on it is refused
    (RunLockedError naming its pid and host) or, with `wait`, waited for."""
    from liverbench.run_lock import RunLock

    with RunLock(Path(cfg["runs_dir"]) / cfg["name"], wait=wait) as lock:
        if lock.took_over:
            print(f"note: {lock.path.parent}: the previous run (pid {lock.took_over.get('pid')} on "
                  f"{lock.took_over.get('host')}) ended without releasing it (killed?); resuming", file=sys.stderr)
        return _run_locked(cfg, retry_failed=retry_failed, quiet=quiet, executor=executor)


def _run_locked(cfg: dict[str, Any], *, retry_failed: bool, quiet: bool, executor: Executor | None) -> RunOutcome:
    from liverbench.environment import manifest

    spec = work_spec(cfg)
    own_executor = executor is None
    executor = executor or make_executor(spec, cfg["execution"])
    try:
        spec, store, plan = prepare(cfg, write=True, available_gpus=executor.available_gpus())
        executor.spec = spec
        cluster = {"backend": cfg["execution"]["backend"], "gpus": executor.available_gpus()}
        if cfg["execution"]["backend"] == "ray":
            import ray

            cluster.update(resources=ray.cluster_resources(), nodes=len([n for n in ray.nodes() if n.get("Alive")]))
        store.write_manifest(manifest(cfg, cluster))
        return _execute(cfg, spec, store, plan, executor, retry_failed=retry_failed, quiet=quiet)
    finally:
        if own_executor:
            executor.close()


def _execute(cfg, spec: WorkSpec, store: ResultStore, plan: Plan, executor: Executor, *,
             retry_failed: bool, quiet: bool) -> RunOutcome:
    ex = cfg["execution"]
    outcome = RunOutcome(run_dir=store.run_dir, plan=plan)
    for note in store.tidy():  # what an interrupted run left: moved aside or kept, said once
        print(f"note: {note}", file=sys.stderr)
    status = store.row_status()
    todo = [r for r in plan.rows if status.get(r.row_key) is None or (status[r.row_key] == "failed" and retry_failed)]
    outcome.skipped = len(plan.rows) - len(todo)
    rows_by_fit: dict[str, list[RowJob]] = defaultdict(list)
    for r in todo:
        rows_by_fit[r.fit_key].append(r)
    progress = Progress(len(todo), "rows", quiet=quiet)
    if not quiet:
        progress.message(f"run {plan.run!r}: {len(plan.rows)} rows, {outcome.skipped} already stored, "
                         f"{len(todo)} to compute on {executor.name}")
    for note in plan.notes:
        progress.message(f"note: {note}")

    fit_info: dict[str, dict[str, Any]] = {}
    files: dict[str, dict[str, bytes]] = {}
    tickets: dict[int, tuple[str, Any]] = {}
    ready_cases: deque[tuple[FitJob, str, list[RowJob]]] = deque()
    open_cases: dict[str, int] = defaultdict(int)  # fit_key -> case units queued or in flight
    in_flight = 0
    since_flush = 0
    tune_errors: dict[tuple[str, str, str], str] = {}
    fit_cpus: dict[int, float] = {}  # ticket -> CPUs of a fit not finished yet
    deferred: deque[FitJob] = deque()  # models whose work waits for the fits (see the docstring)

    def fits_fill_cluster() -> bool:
        return bool(fit_cpus) and sum(fit_cpus.values()) >= executor.cpu_slots()

    def record(row: dict[str, Any]) -> None:
        nonlocal since_flush
        blob = row.pop("_prediction", None)
        if blob is not None and row.get("status") == "ok":
            store.save_prediction(row["row_key"], blob)
        store.append(row)
        outcome.computed += 1
        since_flush += 1
        if row.get("status") != "ok":
            outcome.failures.append(row)
        progress.update(1, failed=int(row.get("status") != "ok"))
        if since_flush >= ex["flush_every"]:
            store.flush()
            since_flush = 0

    def fail_rows(job: FitJob, rows: list[RowJob], error: str) -> None:
        t_fit = fit_info.get(job.fit_key, {}).get("t_fit")
        for r in rows:
            record(failed_row(row_header(job, r, spec, r.pp_params, t_fit), error))

    def model_ready(job: FitJob) -> None:
        """The model exists: tune what needs tuning, else queue its cases."""
        rows = rows_by_fit[job.fit_key]
        tuned_needed = {}
        for r in rows:
            if r.tune and store.tuned_params(job.fit_key, r.postprocessor, r.tune_metric) is None:
                tuned_needed[(r.postprocessor, r.tune_metric)] = True
        if tuned_needed:
            for pp_name, metric in tuned_needed:
                t = executor.submit_tune(job, files[job.fit_key], list(job.train), pp_name, metric)
                tickets[t] = ("tune", (job, pp_name, metric))
                open_cases[job.fit_key] += 1
            return
        queue_cases(job)

    def queue_cases(job: FitJob) -> None:
        by_case: dict[str, list[RowJob]] = defaultdict(list)
        for r in rows_by_fit[job.fit_key]:
            by_case[r.case_id].append(r)
        for case_id, rows in by_case.items():
            ready_cases.append((job, case_id, rows))
            open_cases[job.fit_key] += 1

    def pp_params_for(job: FitJob, r: RowJob) -> dict[str, Any] | None:
        if not r.tune:
            return r.pp_params
        return store.tuned_params(job.fit_key, r.postprocessor, r.tune_metric)

    def finish_unit(fit_key: str) -> None:
        open_cases[fit_key] -= 1
        if open_cases[fit_key] == 0:
            executor.release(fit_key)

    # Fits first: reuse stored ones, submit the rest (Ray runs them side by side).
    for key in rows_by_fit:
        job = plan.fit(key)
        if store.has_fit(key):
            fit_info[key] = store.fit_info(key)
            files[key] = store.fit_files(key)
            deferred.append(job)
        else:
            t = executor.submit_fit(job)
            tickets[t] = ("fit", job)
            if job.trainable:
                fit_cpus[t] = job.fit_resources.num_cpus

    try:
        while tickets or ready_cases or deferred:
            while deferred and not fits_fill_cluster():
                model_ready(deferred.popleft())
            while ready_cases and in_flight < ex["max_in_flight"]:
                job, case_id, rows = ready_cases.popleft()
                units_rows, pending_fail = [], []
                for r in rows:
                    params = pp_params_for(job, r)
                    if params is None:  # tuning of this refinement failed
                        pending_fail.append(r)
                    else:
                        units_rows.append((row_header(job, r, spec, params, fit_info[job.fit_key].get("t_fit")),
                                           r.postprocessor, params))
                for r in pending_fail:
                    fail_rows(job, [r], tune_errors.get((job.fit_key, r.postprocessor, r.tune_metric),
                                                        f"tuning {r.postprocessor} failed"))
                if not units_rows:
                    finish_unit(job.fit_key)
                    continue
                t = executor.submit_case(job, files[job.fit_key], case_id, units_rows)
                tickets[t] = ("case", job)
                in_flight += 1
            if not tickets:
                continue
            for ticket, result in executor.wait():
                kind, what = tickets.pop(ticket)
                fit_cpus.pop(ticket, None)
                if kind == "fit":
                    job = what
                    if result.get("ok"):
                        info = {"method": job.method, "method_version": job.method_version,
                                "params": job.method_params, "fold": job.fold, "seed": job.seed,
                                "train": list(job.train), "val": list(job.val),
                                "train_from_dataset": list(job.train_from_dataset), "t_fit": result["t_fit"],
                                "device": result.get("device"), "gpu_name": result.get("gpu_name"),
                                "peak_gpu_mb": result.get("peak_gpu_mb"), "peak_rss_mb": result.get("peak_rss_mb"),
                                "host": result.get("host")}
                        store.save_fit(job.fit_key, result["files"], result["curves"], info)
                        fit_info[job.fit_key], files[job.fit_key] = info, result["files"]
                        if job.trainable:
                            progress.message(f"fitted {job.method} fold {job.fold} seed {job.seed} "
                                             f"in {result['t_fit']:.1f} s")
                        deferred.append(job)  # started at the loop's top once the fits allow
                    else:
                        fit_info[job.fit_key] = {"t_fit": result.get("t_fit")}
                        progress.message(result["error"].splitlines()[0])
                        fail_rows(job, rows_by_fit[job.fit_key], result["error"])
                elif kind == "tune":
                    job, pp_name, metric = what
                    if result.get("ok"):
                        store.save_tuned(job.fit_key, pp_name, metric, result["params"])
                        progress.message(f"tuned {pp_name} for {job.method} fold {job.fold}: {result['params']}")
                    else:
                        tune_errors[(job.fit_key, pp_name, metric)] = result["error"]
                        progress.message(result["error"].splitlines()[0])
                    open_cases[job.fit_key] -= 1
                    if open_cases[job.fit_key] == 0:  # every tuning of this model is done
                        queue_cases(job)
                else:
                    in_flight -= 1
                    for row in result:
                        record(row)
                    finish_unit(what.fit_key)
    finally:
        store.flush()
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

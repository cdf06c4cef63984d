"""The Ray executor: fits as tasks, one pool of prediction actors per trained model, refinement
and scoring in CPU actors or as CPU tasks fed by GPU actors.

- Fits: a task per (method, fold, seed) with the method's declared fit resources (num_gpus > 0
  where the plan put it on a GPU); a method with nothing to train is built in the driver. The
  trained model comes back as the bytes of its save() directory; the driver writes it to the
  run directory.
- Prediction: actors that load a model once (`units.Predictor`) and read cases themselves;
  cases never pass through the driver. Actors hold the method's GPUs and memory but no CPU slot
  (Ray's own default for a running actor): an idle actor would otherwise keep a CPU from the
  fits and tasks. CPU concurrency is bounded instead by the pool size (CPU slots / predict
  CPUs) and by the runner's `max_in_flight`.
- Refine + score: an actor on the CPU refines and scores its own case's rows in one call
  (`execution.refine_in = "auto"`): a hand-off would copy the case and prediction through the
  object store and start more worker processes, for no gain, as the actor's next case needs
  the same CPUs. An actor with a GPU hands them to one CPU task per row, by object reference
  (so the GPU goes on to the next case), as does every actor with `refine_in = "tasks"`.
- Faults: a crashed worker is retried (`max_retries` for tasks, `max_restarts` and
  `max_task_retries` for actors) up to `execution.retries`; past that the rows fail with the
  error and the run goes on.
- `execution.address` connects to an existing cluster; otherwise a local instance with
  `execution.num_cpus` CPUs is started (and shut down at the end). An instance that is already
  running in this process (e.g. the test suite's) is used as is.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
from typing import Any

from liverbench.executors import units
from liverbench.executors.base import CaseRows, Executor
from liverbench.plan import FitJob

_OWN_PACKAGES = ("liverbench", "baselines")


def _ship_by_value(classes) -> None:
    """Plugin classes defined outside an installed package (a test module, a notebook) are
    pickled by value, so Ray workers need not import the module they came from."""
    import ray.cloudpickle as cp

    for cls in classes:
        modname = cls.__module__
        if modname == "__main__" or modname.split(".")[0] in _OWN_PACKAGES:
            continue
        mod = sys.modules.get(modname)
        path = getattr(mod, "__file__", "") or ""
        if mod is None or "site-packages" in path or "dist-packages" in path:
            continue
        try:
            cp.register_pickle_by_value(mod)
        except (ValueError, TypeError):  # builtins / extension modules: by reference is right
            pass


def _fit_task(job: FitJob, spec: units.WorkSpec) -> dict[str, Any]:
    return units.run_fit(job, spec)


def _refine_task(case, pred, info, header, pp_name, pp_params, spec) -> dict[str, Any]:
    return units.refine_and_score(case, pred, info, header, pp_name, pp_params, spec)


def _tune_task(pairs, pp_name, metric, spec) -> dict[str, Any]:
    import ray

    items = []
    for refs in pairs:
        case, pred, info = ray.get(list(refs))
        if case is None:
            return {"ok": False, "params": {}, "error": f"tuning {pp_name}: {info['error']}"}
        items.append((case, pred))
    return units.tune(items, pp_name, metric, spec)


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, spec: units.WorkSpec, execution: dict[str, Any]) -> None:
        super().__init__(spec, execution)
        import ray

        self.ray = ray
        self._owns_ray = False
        self._reaper = None  # ends the helpers of a Ray instance we start, when this driver ends
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if execution.get("address"):
                ray.init(address=execution["address"], **kwargs)
            else:
                if execution.get("num_gpus") is not None:
                    kwargs["num_gpus"] = execution["num_gpus"]
                from liverbench import ray_reaper

                self._reaper = ray_reaper.start()
                ray.init(num_cpus=execution["num_cpus"], **kwargs)
            self._owns_ray = True
        _ship_by_value([*spec.segmenters.values(), *spec.postprocessors.values(), *spec.datasets.values()])
        self.retries = int(execution["retries"])
        self._spec_ref = ray.put(spec)
        self._fit = ray.remote(_fit_task)
        self._refine = ray.remote(_refine_task)
        self._tune = ray.remote(_tune_task)
        self._actor_cls = ray.remote(units.Predictor)
        self._ids = itertools.count()
        self._kind: dict[int, str] = {}
        self._refs: dict[int, list] = {}  # ticket -> refs still outstanding
        self._done: dict[int, list] = {}  # ticket -> results so far (case tickets collect rows)
        self._headers: dict[int, list] = {}
        self._ref_ticket: dict[Any, tuple[int, int]] = {}  # ref -> (ticket, index)
        self._pools: dict[str, list] = {}
        self._load: dict[str, list[int]] = {}
        self._files_refs: dict[str, Any] = {}
        self._ticket_actor: dict[int, tuple[str, int]] = {}

    # --- cluster ---------------------------------------------------------------------------
    def _cluster(self) -> dict[str, float]:
        return self.ray.cluster_resources()

    def available_gpus(self) -> float:
        return float(self._cluster().get("GPU", 0.0))

    def cpu_slots(self) -> float:
        return float(self._cluster().get("CPU", 1.0))

    def _pool_size(self, job: FitJob) -> int:
        if self.execution.get("actors_per_model"):
            return int(self.execution["actors_per_model"])
        res = self._cluster()
        n = max(1, int(res.get("CPU", 1) // max(job.predict_resources.num_cpus, 1e-6)))
        if job.predict_resources.num_gpus > 0:
            n = min(n, max(1, int(res.get("GPU", 0) // job.predict_resources.num_gpus)))
        return max(1, min(n, int(self.execution["max_in_flight"])))

    # --- submission ------------------------------------------------------------------------
    def _track(self, kind: str, refs: list, headers: list | None = None) -> int:
        ticket = next(self._ids)
        self._kind[ticket] = kind
        self._refs[ticket] = list(refs)
        self._done[ticket] = [None] * len(refs)
        self._headers[ticket] = headers or []
        for i, r in enumerate(refs):
            self._ref_ticket[r] = (ticket, i)
        return ticket

    def submit_fit(self, job: FitJob) -> int:
        if not job.trainable:
            # Nothing to train: building and saving the model is milliseconds here, while a task
            # would hold a worker process (and delay the prediction actors) for its round trip.
            return self._track("fit", [self.ray.put(units.run_fit(job, self.spec))])
        res = job.fit_resources
        ref = self._fit.options(num_cpus=res.num_cpus, num_gpus=res.num_gpus, memory=int(res.memory_gb * 2**30),
                                max_retries=self.retries, retry_exceptions=False).remote(job, self._spec_ref)
        return self._track("fit", [ref])

    def _actor(self, job: FitJob, files: dict[str, bytes]) -> tuple[Any, int]:
        """The least-busy actor of this model's pool, creating the pool on first use."""
        if job.fit_key not in self._pools:
            if job.fit_key not in self._files_refs:
                self._files_refs[job.fit_key] = self.ray.put(files)
            res = job.predict_resources
            opts = dict(num_cpus=0, num_gpus=res.num_gpus, memory=int(res.memory_gb * 2**30),
                        max_restarts=self.retries, max_task_retries=self.retries, scheduling_strategy="SPREAD")
            n = self._pool_size(job)
            self._pools[job.fit_key] = [self._actor_cls.options(**opts).remote(job, self._files_refs[job.fit_key],
                                                                               self._spec_ref) for _ in range(n)]
            self._load[job.fit_key] = [0] * n
        load = self._load[job.fit_key]
        i = min(range(len(load)), key=load.__getitem__)
        load[i] += 1
        return self._pools[job.fit_key][i], i

    def submit_tune(self, job, files, case_ids, pp_name, metric) -> int:
        pairs = []
        for cid in case_ids:
            actor, i = self._actor(job, files)
            case_ref, pred_ref, info_ref = actor.predict.options(num_returns=3).remote(cid, job.train_source)
            self._load[job.fit_key][i] -= 1  # the tune task below waits for it; not counted as load
            pairs.append((case_ref, pred_ref, info_ref))
        # The refs are nested in a list, so Ray hands them over unresolved: the tune task fetches
        # them itself and the driver never touches the arrays.
        ref = self._tune.options(num_cpus=1, max_retries=self.retries).remote(pairs, pp_name, metric, self._spec_ref)
        return self._track("tune", [ref])

    def submit_case(self, job: FitJob, files: dict[str, bytes], case_id: str, rows: CaseRows) -> int:
        actor, i = self._actor(job, files)
        if job.predict_resources.num_gpus == 0 and self.execution["refine_in"] == "auto":
            # A CPU actor scores its own rows: handing the case and prediction to refine tasks
            # costs object-store copies and extra worker processes, and frees nothing, since
            # the actor's next case would need the same CPUs.
            kind, refs = "rows", [actor.predict_and_score.remote(case_id, rows)]
        else:
            case_ref, pred_ref, info_ref = actor.predict.options(num_returns=3).remote(case_id)
            kind, refs = "case", []
            for header, pp_name, pp_params in rows:
                res = self.spec.postprocessors[pp_name].resources
                refs.append(self._refine.options(num_cpus=res.num_cpus, num_gpus=0,
                                                 max_retries=self.retries, retry_exceptions=False).remote(
                    case_ref, pred_ref, info_ref, header, pp_name, pp_params, self._spec_ref))
        ticket = self._track(kind, refs, [h for h, _, _ in rows])
        self._ticket_actor[ticket] = (job.fit_key, i)
        return ticket

    # --- collection ------------------------------------------------------------------------
    def pending(self) -> int:
        return len(self._refs)

    def wait(self) -> list[tuple[int, Any]]:
        outstanding = [r for refs in self._refs.values() for r in refs]
        if not outstanding:
            return []
        ready, _ = self.ray.wait(outstanding, num_returns=1)
        more, _ = self.ray.wait(outstanding, num_returns=len(outstanding), timeout=0)
        finished = []
        for ref in {*ready, *more}:
            ticket, idx = self._ref_ticket.pop(ref)
            self._done[ticket][idx] = self._get(ref, ticket, idx)
            self._refs[ticket].remove(ref)
            if not self._refs[ticket]:
                del self._refs[ticket]
                kind = self._kind.pop(ticket)
                results = self._done.pop(ticket)
                self._headers.pop(ticket, None)
                if kind in ("case", "rows"):
                    fit_key, i = self._ticket_actor.pop(ticket)
                    if fit_key in self._load:
                        self._load[fit_key][i] -= 1
                    finished.append((ticket, results if kind == "case" else results[0]))
                else:
                    finished.append((ticket, results[0]))
        return finished

    def _get(self, ref, ticket: int, idx: int) -> Any:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            # Retries are spent (a worker or actor died each time, or Ray itself failed).
            msg = f"worker failed after {self.retries} retr{'y' if self.retries == 1 else 'ies'}: " \
                  f"{type(exc).__name__}: {str(exc).splitlines()[0][:500] if str(exc) else ''}"
            kind = self._kind[ticket]
            if kind == "case":
                return units.failed_row(self._headers[ticket][idx], msg)
            if kind == "rows":
                return [units.failed_row(h, msg) for h in self._headers[ticket]]
            if kind == "fit":
                return {"ok": False, "files": {}, "curves": [], "t_fit": math.nan, "error": msg}
            return {"ok": False, "params": {}, "error": msg}

    def release(self, fit_key: str) -> None:
        for actor in self._pools.pop(fit_key, []):
            self.ray.kill(actor)
        self._load.pop(fit_key, None)
        self._files_refs.pop(fit_key, None)

    def close(self) -> None:
        for key in list(self._pools):
            self.release(key)
        if self._owns_ray and self.ray.is_initialized():
            self.ray.shutdown()
        if self._reaper is not None:
            from liverbench import ray_reaper

            ray_reaper.stop(self._reaper)
            self._reaper = None

"""The Ray backend: units as tasks, one pool of prediction actors per model session, refinement
and scoring in CPU actors or as CPU tasks fed by GPU actors.

- Fits: a task per (method, fold, seed) with the method's declared fit resources (num_gpus > 0
  where the plan put it on a GPU). The trained model comes back as the bytes of its save()
  directory; the driver writes it to the run directory.
- Prediction: actors that load a model once (`units.Predictor`) and read cases themselves;
  cases never pass through the driver. Actors hold the method's GPUs and memory but no CPU slot
  (Ray's own default for a running actor): an idle actor would otherwise keep a CPU from the
  fits and tasks. CPU concurrency is bounded instead by the pool size (CPU slots / predict
  CPUs) and by the runner's `max_in_flight`.
- Refine + score: an actor on the CPU refines and scores its own case's rows in one call
  (`execution.ray.refine_in = "auto"`): a hand-off would copy the case and prediction through the
  object store and start more worker processes, for no gain, as the actor's next case needs
  the same CPUs. An actor with a GPU hands them to one CPU task per row, by object reference
  (so the GPU goes on to the next case), as does every actor with `refine_in = "tasks"`.
- Faults: a crashed worker is retried (`max_retries` for tasks, `max_restarts` and
  `max_task_retries` for actors) up to `execution.retries`; past that the rows fail with the
  error and the run goes on.
- `execution.ray.address` connects to an existing cluster; otherwise a local instance with
  `execution.num_cpus` CPUs is started (and shut down at the end). An instance that is already
  running in this process (e.g. the test suite's) is used as is.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Callable, Iterable

from liverbench.backends.base import Backend, Future, ModelSession
from liverbench.devices import local_cuda_devices
from liverbench.plugins.base import Param, Resources
from liverbench.run import units

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


class RaySession(ModelSession):
    """A pool of `units.Predictor` actors for one model; each call goes to the least-busy one."""

    def __init__(self, backend: "RayBackend", job, files: dict[str, bytes]) -> None:
        self.backend, self.job = backend, job
        self._files_ref = backend.ray.put(files)
        self._actors: list[Any] = []
        self._load: list[int] = []

    def _pool_size(self) -> int:
        if self.backend.options["actors_per_model"]:
            return int(self.backend.options["actors_per_model"])
        res, want = self.backend.ray.cluster_resources(), self.job.predict_resources
        n = max(1, int(res.get("CPU", 1) // max(want.num_cpus, 1e-6)))
        if want.num_gpus > 0:
            n = min(n, max(1, int(res.get("GPU", 0) // want.num_gpus)))
        return max(1, min(n, self.backend.execution.max_in_flight))

    def _call(self, method: str, *args: Any) -> Future:
        if not self._actors:  # the pool starts with the session's first call
            res, retries = self.job.predict_resources, self.backend.execution.retries
            opts = {**res.as_ray_options(), "num_cpus": 0, "max_restarts": retries,
                    "max_task_retries": retries, "scheduling_strategy": "SPREAD"}
            self._actors = [self.backend.actor_class.options(**opts).remote(self.job, self._files_ref,
                                                                            self.backend.spec_ref)
                            for _ in range(self._pool_size())]
            self._load = [0] * len(self._actors)
        i = min(range(len(self._load)), key=self._load.__getitem__)
        self._load[i] += 1
        future = self.backend.track(getattr(self._actors[i], method).remote(*args))
        future.on_done.append(lambda: self._unload(i))
        return future

    def _unload(self, i: int) -> None:
        if i < len(self._load):
            self._load[i] -= 1

    def predict(self, case_id: str, source: str = "dataset") -> Future:
        return self._call("predict", case_id, source)

    def predict_and_score(self, case_id: str, rows: list) -> Future:
        return self._call("predict_and_score", case_id, rows)

    def close(self) -> None:
        for actor in self._actors:
            self.backend.ray.kill(actor)
        self._actors, self._load = [], []


class RayBackend(Backend):
    name = "ray"
    defaults = {"address": "", "actors_per_model": 0, "refine_in": "auto"}
    param_checks = {
        "address": Param(str),  # an existing cluster ("ray://host:10001", "host:6379"); empty starts one
        "actors_per_model": Param(int, ge=0, le=1024),  # prediction actors per model; 0 = as many as the CPUs allow
        # "auto": a CPU actor refines + scores its own rows, a GPU one hands them to CPU tasks; "tasks": always tasks
        "refine_in": Param(str, choices=("auto", "tasks")),
    }

    def __init__(self, spec, execution, options) -> None:
        super().__init__(spec, execution, options)
        import ray

        self.ray = ray
        self._owns_ray = False
        self._reaper = None  # ends the helpers of a Ray instance we start, when this driver ends
        if not ray.is_initialized():
            # Ray's own INFO and WARNING lines (the instance started, token authentication on) are
            # for Ray's operators, not for a liverbench user; its errors still show.
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "logging_level": logging.ERROR}
            if self.options["address"]:
                ray.init(address=self.options["address"], **kwargs)
            else:
                if execution.num_gpus is not None:
                    kwargs["num_gpus"] = execution.num_gpus
                from liverbench.backends import ray_reaper

                self._reaper = ray_reaper.start()
                ray.init(num_cpus=execution.num_cpus, **kwargs)
            self._owns_ray = True
        _ship_by_value([*spec.segmenters.values(), *spec.postprocessors.values(), *spec.datasets.values()])
        self.spec_ref = ray.put(spec)
        self.actor_class = ray.remote(units.Predictor)
        self._remote: dict[Callable[..., Any], Any] = {}
        self._pending: dict[Any, Future] = {}  # object ref -> its future
        self._sessions: list[RaySession] = []

    @classmethod
    def planning_gpus(cls, execution) -> float:
        if execution.num_gpus is not None:
            return float(execution.num_gpus)
        try:
            import ray

            if ray.is_initialized():
                return float(ray.cluster_resources().get("GPU", 0.0))
        except ImportError:
            pass
        return local_cuda_devices()

    def available_gpus(self) -> float:
        return float(self.ray.cluster_resources().get("GPU", 0.0))

    def cpu_slots(self) -> float:
        return float(self.ray.cluster_resources().get("CPU", 1.0))

    def describe(self) -> dict[str, Any]:
        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        return {**super().describe(), "resources": self.ray.cluster_resources(), "nodes": len(nodes)}

    def track(self, ref: Any) -> Future:
        future = Future(handle=ref)
        self._pending[ref] = future
        return future

    def submit(self, unit, *args, resources: Resources) -> Future:
        remote = self._remote.get(unit)
        if remote is None:
            remote = self._remote[unit] = self.ray.remote(unit)
        # Futures go in as object references: Ray resolves them in the worker, so the arrays
        # they hold never pass through the driver.
        inputs = [a for a in args if isinstance(a, Future)]
        refs = [a.handle if isinstance(a, Future) else a for a in args]
        future = self.track(remote.options(**resources.as_ray_options(), max_retries=self.execution.retries)
                            .remote(self.spec_ref, *refs))
        for a in inputs:
            # An input nobody waits for is done when its consumer is: its hooks (an actor's load)
            # move to the consumer, and the driver lets go of its reference (Ray keeps the object
            # while a submitted task still needs it).
            future.on_done.extend(a.on_done)
            a.on_done.clear()
            self._pending.pop(a.handle, None)
        return future

    def open_session(self, job, files: dict[str, bytes]) -> ModelSession:
        self._sessions.append(RaySession(self, job, files))
        return self._sessions[-1]

    def scores_in_session(self, job) -> bool:
        # A CPU actor scores its own rows: handing the case and prediction to refine tasks costs
        # object-store copies and extra worker processes, and frees nothing, since the actor's
        # next case would need the same CPUs. A GPU actor hands them on and takes the next case.
        return job.predict_resources.num_gpus == 0 and self.options["refine_in"] == "auto"

    def wait(self, futures: Iterable[Future]) -> list[Future]:
        futures = list(futures)
        done = [f for f in futures if f.done]
        if done:
            return done
        refs = [f.handle for f in futures]
        if not refs:
            return []
        ready, _ = self.ray.wait(refs, num_returns=1)
        more, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        finished = []
        for ref in {*ready, *more}:
            future = self._pending.pop(ref)
            try:
                future.settle(value=self.ray.get(ref))
            except self.ray.exceptions.RayError as exc:
                # Retries are spent (a worker or actor died each time, or Ray itself failed).
                n = self.execution.retries
                first = str(exc).splitlines()[0][:500] if str(exc) else ""
                future.settle(error=f"worker failed after {n} retr{'y' if n == 1 else 'ies'}: "
                                    f"{type(exc).__name__}: {first}")
            finished.append(future)
        return finished

    def close(self) -> None:
        for session in self._sessions:  # actors left by a run that stopped early
            session.close()
        self._pending.clear()
        if self._owns_ray and self.ray.is_initialized():
            self.ray.shutdown()
        if self._reaper is not None:
            from liverbench.backends import ray_reaper

            ray_reaper.stop(self._reaper)
            self._reaper = None

"""The backend protocol: the few primitives an execution backend offers the scheduler.

A backend runs *units* (functions of `liverbench.run.units` whose first argument is the
run's `WorkSpec`) and *model sessions* (a trained model loaded once, predicting cases it reads
itself), and says when they are done. What to run and in which order -- fit, tune a refinement
on training predictions, predict and score a case -- is composed once, above every backend, in
`liverbench.run.scheduler`. So a new backend (Dask, Slurm, ...) is one file: a `Backend` subclass
with its options, named by an entry point in the group `liverbench.backends`:

    [project.entry-points."liverbench.backends"]
    dask = "my_package.dask_backend:DaskBackend"

and selected with `execution.backend = "dask"`; its own keys live in `[execution.dask]`.

A `Future` stands for one unit's result. Futures may be passed as arguments to `submit`: the
backend resolves them where the unit runs (Ray hands over object references, so predictions
never pass through the driver). A unit that fails in a way the unit itself could not catch (a
worker killed past its retries) gives a future with `error` set instead of a `value`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable, Mapping

from liverbench.devices import local_cuda_devices
from liverbench.plugins.base import Param, Parameterised, Resources

_UNSET = object()


@dataclass(eq=False)
class Future:
    """One unit's result, once `done`: `value`, or `error` (a one-line text) if the backend
    lost the unit. `handle` is the backend's own (a Ray object reference, a local thunk)."""

    handle: Any = None
    value: Any = _UNSET
    error: str = ""
    on_done: list[Callable[[], None]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.value is not _UNSET or bool(self.error)

    def settle(self, value: Any = _UNSET, error: str = "") -> None:
        self.value, self.error = value, error
        for hook in self.on_done:
            hook()
        self.on_done.clear()


class ModelSession(ABC):
    """A trained model loaded once (a pool of actors, or one copy in this process)."""

    @abstractmethod
    def predict(self, case_id: str, source: str = "dataset") -> Future:
        """Future of `units.Predictor.predict`'s (case, prediction, info)."""

    @abstractmethod
    def predict_and_score(self, case_id: str, rows: list) -> Future:
        """Future of `units.Predictor.predict_and_score`'s finished rows."""

    def close(self) -> None:
        """No more work for this model: free its loaded copies."""


class Backend(Parameterised, ABC):
    """Where units run. Subclasses set `name`, their options (`defaults` + `param_checks`, the
    `[execution.<name>]` table, resolved like any plugin's params) and implement the primitives
    below."""

    name: ClassVar[str]
    defaults: ClassVar[Mapping[str, Any]] = {}
    param_checks: ClassVar[Mapping[str, Param]] = {}

    def __init__(self, spec, execution, options: Mapping[str, Any]) -> None:
        self.spec = spec  # liverbench.run.workspec.WorkSpec: every unit's first argument
        self.execution = execution  # liverbench.run.config.ExecutionConfig
        self.options = dict(options)  # this backend's checked [execution.<name>] table

    @abstractmethod
    def available_gpus(self) -> float:
        """GPUs the cluster offers (planning decides CPU fallback from it)."""

    @classmethod
    def planning_gpus(cls, execution) -> float:
        """GPUs a run would get, without starting anything (for `--dry-run`)."""
        if execution.num_gpus is not None:
            return float(execution.num_gpus)
        return local_cuda_devices()

    def cpu_slots(self) -> float:
        """CPUs that run units side by side (the scheduler starts fits first while they fill them)."""
        return float("inf")

    def describe(self) -> dict[str, Any]:
        """The cluster, for the run's manifest."""
        return {"backend": self.name, "gpus": self.available_gpus()}

    @abstractmethod
    def submit(self, unit: Callable[..., Any], *args: Any, resources: Resources) -> Future:
        """Run `unit(spec, *args)` with `resources`; `Future` arguments are resolved first. A
        unit whose worker dies is rerun up to `execution.retries` times (units never raise)."""

    @abstractmethod
    def open_session(self, job, files: dict[str, bytes]) -> ModelSession:
        """A session predicting with the model `files` (its saved directory) of the fit `job`."""

    def scores_in_session(self, job) -> bool:
        """Whether a session refines and scores its own rows (`predict_and_score`) rather than
        handing each row to a unit of its own (a GPU session frees the GPU that way)."""
        return True

    @abstractmethod
    def wait(self, futures: Iterable[Future]) -> list[Future]:
        """Block until at least one of `futures` is done; return the done ones."""

    def close(self) -> None:
        """Free everything the backend started."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

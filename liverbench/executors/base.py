"""The one small interface between the orchestrator (`liverbench.runner`) and an executor.

The runner submits three kinds of work and collects results as they finish:

- `submit_fit(job)` -> ticket; result: run_fit's dict (saved model files as bytes, curves, t_fit).
- `submit_tune(job, files, case_ids, pp_name, metric)` -> ticket; result: {"ok", "params", "error"}.
- `submit_case(job, files, case_id, rows)` -> ticket; `rows` is a list of (header, pp_name,
  pp_params); result: one finished row dict per entry (predict once, refine + score each).
- `wait()` blocks until at least one ticket is done and returns [(ticket, result), ...].
- `release(fit_key)` says no more work will come for that model (free its loaded copies).

Executors never raise for a failing case or method: failures come back as results.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from liverbench.executors.units import WorkSpec
from liverbench.plan import FitJob

CaseRows = list[tuple[dict[str, Any], str, dict[str, Any]]]


class Executor(ABC):
    name: str = "?"

    def __init__(self, spec: WorkSpec, execution: dict[str, Any]) -> None:
        self.spec = spec
        self.execution = execution

    @abstractmethod
    def available_gpus(self) -> float:
        """GPUs the cluster offers (planning decides CPU fallback from it)."""

    @abstractmethod
    def submit_fit(self, job: FitJob) -> int: ...

    @abstractmethod
    def submit_tune(self, job: FitJob, files: dict[str, bytes], case_ids: list[str], pp_name: str, metric: str) -> int: ...

    @abstractmethod
    def submit_case(self, job: FitJob, files: dict[str, bytes], case_id: str, rows: CaseRows) -> int: ...

    @abstractmethod
    def wait(self) -> list[tuple[int, Any]]: ...

    @abstractmethod
    def pending(self) -> int: ...

    def cpu_slots(self) -> float:
        """CPUs that run work side by side (the runner starts fits first while they fill them)."""
        return float("inf")

    def release(self, fit_key: str) -> None:
        """No more work for this model."""

    def close(self) -> None:
        """Free everything the executor started."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_executor(spec: WorkSpec, execution: dict[str, Any]) -> Executor:
    if execution["backend"] == "local":
        from liverbench.executors.local import LocalExecutor

        return LocalExecutor(spec, execution)
    from liverbench.executors.ray_executor import RayExecutor

    return RayExecutor(spec, execution)

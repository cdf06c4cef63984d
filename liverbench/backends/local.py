"""The local backend: the same units of work, run one at a time in this process.

For debugging (a breakpoint in a plugin just works) and for the test suite. A unit runs when
`wait` asks for it, in submission order, so the scheduler's flow is the same as with Ray; a
future passed as an argument is computed when the unit that needs it runs.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from liverbench.backends.base import Backend, Future, ModelSession
from liverbench.plugins.base import Resources
from liverbench.run import units


class _Deferred:
    """A unit not yet run: the function and its arguments (futures among them)."""

    def __init__(self, fn: Callable[..., Any], args: tuple) -> None:
        self.fn, self.args = fn, args


def _force(future: Future) -> Any:
    if not future.done:
        work: _Deferred = future.handle
        args = [_force(a) if isinstance(a, Future) else a for a in work.args]
        future.settle(value=work.fn(*args))
    return future.value


class LocalSession(ModelSession):
    """One loaded copy of the model, like one Ray actor: the first case it predicts is cold."""

    def __init__(self, backend: "LocalBackend", job, files: dict[str, bytes]) -> None:
        self.backend, self.job, self.files = backend, job, files
        self._predictor: units.Predictor | None = None

    def _loaded(self) -> units.Predictor:
        if self._predictor is None:  # loaded when first used, not when the session opens
            self._predictor = units.Predictor(self.job, self.files, self.backend.spec)
        return self._predictor

    def predict(self, case_id: str, source: str = "dataset") -> Future:
        return self.backend._defer(lambda: self._loaded().predict(case_id, source))

    def predict_and_score(self, case_id: str, rows: list) -> Future:
        return self.backend._defer(lambda: self._loaded().predict_and_score(case_id, rows))

    def close(self) -> None:
        self._predictor = None


class LocalBackend(Backend):
    name = "local"

    def __init__(self, spec, execution, options) -> None:
        super().__init__(spec, execution, options)
        self._queue: list[Future] = []  # submission order

    def available_gpus(self) -> float:
        return self.planning_gpus(self.execution)

    def _defer(self, fn: Callable[..., Any], *args: Any) -> Future:
        future = Future(handle=_Deferred(fn, args))
        self._queue.append(future)
        return future

    def submit(self, unit, *args, resources: Resources) -> Future:
        return self._defer(unit, self.spec, *args)

    def open_session(self, job, files: dict[str, bytes]) -> ModelSession:
        return LocalSession(self, job, files)

    def wait(self, futures: Iterable[Future]) -> list[Future]:
        futures = list(futures)
        done = [f for f in futures if f.done]  # e.g. computed as another unit's argument
        if done:
            return done
        wanted = {id(f) for f in futures}
        for future in self._queue:
            if id(future) in wanted:
                _force(future)
                self._queue = [f for f in self._queue if not f.done]
                return [future]
        return []

    def close(self) -> None:
        self._queue.clear()

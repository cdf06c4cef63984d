"""The local executor: the same units of work, run one at a time in this process.

For debugging (a breakpoint in a plugin just works) and for the test suite. Work runs inside
`wait()`, in submission order, so the runner's flow is the same as with Ray.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any, Callable

from liverbench.executors import units
from liverbench.executors.base import CaseRows, Executor
from liverbench.plan import FitJob


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, spec, execution) -> None:
        super().__init__(spec, execution)
        self._queue: deque[tuple[int, Callable[[], Any]]] = deque()
        self._ids = itertools.count()
        self._predictors: dict[str, units.Predictor] = {}

    def available_gpus(self) -> float:
        if self.execution.get("num_gpus") is not None:
            return float(self.execution["num_gpus"])
        try:
            import torch

            return float(torch.cuda.device_count())
        except ImportError:
            return 0.0

    def _submit(self, fn: Callable[[], Any]) -> int:
        ticket = next(self._ids)
        self._queue.append((ticket, fn))
        return ticket

    def _predictor(self, job: FitJob, files: dict[str, bytes]) -> units.Predictor:
        # One loaded copy per model, like one Ray actor: the first case it predicts is cold.
        if job.fit_key not in self._predictors:
            self._predictors[job.fit_key] = units.Predictor(job, files, self.spec)
        return self._predictors[job.fit_key]

    def submit_fit(self, job: FitJob) -> int:
        return self._submit(lambda: units.run_fit(job, self.spec))

    def submit_tune(self, job, files, case_ids, pp_name, metric) -> int:
        def work():
            predictor = self._predictor(job, files)
            items = []
            for cid in case_ids:
                case, pred, info = predictor.predict(cid, job.train_source)
                if case is None:
                    return {"ok": False, "params": {}, "error": f"tuning {pp_name}: {info['error']}"}
                items.append((case, pred))
            return units.tune(items, pp_name, metric, self.spec)

        return self._submit(work)

    def submit_case(self, job: FitJob, files: dict[str, bytes], case_id: str, rows: CaseRows) -> int:
        return self._submit(lambda: self._predictor(job, files).predict_and_score(case_id, rows))

    def wait(self) -> list[tuple[int, Any]]:
        if not self._queue:
            return []
        ticket, fn = self._queue.popleft()
        return [(ticket, fn())]

    def pending(self) -> int:
        return len(self._queue)

    def release(self, fit_key: str) -> None:
        self._predictors.pop(fit_key, None)

    def close(self) -> None:
        self._queue.clear()
        self._predictors.clear()

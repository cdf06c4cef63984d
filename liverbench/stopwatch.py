"""A stopwatch with named stages, used around every unit of work.

On CUDA the stopwatch synchronises the device before reading the clock at both ends of a
stage, otherwise asynchronous kernels would be charged to whichever stage happens to wait.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager


def _cuda_sync() -> None:
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
    except ImportError:  # torch is a dependency, but the stopwatch must not need it
        pass


class Stopwatch:
    def __init__(self, sync_cuda: bool = True) -> None:
        self.sync_cuda = sync_cuda
        self.totals: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str):
        if self.sync_cuda:
            _cuda_sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.sync_cuda:
                _cuda_sync()
            self.totals[name] += time.perf_counter() - start

    def add(self, name: str, seconds: float) -> None:
        self.totals[name] += seconds

    def as_dict(self, prefix: str = "t_") -> dict[str, float]:
        return {f"{prefix}{k}": v for k, v in self.totals.items()}

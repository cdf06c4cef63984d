"""Executors run the plan's units of work: `local` (in-process) and `ray` (a Ray cluster)."""

from liverbench.executors.base import Executor, make_executor

__all__ = ["Executor", "make_executor"]

"""Shared fixtures. Ray starts once per session (ray.init takes seconds)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Two cores: keep torch from oversubscribing when several things run at once.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    skip_real = pytest.mark.skip(reason=f"real data not found at {REAL_DATA}")
    has_cuda, has_real = _has_cuda(), REAL_DATA.is_dir()
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
        if "real" in item.keywords and not has_real:
            item.add_marker(skip_real)


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real data not found at {REAL_DATA}")
    return REAL_DATA


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance for the whole test session.

    num_cpus=2 like CI; num_gpus=1 declares a *logical* GPU (Ray accepts it without a device) so
    GPU scheduling is tested on GPU-less machines: a task asking for num_gpus=1 gets scheduled,
    and torch inside it still sees no CUDA and runs on the CPU.
    """
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, num_gpus=1, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    yield ray
    ray.shutdown()

"""Which device a process really computes on: the one place that asks PyTorch about CUDA."""

from __future__ import annotations

import logging


def resolve_device(requested: str | None, logger: logging.Logger | None = None) -> str:
    """"auto" (or None) -> "cuda" where a CUDA device is visible, else "cpu"; "cuda..." where
    none is visible (a GPU promised by the plan but hidden, or no CUDA build) -> "cpu", with a
    warning when a `logger` is given; anything else as asked."""
    requested = (requested or "auto").lower()
    if requested != "auto" and not requested.startswith("cuda"):
        return requested
    try:
        import torch

        visible = torch.cuda.is_available()
    except ImportError:
        visible = False
    if visible:
        return "cuda" if requested == "auto" else requested
    if requested != "auto" and logger is not None:
        logger.warning("device %r requested but CUDA is not available; using the CPU", requested)
    return "cpu"


def gpu_state(device: str) -> tuple[str, float | None]:
    """(GPU name, peak allocated MiB since the last reset) where CUDA is in use, else ("", None)."""
    if not device.startswith("cuda"):
        return "", None
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(), torch.cuda.max_memory_allocated() / 2**20
    except ImportError:
        pass
    return "", None


def reset_gpu_peak(device: str) -> None:
    """Start a new peak for `gpu_state` (where CUDA is in use)."""
    if device.startswith("cuda"):
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
        except ImportError:
            pass


def local_cuda_devices() -> float:
    """CUDA devices this process sees (0 without torch)."""
    try:
        import torch
    except ImportError:
        return 0.0
    return float(torch.cuda.device_count())

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

"""The run manifest: what produced the results (versions, git commit, host, CPUs, GPUs, plugins)."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

_PACKAGES = ("liverbench", "numpy", "scipy", "torch", "ray", "pandas", "pyarrow", "SimpleITK", "nibabel",
             "scikit-image", "pydensecrf2", "PyMaxflow", "edt")


def package_versions(names=_PACKAGES) -> dict[str, str | None]:
    out = {}
    for n in names:
        try:
            out[n] = importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            out[n] = None
    return out


def git_commit(path: Path | None = None) -> dict[str, Any]:
    """The commit of the liverbench checkout and whether it had uncommitted changes."""
    where = path or Path(__file__).resolve().parents[2]  # the checkout (liverbench/run/environment.py)
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                                capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def gpus() -> list[dict[str, Any]]:
    """The GPUs this host has. Asks torch only if it is already loaded (importing it costs the
    driver ~1.7 s before the first unit of work), `nvidia-smi` otherwise."""
    torch = sys.modules.get("torch")
    if torch is not None:
        if not torch.cuda.is_available():
            return []
        return [{"index": i, "name": torch.cuda.get_device_name(i),
                 "memory_mb": torch.cuda.get_device_properties(i).total_memory / 2**20}
                for i in range(torch.cuda.device_count())]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    found = []
    for line in out.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[0].isdigit():
            try:
                found.append({"index": int(parts[0]), "name": parts[1], "memory_mb": float(parts[2])})
            except ValueError:
                continue
    return found


def plugin_provenance(spec) -> dict[str, dict[str, Any]]:
    """Which distribution (and version) supplied every plugin of the run (a workspec.WorkSpec)."""
    from liverbench.plugins import registry

    out: dict[str, dict[str, Any]] = {}
    used = [("segmenter", spec.segmenters), ("postprocessor", spec.postprocessors), ("dataset", spec.datasets)]
    for kind, classes in used:
        for name, cls in classes.items():
            try:
                prov = dict(registry.provenance(kind, name))
                prov["class_version"] = getattr(cls, "version", None)
            except Exception as exc:  # noqa: BLE001 -- the manifest records, it does not judge
                prov = {"error": str(exc)}
            out[f"{kind}:{name}"] = prov
    return out


def manifest(spec=None, cluster: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "gpus": gpus(),
        "packages": package_versions(),
        "git": git_commit(),
        "plugins": plugin_provenance(spec) if spec else {},
        "cluster": cluster or {},
    }

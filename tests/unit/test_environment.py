"""The run manifest and the start-up path of a worker stay free of torch for torch-free methods
(importing it costs ~1-2 s per process, on the critical path before the first case)."""

import os
import subprocess
import sys
import textwrap

from liverbench.run import environment


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_manifest_and_seeding_do_not_import_torch():
    out = _run("""
        import sys
        from liverbench.run.environment import manifest
        from liverbench.run.units import seed_everything
        m = manifest()
        seed_everything(3)
        print("torch" in sys.modules, isinstance(m["gpus"], list))
    """)
    assert out == "False True"


def test_seeding_seeds_torch_once_a_plugin_loaded_it():
    out = _run("""
        import torch
        from liverbench.run.units import seed_everything
        seed_everything(5); a = torch.rand(3)
        seed_everything(5); b = torch.rand(3)
        print(bool((a == b).all()))
    """)
    assert out == "True"


def test_gpus_read_from_nvidia_smi_when_torch_is_not_loaded(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho '0, NVIDIA H200, 143771'\necho '1, NVIDIA H200, 143771'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert environment.gpus() == [{"index": 0, "name": "NVIDIA H200", "memory_mb": 143771.0},
                                  {"index": 1, "name": "NVIDIA H200", "memory_mb": 143771.0}]


def test_no_gpus_without_nvidia_smi_or_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert environment.gpus() == []

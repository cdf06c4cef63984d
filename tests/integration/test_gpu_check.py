"""The device check (benchmarks/gpu_check.py) runs: its CPU dry run on tiny phantoms, so the
script a lent GPU machine gets is known to work before device time is spent on it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


def test_gpu_check_dry_run_reports_every_method(tmp_path):
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    code = gpu_check.main(["--cpu-dry-run", "--iterations", "6", "--adv-iterations", "2", "--repeats", "1",
                           "--skip-run", "--out", str(tmp_path)])
    assert code == 0
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [f["method"] for f in result["training"]] == ["cnn3d", "dsn3d", "di2in", "di2in-adv"]
    for fit in result["training"]:
        assert fit["iterations_per_s"] > 0 and fit["loss_start"] > 0 and fit["loss_end"] > 0
    assert result["training"][-1]["adv_iterations"] == 2
    for inf in result["inference"]:
        assert inf["network_s"] > 0 and inf["predict_s"] > 0 and len(inf["grid_shape"]) == 3
    assert "| di2in-adv |" in (tmp_path / "gpu_check.md").read_text()

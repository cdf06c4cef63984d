"""SIGKILL the driver mid-run, resume: the final table equals an uninterrupted run's, no duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from test_engine_plugins import config, register_all

from liverbench.run import runner
from liverbench.run.store import ResultStore
from liverbench.schema import METRIC_COLUMNS

HERE = Path(__file__).resolve().parent

DRIVER = """
import sys
from pathlib import Path
sys.path.insert(0, {here!r})
from test_engine_plugins import config
from liverbench.run import runner
runner.run(config(Path({tmp!r}), **{kwargs!r}), quiet=True)
"""

KW = dict(name="killed", n_cases=6, methods=[{"name": "eng-hu", "params": {"sleep": 0.4}}],
          split={"kind": "fixed", "test_fraction": 0.5, "val_fraction": 0.0},
          pps=[{"name": "eng-close", "params": {}}, {"name": "eng-close", "params": {"per_slice": True}}],
          execution={"flush_every": 1})


def test_sigkill_driver_then_resume_equals_uninterrupted(tmp_path):
    register_all()
    script = DRIVER.format(here=str(HERE), tmp=str(tmp_path), kwargs=KW)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = tmp_path / "runs" / "killed" / "results"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(results.glob("part-*.parquet"))) < 2:
        if proc.poll() is not None:
            raise AssertionError(f"driver ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    partial = ResultStore(tmp_path / "runs" / "killed").rows()
    assert 0 < len(partial) < 9, "the kill should land mid-run"

    resumed = runner.run(config(tmp_path, **KW), quiet=True)
    assert resumed.exit_code == 0 and resumed.skipped == len(partial)
    clean = runner.run(config(tmp_path, **{**KW, "name": "clean"}), quiet=True)

    a = ResultStore(resumed.run_dir)
    b = ResultStore(clean.run_dir)
    # every row written exactly once: nothing that was stored got recomputed
    assert len(a.rows(include_superseded=True)) == len(a.rows()) == 9
    ta = a.rows().sort_values("row_key").reset_index(drop=True)
    tb = b.rows().sort_values("row_key").reset_index(drop=True)
    assert list(ta["row_key"]) == list(tb["row_key"])
    np.testing.assert_array_equal(ta[list(METRIC_COLUMNS)].to_numpy(), tb[list(METRIC_COLUMNS)].to_numpy())
    assert (ta["status"] == "ok").all()

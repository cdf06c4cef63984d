"""What a user sees while a run works: a plugin's ctx.progress reaches the bar (in-process and
from a Ray worker), and Ray's own INFO / WARNING lines are not printed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_engine_plugins import EngHU, config

from liverbench.plugins import registry
from liverbench.run import runner

HERE = Path(__file__).resolve().parent


class EngSlowFit(EngHU):
    """eng-hu with a fit long enough for the driver's watcher (every 2 s) to see its report."""

    name = "eng-slow-fit"

    def fit(self, train, val, ctx):
        ctx.progress(1, 2, "halfway there")
        time.sleep(3.0)
        super().fit(train, val, ctx)
        ctx.progress(2, 2, "done")


def test_ctx_progress_of_a_fit_reaches_the_bar(tmp_path, capsys):
    registry.register("segmenter", EngSlowFit.name, EngSlowFit, replace=True)
    try:
        out = runner.run(config(tmp_path, name="feedback", methods=[{"name": "eng-slow-fit", "params": {}}],
                                split={"kind": "fixed", "test_fraction": 0.5, "val_fraction": 0.0}), quiet=False)
    finally:
        registry.unregister("segmenter", EngSlowFit.name)
    assert out.exit_code == 0
    err = capsys.readouterr().err
    assert "| eng-slow-fit fold 0 seed 0: 1/2 halfway there" in err and "fits 0/1" in err
    assert "fits 1/1" in err


SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from pathlib import Path
from test_run_feedback import EngSlowFit
from test_engine_plugins import config
from liverbench.plugins import registry
from liverbench.run import runner
registry.register("segmenter", EngSlowFit.name, EngSlowFit, replace=True)
out = runner.run(config(Path({tmp!r}), name="ray-feedback", methods=[{{"name": "eng-slow-fit", "params": {{}}}}],
                        split={{"kind": "fixed", "test_fraction": 0.5, "val_fraction": 0.0}},
                        execution={{"backend": "ray", "num_cpus": 1}}), quiet=False)
print("EXIT", out.exit_code)
"""


@pytest.mark.slow
def test_a_ray_run_prints_no_ray_log_lines_and_shows_fit_progress(tmp_path):
    # a subprocess: the test session holds a Ray instance of its own, started before this one's options
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(here=str(HERE), tmp=str(tmp_path))],
                          capture_output=True, text=True, timeout=300)
    assert "EXIT 0" in proc.stdout, proc.stderr[-3000:]
    assert " INFO " not in proc.stderr and " WARNING " not in proc.stderr, proc.stderr[-3000:]
    assert "Started a local Ray instance" not in proc.stderr
    assert "| eng-slow-fit fold 0 seed 0: 1/2 halfway there" in proc.stderr, proc.stderr[-3000:]

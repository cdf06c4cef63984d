"""A two-node Ray cluster simulated on this machine (ray.cluster_utils.Cluster) runs a small plan.

It runs in a subprocess: the test session already holds its own local Ray instance, and one
process can be connected to only one cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_engine_plugins import config, register_all

from liverbench.run import runner
from liverbench.run.store import ResultStore
from liverbench.schema import METRIC_COLUMNS

HERE = Path(__file__).resolve().parent

SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, {here!r})
import ray
from ray.cluster_utils import Cluster

cluster = Cluster(initialize_head=True, head_node_args={{"num_cpus": 1}})
cluster.add_node(num_cpus=1)
cluster.wait_for_nodes()
# the backend connects through execution.ray.address itself, as `liverbench run` would
from test_engine_plugins import config
from liverbench.run import runner
out = runner.run(config(Path({tmp!r}), name="two-node", execution={{"backend": "ray", "ray": {{"address": cluster.address}}}}),
                 quiet=True)
print("RESULT " + json.dumps({{"exit": out.exit_code, "ok": out.n_ok, "summary": out.summary(),
                              "disconnected": not ray.is_initialized()}}))
cluster.shutdown()
"""


@pytest.mark.slow
def test_two_node_cluster_runs_a_plan(tmp_path):
    register_all()
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(here=str(HERE), tmp=str(tmp_path))],
                          capture_output=True, text=True, timeout=400)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert lines, f"rc={proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["exit"] == 0 and result["ok"] == 8, result["summary"]
    assert result["disconnected"]  # the executor connected, so it disconnected at the end
    store = ResultStore(tmp_path / "runs" / "two-node")
    assert store.manifest()["cluster"]["nodes"] == 2
    assert store.manifest()["cluster"]["resources"]["CPU"] == 2
    # the same numbers as the in-process executor
    local = runner.run(config(tmp_path, name="local"), quiet=True)
    a = store.rows().sort_values("row_key")
    b = ResultStore(local.run_dir).rows().sort_values("row_key")
    assert list(a["row_key"]) == list(b["row_key"])
    np.testing.assert_array_equal(a[list(METRIC_COLUMNS)].to_numpy(), b[list(METRIC_COLUMNS)].to_numpy())

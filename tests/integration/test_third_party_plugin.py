"""A third-party method, end to end: a tiny package with one entry-point line is pip-installed
into a temporary directory, and a fresh interpreter with that directory on PYTHONPATH lists it
(`liverbench methods`, with its distribution and version), passes the contract kit, predicts
and is scored, and runs inside a run config restricted by an allow-list.

README's "Register your own method" shows exactly this package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DIST, VERSION, NAME = "liverbench-hu-threshold", "0.3.0", "hu-threshold"

PYPROJECT = f"""\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{DIST}"
version = "{VERSION}"
dependencies = ["liverbench"]

[project.entry-points."liverbench.segmenters"]
{NAME} = "hu_threshold:HUThreshold"

[tool.setuptools]
py-modules = ["hu_threshold"]
"""

MODULE = '''\
"""A learning-free liver segmenter: the largest connected region inside a HU window."""

import json
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from liverbench import Prediction, Resources, Segmenter


class HUThreshold(Segmenter):
    name = "hu-threshold"  # the entry-point name
    version = "1"  # bump it whenever results would change: stored rows are keyed by it
    trainable = False
    predict_resources = Resources(num_cpus=1, memory_gb=1.0)

    def __init__(self, lo: float = 40.0, hi: float = 200.0):
        super().__init__(lo=lo, hi=hi)  # self.params: JSON-serialisable, hashed into result keys

    def predict(self, image, ctx):
        inside = (image.array >= self.params["lo"]) & (image.array <= self.params["hi"])
        labels, n = ndi.label(inside)
        if n:
            inside = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
        return Prediction(prob=inside.astype(np.float32))  # P(liver) on the image's own grid

    def save(self, directory):
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "params.json").write_text(json.dumps(self.params), encoding="utf-8")

    @classmethod
    def load(cls, directory):
        return cls(**json.loads((Path(directory) / "params.json").read_text(encoding="utf-8")))
'''

CHECK = """\
import inspect, json
from liverbench.plugins import registry
from liverbench.metrics import evaluate
from liverbench.data.phantom import make_phantom
from liverbench.plugins.base import Context
from liverbench.plugins.testing import check_segmenter

cls = registry.get_segmenter("hu-threshold")
check_segmenter(cls)
case = make_phantom(7, preset="tiny")
pred = cls(lo=40, hi=200).predict(case.image, Context(case_id=case.id))
metrics = evaluate(pred.prob >= 0.5, case.liver, case.image.spacing)
print(json.dumps({"provenance": registry.provenance("segmenter", "hu-threshold"),
                  "file": inspect.getfile(cls), "dice": metrics["dice"], "score": metrics["score"]}))
"""

RUN_CONFIG = """\
name = "third-party"
runs_dir = "{runs}"
[plugins]
allow = ["hu-threshold"]
[dataset]
name = "synthetic"
params = {{ n_cases = 2, preset = "tiny", seed = 0 }}
[split]
kind = "none"
[[methods]]
name = "hu-threshold"
params = {{ lo = 40, hi = 200 }}
[execution]
backend = "local"
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """Build and install the package with pip into its own directory; return the environment to use it."""
    root = tmp_path_factory.mktemp("third_party")
    pkg, site = root / "liverbench-hu-threshold", root / "site"
    pkg.mkdir()
    (pkg / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (pkg / "hu_threshold.py").write_text(MODULE, encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(site), str(pkg)],
        check=True, capture_output=True, text=True, timeout=300, cwd=root,
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("LIVERBENCH_PLUGIN_AUTOLOAD", None)
    env.pop("LIVERBENCH_PLUGINS", None)
    return {"env": env, "root": str(root), "site": str(site)}


def run(args: list[str], installed, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**installed["env"], **(extra_env or {})}
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, cwd=installed["root"])
    assert out.returncode == 0, f"{' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out


def test_listed_by_liverbench_methods_with_distribution_and_version(installed):
    out = run([sys.executable, "-m", "liverbench", "methods"], installed)
    line = next((ln for ln in out.stdout.splitlines() if ln.split()[:1] == [NAME]), None)
    assert line is not None, f"{NAME} not listed:\n{out.stdout}"
    assert f"{DIST} {VERSION}" in line
    assert "error" not in line.lower() and "cannot load" not in line


def test_passes_the_contract_kit_predicts_and_is_scored(installed):
    out = run([sys.executable, "-c", CHECK], installed)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["provenance"] == {"distribution": DIST, "version": VERSION, "entry_point": "hu_threshold:HUThreshold"}
    assert Path(result["file"]).parent == Path(installed["site"])  # imported from the pip-installed copy
    assert 0.0 <= result["dice"] <= 1.0 and 0.0 <= result["score"] <= 100.0


def test_autoload_off_blocks_it_until_allowed(installed):
    probe = "from liverbench.plugins import registry; print(registry.names('segmenter'))"
    blocked = run([sys.executable, "-c", probe], installed, {"LIVERBENCH_PLUGIN_AUTOLOAD": "0"})
    assert NAME not in blocked.stdout and "intensity" in blocked.stdout
    allowed = run([sys.executable, "-c", probe], installed,
                  {"LIVERBENCH_PLUGIN_AUTOLOAD": "0", "LIVERBENCH_PLUGINS": NAME})
    assert NAME in allowed.stdout


def test_runs_from_a_run_config_with_an_allow_list(installed):
    root = Path(installed["root"])
    config = root / "third-party.toml"
    config.write_text(RUN_CONFIG.format(runs=root / "runs"), encoding="utf-8")
    run([sys.executable, "-m", "liverbench", "run", str(config)], installed, {"LIVERBENCH_PLUGIN_AUTOLOAD": "0"})
    from liverbench.run.store import ResultStore

    rows = ResultStore(root / "runs" / "third-party").rows()
    assert set(rows["method"]) == {NAME} and (rows["status"] == "ok").all(), rows[["case_id", "status", "error"]]
    assert len(rows) == 2 and rows["dice"].between(0, 1).all()

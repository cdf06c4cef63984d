"""The public API: what `liverbench/__init__.py` re-exports, the Python way to start a run, and
the documented example of `Case` / `Volume`."""

from __future__ import annotations

import doctest
import subprocess
import sys

import pytest
from test_engine_plugins import register_all

import liverbench
from liverbench.errors import ConfigError
from liverbench.run.store import ResultStore


@pytest.mark.parametrize("name", liverbench.__all__)
def test_every_public_name_is_the_object_its_module_defines(name):
    obj = getattr(liverbench, name)
    module = sys.modules[obj.__module__]
    assert getattr(module, obj.__name__) is obj


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Segmentor'"):
        liverbench.Segmentor  # noqa: B018


def test_importing_the_package_loads_the_plugin_api_only():
    probe = ("import sys, liverbench; heavy = [m for m in ('liverbench.run.runner', 'liverbench.run.store', "
             "'liverbench.report', 'pandas', 'torch', 'ray') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_case_and_volume_example_runs():
    import liverbench.data.volume

    result = doctest.testmod(liverbench.data.volume)
    assert result.attempted >= 4 and result.failed == 0


def _raw(tmp_path, name):
    register_all()
    return {"name": name, "runs_dir": str(tmp_path / "runs"),
            "dataset": {"name": "eng-phantoms", "params": {"n_cases": 3}}, "split": {"kind": "kfold", "k": 3, "val_fraction": 0.0},
            "methods": [{"name": "eng-hu", "params": {}}], "postprocessors": [{"name": "eng-close"}],
            "execution": {"backend": "ray"}}


def test_run_benchmark_runs_a_dict_with_overrides_then_resumes_a_parsed_config(tmp_path):
    from liverbench.run.config import parse

    outcome = liverbench.run_benchmark(_raw(tmp_path, "api"), overrides=["execution.backend=local"],
                                       report=tmp_path / "report")
    assert outcome.exit_code == 0 and outcome.n_ok == 6 and outcome.computed == 6  # 3 folds of one case x (threshold, eng-close)
    assert (tmp_path / "report" / "report.md").is_file()
    again = liverbench.run_benchmark(parse({**_raw(tmp_path, "api"), "execution": {"backend": "local"}}))
    assert again.computed == 0 and again.skipped == 6  # resumed: every row already stored
    rows = liverbench.ResultStore(outcome.run_dir).rows()
    assert len(rows) == 6 and set(rows["postprocessor"]) == {"threshold", "eng-close"}
    assert ResultStore is liverbench.ResultStore


def test_run_benchmark_refuses_overrides_on_a_parsed_config(tmp_path):
    from liverbench.run.config import parse

    with pytest.raises(ConfigError, match="already parsed"):
        liverbench.run_benchmark(parse(_raw(tmp_path, "x")), overrides=["execution.backend=local"])

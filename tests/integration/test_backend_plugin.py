"""A third-party execution backend is one class: registered like any plugin, configured in its
own `[execution.<name>]` table, and run by the same scheduler as the built-ins."""

from __future__ import annotations

import pandas as pd
import pytest
from test_engine_plugins import config

from liverbench.backends.base import Backend, Future, ModelSession
from liverbench.errors import ConfigError
from liverbench.plugins import registry
from liverbench.plugins.base import Param
from liverbench.run import runner, units
from liverbench.run.store import ResultStore


def _value(arg):
    return arg.value if isinstance(arg, Future) else arg


class EagerSession(ModelSession):
    def __init__(self, backend, job, files):
        self.backend, self.predictor = backend, units.Predictor(job, files, backend.spec)

    def predict(self, case_id, source="dataset"):
        self.backend.calls.append("predict")
        return Future(value=self.predictor.predict(case_id, source))

    def predict_and_score(self, case_id, rows):
        self.backend.calls.append("predict_and_score")
        return Future(value=self.predictor.predict_and_score(case_id, rows))


class EagerBackend(Backend):
    """Runs every unit the moment it is submitted (with EagerSession, the whole backend)."""

    name = "eager"
    defaults = {"hand_off": False}
    param_checks = {"hand_off": Param(bool)}

    def __init__(self, spec, execution, options):
        super().__init__(spec, execution, options)
        self.calls: list[str] = []

    def available_gpus(self):
        return 0.0

    def submit(self, unit, *args, resources):
        self.calls.append(unit.__name__)
        return Future(value=unit(self.spec, *map(_value, args)))

    def open_session(self, job, files):
        return EagerSession(self, job, files)

    def scores_in_session(self, job):
        return not self.options["hand_off"]

    def wait(self, futures):
        return list(futures)


@pytest.fixture
def eager():
    registry.register("backend", "eager", EagerBackend, replace=True)
    yield
    registry.unregister("backend", "eager")


def _metrics(out):
    df = ResultStore(out.run_dir).rows()
    return df.sort_values(["case_id", "postprocessor", "fold"])[["case_id", "postprocessor", "dice", "voe"]]


@pytest.mark.parametrize("hand_off", [False, True])
def test_a_registered_backend_runs_a_plan_with_its_own_options(tmp_path, eager, hand_off):
    local = runner.run(config(tmp_path, name="local"), quiet=True)
    cfg = config(tmp_path, name=f"eager-{hand_off}", execution={"backend": "eager", "eager": {"hand_off": hand_off}})
    backend = EagerBackend(runner.resolve(cfg), cfg.execution, {"hand_off": hand_off})
    out = runner.run(cfg, quiet=True, backend=backend)
    assert out.exit_code == 0 and out.n_ok == local.n_ok == 8
    pd.testing.assert_frame_equal(_metrics(out).reset_index(drop=True), _metrics(local).reset_index(drop=True))
    # the scheduler composed the same work from the primitives, each way round
    assert ("refine_rows" in backend.calls) == hand_off and ("predict_and_score" in backend.calls) != hand_off
    assert ResultStore(out.run_dir).manifest()["cluster"]["backend"] == "eager"


def test_backend_options_are_checked_and_named(tmp_path, eager):
    cfg = config(tmp_path, execution={"backend": "eager", "eager": {"hand_off": True}})
    assert runner.resolve(cfg).backend_options == {"hand_off": True}
    assert runner.resolve(config(tmp_path, execution={"backend": "eager"})).backend_options == {"hand_off": False}
    with pytest.raises(ConfigError, match=r"execution\.eager\.hand_off: expected a boolean"):
        config(tmp_path, execution={"backend": "eager", "eager": {"hand_off": "yes"}})
    with pytest.raises(ConfigError, match=r"execution\.eager\.handoff: unknown parameter; did you mean 'hand_off'"):
        config(tmp_path, execution={"backend": "eager", "eager": {"handoff": True}})
    with pytest.raises(ConfigError, match=r"execution\.ray: options for a backend 'ray', but execution.backend = 'eager'"):
        config(tmp_path, execution={"backend": "eager", "ray": {"address": "x"}})
    with pytest.raises(ConfigError, match=r"execution\.backend: .*eagre"):
        config(tmp_path, execution={"backend": "eagre"})

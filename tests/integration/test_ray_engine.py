"""The Ray executor on the session's local Ray instance (2 CPUs, 1 logical GPU)."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_engine_plugins import config, register_all

from liverbench.run import runner
from liverbench.run.store import ResultStore
from liverbench.schema import METRIC_COLUMNS

RAY = {"backend": "ray", "ray": {"actors_per_model": 1}}
# One model keeps these tests quick (each prediction actor is a new process); the two-node
# test (test_ray_cluster.py) covers k-fold with several models.
ONE_FOLD = {"kind": "fixed", "test_fraction": 0.5, "val_fraction": 0.0}


@pytest.fixture(autouse=True)
def plugins():
    register_all()


def _table(run_dir):
    df = ResultStore(run_dir).rows().sort_values("row_key").reset_index(drop=True)
    return df


def test_local_and_ray_give_identical_metrics(tmp_path, ray_session):
    pps = [{"name": "eng-close", "params": {}}, {"name": "eng-close", "tune": True}]
    local = runner.run(config(tmp_path, name="local", split=ONE_FOLD, pps=pps), quiet=True)
    ray_out = runner.run(config(tmp_path, name="ray", split=ONE_FOLD, pps=pps, execution=RAY), quiet=True)
    assert local.exit_code == 0 and ray_out.exit_code == 0, ray_out.summary()
    a, b = _table(local.run_dir), _table(ray_out.run_dir)
    assert list(a["row_key"]) == list(b["row_key"])  # same plan, same keys
    np.testing.assert_array_equal(a[list(METRIC_COLUMNS)].to_numpy(), b[list(METRIC_COLUMNS)].to_numpy())
    assert list(a["pp_params"]) == list(b["pp_params"])  # tuning picked the same parameters
    # the run dir says which cluster ran it
    assert ResultStore(ray_out.run_dir).manifest()["cluster"]["backend"] == "ray"
    # ray still has its CPUs back: every actor was released
    assert ray_session.available_resources().get("CPU", 0) == pytest.approx(2)


def test_gpu_method_gets_the_logical_gpu(tmp_path, ray_session):
    out = runner.run(config(tmp_path, methods=[{"name": "eng-gpu", "params": {}}], execution=RAY,
                            split=ONE_FOLD), quiet=True)
    assert out.exit_code == 0, out.summary()
    store = ResultStore(out.run_dir)
    assert all(f.device == "cuda" and f.fit_resources.num_gpus == 1 for f in out.plan.fits)
    for fit_key in store.rows()["fit_key"].unique():
        state = json.loads(store.fit_files(fit_key)["state.json"])
        assert state["gpu_ids"] == ["0"]  # Ray scheduled the fit on the GPU slot
    # torch sees no CUDA device behind the logical GPU, so the work ran on the CPU
    assert (store.rows()["device"] == "cpu").all()


def _recording_cnn3d():
    """A tiny built-in cnn3d that writes, from inside its Ray worker, which GPU Ray gave it and
    which device reached it in the Context (one JSON file per fit / predict call)."""
    import ray

    from baselines.dou_dsn import CNN3D
    from liverbench.plugins.base import Param

    def record(log_dir, stage, ctx):
        entry = {"stage": stage, "gpu_ids": [str(g) for g in ray.get_gpu_ids()], "device": ctx.device,
                 "pid": os.getpid()}
        (Path(log_dir) / f"{stage}-{os.getpid()}-{time.monotonic_ns()}.json").write_text(json.dumps(entry))

    class RecordingCNN3D(CNN3D):
        name = "rec-cnn3d"
        param_checks = {**CNN3D.param_checks, "log_dir": Param(str)}

        @classmethod
        def param_defaults(cls, params):  # the preset's keys, plus this test's own
            defaults, known = super().param_defaults(params)
            return defaults, known | {"log_dir"}

        def __init__(self, log_dir: str = "", **params):
            super().__init__(**params)
            self.params["log_dir"] = log_dir

        def fit(self, train, val, ctx):
            record(self.params["log_dir"], "fit", ctx)
            super().fit(train, val, ctx)

        def predict(self, image, ctx):
            record(self.params["log_dir"], "predict", ctx)
            return super().predict(image, ctx)

    return RecordingCNN3D


def test_neural_method_fits_and_predicts_on_the_gpu_ray_gives_it(tmp_path, ray_session):
    from liverbench.plugins import registry

    cls = _recording_cnn3d()
    registry.register("segmenter", cls.name, cls, replace=True)
    log = tmp_path / "gpu-log"
    log.mkdir()
    params = {"log_dir": str(log), "preset": "cpu", "iterations": 2, "width": 0.25, "spacing_mm": 8.0,
              "patch": [16, 32, 32], "val_patches": 0}
    cfg = config(tmp_path, name="gpu-neural", methods=[{"name": cls.name, "params": params}], split=ONE_FOLD,
                 execution=RAY)
    planned = runner.dry_run(cfg, out=io.StringIO())
    assert planned.fits[0].device == "cuda" and planned.fits[0].fit_resources.num_gpus == 1
    assert planned.fits[0].predict_resources.num_gpus > 0
    assert "on cuda" in planned.summary()
    out = runner.run(cfg, quiet=True)
    assert out.exit_code == 0, out.summary()
    entries = [json.loads(f.read_text()) for f in log.iterdir()]
    assert {e["stage"] for e in entries} == {"fit", "predict"}
    # Ray scheduled the fit task and the prediction actors on the (logical) GPU, and the planned
    # device reached the method; torch sees no CUDA behind it, so the method fell back to the CPU
    assert all(e["gpu_ids"] == ["0"] and e["device"] == "cuda" for e in entries), entries
    rows = ResultStore(out.run_dir).rows()
    assert (rows["status"] == "ok").all() and (rows["device"] == "cpu").all()


def test_neural_methods_fall_back_to_the_cpu_without_gpus(tmp_path):
    from baselines.dou_dsn import CNN3D
    from liverbench.errors import ConfigError
    from liverbench.run.plan import build_plan
    from liverbench.run.workspec import resolve

    assert CNN3D.fit_resources.num_gpus == 1  # what it declares; the plan decides the rest
    cfg = config(tmp_path, methods=[{"name": "cnn3d", "params": {"preset": "cpu"}}], split=ONE_FOLD)
    folds = [{"fold": 0, "train": ["eng-000", "eng-001"], "val": [], "test": ["eng-002"]}]
    plan = build_plan(cfg, resolve(cfg), folds, "fp", None, available_gpus=0.0)
    assert plan.fits[0].device == "cpu" and plan.fits[0].fit_resources.num_gpus == 0
    assert plan.fits[0].predict_resources.num_gpus == 0 and "allow_cpu_fallback" in " ".join(plan.notes)
    strict = config(tmp_path, methods=[{"name": "cnn3d", "params": {"preset": "cpu"}}], split=ONE_FOLD,
                    execution={"allow_cpu_fallback": False})
    with pytest.raises(ConfigError, match="allow_cpu_fallback"):
        build_plan(strict, resolve(strict), folds, "fp", None, available_gpus=0.0)


def _refine_log(tmp_path, name, method, refine_in):
    """Run one model with eng-close logging; returns {(refining pid, predicting pid)}."""
    log = tmp_path / f"log-{name}"
    log.mkdir()
    out = runner.run(config(tmp_path, name=name, methods=[{"name": method, "params": {}}], split=ONE_FOLD,
                            pps=[{"name": "eng-close", "params": {"log_dir": str(log)}}],
                            execution={**RAY, "ray": {"actors_per_model": 1, "refine_in": refine_in}}), quiet=True)
    assert out.exit_code == 0, out.summary()
    return {tuple(int(x) for x in f.name.split("-")) for f in log.iterdir()}


def test_cpu_actor_refines_its_own_rows_gpu_actor_hands_off(tmp_path, ray_session):
    # CPU model, refine_in "auto": the prediction actor refines and scores in its own process
    pairs = _refine_log(tmp_path, "cpu-auto", "eng-hu", "auto")
    assert len(pairs) == 1 and all(r == p for r, p in pairs)
    # "tasks": the prediction goes to CPU tasks in other processes
    assert all(r != p for r, p in _refine_log(tmp_path, "cpu-tasks", "eng-hu", "tasks"))
    # a GPU actor never does CPU refinement: it would hold the GPU idle meanwhile
    assert all(r != p for r, p in _refine_log(tmp_path, "gpu-auto", "eng-gpu", "auto"))


def test_crashed_worker_is_retried_and_run_completes(tmp_path, ray_session):
    marker = tmp_path / "crashed-once"
    cfg = config(tmp_path, methods=[{"name": "eng-hu", "params": {"crash_marker": str(marker)}}],
                 split=ONE_FOLD,
                 execution={**RAY, "retries": 1})
    out = runner.run(cfg, quiet=True)
    assert marker.exists()  # the actor process really died mid-task
    assert out.exit_code == 0, out.summary()
    assert len(ResultStore(out.run_dir).rows()) == 4


def test_crash_beyond_retries_fails_rows_not_the_run(tmp_path, ray_session):
    marker = tmp_path / "crashed-once"
    cfg = config(tmp_path, methods=[{"name": "eng-hu", "params": {"crash_marker": str(marker)}}],
                 split=ONE_FOLD,
                 execution={**RAY, "retries": 0})
    out = runner.run(cfg, quiet=True)
    df = ResultStore(out.run_dir).rows()
    assert len(df) == 4 and out.exit_code == 1
    failed = df[df["status"] == "failed"]
    assert len(failed) >= 2 and failed["error"].str.contains("worker failed after 0 retries").all()


@pytest.mark.timeout(300)
def test_sigkill_of_a_prediction_worker_fails_its_rows_only_and_a_rerun_completes(tmp_path, ray_session):
    """A prediction actor killed from outside (SIGKILL, as the OOM killer does) mid-prediction:
    the rows it held fail naming the dead worker, every row is stored, the run ends (no hang),
    and `--retry-failed` computes just the failed rows."""
    import signal
    import threading

    marker = tmp_path / "hanging-pid"
    cfg = config(tmp_path, methods=[{"name": "eng-hu", "params": {"hang_marker": str(marker)}}],
                 split=ONE_FOLD, execution={**RAY, "retries": 0})
    outcome = {}
    driver = threading.Thread(target=lambda: outcome.update(first=runner.run(cfg, quiet=True)), daemon=True)
    driver.start()
    deadline = time.monotonic() + 120
    while not (marker.exists() and marker.read_text().strip()):
        assert driver.is_alive() and time.monotonic() < deadline, "the prediction never started"
        time.sleep(0.05)
    os.kill(int(marker.read_text()), signal.SIGKILL)
    driver.join(timeout=180)
    assert not driver.is_alive(), "the run hung after its worker was killed"
    first = outcome["first"]
    df = ResultStore(first.run_dir).rows()
    assert len(df) == len(first.plan.rows) == 4 and first.exit_code == 1
    failed = df[df["status"] == "failed"]
    # the killed case and any case queued on the same actor; every row is stored either way
    assert len(failed) >= 2 and failed["error"].str.contains("worker failed after 0 retries").all(), \
        failed["error"].iloc[0]
    ok_before = set(df.loc[df["status"] == "ok", "row_key"])

    again = runner.run(cfg, retry_failed=True, quiet=True)
    assert again.exit_code == 0 and again.computed == len(failed) and again.n_ok == 4, again.summary()
    rows = ResultStore(first.run_dir).rows()
    assert ok_before <= set(rows.loc[rows["status"] == "ok", "row_key"])

"""The engine end to end on the local executor: rows, timings, resume, failures, fits, tuning."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_engine_plugins import config, register_all

from liverbench.backends.local import LocalBackend
from liverbench.run import runner, units
from liverbench.run.store import ResultStore
from liverbench.run.workspec import resolve
from liverbench.schema import ALL_COLUMNS, METRIC_COLUMNS


@pytest.fixture(autouse=True)
def plugins():
    register_all()


def test_full_run_writes_the_store(tmp_path):
    cfg = config(tmp_path)
    out = runner.run(cfg, quiet=True)
    assert out.exit_code == 0 and out.computed == 8 and out.n_ok == 8
    store = ResultStore(out.run_dir)
    df = store.rows()
    assert tuple(df.columns) == ALL_COLUMNS and len(df) == 8 and df["row_key"].is_unique
    assert set(df["postprocessor"]) == {"eng-close", "threshold"}
    assert sorted(df["case_id"].unique()) == ["eng-000", "eng-001", "eng-002", "eng-003"]
    assert (df["status"] == "ok").all()
    assert df[list(METRIC_COLUMNS)].notna().all().all()
    assert (df["dice"] > 0.2).all()  # the toy model finds the liver
    for col in ("t_read", "t_preprocess", "t_predict", "t_refine", "t_metrics", "t_fit", "peak_rss_mb"):
        assert (df[col] >= 0).all(), col
    # one cold prediction per model (= per fold here), shared by that case's rows
    cold = df[df["cold"]]
    assert sorted(cold.groupby("fold")["case_id"].nunique()) == [1, 1]
    assert (df["device"] == "cpu").all() and (df["host"] != "").all()
    # run directory contents
    assert store.config()["name"] == "eng"
    assert store.manifest()["packages"]["numpy"]
    assert "segmenter:eng-hu" in store.manifest()["plugins"]
    assert len(store.splits()["folds"]) == 2
    curves = store.curves()
    assert set(curves["fold"]) == {0, 1} and set(curves["split"]) == {"train"} and len(curves) == 4
    for fit_key in df["fit_key"].unique():
        assert store.has_fit(fit_key) and "state.json" in store.fit_files(fit_key)


def test_resume_skips_finished_rows_and_reuses_fits(tmp_path, monkeypatch):
    cfg = config(tmp_path)
    first = runner.run(cfg, quiet=True)
    before = ResultStore(first.run_dir).rows()
    from liverbench.run import units

    def no_fit(*a, **k):
        raise AssertionError("a stored fit was recomputed")

    monkeypatch.setattr(units, "run_fit", no_fit)
    again = runner.run(cfg, quiet=True)
    assert again.computed == 0 and again.skipped == 8 and again.exit_code == 0
    after = ResultStore(first.run_dir).rows()
    pd.testing.assert_frame_equal(before, after)


def test_new_param_adds_rows_without_touching_old(tmp_path):
    cfg = config(tmp_path)
    runner.run(cfg, quiet=True)
    cfg2 = config(tmp_path, pps=[{"name": "eng-close", "params": {"per_slice": True}}])
    out = runner.run(cfg2, quiet=True)
    assert out.computed == 4 and out.skipped == 4  # threshold rows are the same rows
    df = ResultStore(out.run_dir).rows()
    assert len(df) == 12
    close = df[df["postprocessor"] == "eng-close"]
    assert set(close["pp_params"]) == {'{"log_dir":"","per_slice":false}', '{"log_dir":"","per_slice":true}'}
    assert df[df["postprocessor"] == "threshold"]["pp_params"].nunique() == 1


def test_failing_case_becomes_failed_row_and_run_goes_on(tmp_path):
    cfg = config(tmp_path, dataset={"name": "eng-phantoms", "params": {"n_cases": 4, "bad": ["eng-002"]}},
                 split={"kind": "fixed", "train": ["eng-000", "eng-001"], "test": ["eng-002", "eng-003"],
                        "val_fraction": 0.0})
    out = runner.run(cfg, quiet=True)
    df = ResultStore(out.run_dir).rows()
    failed = df[df["status"] == "failed"]
    assert set(failed["case_id"]) == {"eng-002"} and len(failed) == 2
    assert failed["error"].str.contains("eng-002").all() and failed["error"].str.contains("InputError").all()
    assert failed["score"].isna().all()
    assert (df[df["case_id"] != "eng-002"]["status"] == "ok").all()
    assert out.exit_code == 1 and out.n_failed == 2
    assert "eng-002" in out.summary() and "truncated" in out.summary()


def test_unreadable_training_case_fails_the_fit_naming_it(tmp_path):
    cfg = config(tmp_path, dataset={"name": "eng-phantoms", "params": {"n_cases": 4, "bad": ["eng-000"]}},
                 split={"kind": "fixed", "train": ["eng-000", "eng-001"], "test": ["eng-002", "eng-003"],
                        "val_fraction": 0.0})
    out = runner.run(cfg, quiet=True)
    df = ResultStore(out.run_dir).rows()
    assert (df["status"] == "failed").all() and len(df) == 4
    assert df["error"].str.contains("fit of eng-hu").all() and df["error"].str.contains("eng-000").all()


def test_retry_failed_reruns_only_failed_rows(tmp_path):
    flag = tmp_path / "fail-now"
    flag.write_text("x", encoding="utf-8")
    cfg = config(tmp_path, methods=[{"name": "eng-hu", "params": {"fail_if": str(flag)}}])
    out = runner.run(cfg, quiet=True)
    assert out.n_failed == 8
    assert ResultStore(out.run_dir).rows()["error"].str.contains("eng-hu predicting failed").all()
    flag.unlink()
    assert runner.run(cfg, quiet=True).computed == 0  # failed rows are kept without --retry-failed
    out = runner.run(cfg, quiet=True, retry_failed=True)
    assert out.computed == 8 and out.exit_code == 0
    df = ResultStore(out.run_dir).rows()
    assert len(df) == 8 and (df["status"] == "ok").all()


def test_failing_fit_fails_its_rows_only(tmp_path):
    cfg = config(tmp_path, methods=[{"name": "eng-hu", "params": {"fail_fit": True}},
                                     {"name": "eng-hu", "params": {}}])
    out = runner.run(cfg, quiet=True)
    df = ResultStore(out.run_dir).rows()
    bad = df[df["method_params"].str.contains("fail_fit\":true")]
    assert len(bad) == 8 and (bad["status"] == "failed").all()
    assert bad["error"].str.contains("fit diverged").all()
    assert (df.drop(bad.index)["status"] == "ok").all() and out.exit_code == 1


def test_save_predictions(tmp_path):
    from liverbench.data.io import read_volume

    cfg = config(tmp_path, execution={"save_predictions": True})
    out = runner.run(cfg, quiet=True)
    store = ResultStore(out.run_dir)
    rec = store.rows().iloc[0]
    vol = read_volume(store.prediction_path(rec["row_key"]))
    assert vol.array.dtype == np.uint8 and set(np.unique(vol.array)) <= {0, 1}


def test_dry_run_writes_nothing(tmp_path, capsys):
    cfg = config(tmp_path)
    plan = runner.dry_run(cfg)
    text = capsys.readouterr().out
    assert "2 fit(s), 8 row(s)" in text and "to compute: 8" in text
    assert len(plan.rows) == 8 and not (tmp_path / "runs").exists()


def test_train_dataset_to_external_test(tmp_path):
    cfg = config(tmp_path, train_dataset={"name": "eng-phantoms", "params": {"n_cases": 3, "seed": 10}},
                 split={"kind": "fixed", "val_fraction": 0.0})
    out = runner.run(cfg, quiet=True)
    df = ResultStore(out.run_dir).rows()
    assert out.exit_code == 0 and len(df) == 8 and set(df["fold"]) == {0}
    assert ResultStore(out.run_dir).splits()["folds"][0]["train"] == ["eng-000", "eng-001", "eng-002"]


def test_tuned_postprocessor(tmp_path):
    pytest.importorskip("liverbench.run.tuning")
    cfg = config(tmp_path, pps=[{"name": "eng-close", "tune": True}], split={"kind": "fixed", "test_fraction": 0.5,
                                                                             "val_fraction": 0.0})
    out = runner.run(cfg, quiet=True)
    df = ResultStore(out.run_dir).rows()
    assert out.exit_code == 0, out.summary()
    tuned = df[df["postprocessor"] == "eng-close"]
    assert len(tuned) == 2 and tuned["pp_params"].isin(['{"per_slice":false}', '{"per_slice":true}']).all()
    assert list((out.run_dir / "tuning").rglob("eng-close-score.json"))


class RecordingBackend(LocalBackend):
    """A local backend that reports `slots` CPUs and records, at every case submission, how many
    fits were still unfinished."""

    def __init__(self, spec, execution, slots):
        super().__init__(spec, execution, {})
        self.slots = slots
        self.fits_open: set = set()
        self.open_at_case: list[int] = []

    def cpu_slots(self):
        return self.slots

    def submit(self, unit, *args, resources):
        future = super().submit(unit, *args, resources=resources)
        if unit is units.run_fit:
            self.fits_open.add(future)
        return future

    def open_session(self, job, files):
        session = super().open_session(job, files)
        predict_and_score = session.predict_and_score

        def recording(case_id, rows):
            self.open_at_case.append(len(self.fits_open))
            return predict_and_score(case_id, rows)

        session.predict_and_score = recording
        return session

    def wait(self, futures):
        done = super().wait(futures)
        self.fits_open -= set(done)
        return done


@pytest.mark.parametrize("slots, cases_wait_for_fits", [(1.0, True), (float("inf"), False)])
def test_finished_models_wait_while_unfinished_fits_fill_the_cpus(tmp_path, slots, cases_wait_for_fits):
    cfg = config(tmp_path)  # two folds: two trainable fits of one CPU each
    ex = RecordingBackend(resolve(cfg), cfg.execution, slots)
    out = runner.run(cfg, quiet=True, backend=ex)
    assert out.exit_code == 0 and out.n_ok == 8
    assert ex.open_at_case and (max(ex.open_at_case) == 0) == cases_wait_for_fits

"""Figure helpers: which cases are shown, which planes, with which proportions; notes instead of
failures when data is missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_report_fakerun import fake_run, make_run  # noqa: F401 (fixture)

from liverbench.report import figures
from liverbench.report.overlays import OverlaysUnavailable, overlay_figures
from liverbench.report.run_data import load_run
from liverbench.report.tables import per_case_values


def test_best_median_worst_by_score_with_stable_ties():
    picks = figures.best_median_worst(pd.Series({"a": 90.0, "b": 70.0, "c": 80.0, "d": 60.0, "e": np.nan}))
    assert picks == [("best", "a"), ("median", "c"), ("worst", "d")]
    assert figures.best_median_worst(pd.Series({"x": 50.0, "y": 50.0})) == [("best", "x"), ("worst", "y")]
    assert figures.best_median_worst(pd.Series({"only": 1.0})) == [("best", "only")]


def test_planes_go_through_the_liver_centre_with_true_proportions():
    array = np.zeros((10, 20, 30), bool)
    array[2:5, 4:9, 10:21] = True  # centre (3, 6, 15)
    assert figures.liver_centre(array, np.zeros_like(array)) == (3, 6, 15)
    assert figures.liver_centre(np.zeros_like(array), np.zeros_like(array)) == (5, 10, 15)
    views = {name: (plane, aspect, origin) for name, plane, aspect, origin in
             figures.planes(array, (3, 6, 15), (2.5, 0.8, 0.5))}
    assert views["transverse"][0].shape == (20, 30) and views["transverse"][1] == 0.8 / 0.5
    assert views["sagittal"][0].shape == (10, 20) and views["sagittal"][1] == 2.5 / 0.8
    assert views["coronal"][0].shape == (10, 30) and views["coronal"][1] == 2.5 / 0.5
    assert views["transverse"][2] == "upper" and views["coronal"][2] == "lower"  # superior up


def test_overlays_are_drawn_from_saved_predictions(fake_run, tmp_path):
    run = load_run(fake_run)
    values = per_case_values(run.ok)
    drawn = overlay_figures(run, values, ["good + threshold"], tmp_path, lambda e: "g")
    assert len(drawn) == 1 and drawn[0][1] == tmp_path / "overlay_g.png"
    assert drawn[0][1].read_bytes()[:4] == b"\x89PNG"


def test_overlays_become_notes_when_predictions_or_data_are_missing(tmp_path):
    run_dir = make_run(tmp_path, save_predictions=False)
    run = load_run(run_dir)
    with pytest.raises(OverlaysUnavailable, match="saved no predictions"):
        overlay_figures(run, per_case_values(run.ok), ["good + threshold"], tmp_path, lambda e: "g")

    partly = make_run(tmp_path, name="partly")
    run = load_run(partly)
    values = per_case_values(run.ok)
    best = figures.best_median_worst(values[values["entry"] == "good + threshold"].set_index("case_id")["score"])[0][1]
    missing = run.ok[(run.ok["entry"] == "good + threshold") & (run.ok["case_id"] == best)]["row_key"].iloc[0]
    run.prediction_path(missing).unlink()
    drawn = overlay_figures(run, values, ["good + threshold"], tmp_path, lambda e: "g")
    notes = [d for _, d in drawn if isinstance(d, str)]
    assert len(drawn) == 2 and f"{best}: no saved prediction" in notes[0]  # the other cases are still drawn

    with_masks = make_run(tmp_path, name="gone")
    run = load_run(with_masks)
    run.config["dataset"] = {"name": "no-such-dataset", "params": {}}
    with pytest.raises(OverlaysUnavailable, match="cannot re-load the dataset's images.*no-such-dataset"):
        overlay_figures(run, per_case_values(run.ok), ["good + threshold"], tmp_path, lambda e: "g")


def test_curves_and_runtime_notes_when_nothing_was_recorded(tmp_path):
    empty = pd.DataFrame(columns=["fit_key", "method", "fold", "seed", "step", "split", "loss"])
    assert "no learning curves" in figures.learning_curves(empty, tmp_path / "c.png")
    profile = pd.DataFrame(columns=["entry", "device", "stage", "n", "warm_only", "median_s", "p90_s"])
    assert "no stage timings" in figures.runtime_chart(profile, None, [], tmp_path / "r.png")

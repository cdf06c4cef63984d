"""A metric is declared once: its declaration in `liverbench.schema` and its computation in
`liverbench.metrics` are all the store, the report, the terminal table and tuning need.

The tests add a metric (HD99) the way a contributor would, by monkeypatching only the schema's
declarations and the evaluation, and check that it reaches every table with its declared label
and format while no report module is touched.
"""

from __future__ import annotations

import importlib
import re

import numpy as np
import pytest
import test_report_fakerun
from test_report_fakerun import make_run

from liverbench import schema, tuning
from liverbench.metrics import evaluate
from liverbench.report import console, figures
from liverbench.report.contents import build_document
from liverbench.report.run_data import load_run
from liverbench.schema import MetricInfo
from liverbench.store import ResultStore

HD99 = MetricInfo("hd99", "HD99", "mm", False, 1, leaderboard=True)
measures = importlib.import_module("liverbench.metrics.evaluate")  # the module; the package exports the function


@pytest.fixture
def with_hd99(monkeypatch):
    """HD99 declared in the schema and computed beside the other surface measures."""
    monkeypatch.setattr(schema, "METRICS", schema.METRICS + (HD99,))
    surface, no_surface, fake = measures._surface_measures, measures._no_surface, test_report_fakerun.fake_metrics

    def with_surface(d_seg, d_ref, tolerance):
        hd99 = max(float(np.percentile(d_seg, 99)), float(np.percentile(d_ref, 99)))
        return surface(d_seg, d_ref, tolerance) | {"hd99": hd99}

    def without_surface(shape, spacing):  # the field-of-view diagonal, like every distance
        values = no_surface(shape, spacing)
        return values | {"hd99": values["maxd"]}

    def fake_row(rng, quality):  # the fake run's stand-in for evaluate
        values = fake(rng, quality)
        return values | {"hd99": values["maxd"] * 0.9}

    monkeypatch.setattr(measures, "_surface_measures", with_surface)
    monkeypatch.setattr(measures, "_no_surface", without_surface)
    monkeypatch.setattr(measures, "_IDENTICAL_SURFACES", measures._IDENTICAL_SURFACES | {"hd99": 0.0})
    monkeypatch.setattr(test_report_fakerun, "fake_metrics", fake_row)


def _table(doc, name):
    return next(t for t in doc.all_tables() if t.name == name)


def test_the_evaluation_returns_the_new_metric(with_hd99):
    seg = np.zeros((12, 12, 12), bool)
    ref = np.zeros_like(seg)
    seg[3:8, 3:8, 3:8] = True
    ref[4:9, 3:8, 3:8] = True
    result = evaluate(seg, ref, (1.0, 1.0, 1.0))
    assert set(result) == set(schema.METRIC_COLUMNS) | {"note"}
    assert result["hd95"] <= result["hd99"] <= result["maxd"]
    assert evaluate(seg, np.zeros_like(seg), (1.0, 1.0, 1.0))["hd99"] > 0  # missing surface: the diagonal


def test_the_store_keeps_it_as_a_float_column(with_hd99, tmp_path):
    rows = ResultStore(make_run(tmp_path, save_predictions=False)).rows()
    assert rows["hd99"].dtype == np.float64 and rows["hd99"].notna().sum() == len(rows) - 1  # one row failed


def test_the_report_shows_it_with_its_declared_label_and_format(with_hd99, tmp_path, monkeypatch):
    drawn, save = {}, figures._save

    def record_axes(fig, path):  # watches the figures, changes nothing
        drawn[path.stem] = [ax.get_xlabel() for ax in fig.axes]
        return save(fig, path)

    monkeypatch.setattr(figures, "_save", record_axes)
    run = load_run(make_run(tmp_path, save_predictions=False))
    doc = build_document(run, tmp_path / "figures")

    leaderboard = _table(doc, "leaderboard")
    headers = leaderboard.display_headers()
    # the schema's order: after Dice, the last declared leaderboard metric, before the score
    assert headers[headers.index("Dice") + 1:headers.index("Score")] == ["HD99 [mm]"]
    cells = [row[headers.index("HD99 [mm]")] for row in leaderboard.display_rows()]
    assert all(re.fullmatch(r"\d+\.\d", c) for c in cells)  # one decimal, as declared
    for row, cell in zip(leaderboard.data.itertuples(index=False), cells):
        mine = run.ok[(run.ok["method_label"] == row.method) & (run.ok["pp_label"] == row.postprocessor)]
        assert cell == f"{mine['hd99'].mean():.1f}"  # the mean over cases

    assert drawn["boxplots"][-2:] == ["HD99 [mm]", "SLiver07 score"]
    # not a SLiver07 measure: the per-case SLiver07 tables keep the challenge's layout
    assert all("hd99" not in t.data for t in doc.all_tables() if t.name.startswith("per_case_"))


def test_the_terminal_table_shows_it_beside_dice(with_hd99, tmp_path):
    rows = ResultStore(make_run(tmp_path, save_predictions=False)).rows()
    text = console.sliver07_table(rows[(rows["method"] == "good") & (rows["postprocessor"] == "threshold")])
    head, _, first, *_ = text.splitlines()
    assert head.endswith("    Dice  HD99 mm  HD95 mm     NSD   Score")
    assert re.fullmatch(r"\d+\.\d", first.split()[-4])  # one decimal, as declared


def test_tuning_ranks_it_by_its_declared_direction(with_hd99):
    assert tuning._ranking("hd99") == (False, False)
    assert tuning._ranking("rvd") == (False, True)  # signed: |RVD| is ranked
    assert tuning._ranking("rvd_score") == (True, False)

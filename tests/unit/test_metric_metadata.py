"""A metric is declared once: its declaration in `liverbench.metrics.declarations` (which names
its function) is all the evaluation, the store, the report, the terminal table and tuning need.

The tests add a surface metric (HD99) the way a contributor would, by one declaration and one
function, and check that `evaluate` computes it (the field-of-view diagonal where a surface is
missing, as declared), and that it reaches every table with its declared label and format
while no evaluation or report module is touched.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import test_report_fakerun
from test_report_fakerun import make_run

from liverbench import schema
from liverbench.metrics import declarations, evaluate
from liverbench.metrics.declarations import SURFACE, MetricInfo
from liverbench.report import console, figures
from liverbench.report.contents import build_document
from liverbench.report.run_data import load_run
from liverbench.run import tuning
from liverbench.run.store import ResultStore


def hd99(d_seg, d_ref, tolerance_mm):  # the one function a new surface metric needs
    return max(float(np.percentile(d_seg, 99)), float(np.percentile(d_ref, 99)))


HD99 = MetricInfo("hd99", "HD99", "mm", False, 1, SURFACE, hd99, leaderboard=True)  # and its one declaration


@pytest.fixture
def with_hd99(monkeypatch):
    """HD99 declared beside the other metrics; the fake run (a stand-in for evaluate) fills it too."""
    monkeypatch.setattr(declarations, "METRICS", declarations.METRICS + (HD99,))
    fake = test_report_fakerun.fake_metrics

    def fake_row(rng, quality):
        values = fake(rng, quality)
        return values | {"hd99": values["maxd"] * 0.9}

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
    missing = evaluate(seg, np.zeros_like(seg), (1.0, 1.0, 1.0))
    assert missing["hd99"] == missing["maxd"] == pytest.approx(np.sqrt(3 * 11**2))  # the field-of-view diagonal
    assert evaluate(seg, seg, (1.0, 1.0, 1.0))["hd99"] == 0.0
    assert evaluate(np.zeros_like(seg), np.zeros_like(seg), (1.0, 1.0, 1.0))["hd99"] == 0.0  # declared `identical`


def test_the_evaluation_loops_over_the_declarations(monkeypatch):
    """Each metric comes from its declaration's function: changing one changes that column only."""
    seg = np.zeros((12, 12, 12), bool)
    seg[3:8, 3:8, 3:8] = True
    ref = np.roll(seg, 1, axis=0)
    before = evaluate(seg, ref, (1.0, 1.0, 1.0))
    tweaked = tuple(m if m.column != "jaccard" else MetricInfo(**{**m.__dict__, "compute": lambda c: 0.25})
                    for m in declarations.METRICS)
    monkeypatch.setattr(declarations, "METRICS", tweaked)
    after = evaluate(seg, ref, (1.0, 1.0, 1.0))
    assert after["jaccard"] == 0.25
    assert {k: v for k, v in after.items() if k != "jaccard"} == {k: v for k, v in before.items() if k != "jaccard"}


def test_every_metric_declares_a_family_and_every_column_has_one():
    assert {declarations.family(c) for c in schema.METRIC_COLUMNS} == {"overlap", "surface", "score"}
    assert declarations.family("asd") == "surface" and declarations.family("dice") == "overlap"
    assert declarations.family("asd_score") == declarations.family("score") == "score"
    with pytest.raises(ValueError, match="family"):
        MetricInfo("x", "X", "", True, 2, "volume", hd99)


def test_the_report_sections_read_their_metrics_from_flags(monkeypatch):
    from liverbench.report import findings, tables

    assert tables.gain_metrics() == ["voe", "asd", "maxd", "dice"]
    assert tables.distribution_metrics() == ["asd", "dice"]
    assert findings.context_metrics() == ["voe", "asd", "dice"]
    monkeypatch.setattr(declarations, "METRICS", declarations.METRICS + (
        MetricInfo("hd99", "HD99", "mm", False, 1, SURFACE, hd99, gain=True, context=True),))
    assert tables.gain_metrics()[-1] == findings.context_metrics()[-1] == "hd99"


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

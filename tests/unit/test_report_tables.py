"""Report tables against values computed independently from the stored rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_report_fakerun import fake_run, make_run  # noqa: F401 (fixture)

from liverbench.report import tables
from liverbench.report.run_data import load_run
from liverbench.run.store import ResultStore
from liverbench.schema import METRIC_COLUMNS

SLIVER = ["voe", "voe_score", "rvd", "rvd_score", "asd", "asd_score", "rmsd", "rmsd_score", "maxd", "maxd_score",
          "score"]


def _raw(run_dir) -> pd.DataFrame:
    return ResultStore(run_dir).rows()


def test_per_case_table_matches_rows_and_average_row_is_computed_the_sliver07_way(fake_run):
    run, raw = load_run(fake_run), _raw(fake_run)
    table = tables.sliver07_table(run.ok, "bad + threshold")
    expected = raw[(raw.method == "bad") & (raw.postprocessor == "threshold") & (raw.status == "ok")]
    expected = expected.sort_values("case_id")
    assert list(table["case_id"]) == list(expected["case_id"]) + ["Average"]
    assert "case-02" not in set(table["case_id"])  # the failed row is not a case of the table
    np.testing.assert_allclose(table.iloc[:-1][SLIVER].to_numpy(float), expected[SLIVER].to_numpy(float))
    average = table.iloc[-1]
    assert average["rvd"] == pytest.approx(np.mean(expected["rvd"].to_numpy()))  # signed, may cancel
    assert average["rvd"] != pytest.approx(np.mean(np.abs(expected["rvd"].to_numpy())))
    assert average["score"] == pytest.approx(np.mean(expected["score"].to_numpy()))
    assert average["maxd_score"] == pytest.approx(np.mean(expected["maxd_score"].to_numpy()))


def test_leaderboard_ranks_by_mean_score_and_counts_failures(fake_run):
    run, raw = load_run(fake_run), _raw(fake_run)
    board = tables.leaderboard(run.rows)
    ok = raw[raw.status == "ok"]
    means = ok.groupby(["method", "postprocessor"])["score"].mean().sort_values(ascending=False)
    assert [tuple(x) for x in board[["method", "postprocessor"]].to_numpy()] == list(means.index)
    # bad + threshold failed on one case: scored on 5 cases, it is ranked in a case set of its own
    assert list(board["rank"]) == [1, 2, 3, 1] and list(board["case_set"]) == ["A", "A", "A", "B"]
    row = board.set_index("entry").loc["bad + threshold"]
    assert (row["n_cases"], row["n_failed"]) == (5, 1)
    assert row["score"] == pytest.approx(means[("bad", "threshold")])
    # runtime: warm rows only (the cold first case took 50 s to predict); 0.2 + median(2..6) + 0.5
    assert board.set_index("entry").loc["good + threshold", "runtime_s"] == pytest.approx(0.2 + 4.0 + 0.5)


def test_entry_without_successful_rows_is_listed_last_and_unranked(tmp_path):
    run_dir = make_run(tmp_path, fail=[("bad", "threshold", i) for i in range(6)], save_predictions=False)
    board = tables.leaderboard(load_run(run_dir).rows)
    assert board.iloc[-1]["entry"] == "bad + threshold"
    assert np.isnan(board.iloc[-1]["rank"]) and board.iloc[-1]["n_failed"] == 6
    assert board.iloc[-1]["case_set"] == "" and set(board.iloc[:-1]["case_set"]) == {"A"}


def test_distribution_view_matches_numpy(fake_run):
    run, raw = load_run(fake_run), _raw(fake_run)
    dist = tables.distribution(run.ok, ["good + threshold"]).iloc[0]
    ok = raw[(raw.status == "ok") & (raw.method == "good") & (raw.postprocessor == "threshold")]
    assert dist["asd_std"] == pytest.approx(np.std(ok["asd"], ddof=1))
    assert dist["asd_max"] == pytest.approx(ok["asd"].max())
    assert dist["dice_min"] == pytest.approx(ok["dice"].min())
    assert dist["dice_median"] == pytest.approx(np.median(ok["dice"]))


def test_refinement_gain_is_paired_against_threshold(fake_run):
    gain = tables.refinement_gain(load_run(fake_run).ok).set_index("method")
    good = gain.loc["good"]
    assert good["d_score_mean"] == pytest.approx(np.mean([0.5 + 0.1 * i for i in range(6)]))
    assert (good["wins"], good["ties"], good["losses"]) == (6, 0, 0)
    assert good["p_value"] == pytest.approx(2 / 2**6)  # exact two-sided signed-rank p, all six positive
    bad = gain.loc["bad"]
    assert bad["n_cases"] == 5 and bad["ties"] == 5 and bad["p_value"] == 1.0


def test_runtime_profile_uses_warm_rows_and_counts_each_fit_once(fake_run):
    profile = tables.runtime_profile(load_run(fake_run).ok, ["good + threshold", "bad + threshold"])
    predict = profile[(profile.entry == "good + threshold") & (profile.stage == "predict")].iloc[0]
    assert predict["warm_only"] and predict["n"] == 5 and predict["median_s"] == pytest.approx(4.0)
    assert predict["p90_s"] == pytest.approx(np.percentile([2, 3, 4, 5, 6], 90))
    fit = profile[(profile.entry == "good + threshold") & (profile.stage == "fit")].iloc[0]
    assert fit["n"] == 1 and fit["median_s"] == 30.0
    assert profile[(profile.entry == "bad + threshold") & (profile.stage == "fit")].empty  # not trained
    wide = tables.runtime_profile_wide(profile)
    assert wide.set_index("entry").loc["good + threshold", "predict"] == "4.00 / 5.60"


def test_failed_rows_show_the_error_message_not_the_traceback(fake_run):
    failed = tables.failed_rows(load_run(fake_run).rows)
    assert len(failed) == 1
    assert failed.iloc[0]["error"] == "RuntimeError: out of memory in <refine>"


def test_cases_seen_under_several_seeds_count_once():
    rows = pd.DataFrame({
        "entry": ["m + t"] * 3, "method_label": ["m"] * 3, "pp_label": ["t"] * 3, "case_id": ["a", "a", "b"],
        **{c: [10.0, 20.0, 60.0] for c in METRIC_COLUMNS},
    })
    values = tables.per_case_values(rows).set_index("case_id")
    assert values.loc["a", "score"] == 15.0 and values.loc["b", "score"] == 60.0
    assert tables.score_matrix(rows)["m + t"].mean() == pytest.approx(37.5)  # not (10+20+60)/3


def test_variants_of_one_method_get_distinct_labels(tmp_path):
    run_dir = make_run(tmp_path, methods={"good": 3.0}, pps=("threshold",), fail=(), save_predictions=False)
    store = ResultStore(run_dir)
    rows = store.rows()
    rows.loc[rows.index[:3], "method_params"] = json.dumps({"lr": 0.1})
    for row in rows.to_dict("records"):
        row["row_key"] += "-v"
        store.append(row)
    store.flush()
    labels = set(load_run(run_dir).rows["entry"])
    assert labels == {"good (defaults) + threshold", "good (lr=0.1) + threshold"}


def test_cells_never_show_nan_or_negative_zero_and_seconds_avoid_exponents():
    from liverbench.report.document import MISSING, Table, seconds

    table = Table("t", "t", pd.DataFrame({"a": [np.nan, -0.0001, 1.234], "b": [1e-5, 0.00189, 87.25]}),
                  formats={"a": ".2f", "b": seconds})
    assert table.display_rows() == [[MISSING, "<0.0001"], ["0.00", "0.0019"], ["1.23", "87.2"]]
    assert [seconds(v) for v in (0.0, 4.7, 1234.5)] == ["0", "4.70", "1234"]


def test_tuned_rows_are_told_from_a_fixed_variant_by_their_stored_parameters():
    from liverbench.report.run_data import tuned_rows, variant_labels

    class Store:  # the stored tuning result of model "f1" only
        def tuned_params(self, fit_key, name, metric):
            return {"mu1": 4.0} if (fit_key, name, metric) == ("f1", "densecrf", "score") else None

    rows = pd.DataFrame({"fit_key": ["f1", "f1", "f1"], "method": ["m"] * 3, "method_version": ["1"] * 3,
                         "method_params": ["{}"] * 3, "postprocessor": ["densecrf", "densecrf", "threshold"],
                         "pp_version": ["1"] * 3, "pp_params": ['{"mu1": 4.0}', '{"mu1": 9.0}', "{}"]})
    config = {"postprocessors": [{"name": "densecrf", "tune": True, "metric": "score"},
                                 {"name": "densecrf", "params": {"mu1": 9.0}, "tune": False},
                                 {"name": "threshold", "tune": False}]}
    tuned = tuned_rows(rows, config, Store())
    assert list(tuned) == [True, False, False]
    _, pp_labels = variant_labels(rows, tuned)
    assert list(pp_labels) == ["densecrf (tuned)", "densecrf (mu1=9.0)", "threshold"]
    # Without a fixed variant every row of a tuned refinement is tuned, failed ones included.
    only_tuned = {"postprocessors": config["postprocessors"][:1]}
    assert list(tuned_rows(rows, only_tuned, Store())) == [True, True, False]

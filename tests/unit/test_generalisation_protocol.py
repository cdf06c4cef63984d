"""benchmarks/generalisation.py's adoption rule and tables (issue 29): a candidate is adopted
only if it gains on the suite and loses on no real case; tables are per case."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import generalisation as gen  # noqa: E402


def rows(label: str, dice: dict[str, float]) -> list[dict]:
    group = {"ircadb1_01": "manual", "ircadb1_17": "manual", "ts_example_ct": "model-output"}
    return [{"label": label, "variant": "threshold", "case": case, "group": group.get(case, "suite"), "dice": d,
             "score": 50.0, "rvd": 0.0, "maxd": 20.0} for case, d in dice.items()]


REF = {"ircadb1_01": 0.93, "ircadb1_17": 0.92, "ts_example_ct": 0.90, "suite-a": 0.80, "suite-b": 0.85}


def test_a_suite_gain_that_loses_no_real_case_is_adopted():
    cand = {**REF, "suite-a": 0.84, "ircadb1_01": 0.9305}
    v = gen.verdict(rows("ref", REF), rows("cand", cand))
    assert v["adopt"] and v["suite_better"] == 1 and v["suite_mean_dice_gain"] == pytest.approx(0.02)


def test_a_suite_gain_that_loses_one_real_case_is_not_adopted():
    cand = {**REF, "suite-a": 0.90, "suite-b": 0.90, "ts_example_ct": 0.88}
    v = gen.verdict(rows("ref", REF), rows("cand", cand))
    assert not v["adopt"] and v["real_losses"] == {"ts_example_ct": -0.02}


def test_gaining_on_the_real_cases_alone_is_not_enough():
    cand = {**REF, "ircadb1_01": 0.96, "ircadb1_17": 0.95, "suite-a": 0.79}
    assert not gen.verdict(rows("ref", REF), rows("cand", cand))["adopt"]


def test_tables_are_per_case_with_each_group_apart():
    table = gen.per_case_table(rows("ref", REF) + rows("cand", {**REF, "suite-a": 0.84}))
    assert "| manual | ircadb1_17 | 0.920 / 50.0 / +0.0 / 20 | 0.920 / 50.0 / +0.0 / 20 |" in table
    assert "| suite | mean Dice (n = 2) | 0.825 | 0.845 |" in table
    assert "| model-output | mean Dice (n = 1) |" in table


def test_compare_names_the_file_that_holds_no_rows(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"not": "rows"}), encoding="utf-8")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(rows("ref", REF)), encoding="utf-8")
    with pytest.raises(SystemExit, match="bad.json does not hold generalisation rows"):
        gen.main(["compare", str(good), str(bad)])
    with pytest.raises(SystemExit, match="--set 'iterations': expected KEY=VALUE"):
        gen.parse_sets(["iterations"])


def test_every_intensity_stage_switch_is_a_parameter_of_the_baseline():
    from baselines.intensity import IntensityBaseline

    for stage, params in gen.INTENSITY_STAGES.items():
        resolved = IntensityBaseline(**params).params
        assert all(resolved[k] == v for k, v in params.items()), stage


def test_a_suite_gain_within_the_tolerance_is_no_gain():
    # a stage that changes nothing (+0.0000 in floating point) must not read as justified
    cand = {**REF, "suite-a": 0.80 + 1e-9}
    assert not gen.verdict(rows("ref", REF), rows("cand", cand))["adopt"]

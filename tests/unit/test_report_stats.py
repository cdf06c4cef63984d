"""Wilcoxon with Holm, bootstrap CIs and rank stability: shapes, edge cases, sanity."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from liverbench.report import stats


def _matrix(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=[f"case-{i:02d}" for i in range(n)])


def test_identical_samples_give_p_one_without_warnings():
    x = np.array([80.0, 75.0, 90.0, 60.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = stats.paired_wilcoxon(x, x.copy())
    assert result["p_value"] == 1.0 and result["n"] == 4 and result["mean_diff"] == 0.0


def test_wilcoxon_matches_the_exact_distribution_and_drops_nan_pairs():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan])
    y = x - np.array([0.5, 0.7, 0.2, 0.9, 0.4, 0.3, 1.0])
    result = stats.paired_wilcoxon(x, y)
    assert result["n"] == 6
    assert result["p_value"] == pytest.approx(2 / 2**6)  # all six differences positive: 2 of 64 sign patterns
    assert np.isnan(stats.paired_wilcoxon([np.nan], [1.0])["p_value"])


def test_holm_against_hand_computed_values():
    adjusted = stats.holm([0.01, 0.04, np.nan, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    np.testing.assert_allclose(adjusted, [0.03, 0.06, np.nan, 0.06, 0.02])
    assert np.all(np.isnan(stats.holm([np.nan, np.nan])))


def test_pairwise_table_covers_every_pair_and_adjusts_upwards():
    rng = np.random.default_rng(0)
    matrix = _matrix({name: rng.normal(70 + 3 * i, 5, 12) for i, name in enumerate("abcde")})
    table = stats.pairwise_wilcoxon(matrix)
    assert len(table) == 10
    assert {(a, b) for a, b in table[["entry_a", "entry_b"]].to_numpy()} == set(itertools.combinations("abcde", 2))
    assert np.all(table["p_holm"] >= table["p_value"] - 1e-12) and np.all(table["p_holm"] <= 1)


def test_a_clearly_better_method_is_significant_and_keeps_rank_one():
    rng = np.random.default_rng(1)
    base = rng.normal(70, 5, 20)
    matrix = _matrix({"best": base + 15 + rng.normal(0, 1, 20), "mid": base + rng.normal(0, 1, 20),
                      "twin": base + rng.normal(0, 1, 20)})
    pairs = stats.pairwise_wilcoxon(matrix).set_index(["entry_a", "entry_b"])
    assert pairs.loc[("best", "mid"), "significant"] and pairs.loc[("best", "twin"), "significant"]
    stability = stats.rank_stability(matrix).set_index("entry")
    assert stability.loc["best", "rank"] == 1 and stability.loc["best", "stability"] > 0.99
    # two methods that differ by noise only swap places often
    assert stability.loc["mid", "stability"] < 0.95 or stability.loc["twin", "stability"] < 0.95


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    rng = np.random.default_rng(2)
    matrix = _matrix({"a": rng.normal(80, 4, 15), "b": rng.normal(60, 4, 15)})
    first, second = stats.bootstrap_ci(matrix, seed=3), stats.bootstrap_ci(matrix, seed=3)
    pd.testing.assert_frame_equal(first, second)
    for row in first.itertuples():
        assert row.ci_low < row.mean < row.ci_high
        assert row.ci_high - row.ci_low < 4 * 4 / np.sqrt(15) * 1.5  # about +-1.96 standard errors
    assert not stats.bootstrap_ci(matrix, seed=4).equals(first)


def test_bootstrap_edge_cases_few_cases_and_constant_scores():
    matrix = pd.DataFrame({"four": [70.0, 60.0, 65.0, 75.0, np.nan], "flat": [50.0] * 5,
                           "five": [70.0, 60.0, 65.0, 75.0, 72.0]}, index=list("vwxyz"))
    ci = stats.bootstrap_ci(matrix).set_index("entry")
    assert ci.loc["four", "n_cases"] == 4 and np.isnan(ci.loc["four", "ci_low"])  # no CI below 5 cases
    assert ci.loc["five", "ci_low"] < ci.loc["five", "ci_high"]
    assert ci.loc["flat", "ci_low"] == ci.loc["flat", "ci_high"] == 50.0
    assert np.isnan(stats.mean_difference_ci([1.0, 2.0, 3.0, 4.0])[0])
    assert stats.paired_wilcoxon([1, 2, 3, 4], [1, 2, 0, 0])["n_untied"] == 2


def test_rank_stability_keeps_entries_with_missing_cases_and_ties_share_a_rank():
    matrix = pd.DataFrame({"a": [90.0, 80.0, np.nan], "b": [90.0, 80.0, 70.0], "c": [90.0, 80.0, np.nan]},
                          index=["x", "y", "z"])
    stability = stats.rank_stability(matrix).set_index("entry")
    assert stability.loc["a", "rank"] == stability.loc["c", "rank"] == 1 and stability.loc["b", "rank"] == 3
    assert stability.loc["a", "n_cases"] == 2 and stability.loc["b", "n_cases"] == 3
    assert stability.loc["a", "stability"] == stability.loc["c", "stability"]  # identical columns stay tied
    assert 0 < stability.loc["b", "stability"] < 1  # b ties with a and c whenever z is not drawn
    assert stability.loc["a", "stability"] > 0.9  # a loses rank 1 only when z alone is drawn
    assert stats.rank_stability(matrix.iloc[:0]).empty

"""Findings: verdicts from the numbers (thresholds, direction, n too small), claims skipped when
the run lacks an entry, one Holm family over claims and refinement gains. The per-case scores
are built so that each answer is known before the test runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from liverbench.report import findings as fd
from liverbench.report.stats import holm
from liverbench.schema import METRIC_COLUMNS


def _rows(scores: dict[tuple[str, str], np.ndarray]) -> pd.DataFrame:
    """Successful rows, one per (method, refinement, case), with the given SLiver07 scores."""
    records = []
    for (method, pp), values in scores.items():
        for i, value in enumerate(values):
            if np.isnan(value):
                continue  # that case is missing for this entry
            record = {c: 0.0 for c in METRIC_COLUMNS}
            record.update(score=float(value), dice=float(value) / 100, voe=100 - float(value), asd=10 - value / 10)
            records.append({"method": method, "postprocessor": pp, "method_label": method, "pp_label": pp,
                            "entry": f"{method} + {pp}", "case_id": f"case-{i:02d}", **record})
    return pd.DataFrame.from_records(records)


def _base(n: int) -> np.ndarray:
    return np.linspace(40.0, 70.0, n) + np.random.default_rng(0).normal(0, 3, n)


def test_smallest_n_follows_the_exact_signed_rank_bound():
    assert fd.smallest_n(1) == 6  # 2/2**5 = 0.0625 >= 0.05; 2/2**6 = 0.031
    assert fd.smallest_n(17) == 10  # 17 * 2/2**9 = 0.066; 17 * 2/2**10 = 0.033
    assert fd.too_few_cases(9, 17) and not fd.too_few_cases(10, 17)


@pytest.mark.parametrize("n, diff, p_holm, family, expected", [
    (36, +2.0, 0.001, 17, fd.REPRODUCED),
    (36, -2.0, 0.001, 17, fd.CONTRADICTED),  # significant, but the other way round
    (36, +2.0, 0.20, 17, fd.NOT_SIGNIFICANT),  # could have been shown, was not
    (36, +2.0, 0.0499, 17, fd.REPRODUCED),
    (36, +2.0, 0.05, 17, fd.NOT_SIGNIFICANT),  # the threshold is strict
    (9, +9.0, 0.001, 17, fd.INCONCLUSIVE),  # 9 cases cannot beat a family of 17 (whatever p says)
    (1, +9.0, 1.0, 1, fd.INCONCLUSIVE),
])
def test_claim_verdict(n, diff, p_holm, family, expected):
    assert fd.claim_verdict(n, diff, p_holm, family) == expected


def test_gain_verdict():
    assert fd.gain_verdict(20, +1.0, 0.01, 3) == fd.GAIN
    assert fd.gain_verdict(20, -1.0, 0.01, 3) == fd.LOSS
    assert fd.gain_verdict(20, +1.0, 0.3, 3) == fd.NOT_SIGNIFICANT
    assert fd.gain_verdict(20, 0.0, 1.0, 3) == fd.NOT_SIGNIFICANT
    assert fd.compare_verdict(20, -1.0, 0.01, 3) == fd.B_BETTER and fd.compare_verdict(20, 1.0, 0.01, 3) == fd.A_BETTER
    assert fd.gain_verdict(5, +1.0, 0.01, 3) == fd.INCONCLUSIVE


def test_claims_with_known_answers_and_one_holm_family():
    n = 16
    base = _base(n)
    wiggle = np.where(np.arange(n) % 2 == 0, 1.0, -1.0) * (1 + np.arange(n) / n)  # symmetric: no effect
    rows = _rows({
        ("cnn3d", "threshold"): base,
        ("dsn3d", "threshold"): base + 5.0 + 0.1 * np.arange(n),  # DSN better on every case
        ("cnn3d", "densecrf"): base - 3.0,  # the CRF hurts the CNN on every case
        ("dsn3d", "densecrf"): base + 5.0 + 0.1 * np.arange(n) + wiggle,  # no effect on the DSN
        ("intensity", "threshold"): base - 10.0,
    })
    result = fd.findings(rows)
    claims = result.claims.set_index("claim")

    dsn = claims.loc["the deeply supervised 3D network (DSN) beats the plain 3D CNN"]
    assert (dsn["entry_a"], dsn["entry_b"], dsn["n_cases"]) == ("dsn3d + threshold", "cnn3d + threshold", n)
    assert dsn["mean_diff"] == pytest.approx(5.0 + 0.1 * np.arange(n).mean())
    assert dsn["ci_low"] <= dsn["mean_diff"] <= dsn["ci_high"] and dsn["ci_low"] > 5.0
    assert dsn["d_dice"] == pytest.approx(dsn["mean_diff"] / 100)
    assert dsn["verdict"] == fd.REPRODUCED
    assert dsn["p_value"] == pytest.approx(2 / 2**n)  # every difference positive: exact p

    crf_cnn = claims.loc["the CRF improves the plain 3D CNN"]
    assert crf_cnn["mean_diff"] == pytest.approx(-3.0) and crf_cnn["ci_low"] == crf_cnn["ci_high"] == -3.0
    assert crf_cnn["verdict"] == fd.CONTRADICTED  # significant, but a loss
    assert claims.loc["the CRF improves the DSN", "verdict"] == fd.NOT_SIGNIFICANT  # no significant effect
    assert set(result.claims["ci_kind"]) == {"unadjusted"}
    assert claims.loc["the CRF improves the DSN", "p_value"] > 0.5

    # The family: 3 claims tested (the two CRF ones are also refinement gains) -> 3 distinct tests.
    assert result.family_size == 3
    raw = [sps.wilcoxon(rows[rows.entry == a].score.to_numpy(), rows[rows.entry == b].score.to_numpy()).pvalue
           for a, b in (("dsn3d + threshold", "cnn3d + threshold"), ("cnn3d + densecrf", "cnn3d + threshold"),
                        ("dsn3d + densecrf", "dsn3d + threshold"))]
    np.testing.assert_allclose(result.claims["p_holm"], holm(raw))

    gains = result.gains.set_index("method")
    assert set(gains.index) == {"cnn3d", "dsn3d"}  # intensity has no refinement
    assert gains.loc["cnn3d", "verdict"] == fd.LOSS and gains.loc["dsn3d", "verdict"] == fd.NOT_SIGNIFICANT
    assert gains.loc["cnn3d", "p_holm"] == pytest.approx(claims.loc["the CRF improves the plain 3D CNN", "p_holm"])

    # Claims about methods the run lacks are skipped, naming what is missing.
    assert len(result.skipped) == 3
    assert any("DI2IN-AN" in s and "di2in-adv + threshold and di2in + threshold" in s for s in result.skipped)


def test_too_few_cases_is_inconclusive_even_when_every_case_agrees():
    n = 5
    base = _base(n)
    rows = _rows({("cnn3d", "threshold"): base, ("dsn3d", "threshold"): base + 20.0,
                  ("dsn3d", "densecrf"): base + 25.0})
    result = fd.findings(rows)
    assert set(result.claims["verdict"]) == {fd.INCONCLUSIVE}
    assert set(result.gains["verdict"]) == {fd.INCONCLUSIVE}
    assert result.smallest_n == 7  # family of 2: 2 * 2/2**6 = 0.0625, 2 * 2/2**7 = 0.031


def test_paired_on_the_common_cases_only_and_one_case_has_no_ci():
    base = _base(12)
    partial = base + 4.0
    partial[3:] = np.nan  # the refinement succeeded on three cases only
    rows = _rows({("di2in", "threshold"): base, ("di2in", "graphcut"): partial})
    gain = fd.findings(rows).gains.iloc[0]
    assert gain["n_cases"] == 3 and gain["mean_diff"] == pytest.approx(4.0)
    single = base.copy()
    single[1:] = np.nan
    gain = fd.findings(_rows({("di2in", "threshold"): base, ("di2in", "graphcut"): single})).gains.iloc[0]
    assert gain["n_cases"] == 1 and np.isnan(gain["ci_low"]) and gain["verdict"] == fd.INCONCLUSIVE


def test_a_run_without_any_comparison_has_an_empty_family():
    result = fd.findings(_rows({("intensity", "threshold"): _base(8)}))
    assert result.family_size == 0 and result.claims.empty and result.gains.empty
    assert len(result.skipped) == len(fd.PAPER_CLAIMS)


def test_summary_counts_claims_and_their_variant_comparisons():
    # Two parameter sets of di2in-adv against one di2in of neither: one claim, two comparisons,
    # and the summary must say both numbers rather than "tested 1: ... 2 inconclusive".
    from liverbench.report.contents import _findings

    base = _base(4)
    rows = _rows({("di2in", "threshold"): base, ("di2in-adv", "threshold"): base + 1.0})
    adv = rows["method"] == "di2in-adv"
    variants = []
    for suffix in ("(b)", "(c)"):
        variant = rows[adv].copy()
        variant["method_label"], variant["entry"] = f"di2in-adv {suffix}", f"di2in-adv {suffix} + threshold"
        variants.append(variant)
    section = _findings(pd.concat([rows[~adv], *variants], ignore_index=True))
    assert section.paragraphs[0] == ("This run answered 2 questions in one family; of the papers' 6 claims it "
                                     "tested 1 in 2 comparisons (one per pair of variants): 2 inconclusive "
                                     "(n too small).")
    # the five claims it cannot test: one line, not five paragraphs
    assert section.paragraphs[1] == ("5 of the papers' 6 claims need methods or refinements this run does not "
                                     "have and are not shown.")
    assert not any("Not tested" in p for p in section.paragraphs)
    single = _findings(rows).paragraphs[0]
    assert single == ("This run answered 1 question in one family; of the papers' 6 claims it tested 1: "
                      "1 inconclusive (n too small).")


def test_method_claims_compare_variants_with_the_same_parameters():
    # dsn3d and cnn3d each run with and without one setting: the claim compares like with like
    # (two comparisons), not every variant of one with every variant of the other (four).
    base = _base(4)
    rows = _rows({("cnn3d", "threshold"): base, ("dsn3d", "threshold"): base + 2.0})
    variants = rows.copy()
    variants["method_label"] = variants["method"] + " (balance=dataset)"
    variants["entry"] = variants["method_label"] + " + threshold"
    result = fd.findings(pd.concat([rows, variants], ignore_index=True))
    dsn = result.claims[result.claims["claim"] == "the deeply supervised 3D network (DSN) beats the plain 3D CNN"]
    assert sorted(zip(dsn["entry_a"], dsn["entry_b"])) == [
        ("dsn3d (balance=dataset) + threshold", "cnn3d (balance=dataset) + threshold"),
        ("dsn3d + threshold", "cnn3d + threshold")]
    # with no matching variant, every pair is compared
    lone = variants[variants["method"] == "dsn3d"]
    result = fd.findings(pd.concat([rows[rows["method"] == "cnn3d"], lone], ignore_index=True))
    assert len(result.claims) == 1


def test_tied_cases_do_not_count_towards_the_cases_needed():
    # 36 cases, 29 identical: the signed-rank test uses 7 pairs, too few for a family of 2
    # even though every untied case improves; counted by all 36 it would pass.
    n = 36
    base = _base(n)
    refined = base.copy()
    refined[:7] += 3.0
    rows = _rows({("cnn3d", "threshold"): base, ("cnn3d", "largest-component"): refined,
                  ("dsn3d", "threshold"): base + 2.0 + 0.01 * np.arange(n)})
    result = fd.findings(rows)
    gain = result.gains.iloc[0]
    assert (gain["n_cases"], gain["n_untied"]) == (36, 7)
    assert result.family_size == 2 and result.smallest_n == 7  # a family of 2 needs 7 untied cases
    assert fd.too_few_cases(6, 2) and not fd.too_few_cases(7, 2)
    # 7 untied pairs all positive: exact p = 2/2**7 = 0.0156, Holm x2 = 0.031 -> a gain
    assert gain["verdict"] == fd.GAIN
    refined[6] = base[6]  # now 6 untied: inconclusive whatever p says
    gain = fd.findings(_rows({("cnn3d", "threshold"): base, ("cnn3d", "largest-component"): refined,
                              ("dsn3d", "threshold"): base + 2.0 + 0.01 * np.arange(n)})).gains.iloc[0]
    assert gain["n_untied"] == 6 and gain["verdict"] == fd.INCONCLUSIVE


def test_no_bootstrap_ci_below_five_cases():
    base = _base(12)
    for n, has_ci in ((4, False), (5, True)):
        partial = base + 4.0 + 0.1 * np.arange(12)
        partial[n:] = np.nan
        gain = fd.findings(_rows({("di2in", "threshold"): base, ("di2in", "graphcut"): partial})).gains.iloc[0]
        assert gain["n_cases"] == n and np.isfinite(gain["ci_low"]) == has_ci


def test_own_comparisons_join_the_family_and_bad_names_are_reported():
    n = 16
    base = _base(n)
    rows = _rows({("intensity", "threshold"): base, ("intensity", "largest-component"): base + 0.5 * (np.arange(n) % 3),
                  ("mine", "threshold"): base + 4.0 + 0.1 * np.arange(n)})
    asked = fd.parse_comparisons({"compare": [{"a": "mine", "b": "intensity + largest-component"},
                                              {"a": "mine + threshold", "b": "nosuch"}]})
    result = fd.findings(rows, comparisons=asked)
    assert len(result.comparisons) == 1 and result.family_size == 2  # the comparison + the one gain
    own = result.comparisons.iloc[0]
    assert (own["entry_a"], own["entry_b"]) == ("mine + threshold", "intensity + largest-component")
    assert own["verdict"] == fd.A_BETTER and own["ci_kind"] == "unadjusted"
    raw = [sps.wilcoxon(rows[rows.entry == a].score.to_numpy(), rows[rows.entry == b].score.to_numpy()).pvalue
           for a, b in (("mine + threshold", "intensity + largest-component"),
                        ("intensity + largest-component", "intensity + threshold"))]
    assert own["p_holm"] == pytest.approx(holm(raw)[0])
    assert result.unanswered == ["report.compare[1]: b = 'nosuch' is not an entry with successful rows in this run "
                                 "(entries: 'intensity + threshold', 'intensity + largest-component', "
                                 "'mine + threshold')."]
    # the questions frame the forest plot draws: every tested question, in one frame
    questions = result.questions()
    assert list(questions["kind"]) == ["comparison", "gain"]

"""Statistics on per-case SLiver07 scores: paired Wilcoxon signed-rank tests between entries
with Holm's correction, bootstrap 95 % confidence intervals of mean scores, and the stability
of the ranking under bootstrap resampling of the cases.

The input is a cases x entries matrix (`tables.score_matrix`); the paired unit is the case.
Everything random is drawn from `numpy.random.default_rng(seed)`, so a report is reproducible.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy import stats

N_BOOTSTRAP = 2000
CONFIDENCE = 0.95
# Below this many cases a percentile bootstrap has so few distinct resamples that its interval
# says more about the resampling than about the population: no interval is given.
MIN_BOOTSTRAP_CASES = 5


def paired_wilcoxon(x: np.ndarray, y: np.ndarray) -> dict:
    """Two-sided Wilcoxon signed-rank test of x against y (paired, NaN pairs dropped).

    Identical samples give p = 1 (no evidence of a difference) rather than scipy's
    degenerate-variance warning; fewer than one pair gives NaN (shown as missing). `n_untied`
    counts the pairs the test uses: tied pairs (difference 0) drop out of the signed-rank test.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    diff = x - y
    result = {"n": int(len(diff)), "n_untied": int(np.count_nonzero(diff)),
              "mean_diff": float(diff.mean()) if len(diff) else np.nan, "statistic": np.nan, "p_value": np.nan}
    if len(diff) == 0:
        return result
    if np.all(diff == 0):
        result.update(statistic=0.0, p_value=1.0)
        return result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # small-n normal approximation notes
        test = stats.wilcoxon(x, y, zero_method="wilcox", alternative="two-sided")
    result.update(statistic=float(test.statistic), p_value=float(test.pvalue))
    return result


def smallest_wilcoxon_p(n_cases: int) -> float:
    """The smallest two-sided p an exact signed-rank test on `n_cases` pairs can give: every
    difference of one sign is 2 of the 2**n equally likely sign patterns."""
    return 2.0 / 2.0 ** n_cases if n_cases > 0 else 1.0


def mean_difference_ci(diff, seed=0, n_boot: int = N_BOOTSTRAP,
                       confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of paired differences (cases resampled).

    Fewer than `MIN_BOOTSTRAP_CASES` differences give no interval (NaN, NaN); differences that
    are all equal give a zero-width one (scipy would warn about a degenerate distribution).
    """
    diff = np.asarray(diff, float)
    diff = diff[np.isfinite(diff)]
    if len(diff) < MIN_BOOTSTRAP_CASES:
        return np.nan, np.nan
    if np.ptp(diff) == 0:
        return float(diff[0]), float(diff[0])
    result = stats.bootstrap((diff,), np.mean, n_resamples=n_boot, confidence_level=confidence,
                             method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error); NaN stays NaN and is not counted."""
    p = np.asarray(p_values, float)
    adjusted = np.full_like(p, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = len(valid)
    if m == 0:
        return adjusted
    order = valid[np.argsort(p[valid], kind="mergesort")]
    running = 0.0
    for i, index in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[index]))  # monotone: never below an earlier one
        adjusted[index] = running
    return adjusted


def pairwise_wilcoxon(matrix: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Every pair of entries (columns, in the given order: a is the better-ranked one), tested
    on the cases both have, with Holm-adjusted p-values over all pairs."""
    records = []
    for a, b in itertools.combinations(matrix.columns, 2):
        test = paired_wilcoxon(matrix[a].to_numpy(), matrix[b].to_numpy())
        records.append({"entry_a": a, "entry_b": b, "n_cases": test["n"], "mean_diff": test["mean_diff"],
                        "statistic": test["statistic"], "p_value": test["p_value"]})
    table = pd.DataFrame.from_records(records, columns=["entry_a", "entry_b", "n_cases", "mean_diff", "statistic",
                                                        "p_value"])
    table["p_holm"] = holm(table["p_value"].to_numpy()) if len(table) else []
    table["significant"] = table["p_holm"] < alpha
    return table


def _resample_indices(n_cases: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_cases, size=(n_boot, n_cases))


def bootstrap_ci(matrix: pd.DataFrame, n_boot: int = N_BOOTSTRAP, seed: int = 0,
                 confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Percentile bootstrap CI of each entry's mean score over its own successful cases.

    scipy's percentile bootstrap, seeded per entry; BCa is not used because with the handful
    of test cases typical here it is often degenerate. Fewer than `MIN_BOOTSTRAP_CASES` cases
    give no interval (missing).
    """
    records = []
    for position, entry in enumerate(matrix.columns):
        scores = matrix[entry].dropna().to_numpy(float)
        low = high = np.nan
        if len(scores) >= MIN_BOOTSTRAP_CASES and np.ptp(scores) == 0:
            low = high = float(scores[0])
        elif len(scores) >= MIN_BOOTSTRAP_CASES:
            result = stats.bootstrap((scores,), np.mean, n_resamples=n_boot, confidence_level=confidence,
                                     method="percentile", rng=np.random.default_rng([seed, position]))
            low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        records.append({"entry": entry, "n_cases": len(scores), "mean": float(scores.mean()) if len(scores) else np.nan,
                        "ci_low": low, "ci_high": high})
    return pd.DataFrame.from_records(records, columns=["entry", "n_cases", "mean", "ci_low", "ci_high"])


def rank_stability(matrix: pd.DataFrame, n_boot: int = N_BOOTSTRAP, seed: int = 0) -> pd.DataFrame:
    """How often each entry keeps its observed rank when the cases are resampled.

    Each resample draws cases with replacement and ranks every entry by its mean score over
    the drawn cases it has (so an entry that failed on one case is not dropped, and observed
    ranks equal the leaderboard's). Best = 1; ties share the better rank; an entry with none
    of the drawn cases ranks last in that resample.
    """
    columns = ["entry", "rank", "stability", "rank_low", "rank_high", "n_cases"]
    matrix = matrix.dropna(axis=0, how="all")
    if matrix.empty or matrix.shape[1] == 0:
        return pd.DataFrame(columns=columns)
    scores = matrix.to_numpy(float)  # cases x entries, NaN where an entry has no result
    observed = stats.rankdata(-np.nanmean(scores, axis=0), method="min")
    draws = scores[_resample_indices(len(scores), n_boot, seed)]  # n_boot x cases x entries
    counts = np.isfinite(draws).sum(axis=1)
    sums = np.nansum(draws, axis=1)
    boot_means = np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf)
    boot_ranks = stats.rankdata(-boot_means, axis=1, method="min")
    low = np.quantile(boot_ranks, 0.025, axis=0, method="lower")  # ranks are integers: no interpolation
    high = np.quantile(boot_ranks, 0.975, axis=0, method="higher")
    records = [
        {"entry": entry, "rank": int(observed[j]), "stability": float(np.mean(boot_ranks[:, j] == observed[j])),
         "rank_low": float(low[j]), "rank_high": float(high[j]), "n_cases": int(np.isfinite(scores[:, j]).sum())}
        for j, entry in enumerate(matrix.columns)
    ]
    return pd.DataFrame.from_records(records, columns=columns).sort_values("rank", kind="mergesort").reset_index(
        drop=True)

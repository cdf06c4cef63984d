"""Findings: the seed papers' claims, the user's own comparisons and each refinement's gain,
tested on this run's cases.

The claims in `PAPER_CLAIMS` and the gain questions (each refinement against `threshold` on the
same predictions) are fixed in code before the run; the user's own questions come from the
run's config (`[[report.compare]] a = "..."; b = "..."`). Together they form one family: each
is a paired two-sided Wilcoxon signed-rank test on per-case SLiver07 scores, and their p-values
are Holm-corrected together. The all-pairs tables elsewhere in the report are exploratory. A
verdict follows from the numbers alone (`claim_verdict`, `compare_verdict`, `gain_verdict`),
never from what the papers found; the papers' figures are shown for context only. The CIs are
per question (unadjusted for the family); only the p-values are corrected.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from liverbench import schema
from liverbench.report import stats
from liverbench.report.tables import per_case_values
from liverbench.schema import SCORE

ALPHA = 0.05
BASELINE = "threshold"

REPRODUCED = "reproduced"
CONTRADICTED = "contradicted"  # significant in the direction opposite to the claim
NOT_SIGNIFICANT = "not significant"
INCONCLUSIVE = "inconclusive (n too small)"
GAIN, LOSS = "gain", "loss"
A_BETTER, B_BETTER = "A better", "B better"
CI_KIND = "unadjusted"  # shown beside each verdict: the CIs are not corrected for the family


@dataclass(frozen=True)
class Comparison:
    """A user's own question (`[[report.compare]]`): is entry `a` different from entry `b`?"""

    a: str
    b: str
    key: str  # where it was asked, for messages: "report.compare[0]"


@dataclass(frozen=True)
class Claim:
    source: str
    text: str
    better: tuple[str, str]  # (method name, post-processor name) the paper says is better
    worse: tuple[str, str]
    paper: str  # what the paper reports: context for the reader, never an input to a verdict


PAPER_CLAIMS = (
    Claim("Dou et al. 2016", "the deeply supervised 3D network (DSN) beats the plain 3D CNN",
          ("dsn3d", BASELINE), ("cnn3d", BASELINE),
          "Table 1, leave-one-out on 20 SLiver07 scans: VOE 7.68 → 6.27 %, AvgD 1.56 → 1.32 mm"),
    Claim("Dou et al. 2016", "the CRF improves the plain 3D CNN", ("cnn3d", "densecrf"), ("cnn3d", BASELINE),
          "Table 1: VOE 7.68 → 5.64 %, AvgD 1.56 → 0.89 mm"),
    Claim("Dou et al. 2016", "the CRF improves the DSN", ("dsn3d", "densecrf"), ("dsn3d", BASELINE),
          "Table 1: VOE 6.27 → 5.37 %, AvgD 1.32 → 0.67 mm"),
    Claim("Yang et al. 2017", "DI2IN-AN (adversarial) beats DI2IN", ("di2in-adv", BASELINE), ("di2in", BASELINE),
          "Table 1, 50 unseen CT, 400 training volumes: ASD 2.25 → 2.00 mm, Dice 0.94 → 0.94"),
    Claim("Yang et al. 2017", "CRF refinement makes DI2IN worse", ("di2in", BASELINE), ("di2in", "densecrf"),
          "Section 3: 'the results became worse' (leakage on scans without contrast; no figures given)"),
    Claim("Yang et al. 2017", "graph-cut refinement makes DI2IN worse", ("di2in", BASELINE), ("di2in", "graphcut"),
          "Section 3: 'the results became worse' (no figures given)"),
)


def smallest_n(family_size: int, alpha: float = ALPHA) -> int:
    """Fewest paired cases with which any test of a Holm family of `family_size` can reach
    `alpha`: Holm multiplies the smallest p by the family size, and the smallest p an exact
    signed-rank test on n cases gives is 2 / 2**n."""
    n = 1
    while max(family_size, 1) * stats.smallest_wilcoxon_p(n) >= alpha:
        n += 1
    return n


def too_few_cases(n: int, family_size: int, alpha: float = ALPHA) -> bool:
    return n < smallest_n(family_size, alpha)


def _verdict(n_untied: int, mean_diff: float, p_holm: float, family_size: int, alpha: float,
             better: str, worse: str) -> str:
    """`n_untied` counts the pairs the signed-rank test uses (tied pairs drop out), so a
    comparison with many ties needs as many untied pairs as any other to be conclusive."""
    if too_few_cases(n_untied, family_size, alpha):
        return INCONCLUSIVE
    if p_holm < alpha and mean_diff != 0:
        return better if mean_diff > 0 else worse
    return NOT_SIGNIFICANT


def claim_verdict(n_untied: int, mean_diff: float, p_holm: float, family_size: int, alpha: float = ALPHA) -> str:
    """`mean_diff` is claimed-better minus claimed-worse. Reproduced / contradicted: significant
    after the family's correction, in / against the claimed direction. Not significant: the
    number of cases could have shown it, and did not. Inconclusive: too few untied cases for any
    test to succeed."""
    return _verdict(n_untied, mean_diff, p_holm, family_size, alpha, REPRODUCED, CONTRADICTED)


def compare_verdict(n_untied: int, mean_diff: float, p_holm: float, family_size: int, alpha: float = ALPHA) -> str:
    """`mean_diff` is A minus B: A better, B better, not significant, or too few untied cases."""
    return _verdict(n_untied, mean_diff, p_holm, family_size, alpha, A_BETTER, B_BETTER)


def gain_verdict(n_untied: int, mean_diff: float, p_holm: float, family_size: int, alpha: float = ALPHA) -> str:
    """`mean_diff` is refinement minus threshold: a gain, a loss, not significant, or too few untied cases."""
    return _verdict(n_untied, mean_diff, p_holm, family_size, alpha, GAIN, LOSS)


@dataclass
class Findings:
    claims: pd.DataFrame  # one row per tested claim (per pair of variants, when a name has several)
    comparisons: pd.DataFrame  # one row per [[report.compare]] question the run could answer
    gains: pd.DataFrame  # one row per method x refinement against threshold
    skipped: list[str] = field(default_factory=list)  # paper claims this run could not test, with the reason
    unanswered: list[str] = field(default_factory=list)  # the user's questions it could not answer, and why
    family_size: int = 0
    alpha: float = ALPHA

    @property
    def smallest_n(self) -> int:
        return smallest_n(self.family_size, self.alpha)

    def questions(self) -> pd.DataFrame:
        """Every tested question of the family in one frame (`question`, `kind`, effect, CI, verdict),
        claims first, then the user's comparisons, then the gains: what the forest plot draws."""
        parts = [
            self.claims.assign(kind="claim", question=self.claims["claim"]),
            self.comparisons.assign(kind="comparison",
                                    question=self.comparisons["entry_a"] + " vs " + self.comparisons["entry_b"]),
            self.gains.assign(kind="gain", question=self.gains["method"] + ": " + self.gains["postprocessor"]
                              + " vs " + self.gains["baseline"]),
        ]
        columns = ["kind", "question", "verdict", *_effect_columns()]
        parts = [p[columns] for p in parts if len(p)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def context_metrics() -> list[str]:
    """Mean differences shown for context beside the score's (declared `context`): the measures the papers report."""
    return [m.column for m in schema.METRICS if m.context]


def _effect_columns() -> list[str]:
    return ["n_cases", "n_untied", "mean_diff", "ci_low", "ci_high", "p_value", "p_holm",
            *(f"d_{c}" for c in context_metrics())]


# The verdict next to the question, so it shows without scrolling a wide table; beside it,
# what kind of CI stands behind it. Then the effect columns (and, for a claim, "paper").
CLAIM_COLUMNS = ["source", "claim", "verdict", "ci_kind", "entry_a", "entry_b"]
COMPARE_COLUMNS = ["entry_a", "entry_b", "verdict", "ci_kind"]
GAIN_COLUMNS = ["method", "postprocessor", "baseline", "verdict", "ci_kind"]


def _entries(ok: pd.DataFrame, method: str, pp: str) -> list[tuple[str, str]]:
    """(entry, method label) of every variant of `method` + `pp` with a successful row."""
    match = ok[(ok["method"] == method) & (ok["postprocessor"] == pp)]
    return list(dict.fromkeys(zip(match["entry"], match["method_label"])))


def _claim_pairs(ok: pd.DataFrame, claim: Claim) -> tuple[list[tuple[str, str]], str]:
    """The (better, worse) entry pairs a claim compares, or none and why."""
    better, worse = _entries(ok, *claim.better), _entries(ok, *claim.worse)
    missing = [f"{m} + {p}" for (m, p), found in ((claim.better, better), (claim.worse, worse)) if not found]
    if missing:
        return [], f"the run has no successful rows of {' and '.join(missing)}"
    same_model = claim.better[0] == claim.worse[0]  # a refinement claim: compare on one model's predictions
    if same_model:
        pairs = [(a, b) for a, ma in better for b, mb in worse if ma == mb]
        return pairs, "" if pairs else "no method variant was run with both refinements"
    # Two methods: compare like with like where the run has variants with the same parameter
    # suffix ("dsn3d (balance=dataset)" with "cnn3d (balance=dataset)"), else every pair.
    like = [(a, b) for a, ma in better for b, mb in worse
            if _variant(ma, claim.better[0]) == _variant(mb, claim.worse[0])]
    return like or [(a, b) for a, _ in better for b, _ in worse], ""


def _variant(label: str, method: str) -> str:
    """The parameter part of a method label: "" for "dsn3d", "(balance=dataset)" for "dsn3d (balance=dataset)"."""
    return label[len(method):].strip() if label.startswith(method) else label


def _gain_pairs(ok: pd.DataFrame) -> list[tuple[str, str]]:
    """(refined entry, threshold entry) for every method variant run with threshold and more."""
    pairs = []
    for _, group in ok.groupby("method_label", sort=False):
        base = group[group["postprocessor"] == BASELINE]
        if base.empty:
            continue
        base_entry = base["entry"].iloc[0]
        pairs += [(entry, base_entry) for entry in dict.fromkeys(group["entry"]) if entry != base_entry]
    return pairs


def _compare(values: pd.DataFrame, a: str, b: str) -> dict:
    """Paired effect of a over b on the cases both have: the mean score difference with its
    bootstrap CI and the Wilcoxon p, and the mean differences of the context measures."""
    columns = [SCORE, *context_metrics()]
    va = values[values["entry"] == a].set_index("case_id")
    vb = values[values["entry"] == b].set_index("case_id")
    common = va.index.intersection(vb.index)
    diff = va.loc[common, columns].astype(float) - vb.loc[common, columns].astype(float)
    test = stats.paired_wilcoxon(va.loc[common, SCORE].to_numpy(float), vb.loc[common, SCORE].to_numpy(float))
    low, high = stats.mean_difference_ci(diff[SCORE].to_numpy(), seed=zlib.crc32(f"{a}\n{b}".encode()))
    means = diff.mean() if len(common) else pd.Series(np.nan, index=columns)
    return {"n_cases": len(common), "n_untied": test["n_untied"], "mean_diff": float(means[SCORE]),
            "ci_low": low, "ci_high": high, "p_value": test["p_value"], "ci_kind": CI_KIND,
            **{f"d_{c}": float(means[c]) for c in columns[1:]}}


def resolve_entry(ok: pd.DataFrame, name: str) -> str | None:
    """The entry a user's name stands for: an entry as the report labels it ("dsn3d + densecrf"),
    or a method label alone, meaning its `threshold` entry ("dsn3d")."""
    entries = set(ok["entry"])
    if name in entries:
        return name
    alone = f"{name} + {BASELINE}"
    return alone if alone in entries else None


def _comparison_pairs(ok: pd.DataFrame, comparisons) -> tuple[list[tuple[Comparison, str, str]], list[str]]:
    pairs, unanswered = [], []
    known = ", ".join(repr(e) for e in dict.fromkeys(ok["entry"]))
    for comparison in comparisons:
        a, b = resolve_entry(ok, comparison.a), resolve_entry(ok, comparison.b)
        bad = [f"{side} = {name!r}" for side, name, entry in (("a", comparison.a, a), ("b", comparison.b, b))
               if entry is None]
        if bad:
            unanswered.append(f"{comparison.key}: {' and '.join(bad)} is not an entry with successful rows in "
                              f"this run (entries: {known or 'none'}).")
        elif a == b:
            unanswered.append(f"{comparison.key}: a and b are the same entry ({a!r}).")
        else:
            pairs.append((comparison, a, b))
    return pairs, unanswered


def parse_comparisons(report_config) -> list[Comparison]:
    """The `[[report.compare]]` questions of a run's config (`config.json`'s "report" table)."""
    compare = (report_config or {}).get("compare") or []
    return [Comparison(str(item["a"]), str(item["b"]), f"report.compare[{i}]") for i, item in enumerate(compare)]


def findings(ok: pd.DataFrame, claims=PAPER_CLAIMS, alpha: float = ALPHA, comparisons=()) -> Findings:
    """Test every claim this run can test, the user's `comparisons` and every refinement's gain,
    as one Holm family.

    `ok` holds successful rows with `entry`, `method`, `postprocessor`, `method_label` and
    `pp_label` columns (`run_data.load_run(...).ok`). A comparison shared by a claim and a gain
    (the CRF claims) is one test of the family, not two; the two-sided p does not depend on
    which side is called A.
    """
    values = per_case_values(ok)
    tested: dict[tuple[str, str], dict] = {}

    def compare(a: str, b: str) -> dict:
        if (a, b) not in tested:
            tested[(a, b)] = _compare(values, a, b)
        return tested[(a, b)]

    skipped, claim_rows = [], []
    for claim in claims:
        pairs, reason = _claim_pairs(ok, claim)
        pairs = [(a, b) for a, b in pairs if compare(a, b)["n_cases"]]
        if not pairs:
            skipped.append(f"{claim.source}: {claim.text}. Not tested: "
                           f"{reason or 'no case was scored by both entries'}.")
        claim_rows += [(claim, a, b) for a, b in pairs]
    compare_rows, unanswered = _comparison_pairs(ok, comparisons)
    for comparison, a, b in [row for row in compare_rows if not compare(row[1], row[2])["n_cases"]]:
        unanswered.append(f"{comparison.key}: {a!r} and {b!r} have no case in common.")
    compare_rows = [row for row in compare_rows if tested[(row[1], row[2])]["n_cases"]]
    gain_rows = [(a, b) for a, b in _gain_pairs(ok) if compare(a, b)["n_cases"]]

    family: dict[frozenset, float] = {}
    for (a, b) in [(a, b) for _, a, b in claim_rows] + [(a, b) for _, a, b in compare_rows] + gain_rows:
        family.setdefault(frozenset((a, b)), tested[(a, b)]["p_value"])
    adjusted = dict(zip(family, stats.holm(list(family.values()))))
    m = len(family)

    records = []
    for claim, a, b in claim_rows:
        test, p_holm = tested[(a, b)], float(adjusted[frozenset((a, b))])
        verdict = claim_verdict(test["n_untied"], test["mean_diff"], p_holm, m, alpha)
        records.append({"source": claim.source, "claim": claim.text, "entry_a": a, "entry_b": b, **test,
                        "p_holm": p_holm, "verdict": verdict, "paper": claim.paper})
    own = []
    for _, a, b in compare_rows:
        test, p_holm = tested[(a, b)], float(adjusted[frozenset((a, b))])
        own.append({"entry_a": a, "entry_b": b, **test, "p_holm": p_holm,
                    "verdict": compare_verdict(test["n_untied"], test["mean_diff"], p_holm, m, alpha)})
    gains = []
    for a, b in gain_rows:
        test, p_holm = tested[(a, b)], float(adjusted[frozenset((a, b))])
        labels_a, labels_b = ok[ok["entry"] == a].iloc[0], ok[ok["entry"] == b].iloc[0]
        gains.append({"method": labels_a["method_label"], "postprocessor": labels_a["pp_label"],
                      "baseline": labels_b["pp_label"], **test, "p_holm": p_holm,
                      "verdict": gain_verdict(test["n_untied"], test["mean_diff"], p_holm, m, alpha)})
    effect = _effect_columns()
    return Findings(pd.DataFrame.from_records(records, columns=[*CLAIM_COLUMNS, *effect, "paper"]),
                    pd.DataFrame.from_records(own, columns=[*COMPARE_COLUMNS, *effect]),
                    pd.DataFrame.from_records(gains, columns=[*GAIN_COLUMNS, *effect]), skipped, unanswered, m, alpha)

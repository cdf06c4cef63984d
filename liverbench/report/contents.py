"""What the report says, in which order: builds the `Document` (tables computed, figures drawn
into `figures_dir`) that each output format then renders."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from liverbench import schema
from liverbench.report import figures, findings, stats, tables
from liverbench.report.document import Document, Figure, Section, Table, seconds
from liverbench.report.overlays import OverlaysUnavailable, overlay_figures
from liverbench.report.run_data import RunData
from liverbench.schema import SCORE, SCORE_FORMAT

ENTRY = "Method + refinement"


def metric_headers() -> dict[str, str]:
    """Column -> header of every metric ('VOE [%]'), its SLiver07 score and the case score ('Score')."""
    scores = [m.score_column for m in schema.SLIVER07] + [SCORE]
    return {m.column: m.header for m in schema.METRICS} | dict.fromkeys(scores, "Score")


def metric_formats() -> dict[str, str]:
    scores = [m.score_column for m in schema.SLIVER07] + [SCORE]
    return {m.column: m.format for m in schema.METRICS} | dict.fromkeys(scores, SCORE_FORMAT)


def delta(column: str, extra_decimals: int = 0) -> tuple[str, str]:
    """Header and signed format of a difference in a metric: ('ΔVOE [%]', '+.2f')."""
    info = schema.metric(column)
    return f"Δ{info.header}", f"+.{info.decimals + extra_decimals}f"


class Slugs:
    """File-name-safe, unique, short names for entries (labels may hold anything a user typed).

    A label longer than `MAX` characters (a variant's parameters) keeps its start and gets a
    hash of the whole label, so the name stays short and the same in every report of it.
    """

    MAX = 40

    def __init__(self) -> None:
        self._by_label: dict[str, str] = {}

    def __call__(self, label: str) -> str:
        if label not in self._by_label:
            base = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "entry"
            if len(base) > self.MAX:
                digest = hashlib.sha1(label.encode("utf-8")).hexdigest()[:8]
                base = f"{base[:self.MAX - 9].rstrip('-')}-{digest}"
            slug, n = base, 2
            while slug in self._by_label.values():
                slug, n = f"{base}-{n}", n + 1
            self._by_label[label] = slug
        return self._by_label[label]


def _summary(run: RunData) -> list[str]:
    rows, config = run.rows, run.config
    dataset = config.get("dataset") or {}
    lines = [
        f"Run: {run.name} ({run.run_dir}).",
        f"Scored dataset: {dataset.get('name', 'unknown')} {json.dumps(dataset.get('params') or {}, sort_keys=True)}; "
        f"{rows['case_id'].nunique()} cases scored.",
    ]
    split = config.get("split") or {}
    if config.get("train_dataset"):
        train = config["train_dataset"]
        also = ("; each fold also trains on the scored dataset's cases it does not test"
                if split.get("kind") in ("loo", "kfold") else "")  # as liverbench.data.splits builds the folds
        lines.append(f"Trained on: {train.get('name')} {json.dumps(train.get('params') or {}, sort_keys=True)}{also}.")
    if split:
        lines.append(f"Split: {_split_text(split)}.")
    lines.append(f"Rows: {len(rows)} in total, {len(run.ok)} successful, {len(run.failed)} failed "
                 f"(failed rows are listed at the end and excluded from every mean).")
    environment = run.manifest.get("environment") if isinstance(run.manifest, dict) else None
    if isinstance(environment, dict) and environment:
        shown = {k: environment[k] for k in list(environment)[:8]}
        lines.append(f"Environment: {json.dumps(shown, sort_keys=True, default=str)}.")
    return lines


# The split settings that matter for each kind (the others keep their defaults, unused).
SPLIT_KEYS = {"fixed": ("test_fraction", "train", "test", "val_fraction", "seed"),
              "kfold": ("k", "val_fraction", "seed"), "loo": ("test", "val_fraction", "seed"), "none": ()}


def _split_text(split: dict) -> str:
    """The split's settings that its kind uses, lists as counts: 'loo, test 2 cases listed,
    val_fraction 0.25, seed 0' (not 48 ids)."""
    kind = split.get("kind", "?")
    keys = SPLIT_KEYS.get(kind, tuple(sorted(k for k in split if k != "kind")))
    if kind == "fixed" and split.get("test") is not None:
        keys = tuple(k for k in keys if k != "test_fraction")  # explicit lists replace the fraction
    parts = [str(kind)]
    for key in keys:
        value = split.get(key)
        if value is None:
            continue
        parts.append(f"{key} {len(value)} cases listed" if isinstance(value, list) else f"{key} {value}")
    return ", ".join(parts)


def _leaderboard(board: pd.DataFrame, ci: pd.DataFrame) -> Table:
    board = board.merge(ci[["entry", "ci_low", "ci_high"]], on="entry", how="left")
    columns = ["rank", "method", "postprocessor", "case_set", "n_cases", "n_failed", *tables.leaderboard_metrics(),
               "ci_low", "ci_high", "runtime_s"]
    several = board["case_set"].replace("", np.nan).nunique() > 1
    return Table(
        "leaderboard", "Leaderboard", board[columns],
        headers={"rank": "Rank", "method": "Method", "postprocessor": "Refinement", "case_set": "Case set",
                 "n_cases": "Cases", "n_failed": "Failed", **metric_headers(), "ci_low": "95% CI low",
                 "ci_high": "95% CI high", "runtime_s": "Runtime [s/case]"},
        formats={**metric_formats(), "rank": ".0f", "ci_low": SCORE_FORMAT, "ci_high": SCORE_FORMAT,
                 "runtime_s": seconds},
        caption=("Ranked by mean SLiver07 score (mean of the five metric scores per case, then over cases)"
                 + (", within each case set: entries scored on different cases are never ranked together"
                    if several else "") + ". Every number of a row comes from the cases of its case set (listed "
                 "below). Metrics are means over cases; RVD is signed. The CI is a percentile bootstrap of the "
                 f"mean score (none below {stats.MIN_BOOTSTRAP_CASES} cases). Runtime is the median over warm "
                 "rows of preprocessing + prediction + refinement seconds per case (reading and scoring excluded)."),
    )


def _case_sets(sets: pd.DataFrame) -> Table:
    return Table("case_sets", "Case sets", sets,
                 headers={"case_set": "Case set", "n_cases": "Cases", "n_entries": "Entries", "case_ids": "Case ids"},
                 caption="The cases behind each leaderboard row: an entry's case set is the cases it has a "
                         "successful result for.")


def build_document(run: RunData, figures_dir: Path | None) -> Document:
    """The whole report; figures are drawn into `figures_dir`, or skipped when it is None (tables only)."""
    slugs = Slugs()
    ok = run.ok
    board = tables.leaderboard(run.rows)
    matrix = tables.score_matrix(ok, order=list(board["entry"]))  # columns best first
    ranked = list(matrix.columns)  # entries with at least one successful case
    ci = stats.bootstrap_ci(matrix)
    values = tables.per_case_values(ok)
    result = findings.findings(ok, comparisons=findings.parse_comparisons(run.config.get("report")))
    sections = []
    if figures_dir is not None and result.family_size:
        glance = Section("Findings at a glance")
        _attach(glance, "findings_forest", "Effect and CI of every question",
                figures.forest_plot(result.questions(), figures_dir / "findings_forest.png"),
                "One line per question of the Findings family (below): mean ΔScore and its unadjusted 95 % "
                "bootstrap CI; the colour is the verdict after Holm's correction.")
        sections.append(glance)
    sections += [_findings(ok, result=result),
                 Section("Leaderboard", tables=[_leaderboard(board, ci), _case_sets(tables.case_sets(board, ok))])]
    tuned = tables.tuned_parameters(ok)
    if not tuned.empty:
        sections[-1].tables.append(Table(
            "tuned_parameters", "Parameters of the tuned refinements", tuned,
            headers={"method": "Method", "postprocessor": "Refinement", "fold": "Fold", "seed": "Seed",
                     "n_cases": "Cases", "parameters": "Parameters"},
            caption="A refinement marked (tuned) ran with parameters chosen by grid search on the training-set "
                    "predictions of each trained model (as Dou et al. did); these are the chosen values."))

    dist = tables.distribution(ok, ranked)
    spread = {f"{m.column}_{stat}": (f"{m.label} {stat}", m.format)
              for m in map(schema.metric, tables.distribution_metrics()) for stat in tables.distribution_stats(m.column)}
    sections.append(Section("Distribution over cases", tables=[Table(
        "distribution", " and ".join(schema.metric(c).label for c in tables.distribution_metrics()) + " over cases", dist,
        headers={"entry": ENTRY, "n_cases": "Cases", **{c: header for c, (header, _) in spread.items()}},
        formats={c: spec for c, (_, spec) in spread.items()},
        caption="The view of Yang et al. (2017), Table 1: ASD in mm (std over cases, ddof = 1), Dice.")]))

    sections.append(_statistics(matrix, ci, board))

    gain = tables.refinement_gain(ok)
    gain_section = Section("Refinement gain")
    if gain.empty:
        gain_section.paragraphs.append("No method was run with both threshold and another refinement.")
    else:
        deltas = {f"d_{c}_mean": delta(c, int(schema.metric(c).finer_gain)) for c in tables.gain_metrics()}
        gain_section.tables.append(Table(
            "refinement_gain", "Each refinement against threshold on the same predictions", gain,
            headers={"method": "Method", "postprocessor": "Refinement", "baseline": "Against", "n_cases": "Cases",
                     "d_score_mean": "ΔScore mean", "d_score_median": "ΔScore median",
                     **{c: header for c, (header, _) in deltas.items()},
                     "wins": "Better", "ties": "Same", "losses": "Worse", "p_value": "p (Wilcoxon)"},
            formats={"d_score_mean": "+.2f", "d_score_median": "+.2f", **{c: spec for c, (_, spec) in deltas.items()},
                     "p_value": ".3g"},
            caption="Differences are refinement minus threshold, paired per case; a positive ΔScore is a gain. "
                    "Better/Same/Worse count cases by score. p is not corrected here; the corrected p and the "
                    "verdict of each gain are under Findings."))
    sections.append(gain_section)

    sections.append(_runtime(run, ok, ranked, figures_dir))
    if figures_dir is not None:
        sections.append(_figures(run, values, ranked, figures_dir, slugs))

    per_case = Section("Per-case results (SLiver07)", collapsed=True, paragraphs=[
        "One table per method and refinement, in the layout of the SLiver07 evaluation: each metric with its "
        "score; the average row averages signed RVD and each score, and its total is the mean of the case totals."])
    for entry in ranked:
        per_case.subsections.append(Section(entry, tables=[Table(
            f"per_case_{slugs(entry)}", f"SLiver07 per-case results: {entry}", tables.sliver07_table(ok, entry),
            headers={"case_id": "Case", **metric_headers(), SCORE: "Total"}, formats=metric_formats(),
            bold_last_row=True)]))
    sections.append(per_case)
    sections.append(_failed(run))
    return Document(f"liverbench report: {run.name}", _summary(run), sections)


def _p(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{value:.2g}"


def _effect(row) -> str:
    """'ΔScore +2.10 points (unadjusted 95 % CI +0.40 to +3.90), p = 0.012, Holm p = 0.048;
    ΔDice +0.004; 36 cases, 7 of them untied'."""
    ci = (f"unadjusted 95 % CI {row.ci_low:+.2f} to {row.ci_high:+.2f}" if np.isfinite(row.ci_low)
          else f"no CI below {stats.MIN_BOOTSTRAP_CASES} cases")
    label, spec = delta("dice")
    ties = f", {row.n_untied} of them untied" if row.n_untied != row.n_cases else ""
    return (f"ΔScore {row.mean_diff:+.2f} points ({ci}), p = {_p(row.p_value)}, Holm p = {_p(row.p_holm)}; "
            f"{label} {row.d_dice:{spec}}; {row.n_cases} cases{ties}")


def _counts(verdicts: pd.Series, order) -> str:
    counts = verdicts.value_counts()
    return ", ".join(f"{counts[v]} {v}" for v in order if v in counts)


CLAIM_OUTCOMES = (findings.REPRODUCED, findings.CONTRADICTED, findings.NOT_SIGNIFICANT, findings.INCONCLUSIVE)
COMPARE_OUTCOMES = (findings.A_BETTER, findings.B_BETTER, findings.NOT_SIGNIFICANT, findings.INCONCLUSIVE)
GAIN_OUTCOMES = (findings.GAIN, findings.LOSS, findings.NOT_SIGNIFICANT, findings.INCONCLUSIVE)


def _findings(ok: pd.DataFrame, report_config: dict | None = None, result: findings.Findings | None = None) -> Section:
    """The papers' claims, the user's own comparisons and each refinement's gain, with effect,
    CI, p and a verdict. Claims the run cannot test are counted in one line, not listed."""
    result = result or findings.findings(ok, comparisons=findings.parse_comparisons(report_config))
    section = Section("Findings")
    untestable = (f"{len(result.skipped)} of the papers' {len(findings.PAPER_CLAIMS)} claims need methods or "
                  f"refinements this run does not have and are not shown.") if result.skipped else ""
    if result.family_size == 0:
        section.paragraphs.append("Nothing to test: no claim of the papers, no comparison of [[report.compare]] and "
                                  "no refinement gain has two entries scored on the same cases.")
        section.paragraphs += [p for p in (untestable, *result.unanswered) if p]
        return section
    parts = []
    tested = len(result.claims)
    if tested:
        n_claims = len(findings.PAPER_CLAIMS) - len(result.skipped)
        # a method run with several parameter sets is compared variant by variant
        per_variant = f" in {tested} comparisons (one per pair of variants)" if tested != n_claims else ""
        parts.append(f"of the papers' {len(findings.PAPER_CLAIMS)} claims it tested {n_claims}{per_variant}: "
                     + _counts(result.claims["verdict"], CLAIM_OUTCOMES))
    if len(result.comparisons):
        parts.append(f"of your own comparisons ([[report.compare]]) {len(result.comparisons)}: "
                     + _counts(result.comparisons["verdict"], COMPARE_OUTCOMES))
    if len(result.gains):
        parts.append(f"{len(result.gains)} refinements against threshold: "
                     + _counts(result.gains["verdict"], GAIN_OUTCOMES))
    questions = f"{result.family_size} question{'s' if result.family_size != 1 else ''}"
    section.paragraphs.append(f"This run answered {questions} in one family; "
                              + "; ".join(parts) + ".")
    if untestable:
        section.paragraphs.append(untestable)
    for row in result.claims.itertuples(index=False):
        section.paragraphs.append(
            f"{row.source}, {row.claim}: {row.verdict}. This run: {row.entry_a} against {row.entry_b}, "
            f"{_effect(row)}. The paper reports: {row.paper}.")
    for row in result.comparisons.itertuples(index=False):
        section.paragraphs.append(f"Your comparison, {row.entry_a} (A) against {row.entry_b} (B): {row.verdict}. "
                                  f"{_effect(row)}.")
    section.paragraphs += result.unanswered
    section.paragraphs.append(
        f"How: the papers' claims and each refinement's gain over threshold on the same predictions are fixed in "
        f"code before this run; your own comparisons come from [[report.compare]] in the run's config. Together "
        f"{questions} in one family, each a paired test. Each compares A with B case by case: the mean "
        f"difference of the SLiver07 score (points, A − B) with its 95 % bootstrap CI (per question, unadjusted "
        f"for the family; none below {stats.MIN_BOOTSTRAP_CASES} cases), and the two-sided Wilcoxon signed-rank "
        f"p, Holm-corrected over the family (significant below {result.alpha}). Tied cases (the same score) drop "
        f"out of the signed-rank test: with {result.family_size} tests a comparison needs at least "
        f"{result.smallest_n} untied cases before any result can be significant; with fewer the verdict is "
        f"'{findings.INCONCLUSIVE}'. Verdicts come from these numbers only: '{findings.REPRODUCED}' and "
        f"'{findings.CONTRADICTED}' mean significant in and against the claimed direction, "
        f"'{findings.NOT_SIGNIFICANT}' that enough cases could have shown a difference and did not. The "
        f"all-pairs tests under Statistics are exploratory.")
    effect_headers, effect_formats = _effect_columns()
    if len(result.claims):
        section.tables.append(Table(
            "findings_claims", "The papers' claims in this run",
            result.claims.drop(columns=["paper"]),
            headers={"source": "Source", "claim": "Claim", "entry_a": "A (claimed better)", "entry_b": "B",
                     **effect_headers, "verdict": "Verdict"},
            formats=effect_formats,
            caption="Differences are A − B, paired per case: a positive ΔScore or ΔDice, a negative ΔVOE or "
                    "ΔASD favours A. Untied: the cases whose scores differ, which the signed-rank test uses."))
    if len(result.comparisons):
        section.tables.append(Table(
            "findings_comparisons", "Your own comparisons ([[report.compare]])", result.comparisons,
            headers={"entry_a": "A", "entry_b": "B", **effect_headers, "verdict": "Verdict"},
            formats=effect_formats, caption="Differences are A − B, paired per case."))
    if len(result.gains):
        section.tables.append(Table(
            "findings_refinements", "Each refinement's gain over threshold", result.gains,
            headers={"method": "Method", "postprocessor": "Refinement", "baseline": "Against",
                     **effect_headers, "verdict": "Verdict"},
            formats=effect_formats,
            caption="Refinement minus threshold on the same predictions; a positive ΔScore is a gain."))
    return section


def _effect_columns() -> tuple[dict[str, str], dict[str, str]]:
    """Headers and formats of the effect columns both findings tables show."""
    headers = {"ci_kind": "CI", "n_cases": "Cases", "n_untied": "Untied", "mean_diff": "ΔScore",
               "ci_low": "95% CI low", "ci_high": "95% CI high", "p_value": "p", "p_holm": "p (Holm)"}
    formats = {"mean_diff": "+.2f", "ci_low": "+.2f", "ci_high": "+.2f", "p_value": ".2g", "p_holm": ".2g"}
    for column in findings.context_metrics():
        headers[f"d_{column}"], formats[f"d_{column}"] = delta(column)
    return headers, formats


def _rank_stability(matrix: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    """Rank stability within each case set, as the leaderboard ranks (never across sets)."""
    sets = board.set_index("entry")["case_set"]
    parts = [stats.rank_stability(matrix[[e for e in matrix.columns if sets.get(e) == label]])
             for label in sorted(set(sets.reindex(matrix.columns).dropna()) - {""})]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else stats.rank_stability(matrix.iloc[:0])


def _statistics(matrix: pd.DataFrame, ci: pd.DataFrame, board: pd.DataFrame) -> Section:
    section = Section("Statistics")
    if matrix.shape[1] == 0:
        section.paragraphs.append("No method has a successful case: there is nothing to test.")
        return section
    if matrix.shape[1] < 2:
        section.paragraphs.append("Only one method with successful cases: there is nothing to compare, so no "
                                  "significance tests or rank stability are reported.")
        return section
    stability = _rank_stability(matrix, board)
    merged = ci.merge(stability[["entry", "rank", "stability", "rank_low", "rank_high"]], on="entry", how="left")
    merged = merged.sort_values(["rank", "mean"], ascending=[True, False], na_position="last", kind="mergesort")
    section.tables.append(Table(
        "bootstrap", "Bootstrap confidence intervals and rank stability",
        merged[["entry", "n_cases", "mean", "ci_low", "ci_high", "rank", "stability", "rank_low", "rank_high"]],
        headers={"entry": ENTRY, "n_cases": "Cases", "mean": "Mean score", "ci_low": "95% CI low",
                 "ci_high": "95% CI high", "rank": "Rank", "stability": "Keeps rank", "rank_low": "Rank 2.5%",
                 "rank_high": "Rank 97.5%"},
        formats={"mean": SCORE_FORMAT, "ci_low": SCORE_FORMAT, "ci_high": SCORE_FORMAT, "rank": ".0f",
                 "stability": ".2f", "rank_low": ".0f", "rank_high": ".0f"},
        caption=(f"{stats.N_BOOTSTRAP} bootstrap resamples of the cases (seed 0). 'Keeps rank' is the fraction of "
                 "resamples in which the entry has its observed (leaderboard) rank, among the entries of its "
                 "case set; 'Rank 2.5%' and 'Rank 97.5%' bound the ranks it takes.")))
    pairs = stats.pairwise_wilcoxon(matrix)
    headers = {"entry_a": "A", "entry_b": "B", "n_cases": "Cases", "mean_diff": "Mean score A − B",
               "statistic": "W", "p_value": "p", "p_holm": "p (Holm)", "significant": "Significant"}
    formats = {"mean_diff": "+.2f", "statistic": ".1f", "p_value": ".3g", "p_holm": ".3g"}
    leader = matrix.columns[0]
    section.tables.append(Table(
        "wilcoxon_vs_leader", "Paired Wilcoxon signed-rank tests against the leader",
        pairs[pairs["entry_a"] == leader].reset_index(drop=True), headers=headers, formats=formats,
        caption="Exploratory: two-sided tests on per-case scores; Holm's correction over all pairs of entries; "
                f"significant at adjusted p < 0.05. With {len(matrix)} cases the smallest possible p is "
                f"{stats.smallest_wilcoxon_p(len(matrix)):.3g}. The questions fixed before the run, and your own, are under Findings."))
    if matrix.shape[1] > 2:
        section.subsections.append(Section("All pairs", collapsed=True, tables=[Table(
            "wilcoxon_pairs", "Paired Wilcoxon signed-rank tests, all pairs", pairs, headers=headers,
            formats=formats, caption="Exploratory: every pair of entries, Holm's correction over all of them.")]))
    return section


def _runtime(run: RunData, ok: pd.DataFrame, order: list[str], figures_dir: Path | None) -> Section:
    section = Section("Runtime")
    profile = tables.runtime_profile(ok, order)
    if profile.empty:
        section.paragraphs.append("No stage timings were recorded.")
        return section
    section.tables.append(Table(
        "runtime_profile", "Seconds per stage: median / p90", profile,
        headers={"entry": ENTRY, "device": "Device", "warm only": "Warm rows only"},
        formats={"median_s": seconds, "p90_s": seconds}, display=tables.runtime_profile_wide(profile),
        caption="Per case and stage, median / 90th percentile of seconds over warm rows (the first call in a "
                "worker is cold and excluded where warm rows exist); fit is per trained model."))
    fits = ok.drop_duplicates("fit_key").dropna(subset=["t_fit"]) if "fit_key" in ok else ok.iloc[0:0]
    fits = fits.groupby("method_label", sort=False)["t_fit"].median().rename("median_s").reset_index().rename(
        columns={"method_label": "method"})
    if figures_dir is not None:
        _attach(section, "runtime", "Runtime by stage", figures.runtime_chart(profile, fits, order,
                                                                              figures_dir / "runtime.png"))
    return section


def _attach(section: Section, name: str, title: str, drawn, caption: str = "") -> None:
    if isinstance(drawn, Path):
        section.figures.append(Figure(name, title, drawn, caption))
    else:
        section.paragraphs.append(f"{title}: not drawn; {str(drawn).rstrip('.')}.")


def _figures(run: RunData, values: pd.DataFrame, order: list[str], figures_dir: Path, slugs: Slugs) -> Section:
    section = Section("Figures")
    _attach(section, "boxplots", "Metrics per method", figures.boxplots(values, order, figures_dir / "boxplots.png"),
            "One box per method and refinement over cases; best-ranked at the top.")
    _attach(section, "learning_curves", "Learning curves",
            figures.learning_curves(run.curves, figures_dir / "learning_curves.png"),
            "Training (solid; a moving average over the faint raw values when they are many) and validation "
            "(dashed) loss of each trained model.")
    overlays = Section("Segmentations: best, median and worst case", gallery=True, paragraphs=[
        "Reference in green, segmentation in red; transverse, sagittal and coronal planes through the "
        "liver's centre, drawn with the voxel spacing's true proportions."])
    try:
        for entry, drawn in overlay_figures(run, values, order, figures_dir, slugs):
            _attach(overlays, f"overlay_{slugs(entry)}", entry, drawn)
    except OverlaysUnavailable as error:
        overlays.figures.clear()
        overlays.paragraphs.append(f"Not drawn: {error}")
    section.subsections.append(overlays)
    return section


def _failed(run: RunData) -> Section:
    failed = tables.failed_rows(run.rows)
    section = Section("Failed rows")
    if failed.empty:
        section.paragraphs.append("None: every row succeeded.")
        return section
    counts = failed.groupby(["method", "postprocessor"]).size()
    section.paragraphs.append(f"{len(failed)} rows failed; they are excluded from every mean, test and figure. "
                              + "; ".join(f"{m} + {p}: {n}" for (m, p), n in counts.items()) + ".")
    section.tables.append(Table("failed_rows", "Failed rows", failed,
                                headers={"case_id": "Case", "method": "Method", "postprocessor": "Refinement",
                                         "fold": "Fold", "seed": "Seed", "status": "Status", "error": "Error"}))
    return section

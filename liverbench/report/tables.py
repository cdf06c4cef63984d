"""The report's tables, as raw DataFrames (numbers, not text): per-case SLiver07 tables,
the leaderboard (Dou et al. Table 2), the distribution view (Yang et al. Table 1), the
runtime profile, the refinement gain against `threshold`, and the failed rows.

Every table reads successful rows only, except `failed_rows`; failed rows never enter a mean.
A case evaluated under several folds or seeds counts once: its values are averaged first, so
every case weighs the same in every mean and in the paired statistics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from liverbench import schema
from liverbench.report.document import seconds
from liverbench.report.run_data import params_text
from liverbench.report.stats import paired_wilcoxon
from liverbench.schema import SCORE

STAGES = ("read", "preprocess", "predict", "refine", "metrics")  # per-case stages, in pipeline order
# What a user waits for per case once the data is in memory: Dou et al.'s "5 s for the network
# and 87 s for the CRF". Reading and scoring are the harness's cost, shown in the profile only.
RUNTIME_STAGES = ("preprocess", "predict", "refine")
AVERAGE = "Average"


def gain_metrics() -> list[str]:
    """The context columns of the refinement-gain table (declared `gain`): the measures a refinement is meant to move."""
    return [m.column for m in schema.METRICS if m.gain]


def distribution_metrics() -> list[str]:
    """The measures whose distribution over cases is shown (declared `distribution`; Yang et al. Table 1)."""
    return [m.column for m in schema.METRICS if m.distribution]


def sliver07_columns() -> list[str]:
    """Each scored measure beside its score, then the case score: the SLiver07 table layout."""
    return [c for m in schema.SLIVER07 for c in (m.column, m.score_column)] + [SCORE]


def leaderboard_metrics() -> list[str]:
    """The metric columns of the leaderboard, in the schema's order, then the case score."""
    return [m.column for m in schema.METRICS if m.leaderboard] + [SCORE]


def per_case_values(ok: pd.DataFrame) -> pd.DataFrame:
    """One row per (entry, case): metric values averaged over folds and seeds."""
    columns = ["entry", "method_label", "pp_label", "case_id"]
    metrics = list(schema.METRIC_COLUMNS)
    if ok.empty:
        return pd.DataFrame(columns=columns + metrics)
    values = ok[columns + metrics].copy()
    values[metrics] = values[metrics].astype(float)
    return values.groupby(columns, sort=False, as_index=False)[metrics].mean()


def score_matrix(ok: pd.DataFrame, order: list[str] | None = None) -> pd.DataFrame:
    """Cases x entries of the SLiver07 case score (NaN where an entry has no ok row for a case)."""
    values = per_case_values(ok)
    matrix = values.pivot(index="case_id", columns="entry", values=SCORE)
    matrix = matrix.sort_index()
    if order is not None:
        matrix = matrix.reindex(columns=[e for e in order if e in matrix.columns])
    return matrix


def sliver07_table(ok: pd.DataFrame, entry: str) -> pd.DataFrame:
    """SLiver07 per-case table of one entry plus an average row.

    The average row is the mean of each column: signed RVD is averaged as is (over- and
    under-segmentation may cancel, as in the challenge tables), each score column is the mean
    of the per-case scores, and the total is the mean of the per-case totals.
    """
    values = per_case_values(ok[ok["entry"] == entry])
    columns = sliver07_columns()
    table = values[["case_id", *columns]].sort_values("case_id").reset_index(drop=True)
    if table.empty:
        return table
    average = table[columns].mean().to_frame().T
    average.insert(0, "case_id", AVERAGE)
    return pd.concat([table, average], ignore_index=True)


def _runtime_per_row(rows: pd.DataFrame) -> pd.Series:
    stages = rows[[f"t_{s}" for s in RUNTIME_STAGES]].astype(float)
    total = stages.sum(axis=1, min_count=1)  # NaN only when no stage was timed
    return total


def _warm(rows: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """The warm rows when there are any (the first call of a worker pays start-up costs)."""
    cold = rows["cold"].astype("boolean").fillna(False).astype(bool)
    warm = rows[~cold]
    return (warm, True) if len(warm) else (rows, False)


def leaderboard(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per entry, ranked by mean SLiver07 score (best first); entries without a single
    successful case come last, unranked."""
    ok = rows[rows["status"] == "ok"]
    values = per_case_values(ok)
    metrics = leaderboard_metrics()
    records = []
    for entry, group in rows.groupby("entry", sort=False):
        cases = values[values["entry"] == entry]
        entry_ok = ok[ok["entry"] == entry]
        failed = group[group["status"] != "ok"]
        warm, _ = _warm(entry_ok) if len(entry_ok) else (entry_ok, False)
        runtime = _runtime_per_row(warm).median() if len(warm) else np.nan
        record = {
            "entry": entry,
            "method": group["method_label"].iloc[0],
            "postprocessor": group["pp_label"].iloc[0],
            "n_cases": int(cases["case_id"].nunique()),
            "n_failed": int(len(failed)),
        }
        for column in metrics:
            record[column] = float(cases[column].mean()) if len(cases) else np.nan
        record["runtime_s"] = float(runtime) if pd.notna(runtime) else np.nan
        records.append(record)
    board = pd.DataFrame.from_records(
        records,
        columns=["entry", "method", "postprocessor", "n_cases", "n_failed", *metrics, "runtime_s"],
    )
    # Entries scored on different cases are never ranked together: each is ranked within its
    # case set (the cases it has a successful result for), the largest set first.
    case_set = _case_set_labels(values, board["entry"])
    board.insert(3, "case_set", [case_set.get(e, "") for e in board["entry"]])
    order = {label: i for i, label in enumerate(sorted(set(case_set.values())))}
    board["_set"] = board["case_set"].map(order).fillna(len(order))
    # Rank ties share the better rank ("min"): identical masks from two refinements tie.
    board = board.sort_values(["_set", SCORE, "entry"], ascending=[True, False, True], na_position="last",
                              kind="mergesort")
    board.insert(0, "rank", board.groupby("_set")[SCORE].rank(ascending=False, method="min"))
    return board.drop(columns="_set").reset_index(drop=True)


def _case_set_labels(values: pd.DataFrame, entries) -> dict[str, str]:
    """entry -> 'A', 'B', ...: one letter per distinct set of successfully scored cases, the
    largest set first (ties by their first case id)."""
    sets = {entry: frozenset(values.loc[values["entry"] == entry, "case_id"]) for entry in entries}
    distinct = sorted({s for s in sets.values() if s}, key=lambda s: (-len(s), sorted(s)))
    letters = {s: _letter(i) for i, s in enumerate(distinct)}
    return {entry: letters[s] for entry, s in sets.items() if s}


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"S{i + 1}"


def case_sets(board: pd.DataFrame, ok: pd.DataFrame) -> pd.DataFrame:
    """One row per case set of the leaderboard: its letter, how many cases and entries, the case ids."""
    values = per_case_values(ok)
    records = []
    for label, group in board[board["case_set"] != ""].groupby("case_set", sort=True):
        ids = sorted(set(values.loc[values["entry"].isin(group["entry"]), "case_id"]))
        records.append({"case_set": label, "n_cases": len(ids), "n_entries": len(group), "case_ids": ", ".join(ids)})
    return pd.DataFrame.from_records(records, columns=["case_set", "n_cases", "n_entries", "case_ids"])


def distribution(ok: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Yang et al. Table 1: ASD mean, std, max, median and Dice mean, std, min, median per entry.

    Std is the sample standard deviation (ddof=1): the cases are a sample of the population the
    method will meet. It does not exist for a single case and shows as missing.
    """
    values = per_case_values(ok)
    stats = [(column, stat) for column in distribution_metrics() for stat in distribution_stats(column)]
    records = []
    for entry in order:
        cases = values[values["entry"] == entry]
        record = {"entry": entry, "n_cases": len(cases)}
        for column, stat in stats:
            series = cases[column].astype(float)
            record[f"{column}_{stat}"] = series.std(ddof=1) if stat == "std" else getattr(series, stat)()
        records.append(record)
    return pd.DataFrame.from_records(records, columns=["entry", "n_cases", *(f"{c}_{s}" for c, s in stats)])


def distribution_stats(column: str) -> tuple[str, ...]:
    """Mean, std, the worst case (the largest error, the smallest agreement) and median."""
    return ("mean", "std", "min" if schema.metric(column).higher_is_better else "max", "median")


def runtime_profile(ok: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Median and 90th percentile of each stage's seconds, per entry and device (long form).

    Warm rows only where an entry has any on that device (`warm_only`); the fit stage counts
    each trained model once (rows of one model repeat its fit time).
    """
    records = []
    for entry in order:
        entry_rows = ok[ok["entry"] == entry]
        for device, group in entry_rows.groupby("device", sort=True):
            warm, warm_only = _warm(group)
            for stage in STAGES + ("fit",):
                column = f"t_{stage}"
                if stage == "fit":  # one value per trained model, cold or not: fitting happens once
                    seconds = group.drop_duplicates("fit_key")[column]
                else:
                    seconds = warm[column]
                seconds = seconds.astype(float).dropna()
                if seconds.empty:
                    continue
                records.append({
                    "entry": entry, "device": device or "unknown", "stage": stage, "n": len(seconds),
                    "warm_only": bool(warm_only) if stage != "fit" else False,
                    "median_s": float(seconds.median()), "p90_s": float(np.percentile(seconds, 90)),
                })
    return pd.DataFrame.from_records(records, columns=["entry", "device", "stage", "n", "warm_only", "median_s",
                                                       "p90_s"])


def runtime_profile_wide(profile: pd.DataFrame) -> pd.DataFrame:
    """The profile with one column per stage holding "median / p90" text, for reading."""
    columns = ["entry", "device", "warm only"] + [s for s in STAGES + ("fit",) if s in set(profile["stage"])]
    records = []
    for (entry, device), group in profile.groupby(["entry", "device"], sort=False):
        per_case = group[group["stage"] != "fit"]
        record = {"entry": entry, "device": device,
                  "warm only": ("yes" if per_case["warm_only"].all() else "no") if len(per_case) else ""}
        for row in group.itertuples(index=False):
            record[row.stage] = f"{seconds(row.median_s)} / {seconds(row.p90_s)}"
        records.append(record)
    return pd.DataFrame.from_records(records, columns=columns).fillna("")


def refinement_gain(ok: pd.DataFrame, baseline: str = "threshold") -> pd.DataFrame:
    """Each post-processor against `threshold` on the same method's predictions, paired by case.

    Positive differences in score and Dice are gains; negative differences in VOE, ASD and
    MaxD are gains. The p-value is the two-sided Wilcoxon signed-rank test on case scores.
    """
    values = per_case_values(ok)
    records = []
    for method, group in values.groupby("method_label", sort=False):
        base_rows = ok[(ok["method_label"] == method) & (ok["postprocessor"] == baseline)]
        if base_rows.empty:
            continue
        base_label = base_rows["pp_label"].iloc[0]
        base = group[group["pp_label"] == base_label].set_index("case_id")
        for pp, other in group[group["pp_label"] != base_label].groupby("pp_label", sort=False):
            other = other.set_index("case_id")
            common = base.index.intersection(other.index)
            if common.empty:
                continue
            metrics = [SCORE, *gain_metrics()]
            diff = other.loc[common, metrics] - base.loc[common, metrics]
            d_score = diff[SCORE]
            test = paired_wilcoxon(other.loc[common, SCORE].to_numpy(), base.loc[common, SCORE].to_numpy())
            records.append({
                "method": method, "postprocessor": pp, "baseline": base_label, "n_cases": len(common),
                "d_score_mean": d_score.mean(), "d_score_median": d_score.median(),
                **{f"d_{c}_mean": diff[c].mean() for c in gain_metrics()},
                "wins": int((d_score > 0).sum()), "ties": int((d_score == 0).sum()),
                "losses": int((d_score < 0).sum()), "p_value": test["p_value"],
            })
    return pd.DataFrame.from_records(records, columns=[
        "method", "postprocessor", "baseline", "n_cases", "d_score_mean", "d_score_median",
        *(f"d_{c}_mean" for c in gain_metrics()), "wins", "ties", "losses", "p_value"])


def tuned_parameters(ok: pd.DataFrame) -> pd.DataFrame:
    """The parameters each tuned refinement ran with, per trained model (method, fold, seed):
    what `name (tuned)` stands for in the other tables."""
    columns = ["method", "postprocessor", "fold", "seed", "n_cases", "parameters"]
    tuned = ok[ok["pp_tuned"].astype(bool)] if "pp_tuned" in ok else ok.iloc[0:0]
    if tuned.empty:
        return pd.DataFrame(columns=columns)
    table = (tuned.groupby(["method_label", "pp_label", "fold", "seed", "pp_params"], sort=False)["case_id"]
             .nunique().rename("n_cases").reset_index())
    table["parameters"] = table["pp_params"].map(_parameter_text)
    table = table.rename(columns={"method_label": "method", "pp_label": "postprocessor"})
    return table[columns].sort_values(["postprocessor", "method", "fold", "seed"], kind="mergesort").reset_index(
        drop=True)


def _parameter_text(params_json: str) -> str:
    """`{"mu1": 5.0, "tau": [0.2, 0.2]}` -> `mu1=5, tau=[0.2, 0.2]` (keys sorted)."""
    return params_text(params_json, _number_text) or "defaults"


def _number_text(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_number_text(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def failed_rows(rows: pd.DataFrame) -> pd.DataFrame:
    failed = rows[rows["status"] != "ok"]
    table = failed[["case_id", "method_label", "pp_label", "fold", "seed", "status", "error"]].rename(
        columns={"method_label": "method", "pp_label": "postprocessor"})
    table = table.assign(error=table["error"].map(_first_lines))
    return table.sort_values(["method", "postprocessor", "case_id"], kind="mergesort").reset_index(drop=True)


def _first_lines(error: str, limit: int = 400) -> str:
    """Errors can carry whole tracebacks; a table cell shows the message (last line) and start."""
    error = (error or "").strip()
    if not error:
        return "(no error message)"
    lines = [line for line in error.splitlines() if line.strip()]
    text = lines[-1] if lines[0].startswith("Traceback") else " ".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Plain-text SLiver07 table for the terminal (`liverbench eval`): each of the five measures with
its score, the other metrics (Dice, HD95, surface Dice) beside them, the case total, and the mean
over the successful cases. A failed case shows its whole error, never cut off."""

from __future__ import annotations

import math

import pandas as pd

from liverbench import schema
from liverbench.schema import SCORE, SCORE_FORMAT


def _number(value, spec: str, width: int) -> str:
    """A right-aligned number; a missing value shows as "–" rather than "nan"."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = math.nan
    return f"{'–' if math.isnan(value) else format(value, spec):>{width}}"


def _title(metric: schema.MetricInfo) -> str:
    """'VOE %', 'Dice': a header that fits a terminal column."""
    return f"{metric.label} {metric.unit}".rstrip()


# Beside the five scored measures and the leaderboard's other metrics (Dice, any a plugin
# declares): the boundary measures organisers report today.
BOUNDARY_METRICS = ("hd95", "nsd")


def _other_title(metric: schema.MetricInfo, nsd_tolerance_mm: float | None) -> str:
    if metric.column == "nsd" and nsd_tolerance_mm is not None:
        return f"NSD@{nsd_tolerance_mm:g}mm"
    return _title(metric) if metric.column != "nsd" else "NSD"


def sliver07_table(df: pd.DataFrame, nsd_tolerance_mm: float | None = None) -> str:
    """One line per case (a failed case shows its whole error, indented below it), then the mean
    of the successful ones.

    `df` has `case_id`, `status`, `error` and the metric columns of `liverbench.schema`.
    """
    width = max([16] + [len(str(c)) + 2 for c in df["case_id"]])
    scored = schema.SLIVER07
    others = [m for m in schema.METRICS if m.leaderboard and not m.score_column]
    others += [schema.metric(c) for c in BOUNDARY_METRICS if c not in {m.column for m in others}]
    titles = [_other_title(m, nsd_tolerance_mm) for m in others]
    head = (f"{'case':<{width}}" + "".join(f"{_title(m):>12}{'score':>7}" for m in scored)
            + "".join(f"{t:>{max(8, len(t) + 2)}}" for t in titles) + f"{'Score':>8}")
    lines = [head, "-" * len(head)]

    def line(label: str, rec) -> str:
        return (f"{label:<{width}}"
                + "".join(_number(rec[m.column], m.format, 12) + _number(rec[m.score_column], SCORE_FORMAT, 7)
                          for m in scored)
                + "".join(_number(rec[m.column], m.format, max(8, len(t) + 2)) for m, t in zip(others, titles))
                + _number(rec[SCORE], SCORE_FORMAT, 8))

    for rec in df.to_dict("records"):
        if rec["status"] != "ok":
            error = [text for text in str(rec.get("error") or "(no error message)").splitlines() if text.strip()]
            lines.append(f"{str(rec['case_id']):<{width}}  FAILED: {error[0] if error else ''}")
            lines += [f"{'':<{width}}    {text}" for text in error[1:]]
            continue
        lines.append(line(str(rec["case_id"]), rec))
    ok = df[df["status"] == "ok"]
    if len(ok):
        lines.append("-" * len(head))
        lines.append(line(f"mean ({len(ok)})", ok.mean(numeric_only=True)))
    return "\n".join(lines)


def eval_notes(df: pd.DataFrame) -> list[str]:
    """'note: case X: reference is empty: ...' for every scored case a convention applied to
    (an empty reference or segmentation, a mask filling the image)."""
    if "note" not in df.columns:
        return []
    return [f"note: case {rec['case_id']}: {rec['note']}" for rec in df.to_dict("records")
            if rec.get("status") == "ok" and isinstance(rec.get("note"), str) and rec["note"]]

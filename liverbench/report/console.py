"""Plain-text SLiver07 table for the terminal (`liverbench eval`): each of the five measures with
its score, the leaderboard's other metrics (Dice) beside them, the case total, and the mean over
the successful cases."""

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


def sliver07_table(df: pd.DataFrame) -> str:
    """One line per case (failed cases show their error), then the mean of the successful ones.

    `df` has `case_id`, `status`, `error` and the metric columns of `liverbench.schema`.
    """
    width = max([16] + [len(str(c)) + 2 for c in df["case_id"]])
    scored = schema.SLIVER07
    others = [m for m in schema.METRICS if m.leaderboard and not m.score_column]
    head = (f"{'case':<{width}}" + "".join(f"{_title(m):>12}{'score':>7}" for m in scored)
            + "".join(f"{_title(m):>8}" for m in others) + f"{'Score':>8}")
    lines = [head, "-" * len(head)]

    def line(label: str, rec) -> str:
        return (f"{label:<{width}}"
                + "".join(_number(rec[m.column], m.format, 12) + _number(rec[m.score_column], SCORE_FORMAT, 7)
                          for m in scored)
                + "".join(_number(rec[m.column], m.format, 8) for m in others) + _number(rec[SCORE], SCORE_FORMAT, 8))

    for rec in df.to_dict("records"):
        if rec["status"] != "ok":
            first = (str(rec.get("error") or "").splitlines() or [""])[0]
            lines.append(f"{str(rec['case_id']):<{width}}  FAILED: {first[:90]}")
            continue
        lines.append(line(str(rec["case_id"]), rec))
    ok = df[df["status"] == "ok"]
    if len(ok):
        lines.append("-" * len(head))
        lines.append(line(f"mean ({len(ok)})", ok.mean(numeric_only=True)))
    return "\n".join(lines)

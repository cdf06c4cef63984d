"""Plain-text SLiver07 table for the terminal (`liverbench eval`): each of the five measures with
its score, Dice beside them, the case total, and the mean over the successful cases."""

from __future__ import annotations

import math

import pandas as pd

from liverbench.schema import SCORE, SLIVER07


def _number(value, spec: str, width: int) -> str:
    """A right-aligned number; a missing value shows as "–" rather than "nan"."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = math.nan
    return f"{'–' if math.isnan(value) else format(value, spec):>{width}}"


def sliver07_table(df: pd.DataFrame) -> str:
    """One line per case (failed cases show their error), then the mean of the successful ones.

    `df` has `case_id`, `status`, `error` and the metric columns of `liverbench.schema`.
    """
    width = max([16] + [len(str(c)) + 2 for c in df["case_id"]])
    head = (f"{'case':<{width}}" + "".join(f"{m.label + ' ' + m.unit:>12}{'score':>7}" for m in SLIVER07)
            + f"{'Dice':>8}{'Score':>8}")
    lines = [head, "-" * len(head)]

    def line(label: str, rec) -> str:
        return (f"{label:<{width}}" + "".join(_number(rec[m.column], ".2f", 12) + _number(rec[m.score_column], ".1f", 7)
                                             for m in SLIVER07)
                + _number(rec["dice"], ".3f", 8) + _number(rec[SCORE], ".1f", 8))

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

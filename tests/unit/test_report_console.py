"""The terminal table of `liverbench eval`: SLiver07 columns with Dice beside them, aligned."""

from __future__ import annotations

import numpy as np
import pandas as pd

from liverbench.report.console import sliver07_table
from liverbench.schema import METRIC_COLUMNS


def _frame() -> pd.DataFrame:
    rows = []
    for i, case_id in enumerate(["a", "a-case-id-longer-than-sixteen", "broken"]):
        row = {c: float(i + 1) for c in METRIC_COLUMNS}
        row.update(case_id=case_id, status="ok", error="", dice=0.9 + i / 100, score=70.0 + i)
        rows.append(row)
    rows[2].update(status="failed", error="InputError: mask on another grid\nmore",
                   **{c: np.nan for c in METRIC_COLUMNS})
    return pd.DataFrame(rows)


def test_dice_sits_between_the_five_measures_and_the_total():
    lines = sliver07_table(_frame()).splitlines()
    head = lines[0].split()
    assert head[-5:] == ["Dice", "HD95", "mm", "NSD", "Score"]
    assert head.index("Dice") > head.index("MaxD")
    first = lines[2].split()
    assert first[0] == "a" and first[-1] == "70.0" and first[-4] == "0.900"
    mean = lines[-1].split()
    assert mean[:2] == ["mean", "(2)"] and mean[-1] == "70.5" and mean[-4] == "0.905"  # the failed case is left out


def test_long_case_ids_keep_the_columns_aligned_and_failures_show_the_whole_error():
    lines = sliver07_table(_frame()).splitlines()
    numeric = [lines[2], lines[3], lines[-1]]
    assert len({len(line) for line in numeric}) == 1 and len(lines[0]) == len(lines[2])
    assert "FAILED: InputError: mask on another grid" in lines[4] and "more" not in lines[4]
    assert "more" in lines[5] and lines[5].startswith(" ")  # the rest follows, indented, never cut off
    assert "nan" not in "\n".join(lines).lower()

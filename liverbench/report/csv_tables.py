"""CSV files of every table: the raw numbers (not the rounded display), empty where missing."""

from __future__ import annotations

from pathlib import Path

from liverbench.report.document import Table


def write(t: Table, directory: Path) -> Path:
    path = directory / f"{t.name}.csv"
    t.data.to_csv(path, index=False, na_rep="", float_format="%.10g")
    return path

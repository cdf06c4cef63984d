"""The report as data: sections holding text, tables and figures, rendered by each format.

Tables keep their raw numbers (for CSV) and say how to show them (for Markdown, HTML, LaTeX),
so every format shows the same rounding and no format ever prints "nan".
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

MISSING = "–"  # shown wherever a value does not exist (a std of one case, a skipped test)


def seconds(value: float) -> str:
    """Three significant digits without exponent notation, at most 4 decimals: 0.0019, 4.70, 87.3, 1234."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else MISSING
    if abs(value) < 0.00005:  # would print as 0.0000
        return "<0.0001"
    decimals = min(4, max(0, 2 - math.floor(math.log10(abs(value)))))
    return f"{value:.{decimals}f}"


@dataclass
class Table:
    name: str  # file stem for tables/<name>.csv and .tex; unique within a report
    title: str
    data: pd.DataFrame  # raw values; columns are machine names
    headers: dict[str, str] = field(default_factory=dict)  # column -> label shown
    # column -> format spec (".2f") or a function of the value (`seconds`)
    formats: dict[str, str | Callable[[float], str]] = field(default_factory=dict)
    caption: str = ""
    bold_last_row: bool = False  # the average row of a per-case table
    display: pd.DataFrame | None = None  # ready-made text cells, when one cell shows two numbers

    def header(self, column: str) -> str:
        return self.headers.get(column, column)

    def cell(self, column: str, value) -> str:
        if value is None or value is pd.NA:
            return MISSING
        if isinstance(value, (bool, np.bool_)):
            return "yes" if value else "no"
        if isinstance(value, numbers.Real) and math.isnan(value):
            return MISSING
        spec = self.formats.get(column)
        if callable(spec) and isinstance(value, numbers.Real):
            return spec(float(value))
        if spec and isinstance(value, numbers.Real):
            text = format(value, spec)
            return text.lstrip("-") if spec.endswith("f") and float(text) == 0 else text  # no "-0.00"
        return str(value)

    def display_rows(self) -> list[list[str]]:
        if self.display is not None:
            return [[MISSING if v is None or v == "" else str(v) for v in row] for row in self.display.itertuples(index=False)]
        return [[self.cell(c, v) for c, v in zip(self.data.columns, row)] for row in self.data.itertuples(index=False)]

    def display_headers(self) -> list[str]:
        if self.display is not None:
            return [self.header(c) for c in self.display.columns]
        return [self.header(c) for c in self.data.columns]


@dataclass
class Figure:
    name: str  # file stem of figures/<name>.png
    title: str
    path: Path
    caption: str = ""


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)  # plain text (escaped by each format)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    subsections: list["Section"] = field(default_factory=list)
    collapsed: bool = False  # long detail (per-case tables): HTML folds it away
    gallery: bool = False  # many figures of one kind (overlays): HTML lays them out side by side

    def all_tables(self):
        yield from self.tables
        for sub in self.subsections:
            yield from sub.all_tables()


@dataclass
class Document:
    title: str
    summary: list[str]
    sections: list[Section]

    def all_tables(self):
        for section in self.sections:
            yield from section.all_tables()

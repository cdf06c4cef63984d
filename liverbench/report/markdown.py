"""Markdown rendering (GitHub-flavoured pipe tables; figures linked as figures/<name>.png, or, with
`link_figures=False`, named with a note saying where they come from: for a report committed
where its figures may not be, so that no link dangles)."""

from __future__ import annotations

import re
from pathlib import Path

from liverbench.report.document import Document, Section, Table

# Characters that would end a cell or turn user text (case ids, method names, errors) into markup.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def table(t: Table) -> str:
    headers = [escape(h) for h in t.display_headers()]
    lines = [f"**{escape(t.title)}**", "", "| " + " | ".join(headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    rows = t.display_rows()
    for i, row in enumerate(rows):
        cells = [escape(c) for c in row]
        if t.bold_last_row and i == len(rows) - 1:
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    if t.caption:
        lines += ["", escape(t.caption)]
    return "\n".join(lines)


def section(s: Section, level: int, out_dir: Path, figures_note: str | None = None) -> list[str]:
    """`figures_note` None links each figure; a string names it instead, followed by the note."""
    parts = [f"{'#' * level} {escape(s.title)}"]
    parts += [escape(p) for p in s.paragraphs]
    parts += [table(t) for t in s.tables]
    for figure in s.figures:
        name = Path(figure.path).relative_to(out_dir).as_posix()
        shown = (f"![{escape(figure.title)}]({name})" if figures_note is None
                 else f"Figure *{escape(figure.title)}* (`{name}`, not linked: {escape(figures_note)})")
        parts.append(shown + (f"\n\n{escape(figure.caption)}" if figure.caption else ""))
    for sub in s.subsections:
        parts += section(sub, min(level + 1, 6), out_dir, figures_note)
    return parts


def render(doc: Document, out_dir: Path, link_figures: bool = True, figures_note: str = "") -> str:
    note = None if link_figures else (figures_note or "this file does not link its figures").rstrip(".")
    parts = [f"# {escape(doc.title)}", "\n".join(f"- {escape(line)}" for line in doc.summary)]
    for s in doc.sections:
        parts += section(s, 2, out_dir, note)
    return "\n\n".join(parts) + "\n"

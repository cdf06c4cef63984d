"""LaTeX tables ready for a paper: booktabs rules, one `table` environment per file, user text
escaped (case ids, method names). Needs \\usepackage{booktabs} (and graphicx: tables wider than
ten columns are scaled to the line width) in the paper's preamble."""

from __future__ import annotations

import re

from liverbench.report.document import Table

_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "–": "--", "−": "$-$", "Δ": r"$\Delta$",
}
WIDE = 10  # columns beyond which a table is scaled to \linewidth
_PATTERN = re.compile("|".join(re.escape(k) for k in _SPECIALS))


def escape(text) -> str:
    return _PATTERN.sub(lambda m: _SPECIALS[m.group(0)], " ".join(str(text).split()))


def _numeric(values: list[str]) -> bool:
    return all(v == "–" or re.fullmatch(r"[<+-]?\d+(\.\d+)?(e[+-]?\d+)?", v) for v in values)


def render(t: Table) -> str:
    headers, rows = t.display_headers(), t.display_rows()
    align = "".join("r" if _numeric([r[i] for r in rows]) and rows else "l" for i in range(len(headers)))
    lines = [
        r"\begin{table}[htbp]", r"\centering", r"\small",
        rf"\caption{{{escape(t.title)}{'. ' + escape(t.caption) if t.caption else ''}}}",
        rf"\label{{tab:{escape(t.name)}}}",
        *([r"\resizebox{\linewidth}{!}{%"] if len(headers) > WIDE else []),
        rf"\begin{{tabular}}{{{align}}}", r"\toprule",
        " & ".join(escape(h) for h in headers) + r" \\", r"\midrule",
    ]
    for i, row in enumerate(rows):
        if t.bold_last_row and i == len(rows) - 1:
            lines.append(r"\midrule")
            row = [rf"\textbf{{{escape(c)}}}" for c in row]
        else:
            row = [escape(c) for c in row]
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}" + ("}" if len(headers) > WIDE else ""), r"\end{table}"]
    return "\n".join(lines) + "\n"

"""One self-contained HTML file: CSS inline, figures embedded as base64 PNG, no scripts, no
external requests. Every string that came from a user (case ids, method names, parameters,
error messages) passes through `html.escape`, attributes included."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from liverbench.report.document import Document, Section, Table

# Columns of long free text: wrapped inside the cell rather than widening the table.
WRAPPED = ("Error", "Case ids")

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2937; margin: 0;
       background: #f8fafc; }
main { max-width: 1440px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 26px; margin: 8px 0 12px; } h2 { font-size: 20px; margin-top: 36px;
     border-bottom: 2px solid #e2e8f0; padding-bottom: 4px; } h3 { font-size: 16px; margin-top: 24px; }
h4 { font-size: 14px; margin: 18px 0 6px; }
ul.summary { background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 12px 28px; }
/* A wide table scrolls inside its box, never the page; a shadow at the box's edge shows that
   more of it lies that way (a headless or overlay scrollbar may not show). */
.table-wrap { overflow-x: auto; max-width: 100%; margin: 8px 0 4px; scrollbar-width: thin;
              scrollbar-color: #94a3b8 #f1f5f9;
              background: linear-gradient(to right, #fff 30%, rgba(255,255,255,0)),
                          linear-gradient(to right, rgba(255,255,255,0), #fff 70%) 100% 0,
                          radial-gradient(farthest-side at 0 50%, rgba(15,23,42,.28), rgba(15,23,42,0)),
                          radial-gradient(farthest-side at 100% 50%, rgba(15,23,42,.28), rgba(15,23,42,0)) 100% 0;
              background-repeat: no-repeat; background-size: 40px 100%, 40px 100%, 16px 100%, 16px 100%;
              background-attachment: local, local, scroll, scroll; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 4px 8px; text-align: right; white-space: nowrap; }
th { background: #f1f5f9; border-bottom: 2px solid #cbd5e1; }
td.text, th.text { text-align: left; } td.wrap { white-space: normal; min-width: 240px; max-width: 640px;
                                                 text-align: left; }
tr.average td { font-weight: 700; border-top: 2px solid #94a3b8; }
tbody tr:hover { background: #f8fafc; }
p.note { color: #475569; font-size: 12.5px; margin: 4px 0 14px; max-width: 980px; }
figure { margin: 14px 0 22px; background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 10px;
         display: block; width: fit-content; max-width: 100%; box-sizing: border-box; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 12.5px; color: #475569; margin-top: 6px; }
details { margin: 10px 0; } summary { cursor: pointer; font-weight: 600; }
.gallery figure { display: inline-block; width: 660px; margin-right: 12px; vertical-align: top; }
"""


def e(text) -> str:
    return html.escape(str(text), quote=True)


def _is_text(values: list[str]) -> bool:
    return any(v and not v.lstrip("+-−").replace(".", "", 1).replace("e", "", 1).isdigit() and v != "–"
               for v in values)


def table(t: Table) -> str:
    headers, rows = t.display_headers(), t.display_rows()
    text_columns = [_is_text([r[i] for r in rows]) for i in range(len(headers))]
    out = [f'<div class="table-wrap"><table id="{e(t.name)}" data-table="{e(t.name)}">', f"<caption>{e(t.title)}</caption>",
           "<thead><tr>" + "".join(f'<th class="{"text" if tc else "num"}">{e(h)}</th>'
                                   for h, tc in zip(headers, text_columns)) + "</tr></thead>", "<tbody>"]
    for i, row in enumerate(rows):
        css = ' class="average"' if t.bold_last_row and i == len(rows) - 1 else ""
        cells = []
        for header, value, tc in zip(headers, row, text_columns):
            cls = "wrap" if header in WRAPPED else ("text" if tc else "num")
            cells.append(f'<td class="{cls}">{e(value)}</td>')
        out.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    if t.caption:
        out.append(f'<p class="note">{e(t.caption)}</p>')
    return "\n".join(out)


def figure(path: Path, title: str, caption: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    text = f"<strong>{e(title)}</strong>" + (f" — {e(caption)}" if caption else "")
    return (f'<figure><img alt="{e(title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{text}</figcaption></figure>")


def section(s: Section, level: int) -> str:
    body = [f'<p class="note">{e(p)}</p>' for p in s.paragraphs]
    body += [table(t) for t in s.tables]
    if s.figures:
        css = "figures gallery" if s.gallery else "figures"
        body.append(f'<div class="{css}">' + "".join(figure(f.path, f.title, f.caption) for f in s.figures) + "</div>")
    body += [section(sub, min(level + 1, 6)) for sub in s.subsections]
    inner = "\n".join(body)
    if s.collapsed:
        return f"<section><details><summary>{e(s.title)}</summary>\n{inner}\n</details></section>"
    return f"<section><h{level}>{e(s.title)}</h{level}>\n{inner}\n</section>"


def render(doc: Document) -> str:
    summary = "".join(f"<li>{e(line)}</li>" for line in doc.summary)
    sections = "\n".join(section(s, 2) for s in doc.sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(doc.title)}</title><style>{CSS}</style></head>\n"
            f'<body><main><h1>{e(doc.title)}</h1><ul class="summary">{summary}</ul>\n{sections}\n</main></body></html>\n')

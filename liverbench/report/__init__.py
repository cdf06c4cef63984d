"""Reports of a run: SLiver07 per-case tables, leaderboard, statistics, figures, in Markdown,
one self-contained HTML file, CSV and LaTeX.

    from liverbench.report import build_report
    build_report("runs/demo", "reports/demo")        # -> reports/demo/report.html
"""

from __future__ import annotations

import shutil
from pathlib import Path

from liverbench.errors import ConfigError

FORMATS = ("md", "html", "csv", "tex")


def build_report(run_dir, out_dir, formats=FORMATS) -> Path:
    """Write report.md, report.html, tables/*.csv, tables/*.tex and figures/*.png into `out_dir`.

    Returns the path of the main file: report.html when HTML is among the formats, else
    report.md, else the tables directory. Figures are drawn for Markdown (which links them) and
    HTML (which embeds them); a tables-only report skips them. The run's `[report]` config decides
    whether report.md links its figures (`link_figures`) or names them with `figures_note`. Old tables and figures in
    `out_dir` are replaced, so a report never mixes two runs.
    """
    from liverbench.report import csv_tables, html, latex, markdown
    from liverbench.report.contents import build_document
    from liverbench.report.run_data import load_run

    formats = tuple(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ConfigError(f"report formats {unknown} are unknown; choose from {list(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("figures", "tables"):
        shutil.rmtree(out_dir / stale, ignore_errors=True)
    figures_dir, tables_dir = out_dir / "figures", out_dir / "tables"
    with_figures = "md" in formats or "html" in formats
    if with_figures:
        figures_dir.mkdir()

    run = load_run(run_dir)
    doc = build_document(run, figures_dir if with_figures else None)

    main = tables_dir
    if "csv" in formats or "tex" in formats:
        tables_dir.mkdir()
        for table in doc.all_tables():
            if "csv" in formats:
                csv_tables.write(table, tables_dir)
            if "tex" in formats:
                (tables_dir / f"{table.name}.tex").write_text(latex.render(table), encoding="utf-8")
    if "md" in formats:
        main = out_dir / "report.md"
        options = run.config.get("report") or {}
        main.write_text(markdown.render(doc, out_dir, link_figures=bool(options.get("link_figures", True)),
                                        figures_note=str(options.get("figures_note") or "")), encoding="utf-8")
    if "html" in formats:
        main = out_dir / "report.html"
        main.write_text(html.render(doc), encoding="utf-8")
    return main


__all__ = ["build_report", "FORMATS"]

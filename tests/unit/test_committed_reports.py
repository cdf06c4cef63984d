"""The reports committed under reports/ (what a reader of the repository opens first) link only
files that are committed beside them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPORTS = Path(__file__).resolve().parents[2] / "reports"
# Markdown links and images, and HTML src / href: every target that is not a URL or an anchor.
LINK = re.compile(r"\]\(([^)\s]+)\)|(?:src|href)=\"([^\"]+)\"")


def _relative_targets(text: str) -> list[str]:
    targets = [a or b for a, b in LINK.findall(text)]
    return [t for t in targets if not re.match(r"[a-z]+:|#", t)]


def test_the_link_finder_sees_markdown_and_html_links():
    text = '![box](figures/a.png) [x](https://x.org) <img src="figures/b.png"> <a href="#top">'
    assert _relative_targets(text) == ["figures/a.png", "figures/b.png"]


@pytest.mark.parametrize("name", ["demo", "real"])
def test_committed_report_links_resolve(name):
    folder = REPORTS / name
    pages = [p for p in (folder / "report.md", folder / "report.html") if p.exists()]
    assert pages, f"{folder}: no report.md or report.html committed"
    for page in pages:
        missing = [t for t in _relative_targets(page.read_text(encoding="utf-8"))
                   if not (folder / t.split("#")[0]).exists()]
        assert not missing, f"{page}: links to absent files {missing[:5]}"

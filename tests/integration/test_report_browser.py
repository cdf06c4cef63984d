"""Render report.html in headless Chromium: tables are in the DOM and every embedded figure
decodes (naturalWidth > 0). Skipped when `chromium` is not installed (`make test` installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))  # the fake-run builder lives there
from test_report_fakerun import make_run  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Appended to a copy of the report (the report itself carries no script): counts decoded images.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const decoded = images.filter(i => i.complete && i.naturalWidth > 0 && i.src.startsWith("data:image/png"));
  document.body.setAttribute("data-images", String(images.length));
  document.body.setAttribute("data-decoded", String(decoded.length));
  document.body.setAttribute("data-tables", String(document.querySelectorAll("table").length));
});
</script>"""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not on PATH")
def test_report_renders_with_tables_and_decoded_figures(tmp_path):
    run_dir = make_run(tmp_path, methods={"good": 4.0, "<b>bold</b>": 1.0}, fail=(("<b>bold</b>", "threshold", 2),))
    report = Path(__import__("liverbench.report", fromlist=["build_report"]).build_report(run_dir, tmp_path / "out"))
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")

    dom = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'id="leaderboard"' in html and 'id="failed_rows"' in html
    images = int(re.search(r'data-images="(\d+)"', html).group(1))
    decoded = int(re.search(r'data-decoded="(\d+)"', html).group(1))
    assert images >= 5 and decoded == images  # boxplots, curves, runtime, overlays: all decoded
    assert int(re.search(r'data-tables="(\d+)"', html).group(1)) >= 8
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html  # escaped, not rendered

    shot = tmp_path / "report.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,2200", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# Measures the layout at the window's width: the page must not scroll sideways; each table's
# box stays inside the page, and a table wider than its box scrolls inside it.
LAYOUT_PROBE = """<script>
window.addEventListener("load", () => {
  const width = document.documentElement.clientWidth;
  const wraps = Array.from(document.querySelectorAll(".table-wrap"));
  const set = (k, v) => document.body.setAttribute("data-" + k, String(v));
  set("viewport", width);
  set("page", document.documentElement.scrollWidth);
  set("wraps", wraps.length);
  set("outside", wraps.filter(w => w.getBoundingClientRect().right > width + 1).length);
  set("scrolling", wraps.filter(w => w.scrollWidth > w.clientWidth + 1 && getComputedStyle(w).overflowX === "auto").length);
  set("wide", wraps.filter(w => w.firstElementChild.scrollWidth > w.clientWidth + 1).length);
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not on PATH")
@pytest.mark.parametrize("width", [800, 1400])
def test_wide_tables_scroll_inside_their_box(tmp_path, width):
    run_dir = make_run(tmp_path, methods={"cnn3d": 2.0, "dsn3d": 4.0, "di2in": 3.0}, pps=("threshold", "densecrf"),
                       n_cases=8, fail=(), trained=("cnn3d", "dsn3d", "di2in"), save_predictions=False)
    report = Path(__import__("liverbench.report", fromlist=["build_report"]).build_report(run_dir, tmp_path / "out"))
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", LAYOUT_PROBE + "</body>"), encoding="utf-8")
    dom = _chromium(tmp_path, f"--window-size={width},1600", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]

    def value(key: str) -> int:
        return int(re.search(rf'data-{key}="(\d+)"', dom.stdout).group(1))

    assert value("viewport") <= width and value("page") == value("viewport")  # no sideways page scroll
    assert value("wraps") >= 8 and value("outside") == 0
    assert value("wide") >= 1 and value("scrolling") == value("wide")  # every wide table scrolls in its box

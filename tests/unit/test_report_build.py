"""build_report end to end on fake runs: every file written, escaping, edge cases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_report_fakerun import fake_run, make_run  # noqa: F401 (fixture)

from liverbench.errors import ConfigError
from liverbench.report import build_report

MALICIOUS = "<script>alert(1)</script>"
LATEX_SPECIALS = "&_%$#"


def _no_nan(text: str) -> bool:
    return re.search(r"\bnan\b", text, re.IGNORECASE) is None


def test_every_file_is_written(fake_run, tmp_path):
    out = tmp_path / "report"
    main = build_report(fake_run, out)
    assert main == out / "report.html"
    names = {"leaderboard", "distribution", "bootstrap", "wilcoxon_vs_leader", "wilcoxon_pairs", "refinement_gain",
             "runtime_profile", "failed_rows"} | {f"per_case_{e}" for e in
                                                  ("good-threshold", "good-largest-component", "bad-threshold",
                                                   "bad-largest-component")}
    for name in names:
        for ext in ("csv", "tex"):
            assert (out / "tables" / f"{name}.{ext}").stat().st_size > 0, f"{name}.{ext}"
    figures = {p.name for p in (out / "figures").glob("*.png")}
    assert {"boxplots.png", "learning_curves.png", "runtime.png", "overlay_good-threshold.png",
            "overlay_bad-largest-component.png"} <= figures
    for path in (out / "figures").glob("*.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text(encoding="utf-8")
    md = (out / "report.md").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == len(figures)  # self-contained
    assert "src=\"http" not in html and "<link" not in html
    assert "](figures/boxplots.png)" in md
    for text in [html, md] + [p.read_text(encoding="utf-8") for p in (out / "tables").iterdir()]:
        assert _no_nan(text)
    assert "1 rows failed" in md and "RuntimeError: out of memory in \\<refine\\>" in md


def test_leaderboard_csv_holds_raw_numbers_in_rank_order(fake_run, tmp_path):
    import pandas as pd

    build_report(fake_run, tmp_path / "r", formats=("csv",))
    board = pd.read_csv(tmp_path / "r" / "tables" / "leaderboard.csv")
    # the entry with a failed row is scored on fewer cases: ranked in its own case set, never
    # against the others
    assert list(board["case_set"]) == ["A", "A", "A", "B"] and list(board["rank"]) == [1, 2, 3, 1]
    assert board.loc[board["case_set"] == "A", "score"].is_monotonic_decreasing
    sets = pd.read_csv(tmp_path / "r" / "tables" / "case_sets.csv")
    assert list(sets["n_cases"]) == [board["n_cases"].max(), board["n_cases"].min()]
    # rank stability ranks within the case sets too, as the leaderboard does
    stability = pd.read_csv(tmp_path / "r" / "tables" / "bootstrap.csv")
    ranks = dict(zip(board["method"] + " + " + board["postprocessor"], board["rank"]))
    assert dict(zip(stability["entry"], stability["rank"])) == ranks
    assert not (tmp_path / "r" / "report.html").exists() and not (tmp_path / "r" / "figures").exists()


def test_user_strings_are_escaped_in_html_latex_and_markdown(tmp_path):
    run_dir = make_run(tmp_path, methods={MALICIOUS: 3.0, LATEX_SPECIALS: 1.0},
                       case_ids=[MALICIOUS, LATEX_SPECIALS, "plain-01", "plain-02"], fail=((MALICIOUS, "threshold", 1),),
                       trained=(MALICIOUS,))
    # make the error message itself hostile too
    out = tmp_path / "report"
    build_report(run_dir, out)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp;_%$#" in html
    tex = (out / "tables" / "leaderboard.tex").read_text(encoding="utf-8")
    assert r"\&\_\%\$\#" in tex and LATEX_SPECIALS not in tex
    assert r"\textless{}script\textgreater{}" in tex
    per_case = next((out / "tables").glob("per_case_*script*.tex")).read_text(encoding="utf-8")
    assert r"\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{}" in per_case
    assert MALICIOUS not in (out / "report.md").read_text(encoding="utf-8")
    assert "\\<script\\>" in (out / "report.md").read_text(encoding="utf-8")
    assert any(p.name.startswith("overlay_script-alert-1-script") for p in (out / "figures").iterdir())


def test_single_method_has_no_comparisons(tmp_path):
    run_dir = make_run(tmp_path, methods={"good": 3.0}, pps=("threshold",), fail=(), save_predictions=False)
    out = tmp_path / "report"
    build_report(run_dir, out)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "Only one method" in md
    assert not (out / "tables" / "wilcoxon_vs_leader.csv").exists()
    assert "Not drawn: the run saved no predictions" in md  # overlays skipped with one note
    assert "None: every row succeeded." in md
    assert _no_nan(md) and _no_nan((out / "report.html").read_text(encoding="utf-8"))


def test_many_methods_and_a_method_that_failed_everywhere(tmp_path):
    methods = {f"m{i}": 1.0 + i * 0.4 for i in range(7)}
    fail = [("m0", pp, i) for pp in ("threshold", "largest-component", "graphcut") for i in range(6)]
    run_dir = make_run(tmp_path, methods=methods, pps=("threshold", "largest-component", "graphcut"), fail=fail,
                       save_predictions=False, trained=())
    out = tmp_path / "report"
    build_report(run_dir, out, formats=("md", "csv"))
    import pandas as pd

    assert not list((out / "tables").glob("*.tex"))

    board = pd.read_csv(out / "tables" / "leaderboard.csv")
    assert len(board) == 21 and board["rank"].isna().sum() == 3  # m0 rows: listed, unranked
    pairs = pd.read_csv(out / "tables" / "wilcoxon_pairs.csv")
    assert len(pairs) == 18 * 17 // 2
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "18 rows failed" in md and "Learning curves: not drawn" in md
    assert _no_nan(md)


def test_unknown_format_is_refused(fake_run, tmp_path):
    with pytest.raises(ConfigError, match="pdf"):
        build_report(fake_run, tmp_path / "r", formats=("md", "pdf"))


def test_a_run_where_every_row_failed_still_reports(tmp_path):
    fail = [(m, "threshold", i) for m in ("good", "bad") for i in range(3)]
    run_dir = make_run(tmp_path, pps=("threshold",), n_cases=3, fail=fail, save_predictions=False)
    out = tmp_path / "report"
    build_report(run_dir, out)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "6 rows failed" in md and "No method has a successful case" in md
    assert (out / "tables" / "leaderboard.csv").read_text(encoding="utf-8").count("\n") == 3  # header + 2 unranked entries
    assert _no_nan(md) and _no_nan((out / "report.html").read_text(encoding="utf-8"))


def test_findings_come_first_and_tuned_refinements_read_well(tmp_path):
    import pandas as pd

    run_dir = make_run(tmp_path, pps=("threshold", "densecrf"), tuned=("densecrf",), fail=(),
                       save_predictions=False)
    out = tmp_path / "report"
    build_report(run_dir, out, formats=("md", "csv", "tex"))
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.index("## Findings") < md.index("## Leaderboard")
    assert "inconclusive (n too small)" in md  # 6 cases cannot pass a family of 2 tests
    # the fake run has no paper method: the untestable claims are one line, not six paragraphs
    assert "6 of the papers' 6 claims need methods or refinements this run does not have" in md
    assert "Not tested" not in md and "DI2IN-AN" not in md

    board = pd.read_csv(out / "tables" / "leaderboard.csv")
    assert set(board["postprocessor"]) == {"threshold", "densecrf (tuned)"}  # one label for two parameter sets
    params = pd.read_csv(out / "tables" / "tuned_parameters.csv").set_index("method")
    assert params.loc["good", "parameters"] == "mu1=4, tau=[0.1, 0.2], theta_alpha=15"
    assert params.loc["bad", "parameters"].startswith("mu1=3,") and params.loc["bad", "n_cases"] == 6
    gains = pd.read_csv(out / "tables" / "findings_refinements.csv")
    assert list(gains["postprocessor"]) == ["densecrf (tuned)"] * 2
    names = {p.stem for p in (out / "tables").iterdir()}
    assert {"per_case_good-densecrf-tuned", "per_case_bad-densecrf-tuned", "findings_refinements"} <= names
    assert "mu1" not in md.split("## Leaderboard")[1].split("Parameters of the tuned")[0]


def test_long_labels_get_short_stable_file_names():
    from liverbench.report.contents import Slugs

    label = "dsn3d (iterations=800, lr=0.001, preset=cpu, width=0.5) + densecrf (mu1=5.0, mu2=3.0)"
    first, again, other = Slugs()(label), Slugs()(label), Slugs()(label.replace("800", "900"))
    assert first == again and first != other and len(first) <= Slugs.MAX
    assert first.startswith("dsn3d-iterations-800")
    assert Slugs()("good + threshold") == "good-threshold"  # short labels stay as they were


def test_paper_claims_reach_a_verdict_in_every_format(tmp_path):
    import pandas as pd

    # The fake refinement adds 0.5 + 0.1 * case index to every case of a method other than "bad":
    # with 12 cases the CRF claims of Dou et al. must come out reproduced.
    run_dir = make_run(tmp_path, methods={"cnn3d": 2.0, "dsn3d": 4.0}, pps=("threshold", "densecrf"),
                       tuned=("densecrf",), n_cases=12, fail=(), save_predictions=False, trained=("cnn3d", "dsn3d"))
    out = tmp_path / "report"
    build_report(run_dir, out, formats=("md", "html", "csv"))
    claims = pd.read_csv(out / "tables" / "findings_claims.csv").set_index("claim")
    crf = claims.loc["the CRF improves the plain 3D CNN"]
    assert (crf["entry_a"], crf["entry_b"], crf["n_cases"]) == ("cnn3d + densecrf (tuned)", "cnn3d + threshold", 12)
    assert crf["mean_diff"] == pytest.approx(0.5 + 0.1 * 5.5) and crf["verdict"] == "reproduced"
    assert claims.loc["the CRF improves the DSN", "verdict"] == "reproduced"
    assert len(claims) == 3  # the Yang et al. claims need di2in entries
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="findings_claims"' in html and html.index("Findings") < html.index('id="leaderboard"')
    assert "3 of the papers&#x27; 6 claims need methods or refinements this run does not have" in html
    assert "Not tested" not in html
    # the forest plot of the findings comes first, before the findings' text
    assert html.index("Findings at a glance") < html.index("<h2>Findings</h2>")
    assert (out / "figures" / "findings_forest.png").is_file()


def test_own_comparisons_and_unlinked_figures(tmp_path):
    import pandas as pd

    run_dir = make_run(tmp_path, methods={"cnn3d": 2.0, "dsn3d": 4.0}, pps=("threshold", "densecrf"), n_cases=12,
                       fail=(), trained=("cnn3d", "dsn3d"),
                       report={"compare": [{"a": "dsn3d + densecrf", "b": "cnn3d"}, {"a": "dsn3d", "b": "nope"}],
                               "link_figures": False, "figures_note": "regenerated by `make real`"})
    out = tmp_path / "report"
    build_report(run_dir, out, formats=("md", "csv"))
    own = pd.read_csv(out / "tables" / "findings_comparisons.csv")
    assert list(zip(own["entry_a"], own["entry_b"])) == [("dsn3d + densecrf", "cnn3d + threshold")]
    assert own["verdict"].iloc[0] == "A better" and own["ci_kind"].iloc[0] == "unadjusted"
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "report.compare\\[1\\]: b = 'nope' is not an entry" in md
    # no figure is linked (they are not in the repository), each is named with the note instead
    assert "](figures/" not in md and "![" not in md
    assert "(`figures/findings_forest.png`, not linked: regenerated by \\`make real\\`)" in md
    for figure in ("findings_forest", "boxplots"):
        assert (out / "figures" / f"{figure}.png").is_file() and f"figures/{figure}.png" in md


def test_split_line_gives_counts_not_ids():
    from liverbench.report.contents import _split_text

    ids = [f"phantom-{i:03d}" for i in range(48)]
    assert _split_text({"kind": "fixed", "test": ids[:36], "train": ids[36:], "test_fraction": 0.33,
                        "val_fraction": 0.25, "seed": 89, "k": 5}) == (
        "fixed, train 12 cases listed, test 36 cases listed, val_fraction 0.25, seed 89")
    assert _split_text({"kind": "loo", "test": ids[:2], "k": 5, "test_fraction": 0.33, "seed": 0}) == (
        "loo, test 2 cases listed, seed 0")
    assert _split_text({"kind": "none", "k": 5, "seed": 0}) == "none"


def test_real_config_report_names_its_figures_without_dangling_links(tmp_path):
    # reports/real is committed without its figures (3D-IRCADb-01 allows no derivatives in the
    # repository): built with benchmarks/real.toml's [report] table, report.md links no file.
    import tomllib

    root = Path(__file__).resolve().parents[2]
    table = tomllib.loads((root / "benchmarks" / "real.toml").read_text(encoding="utf-8"))["report"]
    run_dir = make_run(tmp_path, report=table)
    out = tmp_path / "real"
    build_report(run_dir, out, formats=("md", "csv"))
    md = (out / "report.md").read_text(encoding="utf-8")
    assert not re.search(r"\]\((?!https?:)[^)]+\)", md)  # no relative link at all
    assert "not linked: drawn locally by \\`make real\\`" in md and "figures/boxplots.png" in md

"""The command line: exit codes, run/dry-run/resume, eval of masks made elsewhere, profile."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liverbench.commands.cli import EXIT_FAILED_ROWS, EXIT_INPUT, EXIT_OK, EXIT_USAGE, build_parser, main
from liverbench.plugins import registry
from liverbench.run.store import ResultStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from test_engine_plugins import EngPhantoms, register_all  # noqa: E402


@pytest.fixture(autouse=True)
def plugins():
    register_all()


def write_cfg(tmp_path, extra="", method='name = "eng-hu"', name="cli"):
    p = tmp_path / f"{name}.toml"
    p.write_text(textwrap.dedent(f"""
        name = "{name}"
        runs_dir = "{tmp_path / 'runs'}"
        [dataset]
        name = "eng-phantoms"
        params = {{ n_cases = 4 }}
        [split]
        kind = "fixed"
        test_fraction = 0.5
        val_fraction = 0.0
        [[methods]]
        {method}
        [execution]
        backend = "ray"
        """) + textwrap.dedent(extra), encoding="utf-8")
    return p


def test_help_documents_exit_codes(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("run", "eval", "report", "methods", "profile", "tune-refinement"):
        assert cmd in out
    assert "exit codes" in out and "3  input data error" in out
    run_help = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    assert "--dry-run" in run_help and "--retry-failed" in run_help and "--set KEY=VALUE" in run_help


def test_run_resume_and_dry_run(tmp_path, capsys):
    cfg = write_cfg(tmp_path)
    # --set overrides the file: the local backend here
    assert main(["run", str(cfg), "--set", "execution.backend=local", "--quiet"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "2 ok, 0 failed of 2 rows" in out
    assert main(["run", str(cfg), "--set", "execution.backend=local", "--dry-run"]) == EXIT_OK
    assert "stored: 2 ok, 0 failed; to compute: 0" in capsys.readouterr().out
    assert main(["run", str(cfg), "--set", "execution.backend=local", "--quiet"]) == EXIT_OK
    assert "0 computed now, 2 already stored" in capsys.readouterr().out


def test_config_errors_exit_2_naming_the_key(tmp_path, capsys):
    cfg = write_cfg(tmp_path, extra="max_in_flight = 0\n")
    assert main(["run", str(cfg)]) == EXIT_USAGE
    assert "execution.max_in_flight" in capsys.readouterr().err
    cfg = write_cfg(tmp_path, method='name = "eng-hx"')
    assert main(["run", str(cfg), "--dry-run"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "methods[0].name" in err and "eng-hu" in err  # a suggestion
    assert main(["run", str(tmp_path / "missing.toml")]) == EXIT_USAGE


def test_failed_rows_exit_1_with_summary(tmp_path, capsys):
    cfg = write_cfg(tmp_path, extra="", name="bad")
    text = cfg.read_text(encoding="utf-8").replace("n_cases = 4 }", 'n_cases = 4, bad = ["eng-000", "eng-001", "eng-002", "eng-003"] }')
    cfg.write_text(text, encoding="utf-8")
    assert main(["run", str(cfg), "--set", "execution.backend=local", "--quiet"]) == EXIT_FAILED_ROWS
    out = capsys.readouterr().out
    assert "failures:" in out and "truncated file" in out


def _masks(tmp_path, shift: int = 0):
    from liverbench.data.io import write_volume

    ds = EngPhantoms(n_cases=3)
    pred, ref = tmp_path / "pred", tmp_path / "ref"
    pred.mkdir()
    ref.mkdir()
    for cid in ds.case_ids():
        case = ds.load(cid)
        write_volume(case.mask, ref / f"{cid}.nii.gz")
        m = np.roll(case.mask.array, shift, axis=2)
        write_volume(case.mask.with_array(m.astype(np.uint8)), pred / f"{cid}.nii.gz")
    return ds, pred, ref


def test_eval_folder_against_folder_and_dataset(tmp_path, capsys):
    ds, pred, ref = _masks(tmp_path, shift=1)
    out_csv = tmp_path / "scores.csv"
    assert main(["eval", "--pred", str(pred), "--ref", str(ref), "--out", str(out_csv)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "eng-000" in text and "mean (3)" in text and "VOE %" in text
    assert "HD95 mm" in text and "NSD@1mm" in text and "summary.json" in text
    df = pd.read_csv(out_csv)
    assert list(df["case_id"]) == ["eng-000", "eng-001", "eng-002", "mean"] and df["status"].iloc[-1] == "summary"
    cases = df[df["status"] == "ok"]
    assert len(cases) == 3 and (cases["voe"] > 0).all() and (cases["dice"] < 1).all()
    assert df["voe"].iloc[-1] == pytest.approx(cases["voe"].mean())
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    import liverbench

    assert summary["liverbench_version"] == liverbench.__version__
    assert (summary["convention"], summary["nsd_tolerance_mm"], summary["n_ok"]) == ("sliver07", 1.0, 3)
    assert summary["mean"]["hd95"] == pytest.approx(cases["hd95"].mean())
    assert summary["std"]["dice"] == pytest.approx(cases["dice"].std(ddof=1))
    assert summary["median"]["asd"] == pytest.approx(cases["asd"].median())
    assert [c["case_id"] for c in summary["cases"]] == ["eng-000", "eng-001", "eng-002"]
    df = df[df["status"] == "ok"].reset_index(drop=True)
    # the same against the registered dataset's own masks
    out_pq = tmp_path / "scores.parquet"
    assert main(["eval", "--pred", str(pred), "--ref", "eng-phantoms", "--ref-params", '{"n_cases": 3}',
                 "--out", str(out_pq)]) == EXIT_OK
    pd.testing.assert_series_equal(pd.read_parquet(out_pq)["voe"].iloc[:3], df["voe"], check_names=False)


def test_eval_label_maps_empty_references_and_whole_errors(tmp_path, capsys):
    from liverbench.data.io import write_volume

    ds, pred, ref = _masks(tmp_path)
    # LiTS-style reference label maps: liver 1, a "tumour" 2 inside it
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    for cid in ds.case_ids():
        mask = ds.load(cid).mask
        labels = mask.array.astype(np.uint8)
        z = np.argwhere(labels)[:, 0]
        labels[(labels == 1) & (np.arange(labels.shape[0])[:, None, None] <= np.median(z))] = 2
        write_volume(mask.with_array(labels), labelled / f"{cid}.nii.gz")
    assert main(["eval", "--pred", str(pred), "--ref", str(labelled)]) == EXIT_INPUT  # not binary: refused
    assert "label map" in capsys.readouterr().out
    out_csv = tmp_path / "liver.csv"
    assert main(["eval", "--pred", str(pred), "--ref", str(labelled), "--label", "1+", "--out", str(out_csv)]) == EXIT_OK
    df = pd.read_csv(out_csv)
    assert (df.loc[df["status"] == "ok", "dice"] == 1.0).all()  # labels >= 1 is the whole liver
    assert json.loads((tmp_path / "summary.json").read_text())["reference_labels"] == "labels >= 1"
    capsys.readouterr()
    assert main(["eval", "--pred", str(pred), "--ref", str(labelled), "--label", "1"]) == EXIT_OK
    assert "mean (3)" in capsys.readouterr().out
    assert main(["eval", "--pred", str(pred), "--ref", str(labelled), "--label", "liver"]) == EXIT_USAGE
    assert "--label 'liver'" in capsys.readouterr().err
    # an empty reference is scored under the convention, with a note saying so
    empty = ds.load("eng-001").mask
    write_volume(empty.with_array(np.zeros_like(empty.array, np.uint8)), ref / "eng-001.nii.gz")
    assert main(["eval", "--pred", str(pred), "--ref", str(ref)]) == EXIT_OK
    assert "note: case eng-001: " in capsys.readouterr().out


def test_eval_console_shows_whole_errors():
    from liverbench.report.console import sliver07_table

    error = "case 'x': " + "a long explanation of what is wrong " * 6 + "\nsecond line: the file to fix"
    text = sliver07_table(pd.DataFrame([{"case_id": "x", "status": "failed", "error": error}]))
    assert "second line: the file to fix" in text and error.splitlines()[0] in text


def test_version(capsys):
    import liverbench

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"liverbench {liverbench.__version__}"


def test_eval_input_errors_exit_3(tmp_path, capsys):
    from liverbench.data.io import write_volume
    from liverbench.data.volume import Volume

    ds, pred, ref = _masks(tmp_path)
    (pred / "eng-001.nii.gz").unlink()
    write_volume(Volume(np.zeros((4, 4, 4), np.uint8), (1, 1, 1)), pred / "eng-002.nii.gz")
    assert main(["eval", "--pred", str(pred), "--ref", str(ref)]) == EXIT_INPUT
    out = capsys.readouterr().out
    assert "eng-000" in out and "no prediction" in out and "eng-002.nii.gz" in out
    assert main(["eval", "--pred", str(tmp_path / "nowhere"), "--ref", str(ref)]) == EXIT_INPUT
    assert main(["eval", "--pred", str(pred), "--ref", "no-such-dataset"]) == EXIT_USAGE


def test_eval_only_present_scores_the_submitted_cases(tmp_path, capsys):
    ds, pred, ref = _masks(tmp_path, shift=1)
    (pred / "eng-001.nii.gz").unlink()
    assert main(["eval", "--pred", str(pred), "--ref", str(ref)]) == EXIT_INPUT  # strict by default
    capsys.readouterr()
    out_csv = tmp_path / "partial.csv"
    assert main(["eval", "--pred", str(pred), "--ref", str(ref), "--only-present", "--out", str(out_csv)]) == EXIT_OK
    captured = capsys.readouterr()
    assert "mean (2)" in captured.out and "eng-001" in captured.err and "not scored" in captured.err
    df = pd.read_csv(out_csv)
    assert list(df["case_id"]) == ["eng-000", "eng-002", "mean"] and (df["status"].iloc[:2] == "ok").all()
    for p in pred.iterdir():
        p.unlink()
    capsys.readouterr()
    assert main(["eval", "--pred", str(pred), "--ref", str(ref), "--only-present"]) == EXIT_INPUT
    assert "no prediction matches" in capsys.readouterr().err


def test_precomputed_segmenter_scores_masks_in_a_run(tmp_path, capsys):
    from liverbench.plugins.precomputed import Precomputed

    if "precomputed" not in registry.names("segmenter"):
        registry.register("segmenter", "precomputed", Precomputed)
    ds, pred, ref = _masks(tmp_path)
    cfg = write_cfg(tmp_path, method=f'name = "precomputed"\nparams = {{ dir = "{pred}" }}', name="pre")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('kind = "fixed"', 'kind = "none"').replace("n_cases = 4", "n_cases = 3"), encoding="utf-8")
    assert main(["run", str(cfg), "--set", "execution.backend=local", "--quiet"]) == EXIT_OK
    df = ResultStore(tmp_path / "runs" / "pre").rows()
    assert len(df) == 3 and (df["score"] == 100.0).all() and (df["dice"] == 1.0).all()


def test_profile_prints_warm_medians(tmp_path, capsys):
    assert main(["profile", "eng-hu", "--refine", "eng-close", "--dataset", "eng-phantoms",
                 "--dataset-params", '{"n_cases": 4}', "--cases", "2", "--repeats", "2", "--fit-cases", "2"]) == EXIT_OK
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line and line.split()[0] in
             ("read", "preprocess", "predict", "refine")}
    assert set(lines) == {"read", "preprocess", "predict", "refine"}
    assert lines["predict"][-1] == "3"  # 2 cases x 2 repeats, minus the cold call
    assert "peak RSS" in out


def test_methods_lists_names(capsys):
    assert main(["methods", "--no-load"]) == EXIT_OK
    assert "eng-hu" in capsys.readouterr().out


def test_run_with_report_and_report_command(tmp_path, capsys):
    cfg = write_cfg(tmp_path, name="rep")
    rep = tmp_path / "rep-out"
    assert main(["run", str(cfg), "--set", "execution.backend=local", "--quiet", "--report", str(rep)]) == EXIT_OK
    assert (rep / "report.md").is_file()
    assert main(["report", str(tmp_path / "runs" / "rep"), "--out", str(tmp_path / "again"),
                 "--formats", "md"]) == EXIT_OK
    assert (tmp_path / "again" / "report.md").is_file()
    assert main(["report", str(tmp_path)]) == EXIT_USAGE  # not a run directory


def test_progress_plain_lines_eta_and_quiet():
    import io

    from liverbench.run.progress import Progress, format_seconds

    t = [0.0]
    stream = io.StringIO()
    p = Progress(4, stream=stream, interval=0.0, clock=lambda: t[0])
    for _ in range(2):
        t[0] += 10
        p.update(1)
    p.update(1, failed=1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in stream.getvalue()  # not a TTY: plain lines
    assert lines[1].startswith("[############------------] 2/4 rows") and "ETA 0:20" in lines[1]
    assert "1 failed" in lines[2]
    quiet = io.StringIO()
    q = Progress(2, stream=quiet, quiet=True)
    q.update(2)
    q.message("hello")
    assert quiet.getvalue() == ""
    assert format_seconds(3725) == "1:02:05" and format_seconds(float("nan")) == "?"
    # a long wait before the first row (training) does not inflate the ETA of the rows after it
    t = [0.0]
    slow_start = io.StringIO()
    p = Progress(10, stream=slow_start, interval=0.0, clock=lambda: t[0])
    t[0] = 600.0
    p.update(1)
    assert "ETA ?" in slow_start.getvalue()
    t[0] = 602.0
    p.update(1)
    assert slow_start.getvalue().splitlines()[-1].endswith("ETA 0:16")


def test_progress_eta_counts_fits_and_shows_what_a_fit_reports():
    import io

    from liverbench.run.progress import Progress

    t = [0.0]
    stream = io.StringIO()
    p = Progress(8, stream=stream, interval=0.0, clock=lambda: t[0])
    p.add_fits(2)
    t[0] = 30.0
    p.report("dsn3d fold 0 seed 0", 100, 400, "iterations")  # a quarter in 30 s: 90 s to go
    last = stream.getvalue().splitlines()[-1]
    assert "fits 0/2" in last and "ETA > 1:30" in last and "| dsn3d fold 0 seed 0: 100/400 iterations" in last
    t[0] = 120.0
    p.fit_done("dsn3d fold 0 seed 0")  # one fit per 120 s: the other needs 120 s more
    last = stream.getvalue().splitlines()[-1]
    assert "fits 1/2" in last and "ETA > 2:00" in last and "iterations" not in last
    p.update(1)
    t[0] = 130.0
    p.update(1)  # 10 s per row, 6 rows left: 60 s; the other fit: 130 s per fit done so far
    assert p.eta() == pytest.approx(130.0 / 1 * 1 + 60.0)
    t[0] = 200.0
    p.fit_done()
    assert p._fits_eta() == 0.0 and stream.getvalue().splitlines()[-1].startswith("[######------------------] fits 2/2")


def test_fit_progress_reaches_the_bar_through_the_work_directory(tmp_path):
    import io

    from liverbench.run.fit_progress import FileReporter, Watcher, read
    from liverbench.run.progress import Progress

    report = FileReporter(tmp_path, every=0.0)
    report(3, 10, "epoch 3")
    assert read(tmp_path) == {"done": 3.0, "total": 10.0, "message": "epoch 3"}
    stream = io.StringIO()
    bar = Progress(4, stream=stream, interval=0.0)
    watcher = Watcher(bar)
    watcher.watch("cnn3d fold 0 seed 0", tmp_path)
    watcher.watch("gone", tmp_path / "stored-already")  # the folder went with the stored model
    watcher.poll()
    assert "| cnn3d fold 0 seed 0: 3/10 epoch 3" in stream.getvalue()
    assert read(tmp_path / "stored-already") is None


def test_tune_refinement_command(tmp_path, capsys):
    pytest.importorskip("liverbench.run.tuning")
    out_csv = tmp_path / "grid.csv"
    assert main(["tune-refinement", "eng-close", "--method", "eng-hu", "--dataset", "eng-phantoms",
                 "--dataset-params", '{"n_cases": 4}', "--cases", "2", "--fit-cases", "2",
                 "--out", str(out_csv)]) == EXIT_OK
    assert "best eng-close params for score" in capsys.readouterr().out
    assert len(pd.read_csv(out_csv)) >= 2  # one line per grid point at least


@pytest.mark.parametrize("command", [["eval", "--pred", "p", "--ref", "r"],
                                     ["tune-refinement", "eng-close", "--method", "eng-hu"]])
def test_out_of_an_unknown_table_type_is_refused_before_any_work(command, tmp_path, capsys):
    out = tmp_path / "table.xlsx"
    assert main([*command, "--out", str(out)]) == EXIT_USAGE
    assert "use a .csv or .parquet file name" in capsys.readouterr().err and not out.exists()


def test_precomputed_mask_on_wrong_grid_is_a_failed_row_naming_the_file(tmp_path):
    from liverbench.data.io import write_volume
    from liverbench.data.volume import Volume
    from liverbench.plugins.precomputed import Precomputed

    if "precomputed" not in registry.names("segmenter"):
        registry.register("segmenter", "precomputed", Precomputed)
    ds, pred, ref = _masks(tmp_path)
    write_volume(Volume(np.zeros((4, 4, 4), np.uint8), (1, 1, 1)), pred / "eng-001.nii.gz")
    cfg = write_cfg(tmp_path, method=f'name = "precomputed"\nparams = {{ dir = "{pred}" }}', name="pre2")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('kind = "fixed"', 'kind = "none"').replace("n_cases = 4", "n_cases = 3"), encoding="utf-8")
    assert main(["run", str(cfg), "--set", "execution.backend=local", "--quiet"]) == EXIT_FAILED_ROWS
    df = ResultStore(tmp_path / "runs" / "pre2").rows()
    bad = df[df["status"] == "failed"]
    assert list(bad["case_id"]) == ["eng-001"] and "eng-001.nii.gz" in bad["error"].iloc[0]

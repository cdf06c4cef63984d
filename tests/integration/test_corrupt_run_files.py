"""Run-folder files damaged between runs (a copy cut short, a hand edit): `splits.json`, a stored
fit's `fit.json`, a stored model's own files. Each gives a clear message naming the file, loses
no stored row, and the same command (with --retry-failed where rows failed) completes."""

from __future__ import annotations

import shutil

import pytest
from test_engine_plugins import config, register_all

from liverbench.run import runner
from liverbench.run.store import ResultStore

ONE_FOLD = {"kind": "fixed", "test_fraction": 0.5, "val_fraction": 0.0}


@pytest.fixture(autouse=True)
def plugins():
    register_all()


def first_run(tmp_path):
    cfg = config(tmp_path, split=ONE_FOLD)
    out = runner.run(cfg, quiet=True)
    assert out.exit_code == 0 and out.n_ok == len(out.plan.rows)
    return cfg, out


def with_another_refinement(tmp_path):
    """The first run's config plus a refinement: new rows of the same stored model."""
    return config(tmp_path, split=ONE_FOLD, pps=[{"name": "eng-close", "params": {}},
                                                 {"name": "eng-close", "params": {"per_slice": True}}])


@pytest.mark.parametrize("damage", ['{"folds": [{"fold": 0, "te', "", "[1, 2]", "\xff\xfe not text"])
def test_an_unreadable_splits_json_is_set_aside_and_made_again_from_its_seed(tmp_path, capsys, damage):
    cfg, out = first_run(tmp_path)
    splits = out.run_dir / "splits.json"
    original = splits.read_text(encoding="utf-8")
    splits.write_bytes(damage.encode("latin-1"))
    with pytest.warns(UserWarning, match=f"{splits}: unreadable .*the split is made again from its seed"):
        runner.dry_run(cfg)  # the dry run says so and changes nothing
    assert splits.read_bytes() == damage.encode("latin-1")
    with pytest.warns(UserWarning, match=r"moved to splits\.json\.unreadable-\d+;"):
        again = runner.run(cfg, quiet=True)
    # the same seed makes the same split: every row is found stored, nothing is recomputed
    assert again.exit_code == 0 and again.computed == 0 and again.skipped == len(out.plan.rows)
    assert splits.read_text(encoding="utf-8") == original
    assert len(list(out.run_dir.glob("splits.json.unreadable-*"))) == 1


def test_an_unreadable_fit_record_is_set_aside_and_the_model_fitted_again(tmp_path, capsys):
    cfg, out = first_run(tmp_path)
    (fit_dir,) = [d for d in (out.run_dir / "fits").iterdir() if not d.name.startswith(".")]
    (fit_dir / "fit.json").write_text('{"method": "eng-hu", "t_fi', encoding="utf-8")
    with pytest.warns(UserWarning, match="unreadable fit record skipped"):
        assert ResultStore(out.run_dir).curves().empty  # the report skips it
    again = runner.run(with_another_refinement(tmp_path), quiet=False)  # new rows need the model
    err = capsys.readouterr().err
    assert f"{fit_dir}/fit.json unreadable (JSONDecodeError" in err and "fitting it again" in err
    assert again.exit_code == 0 and again.computed == 2 and again.skipped == len(out.plan.rows)
    assert (fit_dir / "fit.json").is_file() and len(list((out.run_dir / "fits" / "unreadable").iterdir())) == 1
    ResultStore(out.run_dir).fit_info(fit_dir.name)  # readable again


def test_an_unloadable_model_fails_its_rows_naming_the_stored_folder_and_deleting_it_refits(tmp_path, capsys):
    cfg, out = first_run(tmp_path)
    (fit_dir,) = [d for d in (out.run_dir / "fits").iterdir() if not d.name.startswith(".")]
    (fit_dir / "state.json").write_text("{not json", encoding="utf-8")
    cfg2 = with_another_refinement(tmp_path)  # its new rows must load the model
    second = runner.run(cfg2, quiet=True)
    assert second.exit_code == 1 and second.computed == 2
    failed = ResultStore(out.run_dir).rows().query("status == 'failed'")
    error = failed["error"].iloc[0]
    assert f"{fit_dir} (state.json): cannot load a saved eng-hu model: JSONDecodeError" in error, error
    assert f"delete {fit_dir} and run again with --retry-failed to fit it anew" in error
    assert "liverbench-model-" not in error  # the worker's temporary copy is not what the user can fix
    ok_before = (ResultStore(out.run_dir).rows()["status"] == "ok").sum()
    assert ok_before == len(out.plan.rows)  # the rows stored before are all kept

    shutil.rmtree(fit_dir)
    third = runner.run(cfg2, retry_failed=True, quiet=True)
    assert third.exit_code == 0 and third.computed == 2, third.summary()


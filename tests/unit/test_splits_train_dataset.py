"""loo / kfold with a [train_dataset]: every fold trains on all of it plus the scored-dataset
cases it does not test (phantoms + the other real cases, as `benchmarks/real.toml` does)."""

from __future__ import annotations

import pytest

from liverbench.data.splits import make_splits
from liverbench.errors import ConfigError
from liverbench.run.config import parse

REAL = ["r1", "r2", "r3", "r4"]
SYN = [f"s{i:02d}" for i in range(8)]


def split(**kw):
    base = {"kind": "loo", "test_fraction": 0.33, "val_fraction": 0.25, "k": 2, "seed": 0, "train": None, "test": None}
    base.update(kw)
    return base


def test_loo_with_train_dataset_trains_on_the_other_scored_cases():
    folds = make_splits(split(), REAL, SYN)
    assert [f["test"] for f in folds] == [[c] for c in REAL]
    fixed = make_splits(split(kind="fixed"), REAL, SYN)[0]
    for f in folds:
        assert f["train_from_dataset"] == [c for c in REAL if c not in f["test"]]
        # the validation hold-out comes from the train_dataset only, the same as `fixed` makes
        assert (f["train"], f["val"]) == (fixed["train"], fixed["val"])
        assert len(f["val"]) == 2 and set(f["train"]) | set(f["val"]) == set(SYN)
    assert "train_from_dataset" not in fixed  # train_dataset -> dataset stays as it was


def test_loo_test_list_limits_the_folds():
    folds = make_splits(split(test=["r3", "r1"]), REAL, SYN)
    assert [f["test"] for f in folds] == [["r1"], ["r3"]]
    assert folds[0]["train_from_dataset"] == ["r2", "r3", "r4"]
    # without a train_dataset too: the unlisted cases are always trained on
    plain = make_splits(split(test=["r2"], val_fraction=0.0), REAL)
    assert plain == [{"fold": 0, "train": ["r1", "r3", "r4"], "val": [], "test": ["r2"]}]
    with pytest.raises(ConfigError, match=r"split.test.*r9"):
        make_splits(split(test=["r9"]), REAL, SYN)


def test_kfold_with_train_dataset_tests_every_scored_case_once():
    folds = make_splits(split(kind="kfold", k=2), REAL, SYN)
    assert sorted(c for f in folds for c in f["test"]) == REAL
    for f in folds:
        assert sorted(f["train_from_dataset"] + f["test"]) == REAL
        assert not set(f["train"]) & set(REAL)


def _raw(**split_table):
    return {"name": "x", "dataset": {"name": "real"}, "train_dataset": {"name": "synthetic"},
            "methods": [{"name": "intensity"}], "split": split_table}


def test_config_accepts_loo_and_kfold_with_train_dataset_and_names_the_key_otherwise():
    assert parse(_raw(kind="loo", test=["a"]), check_names=False).split.test == ("a",)
    assert parse(_raw(kind="kfold", k=2), check_names=False).split.kind == "kfold"
    with pytest.raises(ConfigError, match=r"split.test: .*'fixed' or 'loo'"):
        parse(_raw(kind="kfold", test=["a"]), check_names=False)
    with pytest.raises(ConfigError, match=r"split.train: .*'fixed'"):
        parse(_raw(kind="loo", train=["b"], test=["a"]), check_names=False)
    with pytest.raises(ConfigError, match=r"split.test: with \[train_dataset\]"):
        parse(_raw(kind="fixed", test=["a"]), check_names=False)


@pytest.mark.parametrize("kind, says", [("loo", True), ("kfold", True), ("fixed", False)])
def test_report_summary_says_when_folds_also_train_on_the_scored_dataset(kind, says):
    from types import SimpleNamespace

    import pandas as pd

    from liverbench.report.contents import _summary

    rows = pd.DataFrame({"case_id": ["a", "b"], "status": ["ok", "ok"]})
    run = SimpleNamespace(name="r", run_dir="runs/r", rows=rows, ok=rows, failed=rows.iloc[:0], manifest={},
                          config={"dataset": {"name": "real"}, "split": {"kind": kind},
                                  "train_dataset": {"name": "synthetic", "params": {"n_cases": 12}}})
    trained = next(line for line in _summary(run) if line.startswith("Trained on"))
    assert trained.startswith('Trained on: synthetic {"n_cases": 12}')
    assert ("also trains on the scored dataset's cases it does not test" in trained) is says

"""A loo split with a [train_dataset] end to end (local executor): each fit reads its training
cases from both datasets, never the case it is scored on, and its key follows its lists."""

from __future__ import annotations

import json

import pytest

from liverbench import runner
from liverbench.store import ResultStore
from test_engine_plugins import config, register_all


@pytest.fixture(autouse=True)
def plugins():
    register_all()


def test_loo_with_train_dataset_trains_on_both_datasets(tmp_path):
    cfg = config(tmp_path, train_dataset={"name": "eng-phantoms", "params": {"n_cases": 3, "seed": 10}},
                 split={"kind": "loo", "test": ["eng-001", "eng-003"], "val_fraction": 0.0})
    out = runner.run(cfg, quiet=True)
    store = ResultStore(out.run_dir)
    df = store.rows()
    assert out.exit_code == 0 and sorted(df["case_id"].unique()) == ["eng-001", "eng-003"]
    fit_keys = sorted(df["fit_key"].unique())
    assert len(fit_keys) == 2
    for fit_key in fit_keys:
        info = json.loads((out.run_dir / "fits" / fit_key / "fit.json").read_text(encoding="utf-8"))
        tested = df.loc[df["fit_key"] == fit_key, "case_id"].unique().tolist()
        assert info["train"] == ["eng-000", "eng-001", "eng-002"]  # the train_dataset's ids
        assert sorted(info["train_from_dataset"] + tested) == ["eng-000", "eng-001", "eng-002", "eng-003"]
        # eng-hu writes one curve row per training case: 3 phantoms + 3 scored-dataset cases
        assert (store.curves()["fit_key"] == fit_key).sum() == 6
    # the same lists without the scored-dataset cases would be another model: another key
    plain = runner.dry_run(config(tmp_path, name="plain",
                                  train_dataset={"name": "eng-phantoms", "params": {"n_cases": 3, "seed": 10}},
                                  split={"kind": "fixed", "val_fraction": 0.0}))
    assert not {f.fit_key for f in plain.fits} & set(fit_keys)

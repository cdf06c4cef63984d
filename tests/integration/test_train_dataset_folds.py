"""A loo split with a [train_dataset] end to end (local executor): each fit reads its training
cases from both datasets, never the case it is scored on, and its key follows its lists."""

from __future__ import annotations

import json

import pytest
from test_engine_plugins import EngClose, config, register_all

from liverbench.plugins import registry
from liverbench.run import runner
from liverbench.run.store import ResultStore


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


class SeenClose(EngClose):
    """eng-close that notes every case it refines (the local backend runs units in this process)."""

    name = "eng-close-seen"
    seen: list[str] = []

    def __call__(self, image, pred, ctx):
        SeenClose.seen.append(ctx.case_id)
        return super().__call__(image, pred, ctx)


def test_tuning_uses_every_training_case_of_both_datasets(tmp_path):
    """A tuned refinement is tuned on all the model trained on, the scored-dataset cases too."""
    registry.register("postprocessor", SeenClose.name, SeenClose, replace=True)
    SeenClose.seen.clear()
    cfg = config(tmp_path, train_dataset={"name": "eng-phantoms", "params": {"n_cases": 3, "seed": 10}},
                 split={"kind": "loo", "test": ["eng-001"], "val_fraction": 0.0},
                 pps=[{"name": SeenClose.name, "tune": True}])
    out = runner.run(cfg, quiet=True)
    assert out.exit_code == 0
    # 2 grid points x 6 training cases (eng-000..002 of the phantoms; eng-000, 002, 003 of the
    # scored dataset), then the one scored case
    assert len(SeenClose.seen) == 2 * 6 + 1 and "eng-003" in SeenClose.seen[:-1]
    assert SeenClose.seen[-1] == "eng-001"
    (fit_key,) = ResultStore(out.run_dir).rows()["fit_key"].unique()
    record = json.loads((out.run_dir / "tuning" / fit_key / f"{SeenClose.name}-score.json").read_text(encoding="utf-8"))
    assert record["cases"] == ["train_dataset:eng-000", "train_dataset:eng-001", "train_dataset:eng-002",
                               "dataset:eng-000", "dataset:eng-002", "dataset:eng-003"]
    # a tuning stored without the cases it used (as tuning did before it took them all) is redone
    store = ResultStore(out.run_dir)
    store.save_tuned(fit_key, SeenClose.name, "score", record["params"])
    assert store.tuned_params(fit_key, SeenClose.name, "score", cases=record["cases"]) is None
    assert store.tuned_params(fit_key, SeenClose.name, "score") == record["params"]

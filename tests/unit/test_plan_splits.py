"""Splits (fixed, k-fold, leave-one-out, none, train_dataset) and content-hash keys."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from liverbench.data.splits import load_or_make, make_splits
from liverbench.errors import ConfigError
from liverbench.plugins import registry
from liverbench.plugins.base import PostProcessor, Prediction, Resources, Segmenter
from liverbench.run.config import parse
from liverbench.run.plan import build_plan
from liverbench.run.store import ResultStore
from liverbench.run.workspec import WorkSpec

IDS = [f"c{i:02d}" for i in range(10)]


def split(**kw):
    base = {"kind": "fixed", "test_fraction": 0.3, "val_fraction": 0.2, "k": 5, "seed": 0, "train": None, "test": None}
    base.update(kw)
    return base


def test_fixed_fraction_is_seeded_and_disjoint():
    a = make_splits(split(), IDS)
    assert a == make_splits(split(), IDS)
    assert a != make_splits(split(seed=1), IDS)
    f = a[0]
    assert len(f["test"]) == 3 and len(f["val"]) == 1 and len(f["train"]) == 6
    assert set(f["train"]) | set(f["val"]) | set(f["test"]) == set(IDS)
    assert not (set(f["train"]) & set(f["test"])) and not (set(f["val"]) & set(f["test"]))


def test_fixed_explicit_lists():
    f = make_splits(split(train=["c00", "c01", "c02"], test=["c09"], val_fraction=0.0), IDS)[0]
    assert f["train"] == ["c00", "c01", "c02"] and f["test"] == ["c09"] and f["val"] == []
    with pytest.raises(ConfigError, match="split.test.*c99"):
        make_splits(split(test=["c99"]), IDS)


def test_kfold_tests_every_case_once():
    folds = make_splits(split(kind="kfold", k=3), IDS)
    tested = [c for f in folds for c in f["test"]]
    assert sorted(tested) == IDS
    for f in folds:
        assert not set(f["test"]) & (set(f["train"]) | set(f["val"]))
    with pytest.raises(ConfigError, match="split.k"):
        make_splits(split(kind="kfold", k=11), IDS)


def test_leave_one_out_like_dou():
    folds = make_splits(split(kind="loo", val_fraction=0.0), IDS)
    assert len(folds) == len(IDS)
    for f, cid in zip(folds, IDS):
        assert f["test"] == [cid] and len(f["train"]) == len(IDS) - 1


def test_none_and_train_dataset():
    assert make_splits(split(kind="none"), IDS) == [{"fold": 0, "train": [], "val": [], "test": IDS}]
    f = make_splits(split(), ["r1", "r2"], train_case_ids=IDS)[0]
    assert f["test"] == ["r1", "r2"] and len(f["train"]) + len(f["val"]) == len(IDS)


def test_splits_saved_and_reused(tmp_path):
    store = ResultStore(tmp_path)
    a = load_or_make(store, split(), IDS, None, "fp1", None)
    assert json.loads((tmp_path / "splits.json").read_text(encoding="utf-8"))["folds"] == a
    # a grown dataset does not reshuffle a resumed run's folds
    assert load_or_make(store, split(), IDS, None, "fp1", None) == a
    with pytest.raises(ConfigError, match="different split"):
        load_or_make(store, split(seed=3), IDS, None, "fp1", None)


class KeySeg(Segmenter):
    name = "key-seg"
    version = "1"
    trainable = True
    fit_resources = Resources(num_cpus=1, num_gpus=1)
    predict_resources = Resources(num_cpus=1, num_gpus=0.5)

    def predict(self, image, ctx):
        return Prediction(prob=np.zeros(image.shape, np.float32))

    def save(self, directory):
        pass

    @classmethod
    def load(cls, directory):
        return cls()


class KeyPP(PostProcessor):
    name = "key-pp"
    version = "1"

    def __call__(self, image, pred, ctx):
        return pred.prob >= 0.5


def _threshold_loads() -> bool:
    try:
        registry.get_postprocessor("threshold")
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="module", autouse=True)
def plugins():
    registry.register("segmenter", "key-seg", KeySeg, replace=True)
    registry.register("postprocessor", "key-pp", KeyPP, replace=True)
    had = _threshold_loads()
    if not had:  # the built-in lands separately; shadow it while it cannot load
        registry.register("postprocessor", "threshold", type("T", (KeyPP,), {"name": "threshold"}), replace=True)
    yield
    registry.unregister("segmenter", "key-seg")
    registry.unregister("postprocessor", "key-pp")
    if not had:
        registry.unregister("postprocessor", "threshold")


def make_cfg(**over):
    raw = {"name": "k", "dataset": {"name": "d"}, "methods": [{"name": "key-seg", "params": {"a": 1}}],
           "postprocessors": [{"name": "key-pp", "params": {"w": 2}}], "split": {"kind": "kfold", "k": 2}}
    for k, v in over.items():
        raw[k] = v
    return parse(raw, check_names=False)


def plan_for(cfg, fp="fp", gpus=1.0):
    folds = make_splits(cfg.split.as_dict(), IDS[:4])
    spec = WorkSpec(run=cfg.name, dataset=cfg.dataset, train_dataset=None, metrics=cfg.metrics, save_predictions=False,
                    segmenters={m.name: registry.get_segmenter(m.name) for m in cfg.methods},
                    postprocessors={pp.name: registry.get_postprocessor(pp.name) for pp in cfg.postprocessors})
    return build_plan(cfg, spec, folds, fp, None, gpus)


def test_plan_size_and_stable_keys():
    p = plan_for(make_cfg())
    assert len(p.fits) == 2 and len(p.rows) == 4 * 2  # 4 test cases overall x (threshold, key-pp)
    assert [r.row_key for r in p.rows] == [r.row_key for r in plan_for(make_cfg()).rows]
    assert len({r.row_key for r in p.rows}) == len(p.rows)


def test_changed_param_version_or_data_makes_new_keys(monkeypatch):
    base = plan_for(make_cfg())
    fit_keys = {f.fit_key for f in base.fits}
    other = plan_for(make_cfg(methods=[{"name": "key-seg", "params": {"a": 2}}]))
    assert not fit_keys & {f.fit_key for f in other.fits}
    assert not fit_keys & {f.fit_key for f in plan_for(make_cfg(), fp="fp2").fits}
    # a new post-processor param changes only that post-processor's rows
    pp2 = plan_for(make_cfg(postprocessors=[{"name": "key-pp", "params": {"w": 3}}]))
    assert {f.fit_key for f in pp2.fits} == fit_keys
    thr = lambda p: {r.row_key for r in p.rows if r.postprocessor == "threshold"}  # noqa: E731
    kpp = lambda p: {r.row_key for r in p.rows if r.postprocessor == "key-pp"}  # noqa: E731
    assert thr(pp2) == thr(base) and not kpp(pp2) & kpp(base)
    monkeypatch.setattr(KeySeg, "version", "2")
    assert not fit_keys & {f.fit_key for f in plan_for(make_cfg()).fits}
    # metrics config is part of the row key
    m = plan_for(make_cfg(metrics={"nsd_tolerance_mm": 2.0}))
    assert not {r.row_key for r in m.rows} & {r.row_key for r in base.rows}


def test_method_cases_restrict_its_rows_and_unknown_ids_fail():
    base = plan_for(make_cfg())
    only = plan_for(make_cfg(methods=[{"name": "key-seg", "params": {"a": 1}, "cases": [IDS[1]]}]))
    assert {r.case_id for r in only.rows} == {IDS[1]} and len(only.rows) == 2
    assert {r.row_key for r in only.rows} <= {r.row_key for r in base.rows}  # same keys, fewer rows
    with pytest.raises(ConfigError, match=r"methods\[0\]\.cases"):
        plan_for(make_cfg(methods=[{"name": "key-seg", "params": {"a": 1}, "cases": ["no-such-case"]}]))
    with pytest.raises(ConfigError, match=r"methods\[0\]\.cases"):
        make_cfg(methods=[{"name": "key-seg", "cases": "not-a-list"}])
    with pytest.raises(ConfigError, match=r"methods\[1\]: the same method"):  # would plan the same rows twice
        make_cfg(methods=[{"name": "key-seg", "cases": [IDS[0]]}, {"name": "key-seg", "cases": [IDS[1]]}])


def test_method_postprocessors_narrow_its_refinements_but_keep_threshold():
    base = plan_for(make_cfg())
    only = plan_for(make_cfg(methods=[{"name": "key-seg", "params": {"a": 1}, "postprocessors": ["threshold"]}]))
    assert {r.postprocessor for r in base.rows} == {"threshold", "key-pp"}
    assert {r.postprocessor for r in only.rows} == {"threshold"} and len(only.rows) == 4
    assert {r.row_key for r in only.rows} <= {r.row_key for r in base.rows}  # same keys, fewer rows
    # naming only a refinement still keeps plain thresholding, the reference every refinement is compared to
    kept = plan_for(make_cfg(methods=[{"name": "key-seg", "params": {"a": 1}, "postprocessors": ["key-pp"]}]))
    assert len(kept.rows) == len(base.rows)
    with pytest.raises(ConfigError, match=r"methods\[0\]\.postprocessors: \['densecrf'\] are not in"):
        make_cfg(methods=[{"name": "key-seg", "postprocessors": ["densecrf"]}])
    with pytest.raises(ConfigError, match=r"methods\[0\]\.postprocessors: expected"):
        make_cfg(methods=[{"name": "key-seg", "postprocessors": "threshold"}])
    cfg = make_cfg(methods=[{"name": "key-seg", "postprocessors": ["key-pp"]}])
    assert cfg.to_dict()["methods"][0]["postprocessors"] == ["key-pp"]


def test_seeds_multiply_fits():
    p = plan_for(make_cfg(execution={"seeds": [0, 1, 2]}))
    assert len(p.fits) == 6 and len({f.fit_key for f in p.fits}) == 6


def test_gpu_planning():
    p = plan_for(make_cfg(), gpus=1.0)
    assert all(f.device == "cuda" and f.fit_resources.num_gpus == 1 for f in p.fits)
    p = plan_for(make_cfg(), gpus=0.0)  # allow_cpu_fallback defaults to true
    assert all(f.device == "cpu" and f.fit_resources.num_gpus == 0 and f.predict_resources.num_gpus == 0
               for f in p.fits)
    assert any("GPU" in n for n in p.notes)
    with pytest.raises(ConfigError, match="allow_cpu_fallback"):
        plan_for(make_cfg(execution={"allow_cpu_fallback": False}), gpus=0.0)
    # refinement never holds a GPU, even where the post-processor declares one
    from liverbench.run.scheduler import refine_resources

    gpu_pp = type("GpuPP", (KeyPP,), {"resources": Resources(num_cpus=2, num_gpus=1)})
    assert refine_resources(gpu_pp) == Resources(num_cpus=2, num_gpus=0, memory_gb=0)
    # nor do refinement and tuning units reserve memory: with the prediction actors' reservations
    # they could wait forever for actors that live until the units are done (a demo run hung so)
    from liverbench.run.scheduler import TUNE_RESOURCES

    assert "memory" not in TUNE_RESOURCES.as_ray_options() and "memory" not in refine_resources(gpu_pp).as_ray_options()


def test_trainable_method_needs_training_cases():
    with pytest.raises(ConfigError, match="training cases"):
        plan_for(make_cfg(split={"kind": "none"}))


def test_summary_lists_fits_and_todo():
    p = plan_for(make_cfg())
    text = p.summary({p.rows[0].row_key: "ok"})
    assert "2 fit(s), 8 row(s)" in text and "to compute: 7" in text and "gpu=1" in text

"""A fake run directory in the result-store layout, for the report tests (no engine needed).

Rows carry deterministic random metrics whose scores follow the SLiver07 formula; two methods
("good" trained, with learning curves; "bad" learning-free) x two refinements; one failed row;
saved prediction masks on a small in-process dataset so overlays can be drawn.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from liverbench.data.io import write_volume
from liverbench.data.volume import Case, Volume
from liverbench.plugins import registry
from liverbench.plugins.base import Dataset
from liverbench.run.store import ResultStore

DATASET = "report-test-blobs"
SPACING = (2.5, 1.2, 1.0)  # anisotropic on purpose: overlays must keep real proportions
REFS = {"voe": 6.4, "rvd": 4.7, "asd": 1.0, "rmsd": 1.8, "maxd": 19.0}


class BlobDataset(Dataset):
    """Ellipsoid 'livers' in a soft-tissue body; the image is a deterministic function of the id."""

    name = DATASET

    def __init__(self, n_cases: int = 6, case_ids: list[str] | None = None) -> None:
        super().__init__(n_cases=n_cases, case_ids=case_ids)
        self.ids = list(case_ids) if case_ids else [f"case-{i:02d}" for i in range(n_cases)]

    def case_ids(self) -> list[str]:
        return list(self.ids)

    def load(self, case_id: str) -> Case:
        index = self.ids.index(case_id)
        z, y, x = np.mgrid[0:24, 0:40, 0:48].astype(np.float32)
        body = ((y - 20) / 18) ** 2 + ((x - 24) / 22) ** 2 <= 1
        liver = ((z - 12) / (7 + index % 3)) ** 2 + ((y - 17) / 9) ** 2 + ((x - 18) / (12 + index % 4)) ** 2 <= 1
        rng = np.random.default_rng(index)
        image = np.where(body, 30.0, -1000.0) + np.where(liver, 40.0, 0.0) + rng.normal(0, 8, liver.shape)
        return Case(case_id, Volume(image.astype(np.int16), SPACING), Volume(liver.astype(np.uint8), SPACING),
                    {"phase": "contrast"})

    def fingerprint(self) -> str:
        return hashlib.sha1(repr(self.ids).encode()).hexdigest()[:12]


def score(metric: str, value: float) -> float:
    return max(0.0, 100.0 - 25.0 * abs(value) / REFS[metric])


def fake_metrics(rng: np.random.Generator, quality: float) -> dict:
    """Plausible metric values; lower `quality` means larger errors."""
    err = 1.0 / quality
    m = {"voe": abs(rng.normal(6 * err, 1.0)), "rvd": rng.normal(0.5 * err, 2.0), "asd": abs(rng.normal(err, 0.2)),
         "rmsd": abs(rng.normal(2 * err, 0.3)), "maxd": abs(rng.normal(20 * err, 3.0))}
    for k in REFS:
        m[f"{k}_score"] = score(k, m[k])
    m["score"] = float(np.mean([m[f"{k}_score"] for k in REFS]))
    jaccard = 1 - m["voe"] / 100
    m.update(jaccard=jaccard, dice=2 * jaccard / (1 + jaccard), hd95=m["maxd"] * 0.7, nsd=0.9)
    return m


def make_run(root: Path, *, methods: dict[str, float] | None = None, pps=("threshold", "largest-component"),
             case_ids: list[str] | None = None, n_cases: int = 6, save_predictions: bool = True,
             fail=(("bad", "threshold", 2),), name: str = "fake",
             trained: tuple[str, ...] = ("good",), tuned: tuple[str, ...] = (), report: dict | None = None) -> Path:
    """Write a run directory under `root` and return it. `methods` maps method name -> quality;
    `fail` lists (method, post-processor, case index) rows that failed; `tuned` names the
    post-processors tuned per model (each method gets its own stored parameters); `report` is
    the config's [report] table."""
    registry.register("dataset", DATASET, BlobDataset, replace=True)
    methods = methods if methods is not None else {"good": 4.0, "bad": 1.0}
    dataset = BlobDataset(n_cases=n_cases, case_ids=case_ids)
    ids = dataset.case_ids()
    run_dir = root / name
    store = ResultStore(run_dir)
    store.write_config({"name": name, "dataset": {"name": DATASET, "params": {"n_cases": n_cases, "case_ids": case_ids}},
                        "split": {"kind": "fixed", "seed": 0},
                        "postprocessors": [{"name": pp, "params": {}, "tune": pp in tuned, "metric": "score"}
                                           for pp in pps], **({"report": report} if report else {})})
    store.write_manifest({"environment": {"host": "test", "python": "3.11"}})
    rng = np.random.default_rng(1234)
    n = 0
    for method, quality in methods.items():
        fit_key = f"fit-{hashlib.sha1(method.encode()).hexdigest()[:8]}"
        if method in trained:
            steps = np.arange(0, 100, 10)
            curves = [{"step": int(s), "split": split, "loss": float(base * np.exp(-s / 40) + 0.05)}
                      for split, base in (("train", 1.0), ("val", 1.2)) for s in steps]
            store.save_fit(fit_key, {"weights.json": b"{}"}, curves, {"method": method, "fold": 0, "seed": 0,
                                                                     "t_fit": 30.0})
        per_case = {case_id: fake_metrics(rng, quality) for case_id in ids}
        pp_params = {pp: "{}" for pp in pps}
        for pp in tuned:  # what a grid search would have chosen for this model: differs per method
            params = {"mu1": float(len(method)), "tau": [0.1, 0.2], "theta_alpha": 15.0}
            store.save_tuned(fit_key, pp, "score", params)
            pp_params[pp] = json.dumps(params, sort_keys=True, separators=(",", ":"))
        for pp in pps:
            for index, case_id in enumerate(ids):
                metrics = dict(per_case[case_id])
                if pp != "threshold" and method != "bad":  # refinement helps "good" a little, never "bad"
                    metrics["score"] += 0.5 + 0.1 * index
                n += 1
                row = {"row_key": f"rk{n:05d}", "fit_key": fit_key, "run": name, "dataset": DATASET,
                       "case_id": case_id, "method": method, "method_version": "1", "method_params": "{}",
                       "postprocessor": pp, "pp_version": "1", "pp_params": pp_params[pp], "fold": 0, "seed": 0,
                       "t_read": 0.1, "t_preprocess": 0.2, "t_predict": 1.0 + index, "t_refine": 0.5,
                       "t_metrics": 0.3, "t_fit": 30.0 if method in trained else None,
                       "cold": index == 0, "device": "cpu", "status": "ok", "error": "", "note": ""}
                if (method, pp, index) in set(fail or ()):
                    row.update(status="failed", error="Traceback (most recent call last):\n  ...\n"
                                                      "RuntimeError: out of memory in <refine>")
                else:
                    row.update(metrics)
                    if index == 0:
                        row["t_predict"] = 50.0  # the cold call: excluded from warm medians
                    if save_predictions:
                        reference = dataset.load(case_id).liver
                        mask = reference if quality > 2 else np.roll(reference, 3, axis=2)
                        write_volume(Volume(mask.astype(np.uint8), SPACING), store.prediction_path(row["row_key"]))
                store.append(row)
    store.flush()
    return run_dir


@pytest.fixture
def fake_run(tmp_path) -> Path:
    return make_run(tmp_path)


def test_fake_run_is_readable_by_the_store(fake_run):
    rows = ResultStore(fake_run).rows()
    assert len(rows) == 2 * 2 * 6 and (rows["status"] == "failed").sum() == 1
    assert set(ResultStore(fake_run).curves()["method"]) == {"good"}

"""Cheap in-process plugins for the engine tests (imported by test_engine*.py / test_ray*.py),
and the contract check that keeps them honest.

- `eng-phantoms`: tiny phantoms (liverbench.data.phantom, preset "tiny"); `bad` lists case ids whose
  loading fails with an InputError, like a truncated file would.
- `eng-hu`: a trainable intensity model: fit learns the liver's HU mean/sd on the training
  cases; predict is a Gaussian likelihood of each voxel's HU, smoothed. Knobs for fault tests:
  `fail_if` (a path: predict raises while it exists), `crash_marker` (a path: the first call in
  a run kills its own process), `hang_marker` (a path: the first call in a run writes its pid
  there and hangs, for a test to kill it from outside), `sleep` (seconds per predict), `fail_fit`.
- `eng-gpu`: the same, declaring one GPU for fit and predict; it records the GPU ids Ray gave it.
- `eng-close`: hole filling of the thresholded map (3D, or per slice) (a CPU refinement);
  `log_dir` records which process refined which process's prediction.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from liverbench.errors import InputError
from liverbench.plugins import registry
from liverbench.plugins.base import Dataset, PostProcessor, Prediction, Resources, Segmenter


class EngPhantoms(Dataset):
    name = "eng-phantoms"

    def __init__(self, n_cases: int = 4, seed: int = 0, bad: list | None = None) -> None:
        super().__init__(n_cases=n_cases, seed=seed, bad=list(bad or []))
        # Per instance (workers keep one instance per process): a module-level cache would be
        # shipped by value along with the class.
        self._cache: dict = {}

    def case_ids(self):
        return [f"eng-{i:03d}" for i in range(self.params["n_cases"])]

    def load(self, case_id):
        if case_id in self.params["bad"]:
            raise InputError(f"/data/{case_id}.nii.gz: truncated file (case {case_id!r})")
        if case_id not in self._cache:
            from liverbench.data.phantom import make_phantom

            self._cache[case_id] = make_phantom(self.params["seed"] + int(case_id.split("-")[1]), preset="tiny")
        c = self._cache[case_id]
        from liverbench.data.volume import Case

        return Case(case_id, c.image, c.mask, dict(c.meta))

    def fingerprint(self):
        return f"eng-{self.params['n_cases']}-{self.params['seed']}-{','.join(self.params['bad'])}"


class EngHU(Segmenter):
    name = "eng-hu"
    version = "1"
    trainable = True
    fit_resources = Resources(num_cpus=1, num_gpus=0, memory_gb=0.1)
    predict_resources = Resources(num_cpus=1, num_gpus=0, memory_gb=0.1)

    def __init__(self, width: float = 1.0, fail_if: str = "", crash_marker: str = "", sleep: float = 0.0,
                 fail_fit: bool = False, hang_marker: str = "") -> None:
        super().__init__(width=width, fail_if=fail_if, crash_marker=crash_marker, sleep=sleep, fail_fit=fail_fit,
                         hang_marker=hang_marker)
        self.mu, self.sd, self.curves, self.gpu_ids = 0.0, 1.0, [], []

    def fit(self, train, val, ctx):
        if self.params["fail_fit"]:
            raise RuntimeError("fit diverged (eng-hu fail_fit)")
        values = np.concatenate([c.image.array[c.liver].ravel() for c in train])
        self.mu, self.sd = float(values.mean()), float(values.std() + 1e-3)
        for step, case in enumerate(train + val):
            loss = float(abs(case.image.array[case.liver].mean() - self.mu) / self.sd)
            self.curves.append({"step": step, "split": "train" if step < len(train) else "val", "loss": loss})
        self._record_gpu()

    def _record_gpu(self):
        try:
            import ray

            if ray.is_initialized():
                self.gpu_ids = [str(g) for g in ray.get_gpu_ids()]
        except Exception:  # noqa: BLE001
            pass

    def learning_curves(self):
        return self.curves

    def predict(self, image, ctx):
        p = self.params
        if p["fail_if"] and os.path.exists(p["fail_if"]):
            raise RuntimeError(f"eng-hu asked to fail while {p['fail_if']} exists")
        if p["crash_marker"] and not os.path.exists(p["crash_marker"]):
            Path(p["crash_marker"]).write_text(str(os.getpid()), encoding="utf-8")
            os._exit(1)  # a worker dying mid-task (segfault, OOM kill)
        if p["hang_marker"] and not os.path.exists(p["hang_marker"]):
            Path(p["hang_marker"]).write_text(str(os.getpid()), encoding="utf-8")
            time.sleep(120)  # mid-prediction, until the test kills this process from outside
        if p["sleep"]:
            time.sleep(p["sleep"])
        with ctx.stopwatch.stage("preprocess"):
            hu = ndimage.uniform_filter(image.array.astype(np.float32), 3)
        z = (hu - self.mu) / (p["width"] * self.sd)
        prob = np.exp(-0.5 * z * z).astype(np.float32)
        # "pid": which process predicted (the Ray tests check where refinement ran)
        return Prediction(prob=prob, extras={"branch1": prob, "pid": np.full(image.shape, os.getpid(), np.float32)})

    def save(self, directory):
        Path(directory).mkdir(parents=True, exist_ok=True)
        Path(directory, "state.json").write_text(json.dumps({"params": self.params, "mu": self.mu, "sd": self.sd,
                                                             "gpu_ids": self.gpu_ids}), encoding="utf-8")

    @classmethod
    def load(cls, directory):
        state = json.loads(Path(directory, "state.json").read_text(encoding="utf-8"))
        m = cls(**state["params"])
        m.mu, m.sd, m.gpu_ids = state["mu"], state["sd"], state["gpu_ids"]
        return m


class EngGPU(EngHU):
    name = "eng-gpu"
    fit_resources = Resources(num_cpus=1, num_gpus=1, memory_gb=0.1)
    predict_resources = Resources(num_cpus=1, num_gpus=1, memory_gb=0.1)

    def predict(self, image, ctx):
        self._record_gpu()
        pred = super().predict(image, ctx)
        pred.extras["gpu_ids"] = np.zeros(image.shape, np.float32) + (len(self.gpu_ids) > 0)
        return pred


class EngClose(PostProcessor):
    name = "eng-close"
    version = "1"
    resources = Resources(num_cpus=1, num_gpus=0, memory_gb=0.1)

    def __init__(self, per_slice: bool = False, log_dir: str = "") -> None:
        super().__init__(per_slice=per_slice, log_dir=log_dir)

    def __call__(self, image, pred, ctx):
        if self.params["log_dir"]:  # one file per call: "<refining pid>-<predicting pid>"
            Path(self.params["log_dir"], f"{os.getpid()}-{int(pred.extras['pid'].flat[0])}").touch()
        mask = pred.prob >= 0.5
        if self.params["per_slice"]:
            return np.stack([ndimage.binary_fill_holes(s) for s in mask])
        return ndimage.binary_fill_holes(mask)

    @classmethod
    def param_grid(cls):
        return [{"per_slice": False}, {"per_slice": True}]


class EngThreshold(PostProcessor):
    """Stand-in for the built-in `threshold` while baselines.refine_simple cannot load."""

    name = "threshold"
    version = "1"

    def __call__(self, image, pred, ctx):
        return pred.prob >= 0.5


def _loads(kind: str, name: str) -> bool:
    try:
        registry.get(kind, name)
        return True
    except Exception:  # noqa: BLE001
        return False


def register_all() -> None:
    """Idempotent; in-process registrations shadow nothing built in except a broken threshold."""
    for kind, cls in (("dataset", EngPhantoms), ("segmenter", EngHU), ("segmenter", EngGPU),
                      ("postprocessor", EngClose)):
        registry.register(kind, cls.name, cls, replace=True)
    if not _loads("postprocessor", "threshold"):
        registry.register("postprocessor", "threshold", EngThreshold, replace=True)


def config(tmp_path, name="eng", n_cases=4, methods=None, pps=None, split=None, execution=None, dataset=None,
           **extra):
    """A resolved config for the engine tests, writing to tmp_path/runs."""
    from liverbench.run.config import parse

    register_all()
    raw = {"name": name, "runs_dir": str(tmp_path / "runs"),
           "dataset": dataset or {"name": "eng-phantoms", "params": {"n_cases": n_cases}},
           "split": split or {"kind": "kfold", "k": 2, "val_fraction": 0.0},
           "methods": methods or [{"name": "eng-hu", "params": {}}],
           "postprocessors": pps if pps is not None else [{"name": "eng-close", "params": {}}],
           "execution": {"backend": "local", "flush_every": 2, **(execution or {})}}
    raw.update(extra)
    return parse(raw)


def test_engine_plugins_meet_the_contract():
    from liverbench.plugins.testing import check_postprocessor, check_segmenter

    register_all()
    check_segmenter(EngHU)
    check_postprocessor(EngClose)

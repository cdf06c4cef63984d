"""Segmenter `precomputed`: score masks produced elsewhere (a leaderboard submission, another
tool's output) through the ordinary run machinery.

    [[methods]]
    name = "precomputed"
    params = { dir = "submissions/team-a", pattern = "{case_id}/pred.nii.gz" }

For each case it reads `dir / pattern.format(case_id=...)`, checks that the file is a binary
mask on the image's grid, and returns it as the probability map (0 or 1), so `threshold`
reproduces it exactly and other refinements can still be applied.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from liverbench.errors import ConfigError, InputError
from liverbench.plugin import Context, Param, Prediction, Resources, Segmenter
from liverbench.volume import Volume


class Precomputed(Segmenter):
    name = "precomputed"
    version = "1"
    trainable = False
    fit_resources = Resources(num_cpus=1, num_gpus=0, memory_gb=0.5)
    predict_resources = Resources(num_cpus=1, num_gpus=0, memory_gb=1.0)
    param_checks = {"dir": Param(str), "pattern": Param(str)}
    defaults = {"dir": "", "pattern": "{case_id}.nii.gz"}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if not self.params["dir"]:
            raise ConfigError("precomputed: params.dir (the folder holding the masks) is required")
        if "{case_id}" not in self.params["pattern"]:
            raise ConfigError(f"precomputed: params.pattern {self.params['pattern']!r} must contain '{{case_id}}'")
        self.dir = Path(self.params["dir"])
        self.pattern = self.params["pattern"]

    def path_for(self, case_id: str) -> Path:
        return self.dir / self.pattern.format(case_id=case_id)

    def predict(self, image: Volume, ctx: Context) -> Prediction:
        from liverbench.io import read_volume
        from liverbench.validate import binary_mask, same_grid

        if not ctx.case_id:
            raise ValueError("precomputed: the harness must set ctx.case_id to find the mask file")
        path = self.path_for(ctx.case_id)
        if not path.exists():
            raise InputError(f"{path}: no precomputed mask for case {ctx.case_id!r}")
        with ctx.stopwatch.stage("preprocess"):  # reading the mask is this method's only work
            mask = read_volume(path)
            same_grid(image, mask, f"{path} (case {ctx.case_id!r})")
            prob = binary_mask(mask.array, f"{path} (case {ctx.case_id!r})").astype(np.float32)
        return Prediction(prob=prob)

    def save(self, directory: Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "params.json").write_text(json.dumps(self.params, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "Precomputed":
        return cls(**json.loads((Path(directory) / "params.json").read_text(encoding="utf-8")))

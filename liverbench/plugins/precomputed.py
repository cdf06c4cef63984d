"""Segmenter `precomputed`: score masks produced elsewhere (a leaderboard submission, another
tool's output) through the ordinary run machinery.

    [[methods]]
    name = "precomputed"
    params = { dir = "submissions/team-a", pattern = "{case_id}/pred.nii.gz" }

For each case it reads `dir / pattern.format(case_id=...)`, checks that the file is a binary
mask on the image's grid, and returns it as the probability map (0 or 1), so `threshold`
reproduces it exactly and other refinements can still be applied.

Before any work the pattern is checked (only `{case_id}` may be filled in), `dir` must exist,
and every case's path, as written, must stay inside `dir` (no `..` or absolute pattern, no case
id that climbs out) unless `allow_outside_dir = true`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from liverbench.data.volume import Volume
from liverbench.errors import ConfigError, InputError
from liverbench.plugins.base import Context, Param, ParamError, Prediction, Resources, Segmenter


class Precomputed(Segmenter):
    name = "precomputed"
    version = "1"
    trainable = False
    fit_resources = Resources(num_cpus=1, num_gpus=0, memory_gb=0.5)
    predict_resources = Resources(num_cpus=1, num_gpus=0, memory_gb=1.0)
    param_checks = {"dir": Param(str), "pattern": Param(str), "allow_outside_dir": Param(bool)}
    defaults = {"dir": "", "pattern": "{case_id}.nii.gz", "allow_outside_dir": False}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if not self.params["dir"]:
            raise ConfigError("precomputed: params.dir (the folder holding the masks) is required")
        self.dir = Path(self.params["dir"])
        self.pattern = self.params["pattern"]
        self.allow_outside_dir = self.params["allow_outside_dir"]
        if "{case_id}" not in self.pattern:
            raise ParamError("pattern", f"{self.pattern!r} must contain '{{case_id}}'")
        try:
            example = self.pattern.format(case_id="CASE")
        except (IndexError, KeyError, ValueError, AttributeError, TypeError) as exc:
            raise ParamError("pattern", f"{self.pattern!r} is not a valid pattern ({type(exc).__name__}: {exc}); "
                                        "only {case_id} may be filled in, and a literal brace is written twice") from None
        if example == self.pattern.format(case_id="OTHER"):  # '{{case_id}}' is a literal text
            raise ParamError("pattern", f"{self.pattern!r} names the same file for every case")
        if self._leaves_dir(example):
            raise ParamError("pattern", f"{self.pattern!r} leads outside dir ({example!r} for a case 'CASE'); "
                                        "set allow_outside_dir = true to read there")

    def _leaves_dir(self, relative: str) -> bool:
        """Whether `relative`, as written (symbolic links are the folder owner's choice), leaves `dir`."""
        if self.allow_outside_dir:
            return False
        normal = os.path.normpath(relative)
        return os.path.isabs(relative) or normal == ".." or normal.startswith(".." + os.sep)

    def path_for(self, case_id: str) -> Path:
        relative = self.pattern.format(case_id=case_id)
        if self._leaves_dir(relative):
            raise InputError(f"{self.dir / relative}: the mask of case {case_id!r} would be read from outside "
                             f"dir {str(self.dir)!r} (set allow_outside_dir = true to allow it)")
        return self.dir / relative

    def check_inputs(self, case_ids) -> None:
        if not self.dir.is_dir():
            raise ParamError("dir", f"folder {str(self.dir)!r} not found" +
                             (" (it is a file)" if self.dir.exists() else ""))
        for case_id in case_ids:
            try:
                self.path_for(case_id)
            except InputError as exc:
                raise ParamError("pattern", str(exc)) from None

    def predict(self, image: Volume, ctx: Context) -> Prediction:
        from liverbench.data.io import read_volume
        from liverbench.data.validate import binary_mask, same_grid

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

"""`IntensityBaseline`: the intensity pipeline as a liverbench segmenter (entry point
`baselines.intensity:IntensityBaseline`)."""

from __future__ import annotations

import json
from pathlib import Path

from liverbench.data.volume import Volume
from liverbench.errors import InputError
from liverbench.plugins.base import Context, Prediction, Resources, Segmenter

from .params import DEFAULTS, PARAM_CHECKS
from .pipeline import segment


class IntensityBaseline(Segmenter):
    """Seeded thresholding with morphology; no training. See the package docstring."""

    name = "intensity"
    version = "8"  # what each version changed: benchmarks/RESULTS.md
    trainable = False
    fit_resources = Resources(num_cpus=1, memory_gb=1.0)
    predict_resources = Resources(num_cpus=1, memory_gb=2.0)
    param_checks = PARAM_CHECKS
    defaults = DEFAULTS

    def predict(self, image: Volume, ctx: Context) -> Prediction:
        prob = segment(image.array, image.spacing, self.params, where=ctx.case_id or "image")
        return Prediction(prob=prob)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "params.json").write_text(json.dumps(self.params, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "IntensityBaseline":
        path = Path(directory) / "params.json"
        if not path.is_file():
            raise InputError(f"{path}: missing; not a saved intensity baseline")
        return cls(**json.loads(path.read_text(encoding="utf-8")))

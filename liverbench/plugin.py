"""The plugin protocols: what a segmenter, a post-processor and a dataset provide.

A method author subclasses `Segmenter` (or `PostProcessor`) in their own package and adds one
entry-point line (group `liverbench.segmenters` / `liverbench.postprocessors`); built-ins in
`baselines/` use exactly the same route. `liverbench.testing.check_segmenter(cls)` checks the
contract.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from liverbench.stopwatch import Stopwatch
from liverbench.volume import Case, Volume


@dataclass(frozen=True)
class Resources:
    """What one fit or predict call needs, in Ray's meaning (fractions allowed)."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory_gb: float = 2.0

    def as_ray_options(self) -> dict[str, Any]:
        return {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "memory": int(self.memory_gb * 2**30)}


@dataclass
class Context:
    """What the harness hands to every call: device, seed, work directory, stopwatch, logger.

    `workdir` holds checkpoints; a fit that finds a checkpoint there resumes from it.
    `progress` may be called with (done, total, message) on long work.
    `case_id` names the case being predicted or refined (for error messages, and for methods
    that read precomputed masks).
    """

    device: str = "cpu"
    seed: int = 0
    workdir: Path | None = None
    stopwatch: Stopwatch = field(default_factory=Stopwatch)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("liverbench"))
    progress: Any = None
    case_id: str | None = None


@dataclass
class Prediction:
    """A segmenter's output on the image's own grid.

    `prob`: float32 P(liver) in [0, 1], same shape as the image array.
    `extras`: optional named maps on the same grid, e.g. the deep-supervision branch
    probabilities `{"branch3": ..., "branch6": ...}` that Dou et al.'s CRF averages.
    """

    prob: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)


class Segmenter(ABC):
    """A liver segmentation method.

    Subclasses set `name`, `version` (bump it when results would change: stored rows are keyed
    by it), `trainable`, and the resources for fitting and predicting. Constructor keyword
    arguments are the method's parameters (from the run config); keep them JSON-serialisable
    and store them in `self.params` so the harness can hash them.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    trainable: ClassVar[bool] = True
    fit_resources: ClassVar[Resources] = Resources()
    predict_resources: ClassVar[Resources] = Resources()

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: Context) -> None:
        """Train on `train` (cases with masks), monitoring `val`. Non-trainable methods may skip."""

    @abstractmethod
    def predict(self, image: Volume, ctx: Context) -> Prediction:
        """P(liver) on the image's own grid (plus optional extras)."""

    def learning_curves(self) -> list[dict[str, Any]]:
        """Rows like {"step": 10, "split": "train"|"val", "loss": 0.31} recorded during fit."""
        return []

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the trained state as plain tensors / JSON (never pickled callables)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path) -> "Segmenter":
        """Rebuild the method from `save`'s directory; it must predict identically."""


class PostProcessor(ABC):
    """A refinement: (image, prediction, ctx) -> bool mask on the image grid.

    `wants` names extra maps from `Prediction.extras` that it uses when present.
    `param_grid()` lists candidate parameter dicts for `liverbench tune-refinement`.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    resources: ClassVar[Resources] = Resources()
    wants: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    @abstractmethod
    def __call__(self, image: Volume, pred: Prediction, ctx: Context) -> np.ndarray:
        """The refined bool mask, same shape as `image.array`."""

    @classmethod
    def param_grid(cls) -> list[dict[str, Any]]:
        return [{}]


class Dataset(ABC):
    """A set of cases. Constructor keyword arguments come from the run config ([dataset] table)."""

    name: ClassVar[str]

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    @abstractmethod
    def case_ids(self) -> list[str]: ...

    @abstractmethod
    def load(self, case_id: str) -> Case: ...

    @abstractmethod
    def fingerprint(self) -> str:
        """A short hash that changes whenever the data would (file sizes and mtimes, params)."""

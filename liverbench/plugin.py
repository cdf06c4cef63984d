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
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from liverbench.errors import ConfigError
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


# --- parameter checks ---------------------------------------------------------------------------

_KIND_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
               dict: "a table"}


@dataclass(frozen=True)
class Param:
    """How one constructor parameter is checked, declared on the plugin class:

        param_checks = {"sigma": Param(float, gt=0), "connectivity": Param(int, choices=(6, 26))}

    `kind`: bool, int, float (an int is accepted), str, list or dict, or a tuple of them;
    `gt`/`ge`/`lt`/`le`: bounds; `choices`: the allowed values; `null`: None is allowed;
    `length`: a list's allowed length(s); `item`: the check of every list item; `check`: a
    function returning a problem text (or None) for rules bounds cannot say. The run config is
    checked against these before any work, and the base constructors check them too, so an
    error names the key: ``postprocessors[1].params.sigma: 0 must be > 0``.
    """

    kind: Any = float
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    choices: tuple[Any, ...] = ()
    null: bool = False
    length: int | tuple[int, ...] | None = None
    item: "Param | None" = None
    check: Callable[[Any], str | None] | None = None

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` (a short text without the key), or None."""
        if value is None:
            return None if self.null else "must be set (null is not allowed)"
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if not any(_is_kind(value, k) for k in kinds):
            want = " or ".join(_KIND_NAMES.get(k, getattr(k, "__name__", str(k))) for k in kinds)
            return f"expected {want}, got {type(value).__name__} {value!r}"
        if self.choices and value not in self.choices:
            return f"{value!r} is not one of {', '.join(map(repr, self.choices))}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not np.isfinite(value):
                return f"{value} must be a finite number"
            for bound, op, ok in ((self.gt, ">", lambda v, b: v > b), (self.ge, ">=", lambda v, b: v >= b),
                                  (self.lt, "<", lambda v, b: v < b), (self.le, "<=", lambda v, b: v <= b)):
                if bound is not None and not ok(value, bound):
                    return f"{value} must be {op} {bound}"
        if isinstance(value, (list, tuple)):
            lengths = (self.length,) if isinstance(self.length, int) else self.length
            if lengths is not None and len(value) not in lengths:
                return f"{value!r} must have {' or '.join(map(str, lengths))} items"
            if self.item is not None:
                for j, v in enumerate(value):
                    bad = self.item.problem(v)
                    if bad:
                        return f"item [{j}]: {bad}"
        return self.check(value) if self.check is not None else None


def _is_kind(value: Any, kind: Any) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is list:
        return isinstance(value, (list, tuple))
    return isinstance(value, kind)


class ParamError(ConfigError):
    """A bad plugin parameter; `param` is its name, so the caller can prefix the config key."""

    def __init__(self, param: str, problem: str, where: str = "") -> None:
        self.param, self.problem = param, problem
        super().__init__(f"{where + '.' if where else ''}{param}: {problem}")


def check_params(cls: type, params: Mapping[str, Any], where: str = "") -> None:
    """Check `params` against `cls.param_checks`; raise ParamError naming `where.<param>`.
    Parameters without a declared check are left to the constructor."""
    checks: Mapping[str, Param] = getattr(cls, "param_checks", None) or {}
    for name, value in params.items():
        spec = checks.get(name)
        bad = spec.problem(value) if spec is not None else None
        if bad:
            raise ParamError(name, bad, where)


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
    param_checks: ClassVar[dict[str, Param]] = {}  # see Param: checked before any work

    def __init__(self, **params: Any) -> None:
        check_params(type(self), params, f"{getattr(self, 'name', type(self).__name__)}.params")
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
    Tuning (`liverbench tune-refinement`, `tune = true` in a run) searches `param_grid()`
    exhaustively, or, where `param_space()` gives axes, coordinate-wise (liverbench.tuning).
    """

    name: ClassVar[str]
    version: ClassVar[str]
    resources: ClassVar[Resources] = Resources()
    wants: ClassVar[tuple[str, ...]] = ()
    param_checks: ClassVar[dict[str, Param]] = {}  # see Param: checked before any work

    def __init__(self, **params: Any) -> None:
        check_params(type(self), params, f"{getattr(self, 'name', type(self).__name__)}.params")
        self.params = dict(params)

    @abstractmethod
    def __call__(self, image: Volume, pred: Prediction, ctx: Context) -> np.ndarray:
        """The refined bool mask, same shape as `image.array`."""

    @classmethod
    def param_grid(cls) -> list[dict[str, Any]]:
        return [{}]

    @classmethod
    def param_space(cls, extras: frozenset[str] = frozenset()) -> dict[str, list[Any]] | None:
        """Candidate values per parameter for a coordinate search, or None to search
        `param_grid()`. The first value of each axis is the starting point; an axis named
        "tau[1]" sets item 1 of the list parameter "tau". `extras`: the extra maps every
        prediction to tune on has (a refinement can drop axes that would change nothing)."""
        return None


class Dataset(ABC):
    """A set of cases. Constructor keyword arguments come from the run config ([dataset] table)."""

    name: ClassVar[str]
    param_checks: ClassVar[dict[str, Param]] = {}  # see Param: checked with the run config

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    @abstractmethod
    def case_ids(self) -> list[str]: ...

    @abstractmethod
    def load(self, case_id: str) -> Case: ...

    @abstractmethod
    def fingerprint(self) -> str:
        """A short hash that changes whenever the data would (file sizes and mtimes, params)."""

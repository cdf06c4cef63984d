"""The plugin protocols: what a segmenter, a post-processor and a dataset provide.

A method author subclasses `Segmenter` (or `PostProcessor`) in their own package and adds one
entry-point line (group `liverbench.segmenters` / `liverbench.postprocessors`); built-ins in
`baselines/` use exactly the same route. `liverbench.plugins.testing.check_segmenter(cls)` checks the
contract.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from liverbench.data.volume import Case, Volume
from liverbench.errors import ConfigError
from liverbench.stopwatch import Stopwatch


@dataclass(frozen=True)
class Resources:
    """What one fit or predict call needs, in Ray's meaning (fractions allowed)."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory_gb: float = 2.0

    def as_ray_options(self) -> dict[str, Any]:
        memory = {"memory": int(self.memory_gb * 2**30)} if self.memory_gb > 0 else {}  # 0: no reservation
        return {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, **memory}


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


def _json_shaped(value: Any) -> Any:
    """`value` as JSON holds it: a tuple becomes a list, a path a str, a numpy scalar a Python
    number (item by item), so `self.params` compares equal to its JSON round trip. Numbers keep
    their type (an int is not made a float): that would change the keys of rows already stored."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.generic):  # a numpy scalar: its Python number
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_json_shaped(v) for v in value]
    return value


class Parameterised:
    """One parameter identity for every plugin: `resolve_params` turns what a run config gives
    into the full dict of values the instance runs with, and the base constructors store that as
    `self.params`, the one dict the harness hashes into fit and row keys. So `{}` and
    `{"iterations": <its default>}` are the same parameters, the same key and the same rows.

    The known keys and their defaults: the class's `defaults` when it declares them (the
    built-ins do); otherwise the keyword parameters of its `__init__` and their default values.
    A class without `defaults` whose `__init__` takes `**kwargs` accepts any key (its own
    constructor has the last word), as before this base existed.
    """

    name: ClassVar[str]
    defaults: ClassVar[Mapping[str, Any] | None] = None
    param_checks: ClassVar[dict[str, Param]] = {}  # see Param: checked before any work

    @classmethod
    def param_defaults(cls, params: Mapping[str, Any]) -> tuple[dict[str, Any], set[str] | None]:
        """(defaults, known): the default values, and the keys accepted (None: any key). An
        `__init__` keyword without a default is known but has no default (the constructor
        requires it). `params` are the given ones, for classes whose defaults depend on one of
        them (the neural methods' `preset`)."""
        if cls.defaults is not None:
            return copy.deepcopy(dict(cls.defaults)), set(cls.defaults)
        found: dict[str, Any] = {}
        known: set[str] | None = set()
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:  # [0] is self
            if p.kind is p.VAR_KEYWORD:
                known = None
            elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                if known is not None:
                    known.add(p.name)
                if p.default is not p.empty:
                    found[p.name] = copy.deepcopy(p.default)
        return found, known

    @classmethod
    def resolve_params(cls, params: Mapping[str, Any], where: str | None = None) -> dict[str, Any]:
        """The full, checked parameters: unknown keys rejected (ParamError naming the key, with
        near matches), defaults filled in, tuples and paths as JSON holds them, declared checks
        run on the result."""
        where = f"{getattr(cls, 'name', cls.__name__)}.params" if where is None else where
        defaults, known = cls.param_defaults(params)
        for key in params:
            if known is not None and key not in known:
                raise ParamError(key, unknown_param_problem(key, known), where)
        resolved = {k: _json_shaped(v) for k, v in {**defaults, **params}.items()}
        check_params(cls, resolved, where)
        return resolved


def unknown_param_problem(key: str, known: set[str]) -> str:
    """'unknown parameter; did you mean 'width'?' (or the known keys, where none is near)."""
    near = difflib.get_close_matches(key, sorted(known), n=3)
    if near:
        return f"unknown parameter; did you mean {', '.join(map(repr, near))}?"
    return f"unknown parameter; known: {', '.join(sorted(known))}" if known else "unknown parameter; it takes none"


@dataclass
class Context:
    """What the harness hands to every call: device, seed, work directory, stopwatch, logger.

    `workdir` holds checkpoints; a fit that finds a checkpoint there resumes from it.
    `progress(done, total, message="")` reports long work: in `fit` it reaches the run's
    progress bar (from any worker that can write the run folder); elsewhere it may be None.
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


class Segmenter(Parameterised, ABC):
    """A liver segmentation method.

    Subclasses set `name`, `version` (bump it when results would change: stored rows are keyed
    by it), `trainable`, and the resources for fitting and predicting. Constructor keyword
    arguments are the method's parameters (from the run config), JSON-serialisable; declare
    them in `defaults` (or as `__init__` keywords) and pass them to `super().__init__`, which
    stores the resolved dict (see Parameterised) in `self.params` for the harness to hash.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    trainable: ClassVar[bool] = True
    fit_resources: ClassVar[Resources] = Resources()
    predict_resources: ClassVar[Resources] = Resources()

    def __init__(self, **params: Any) -> None:
        self.params = type(self).resolve_params(params)

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: Context) -> None:
        """Train on `train` (cases with masks), monitoring `val`. Non-trainable methods may skip."""

    @abstractmethod
    def predict(self, image: Volume, ctx: Context) -> Prediction:
        """P(liver) on the image's own grid (plus optional extras)."""

    def learning_curves(self) -> list[dict[str, Any]]:
        """Rows like {"step": 10, "split": "train"|"val", "loss": 0.31} recorded during fit."""
        return []

    def check_inputs(self, case_ids: Sequence[str]) -> None:
        """Checks that need the file system or the case ids, run on the driver before any work
        (`--dry-run` too): once with no case ids while the config is checked, then with the
        cases this method will see. E.g. that a folder parameter exists. Raise ParamError naming
        the parameter; the run config then names its key. The constructor stays free of them
        (it runs on workers too, and must not touch files)."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the trained state as plain tensors / JSON (never pickled callables)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path) -> "Segmenter":
        """Rebuild the method from `save`'s directory; it must predict identically."""


class PostProcessor(Parameterised, ABC):
    """A refinement: (image, prediction, ctx) -> bool mask on the image grid.

    `wants` names extra maps from `Prediction.extras` that it uses when present.
    Tuning (`liverbench tune-refinement`, `tune = true` in a run) searches `param_grid()`
    exhaustively, or, where `param_space()` gives axes, coordinate-wise (liverbench.run.tuning).
    """

    name: ClassVar[str]
    version: ClassVar[str]
    resources: ClassVar[Resources] = Resources()
    wants: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        self.params = type(self).resolve_params(params)

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


class Dataset(Parameterised, ABC):
    """A set of cases. Constructor keyword arguments come from the run config ([dataset] table);
    `self.params` holds them resolved, as for the methods (see Parameterised)."""

    name: ClassVar[str]

    def __init__(self, **params: Any) -> None:
        # no prefix: a dataset's ParamError names the bare key and the runner adds `dataset.params.`
        self.params = type(self).resolve_params(params, where="")

    @abstractmethod
    def case_ids(self) -> list[str]: ...

    @abstractmethod
    def load(self, case_id: str) -> Case: ...

    @abstractmethod
    def fingerprint(self) -> str:
        """A short hash that changes whenever the data would (file sizes and mtimes, params)."""

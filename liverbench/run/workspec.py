"""`resolve(cfg)`: the one place where a run config's plugin names become classes.

The result, a `WorkSpec`, is what the plan, the environment manifest, the backend and every
worker read: workers never consult the registry, so in-process registrations (a notebook, a
test module) work on Ray workers too (the classes travel by value where needed). It holds the
typed config tables themselves (`config.PluginTable`, `config.MetricsConfig`), not dict copies.

`construct(cls, params, key)` is the one way a plugin is built from params a user wrote (a run
config, a command's --params): every failure is a ConfigError naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from liverbench.errors import ConfigError, InputError, UnknownNameError

# The config types are named, not imported: liverbench.run.config imports this module to check a config.


@dataclass(frozen=True)
class WorkSpec:
    """What a worker needs besides the job: plugin classes, the dataset tables, the metrics config."""

    run: str
    dataset: "PluginTable"  # liverbench.run.config's typed tables, as parsed
    train_dataset: "PluginTable | None"
    metrics: "MetricsConfig"
    save_predictions: bool
    run_dir: str = ""  # absolute; fits keep their checkpoints under it (units.fit_workdir)
    segmenters: Mapping[str, type] = field(default_factory=dict)
    postprocessors: Mapping[str, type] = field(default_factory=dict)
    datasets: Mapping[str, type] = field(default_factory=dict)
    backend: type | None = None  # a liverbench.backends.base.Backend subclass
    backend_options: Mapping[str, Any] = field(default_factory=dict)  # its [execution.<name>], defaults filled

    def table(self, source: str) -> "PluginTable":
        """The [dataset] or [train_dataset] table ("dataset" / "train_dataset")."""
        table = self.train_dataset if source == "train_dataset" else self.dataset
        if table is None:
            raise ConfigError(f"{source}: the run config has no [{source}] table")
        return table


def resolve(cfg: "RunConfig") -> WorkSpec:
    """Resolve every plugin the `RunConfig` names and check every params table (unknown keys with
    near matches, the declared checks, then the constructor: the neural methods check their
    resolved preset there), so a bad name or value fails before any work, as a ConfigError
    naming its key."""
    from liverbench.plugins import registry

    if cfg.plugins_allow is not None:
        registry.set_allow_list(cfg.plugins_allow)
    datasets: dict[str, type] = {}
    for key in ("dataset", "train_dataset"):
        table = getattr(cfg, key)
        if table is not None:
            cls = datasets[table.name] = _load("dataset", table.name, f"{key}.name")
            check(cls, table.params, f"{key}.params")  # constructed (its folder scanned) in runner.prepare
    segmenters: dict[str, type] = {}
    for i, m in enumerate(cfg.methods):
        cls = segmenters[m.name] = _load("segmenter", m.name, f"methods[{i}].name")
        construct(cls, m.params, f"methods[{i}].params", inputs=True)
    postprocessors: dict[str, type] = {}
    for i, pp in enumerate(cfg.postprocessors):
        cls = postprocessors[pp.name] = _load("postprocessor", pp.name, f"postprocessors[{i}].name")
        if not pp.tune:
            construct(cls, pp.params, f"postprocessors[{i}].params")
    backend = _load("backend", cfg.execution.backend, "execution.backend")
    return WorkSpec(run=cfg.name, dataset=cfg.dataset, train_dataset=cfg.train_dataset, metrics=cfg.metrics,
                    save_predictions=cfg.execution.save_predictions, run_dir=str(cfg.run_dir.resolve()),
                    segmenters=segmenters, postprocessors=postprocessors, datasets=datasets, backend=backend,
                    # the backend's [execution.<name>] table: unknown keys named, defaults filled, values checked
                    backend_options=backend.resolve_params(cfg.execution.options, f"execution.{cfg.execution.backend}"))


def _load(kind: str, name: str, key: str) -> type:
    from liverbench.plugins import registry

    try:
        return registry.get(kind, name)
    except UnknownNameError as exc:
        raise ConfigError(f"{key}: {exc}") from exc
    except Exception as exc:  # a plugin that cannot be imported is a config problem too
        raise ConfigError(f"{key}: {kind} {name!r} could not be loaded: {type(exc).__name__}: {exc}") from exc


def check(cls: type, params: Mapping[str, Any], key: str) -> None:
    """The checks that need no construction: a key the constructor's signature cannot take
    (named, with near matches), then the declared `param_checks`. So a third-party plugin whose
    `__init__` takes plain keywords gets the same did-you-mean error as a built-in (whose base
    constructor finds it in `defaults`), not Python's "unexpected keyword argument"."""
    import inspect

    from liverbench.plugins.base import ParamError, check_params, unknown_param_problem

    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):  # a builtin or C-level __init__: the constructor decides
        signature = None
    if signature is not None:
        keywords = list(signature.parameters.values())[1:]  # [0] is self
        if not any(p.kind is p.VAR_KEYWORD for p in keywords):
            known = {p.name for p in keywords if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
            for name in params:
                if name not in known:
                    raise ConfigError(f"{key}.{name}: {unknown_param_problem(name, known)}")
    try:
        check_params(cls, params)
    except ParamError as exc:
        raise ConfigError(f"{key}.{exc.param}: {exc.problem}") from exc


def construct(cls: type, params: Mapping[str, Any], key: str, inputs: bool = False):
    """`cls(**params)` after `check`, then (`inputs`, for a segmenter) its `check_inputs` of the
    files it names (the case ids are checked in `runner.prepare`); a failure is a ConfigError
    naming `key`, except bad input data (InputError: a dataset's unreadable file), which stays
    what it is. Plugins keep __init__ cheap (no weights are loaded there), so checking a config
    this way costs nothing before the work."""
    from liverbench.plugins.base import ParamError

    check(cls, params, key)
    try:
        instance = cls(**params)
        if inputs:
            instance.check_inputs(())
        return instance
    except ParamError as exc:
        raise ConfigError(f"{key}.{exc.param}: {exc.problem}") from exc
    except InputError:
        raise
    except Exception as exc:
        raise ConfigError(f"{key}: {cls.__name__} rejected {dict(params)!r}: {type(exc).__name__}: {exc}") from exc

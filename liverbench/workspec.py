"""`resolve(cfg)`: the one place where a run config's plugin names become classes.

The result, a `WorkSpec`, is what the plan, the environment manifest, the backend and every
worker read: workers never consult the registry, so in-process registrations (a notebook, a
test module) work on Ray workers too (the classes travel by value where needed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from liverbench.errors import ConfigError, UnknownNameError


@dataclass
class WorkSpec:
    """What a worker needs besides the job: plugin classes, dataset params, metrics config."""

    run: str
    dataset: dict[str, Any]  # {"name", "params"}
    train_dataset: dict[str, Any] | None
    metrics: dict[str, Any]  # MetricsConfig.as_dict()
    save_predictions: bool
    run_dir: str = ""  # absolute; fits keep their checkpoints under it (units.fit_workdir)
    segmenters: dict[str, type] = field(default_factory=dict)
    postprocessors: dict[str, type] = field(default_factory=dict)
    datasets: dict[str, type] = field(default_factory=dict)
    backend: type | None = None  # a liverbench.backend.Backend subclass
    backend_options: dict[str, Any] = field(default_factory=dict)  # its [execution.<name>], defaults filled


def resolve(cfg) -> WorkSpec:
    """Resolve every plugin the `RunConfig` names and check every params table (the declared
    checks, then the constructor: the neural methods check their resolved preset there), so a
    bad name or value fails before any work, as a ConfigError naming its key."""
    from liverbench import registry

    if cfg.plugins_allow is not None:
        registry.set_allow_list(cfg.plugins_allow)
    spec = WorkSpec(run=cfg.name, dataset={"name": cfg.dataset.name, "params": dict(cfg.dataset.params)},
                    train_dataset=({"name": cfg.train_dataset.name, "params": dict(cfg.train_dataset.params)}
                                   if cfg.train_dataset else None),
                    metrics=cfg.metrics.as_dict(), save_predictions=cfg.execution.save_predictions,
                    run_dir=str(cfg.run_dir.resolve()))
    for key in ("dataset", "train_dataset"):
        table = getattr(cfg, key)
        if table is not None:
            cls = spec.datasets[table.name] = _load("dataset", table.name, f"{key}.name")
            _check(cls, table.params, f"{key}.params", construct=False)  # opened (scanned) in prepare()
    for i, m in enumerate(cfg.methods):
        cls = spec.segmenters[m.name] = _load("segmenter", m.name, f"methods[{i}].name")
        _check(cls, m.params, f"methods[{i}].params", inputs=True)
    for i, pp in enumerate(cfg.postprocessors):
        cls = spec.postprocessors[pp.name] = _load("postprocessor", pp.name, f"postprocessors[{i}].name")
        if not pp.tune:
            _check(cls, pp.params, f"postprocessors[{i}].params")
    backend = cfg.execution.backend
    spec.backend = _load("backend", backend, "execution.backend")
    # the backend's [execution.<name>] table: unknown keys named, defaults filled, values checked
    spec.backend_options = spec.backend.resolve_params(cfg.execution.options, f"execution.{backend}")
    return spec


def _load(kind: str, name: str, key: str) -> type:
    from liverbench import registry

    try:
        return registry.get(kind, name)
    except UnknownNameError as exc:
        raise ConfigError(f"{key}: {exc}") from exc
    except Exception as exc:  # a plugin that cannot be imported is a config problem too
        raise ConfigError(f"{key}: {kind} {name!r} could not be loaded: {type(exc).__name__}: {exc}") from exc


def _check(cls: type, params: Mapping[str, Any], key: str, construct: bool = True, inputs: bool = False) -> None:
    """The declared checks (`param_checks`), then the constructor itself, then (`inputs`, for a
    segmenter) its `check_inputs` of the files it names; the case ids are checked in
    `runner.prepare`. Plugins keep __init__ cheap (no weights are loaded there), so this costs
    nothing before the work."""
    from liverbench.plugin import ParamError, check_params

    check_params(cls, params, key)
    if not construct:
        return
    try:
        instance = cls(**params)
        if inputs:
            instance.check_inputs(())
    except ParamError as exc:
        raise ConfigError(f"{key}.{exc.param}: {exc.problem}") from exc
    except Exception as exc:
        raise ConfigError(f"{key}: {cls.__name__} rejected {dict(params)!r}: {type(exc).__name__}: {exc}") from exc

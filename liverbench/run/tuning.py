"""Search for a refinement's parameters on training-set predictions (as Dou et al. chose tau, mu
and theta for their CRF): score parameter points on every (case, prediction) pair with
liverbench.metrics.evaluate and keep the best mean.

Two strategies, chosen by the post-processor: an exhaustive search of `param_grid()`, or, where
`param_space()` gives candidate values per parameter, a coordinate search: from the first value
of every axis, try each axis's values with the others held, keep any strict improvement, and
sweep the axes again until a sweep changes nothing or `rounds` sweeps are done. Its budget is at
most 1 + rounds * sum(len(values) - 1) distinct points (each evaluated once), where a full grid
would need prod(len(values)): for the dense CRF's seven axes of three values, 29 points against
2187."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from liverbench import schema
from liverbench.data.volume import Case
from liverbench.errors import ConfigError, InputError
from liverbench.plugins.base import Context, PostProcessor, Prediction


def _ranking(metric: str) -> tuple[bool, bool]:
    """(higher is better, rank |value|) of a metric column, from its declaration in the schema;
    the SLiver07 scores rank higher first."""
    if metric not in schema.METRIC_COLUMNS:
        raise ConfigError(f"tune_refinement: unknown metric {metric!r}; known: {sorted(schema.METRIC_COLUMNS)}")
    try:
        info = schema.metric(metric)
    except KeyError:
        return True, False
    return info.higher_is_better, info.signed


def _resolve(pp: str | type[PostProcessor]) -> type[PostProcessor]:
    if isinstance(pp, str):
        from liverbench.plugins.registry import get_postprocessor

        return get_postprocessor(pp)
    return pp


def tune_refinement(pp: str | type[PostProcessor], items: Sequence[tuple[Case, Prediction]],
                    metric: str = "score", grid: Iterable[dict[str, Any]] | None = None,
                    convention: str = "sliver07", rounds: int = 2) -> tuple[dict[str, Any], pd.DataFrame]:
    """(best_params, table): one table row per parameter point tried, with the mean and
    per-case metric, best first.

    An explicit `grid` is searched exhaustively; otherwise the class's `param_space()` (coordinate
    search, at most `rounds` sweeps) or its `param_grid()`. Ranking is by the mean of `metric` over
    the cases (direction taken from the schema; a signed metric such as RVD ranks by its absolute
    value). Ties keep the earlier point.
    """
    from liverbench.metrics import evaluate

    cls = _resolve(pp)
    items = list(items)
    if not items:
        raise InputError(f"tune_refinement({cls.name}): no (case, prediction) pairs to tune on")
    higher, magnitude = _ranking(metric)
    for case, _ in items:
        if case.mask is None:
            raise InputError(f"tune_refinement: case {case.id!r} has no reference mask")
    rows: dict[str, dict[str, Any]] = {}  # canonical params -> table row (each point scored once)

    def score(params: dict[str, Any]) -> float:
        key = json.dumps(params, sort_keys=True)
        if key not in rows:
            refine = cls(**params)
            row: dict[str, Any] = {"grid_index": len(rows), "params": dict(params)}
            values = []
            for case, pred in items:
                seg = refine(case.image, pred, Context(case_id=case.id))
                value = float(evaluate(seg, case.liver, case.image.spacing, convention=convention)[metric])
                row[f"{metric}[{case.id}]"] = value
                values.append(abs(value) if magnitude else value)
            row[f"mean_{metric}"] = sum(values) / len(values)
            rows[key] = row
        return rows[key][f"mean_{metric}"]

    def better(a: float, b: float) -> bool:
        return a > b if higher else a < b

    space = None
    if grid is None:
        extras = frozenset.intersection(*(frozenset(pred.extras) for _, pred in items))
        space = cls.param_space(extras)
    if space:
        coordinate_search(score, space, better, rounds)
    else:
        points = list(cls.param_grid() if grid is None else grid)
        if not points:
            raise ConfigError(f"tune_refinement({cls.name}): empty parameter grid")
        for params in points:
            score(params)
    table = pd.DataFrame(list(rows.values()))
    table = table.sort_values(f"mean_{metric}", ascending=not higher, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return dict(table.loc[0, "params"]), table


def coordinate_search(score: Callable[[dict[str, Any]], float], space: dict[str, list[Any]],
                      better: Callable[[float, float], bool], rounds: int) -> dict[str, Any]:
    """Best point found by sweeping one axis at a time (see the module docstring)."""
    if any(not values for values in space.values()):
        raise ConfigError(f"coordinate search: every axis needs at least one value; got {space}")
    best: dict[str, Any] = {}
    for axis, values in space.items():
        best = with_value(best, axis, values[0])
    best_score = score(best)
    for _ in range(max(1, rounds)):
        changed = False
        for axis, values in space.items():
            for value in values:
                candidate = with_value(best, axis, value)
                value_score = score(candidate)
                if better(value_score, best_score):
                    best, best_score, changed = candidate, value_score, True
        if not changed:
            break
    return best


def with_value(params: dict[str, Any], axis: str, value: Any) -> dict[str, Any]:
    """A copy of `params` with `axis` set: "mu1" sets a key, "tau[1]" item 1 of the list "tau"
    (missing items are filled with 0.0)."""
    out = {k: list(v) if isinstance(v, list) else v for k, v in params.items()}
    if axis.endswith("]") and "[" in axis:
        name, index = axis[:-1].split("[")
        items = out.setdefault(name, [])
        i = int(index)
        items.extend([0.0] * (i + 1 - len(items)))
        items[i] = value
    else:
        out[axis] = value
    return out

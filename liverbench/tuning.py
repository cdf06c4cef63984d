"""Grid search for a refinement's parameters on training-set predictions (as Dou et al. chose
tau, mu and theta for their CRF): score every grid point on every (case, prediction) pair with
liverbench.metrics.evaluate and keep the best mean."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import pandas as pd

from liverbench.errors import ConfigError, InputError
from liverbench.plugin import Context, PostProcessor, Prediction
from liverbench.schema import METRICS, SCORE
from liverbench.volume import Case

_HIGHER_IS_BETTER = {m.column: m.higher_is_better for m in METRICS} | {SCORE: True}
_HIGHER_IS_BETTER |= {m.score_column: True for m in METRICS if m.score_column}


def _resolve(pp: str | type[PostProcessor]) -> type[PostProcessor]:
    if isinstance(pp, str):
        from liverbench.registry import get_postprocessor

        return get_postprocessor(pp)
    return pp


def tune_refinement(pp: str | type[PostProcessor], items: Sequence[tuple[Case, Prediction]],
                    metric: str = "score", grid: Iterable[dict[str, Any]] | None = None,
                    convention: str = "sliver07") -> tuple[dict[str, Any], pd.DataFrame]:
    """(best_params, table): one table row per grid point with the mean and per-case metric.

    Ranking is by the mean of `metric` over the cases (higher-is-better taken from the schema;
    for signed RVD the absolute value is ranked). Ties keep the earlier grid point.
    """
    from liverbench.metrics import evaluate

    cls = _resolve(pp)
    items = list(items)
    if not items:
        raise InputError(f"tune_refinement({cls.name}): no (case, prediction) pairs to tune on")
    if metric not in _HIGHER_IS_BETTER:
        raise ConfigError(f"tune_refinement: unknown metric {metric!r}; known: {sorted(_HIGHER_IS_BETTER)}")
    grid = list(cls.param_grid() if grid is None else grid)
    if not grid:
        raise ConfigError(f"tune_refinement({cls.name}): empty parameter grid")
    for case, _ in items:
        if case.mask is None:
            raise InputError(f"tune_refinement: case {case.id!r} has no reference mask")

    rows = []
    for index, params in enumerate(grid):
        refine = cls(**params)
        row: dict[str, Any] = {"grid_index": index, "params": dict(params)}
        values = []
        for case, pred in items:
            seg = refine(case.image, pred, Context(case_id=case.id))
            value = float(evaluate(seg, case.liver, case.image.spacing, convention=convention)[metric])
            row[f"{metric}[{case.id}]"] = value
            values.append(abs(value) if metric == "rvd" else value)
        row[f"mean_{metric}"] = sum(values) / len(values)
        rows.append(row)
    table = pd.DataFrame(rows)
    ascending = not _HIGHER_IS_BETTER[metric]
    table = table.sort_values(f"mean_{metric}", ascending=ascending, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return dict(table.loc[0, "params"]), table

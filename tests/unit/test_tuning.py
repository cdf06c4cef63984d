"""Grid search of a refinement's parameters on (case, prediction) pairs."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.refine_simple import Threshold
from liverbench.errors import ConfigError, InputError
from liverbench.phantom import make_phantom
from liverbench.plugin import Prediction
from liverbench.tuning import tune_refinement


@pytest.fixture(scope="module")
def items():
    out = []
    for seed in (0, 1):
        case = make_phantom(seed, preset="tiny")
        # A map whose right threshold is 0.3: liver at 0.4, background at 0.2.
        prob = np.where(case.liver, 0.4, 0.2).astype(np.float32)
        out.append((case, Prediction(prob)))
    return out


def test_tuning_picks_the_best_grid_point(items):
    grid = [{"level": 0.5}, {"level": 0.3}, {"level": 0.1}]
    best, table = tune_refinement(Threshold, items, metric="score", grid=grid)
    assert best == {"level": 0.3}
    assert list(table["rank"]) == [1, 2, 3]
    assert table.loc[0, "mean_score"] == pytest.approx(100.0)
    assert set(table.columns) >= {"params", "mean_score", f"score[{items[0][0].id}]"}


def test_tuning_on_a_lower_is_better_metric(items):
    best, table = tune_refinement(Threshold, items, metric="asd", grid=[{"level": 0.5}, {"level": 0.3}])
    assert best == {"level": 0.3}
    assert table["mean_asd"].is_monotonic_increasing


def test_tuning_by_registered_name(items):
    pytest.importorskip("liverbench.registry")
    best, _ = tune_refinement("threshold", items, grid=[{"level": 0.5}, {"level": 0.3}])
    assert best == {"level": 0.3}


def test_tuning_errors_name_the_problem(items):
    with pytest.raises(ConfigError, match="metric"):
        tune_refinement(Threshold, items, metric="accuracy")
    with pytest.raises(InputError, match="no"):
        tune_refinement(Threshold, [])

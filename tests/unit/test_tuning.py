"""Grid search of a refinement's parameters on (case, prediction) pairs."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.refine_simple import Threshold
from liverbench.data.phantom import make_phantom
from liverbench.errors import ConfigError, InputError
from liverbench.plugins.base import Prediction
from liverbench.run.tuning import tune_refinement


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
    pytest.importorskip("liverbench.plugins.registry")
    best, _ = tune_refinement("threshold", items, grid=[{"level": 0.5}, {"level": 0.3}])
    assert best == {"level": 0.3}


def test_tuning_errors_name_the_problem(items):
    with pytest.raises(ConfigError, match="metric"):
        tune_refinement(Threshold, items, metric="accuracy")
    with pytest.raises(InputError, match="no"):
        tune_refinement(Threshold, [])


class _Levels(Threshold):
    """Threshold at `level`, with two more axes that change nothing and one list axis."""

    name = "levels"
    version = "1"

    def __init__(self, level: float = 0.5, unused: float = 0.0, pair: list | None = None) -> None:
        super().__init__(level=level)
        self.params = {"level": level, "unused": unused, "pair": list(pair or [0.0, 0.0])}

    @classmethod
    def param_space(cls, extras=frozenset()):
        space = {"level": [0.5, 0.1, 0.3], "unused": [0.0, 1.0], "pair[0]": [0.0, 0.5]}
        if "branch2" in extras:
            space["pair[1]"] = [0.0, 0.5]
        return space


def test_coordinate_search_finds_the_best_axis_value_within_its_budget(items):
    best, table = tune_refinement(_Levels, items, metric="score")
    assert best["level"] == 0.3  # the map's right threshold (liver 0.4, background 0.2)
    # no branch maps in the items: no pair[1] axis, so only item 0 is searched
    assert best["pair"] == [0.0]
    # each distinct point is scored once; budget 1 + rounds * sum(len - 1) = 1 + 2 * 4
    assert len(table) <= 9
    assert len({str(p) for p in table["params"]}) == len(table)
    assert table.loc[0, "params"] == best and table.loc[0, "rank"] == 1


def test_coordinate_search_adds_axes_for_the_maps_the_predictions_have(items):
    with_branches = [(case, Prediction(pred.prob, {"branch2": pred.prob})) for case, pred in items]
    _, table = tune_refinement(_Levels, with_branches, metric="score")
    assert any(p["pair"][1:] == [0.5] for p in table["params"])  # the extra axis was tried
    _, plain = tune_refinement(_Levels, items, metric="score")
    assert all(len(p["pair"]) == 1 for p in plain["params"])


def test_densecrf_space_covers_the_six_parameters_of_dou_et_al():
    from baselines.densecrf import DenseCRF

    dsn = DenseCRF.param_space(frozenset({"branch1", "branch2"}))
    assert {"mu1", "mu2", "theta_alpha", "theta_beta", "theta_gamma", "tau[0]", "tau[1]"} == set(dsn)
    assert all(len(v) >= 3 for v in dsn.values())
    # a plain CNN has no branch maps: both branch weights are pinned at 0 by construction
    cnn = DenseCRF.param_space(frozenset())
    assert cnn["tau[0]"] == [0.0] and cnn["tau[1]"] == [0.0]

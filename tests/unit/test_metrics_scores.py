"""SLiver07 scores: the check vectors of the challenge's scoring formula."""

from __future__ import annotations

import math

import pytest

from liverbench.errors import ConfigError, InputError
from liverbench.metrics import SLIVER07_REFS, case_score, sliver07_score


@pytest.mark.parametrize(
    "metric, value, expected",
    [
        ("voe", 6.4, 75.0), ("voe", 12.8, 50.0), ("voe", 25.6, 0.0), ("voe", 0.0, 100.0),
        ("rvd", -4.7, 75.0), ("rvd", 4.7, 75.0),
        ("asd", 0.5, 87.5), ("rmsd", 1.8, 75.0),
        ("maxd", 38.0, 50.0), ("maxd", 1000.0, 0.0), ("maxd", math.inf, 0.0),
    ],
)
def test_check_vectors(metric, value, expected):
    assert sliver07_score(metric, value) == pytest.approx(expected, abs=1e-12)


def test_refs_are_the_published_ones_and_configurable():
    assert SLIVER07_REFS == {"voe": 6.4, "rvd": 4.7, "asd": 1.0, "rmsd": 1.8, "maxd": 19.0}
    assert sliver07_score("asd", 1.0, refs={"asd": 2.0}) == pytest.approx(87.5)
    assert sliver07_score("voe", 6.4, refs={"asd": 2.0}) == pytest.approx(75.0)  # others keep defaults


def test_case_score_is_the_unrounded_mean_of_five():
    scores = {"voe": 75.0, "rvd": 80.123, "asd": 90.0, "rmsd": 60.0, "maxd": 0.5}
    assert case_score(scores) == pytest.approx(sum(scores.values()) / 5)


def test_bad_names_and_values_are_errors():
    with pytest.raises(ConfigError, match="unknown measure 'dice'"):
        sliver07_score("dice", 0.9)
    with pytest.raises(ConfigError, match="refs: unknown measure 'hd'"):
        sliver07_score("voe", 1.0, refs={"hd": 3.0})
    with pytest.raises(ConfigError, match="refs.asd: must be a positive number"):
        sliver07_score("asd", 1.0, refs={"asd": 0})
    with pytest.raises(InputError, match="NaN"):
        sliver07_score("asd", float("nan"))

"""`liverbench check NAME` runs the contract kit on an installed (or registered) plugin."""

from __future__ import annotations

import numpy as np
import pytest

from liverbench.commands import cli
from liverbench.plugins import registry
from liverbench.plugins.base import PostProcessor


class Inverting(PostProcessor):
    """Breaks the contract: a confident map comes back inverted."""

    name = "test-inverting"
    version = "1"

    def __call__(self, image, pred, ctx):
        return np.asarray(pred.prob) < 0.5


@pytest.fixture
def inverting():
    registry.register("postprocessor", Inverting.name, Inverting, replace=True)
    yield
    registry.unregister("postprocessor", Inverting.name)


def test_a_plugin_that_holds_the_contract_passes(capsys):
    assert cli.main(["check", "largest-component"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("largest-component (postprocessor, from liverbench ") and "the contract holds" in out


def test_a_broken_plugin_fails_naming_the_check(inverting, capsys):
    assert cli.main(["check", Inverting.name]) == 1
    out = capsys.readouterr().out
    assert out.startswith("liverbench: check failed: ") and "Inverting ('test-inverting')" in out


def test_a_dataset_is_checked_as_an_instance_built_from_params(capsys):
    assert cli.main(["check", "synthetic", "--params", '{"n_cases": 2, "preset": "tiny"}']) == 0
    assert "synthetic (dataset," in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["check", "intensty"], "no segmenter, post-processor or dataset named 'intensty'; did you mean 'intensity'?"),
    (["check", "graphcut", "--params", '{"lam_": 2}'], "--params.lam_: unknown parameter; did you mean 'lam'?"),
    (["check", "graphcut", "--kind", "segmenter"], "graphcut"),
])
def test_unknown_names_and_params_are_usage_errors(argv, message, capsys):
    assert cli.main(argv) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err

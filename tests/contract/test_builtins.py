"""Every registered segmenter, post-processor and dataset gets the same contract tests (like timm's
tests over its model registry): the list comes from the registry, so a new entry point is tested
without touching this file."""

from __future__ import annotations

import pytest

from liverbench.errors import RegistryError
from liverbench.plugins import registry
from liverbench.plugins.testing import check_postprocessor, check_segmenter, tiny_cases

# Parameters that keep a method quick enough for a contract test on two CPU cores: the neural
# methods take preset="cpu" plus overrides (keys of their presets) that shrink the schedule, the
# working grid and the tiles. The contract is about shapes, ranges and save/load, not accuracy.
_NEURAL_FAST = dict(preset="cpu", iterations=2, val_every=1, val_patches=1, checkpoint_every=1,
                    spacing_mm=8.0, patch=[16, 32, 32], tile=[32, 64, 64], batch_size=1)
FAST_PARAMS: dict[str, dict] = {
    "cnn3d": _NEURAL_FAST,
    "dsn3d": _NEURAL_FAST,
    "di2in": _NEURAL_FAST,
    "di2in-adv": {**_NEURAL_FAST, "adv_iterations": 1},
}




def _precomputed_params(cases, tmp_path) -> dict:
    """`precomputed` reads masks made elsewhere: write the phantoms' reference masks as its input."""
    from liverbench.data.io import write_volume

    for case in cases:
        write_volume(case.mask, tmp_path / case.id / "pred.nii.gz")
    return {"dir": str(tmp_path), "pattern": "{case_id}/pred.nii.gz"}


# Methods whose parameters need files prepared for the test cases.
PARAM_FACTORIES = {"precomputed": _precomputed_params}


@pytest.fixture(scope="module")
def cases():
    return tiny_cases(4)


@pytest.fixture(autouse=True)
def one_thread():
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", registry.names("segmenter"))
def test_segmenter_contract(name, cases, tmp_path):
    params = PARAM_FACTORIES[name](cases, tmp_path) if name in PARAM_FACTORIES else FAST_PARAMS.get(name, {})
    check_segmenter(registry.get_segmenter(name), cases=cases, **params)


@pytest.mark.parametrize("name", registry.names("postprocessor"))
def test_postprocessor_contract(name, cases):
    check_postprocessor(registry.get_postprocessor(name), cases=cases, **FAST_PARAMS.get(name, {}))


@pytest.mark.parametrize("name", registry.names("dataset"))
def test_dataset_plugin_loads_and_declares_its_name(name):
    cls = registry.get_dataset(name)
    assert cls.name == name


@pytest.mark.parametrize("kind", registry.KINDS)
def test_builtins_register_only_through_entry_points(kind):
    """Built-ins use the same route as third-party plugins: importing them registers nothing in-process.

    Only the project's own code counts: tests register plugins of their own in-process (the engine
    tests' `eng-*`), and when they run first those are in the registry too.
    """
    sources = {}
    for name in registry.names(kind):
        try:
            obj = registry.get(kind, name)
        except RegistryError:
            continue  # a plugin that cannot load fails its own contract test above
        if obj.__module__.split(".")[0] in ("liverbench", "baselines"):
            sources[name] = registry.provenance(kind, name)["distribution"]
    assert sources, f"no built-in {kind} found"
    assert registry.IN_PROCESS not in sources.values(), sources
    assert "threshold" in registry.names("postprocessor"), "the no-refinement reference must always exist"

"""SyntheticDataset: ids, loading any case alone, fingerprints, errors, registration."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

from liverbench.data.datasets.synthetic import SyntheticDataset, case_seed
from liverbench.errors import ConfigError, InputError
from liverbench.plugins.base import Dataset


def test_ids_and_defaults():
    ds = SyntheticDataset()
    assert isinstance(ds, Dataset)
    assert ds.case_ids() == [f"syn-{i:03d}" for i in range(12)]
    assert ds.params == {"n_cases": 12, "preset": "small", "seed": 0}


def test_any_case_loads_alone_and_identically():
    ds = SyntheticDataset(n_cases=4, preset="tiny", seed=7)
    alone = SyntheticDataset(n_cases=4, preset="tiny", seed=7).load("syn-002")
    for case_id in ds.case_ids()[:2]:
        ds.load(case_id)
    again = ds.load("syn-002")
    assert alone.id == again.id == "syn-002"
    assert np.array_equal(alone.image.array, again.image.array)
    assert np.array_equal(alone.mask.array, again.mask.array)
    assert alone.meta["dataset"] == "synthetic" and alone.meta["preset"] == "tiny"
    assert alone.meta["seed"] == case_seed(7, 2)
    # Cases differ from each other, and another dataset seed gives other cases.
    first = ds.load("syn-000")
    assert not np.array_equal(first.mask.array, again.mask.array) or first.image.shape != again.image.shape
    other = SyntheticDataset(n_cases=4, preset="tiny", seed=8).load("syn-002")
    assert other.meta["seed"] != alone.meta["seed"]


def test_more_cases_keep_the_first_ones():
    assert SyntheticDataset(n_cases=3, seed=1).case_ids() == SyntheticDataset(n_cases=5, seed=1).case_ids()[:3]
    assert case_seed(1, 2) == case_seed(1, 2) != case_seed(2, 1)


def test_fingerprint_is_stable_and_follows_the_parameters():
    a = SyntheticDataset(n_cases=4, preset="tiny", seed=0).fingerprint()
    assert a == SyntheticDataset(n_cases=4, preset="tiny", seed=0).fingerprint()
    assert len(a) == 16
    others = {SyntheticDataset(n_cases=5, preset="tiny", seed=0).fingerprint(),
              SyntheticDataset(n_cases=4, preset="small", seed=0).fingerprint(),
              SyntheticDataset(n_cases=4, preset="tiny", seed=1).fingerprint()}
    assert a not in others and len(others) == 3


def test_fingerprint_follows_the_generator_version(monkeypatch):
    import liverbench.data.datasets.synthetic as synthetic

    before = SyntheticDataset(n_cases=2, preset="tiny").fingerprint()
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", "test-bump")
    assert SyntheticDataset(n_cases=2, preset="tiny").fingerprint() != before


def test_unknown_case_and_bad_parameters_are_clear_errors():
    ds = SyntheticDataset(n_cases=3, preset="tiny")
    with pytest.raises(InputError, match="syn-003.*did you mean"):
        ds.load("syn-003")
    with pytest.raises(ConfigError, match="n_cases"):
        SyntheticDataset(n_cases=0)
    with pytest.raises(ConfigError, match="seed"):
        SyntheticDataset(seed=-2)
    with pytest.raises(ConfigError, match="preset"):
        SyntheticDataset(preset="medium")


def test_registered_under_the_name_synthetic():
    entry = [e for e in importlib.metadata.entry_points(group="liverbench.datasets") if e.name == "synthetic"]
    if not entry:
        pytest.skip("liverbench is not installed with its entry points")
    assert entry[0].load() is SyntheticDataset

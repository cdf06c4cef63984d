"""One parameter identity for every registered plugin (issue 18): `self.params` is the resolved
dict, so spelling out a default (or a preset's value) gives the same params and the same fit and
row keys, and an unknown key is a ConfigError naming it."""

from __future__ import annotations

import json

import pytest

from liverbench.errors import ConfigError
from liverbench.hashing import content_hash
from liverbench.plugins import registry
from liverbench.run.plan import effective_params

# Constructible parameters where the empty dict is not: `precomputed` needs a folder name (it
# reads nothing until predict).
BASE_PARAMS = {"precomputed": {"dir": "masks"}}


def _bases(cls, name: str) -> list[dict]:
    """The params to start from: each preset of a preset-resolving method, else one base."""
    base = BASE_PARAMS.get(name, {})
    presets = getattr(cls, "presets", None)
    return [{**base, "preset": p} for p in presets] + [base] if presets else [base]


def _normal(params: dict) -> dict:
    return json.loads(json.dumps(params, sort_keys=True))


def _assert_identity(make, params: dict) -> None:
    """Spelling out each resolved value, and all of them at once, changes nothing."""
    resolved = make(params).params
    assert _normal(resolved) == resolved, f"self.params is not in JSON form: {resolved!r}"
    assert make(resolved).params == resolved, "spelling out every resolved value changed self.params"
    for key, value in resolved.items():
        spelled = make({**params, key: value}).params
        assert spelled == resolved, f"spelling out {key}={value!r} changed self.params"


PLUGINS = [(kind, name) for kind in ("segmenter", "postprocessor") for name in registry.names(kind)]


@pytest.mark.parametrize("kind, name", PLUGINS, ids=[f"{k}-{n}" for k, n in PLUGINS])
def test_spelling_out_a_default_changes_no_key(kind, name):
    cls = registry.get(kind, name)
    for base in _bases(cls, name):
        _assert_identity(lambda p: cls(**p), base)
        resolved = cls(**base).params
        assert cls.resolve_params(base) == resolved  # the classmethod is what the base stores
        key = content_hash(effective_params(cls, base))
        for k, value in resolved.items():
            assert content_hash(effective_params(cls, {**base, k: value})) == key, f"{name}: {k}={value!r}"


@pytest.mark.parametrize("kind, name", PLUGINS, ids=[f"{k}-{n}" for k, n in PLUGINS])
def test_unknown_keys_are_rejected_naming_the_key(kind, name):
    cls = registry.get(kind, name)
    for base in _bases(cls, name):
        with pytest.raises(ConfigError, match="no_such_param"):
            cls(**base, no_such_param=1)
        with pytest.raises(ConfigError, match="no_such_param"):
            cls.resolve_params({**base, "no_such_param": 1})


def test_a_near_miss_is_named_with_its_suggestion():
    with pytest.raises(ConfigError, match=r"intensity\.params\.openng_mm: unknown parameter; did you mean 'opening_mm'"):
        registry.get("segmenter", "intensity")(openng_mm=3.0)
    with pytest.raises(ConfigError, match=r"dsn3d\.params\.iterationz: .*did you mean 'iterations'"):
        registry.get("segmenter", "dsn3d")(iterationz=3)


def test_a_preset_value_spelled_out_is_the_preset():
    cls = registry.get("segmenter", "dsn3d")
    paper = cls(preset="paper").params
    assert cls(preset="paper", lr=paper["lr"], iterations=paper["iterations"]).params == paper
    assert paper["preset"] == "paper" and paper != cls(preset="cpu").params
    assert cls().params == cls(preset="cpu").params  # "cpu" is the default preset


# -- datasets -----------------------------------------------------------------------------------


def _touch(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _dataset_params(name: str, root) -> dict | None:
    """Params that construct dataset `name` on empty stand-in files under `root` (constructing
    only lists the files); None for a dataset this test cannot build."""
    if name == "synthetic":
        return {}
    if name == "sliver07":
        _touch(root / "liver-orig001.mhd")
        return {"root": str(root)}
    if name == "lits":
        _touch(root / "volume-0.nii")
        return {"root": str(root)}
    if name == "msd":
        _touch(root / "imagesTr/liver_0.nii.gz")
        _touch(root / "dataset.json", json.dumps({"training": [{"image": "./imagesTr/liver_0.nii.gz"}]}))
        return {"root": str(root)}
    if name == "nifti-folder":
        _touch(root / "images/a.nii.gz")
        return {"root": str(root)}
    if name == "manifest":
        _touch(root / "a.nii.gz")
        return {"path": str(_touch(root / "cases.csv", "id,image\na,a.nii.gz\n"))}
    if name == "real":
        _touch(root / "case1/image.nii.gz")
        return {"root": str(root)}
    return None


DATASETS = registry.names("dataset")


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_params_are_resolved_and_unknown_keys_rejected(name, tmp_path):
    cls = registry.get("dataset", name)
    with pytest.raises(ConfigError, match="no_such_param"):
        cls.resolve_params({"no_such_param": 1})
    params = _dataset_params(name, tmp_path)
    if params is None:
        pytest.skip(f"no stand-in files for dataset {name!r}")
    with pytest.raises(ConfigError, match="no_such_param"):
        cls(**params, no_such_param=1)
    _assert_identity(lambda p: cls(**p), params)
    fingerprint = cls(**params).fingerprint()
    for key, value in cls(**params).params.items():
        assert cls(**{**params, key: value}).fingerprint() == fingerprint, f"{name}: {key}={value!r}"


def test_synthetic_fingerprints_are_unchanged():
    """The fingerprint text is json.dumps' spaced form: these values are in stored keys."""
    cls = registry.get("dataset", "synthetic")
    assert cls(n_cases=4, preset="tiny", seed=0).fingerprint() == "92b1b8644e357f76"
    assert cls().fingerprint() == cls(n_cases=12, preset="small", seed=0).fingerprint() == "466b94113598194c"

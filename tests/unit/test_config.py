"""Run config: TOML loading, overrides, validation naming the key, resolved defaults."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from liverbench.data.volume import Case, Volume
from liverbench.errors import ConfigError
from liverbench.plugins import registry
from liverbench.plugins.base import Dataset, PostProcessor, Prediction, Segmenter
from liverbench.run.config import apply_overrides, load_config, parse


class CfgSeg(Segmenter):
    name = "cfg-seg"
    version = "1"
    trainable = False

    def __init__(self, level: float = 0.0):
        super().__init__(level=level)

    def predict(self, image, ctx):
        return Prediction(prob=(image.array > self.params["level"]).astype(np.float32))

    def save(self, directory):
        (Path(directory) / "p.json").write_text(json.dumps(self.params), encoding="utf-8")

    @classmethod
    def load(cls, directory):
        return cls(**json.loads((Path(directory) / "p.json").read_text(encoding="utf-8")))


class CfgThreshold(PostProcessor):
    name = "threshold"
    version = "1"

    def __call__(self, image, pred, ctx):
        return pred.prob >= 0.5


class CfgData(Dataset):
    name = "cfg-data"

    def __init__(self, n: int = 3):
        super().__init__(n=n)

    def case_ids(self):
        return [f"c{i}" for i in range(self.params["n"])]

    def load(self, case_id):
        return Case(case_id, Volume(np.zeros((2, 2, 2)), (1, 1, 1)))

    def fingerprint(self):
        return f"n{self.params['n']}"


def _threshold_loads() -> bool:
    try:
        registry.get_postprocessor("threshold")
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(autouse=True, scope="module")
def plugins():
    registry.register("segmenter", "cfg-seg", CfgSeg, replace=True)
    registry.register("dataset", "cfg-data", CfgData, replace=True)
    had_threshold = _threshold_loads()
    if not had_threshold:  # the built-in lands separately; shadow it while it cannot load
        registry.register("postprocessor", "threshold", CfgThreshold, replace=True)
    yield
    registry.unregister("segmenter", "cfg-seg")
    registry.unregister("dataset", "cfg-data")
    if not had_threshold:
        registry.unregister("postprocessor", "threshold")


BASE = """
name = "t"
[dataset]
name = "cfg-data"
params = { n = 3 }
[[methods]]
name = "cfg-seg"
params = { level = 1.5 }
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "run.toml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_defaults_resolved_and_threshold_added(tmp_path):
    cfg = load_config(write(tmp_path, BASE))
    assert cfg.execution.backend == "local" and cfg.execution.seeds == (0,)
    assert cfg.split.kind == "fixed"
    assert [pp.name for pp in cfg.postprocessors] == ["threshold"]
    assert cfg.metrics.as_dict() == {"convention": "sliver07", "nsd_tolerance_mm": 1.0, "refs": None}
    json.dumps(cfg.to_dict())  # the resolved config is what config.json stores
    assert cfg.to_dict()["report"] == {"compare": [], "link_figures": True, "figures_note": ""}


def test_report_table_reaches_config_json(tmp_path):
    cfg = load_config(write(tmp_path, BASE + '''
[report]
link_figures = false
figures_note = "run make real"
[[report.compare]]
a = "cfg-seg + largest-component"
b = "cfg-seg"
'''))
    assert cfg.to_dict()["report"] == {"compare": [{"a": "cfg-seg + largest-component", "b": "cfg-seg"}],
                                       "link_figures": False, "figures_note": "run make real"}


def test_overrides_parse_toml_values(tmp_path):
    cfg = load_config(write(tmp_path, BASE), ["execution.backend=ray", "execution.seeds=[1, 2]",
                                               "methods.0.params.level=3", "split.kind=loo"])
    assert cfg.execution.backend == "ray"
    assert cfg.execution.seeds == (1, 2)
    assert cfg.methods[0].params["level"] == 3
    assert cfg.split.kind == "loo"


def test_override_errors_name_the_key():
    with pytest.raises(ConfigError, match="key.path=value"):
        apply_overrides({}, ["execution.backend"])
    with pytest.raises(ConfigError, match="not an index"):
        apply_overrides({"methods": [{}]}, ["methods.3.name=x"])


@pytest.mark.parametrize("extra, key", [
    ("[execution]\nbackend = 'spark'", "execution.backend"),
    ("[execution]\nmax_in_flight = 0", "execution.max_in_flight"),
    ("[execution]\nrefine_in = 'actor'", "execution.refine_in"),
    ("[execution]\nbackend = 'ray'\n[execution.ray]\nrefine_in = 'actor'", "execution.ray.refine_in"),
    ("[execution]\nbackend = 'ray'\n[execution.ray]\nactors = 2", "execution.ray.actors"),
    ("[execution.ray]\naddress = 'x:1'", "execution.ray"),
    ("[execution]\nnum_cpus = 'two'", "execution.num_cpus"),
    ("[execution]\nretries = true", "execution.retries"),
    ("[execution]\nmax_inflight = 2", "execution.max_inflight"),
    ("[split]\nkind = 'bootstrap'", "split.kind"),
    ("[split]\ntest_fraction = 1.5", "split.test_fraction"),
    ("[split]\nkind = 'kfold'\nk = 1", "split.k"),
    ("[metrics]\nnsd_tolerance_mm = -1", "metrics.nsd_tolerance_mm"),
    ("[metrics]\nrefs = { voe = 6.4, dice = 1.0 }", "metrics.refs.dice"),
    ("colour = 'blue'", "colour"),
    ("[[report.compare]]\na = 'x'", "report.compare[0]: missing key 'b'"),
    ("[[report.compare]]\na = 'x'\nb = ''", "report.compare[0].b"),
    ("[[report.compare]]\na = 'x'\nb = 'x'", "report.compare[0]: a and b"),
    ("[[report.compare]]\na = 'x'\nbb = 'y'", "report.compare[0].bb"),
    ("[report]\nlink_figures = 'no'", "report.link_figures"),
])
def test_invalid_values_name_the_key(tmp_path, extra, key):
    import re

    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config(write(tmp_path, extra + "\n" + BASE if not extra.startswith("[") else BASE + "\n" + extra))


def test_unknown_key_suggests_near_match(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'max_in_flight'"):
        load_config(write(tmp_path, BASE + "\n[execution]\nmax_inflight = 2"))


def test_unknown_method_name_suggests(tmp_path):
    with pytest.raises(ConfigError, match=r"methods\[0\]\.name.*cfg-seg"):
        load_config(write(tmp_path, BASE.replace('name = "cfg-seg"', 'name = "cfg-sag"')))


def test_unknown_dataset_and_postprocessor(tmp_path):
    with pytest.raises(ConfigError, match=r"dataset\.name"):
        load_config(write(tmp_path, BASE.replace('"cfg-data"', '"cfg-dta"')))
    with pytest.raises(ConfigError, match=r"postprocessors\[0\]\.name"):
        load_config(write(tmp_path, BASE + "\n[[postprocessors]]\nname = 'thresold'\n"))


def test_bad_method_params_rejected_before_work(tmp_path):
    with pytest.raises(ConfigError, match=r"methods\[0\]\.params.*colour"):
        load_config(write(tmp_path, BASE.replace("level = 1.5", "colour = 1")))


def test_missing_name_and_methods(tmp_path):
    with pytest.raises(ConfigError, match="'name'"):
        parse({"dataset": {"name": "cfg-data"}, "methods": [{"name": "cfg-seg"}]})
    with pytest.raises(ConfigError, match="methods"):
        parse({"name": "x", "dataset": {"name": "cfg-data"}})


def test_explicit_split_lists_checked():
    raw = {"name": "x", "dataset": {"name": "cfg-data"}, "methods": [{"name": "cfg-seg"}],
           "split": {"train": ["c0", "c1"], "test": ["c1"]}}
    with pytest.raises(ConfigError, match=r"split\.test.*c1"):
        parse(raw, check_names=False)
    raw["split"] = {"kind": "kfold", "train": ["c0"], "test": ["c1"]}
    with pytest.raises(ConfigError, match="fixed"):
        parse(raw, check_names=False)


def test_tune_and_params_exclusive_and_tune_needs_training():
    raw = {"name": "x", "dataset": {"name": "cfg-data"}, "methods": [{"name": "cfg-seg"}],
           "postprocessors": [{"name": "threshold", "tune": True, "params": {"a": 1}}]}
    with pytest.raises(ConfigError, match=r"postprocessors\[0\]\.params"):
        parse(raw, check_names=False)
    raw["postprocessors"] = [{"name": "threshold", "tune": True}]
    raw["split"] = {"kind": "none"}
    with pytest.raises(ConfigError, match=r"postprocessors\[0\]\.tune"):
        parse(raw, check_names=False)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "name = "))

"""The resolved run (`WorkSpec`) is typed and frozen, a worker's row comes back typed with its
mask beside it, and a plugin written as plain keyword arguments gets the built-ins' errors."""

from __future__ import annotations

import dataclasses
import math

import nibabel as nib
import numpy as np
import pytest
from test_engine_plugins import config  # registers the engine test plugins

from liverbench.data.phantom import make_phantom
from liverbench.errors import ConfigError
from liverbench.plugins.base import Prediction
from liverbench.run import units
from liverbench.run.config import MetricsConfig, PluginTable
from liverbench.run.rows import PredictInfo, RowResult, failed_row
from liverbench.run.workspec import construct, resolve


def test_the_spec_holds_the_config_tables_and_is_frozen(tmp_path):
    cfg = config(tmp_path)
    spec = resolve(cfg)
    assert spec.dataset is cfg.dataset and isinstance(spec.dataset, PluginTable)
    assert spec.metrics is cfg.metrics and isinstance(spec.metrics, MetricsConfig)
    assert spec.table("dataset") is cfg.dataset
    with pytest.raises(ConfigError, match=r"no \[train_dataset\] table"):
        spec.table("train_dataset")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.save_predictions = True


def _predicted():
    case = make_phantom(3, preset="tiny")
    info = PredictInfo(case_id=case.id, cold=True, device="cpu", host="h", t_read=0.1, t_predict=0.2)
    return units.Predicted(case, Prediction(prob=case.liver.astype(np.float32)), info)


@pytest.mark.parametrize("save", [True, False])
def test_a_scored_row_is_typed_and_its_mask_comes_beside_it(tmp_path, save):
    cfg = config(tmp_path, execution={"save_predictions": save})
    spec = resolve(cfg)
    predicted = _predicted()
    header = {"row_key": "rk", "seed": 0, "case_id": predicted.case.id}
    result = units.refine_and_score(predicted, header, "eng-close", {}, spec)
    assert isinstance(result, RowResult) and result.ok, result.row.get("error")
    assert not any(k.startswith("_") for k in result.row)  # nothing but columns in the row
    assert result.row["t_read"] == 0.1 and result.row["cold"] is True and result.row["dice"] > 0.9
    if not save:
        assert result.mask is None
        return
    path = tmp_path / "mask.nii.gz"
    path.write_bytes(result.mask)
    saved = np.asanyarray(nib.load(path).dataobj)
    assert saved.any() and saved.size == predicted.case.liver.size


def test_a_failed_prediction_gives_a_failed_row_with_what_it_reported():
    info = PredictInfo(case_id="c1", cold=False, device="cpu", host="h", t_read=0.5, error="case 'c1': reading failed")
    result = failed_row({"row_key": "rk"}, info.error, info)
    assert not result.ok and result.mask is None
    assert result.row["error"] == "case 'c1': reading failed" and result.row["t_read"] == 0.5
    assert math.isnan(result.row["t_predict"])


@pytest.mark.parametrize("table, key, message", [
    ("methods", "widht", "methods[0].params.widht: unknown parameter; did you mean 'width'?"),
    ("postprocessors", "perslice", "postprocessors[0].params.perslice: unknown parameter; did you mean 'per_slice'?"),
    ("dataset", "n_case", "dataset.params.n_case: unknown parameter; did you mean 'n_cases'?"),
])
def test_a_keyword_argument_plugin_gets_the_did_you_mean_error(tmp_path, table, key, message):
    """The engine test plugins are written like a third party's (plain `__init__` keywords, no
    `defaults`): an unknown key is named with its near match, as for a built-in, not Python's
    "unexpected keyword argument"."""
    given = {"methods": [{"name": "eng-hu", "params": {key: 1}}],
             "postprocessors": [{"name": "eng-close", "params": {key: 1}}],
             "dataset": {"name": "eng-phantoms", "params": {key: 1}}}
    with pytest.raises(ConfigError) as err:
        config(tmp_path, **{"pps" if table == "postprocessors" else table: given[table]})
    assert str(err.value) == message


def test_construct_names_the_key_for_every_failure():
    class Strict:
        def __init__(self, a: int = 1):
            if a < 0:
                raise RuntimeError("a must not be negative")

    with pytest.raises(ConfigError, match=r"^--params: Strict rejected \{'a': -1\}: RuntimeError: a must not be"):
        construct(Strict, {"a": -1}, "--params")
    assert isinstance(construct(Strict, {"a": 2}, "--params"), Strict)

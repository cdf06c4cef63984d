"""The contract kit a method author runs on their class before registering it.

    from liverbench.plugins.testing import check_segmenter, check_postprocessor
    check_segmenter(MyMethod)                      # or with fast params: check_segmenter(Net, preset="cpu", iterations=2)
    check_postprocessor(MyRefinement, weight=3.0)
    check_dataset(MyDataset(root="/data/mine"))    # an instance: datasets need their data to construct

Each check fits and predicts on tiny synthetic phantoms (`liverbench.data.phantom.make_phantom(seed,
preset="tiny")`), or on the `cases` you pass, and raises `ContractError` (an AssertionError, so
pytest shows it as a plain failure) naming the class and the check that failed. Keyword
arguments other than `cases` are the method's own parameters, passed to its constructor.
The project's contract tests (tests/contract/) run these over every registered name.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from liverbench.data.volume import Case, Volume
from liverbench.errors import RegistryError
from liverbench.plugins.base import Context, Dataset, PostProcessor, Prediction, Resources, Segmenter

PREDICT_ATOL = 1e-6  # save -> load must reproduce the prediction up to float32 round-off
MIN_DICE_CONFIDENT = 0.99  # a refinement given a confident 0/1 map must essentially keep it


class ContractError(AssertionError):
    """A plugin class breaks the contract; the message names the class and the check."""


def _label(cls: Any) -> str:
    name = getattr(cls, "name", None)
    qual = getattr(cls, "__qualname__", repr(cls))
    return f"{qual} ({name!r})" if isinstance(name, str) else qual


@contextmanager
def _check(cls: Any, what: str) -> Iterator[None]:
    """Turn any failure inside one check into a ContractError naming the class and the check."""
    try:
        yield
    except ContractError:
        raise
    except AssertionError as exc:
        raise ContractError(f"{_label(cls)}: {what}: {exc}") from exc
    except Exception as exc:  # the method itself raised
        raise ContractError(f"{_label(cls)}: {what}: raised {type(exc).__name__}: {exc}") from exc


def tiny_cases(n: int = 4, seed: int = 0) -> list[Case]:
    """`n` tiny phantoms (about 48 x 48 x 32 voxels) with seeds seed, seed+1, ..."""
    from liverbench.data.phantom import make_phantom

    return [make_phantom(seed + i, preset="tiny") for i in range(n)]


def _split(cases: Sequence[Case]) -> tuple[list[Case], list[Case], Case]:
    """train = all but the last two, val = the second to last, test = the last."""
    cases = list(cases)
    if len(cases) < 3:
        raise ValueError(f"the contract kit needs at least 3 cases (train, val, test); got {len(cases)}")
    for case in cases:
        if case.mask is None:
            raise ValueError(f"case {case.id!r} has no mask; the kit fits and scores on labelled cases")
    return cases[:-2], [cases[-2]], cases[-1]


def _json_normal(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))


def _check_params_json(cls: Any, instance: Any) -> None:
    with _check(cls, "self.params must be a JSON-serialisable dict (the harness hashes it)"):
        assert isinstance(instance.params, dict), f"got {type(instance.params).__name__}"
        json.dumps(instance.params, sort_keys=True)


def _check_param_identity(cls: Any, instance: Any, params: dict[str, Any]) -> None:
    """Spelling out a value the instance resolved to (a default, or a preset's value) must give
    the same `self.params`: the harness keys fits and rows by it, so `{}` and
    `{"iterations": <default>}` must not become two fits."""
    resolved = _json_normal(instance.params)
    defaults, _ = cls.param_defaults(params)
    with _check(cls, "spelling out a default must not change self.params (the fit and row keys)"):
        again = _json_normal(cls(**instance.params).params)
        assert again == resolved, f"{cls.__qualname__}(**{resolved!r}).params is {again!r}"
        for key in sorted(set(instance.params) | set(defaults)):
            if key in params:
                continue
            value = instance.params[key] if key in instance.params else defaults[key]
            spelled = _json_normal(cls(**{**params, key: value}).params)
            assert spelled == resolved, (
                f"params {params!r} give {resolved!r}, but adding {key}={value!r} gives {spelled!r}; "
                "store the resolved values (defaults filled in) in self.params, e.g. declare `defaults` "
                "and pass the given params to super().__init__")


def _check_resources(cls: Any, attr: str) -> None:
    res = getattr(cls, attr)
    with _check(cls, f"{attr} must be a liverbench.plugins.base.Resources with sensible values"):
        assert isinstance(res, Resources), f"got {res!r}"
        assert res.num_cpus > 0, f"num_cpus must be > 0, got {res.num_cpus}"
        assert res.num_gpus >= 0, f"num_gpus must be >= 0, got {res.num_gpus}"
        assert res.memory_gb > 0, f"memory_gb must be > 0, got {res.memory_gb}"


def _check_declarations(kind: str, cls: Any, protocol: type) -> None:
    from liverbench.plugins.registry import validate_plugin

    with _check(cls, f"class declarations ({kind})"):
        assert isinstance(cls, type) and issubclass(cls, protocol), (
            f"must be a subclass of liverbench.plugins.base.{protocol.__name__}"
        )
        name = getattr(cls, "name", None)
        assert isinstance(name, str) and name, "must declare a class attribute name = '...'"
        try:
            validate_plugin(kind, name, cls, origin="contract kit")
        except RegistryError as exc:
            raise AssertionError(str(exc)) from None


def _check_map(where: str, array: Any, shape: tuple[int, ...], *, probability: bool) -> None:
    assert isinstance(array, np.ndarray), f"{where} must be a numpy array, got {type(array).__name__}"
    assert array.shape == shape, f"{where} has shape {array.shape}, the image has {shape}"
    if probability:
        assert array.dtype == np.float32, f"{where} must be float32, got {array.dtype}"
    else:
        assert np.issubdtype(array.dtype, np.floating), f"{where} must be a float array, got {array.dtype}"
    finite = np.isfinite(array)
    assert finite.all(), f"{where} has {int((~finite).sum())} NaN/inf values"
    if probability:
        lo, hi = float(array.min()), float(array.max())
        assert lo >= 0.0 and hi <= 1.0, f"{where} must lie in [0, 1], got [{lo:g}, {hi:g}]"


def _check_prediction(pred: Any, shape: tuple[int, ...]) -> None:
    assert isinstance(pred, Prediction), f"predict must return liverbench.plugins.base.Prediction, got {type(pred).__name__}"
    _check_map("Prediction.prob", pred.prob, shape, probability=True)
    assert isinstance(pred.extras, dict), f"Prediction.extras must be a dict, got {type(pred.extras).__name__}"
    for key, extra in pred.extras.items():
        assert isinstance(key, str), f"Prediction.extras keys must be str, got {key!r}"
        _check_map(f"Prediction.extras[{key!r}]", extra, shape, probability=False)


def _same_prediction(a: Prediction, b: Prediction) -> str | None:
    """None when equal within PREDICT_ATOL, else what differs."""
    if not np.allclose(a.prob, b.prob, rtol=0, atol=PREDICT_ATOL):
        return f"prob differs by up to {float(np.abs(a.prob.astype(np.float64) - b.prob).max()):.3g}"
    if set(a.extras) != set(b.extras):
        return f"extras keys differ: {sorted(a.extras)} vs {sorted(b.extras)}"
    for key in a.extras:
        if not np.allclose(a.extras[key], b.extras[key], rtol=0, atol=PREDICT_ATOL):
            return f"extras[{key!r}] differs by up to {float(np.abs(a.extras[key] - b.extras[key]).max()):.3g}"
    return None


def _unchanged(before: np.ndarray, after: np.ndarray) -> bool:
    return before.shape == after.shape and np.array_equal(before, after, equal_nan=True)


def check_segmenter(cls: type[Segmenter], /, *, cases: Sequence[Case] | None = None, **params: Any) -> dict[str, Any]:
    """Check that `cls(**params)` honours the Segmenter contract; returns a short report.

    Checks, in order: declarations (subclass, `name`, `version`, `trainable`, resources);
    `self.params` JSON-serialisable, and unchanged when a default (or any resolved value) is
    spelled out; `fit` on the training phantoms (trainable methods only: a
    non-trainable one must predict without `fit`); `learning_curves()` rows; `predict` returns a
    `Prediction` whose `prob` is float32 in [0, 1] on the image's grid with no NaN, and whose
    extras are finite float maps on the same grid; the input image is left untouched; a second
    `predict` gives the same maps; `save` then `cls.load` rebuilds the same params and predicts
    the same maps (within 1e-6).
    """
    _check_declarations("segmenter", cls, Segmenter)
    for attr in ("fit_resources", "predict_resources"):
        _check_resources(cls, attr)

    train, val, test = _split(tiny_cases() if cases is None else cases)
    report: dict[str, Any] = {"name": cls.name, "version": cls.version, "trainable": cls.trainable}
    with tempfile.TemporaryDirectory(prefix=f"liverbench-check-{cls.name}-") as tmp:
        tmp = Path(tmp)
        (tmp / "predict").mkdir()
        with _check(cls, f"constructing with params {params}"):
            method = cls(**params)
        _check_params_json(cls, method)
        _check_param_identity(cls, method, params)

        if cls.trainable:
            ctx = Context(seed=0, workdir=tmp / "fit")
            ctx.workdir.mkdir()
            with _check(cls, f"fit on {len(train)} training and {len(val)} validation phantoms"):
                start = time.perf_counter()
                method.fit(train, val, ctx)
                report["t_fit"] = time.perf_counter() - start
        with _check(cls, "learning_curves() must return rows {'step': int, 'split': str, 'loss': float}"):
            curves = method.learning_curves()
            assert isinstance(curves, list), f"got {type(curves).__name__}"
            for row in curves:
                assert isinstance(row, dict) and {"step", "split", "loss"} <= set(row), f"bad row {row!r}"
                assert isinstance(row["split"], str), f"split must be a str in {row!r}"
                assert math.isfinite(float(row["step"])), f"step must be a number in {row!r}"
                assert math.isfinite(float(row["loss"])), f"loss must be a finite number in {row!r}"
            json.dumps(curves)

        image = test.image
        original = image.array.copy()
        what = "predict" if cls.trainable else "predict without fit (trainable = False)"
        with _check(cls, f"{what} on case {test.id!r} of shape {image.shape}"):
            start = time.perf_counter()
            first = method.predict(image, Context(seed=0, workdir=tmp / "predict", case_id=test.id))
            report["t_predict"] = time.perf_counter() - start
            _check_prediction(first, image.shape)
        with _check(cls, "predict must not modify the input image"):
            assert _unchanged(original, image.array), "image.array was changed in place"
        with _check(cls, "predicting the same image twice must give the same maps"):
            again = method.predict(image, Context(seed=0, workdir=tmp / "predict", case_id=test.id))
            _check_prediction(again, image.shape)
            diff = _same_prediction(first, again)
            assert diff is None, diff

        saved = tmp / "saved"
        with _check(cls, "save(directory)"):
            method.save(saved)
            assert saved.is_dir() and any(saved.iterdir()), f"save wrote nothing into {saved}"
        with _check(cls, "load(directory) after save"):
            loaded = cls.load(saved)
            assert isinstance(loaded, cls), f"{cls.__qualname__}.load returned {type(loaded).__name__}"
        with _check(cls, "load must restore the same params"):
            _check_params_json(cls, loaded)
            assert _json_normal(loaded.params) == _json_normal(method.params), (
                f"saved {method.params!r}, loaded {loaded.params!r}"
            )
        with _check(cls, "the loaded model must predict what the saved one did"):
            restored = loaded.predict(image, Context(seed=0, workdir=tmp / "predict", case_id=test.id))
            _check_prediction(restored, image.shape)
            diff = _same_prediction(first, restored)
            assert diff is None, diff
    report["extras"] = sorted(first.extras)
    return report


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def _soft_map(mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """A plausible network output: the mask blurred over a couple of voxels plus noise."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    prob = ndi.gaussian_filter(mask.astype(np.float32), 1.5) + rng.normal(0, 0.1, mask.shape)
    return np.clip(prob, 0, 1).astype(np.float32)


def _refine(cls: Any, method: Any, image: Volume, prob: np.ndarray, extras: dict, case_id: str, what: str) -> np.ndarray:
    """Run the refinement once and check its output and that it left its inputs alone."""
    pred = Prediction(prob=prob, extras=extras)
    before = image.array.copy(), prob.copy(), {k: v.copy() for k, v in extras.items()}
    with _check(cls, what):
        out = method(image, pred, Context(seed=0, case_id=case_id))
        assert isinstance(out, np.ndarray), f"must return a numpy array, got {type(out).__name__}"
        assert out.shape == image.shape, f"returned shape {out.shape}, the image has {image.shape}"
        assert out.dtype == np.bool_, f"must return a bool mask, got dtype {out.dtype}"
    with _check(cls, f"{what}: the image and the prediction must not be modified"):
        assert _unchanged(before[0], image.array), "image.array was changed in place"
        assert _unchanged(before[1], pred.prob), "pred.prob was changed in place"
        for key, value in before[2].items():
            assert _unchanged(value, pred.extras[key]), f"pred.extras[{key!r}] was changed in place"
    return out


def check_postprocessor(cls: type[PostProcessor], /, *, cases: Sequence[Case] | None = None, **params: Any) -> dict[str, Any]:
    """Check that `cls(**params)` honours the PostProcessor contract; returns a short report.

    Checks: declarations (subclass, `name`, `version`, `resources`, `wants`); `param_grid()` is a
    non-empty list of JSON-serialisable dicts that all construct, and so is every point one axis
    away from `param_space()`'s start; `self.params` unchanged when a default is spelled out;
    on a phantom, a noisy soft map
    gives a bool mask on the image grid, the same one twice, leaving the inputs untouched; an
    all-zero map gives an empty mask; a confident 0/1 map of the phantom's liver gives a mask
    with Dice >= 0.99 against it, with and without the extra maps named in `wants`.
    """
    _check_declarations("postprocessor", cls, PostProcessor)
    _check_resources(cls, "resources")
    with _check(cls, "param_grid() must be a non-empty list of JSON-serialisable dicts that construct"):
        grid = cls.param_grid()
        assert isinstance(grid, list) and grid, f"got {grid!r}"
        for entry in grid:
            assert isinstance(entry, dict), f"entry {entry!r} is not a dict"
            json.dumps(entry, sort_keys=True)
            cls(**entry)
    with _check(cls, "param_space() must be None or axes of JSON-serialisable values whose points construct"):
        from liverbench.run.tuning import with_value

        for extras in (frozenset(), frozenset(cls.wants)):
            space = cls.param_space(extras)
            if space is None:
                continue
            assert isinstance(space, dict) and space and all(isinstance(v, list) and v for v in space.values()), \
                f"got {space!r}"
            start: dict[str, Any] = {}
            for axis, values in space.items():
                start = with_value(start, axis, values[0])
            for axis, values in space.items():
                for value in values:
                    point = with_value(start, axis, value)
                    json.dumps(point, sort_keys=True)
                    cls(**point)
    with _check(cls, f"constructing with params {params}"):
        method = cls(**params)
    _check_params_json(cls, method)
    _check_param_identity(cls, method, params)

    case = (tiny_cases(1) if cases is None else list(cases))[0]
    if case.mask is None:
        raise ValueError(f"case {case.id!r} has no mask; check_postprocessor needs a labelled case")
    image, liver = case.image, case.liver

    soft = _soft_map(liver)
    soft_extras = {w: soft.copy() for w in cls.wants}
    first = _refine(cls, method, image, soft, soft_extras, case.id, "refining a noisy soft map")
    second = _refine(cls, method, image, soft, soft_extras, case.id, "refining the same map again")
    with _check(cls, "refining the same map twice must give the same mask"):
        assert np.array_equal(first, second), f"{int((first != second).sum())} voxels differ"

    zero = np.zeros(image.shape, np.float32)
    empty = _refine(cls, method, image, zero, {w: zero.copy() for w in cls.wants}, case.id,
                    "refining an all-zero probability map")
    with _check(cls, "an all-zero probability map must give an empty mask"):
        assert not empty.any(), f"{int(empty.sum())} voxels are foreground"

    confident = liver.astype(np.float32)
    report: dict[str, Any] = {"name": cls.name, "version": cls.version}
    variants = [("without extras", {})]
    if cls.wants:
        variants.append((f"with extras {list(cls.wants)}", {w: confident.copy() for w in cls.wants}))
    for label, extras in variants:
        out = _refine(cls, method, image, confident, extras, case.id, f"refining a confident 0/1 map {label}")
        dice = _dice(out, liver)
        with _check(cls, f"a confident 0/1 map {label} must be kept (Dice >= {MIN_DICE_CONFIDENT})"):
            assert dice >= MIN_DICE_CONFIDENT, f"Dice {dice:.4f} against the map it was given"
        report[f"dice_confident_{'extras' if extras else 'plain'}"] = dice
    return report


def check_dataset(dataset: Dataset, /, *, max_cases: int = 2) -> dict[str, Any]:
    """Check a constructed dataset: ids, `load` (up to `max_cases` cases), `fingerprint`, and
    that `self.params` builds the same dataset again (defaults spelled out change nothing).

    Takes an instance, not a class: most datasets need a data directory to be constructed.
    """
    cls = type(dataset)
    _check_declarations("dataset", cls, Dataset)
    with _check(cls, "case_ids() must be a non-empty list of unique str"):
        ids = dataset.case_ids()
        assert isinstance(ids, list) and ids, f"got {ids!r}"
        assert all(isinstance(i, str) and i for i in ids), f"non-str ids in {ids[:5]!r}"
        assert len(set(ids)) == len(ids), "duplicate case ids"
    with _check(cls, "fingerprint() must be a stable non-empty str"):
        fingerprint = dataset.fingerprint()
        assert isinstance(fingerprint, str) and fingerprint, f"got {fingerprint!r}"
        assert dataset.fingerprint() == fingerprint, "two calls gave different fingerprints"
    _check_params_json(cls, dataset)
    _check_param_identity(cls, dataset, dataset.params)  # the runner rebuilds it from params
    with _check(cls, "the dataset built again from its self.params must have the same fingerprint"):
        again = cls(**dataset.params).fingerprint()
        assert again == fingerprint, f"{again!r} != {fingerprint!r}"
    for case_id in ids[:max_cases]:
        with _check(cls, f"load({case_id!r}) must return that Case with a 3D image and a mask on its grid"):
            case = dataset.load(case_id)
            assert isinstance(case, Case), f"got {type(case).__name__}"
            assert case.id == case_id, f"asked for {case_id!r}, got case {case.id!r}"
            assert isinstance(case.image, Volume) and case.image.array.ndim == 3
            if case.mask is not None:
                assert case.mask.shape == case.image.shape, f"mask {case.mask.shape} vs image {case.image.shape}"
                values = np.unique(case.mask.array)
                assert set(values.tolist()) <= {0, 1}, f"mask values {values[:10]}"
    return {"name": cls.name, "n_cases": len(ids), "fingerprint": fingerprint}

"""The contract kit itself: a correct plugin passes, and each way of breaking the contract is
caught with a ContractError that names the class and the failed check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from liverbench.plugins.base import PostProcessor, Prediction, Resources, Segmenter
from liverbench.plugins.testing import ContractError, check_dataset, check_postprocessor, check_segmenter, tiny_cases


@pytest.fixture(scope="module")
def cases():
    return tiny_cases(4)


class LearnedWindow(Segmenter):
    """Trainable reference: learns the liver's HU window from the training masks."""

    name = "learned-window"
    version = "1"
    trainable = True
    fit_resources = Resources(num_cpus=1, memory_gb=0.5)
    predict_resources = Resources(num_cpus=1, memory_gb=0.5)

    def __init__(self, **params):
        super().__init__(**params)
        self.window = None

    def fit(self, train, val, ctx):
        hu = np.concatenate([c.image.array[c.liver].ravel() for c in train])
        k = self.params.get("k", 2.0)
        self.window = [float(hu.mean() - k * hu.std()), float(hu.mean() + k * hu.std())]

    def predict(self, image, ctx):
        lo, hi = self.window
        inside = (image.array >= lo) & (image.array <= hi)
        return Prediction(inside.astype(np.float32), extras={"branch1": inside.astype(np.float32) * 0.9})

    def save(self, directory):
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "state.json").write_text(json.dumps({"params": self.params, "window": self.window}), encoding="utf-8")

    @classmethod
    def load(cls, directory):
        state = json.loads((Path(directory) / "state.json").read_text(encoding="utf-8"))
        method = cls(**state["params"])
        method.window = state["window"]
        return method


class Threshold(PostProcessor):
    name = "half"
    version = "1"
    wants = ("branch1",)

    def __call__(self, image, pred, ctx):
        return pred.prob >= self.params.get("level", 0.5)

    @classmethod
    def param_grid(cls):
        return [{"level": 0.4}, {"level": 0.5}]


def test_a_correct_segmenter_passes(cases):
    report = check_segmenter(LearnedWindow, cases=cases, k=1.5)
    assert report["name"] == "learned-window" and report["extras"] == ["branch1"] and report["t_fit"] >= 0


def test_the_default_cases_are_tiny_phantoms():
    report = check_segmenter(LearnedWindow)
    assert report["trainable"] is True


def test_a_correct_postprocessor_passes(cases):
    report = check_postprocessor(Threshold, cases=cases, level=0.5)
    assert report["dice_confident_plain"] == 1.0 and report["dice_confident_extras"] == 1.0


# Each subclass breaks exactly one rule; the message must name it.
class Float64(LearnedWindow):
    def predict(self, image, ctx):
        return Prediction(super().predict(image, ctx).prob.astype(np.float64))


class OutOfRange(LearnedWindow):
    def predict(self, image, ctx):
        return Prediction(super().predict(image, ctx).prob * 2)


class WithNaN(LearnedWindow):
    def predict(self, image, ctx):
        prob = super().predict(image, ctx).prob
        prob[0, 0, 0] = np.nan
        return Prediction(prob)


class WrongShape(LearnedWindow):
    def predict(self, image, ctx):
        return Prediction(super().predict(image, ctx).prob[:, ::2])


class BadExtras(LearnedWindow):
    def predict(self, image, ctx):
        pred = super().predict(image, ctx)
        pred.extras["branch1"] = pred.extras["branch1"][1:]
        return pred


class Forgetful(LearnedWindow):
    @classmethod
    def load(cls, directory):
        method = super().load(directory)
        method.window = [method.window[0] + 30, method.window[1] + 30]
        return method


class StoresGiven(LearnedWindow):
    """Applies a default but stores only the given params (issue 18): {} and {"k": 2.0} differ."""

    defaults = {"k": 2.0}

    def __init__(self, **params):
        super().__init__(**params)
        self.params = dict(params)


class SavesNothing(LearnedWindow):
    def save(self, directory):
        Path(directory).mkdir(parents=True, exist_ok=True)


class Noisy(LearnedWindow):
    def predict(self, image, ctx):
        prob = super().predict(image, ctx).prob
        return Prediction(np.clip(prob + np.random.default_rng().uniform(0, 0.1, prob.shape), 0, 1).astype(np.float32))


class Mutating(LearnedWindow):
    def predict(self, image, ctx):
        pred = super().predict(image, ctx)
        image.array[...] = 0
        return pred


class NoVersion(LearnedWindow):
    version = ""


class ZeroCPUs(LearnedWindow):
    predict_resources = Resources(num_cpus=0)


class NeedsFit(LearnedWindow):
    trainable = False  # claims no training, but predict needs the fitted window


class CrashingFit(LearnedWindow):
    def fit(self, train, val, ctx):
        raise RuntimeError("out of memory")


class BadCurves(LearnedWindow):
    def learning_curves(self):
        return [{"step": 1, "loss": 0.3}]


BROKEN_SEGMENTERS = [
    (Float64, {}, "must be float32"),
    (OutOfRange, {}, "must lie in [0, 1]"),
    (WithNaN, {}, "NaN/inf"),
    (WrongShape, {}, "Prediction.prob has shape"),
    (BadExtras, {}, "Prediction.extras['branch1'] has shape"),
    (Forgetful, {}, "the loaded model must predict what the saved one did"),
    (SavesNothing, {}, "save wrote nothing"),
    (StoresGiven, {}, "spelling out a default must not change self.params"),
    (Noisy, {}, "predicting the same image twice must give the same maps"),
    (Mutating, {}, "predict must not modify the input image"),
    (NoVersion, {}, "version"),
    (ZeroCPUs, {}, "num_cpus must be > 0"),
    (NeedsFit, {}, "predict without fit (trainable = False)"),
    (CrashingFit, {}, "fit on 2 training and 1 validation phantoms: raised RuntimeError: out of memory"),
    (BadCurves, {}, "learning_curves()"),
    (LearnedWindow, {"k": object()}, "JSON-serialisable"),
]


@pytest.mark.parametrize("cls, params, expected", BROKEN_SEGMENTERS, ids=[c[0].__name__ for c in BROKEN_SEGMENTERS])
def test_broken_segmenters_fail_naming_the_check(cases, cls, params, expected):
    with pytest.raises(ContractError) as info:
        check_segmenter(cls, cases=cases, **params)
    message = str(info.value)
    assert expected in message
    assert message.startswith(f"{cls.__qualname__} ('learned-window')")
    assert isinstance(info.value, AssertionError)


class ReturnsUint8(Threshold):
    def __call__(self, image, pred, ctx):
        return super().__call__(image, pred, ctx).astype(np.uint8)


class NeverEmpty(Threshold):
    def __call__(self, image, pred, ctx):
        mask = super().__call__(image, pred, ctx)
        mask[0, 0, 0] = True
        return mask


class Eroding(Threshold):
    def __call__(self, image, pred, ctx):
        from scipy import ndimage as ndi

        return ndi.binary_erosion(super().__call__(image, pred, ctx), iterations=2)


class MutatesProb(Threshold):
    def __call__(self, image, pred, ctx):
        pred.prob[pred.prob < 0.5] = 0
        return pred.prob >= 0.5


class CrashesOnExtras(Threshold):
    def __call__(self, image, pred, ctx):
        if pred.extras:
            raise KeyError("branch2")
        return super().__call__(image, pred, ctx)


class BadGrid(Threshold):
    @classmethod
    def param_grid(cls):
        return []


class WrongShapeMask(Threshold):
    def __call__(self, image, pred, ctx):
        return super().__call__(image, pred, ctx)[1:]


BROKEN_POSTPROCESSORS = [
    (ReturnsUint8, "must return a bool mask"),
    (NeverEmpty, "an all-zero probability map must give an empty mask"),
    (Eroding, "must be kept (Dice >= 0.99)"),
    (MutatesProb, "pred.prob was changed in place"),
    (CrashesOnExtras, "raised KeyError"),
    (BadGrid, "param_grid()"),
    (WrongShapeMask, "returned shape"),
]


@pytest.mark.parametrize("cls, expected", BROKEN_POSTPROCESSORS, ids=[c[0].__name__ for c in BROKEN_POSTPROCESSORS])
def test_broken_postprocessors_fail_naming_the_check(cases, cls, expected):
    with pytest.raises(ContractError) as info:
        check_postprocessor(cls, cases=cases)
    assert expected in str(info.value)
    assert str(info.value).startswith(f"{cls.__qualname__} ('half')")


def test_check_dataset_on_the_synthetic_dataset():
    from liverbench.data.datasets.synthetic import SyntheticDataset

    report = check_dataset(SyntheticDataset(n_cases=2, preset="tiny", seed=0), max_cases=1)
    assert report == {"name": "synthetic", "n_cases": 2, "fingerprint": report["fingerprint"]}


def test_check_dataset_catches_a_wrong_case_id(cases):
    from liverbench.plugins.base import Dataset

    class Mislabelled(Dataset):
        name = "mislabelled"

        def case_ids(self):
            return ["a", "b"]

        def load(self, case_id):
            return cases[0]

        def fingerprint(self):
            return "x"

    with pytest.raises(ContractError, match="asked for 'a', got case"):
        check_dataset(Mislabelled())


def test_check_dataset_catches_params_that_drop_defaults():
    from liverbench.plugins.base import Dataset

    class StoresGivenOnly(Dataset):
        name = "stores-given-only"
        defaults = {"n": 2}

        def __init__(self, **params):
            super().__init__(**params)
            self.params = dict(params)  # the issue-18 bug: {} and {"n": 2} are two keys

        def case_ids(self):
            return ["a"]

        def load(self, case_id):
            raise AssertionError("not reached")

        def fingerprint(self):
            return "x"

    with pytest.raises(ContractError, match="spelling out a default must not change self.params"):
        check_dataset(StoresGivenOnly())

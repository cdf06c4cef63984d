"""The two simple refinements: plain thresholding (the no-refinement reference) and the largest
3D component with its holes filled (tumours and vessels inside the liver count as liver)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from liverbench.data.volume import Volume
from liverbench.masks import largest_component
from liverbench.plugins.base import Context, Param, PostProcessor, Prediction, Resources


def threshold_mask(prob: np.ndarray, level: float = 0.5) -> np.ndarray:
    return np.asarray(prob) >= level


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """3D hole filling inside the mask's bounding box (cheap on large volumes)."""
    if not mask.any():
        return mask.astype(bool, copy=True)
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in np.nonzero(mask))
    out = mask.astype(bool, copy=True)
    out[box] = ndi.binary_fill_holes(mask[box])
    return out


class Threshold(PostProcessor):
    """P >= 0.5: the reference every refinement is compared against."""

    name = "threshold"
    version = "1"
    resources = Resources(num_cpus=1, memory_gb=1.0)
    param_checks = {"level": Param(float, gt=0, le=1)}
    defaults = {"level": 0.5}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.level = float(self.params["level"])

    def __call__(self, image: Volume, pred: Prediction, ctx: Context) -> np.ndarray:
        return threshold_mask(pred.prob, self.level)


class LargestComponent(Threshold):
    """Threshold, keep the largest 3D component, fill its holes."""

    name = "largest-component"
    version = "1"

    def __call__(self, image: Volume, pred: Prediction, ctx: Context) -> np.ndarray:
        return fill_holes(largest_component(threshold_mask(pred.prob, self.level), connectivity=3))  # 26-connected

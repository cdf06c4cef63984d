"""The intensity pipeline: the coarse grid, the scene, the extraction, the corrections in order,
the soft map back on the native grid and its border decided there (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from liverbench.errors import InputError

from .border import refine_border
from .corrections import CORRECTIONS
from .extraction import extract_liver
from .grid import block_factors, block_mean, soft_map, upsample_mask, upsample_prob
from .params import DEFAULTS
from .scene import Scene, read_scene


@dataclass(frozen=True)
class CoarseLiver:
    """The liver found on the coarse grid, and what it was read from."""

    scene: Scene
    liver: np.ndarray
    taken_out: dict[str, np.ndarray]  # each correction's name -> what it took out (empty: nothing, or it did not run)

    @property
    def kept_out(self) -> np.ndarray:
        """What any correction took out: the native-grid border stays out of it too."""
        return np.logical_or.reduce(list(self.taken_out.values()))


@dataclass(frozen=True)
class Segmentation:
    """What `analyse` found in one image."""

    prob: np.ndarray  # float32 P(liver) on the image's grid
    factors: tuple[int, ...]  # the coarse grid's block factors
    coarse: CoarseLiver | None  # None: no body, or no seed to draw the window from


def segment(array: np.ndarray, spacing, cfg: dict[str, Any] | None = None, where: str = "image") -> np.ndarray:
    """Float32 P(liver) on the grid of `array` (z, y, x, canonical LPS orientation, HU)."""
    return analyse(array, spacing, cfg, where).prob


def analyse(array: np.ndarray, spacing, cfg: dict[str, Any] | None = None, where: str = "image") -> Segmentation:
    """`segment`, with what each step found (the coarse liver, its scene, what each correction took out)."""
    cfg = {**DEFAULTS, **(cfg or {})}
    array = np.asarray(array)
    if array.ndim != 3:
        raise InputError(f"{where}: intensity baseline needs a 3D image, got shape {array.shape}")
    spacing = tuple(float(s) for s in spacing)
    factors = block_factors(spacing, cfg["target_spacing_mm"])
    coarse = block_mean(array, factors)
    coarse_spacing = tuple(s * f for s, f in zip(spacing, factors))
    found = coarse_liver(coarse, coarse_spacing, cfg)
    mask = found.liver if found is not None else np.zeros(coarse.shape, dtype=bool)
    soft = soft_map(mask, coarse_spacing, cfg["softness_mm"])
    prob = upsample_prob(soft, factors, array.shape)
    # The band undoes what the block means did to the border; on a grid already as coarse as the
    # target (factors 1: thick-slice or low-resolution scans) there is nothing to undo, and
    # redeciding there only lets the border creep into neighbours at the liver's HU.
    if cfg["border_band_mm"] > 0 and mask.any() and max(factors) > 1:
        keep_out = upsample_mask(found.kept_out, factors, array.shape)
        refine_border(prob, array, spacing, found.scene.window, cfg, keep_out)
    return Segmentation(prob, factors, found)


def coarse_liver(coarse: np.ndarray, spacing, cfg) -> CoarseLiver | None:
    """The liver on the coarse grid: extracted, then each of `CORRECTIONS` in turn."""
    scene = read_scene(coarse, spacing, cfg)
    if scene is None:
        return None
    liver = extract_liver(scene, cfg["opening_mm"], cfg)
    kept_out = np.zeros(liver.shape, dtype=bool)
    taken_out = {}
    for correction in CORRECTIONS:
        taken = np.zeros(liver.shape, dtype=bool)
        if cfg[correction.switch] > 0 and liver.any():
            liver, taken = correction.apply(liver, scene, cfg, kept_out)
        taken_out[correction.name] = taken
        kept_out = kept_out | taken
    return CoarseLiver(scene, liver, taken_out)

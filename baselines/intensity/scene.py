"""`Scene`: what every extraction of the liver from one image shares (coarse grid)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .anatomy.body import body_mask, right_front
from .anatomy.lungs import inner_columns, lung_mask
from .anatomy.seed import seed_region
from .anatomy.spine import vertebral_front
from .anatomy.window import Window, intensity_window
from .grid import dilate_mm

LUNG_MARGIN_MM = 5.0  # candidates keep this far from the lungs (their partial volume is in the window)


@dataclass(frozen=True)
class Scene:
    """What every extraction of the liver from one image shares (coarse grid)."""

    spacing: tuple
    spine: tuple | None  # anatomy.spine.vertebral_front: (y, x) of the vertebral bodies' front and the spine's middle
    body: np.ndarray
    right_lung: np.ndarray
    lung_columns: np.ndarray  # (y, x) under the right lung, away from its edge (anatomy.lungs.inner_columns)
    lung_margin: np.ndarray
    seed: np.ndarray
    smooth: np.ndarray  # the median-filtered image
    candidates: np.ndarray  # in the HU window, in the body, off the lungs
    window: Window  # (low, high, centre, spread) HU


def read_scene(coarse: np.ndarray, spacing, cfg) -> Scene | None:
    """The scene of a coarse image, or None where it shows no body or no seed for the window."""
    body = body_mask(coarse, cfg["body_hu"])
    if not body.any():
        return None
    lungs = lung_mask(coarse, body, spacing, cfg["air_hu"])
    seed = seed_region(coarse, body, lungs, spacing, cfg["seed_depth_mm"], cfg["min_liver_hu"])
    if not seed.any():
        return None
    window = intensity_window(coarse, seed, cfg)
    smooth = ndi.median_filter(coarse, size=(1, 3, 3)) if cfg["median"] else coarse
    lung_margin = dilate_mm(lungs, LUNG_MARGIN_MM, spacing)
    candidates = body & ~lung_margin & (smooth >= window.low) & (smooth <= window.high)
    right_lung = lungs & right_front(body)
    # The spine is read on the block means: the median filter erases the phantoms' thin cortex.
    spine = vertebral_front(coarse, body, spacing[1:])
    return Scene(spacing, spine, body, right_lung, inner_columns(right_lung, spacing), lung_margin, seed,
                 smooth, candidates, window)

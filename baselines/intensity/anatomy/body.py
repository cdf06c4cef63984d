"""The body, and where in it the liver lies."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from liverbench.masks import largest_component

from ..grid import fill_holes_slicewise

LIVER_FRONT_SHARE = 0.7  # the liver lies in front of the body's back 30 % (the kidneys and the spine)


def body_mask(coarse: np.ndarray, threshold_hu: float) -> np.ndarray:
    """Tissue above `threshold_hu`, its largest component, holes filled slice by slice."""
    tissue = coarse > threshold_hu
    # One opening step detaches the table and blankets, which touch the body along thin lines.
    tissue = ndi.binary_opening(tissue, structure=ndi.generate_binary_structure(3, 1))
    return fill_holes_slicewise(largest_component(tissue, connectivity=1))


def right_front(body: np.ndarray) -> np.ndarray:
    """Where the liver is, as a (1, y, x) mask: right of the body's middle (small x), in front of
    its back 30 % (the kidneys and the spine)."""
    xs = np.nonzero(body.any(axis=(0, 1)))[0]
    ys = np.nonzero(body.any(axis=(0, 2)))[0]
    x_idx = np.arange(body.shape[2])[None, None, :]
    y_idx = np.arange(body.shape[1])[None, :, None]
    return (x_idx < 0.5 * (xs[0] + xs[-1])) & (y_idx < ys[0] + LIVER_FRONT_SHARE * (ys[-1] - ys[0]))

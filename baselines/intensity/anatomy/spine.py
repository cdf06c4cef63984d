"""The spine: the front of the vertebral bodies and the spine's middle."""

from __future__ import annotations

import numpy as np

BONE_HU = 300.0  # bone; the aorta stays below it after portal-venous contrast
SPINE_HALF_WIDTH_MM = 25.0  # vertebral bodies within this of the body's middle; ribs are further out
MIN_BONE_VOXELS = 20  # fewer: no spine in view


def vertebral_front(coarse: np.ndarray, body: np.ndarray, plane, bone_hu: float = BONE_HU):
    """(y, x) of the front of the vertebral bodies and of the spine's middle (median over slices),
    from bone in the body's back half within `SPINE_HALF_WIDTH_MM` of its middle, or None without
    such bone. Read on the block means: a median filter erases the phantoms' thin cortex."""
    ys = np.nonzero(body.any(axis=(0, 2)))[0]
    xs = np.nonzero(body.any(axis=(0, 1)))[0]
    x_mid, half = 0.5 * (xs[0] + xs[-1]), SPINE_HALF_WIDTH_MM / plane[1]
    strip = np.zeros(body.shape[1:], dtype=bool)
    strip[int(0.5 * (ys[0] + ys[-1])):, max(0, int(x_mid - half)):int(x_mid + half) + 1] = True
    bone = (coarse >= bone_hu) & body & strip[None]
    if bone.sum() < MIN_BONE_VOXELS:
        return None
    fronts = [(np.nonzero(b)[0].min(), np.median(np.nonzero(b)[1])) for b in bone if b.any()]
    return float(np.median([f[0] for f in fronts])), float(np.median([f[1] for f in fronts]))

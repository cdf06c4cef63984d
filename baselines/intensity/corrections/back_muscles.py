"""The back muscles, which native scans show at the liver's HU, taken out where the liver took them in."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from liverbench.masks import largest_component

from ..scene import Scene

BOTTOM_SHARE = 0.25  # the muscles are looked for in this share of the scan's lowest slices, below the liver
MIN_FOUND_SHARE = 0.5  # ... and taken only when found in this share of them
MIN_SPAN_SHARE = 0.5  # ... and when their footprint then spans this share of the scan


def take_out_back_muscles(liver: np.ndarray, scene: Scene, cfg, kept_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The liver without the back muscles, and the muscles taken out."""
    back = back_muscles(liver, scene, cfg)
    if back.any():
        liver = largest_component(liver & ~back, connectivity=1)
    return liver, back


def back_muscles(liver: np.ndarray, scene: Scene, cfg) -> np.ndarray:
    """The back muscles where the liver took them in (native scans: they share the liver's HU).

    The erector spinae lie behind the vertebrae, one each side of the spinous process, and run
    the scan's whole length; the liver lies in front of them and ends well above the scan's
    bottom, but where it touches them the openings cannot part the two. In the scan's lowest
    quarter, below the liver, the mask's 2D pieces that lie wholly behind the vertebral bodies'
    front, are at least `back_min_mm2` large and are centred at least `back_depth_mm` behind that
    front and at most `back_side_mm` from the spine's middle are the muscles (the kidneys lie
    further out and further forward, the cava and the psoas further forward). Their footprint,
    grown by one voxel, is followed up the scan and taken out of every slice where the mask
    covers `back_cover` of it. Taken only when such pieces fill at least half of that quarter's
    slices and the footprint then spans at least half of the scan: the muscles, not a piece of
    liver that a scan cut at its bottom happens to leave there.
    """
    out = np.zeros(liver.shape, dtype=bool)
    spacing = scene.spacing
    spine = scene.spine
    if spine is None:
        return out
    nz = liver.shape[0]
    behind = np.zeros(liver.shape[1:], dtype=bool)
    behind[int(np.floor(spine[0])) + 1:] = True
    pixel_mm2 = float(np.prod(spacing[1:]))
    footprint = np.zeros(liver.shape[1:], dtype=bool)
    lowest = max(1, int(nz * BOTTOM_SHARE))
    seen = 0
    for z in range(lowest):
        labels, n = ndi.label(liver[z])
        found = False
        for i in range(1, n + 1):
            piece = labels == i
            if (piece & ~behind).any() or piece.sum() * pixel_mm2 < cfg["back_min_mm2"]:
                continue
            cy, cx = np.argwhere(piece).mean(axis=0)
            if ((cy - spine[0]) * spacing[1] >= cfg["back_depth_mm"]
                    and abs(cx - spine[1]) * spacing[2] <= cfg["back_side_mm"]):
                footprint |= piece
                found = True
        seen += found
    if seen < MIN_FOUND_SHARE * lowest:
        return out
    footprint = ndi.binary_dilation(footprint, ndi.generate_binary_structure(2, 1)) & behind
    for z in range(nz):
        if (liver[z] & footprint).sum() >= cfg["back_cover"] * footprint.sum():
            out[z] = liver[z] & footprint
    if out.any(axis=(1, 2)).sum() < MIN_SPAN_SHARE * nz:
        return np.zeros_like(out)
    return out

"""The left lobe's thin parts, which the opening cut off, added back from a finer opening."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from liverbench.masks import largest_component

from ..extraction import extract_liver, fill_and_trim
from ..scene import Scene

FRONT_SHARE = 0.5  # the left lobe lies in the front half of the body


def add_left_lobe_parts(liver: np.ndarray, scene: Scene, cfg, kept_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The liver with the thin parts a second extraction (`lobe_opening_mm`) finds; takes nothing out."""
    parts = thin_parts(liver, extract_liver(scene, cfg["lobe_opening_mm"], cfg), scene.body, scene.spacing, cfg)
    if parts.any():  # they may close new holes
        liver = largest_component(fill_and_trim(liver | parts, scene, cfg) & ~kept_out, connectivity=1)
    return liver, np.zeros(liver.shape, dtype=bool)


def thin_parts(liver: np.ndarray, finer: np.ndarray, body: np.ndarray, spacing, cfg) -> np.ndarray:
    """Parts of the left lobe too thin for the opening, found by a finer one and kept by position.

    A finer opening keeps parts of the liver that a fissure or a narrow neck joins to the rest (on
    ircadb1_17, 35 ml of the left lobe), but also lets in neighbours the coarse one cut off. Its
    extra pieces are kept where the left lobe is: at least `lobe_min_ml` (smaller ones are only
    where the two extractions' borders differ), touching the liver over `lobe_contact` of their
    surface, centred within `lobe_depth_mm` of the liver's top (duodenum, pancreas and bowel,
    which the finer opening lets in lower down, do not reach that high), in the front half of the
    body and no further right than `lobe_right` of its width from its right side (the crus and the
    diaphragm behind the liver and the body wall at its right, which it lets in too, are not).
    """
    labels, n = ndi.label(finer & ~liver)
    out = np.zeros(liver.shape, dtype=bool)
    if n == 0:
        return out
    top = int(np.nonzero(liver.any(axis=(1, 2)))[0].max())
    ys, xs = (np.nonzero(body.any(axis=axes))[0] for axes in ((0, 2), (0, 1)))
    voxel_ml = float(np.prod(spacing)) / 1000.0
    for box_index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        grown = tuple(slice(max(0, b.start - 1), b.stop + 1) for b in box)
        piece = labels[grown] == box_index
        if piece.sum() * voxel_ml < cfg["lobe_min_ml"]:
            continue
        shell = ndi.binary_dilation(piece) & ~piece
        if liver[grown][shell].mean() < cfg["lobe_contact"]:
            continue
        z, y, x = (b.start + idx.mean() for b, idx in zip(grown, np.nonzero(piece)))
        if (top - z) * spacing[0] > cfg["lobe_depth_mm"]:
            continue
        if (y - ys[0]) > FRONT_SHARE * (ys[-1] - ys[0]) or (x - xs[0]) < cfg["lobe_right"] * (xs[-1] - xs[0]):
            continue
        out[grown] |= piece
    return out

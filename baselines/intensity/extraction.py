"""The liver extracted from a scene: the candidates' component under the seed, regrown, closed,
its border lesions, dome rim and holes filled, the enclosed fat taken out."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from liverbench.masks import largest_component

from .anatomy.dome import dome_rim
from .grid import close_mm, fill_holes_slicewise, open_mm
from .scene import Scene

FLAT_Z_MM = 1e6  # a z spacing that makes a ball a disc: morphology slice by slice


def extract_liver(scene: Scene, opening_mm: float, cfg) -> np.ndarray:
    """The candidates' component under the seed once an opening of `opening_mm` has cut its
    bridges to the neighbours, regrown, closed, with its lesions and holes filled."""
    spacing, smooth, hi = scene.spacing, scene.smooth, scene.window.high
    opened = open_mm(scene.candidates, opening_mm, spacing)
    labels, n = ndi.label(opened)
    if n == 0:
        return np.zeros(opened.shape, dtype=bool)
    votes = np.bincount(labels[scene.seed], minlength=n + 1)
    votes[0] = 0
    # The seed fell between the components: take the largest.
    liver = labels == int(np.argmax(votes)) if votes.max() > 0 else largest_component(opened, connectivity=1)
    if cfg["regrow_steps"] > 0:
        liver = ndi.binary_dilation(liver, structure=ndi.generate_binary_structure(3, 1),
                                    iterations=int(cfg["regrow_steps"]), mask=scene.candidates)
    # The closing bridges notches and vessels at the border; what it adds must be tissue, not
    # the fat and bright portal/caval blood in the hilum's mouth (SLiver07 leaves those out).
    liver |= close_mm(liver, cfg["closing_mm"], spacing) & (smooth >= cfg["lesion_min_hu"]) & (smooth <= hi)
    if cfg["lesion_fill_mm"] > 0:
        liver |= (border_lesions(liver, smooth, spacing, cfg["lesion_fill_mm"], cfg["lesion_min_hu"], hi)
                  & scene.body & ~scene.lung_margin)
    if cfg["dome_gap_mm"] > 0:
        liver |= dome_rim(liver, scene, cfg)
    return fill_and_trim(liver, scene, cfg)


def border_lesions(liver: np.ndarray, smooth: np.ndarray, spacing, radius_mm: float, min_hu: float,
                   max_hu: float) -> np.ndarray:
    """Hypodense lesions that reach the liver's border: the bays a per-slice closing bridges.

    Hole filling closes lesions inside the liver; one that touches the border leaves a bay
    instead. A 2D closing (per slice: an infinite z spacing makes the ball a disc) spans it;
    only soft tissue darker than the window but above fat and fluid is taken from the bay.
    """
    flat = (FLAT_Z_MM, spacing[1], spacing[2])
    bays = close_mm(liver, radius_mm, flat) & ~liver
    return bays & (smooth >= min_hu) & (smooth <= max_hu)


def fill_and_trim(liver: np.ndarray, scene: Scene, cfg) -> np.ndarray:
    """Holes filled (tumours and vessels are liver), then the enclosed fat taken out again."""
    liver = ndi.binary_fill_holes(liver)
    liver = fill_holes_slicewise(liver) & scene.body
    # Hole filling also took in the fat of the fissures and the hilum (ligaments, the porta's fat),
    # which references leave out. Cysts (0-20 HU) and lesions are above the cut-off and stay.
    return largest_component(liver & (scene.smooth >= cfg["fat_max_hu"]), connectivity=1)

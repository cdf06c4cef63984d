"""The inferior vena cava, which the liver wraps and which is as bright as the liver after
contrast, followed up from below the liver and taken out (SLiver07 references leave it out)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from liverbench.masks import largest_component

from ..grid import distance_mm
from ..scene import Scene

BLOOD_ABOVE_WINDOW_SPREADS = 2.0  # blood: the window's low end to this many spreads above its top
# A vein's section: an inscribed radius of 5-20 mm and an area at most 3 times that circle's (the
# cava is oval, up to about 2.5:1).
VEIN_RADIUS_MM = (5.0, 20.0)
VEIN_MAX_ELONGATION = 3.0
# A section continues a stack when it overlaps the stack's last one by this share of the smaller
# and its area is in this range of the stack's median.
STACK_OVERLAP = 0.5
STACK_AREA_RANGE = (0.6, 2.5)
ENTRY_COVER = 0.5  # the stack runs into the liver when its last section is this much liver or blood
CENTRE_SECTIONS = 6  # a stack's top centre: the median over this many of its last sections
# Where the cava runs: this far in front of the vertebral bodies and right of the spine's middle;
# the aorta lies left, the psoas and the crura beside the spine.
CAVA_AHEAD_MM = (5.0, 50.0)
CAVA_RIGHT_MM = (5.0, 55.0)


def take_out_vena_cava(liver: np.ndarray, scene: Scene, cfg, kept_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The liver without the vena cava, and the cava taken out."""
    cava = caval_tube(liver, scene, cfg)
    if cava.any():
        liver = largest_component(liver & ~cava, connectivity=1)
    return liver, cava


def caval_tube(liver: np.ndarray, scene: Scene, cfg) -> np.ndarray:
    """The inferior vena cava where the liver took it in (SLiver07 references leave it out).

    Behind the liver the cava is as bright as the liver after contrast and the liver wraps it, so
    neither the window nor the openings part them. Below the liver it runs alone: a round section
    of blood (window low to two spreads above its top), 10-40 mm across, in front of the spine
    and right of its middle, the same from slice to slice. A stack of such sections at least
    `cava_min_mm` long that runs into the liver is the cava; its disk (the sections' median
    inscribed radius, centred on their last few centres) is followed straight up. It is not
    followed into the top `cava_top_mm` of the liver, where the cava bends forward into the
    heart and a straight disk would cut liver. Nothing is taken where no such stack is found
    (a scan that starts inside the liver, a cava darker than the window).
    """
    out = np.zeros(liver.shape, dtype=bool)
    spacing, smooth, (lo, hi, _, spread) = scene.spacing, scene.smooth, scene.window
    plane = spacing[1:]
    spine = scene.spine
    if spine is None:
        return out
    blood = scene.body & (smooth >= lo) & (smooth <= hi + BLOOD_ABOVE_WINDOW_SPREADS * spread)
    top = int(np.nonzero(liver.any(axis=(1, 2)))[0][-1])
    found = cava_below_liver(liver, blood, spine, spacing, cfg["cava_min_mm"], top)
    if found is None:
        return out
    entry, sections = found
    radius = float(np.median([distance_mm(m, plane).max() for m in sections]))
    cy, cx = section_centre(sections)
    yy, xx = np.ogrid[:liver.shape[1], :liver.shape[2]]
    disk = ((yy - cy) * plane[0]) ** 2 + ((xx - cx) * plane[1]) ** 2 <= radius ** 2
    for z in range(entry, top - int(round(cfg["cava_top_mm"] / spacing[0])) + 1):
        if not (liver[z] & disk).any():
            break
        out[z] = liver[z] & disk
    return out


def cava_below_liver(liver, blood, spine, spacing, min_mm: float, top: int):
    """(slice where it enters the liver, its 2D sections) of the longest stack of vein sections
    that runs into the liver in front of the spine, or None.

    A section continues a stack when it overlaps the stack's last one by half of the smaller and
    its area is 0.6-2.5 times the stack's median (smaller: the cava merging into the liver; larger
    sections happen where a neighbour touches it for a slice). A stack that finds no section in a
    slice runs into the liver there when its last section touches the liver and is still half
    covered by liver or blood.
    """
    plane = spacing[1:]
    smallest, largest = STACK_AREA_RANGE
    stacks: list[list[np.ndarray]] = []
    best = None
    for z in range(top + 1):
        sections = vein_sections(blood[z] & ~liver[z], plane)
        taken: set[int] = set()
        going = []
        for stack in stacks:
            last, typical = stack[-1], np.median([m.sum() for m in stack])
            match = next((j for j, m in enumerate(sections) if j not in taken
                          and (m & last).sum() >= STACK_OVERLAP * min(m.sum(), last.sum())
                          and smallest * typical <= m.sum() <= largest * typical), None)
            if match is not None:
                stack.append(sections[match])
                taken.add(match)
                going.append(stack)
                continue
            length = len(stack) * spacing[0]
            enters = (liver[z] & last).any() and ((liver[z] | blood[z]) & last).sum() >= ENTRY_COVER * last.sum()
            if enters and length >= min_mm and in_front_of_spine(section_centre(stack), spine, plane):
                if best is None or len(stack) > len(best[1]):
                    best = (z, stack)
        stacks = going + [[m] for j, m in enumerate(sections) if j not in taken]
    return best


def vein_sections(mask: np.ndarray, plane, min_radius_mm: float = VEIN_RADIUS_MM[0],
                  max_radius_mm: float = VEIN_RADIUS_MM[1], max_elongation: float = VEIN_MAX_ELONGATION) -> list[np.ndarray]:
    """The 2D components of `mask` shaped like a large vein's section: an inscribed radius of
    5-20 mm and an area at most 3 times that circle's (the cava is oval, up to about 2.5:1)."""
    labels, n = ndi.label(mask)
    if n == 0:
        return []
    inner = distance_mm(mask, plane)
    pixel = float(np.prod(plane))
    out = []
    for i, box in enumerate(ndi.find_objects(labels), start=1):
        piece = labels[box] == i
        r = float(inner[box][piece].max())
        if min_radius_mm <= r <= max_radius_mm and piece.sum() * pixel <= max_elongation * np.pi * r * r:
            out.append(labels == i)
    return out


def section_centre(stack) -> tuple[float, float]:
    """(y, x) of a stack's top: the median centre of its last sections (one slice where a
    neighbour touches the section shifts its own centre)."""
    return tuple(np.median([np.argwhere(m).mean(axis=0) for m in stack[-CENTRE_SECTIONS:]], axis=0))


def in_front_of_spine(centre, spine, plane) -> bool:
    """Where the cava runs: its centre 5-50 mm in front of the vertebral bodies and 5-55 mm right
    of the spine's middle (small x); the aorta lies left, the psoas and the crura beside the spine."""
    ahead = (spine[0] - centre[0]) * plane[0]
    right = (spine[1] - centre[1]) * plane[1]
    return CAVA_AHEAD_MM[0] <= ahead <= CAVA_AHEAD_MM[1] and CAVA_RIGHT_MM[0] <= right <= CAVA_RIGHT_MM[1]

"""An anatomical guard against liver predicted far from the liver (issue 29).

The liver is one organ: on long fields of view the networks also mark heart, spleen or bowel
loops 100-250 mm away (MaxD 148-236 mm on unseen scans), and a refinement such as the CRF
keeps them, because it starts from the same probabilities. The guard takes the largest
connected component of P >= 0.5 as the liver; every other component that comes within
`distance_mm` of it is kept whole (a left lobe that a fissure or a thin bridge separates at the
working grid), the rest are "far", and P (and every branch map) is set to 0 further than
`distance_mm` from what is kept, so a refinement cannot grow them back from their fringes.

It works on the network's working grid (3-5 mm), where the distance transform is cheap, before
the maps are resampled to the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi


@dataclass(frozen=True)
class GuardResult:
    keep: np.ndarray | None  # bool, where the maps stay; None: nothing to take out
    removed_voxels: int  # voxels with P >= 0.5 outside `keep` (0: the guard did not fire)

    @property
    def fired(self) -> bool:
        return self.removed_voxels > 0


def far_component_guard(prob: np.ndarray, spacing, distance_mm: float) -> GuardResult:
    """Where to keep `prob`: components of P >= 0.5 that come within `distance_mm` of the largest
    are kept whole; the others, and everything further than `distance_mm` from what is kept, go."""
    liver = prob >= 0.5
    labels, n = ndi.label(liver)
    if n <= 1:
        return GuardResult(None, 0)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    largest = int(np.argmax(sizes))
    sampling = tuple(float(s) for s in spacing)  # distances in mm on the working grid
    to_core = ndi.distance_transform_edt(labels != largest, sampling=sampling)
    closest = ndi.minimum(to_core, labels, index=np.arange(1, n + 1))
    far = np.flatnonzero(np.asarray(closest) > float(distance_mm)) + 1
    if far.size == 0:
        return GuardResult(None, 0)
    kept = liver & ~np.isin(labels, far)
    keep = ndi.distance_transform_edt(~kept, sampling=sampling) <= float(distance_mm)
    return GuardResult(keep, int(np.count_nonzero(liver & ~keep)))


def apply_guard(maps: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    """Every map (probability and branches) set to 0 outside `keep`."""
    return {name: np.where(keep, m, np.float32(0)).astype(m.dtype, copy=False) for name, m in maps.items()}

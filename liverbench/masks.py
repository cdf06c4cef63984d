"""Binary-mask helpers shared by the library and the plugins."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def largest_component(mask: np.ndarray, connectivity: int) -> np.ndarray:
    """The largest connected component of `mask`, as a new boolean array (empty stays empty).

    `connectivity` as in `scipy.ndimage.generate_binary_structure`: 1 joins voxels that share a
    face (6 neighbours in 3D), `mask.ndim` also those that share only a corner (26 in 3D). Of
    equally large components the first in scan order wins.
    """
    mask = np.asarray(mask)
    if not 1 <= connectivity <= mask.ndim:
        raise ValueError(f"largest_component: connectivity {connectivity} must be 1..{mask.ndim} for a "
                         f"{mask.ndim}D mask")
    labels, n = ndi.label(mask, structure=ndi.generate_binary_structure(mask.ndim, connectivity))
    if n <= 1:
        return mask.astype(bool, copy=True)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))

"""The border decided again on the native grid, where the coarse grid put it 1-2 mm too far in."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .anatomy.window import Window

PARTIAL_VOLUME_SPREADS = 1.0  # the window widened by this many spreads below: partial volume darkens the border
FAR_BELOW_SPREADS = 3.0  # the coarse mask is kept unless this many spreads below the window
VOTE_MM = 3.0  # in-plane width of the majority vote that smooths the redecided border


def refine_border(prob: np.ndarray, array: np.ndarray, spacing, window: Window, cfg, keep_out: np.ndarray) -> None:
    """Decide the border on the native grid, in place: the coarse grid puts it 1-2 mm too far in.

    Within `border_band_mm` of the coarse border (read off the soft map, which is a logistic of
    the signed distance), a voxel is liver when its 3x3 in-plane mean is in the window widened by
    one spread below (partial volume at the border darkens the liver), and not liver when it is far
    below; never in `keep_out` (what the corrections took out, which is in the window). Only P
    crosses 0.5; the soft band around the border stays.
    """
    lo, hi, mode, spread = window
    t = float(np.tanh(cfg["border_band_mm"] / (2.0 * cfg["softness_mm"])))
    p_out, p_in = 0.5 * (1.0 - t), 0.5 * (1.0 + t)
    band = (prob > p_out) & (prob < p_in)
    if not band.any():  # voxels coarser than the band: nothing to decide
        return
    idx = tuple(np.nonzero(band.any(axis=tuple(a for a in range(3) if a != ax)))[0] for ax in range(3))
    box = tuple(slice(i[0], i[-1] + 1) for i in idx)
    p = prob[box]
    local = ndi.uniform_filter(array[box].astype(np.float32), size=(1, 3, 3))
    b = band[box]
    liver = np.where(b, (local >= lo - PARTIAL_VOLUME_SPREADS * spread) & (local <= hi), p >= 0.5)
    liver |= b & (p >= 0.5) & (local >= lo - FAR_BELOW_SPREADS * spread)  # keep the coarse mask unless far below
    # A majority vote over ~3 mm in-plane: single voxels of rib muscle or vessel wall flip
    # otherwise, and a speckled border costs more surface distance than it gains in volume.
    k = [1] + [max(3, int(round(VOTE_MM / s)) | 1) for s in spacing[1:]]
    liver = (ndi.uniform_filter(liver.astype(np.float32), size=k) >= 0.5) & ~keep_out[box]
    p[b & liver & (p < 0.5)] = 0.51
    p[b & ~liver & (p >= 0.5)] = 0.49

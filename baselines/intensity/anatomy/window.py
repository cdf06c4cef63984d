"""The liver's HU window, from the seed's histogram."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage as ndi
from scipy.signal import find_peaks

HISTOGRAM_TOP_HU = 302.0  # bins up to 300 HU: above is bone
BIN_HU = 2.0
PEAK_SMOOTHING_BINS = 3.0  # 6 HU
PEAK_REACH_HU = 20.0  # a peak's share of the seed: values this close to it
BRIGHTER_PEAK_SHARE = 0.75  # a brighter peak holding this much of the largest peak's share is the liver's
SPREAD_REACH_HU = 60.0  # the spread is measured on values this close to the peak
MAD_TO_SIGMA = 1.4826  # median absolute deviation -> standard deviation of a normal distribution


class Window(NamedTuple):
    """The liver's HU window and the peak and spread it was drawn from."""

    low: float
    high: float
    centre: float
    spread: float


def intensity_window(coarse: np.ndarray, seed: np.ndarray, cfg) -> Window:
    """The liver's peak of the seed histogram and a robust spread.

    The histogram starts at `min_liver_hu`: fluid under the lung (an effusion the seed may reach)
    is 0-25 HU, below any liver, native or enhanced. Its peak is the one holding the largest share
    of the seed (within `PEAK_REACH_HU`), unless a brighter peak holds nearly as much
    (`BRIGHTER_PEAK_SHARE` of that share): what else fills the seed under the dome (a large
    hypodense lesion, bowel or mesentery between the liver and the diaphragm, the diaphragm
    itself) is darker than the liver, while the brighter tissues there (vessels, hyperdense
    lesions) never fill a sizeable share of it.
    """
    values = coarse[seed]
    hist, edges = np.histogram(values, bins=np.arange(float(cfg["min_liver_hu"]), HISTOGRAM_TOP_HU, BIN_HU))
    smooth = ndi.gaussian_filter1d(hist.astype(float), sigma=PEAK_SMOOTHING_BINS)
    peaks = find_peaks(np.r_[0.0, smooth, 0.0])[0] - 1  # padded: a peak may sit at either end
    if peaks.size == 0:  # no seed value in the histogram's range
        peaks = np.array([int(np.argmax(smooth))])
    centres = edges[peaks] + 0.5 * BIN_HU
    share = np.array([np.mean(np.abs(values - c) < PEAK_REACH_HU) for c in centres])
    mode = float(centres[share >= BRIGHTER_PEAK_SHARE * share.max()].max())
    near = values[np.abs(values - mode) < SPREAD_REACH_HU]
    spread = MAD_TO_SIGMA * float(np.median(np.abs(near - mode))) if near.size else cfg["min_spread_hu"]
    spread = float(np.clip(spread, cfg["min_spread_hu"], cfg["max_spread_hu"]))
    return Window(mode - cfg["window_lo_sigma"] * spread, mode + cfg["window_hi_sigma"] * spread, mode, spread)

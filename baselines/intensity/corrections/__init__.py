"""The corrections: named stages run in this order on the extracted liver (coarse grid).

Each takes (liver, scene, cfg, kept_out) -- `kept_out` is what the stages before it took out,
which it must not put back -- and returns the corrected liver and what it took out itself (empty
for a stage that only adds). A stage runs when its switch parameter is above 0 and there is a
liver; what all of them took out is also kept out of the native-grid border (`border`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..scene import Scene
from .back_muscles import take_out_back_muscles
from .left_lobe import add_left_lobe_parts
from .vena_cava import take_out_vena_cava


@dataclass(frozen=True)
class Correction:
    name: str  # the key of what it took out in `pipeline.CoarseLiver.taken_out`
    switch: str  # the parameter that turns it off at 0
    apply: Callable[[np.ndarray, Scene, dict, np.ndarray], tuple[np.ndarray, np.ndarray]]


CORRECTIONS: tuple[Correction, ...] = (
    # First: the liver's top and the left lobe's search are read off the mask without the muscles.
    Correction("back_muscles", "back_min_mm2", take_out_back_muscles),
    Correction("left_lobe", "lobe_opening_mm", add_left_lobe_parts),
    # Last: the left lobe's hole filling would put the cava back.
    Correction("vena_cava", "cava_min_mm", take_out_vena_cava),
)

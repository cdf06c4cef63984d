"""The intensity baseline's parameters: their defaults (in the order they have always had) and checks."""

from __future__ import annotations

from typing import Any

from liverbench.plugins.base import Param

DEFAULTS: dict[str, Any] = {
    "target_spacing_mm": 2.5,  # coarse grid; block factors are rounded to integers
    "body_hu": -350.0,
    "air_hu": -400.0,
    "seed_depth_mm": [15.0, 50.0],  # below the right lung's base
    "window_lo_sigma": 2.5,  # HU window = [median - lo * spread, median + hi * spread]
    "window_hi_sigma": 3.0,
    "min_spread_hu": 10.0,
    "max_spread_hu": 15.0,  # wider windows leak into muscle and kidney on noisy scans
    "opening_mm": 12.0,  # radius of the ball that cuts bridges to neighbours
    "regrow_steps": 3,  # geodesic dilation steps back into the candidates; more bring in more neighbour than liver
    "closing_mm": 15.0,  # only tissue in [lesion_min_hu, window high] is added by it
    "softness_mm": 2.0,
    "median": True,  # a 3x3 in-plane median on the coarse grid before thresholding
    "min_liver_hu": 30.0,  # seed voxels below this are fluid (effusion, bile, ascites), never liver
    "lesion_fill_mm": 25.0,  # per-slice closing radius that turns border lesions into holes (0 = off)
    # What the closings may add: tissue above this, not fat, fluid or their partial volume (20-40 HU
    # tissue within their reach is neighbour, not liver).
    "lesion_min_hu": 40.0,
    "border_band_mm": 4.0,  # final border decided on the native grid within this distance (0 = off)
    "fat_max_hu": -10.0,  # after hole filling, voxels below this are taken out (-1000 = off); cysts (0-20 HU) stay
    # corrections.left_lobe: the left lobe's thin parts from a finer opening, kept where the left lobe lies
    "lobe_opening_mm": 8.0,  # 0 = off
    "lobe_contact": 0.25,  # share of a piece's surface that must touch the liver
    "lobe_depth_mm": 60.0,  # a piece's centre at most this far below the liver's top
    "lobe_min_ml": 10.0,  # smaller pieces are where the two extractions' borders differ
    "lobe_right": 0.4,  # a piece's centre at least this share of the body's width from its right side
    # anatomy.dome: the dome's rim and lesions against the diaphragm, between the liver's top and the lung
    "dome_gap_mm": 30.0,  # longest gap filled (0 = off)
    "dome_margin_mm": 10.0,  # left below the lung: the diaphragm and the lung's partial volume
    # corrections.vena_cava: the inferior vena cava, followed up from below the liver and taken out
    "cava_min_mm": 20.0,  # shortest run of round sections below the liver taken for the cava (0 = off)
    "cava_top_mm": 30.0,  # not followed into this much of the liver's top, where the cava bends forward
    # corrections.back_muscles (native scans), followed up from the scan's lowest slices and taken out
    "back_min_mm2": 1000.0,  # smallest section of a back muscle (0 = off); a lumbar erector spinae is 20-30 cm2
    "back_depth_mm": 35.0,  # its centre at least this far behind the vertebral bodies' front (their depth is ~30 mm)
    "back_side_mm": 60.0,  # and at most this far from the spine's middle (the kidneys lie further out)
    "back_cover": 0.3,  # taken out of the slices where the mask covers this share of the footprint
}


def _near_before_far(depth) -> str | None:
    return None if depth[0] < depth[1] else f"{list(depth)} must be [near, far] with near < far"


PARAM_CHECKS: dict[str, Param] = {
    "target_spacing_mm": Param(float, gt=0), "body_hu": Param(float), "air_hu": Param(float),
    "seed_depth_mm": Param(list, length=2, item=Param(float, ge=0), check=_near_before_far),
    "window_lo_sigma": Param(float, gt=0), "window_hi_sigma": Param(float, gt=0),
    "min_spread_hu": Param(float, gt=0), "max_spread_hu": Param(float, gt=0), "opening_mm": Param(float, ge=0),
    "regrow_steps": Param(int, ge=0), "closing_mm": Param(float, ge=0), "softness_mm": Param(float, gt=0),
    "median": Param(bool), "min_liver_hu": Param(float), "lesion_fill_mm": Param(float, ge=0),
    "lesion_min_hu": Param(float), "border_band_mm": Param(float, ge=0), "fat_max_hu": Param(float),
    "lobe_opening_mm": Param(float, ge=0), "lobe_contact": Param(float, ge=0, le=1),
    "lobe_depth_mm": Param(float, ge=0), "lobe_min_ml": Param(float, ge=0),
    "lobe_right": Param(float, ge=0, le=1), "dome_gap_mm": Param(float, ge=0), "dome_margin_mm": Param(float, ge=0),
    "cava_min_mm": Param(float, ge=0), "cava_top_mm": Param(float, ge=0),
    "back_min_mm2": Param(float, ge=0), "back_depth_mm": Param(float), "back_side_mm": Param(float, gt=0),
    "back_cover": Param(float, gt=0, le=1),
}

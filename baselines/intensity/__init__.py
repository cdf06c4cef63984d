"""A learning-free liver segmenter: intensity statistics plus anatomy.

The kind of method the papers compare against (pre-deep-learning SLiver07 entries), kept
deliberately simple and fast. `pipeline.segment` runs it; each step lives in its own module:

1. `grid`: work on a coarse grid (about 2.5 mm): integer block means of the CT, which also
   average noise away. Everything below runs on that grid; only the final soft map goes back.
2. `anatomy.body`: tissue above `body_hu`, largest 3D component, holes filled slice by slice.
3. `anatomy.lungs`: air inside the body that reaches the top of the scan (or is large). The
   right lung (patient's right = small x in liverbench's canonical orientation) gives the
   diaphragm: for every (y, x) column under it, the lowest lung voxel marks the dome.
4. `anatomy.seed`: soft tissue (above `min_liver_hu`, so never pleural fluid) 1.5-5 cm below the
   right lung's base, in the anterior part of the body -- the liver dome sits right there.
   Without lungs in the field of view (a scan that starts below them) the seed falls back to the
   right anterior quadrant of the topmost slices.
5. `anatomy.window`: the HU window from the seed's histogram above `min_liver_hu` (its liver peak
   and a robust spread), so contrast and native scans get their own window and an effusion cannot
   pull it onto fluid; where a darker tissue fills as much of the seed as the liver, the brighter
   peak is the liver's. `scene` gathers what every later step reads (`anatomy.spine` adds the
   vertebral bodies' front).
6. `extraction`: candidates in the window, an opening with a ball of a few mm to cut the thin
   bridges to stomach, heart, kidney and bowel, the component holding most of the seed, a short
   geodesic regrowth into the candidates, a closing that may add only tissue (not hilar fat or
   portal blood), a per-slice closing that takes in hypodense lesions reaching the border,
   `anatomy.dome` (the gap between the liver's top and the right lung's base, where only the
   diaphragm should be, filled when it is soft tissue darker than the window: the dome's rim,
   lesions against the diaphragm), and hole filling (tumours and vessels are liver, as in
   SLiver07); the fat that hole filling took in (the fissures' and the hilum's, which SLiver07
   leaves out) is taken out again.
7. `corrections`: named stages run in order on the extracted liver -- the back muscles taken out
   (native scans, where the openings cannot part them from the liver), the left lobe's thin parts
   added back from a finer opening, and the inferior vena cava taken out (SLiver07 leaves it out).
8. `grid.soft_map`: a logistic of the signed distance to the mask boundary (mm), so P >= 0.5 is
   exactly the segmentation and refinements get an uncertain band around the border.
9. `border`: within `border_band_mm` of the coarse border each native voxel is decided again from
   its own neighbourhood's HU (the 2.5 mm grid put the border 1-2 mm inside the liver), never into
   what the corrections took out. Not on images the coarse grid did not coarsen.

How each step was measured, version by version: benchmarks/RESULTS.md, "Learning-free
`intensity` baseline".
"""

from .params import DEFAULTS
from .pipeline import Segmentation, analyse, segment
from .segmenter import IntensityBaseline

__all__ = ["DEFAULTS", "IntensityBaseline", "Segmentation", "analyse", "segment"]

"""SLiver07 evaluation: VOE, RVD, ASD, RMSD, MaxD and their scores, plus Dice, Jaccard, HD95, surface Dice.

`evaluate(seg, ref, spacing)` scores one case; see evaluate.py for the conventions (border
definition, empty masks) and distances.py for how the surface distances are computed.
"""

from liverbench.metrics.borders import border_voxels
from liverbench.metrics.conventions import CONVENTIONS, SLIVER07, BorderConvention, resolve_convention
from liverbench.metrics.distances import border_distances
from liverbench.metrics.evaluate import evaluate
from liverbench.metrics.scores import SLIVER07_REFS, case_score, sliver07_score

__all__ = [
    "evaluate",
    "sliver07_score",
    "case_score",
    "SLIVER07_REFS",
    "BorderConvention",
    "CONVENTIONS",
    "SLIVER07",
    "resolve_convention",
    "border_voxels",
    "border_distances",
]

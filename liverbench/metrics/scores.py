"""SLiver07 scores: each measure mapped to 0..100 against the challenge's human rater.

score(m) = max(0, 100 - 25 |m| / ref), so a result as good as the second human rater (whose
errors define `ref`) scores 75 and one four times worse scores 0. The case score is the mean of
the five unrounded scores; a method's score is the mean of its case scores (done in reports).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from liverbench.errors import ConfigError, InputError

# Heimann et al. 2009, Table 2: the second rater's mean errors on the SLiver07 test set.
SLIVER07_REFS: dict[str, float] = {"voe": 6.4, "rvd": 4.7, "asd": 1.0, "rmsd": 1.8, "maxd": 19.0}


def resolve_refs(refs: Mapping[str, float] | None) -> dict[str, float]:
    """SLIVER07_REFS with any given entries replaced; unknown keys and non-positive refs are errors."""
    resolved = dict(SLIVER07_REFS)
    for key, value in (refs or {}).items():
        if key not in SLIVER07_REFS:
            raise ConfigError(f"metrics.refs: unknown measure {key!r}; choose from {sorted(SLIVER07_REFS)}")
        value = float(value)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"metrics.refs.{key}: must be a positive number, got {value!r}")
        resolved[key] = value
    return resolved


def sliver07_score(metric: str, value: float, refs: Mapping[str, float] | None = None) -> float:
    """The SLiver07 score of one measure: max(0, 100 - 25 |value| / ref), unrounded."""
    ref = resolve_refs(refs).get(metric)
    if ref is None:
        raise ConfigError(f"sliver07_score: unknown measure {metric!r}; choose from {sorted(SLIVER07_REFS)}")
    value = float(value)
    if math.isnan(value):
        raise InputError(f"sliver07_score: {metric} is NaN; a score needs a number")
    return max(0.0, 100.0 - 25.0 * abs(value) / ref)


def case_score(scores: Mapping[str, float]) -> float:
    """Mean of the five measure scores (unrounded), keyed like SLIVER07_REFS."""
    return sum(scores[m] for m in SLIVER07_REFS) / len(SLIVER07_REFS)

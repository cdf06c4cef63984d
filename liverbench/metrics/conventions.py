"""Border conventions: which voxels of a mask count as its surface.

A border voxel is a mask voxel that its erosion removes: border = mask minus (mask eroded by a
radius-1 ball). Two choices define the ball and the edge of the image:

- `neighbourhood`: 6 (face neighbours), 18 (faces and edges: the 3x3x3 cube without its 8
  corners) or 26 (the full cube).
- `outside`: what lies beyond the image during the erosion. "object" (the SLiver07 evaluation
  program's choice) means a mask cut by the edge of the field of view has no surface there;
  "background" (scipy's `binary_erosion` default, hence MedPy's and most ad-hoc code) makes
  the cut face a surface.

The official SLiver07 convention (Heimann et al. 2009, and the challenge's evaluation program)
is 18-neighbourhood erosion with the outside treated as object.
"""

from __future__ import annotations

from dataclasses import dataclass

from liverbench.errors import ConfigError

NEIGHBOURHOODS = (6, 18, 26)
OUTSIDES = ("object", "background")


@dataclass(frozen=True)
class BorderConvention:
    neighbourhood: int = 18
    outside: str = "object"

    def __post_init__(self) -> None:
        if self.neighbourhood not in NEIGHBOURHOODS:
            raise ConfigError(f"border convention: neighbourhood must be one of {NEIGHBOURHOODS}, got {self.neighbourhood!r}")
        if self.outside not in OUTSIDES:
            raise ConfigError(f"border convention: outside must be one of {OUTSIDES}, got {self.outside!r}")

    @property
    def name(self) -> str:
        return f"{self.neighbourhood}-{self.outside}"


SLIVER07 = BorderConvention(18, "object")

# "sliver07" is the default; every combination is also reachable by its plain name, e.g.
# "6-background" (what MedPy and scipy-based scripts compute) or "26-object".
CONVENTIONS: dict[str, BorderConvention] = {"sliver07": SLIVER07}
CONVENTIONS.update({c.name: c for c in (BorderConvention(n, o) for n in NEIGHBOURHOODS for o in OUTSIDES)})


def resolve_convention(convention: str | BorderConvention) -> BorderConvention:
    """A convention from its name (see CONVENTIONS) or a BorderConvention passed through."""
    if isinstance(convention, BorderConvention):
        return convention
    try:
        return CONVENTIONS[str(convention).strip().lower()]
    except KeyError:
        raise ConfigError(
            f"metrics.convention: unknown border convention {convention!r}; choose one of {sorted(CONVENTIONS)}"
        ) from None

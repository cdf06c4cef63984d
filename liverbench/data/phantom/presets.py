"""Phantom sizes: grid shape, spacing ranges and how finely the anatomy is rendered."""

from __future__ import annotations

from dataclasses import dataclass

from liverbench.errors import UnknownNameError


@dataclass(frozen=True)
class Preset:
    name: str
    in_plane: int  # voxels along x and y
    in_plane_spacing: tuple[float, float]  # mm, sampled uniformly
    slice_spacings: tuple[float, ...]  # mm; a list of common reconstruction intervals, or (lo, hi) when `continuous`
    continuous_slices: bool
    n_slices: tuple[int, int]  # allowed number of slices
    scan_length: tuple[float, float]  # mm, sampled uniformly, then clipped to n_slices
    render_in_plane_factor: int = 1  # anatomy drawn this many times coarser in-plane, then upsampled
    render_min_slice_mm: float = 0.0  # anatomy drawn on slices at least this thick, then upsampled
    # Scan range: where an uncut scan starts above the liver's top (mm), and how often the range
    # deliberately ends inside the liver; long fields of view start high (chest) and reach the pelvis.
    above_liver_mm: tuple[float, float] = (10.0, 60.0)
    cut_fraction: float = 0.2


PRESETS: dict[str, Preset] = {
    # Unit tests: 48x48x32, field of view 350-450 mm.
    "tiny": Preset("tiny", 48, (7.3, 9.4), (7.0, 9.0), True, (32, 32), (224.0, 288.0)),
    # Demo and CPU training: 96x96x48-64, field of view 350-450 mm, 4-6 mm slices.
    "small": Preset("small", 96, (3.65, 4.7), (4.0, 6.0), True, (48, 64), (240.0, 330.0)),
    # Like a clinical abdominal CT: 512x512, 0.5-0.9 mm pixels (field of view 256-460 mm), the
    # usual reconstruction intervals. Drawn at 2x coarser pixels and (for slices under 1 mm) 2x thicker slices, then
    # upsampled linearly, which keeps a 512x512x300 case at a few seconds.
    "realistic": Preset("realistic", 512, (0.5, 0.9), (0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0), False,
                        (36, 300), (170.0, 320.0), render_in_plane_factor=2, render_min_slice_mm=2.0),
    # Training across what scans vary in (issue 29): the small preset's pixels, 1-6 mm slices and
    # fields of view from the liver alone to chest-to-pelvis (200-520 mm, starting up to 200 mm
    # above the liver), so the networks see the heart, lungs, kidneys and bowel far from the liver.
    "wide": Preset("wide", 96, (3.65, 5.2), (1.0, 6.0), True, (40, 400), (200.0, 520.0),
                   above_liver_mm=(10.0, 200.0)),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownNameError(f"unknown phantom preset {name!r}; choose one of {sorted(PRESETS)}") from None

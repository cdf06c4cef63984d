"""The generalisation suite: a fixed set of phantoms spanning what real scans vary in (issue 29).

A change is judged on it beside every real case (`benchmarks/generalisation.py`), so that a lever
chosen on two scans has to hold across the axes along which scans differ:

| axis | cases |
|---|---|
| slice thickness | 0.7, 1.6, 3 and 5 mm (portal phase, the usual abdominal range) |
| field of view | liver only (the scan ends 5-15 mm above and below it); chest to pelvis (496 mm, from 150-200 mm above the liver, 4 mm slices, and 2.5 mm) |
| contrast phase | native, late arterial, portal-venous |
| HU calibration | -40 HU and +40 HU offsets (portal and native) |
| lesions | hypodense lesion on the border (failure mode `border_lesion`) |
| effusion | pleural fluid at the right lung's base (`effusion`) |
| left lobe | a thin left lobe running far to the left (`thin_left_lobe`) |

Cases are 256 x 256 in-plane (1.3-1.8 mm pixels, a 330-460 mm field of view): fine enough for
the baseline's 2.5 mm working grid and the networks' 3-5 mm, and about 1-3 s each to draw. The
list is fixed (seeds, presets and edits are constants): changing it changes every suite figure,
so add cases at the end and say so in benchmarks/RESULTS.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from liverbench.data.phantom.failure_modes import with_failure_mode
from liverbench.data.phantom.generate import generate_phantom
from liverbench.data.phantom.presets import Preset
from liverbench.data.volume import Case
from liverbench.errors import InputError

# The base: 256 x 256, drawn 2x coarser in-plane and on slices of at least 2 mm (then upsampled).
_BASE = Preset("suite", 256, (1.3, 1.8), (2.5, 2.5), True, (16, 800), (260.0, 320.0),
               render_in_plane_factor=2, render_min_slice_mm=2.0, cut_fraction=0.0)


def _slices(mm: float, **changes) -> Preset:
    name = changes.pop("name", f"suite-{mm:g}mm")
    return replace(_BASE, name=name, slice_spacings=(mm, mm), **changes)


@dataclass(frozen=True)
class SuiteCase:
    id: str
    axis: str  # the axis it probes (the table above)
    seed: int
    preset: Preset
    phase: str | None = "contrast"  # None: the seed's own draw
    hu_offset: float = 0.0
    failure_mode: str = ""

    def load(self) -> Case:
        phantom = generate_phantom(self.seed, self.preset, self.id, phase=self.phase, hu_offset=self.hu_offset)
        if not self.failure_mode:
            phantom.case.meta["suite_axis"] = self.axis
            return phantom.case
        case = with_failure_mode(phantom, self.failure_mode)
        case = Case(self.id, case.image, case.mask, {**case.meta, "suite_axis": self.axis})
        return case


_LIVER_ONLY = _slices(2.5, name="suite-liver-only", scan_length=(170.0, 185.0), above_liver_mm=(5.0, 15.0))
_LONG_4MM = _slices(4.0, name="suite-long-4mm", scan_length=(496.0, 496.0), above_liver_mm=(150.0, 200.0))
_LONG_25MM = _slices(2.5, name="suite-long-2.5mm", scan_length=(480.0, 480.0), above_liver_mm=(150.0, 200.0))

SUITE: tuple[SuiteCase, ...] = (
    SuiteCase("suite-slice-0.7mm", "slice thickness", 101, _slices(0.7, scan_length=(240.0, 250.0))),
    SuiteCase("suite-slice-1.6mm", "slice thickness", 102, _slices(1.6)),
    SuiteCase("suite-slice-3mm", "slice thickness", 103, _slices(3.0)),
    SuiteCase("suite-slice-5mm", "slice thickness", 104, _slices(5.0)),
    SuiteCase("suite-fov-liver-only", "field of view", 105, _LIVER_ONLY),
    SuiteCase("suite-fov-chest-pelvis-4mm", "field of view", 106, _LONG_4MM),
    SuiteCase("suite-fov-chest-pelvis-2.5mm", "field of view", 107, _LONG_25MM),
    SuiteCase("suite-phase-native", "contrast phase", 108, _slices(2.5), phase="native"),
    SuiteCase("suite-phase-arterial", "contrast phase", 109, _slices(2.5), phase="arterial"),
    SuiteCase("suite-phase-portal", "contrast phase", 110, _slices(2.5), phase="contrast"),
    SuiteCase("suite-hu-minus40", "HU calibration", 111, _slices(2.5), hu_offset=-40.0),
    SuiteCase("suite-hu-plus40-native", "HU calibration", 112, _slices(2.5), phase="native", hu_offset=40.0),
    SuiteCase("suite-lesion-border", "lesions", 113, _slices(2.5), failure_mode="border_lesion"),
    SuiteCase("suite-effusion", "effusion", 114, _slices(2.5), failure_mode="effusion"),
    SuiteCase("suite-left-lobe-thin", "left lobe", 115, _slices(2.5), failure_mode="thin_left_lobe"),
)


def suite_case_ids() -> list[str]:
    return [c.id for c in SUITE]


def load_suite_case(case_id: str) -> Case:
    for c in SUITE:
        if c.id == case_id:
            return c.load()
    raise InputError(f"no generalisation suite case {case_id!r}; the suite has {suite_case_ids()}")

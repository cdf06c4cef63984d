"""Organ layout: a random abdomen drawn as implicit solids, and its rendering to a label map.

Patient frame (mm): x towards the patient's Left, y towards Posterior, z towards Superior, the
body axis at x = y = 0 and z = 0 at the top of the right diaphragm dome. Sizes are relative to
the abdominal cavity (semi-axes `ca` left-right, `cb` antero-posterior) so organs stay inside a
small or a large patient.

What makes the phantoms hard, on purpose:
- the liver's top follows the dome-shaped diaphragm, with lung (and sometimes pleural effusion)
  wrapped around it in the same axial slices;
- the right kidney, stomach, heart (above the diaphragm), gall bladder, IVC and colon touch or
  nearly touch the liver, and spleen, pancreas, myocardium, bowel wall and stomach contents sit
  at liver-like HU in one phase or the other;
- portal and hepatic veins and hypo/hyper-dense tumours make the liver's inside heterogeneous,
  and count as liver in the reference (SLiver07's definition: the whole liver tissue including
  vessels and tumours, without the inferior vena cava and the gall bladder).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from liverbench.data.phantom.grid import Grid
from liverbench.data.phantom.shapes import (
    DeformedEllipsoid,
    SmoothWarp,
    SurfaceRipple,
    Tube,
    ellipsoid,
    intersect,
    rotation_matrix,
    smooth_intersection,
    smooth_union,
    subtract,
)
from liverbench.data.phantom.tissues import Tissue

# Coarse grid (mm, 6 mm) on which the liver is sized, tumours are placed and vessels are routed. It is
# independent of the output grid, so one seed gives the same anatomy at every preset.
_PLANNING_SPACING = 6.0
_FAR = np.float32(1e3)


@dataclass(frozen=True)
class Body:
    half_width: float  # W, mm
    half_depth: float  # D, mm
    fat_mm: float  # subcutaneous fat thickness (more anteriorly)
    muscle_mm: float
    z_wave: tuple[float, float, float]  # (amplitude, wavelength, phase) of the outline's slow change along z

    @property
    def cavity(self) -> tuple[float, float]:
        return self.half_width - self.fat_mm - self.muscle_mm, self.half_depth - 1.2 * self.fat_mm - self.muscle_mm

    def scale(self, z):
        amp, wavelength, phase = self.z_wave
        return 1.0 + amp * np.sin(2 * np.pi * z / wavelength + phase)

    def outline(self, x, y, z):
        """Skin surface: a slightly boxy super-ellipse, flatter at the back (the patient lies on the table)."""
        s = self.scale(z)
        depth = np.where(y > 0, 0.93 * self.half_depth, self.half_depth) * s
        p = 2.6
        r = (np.abs(x / (self.half_width * s)) ** p + np.abs(y / depth) ** p) ** (1.0 / p)
        return ((r - 1.0) * self.half_depth).astype(np.float32)

    def muscle_wall(self, x, y, z):
        s = self.scale(z)
        a, b = self.half_width - self.fat_mm, self.half_depth - 1.2 * self.fat_mm
        yc = 0.2 * self.fat_mm  # thicker fat in front
        r = np.sqrt((x / (a * s)) ** 2 + ((y - yc) / (b * s)) ** 2)
        return ((r - 1.0) * b).astype(np.float32)

    def cavity_field(self, x, y, z):
        s = self.scale(z)
        a, b = self.cavity
        yc = 0.2 * self.fat_mm
        r = np.sqrt((x / (a * s)) ** 2 + ((y - yc) / (b * s)) ** 2)
        return ((r - 1.0) * min(a, b)).astype(np.float32)


@dataclass(frozen=True)
class Diaphragm:
    """Two paraboloid domes; the right one is higher (the liver pushes it up)."""

    right: tuple[float, float, float, float]  # (x, y, z_top, curvature 1/mm)
    left: tuple[float, float, float, float]

    def height(self, x, y):
        def dome(p):
            x0, y0, z0, c = p
            return z0 - c * ((x - x0) ** 2 + 0.6 * (y - y0) ** 2)

        return np.maximum(dome(self.right), dome(self.left)).astype(np.float32)


@dataclass(frozen=True)
class Spine:
    y_body: float  # centre of the vertebral bodies (y)
    radius: tuple[float, float]  # vertebral body semi-axes (x, y)
    period: float  # vertebra + disc height
    disc: float
    phase: float

    def vertebral_body(self, x, y, z):
        return ellipsoid(x, y, 0.0 * z, (0.0, self.y_body, 0.0), (self.radius[0], self.radius[1], 1e6))


@dataclass(frozen=True)
class Ribs:
    drop: float  # how far a rib descends from its back to its front (mm)
    period: float
    thickness: float
    phase: float
    lowest_back: float  # lowest z reached by ribs at the back, and at the front (costal margin)
    lowest_front: float


@dataclass(frozen=True)
class Liver:
    right_lobe: tuple  # (centre, semi-axes, rotation)
    left_lobe: tuple
    caudate: tuple
    warp: SmoothWarp
    ripple: SurfaceRipple
    floor: tuple[float, float, float]  # (z, slope dz/dx, x where z applies): the lowest the liver reaches
    offset: float = 0.0  # iso-level shift that gives the target volume

    def shape(self, x, y, z):
        wx, wy, wz = self.warp(x, y, z)
        right = ellipsoid(wx, wy, wz, *self.right_lobe)
        (cx, cy, cz), (a, b, c), rot = self.left_lobe
        # The left lobe thins towards the patient's left: shrink its y/z extent with x.
        taper = np.clip(1.0 - 0.45 * (wx - cx) / a, 0.35, 1.4)
        left = ellipsoid(wx, cy + (wy - cy) / taper, cz + (wz - cz) / taper, (cx, cy, cz), (a, b, c), rot)
        caudate = ellipsoid(wx, wy, wz, *self.caudate)
        f = smooth_union(smooth_union(right, left, 25.0), caudate, 15.0)
        # The inferior border rises medially; without a floor a liver in a narrow cavity would grow
        # downwards without bound when sized to its target volume.
        z_floor, slope, x_floor = self.floor
        f = smooth_intersection(f, z_floor + slope * (wx - x_floor) - wz, 12.0)
        return f + self.ripple(x, y, z) - self.offset


@dataclass(frozen=True)
class Anatomy:
    body: Body
    diaphragm: Diaphragm
    spine: Spine
    ribs: Ribs
    liver: Liver
    heart: DeformedEllipsoid
    spleen: DeformedEllipsoid
    stomach: DeformedEllipsoid
    stomach_gas_y: float  # air-fluid level: gas is anterior (small y) of it, the patient is supine
    kidneys: tuple[DeformedEllipsoid, DeformedEllipsoid]
    aorta: Tube
    ivc: Tube
    pancreas: tuple[Tube, ...]
    bowel: tuple[tuple[Tube, float], ...]  # (segment, gas fraction of its lumen)
    mesentery: SurfaceRipple
    gallbladder: DeformedEllipsoid | None
    portal_veins: tuple[Tube, ...]
    hepatic_veins: tuple[Tube, ...]
    tumours: tuple[tuple[DeformedEllipsoid, str], ...]  # (solid, "hypo" | "hyper")
    effusion: tuple[str, ...]  # sides with pleural effusion: () or ("right",) or ("right", "left")
    effusion_height: float
    liver_z_range: tuple[float, float]  # (lowest, highest) z of the liver, mm
    liver_volume_ml: float  # volume on the planning grid
    facts: dict = field(default_factory=dict)

    # ----- fields shared by several structures -----
    def liver_field(self, x, y, z):
        """The liver as in the reference: negative inside. Excludes IVC and gall bladder."""
        f = np.maximum(self.liver.shape(x, y, z),
                       _liver_room(self.body, self.diaphragm, self.spine, self.ivc, self.aorta, x, y, z))
        if self.gallbladder is not None:
            f = subtract(f, self.gallbladder(x, y, z))
        return f.astype(np.float32)

    def liver_bounds(self):
        return _liver_box(self.body, self.liver_z_range)


def _liver_box(body: Body, z_range):
    ca, cb = body.cavity
    return np.array([-ca - 10, -cb - 10, z_range[0] - 10]), np.array([0.9 * ca, cb + 10, z_range[1] + 10])


def _liver_room(body, diaphragm, spine, ivc, aorta, x, y, z):
    """Where the liver may be (negative): in the cavity, under the diaphragm, off the IVC, aorta and spine."""
    return intersect(
        z - (diaphragm.height(x, y) - 5.0),  # stays below the diaphragm muscle
        body.cavity_field(x, y, z) + 2.0,
        -ivc(x, y, z),  # flush against the IVC: in the native phase the two are hard to tell apart
        -(aorta(x, y, z) - 4.0),
        -(spine.vertebral_body(x, y, z) - 6.0),
        # Retroperitoneum behind and left of the IVC (crura, aorta): the liver does not wrap the aorta.
        -np.maximum(ivc.start[0] + ivc.radius_start + 4.0 - x, aorta.start[1] - aorta.radius_start - 6.0 - y),
    )


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


def _planning_points(lo, hi):
    axes = [np.arange(a, b + 1e-6, _PLANNING_SPACING, dtype=np.float32) for a, b in zip(lo, hi)]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    return x, y, z


def _vessel_tree(rng, start, direction, length, radius, depth, spread_deg, inside, tubes):
    """Grow a tapering branching tree; branches whose end leaves the liver are shortened."""
    direction = np.asarray(direction, dtype=np.float64)
    direction /= np.linalg.norm(direction)
    end = np.asarray(start) + direction * length
    for _ in range(4):  # pull the end back inside the liver
        if inside(end):
            break
        length *= 0.7
        end = np.asarray(start) + direction * length
    end_radius = radius * 0.75
    tubes.append(Tube(tuple(map(float, start)), tuple(map(float, end)), float(radius), float(end_radius)))
    if depth == 0 or end_radius < 1.2:
        return
    for sign in (-1, 1):
        axis = np.cross(direction, rng.normal(size=3))
        axis /= np.linalg.norm(axis)
        angle = np.deg2rad(spread_deg * rng.uniform(0.6, 1.2)) * sign
        # Rodrigues rotation of the parent direction around a random perpendicular axis.
        child = direction * np.cos(angle) + np.cross(axis, direction) * np.sin(angle)
        _vessel_tree(rng, end, child, length * rng.uniform(0.65, 0.85), end_radius * rng.uniform(0.75, 0.9),
                     depth - 1, spread_deg, inside, tubes)


def sample_anatomy(rng: np.random.Generator) -> Anatomy:
    # Sample the abdominal cavity first, then wrap muscle and fat around it, so that a thick fat
    # layer makes a larger patient rather than a smaller cavity.
    cavity_a = rng.uniform(105.0, 145.0)
    cavity_b = cavity_a * rng.uniform(0.66, 0.8)
    fat, muscle = rng.uniform(8.0, 32.0), rng.uniform(8.0, 14.0)
    body = Body(cavity_a + fat + muscle, cavity_b + 1.2 * fat + muscle, fat, muscle,
                (rng.uniform(0.0, 0.04), rng.uniform(250.0, 450.0), rng.uniform(0, 2 * np.pi)))
    ca, cb = body.cavity
    left_dome_z = -rng.uniform(10.0, 30.0)
    diaphragm = Diaphragm(
        (-0.4 * ca + rng.uniform(-10, 10), rng.uniform(-0.1, 0.2) * cb, 0.0, rng.uniform(0.003, 0.005)),
        (0.45 * ca + rng.uniform(-10, 10), rng.uniform(-0.1, 0.2) * cb, left_dome_z, rng.uniform(0.003, 0.005)),
    )
    spine = Spine(cb - rng.uniform(30.0, 40.0), (rng.uniform(17, 22), rng.uniform(14, 18)),
                  rng.uniform(27.0, 33.0), rng.uniform(5.0, 8.0), rng.uniform(0, 40))
    ribs = Ribs(rng.uniform(90.0, 140.0), rng.uniform(24.0, 30.0), rng.uniform(6.0, 9.0), rng.uniform(0, 30),
                rng.uniform(-175.0, -145.0), rng.uniform(-115.0, -80.0))

    aorta_r = rng.uniform(10.0, 13.0)
    aorta_xy = (rng.uniform(12.0, 22.0), spine.y_body - spine.radius[1] - aorta_r - rng.uniform(2, 6))
    aorta = Tube((*aorta_xy, -450.0), (*aorta_xy, 200.0), aorta_r, aorta_r)
    ivc_r = rng.uniform(10.0, 13.0)
    ivc_xy = (-rng.uniform(24.0, 34.0), spine.y_body - spine.radius[1] - ivc_r - rng.uniform(2, 8))
    ivc_top = float(diaphragm.height(*ivc_xy)) + 15.0
    ivc = Tube((*ivc_xy, -450.0), (*ivc_xy, ivc_top), ivc_r, ivc_r)

    liver = Liver(
        ((-0.45 * ca + rng.uniform(-8, 8), 0.05 * cb + rng.uniform(-8, 8), -85.0 + rng.uniform(-10, 10)),
         (0.5 * ca * rng.uniform(0.9, 1.1), 0.85 * cb * rng.uniform(0.9, 1.05), rng.uniform(80.0, 100.0)),
         rotation_matrix(rng, 10)),
        ((0.1 * ca + rng.uniform(-15, 20), -0.45 * cb + rng.uniform(-8, 8), -55.0 + rng.uniform(-10, 10)),
         (0.55 * ca * rng.uniform(0.8, 1.2), 0.4 * cb * rng.uniform(0.85, 1.15), rng.uniform(38.0, 52.0)),
         rotation_matrix(rng, 12)),
        ((ivc_xy[0] + 18.0, ivc_xy[1] - 18.0, -60.0), (20.0, 18.0, 38.0), np.eye(3)),
        SmoothWarp.random(rng, rng.uniform(6.0, 16.0), (110.0, 240.0)),
        SurfaceRipple.random(rng, rng.uniform(1.0, 3.0)),
        (-rng.uniform(165.0, 215.0), rng.uniform(0.1, 0.4), -0.45 * ca),
    )
    target_ml = rng.uniform(1100.0, 1900.0)

    # Size the liver on the planning grid: shift the iso-level so the constrained volume is the target.
    px, py, pz = _planning_points(*_liver_box(body, (-260.0, 10.0)))
    voxel_ml = _PLANNING_SPACING**3 / 1000.0
    shape_f = liver.shape(px, py, pz)
    others = _liver_room(body, diaphragm, spine, ivc, aorta, px, py, pz)
    candidates = np.sort(shape_f[others < 0])
    k = int(min(len(candidates) - 1, round(target_ml / voxel_ml)))
    offset = float(candidates[k])
    liver = Liver(liver.right_lobe, liver.left_lobe, liver.caudate, liver.warp, liver.ripple, liver.floor, offset)
    inside_pts = (shape_f - offset < 0) & (others < 0)
    depth = -np.maximum(shape_f - offset, others)  # distance-like depth inside the liver
    liver_z = pz[inside_pts]
    liver_z_range = (float(liver_z.min()), float(liver_z.max()))
    pts = np.stack([px[inside_pts], py[inside_pts], pz[inside_pts]], axis=1)
    depths = depth[inside_pts]

    planning_lo = np.array([px[0, 0, 0], py[0, 0, 0], pz[0, 0, 0]])

    def inside(p):  # looked up on the planning grid: evaluating the shape per point is slow
        idx = np.rint((np.asarray(p) - planning_lo) / _PLANNING_SPACING).astype(int)
        if np.any(idx < 0) or np.any(idx >= shape_f.shape):
            return False
        return bool(depth[tuple(idx)] > 2.0)

    # Gall bladder in the fossa on the inferior surface, right of the midline, anterior; absent
    # in ~10 % (cholecystectomy).
    gallbladder = None
    if rng.random() > 0.1:
        fossa = pts[(pts[:, 0] > -0.35 * ca) & (pts[:, 0] < 0.0) & (pts[:, 1] < 0.1 * cb)]
        if len(fossa):
            lowest = fossa[np.argsort(fossa[:, 2])[: max(1, len(fossa) // 40)]]
            anchor = lowest[rng.integers(len(lowest))]
            semi = (rng.uniform(13, 20), rng.uniform(13, 20), rng.uniform(28, 42))
            gallbladder = DeformedEllipsoid.random(rng, anchor + np.array([0.0, -5.0, semi[2] * 0.45]), semi,
                                                   tilt_degrees=25, warp_mm=3.0, ripple_mm=1.0)

    # Portal veins: trunk from the spleno-mesenteric confluence to the hilum, then a tree per lobe.
    hilum_guess = np.array([-0.15 * ca, 0.1 * cb, float(np.median(pts[:, 2])) - 10.0])
    deep = pts[depths > 12.0] if np.any(depths > 12.0) else pts
    hilum = deep[np.argmin(np.linalg.norm(deep - hilum_guess, axis=1))]
    portal: list[Tube] = []
    confluence = np.array([0.05 * ca, spine.y_body - 45.0, hilum[2] - 45.0])
    portal.append(Tube(tuple(map(float, confluence)), tuple(map(float, hilum)), rng.uniform(6.5, 8.5), rng.uniform(6.0, 7.5)))
    right_centre = np.array(liver.right_lobe[0])
    left_centre = np.array(liver.left_lobe[0])
    for target, length in ((right_centre + [-0.15 * ca, 0, 0], rng.uniform(45, 60)), (left_centre, rng.uniform(40, 55))):
        _vessel_tree(rng, hilum, target - hilum + rng.normal(0, 8, 3), length, rng.uniform(5.0, 6.5), 2, 35.0,
                     inside, portal)

    # Hepatic veins: three trunks fanning out from the IVC just below the diaphragm.
    hepatic: list[Tube] = []
    root = np.array([ivc.end[0], ivc.end[1], float(diaphragm.height(ivc.end[0], ivc.end[1])) - 18.0])
    for target in (right_centre + [-0.35 * ca, -0.2 * cb, -30], np.array([-0.15 * ca, -0.6 * cb, -90.0]),
                   left_centre + [0.1 * ca, 0, 0]):
        _vessel_tree(rng, root, target - root + rng.normal(0, 10, 3), rng.uniform(55, 80), rng.uniform(5.0, 7.0), 1,
                     30.0, inside, hepatic)

    # Tumours: none in ~35 %; centres drawn from liver points deep enough for their radius.
    tumours = []
    n_tumours = int(rng.choice([0, 1, 2, 3, 4, 6], p=[0.35, 0.25, 0.17, 0.11, 0.07, 0.05]))
    for _ in range(n_tumours):
        radius = float(np.exp(rng.uniform(np.log(5.0), np.log(32.0))))
        ok = depths > min(radius * 0.7, float(depths.max()) * 0.8)
        centre = pts[ok][rng.integers(ok.sum())] + rng.uniform(-2.5, 2.5, 3)
        semi = radius * rng.uniform(0.8, 1.2, 3)
        kind = "hypo" if rng.random() < 0.7 else "hyper"
        tumours.append((DeformedEllipsoid.random(rng, centre, semi, tilt_degrees=45, warp_mm=radius * 0.15,
                                                 ripple_mm=radius * 0.06, wavelength_mm=(4 * radius, 8 * radius)), kind))

    # Neighbours.
    heart_base = float(diaphragm.height(0.15 * ca, -0.25 * cb))
    heart_semi = (rng.uniform(55, 70), rng.uniform(45, 55), rng.uniform(45, 55))
    heart = DeformedEllipsoid.random(rng, (0.15 * ca + rng.uniform(-10, 10), -0.25 * cb, heart_base + 0.7 * heart_semi[2]),
                                     heart_semi, tilt_degrees=20, warp_mm=5.0, ripple_mm=1.5)
    spleen = DeformedEllipsoid.random(
        rng, (0.62 * ca + rng.uniform(-8, 8), 0.45 * cb + rng.uniform(-8, 5), left_dome_z - rng.uniform(50, 70)),
        (rng.uniform(22, 30), rng.uniform(42, 56), rng.uniform(42, 58)), tilt_degrees=25, warp_mm=7.0, ripple_mm=2.0)
    stomach_semi = (rng.uniform(40, 55), rng.uniform(33, 48), rng.uniform(45, 65))
    stomach_centre = (0.3 * ca + rng.uniform(-10, 10), -0.2 * cb + rng.uniform(-10, 10), left_dome_z - rng.uniform(45, 70))
    stomach = DeformedEllipsoid.random(rng, stomach_centre, stomach_semi, tilt_degrees=25, warp_mm=10.0, ripple_mm=3.0)
    stomach_gas_y = stomach_centre[1] - stomach_semi[1] * rng.uniform(0.1, 1.2)  # >1: no gas
    kidneys = tuple(
        DeformedEllipsoid.random(
            rng, (side * ca * rng.uniform(0.42, 0.52), spine.y_body + rng.uniform(-5, 8), z),
            (rng.uniform(24, 30), rng.uniform(21, 27), rng.uniform(46, 58)), tilt_degrees=18, warp_mm=3.0, ripple_mm=1.0)
        for side, z in ((-1, rng.uniform(-150.0, -120.0)), (1, rng.uniform(-135.0, -105.0)))
    )
    tail = np.array([0.45 * ca, 0.3 * cb, left_dome_z - 80.0])
    neck = np.array([0.02 * ca, spine.y_body - 55.0, left_dome_z - 95.0])
    head = np.array([-0.2 * ca, spine.y_body - 50.0, -125.0])
    pancreas = (Tube(tuple(tail), tuple(neck), rng.uniform(8, 11), rng.uniform(10, 13)),
                Tube(tuple(neck), tuple(head), rng.uniform(10, 13), rng.uniform(13, 17)))

    # Colon frame (ascending, transverse near the liver's lower tip, descending) and small-bowel loops.
    bowel: list[tuple[Tube, float]] = []
    liver_bottom = liver_z_range[0]
    frame = [(-0.68 * ca, 0.05 * cb, -380.0), (-0.62 * ca, -0.1 * cb, liver_bottom + rng.uniform(-5, 15)),
             (-0.2 * ca, -0.6 * cb, liver_bottom - rng.uniform(0, 25)), (0.4 * ca, -0.5 * cb, left_dome_z - 110.0),
             (0.66 * ca, 0.1 * cb, left_dome_z - 100.0), (0.66 * ca, 0.15 * cb, -380.0)]
    for a, b in zip(frame[:-1], frame[1:]):
        bowel.append((Tube(a, b, rng.uniform(16, 24), rng.uniform(16, 24)), float(rng.choice([0.0, 0.5, 0.8]))))
    point = np.array([0.0, -0.2 * cb, liver_bottom - 30.0])
    for _ in range(int(rng.integers(10, 18))):
        step = rng.normal(size=3) * np.array([45.0, 30.0, 35.0])
        nxt = np.clip(point + step, [-0.55 * ca, -0.7 * cb, -380.0], [0.55 * ca, 0.3 * cb, liver_bottom - 15.0])
        bowel.append((Tube(tuple(point), tuple(nxt), rng.uniform(9, 15), rng.uniform(9, 15)),
                      float(rng.choice([0.0, 0.0, 0.4]))))
        point = nxt
    mesentery = SurfaceRipple.random(rng, 1.0, (12.0, 40.0), n_waves=10)

    r = rng.random()
    effusion = ("right",) if r < 0.16 else ("right", "left") if r < 0.22 else ()
    return Anatomy(body, diaphragm, spine, ribs, liver, heart, spleen, stomach, stomach_gas_y, kidneys, aorta, ivc,
                   pancreas, tuple(bowel), mesentery, gallbladder, tuple(portal), tuple(hepatic), tuple(tumours),
                   effusion, rng.uniform(15.0, 55.0), liver_z_range, float(inside_pts.sum() * voxel_ml),
                   {"liver_target_ml": float(target_ml)})


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _paint(labels, grid: Grid, bounds, field_fn, label, only=None, extra=None):
    """Set `label` where field_fn < 0 inside the box; `only`: labels that may be overwritten."""
    window = grid.window(*bounds) if bounds is not None else grid.window()
    if window is None:
        return None
    sl, (x, y, z) = window
    f = field_fn(x, y, z)
    target = labels[sl]
    inside = np.broadcast_to(f < 0, target.shape)
    if only is not None:
        inside = inside & np.isin(target, [int(t) for t in only])
    if extra is not None:
        inside = inside & np.broadcast_to(extra(x, y, z), target.shape)
    target[inside] = int(label)
    return sl, inside


def render_labels(anatomy: Anatomy, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Label map (uint8, `Tissue` codes) and the liver's implicit field (float32, <0 inside) on `grid`.

    The liver field is computed only near the liver and is +1000 elsewhere.
    """
    a = anatomy
    T = Tissue
    labels = np.zeros(grid.shape, dtype=np.uint8)
    body, dia = a.body, a.diaphragm
    ca, cb = body.cavity
    sl, (x, y, z) = grid.window()

    # Body wall: fat, muscle, then the cavity filled with visceral fat.
    _paint(labels, grid, None, body.outline, T.FAT)
    _paint(labels, grid, None, body.muscle_wall, T.MUSCLE)
    cavity = np.broadcast_to(body.cavity_field(x, y, z) < 0, grid.shape)
    below = np.broadcast_to(z < dia.height(x, y) - 5.0, grid.shape)
    labels[cavity & below] = T.VISCERAL_FAT
    # Diaphragm muscle: a 5 mm sheet under the thorax.
    labels[cavity & ~below] = T.MUSCLE
    thorax = cavity & np.broadcast_to(z > dia.height(x, y), grid.shape)
    labels[thorax] = T.LUNG

    # Abdomen: mesenteric strands, bowel, kidneys, psoas.
    abdomen = (T.VISCERAL_FAT,)
    abdomen_box = (np.array([-ca - 5, -cb - 5, -1e4]), np.array([ca + 5, cb + 5, dia.right[2]]))
    _paint(labels, grid, abdomen_box, lambda x, y, z: 0.75 - a.mesentery(x, y, z), T.MESENTERY, only=abdomen)
    for tube, gas in a.bowel:
        lo, hi = tube.bounds()
        res = _paint(labels, grid, (lo, hi), tube, T.BOWEL, only=(T.VISCERAL_FAT, T.MESENTERY))
        if gas > 0 and res is not None:
            _paint(labels, grid, (lo, hi), lambda x, y, z, t=tube, g=gas: t(x, y, z) + g * t.radius_start * 0.8,
                   T.BOWEL_GAS, only=(T.BOWEL,), extra=lambda x, y, z, t=tube: y < np.float32(0.5 * (t.start[1] + t.end[1]) + 4))
    for kidney in a.kidneys:
        lo, hi = kidney.bounds()
        _paint(labels, grid, (lo, hi), kidney, T.KIDNEY_CORTEX, only=abdomen + (T.MESENTERY, T.BOWEL, T.BOWEL_GAS, T.MUSCLE))
        _paint(labels, grid, (lo, hi), lambda x, y, z, k=kidney: k(x, y, z) + 7.0, T.KIDNEY_MEDULLA, only=(T.KIDNEY_CORTEX,))
    sp = a.spine
    for side in (-1, 1):
        def psoas(x, y, z, side=side):
            grow = np.clip((-z - 110.0) / 150.0, 0.0, 1.0)  # the psoas widens caudally
            a_x, a_y = 6.0 + 14.0 * grow, 6.0 + 10.0 * grow
            r = np.hypot((x - side * (sp.radius[0] + 14.0 + 8.0 * grow)) / a_x, (y - sp.y_body + 2.0) / a_y)
            return (r - 1.0) * a_y + np.where(z > -110.0, _FAR, 0)
        _paint(labels, grid, (np.array([-80, sp.y_body - 40, -500]), np.array([80, sp.y_body + 40, -100])), psoas, T.MUSCLE)

    # Spine: paraspinal muscles, vertebral bodies with discs, canal, posterior elements; ribs.
    for side in (-1, 1):
        paraspinal_box = (np.array([side * 38.0 - 31, sp.y_body + 23, -1e4]), np.array([side * 38.0 + 31, sp.y_body + 73, 1e4]))
        _paint(labels, grid, paraspinal_box,
               lambda x, y, z, s=side: ellipsoid(x, y, 0 * z, (s * 38.0, sp.y_body + 48.0, 0), (30.0, 24.0, 1e6)),
               T.MUSCLE, only=(T.FAT, T.MUSCLE, T.VISCERAL_FAT, T.LUNG, T.MESENTERY))
    in_disc = lambda x, y, z: np.mod(z - sp.phase, sp.period) < sp.disc  # noqa: E731
    box = (np.array([-60, sp.y_body - 30, -1e4]), np.array([60, sp.y_body + 80, 1e4]))
    _paint(labels, grid, box, sp.vertebral_body, T.BONE_CORTEX)
    _paint(labels, grid, box, lambda x, y, z: sp.vertebral_body(x, y, z) + 2.5, T.BONE_MARROW)
    _paint(labels, grid, box, sp.vertebral_body, T.DISC, extra=in_disc)
    canal_y = sp.y_body + sp.radius[1] + 9.0
    arch = lambda x, y, z: ellipsoid(x, y, 0 * z, (0, canal_y, 0), (15.0, 14.0, 1e6))  # noqa: E731
    spinous = lambda x, y, z: np.maximum(np.abs(x) - 4.0, np.abs(y - canal_y - 30.0) - 18.0) + 0 * z  # noqa: E731
    transverse = lambda x, y, z: np.maximum(np.abs(np.abs(x) - 28.0) - 13.0, np.abs(y - canal_y + 2.0) - 5.0) + np.where(  # noqa: E731
        np.mod(z - sp.phase, sp.period) < 0.5 * sp.period, 0, _FAR)
    for part in (arch, spinous, transverse):
        _paint(labels, grid, box, part, T.BONE_MARROW, extra=lambda x, y, z: ~in_disc(x, y, z))
    _paint(labels, grid, box, lambda x, y, z: ellipsoid(x, y, 0 * z, (0, canal_y, 0), (9.0, 8.0, 1e6)), T.SPINAL_CANAL)

    rb = a.ribs

    def rib_field(x, y, z):
        s = body.scale(z)
        rr = np.sqrt((x / (ca * s)) ** 2 + ((y - 0.2 * body.fat_mm) / (cb * s)) ** 2)
        out = (rr - 1.0) * min(ca, cb)  # mm outside the cavity
        # 0 at the back, 1 at the front, linear in the angle around the body axis.
        u = np.arccos(np.clip((y - 0.2 * body.fat_mm) / (cb * s * np.maximum(rr, 1e-3)), -1.0, 1.0)) / np.pi
        along = np.mod(z + rb.drop * u - rb.phase, rb.period)
        # A rounded rectangle in (radial, along-z) coordinates: oval rib sections, not bars.
        corner = 3.0
        qa = np.abs(out - 5.0) - (4.5 - corner)
        qb = np.abs(along - rb.thickness / 2) - (rb.thickness / 2 - corner)
        band = np.hypot(np.maximum(qa, 0), np.maximum(qb, 0)) + np.minimum(np.maximum(qa, qb), 0) - corner
        lowest = rb.lowest_back + (rb.lowest_front - rb.lowest_back) * u
        gaps = (z < lowest) | ((np.abs(x) < 0.18 * ca) & (y < 0)) | ((np.abs(x) < 35.0) & (y > 0))
        return np.where(gaps, _FAR, band)

    rib_box = (np.array([-1e4, -1e4, rb.lowest_back - 5.0]), np.array([1e4, 1e4, 1e4]))
    _paint(labels, grid, rib_box, rib_field, T.RIB, only=(T.MUSCLE, T.FAT, T.LUNG, T.VISCERAL_FAT, T.MESENTERY))

    # Thorax: heart on the diaphragm (with pericardial fat), mediastinum, pleural effusion.
    def heart_field(x, y, z):
        return np.maximum(a.heart(x, y, z), dia.height(x, y) + 5.0 - z)

    lo, hi = a.heart.bounds(10.0)
    _paint(labels, grid, (lo, hi), lambda x, y, z: heart_field(x, y, z) - 4.0, T.VISCERAL_FAT, only=(T.LUNG,))
    _paint(labels, grid, (lo, hi), heart_field, T.MYOCARDIUM, only=(T.LUNG, T.VISCERAL_FAT))
    _paint(labels, grid, (lo, hi), lambda x, y, z: heart_field(x, y, z) + 9.0, T.HEART_BLOOD, only=(T.MYOCARDIUM,))
    # Posterior mediastinum (oesophagus, fat) between the heart and the spine.
    _paint(labels, grid, None, lambda x, y, z: np.maximum(np.abs(x - 10.0) - 22.0, y - sp.y_body) + 0 * z,
           T.VISCERAL_FAT, only=(T.LUNG,), extra=lambda x, y, z: y > -0.1 * cb)
    for side in a.effusion:
        sign = -1 if side == "right" else 1

        def effusion(x, y, z, sign=sign):
            height = z - dia.height(x, y)
            front = cb * (0.55 - 0.9 * np.clip(1.0 - height / a.effusion_height, 0, 1))  # deeper at the back
            return np.maximum(height - a.effusion_height, front - y) + np.where(sign * x > 0, 0, _FAR)

        _paint(labels, grid, None, effusion, T.EFFUSION, only=(T.LUNG,))

    # Great vessels.
    for tube, label in ((a.aorta, T.AORTA), (a.ivc, T.IVC)):
        _paint(labels, grid, tube.bounds(), tube, label)

    # Upper-abdominal organs next to the liver.
    def below_dia(x, y, z):  # inside the abdominal cavity
        return (z < dia.height(x, y) - 5.0) & (body.cavity_field(x, y, z) < 0)

    soft = (T.VISCERAL_FAT, T.MESENTERY, T.BOWEL, T.BOWEL_GAS, T.MUSCLE, T.KIDNEY_CORTEX)
    _paint(labels, grid, a.spleen.bounds(), a.spleen, T.SPLEEN, only=soft, extra=below_dia)
    st = a.stomach
    lo, hi = st.bounds()
    _paint(labels, grid, (lo, hi), st, T.STOMACH_WALL, only=soft + (T.SPLEEN,), extra=below_dia)
    _paint(labels, grid, (lo, hi), lambda x, y, z: st(x, y, z) + 4.0, T.STOMACH_CONTENT, only=(T.STOMACH_WALL,))
    _paint(labels, grid, (lo, hi), lambda x, y, z: st(x, y, z) + 4.0, T.STOMACH_GAS, only=(T.STOMACH_CONTENT,),
           extra=lambda x, y, z: y < a.stomach_gas_y)
    for tube in a.pancreas:
        _paint(labels, grid, tube.bounds(), tube, T.PANCREAS, only=(T.VISCERAL_FAT, T.MESENTERY, T.BOWEL, T.BOWEL_GAS))

    # The liver, its vessels and tumours, the gall bladder.
    lo, hi = a.liver_bounds()
    liver_field = np.full(grid.shape, _FAR, dtype=np.float32)
    window = grid.window(lo, hi)
    if window is not None:
        lsl, (lx, ly, lz) = window
        f = np.broadcast_to(a.liver_field(lx, ly, lz), labels[lsl].shape)
        liver_field[lsl] = f
        labels[lsl][f < 0] = T.LIVER
        liver_only = (T.LIVER, T.PORTAL_VEIN, T.HEPATIC_VEIN)
        for tube in a.portal_veins:
            _paint(labels, grid, tube.bounds(), tube, T.PORTAL_VEIN, only=liver_only)
        _paint(labels, grid, a.portal_veins[0].bounds(), a.portal_veins[0], T.PORTAL_VEIN,
               only=(T.VISCERAL_FAT, T.MESENTERY, T.PANCREAS, T.BOWEL))
        for tube in a.hepatic_veins:
            _paint(labels, grid, tube.bounds(), tube, T.HEPATIC_VEIN, only=liver_only)
        for solid, kind in a.tumours:
            _paint(labels, grid, solid.bounds(), solid, T.TUMOUR_HYPO if kind == "hypo" else T.TUMOUR_HYPER,
                   only=liver_only + (T.TUMOUR_HYPO, T.TUMOUR_HYPER))
    if a.gallbladder is not None:
        _paint(labels, grid, a.gallbladder.bounds(), a.gallbladder, T.GALLBLADDER,
               only=(T.VISCERAL_FAT, T.MESENTERY, T.BOWEL, T.BOWEL_GAS, T.MUSCLE))
    return labels, liver_field

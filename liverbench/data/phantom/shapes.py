"""Smooth random deformable solids, as implicit functions of world coordinates (mm).

Every solid is a function `f(x, y, z)` that is negative inside, zero on the surface and roughly
the distance to the surface (in mm) near it. Working with implicit functions rather than voxel
masks keeps the anatomy independent of the grid it is drawn on: the same seed gives the same
organs on the 4 mm "small" grid and on the 0.7 mm "realistic" grid, and fields can be evaluated
on a coarse grid and interpolated linearly without staircase artefacts.

Coordinates follow the patient frame used throughout the phantom: x towards the patient's Left,
y towards Posterior, z towards Superior (the canonical LPS index order of `liverbench.data.volume`).
Arrays `x`, `y`, `z` may be any mutually broadcastable shapes (the grid passes 1D axes reshaped
to (1,1,n), (1,n,1), (n,1,1) so nothing is materialised before it has to be).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def ellipsoid(x, y, z, centre, semi_axes, rotation=None):
    """Approximate signed distance (mm) to an ellipsoid; `rotation` is a 3x3 matrix (body -> world)."""
    dx, dy, dz = x - float(centre[0]), y - float(centre[1]), z - float(centre[2])
    if rotation is not None:
        r = np.asarray(rotation, dtype=np.float64).tolist()
        # World -> body frame is R^T.
        dx, dy, dz = (r[0][0] * dx + r[1][0] * dy + r[2][0] * dz,
                      r[0][1] * dx + r[1][1] * dy + r[2][1] * dz,
                      r[0][2] * dx + r[1][2] * dy + r[2][2] * dz)
    a, b, c = (float(v) for v in semi_axes)
    radius = np.sqrt((dx / a) ** 2 + (dy / b) ** 2 + (dz / c) ** 2)
    # (radius - 1) * smallest semi-axis is exact on the surface and a lower bound on distance,
    # which is all that smooth unions and level-set offsets need.
    return ((radius - 1.0) * min(a, b, c)).astype(np.float32)


def smooth_union(f, g, k):
    """Polynomial smooth minimum (Quilez): a union whose crease is rounded over about k mm."""
    h = np.clip(0.5 + 0.5 * (g - f) / k, 0.0, 1.0)
    return g + (f - g) * h - k * h * (1.0 - h)


def smooth_intersection(f, g, k):
    return -smooth_union(-f, -g, k)


def intersect(*fields):
    out = fields[0]
    for f in fields[1:]:
        out = np.maximum(out, f)
    return out


def subtract(f, g):
    """f minus the solid g."""
    return np.maximum(f, -g)


def rotation_matrix(rng: np.random.Generator, max_degrees: float) -> np.ndarray:
    """A random rotation of at most about `max_degrees` around each axis."""
    ax, ay, az = np.deg2rad(rng.uniform(-max_degrees, max_degrees, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class SmoothWarp:
    """A smooth random displacement field: a sum of a few plane waves with random directions.

    `warp(x, y, z)` returns displaced coordinates; evaluating a solid at them deforms it
    smoothly (no tearing as long as amplitude * 2*pi / wavelength < 1, which `random` keeps).
    """

    wave_vectors: np.ndarray  # (K, 3) in rad/mm
    phases: np.ndarray  # (K,)
    amplitudes: np.ndarray  # (K, 3) in mm

    @classmethod
    def random(cls, rng: np.random.Generator, amplitude_mm: float, wavelength_mm=(80.0, 200.0), n_waves: int = 5):
        directions = rng.normal(size=(n_waves, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        wavelengths = rng.uniform(*wavelength_mm, size=n_waves)
        # Keep the map one-to-one: |gradient of displacement| = A * 2pi / lambda must stay below 1.
        amp = min(amplitude_mm, 0.8 * float(wavelengths.min()) / (2 * np.pi) * np.sqrt(n_waves))
        amplitudes = rng.normal(size=(n_waves, 3)) * amp / np.sqrt(n_waves)
        return cls(directions * (2 * np.pi / wavelengths[:, None]), rng.uniform(0, 2 * np.pi, n_waves), amplitudes)

    def __call__(self, x, y, z):
        wx, wy, wz = x, y, z
        for k in range(len(self.phases)):
            # Python floats keep float32 coordinates in float32 (NumPy scalars would promote to float64).
            kx, ky, kz = (float(v) for v in self.wave_vectors[k])
            s = np.sin(kx * x + ky * y + (kz * z + float(self.phases[k])))
            ax, ay, az = (float(v) for v in self.amplitudes[k])
            wx, wy, wz = wx + ax * s, wy + ay * s, wz + az * s
        return wx, wy, wz


@dataclass(frozen=True)
class SurfaceRipple:
    """Low-amplitude smooth bumps added to an implicit function (lobulation, surface irregularity)."""

    wave_vectors: np.ndarray
    phases: np.ndarray
    amplitude_mm: float

    @classmethod
    def random(cls, rng: np.random.Generator, amplitude_mm: float, wavelength_mm=(30.0, 90.0), n_waves: int = 6):
        directions = rng.normal(size=(n_waves, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        wavelengths = rng.uniform(*wavelength_mm, size=n_waves)
        return cls(directions * (2 * np.pi / wavelengths[:, None]), rng.uniform(0, 2 * np.pi, n_waves), amplitude_mm)

    def __call__(self, x, y, z):
        total = 0.0
        for k in range(len(self.phases)):
            kx, ky, kz = (float(v) for v in self.wave_vectors[k])
            total = total + np.sin(kx * x + ky * y + (kz * z + float(self.phases[k])))
        return float(self.amplitude_mm / np.sqrt(len(self.phases))) * total


@dataclass(frozen=True)
class DeformedEllipsoid:
    """An ellipsoid under a smooth warp with surface ripples: the generic random organ."""

    centre: tuple[float, float, float]
    semi_axes: tuple[float, float, float]
    rotation: np.ndarray
    warp: SmoothWarp
    ripple: SurfaceRipple

    @classmethod
    def random(cls, rng, centre, semi_axes, tilt_degrees=15.0, warp_mm=8.0, ripple_mm=2.0, wavelength_mm=(60.0, 160.0)):
        return cls(tuple(float(c) for c in centre), tuple(float(s) for s in semi_axes),
                   rotation_matrix(rng, tilt_degrees), SmoothWarp.random(rng, warp_mm, wavelength_mm),
                   SurfaceRipple.random(rng, ripple_mm))

    def __call__(self, x, y, z):
        wx, wy, wz = self.warp(x, y, z)
        return ellipsoid(wx, wy, wz, self.centre, self.semi_axes, self.rotation) + self.ripple(x, y, z)

    def bounds(self, margin: float = 0.0):
        """A world-space box (lo, hi) that surely holds the solid."""
        warp_reach = float(np.abs(self.warp.amplitudes).sum(axis=0).max())
        reach = max(self.semi_axes) + warp_reach + self.ripple.amplitude_mm * 3 + margin
        c = np.asarray(self.centre)
        return c - reach, c + reach


def segment_distance(x, y, z, p0, p1):
    """Distance (mm) from points to the segment p0-p1, and the position t in [0, 1] along it."""
    p0 = np.asarray(p0, dtype=np.float64)
    d = (np.asarray(p1, dtype=np.float64) - p0).tolist()
    length2 = float(np.dot(d, d)) or 1e-9
    rx, ry, rz = x - float(p0[0]), y - float(p0[1]), z - float(p0[2])
    t = np.clip((rx * d[0] + ry * d[1] + rz * d[2]) * (1.0 / length2), 0.0, 1.0)
    ex, ey, ez = rx - t * d[0], ry - t * d[1], rz - t * d[2]
    return np.sqrt(ex * ex + ey * ey + ez * ez), t


@dataclass(frozen=True)
class Tube:
    """A straight vessel segment with linearly tapering radius (a tapered capsule)."""

    start: tuple[float, float, float]
    end: tuple[float, float, float]
    radius_start: float
    radius_end: float

    def __call__(self, x, y, z):
        dist, t = segment_distance(x, y, z, self.start, self.end)
        return (dist - (self.radius_start + t * (self.radius_end - self.radius_start))).astype(np.float32)

    def bounds(self, margin: float = 0.0):
        r = max(self.radius_start, self.radius_end) + margin
        a, b = np.asarray(self.start), np.asarray(self.end)
        return np.minimum(a, b) - r, np.maximum(a, b) + r

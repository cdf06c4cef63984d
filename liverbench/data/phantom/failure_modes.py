"""Opt-in hard cases for segmenters: edits applied to a finished phantom, never by default.

`with_failure_mode(phantom, mode) -> Case` returns a new case; `make_phantom` and the
`synthetic` dataset are untouched (same seed, same arrays). Each mode reproduces a way real CT
broke the learning-free baseline (issues 15 and 19):

| mode | what changes | reference |
|---|---|---|
| `effusion` | the base of the right lung (30 mm above its lowest point) becomes pleural fluid, 15 HU | unchanged |
| `gas_loop` | a ~350 ml gas-filled bowel loop (3 mm wall) under the right lobe (hepatic flexure), below the right lung | liver inside the loop removed |
| `border_lesion` | a 22 mm hypodense lesion (liver - 55 HU) centred 8 mm inside the liver's right lateral border | unchanged: lesions are liver |
| `thin_left_lobe` | a wedge of liver running 80 mm to the patient's left from the left lobe, 24 mm thick at its root and 8 mm at its tip, at the liver's own HU | the wedge added |
| `thick_slices` | slices averaged in pairs (twice the spacing and thickness) | majority of each pair |

Edited regions get a soft edge (a Gaussian of one voxel; of 1.5 mm for the thin lobe, whose
thickness is only a few voxels: a one-voxel blur on 5 mm slices would melt it into the fat it
runs through) and the phantom's own noise level, so they look like the rest of the image. Everything is deterministic (seeded by the phantom's seed).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from liverbench.data.phantom.generate import Phantom
from liverbench.data.phantom.tissues import Tissue
from liverbench.data.volume import Case, Volume
from liverbench.errors import ConfigError

FAILURE_MODES = ("effusion", "gas_loop", "border_lesion", "thin_left_lobe", "thick_slices")


def with_failure_mode(phantom: Phantom, mode: str) -> Case:
    """A copy of `phantom.case` with one failure mode drawn in (see the module docstring)."""
    if mode not in FAILURE_MODES:
        raise ConfigError(f"unknown phantom failure mode {mode!r}; choose one of {list(FAILURE_MODES)}")
    case = phantom.case
    image = case.image.array.astype(np.float32)
    mask = case.liver.astype(bool)
    spacing = case.image.spacing
    rng = np.random.default_rng([int(case.meta.get("seed", 0)), 99, FAILURE_MODES.index(mode)])
    noise_sd = float(case.meta.get("noise_sd", 15.0))
    if mode == "thick_slices":
        image, mask, spacing = _thick_slices(image, mask, spacing)
    else:
        labels = phantom.labels
        grids = _mm_grids(image.shape, spacing)
        if mode == "effusion":
            region = _right_lung_base(labels, spacing, height_mm=30.0)
            image = _paint(image, region, 15.0, noise_sd, rng)
        elif mode == "gas_loop":
            loop, wall = _gas_loop(mask, labels, grids)
            image = _paint(image, wall, 40.0, noise_sd, rng)
            image = _paint(image, loop, -950.0, noise_sd, rng)
            mask &= ~(loop | wall)
        elif mode == "border_lesion":
            region = _border_lesion(mask, grids)
            image = _paint(image, region, float(case.meta["liver_hu"]) - 55.0, noise_sd, rng)
        else:
            region = _thin_left_lobe(mask, labels, grids)
            sigma = tuple(1.5 / s for s in spacing)
            image = _paint(image, region, float(np.median(case.image.array[mask])), noise_sd, rng, sigma)
            mask |= region
    meta = {**case.meta, "failure_mode": mode}
    volume = Volume(np.clip(np.round(image), -1024, 3071).astype(np.int16), spacing)
    return Case(f"{case.id}-{mode}", volume, volume.with_array(mask.astype(np.uint8)), meta)


def _mm_grids(shape, spacing):
    return tuple(np.arange(n, dtype=np.float32).reshape([-1 if a == i else 1 for a in range(3)]) * s
                 for i, (n, s) in enumerate(zip(shape, spacing)))


def _paint(image, region, hu, noise_sd, rng, sigma=1.0):
    """Blend `hu` (plus noise) into `region` with a soft edge (Gaussian, `sigma` voxels)."""
    if not region.any():
        raise ConfigError("phantom failure mode: the region to draw is empty on this phantom")
    weight = ndi.gaussian_filter(region.astype(np.float32), sigma=sigma)
    fill = hu + rng.normal(0.0, noise_sd, size=image.shape).astype(np.float32)
    return image * (1.0 - weight) + fill * weight


def _right_lung_base(labels, spacing, height_mm):
    lung = labels == Tissue.LUNG
    x_mid = labels.shape[2] // 2
    lung[:, :, x_mid:] = False  # patient's right = small x
    has = lung.any(axis=0)
    base = np.argmax(lung, axis=0)  # lowest lung slice per column
    z = np.arange(labels.shape[0])[:, None, None]
    return lung & has[None] & (z <= base[None] + int(round(height_mm / spacing[0])))


def _gas_loop(mask, labels, grids):
    z, y, x = grids
    zs, ys, xs = (np.nonzero(mask.any(axis=tuple(a for a in range(3) if a != ax)))[0] for ax in range(3))
    sz, sy, sx = (float(g.ravel()[1] - g.ravel()[0]) for g in grids)
    bottom, top, front, right = zs[0] * sz, zs[-1] * sz, ys[0] * sy, xs[0] * sx
    # The hepatic flexure under the right lobe: right under the lung in the same (y, x) columns.
    centre = (bottom + 0.25 * (top - bottom), front + 60.0, right + 50.0)
    d = ((z - centre[0]) / 30.0) ** 2 + ((y - centre[1]) / 45.0) ** 2 + ((x - centre[2]) / 60.0) ** 2
    inside = labels != Tissue.AIR
    for t in (Tissue.FAT, Tissue.MUSCLE, Tissue.RIB, Tissue.BONE_CORTEX, Tissue.BONE_MARROW, Tissue.LUNG):
        inside &= labels != t
    outer = (d <= 1.0) & inside
    loop = (d <= (1.0 - 3.0 / 30.0) ** 2) & inside
    return loop, outer & ~loop


def _border_lesion(mask, grids):
    z, y, x = grids
    zs = np.nonzero(mask.any(axis=(1, 2)))[0]
    k = int(zs[0] + 0.55 * (zs[-1] - zs[0]))
    rows, cols = np.nonzero(mask[k])
    i = int(np.argmin(cols))  # the right lateral border at mid height
    sz, sy, sx = (float(g.ravel()[1] - g.ravel()[0]) for g in grids)
    centre = (k * sz, rows[i] * sy, cols[i] * sx + 8.0)
    d2 = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2
    return (d2 <= 22.0 ** 2) & mask


def _thin_left_lobe(mask, labels, grids):
    z, y, x = grids
    sz, sy, sx = (float(g.ravel()[1] - g.ravel()[0]) for g in grids)
    zs = np.nonzero(mask.any(axis=(1, 2)))[0]
    k = int(zs[0] + 0.7 * (zs[-1] - zs[0]))
    rows, cols = np.nonzero(mask[k])
    i = int(np.argmax(cols))  # the left end of the liver at that level
    start = (k * sz, rows[i] * sy, cols[i] * sx - 15.0)
    # A wedge, as a left lateral lobe is: 24 mm thick (z) where it leaves the liver, 8 mm at its
    # tip 95 mm to the left; 44 mm front to back.
    along = np.clip((x - start[2]) / 95.0, 0.0, 1.0)
    half_thick = 12.0 - 8.0 * along
    sheet = (np.abs(z - start[0]) <= half_thick) & (np.abs(y - (start[1] - 5.0)) <= 22.0) & \
        (x >= start[2]) & (x <= start[2] + 95.0)
    soft = np.isin(labels, [int(t) for t in (Tissue.VISCERAL_FAT, Tissue.MESENTERY, Tissue.BOWEL, Tissue.STOMACH_WALL,
                                              Tissue.STOMACH_CONTENT, Tissue.STOMACH_GAS, Tissue.LIVER, Tissue.SPLEEN)])
    return sheet & soft & ~mask


def _thick_slices(image, mask, spacing):
    n = image.shape[0] // 2 * 2
    thick = image[:n].reshape(n // 2, 2, *image.shape[1:]).mean(axis=1)
    labels = mask[:n].reshape(n // 2, 2, *mask.shape[1:]).mean(axis=1) >= 0.5
    return thick, labels, (spacing[0] * 2.0, spacing[1], spacing[2])

"""Acquisition: contrast phase and tissue HU, field of view and spacing, scan range, blur, noise.

Tissue HU follow typical clinical values (portal-venous phase for "contrast"); the liver's are
matched to the real cases in `shared/data/real` (see the package docstring). What matters for
difficulty: in the native phase the spleen is a few HU darker than the liver, well inside the
noise, so intensity alone cannot tell them apart; in the contrast phase the spleen is brighter
and the vessels light up, but myocardium, pancreas, stomach wall and bowel wall enhance to
liver-like values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from liverbench.data.phantom.anatomy import Anatomy
from liverbench.data.phantom.grid import Grid
from liverbench.data.phantom.presets import Preset
from liverbench.data.phantom.tissues import Tissue

HU_MIN, HU_MAX = -1024, 3071
PHASES = ("contrast", "native")  # what a seed draws (65 % / 35 %)
ALL_PHASES = PHASES + ("arterial",)  # "arterial" only when asked for (generate_phantom(phase=...))


@dataclass(frozen=True)
class Acquisition:
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]  # (z, y, x) mm
    centre: tuple[float, float, float]  # patient-frame (x, y, z) of the grid's middle
    noise_sd: float  # HU
    psf_mm: float  # in-plane blur (Gaussian sigma) of the reconstruction kernel
    slice_thickness_mm: float  # nominal; the slice profile is a Gaussian of FWHM = thickness
    liver_cut: str  # "" | "top" | "bottom" | "both": the scan range ends inside the liver

    @property
    def grid(self) -> Grid:
        return Grid.centred(self.shape, self.spacing, self.centre)


def tissue_hu(phase: str, rng: np.random.Generator) -> dict[Tissue, tuple[float, float]]:
    """Mean HU and smooth-texture amplitude (HU) of every tissue for one study."""
    T = Tissue
    u = rng.uniform
    if phase == "arterial":
        return _arterial_hu(rng)
    contrast = phase == "contrast"
    liver = u(92.0, 120.0) if contrast else u(46.0, 66.0)
    hu = {
        T.AIR: (-1000.0, 3.0),
        T.FAT: (u(-115, -90), 10.0),
        T.MUSCLE: (u(52, 68) if contrast else u(44, 56), 7.0),
        T.VISCERAL_FAT: (u(-105, -85), 12.0),
        T.MESENTERY: (u(30, 55) if contrast else u(20, 40), 10.0),
        T.BOWEL: (u(55, 95) if contrast else u(25, 45), 18.0),
        T.BOWEL_GAS: (u(-950, -800), 40.0),
        T.KIDNEY_CORTEX: (u(150, 210) if contrast else u(28, 38), 8.0),
        T.KIDNEY_MEDULLA: (u(90, 140) if contrast else u(25, 35), 8.0),
        T.BONE_CORTEX: (u(650, 1000), 60.0),
        T.BONE_MARROW: (u(170, 300), 45.0),
        T.DISC: (u(70, 95), 8.0),
        T.SPINAL_CANAL: (u(10, 30), 4.0),
        T.RIB: (u(300, 500), 50.0),
        T.LUNG: (u(-900, -830), 35.0),
        T.EFFUSION: (u(8, 25), 3.0),
        T.MYOCARDIUM: (u(90, 125) if contrast else u(40, 52), 8.0),
        T.HEART_BLOOD: (u(150, 230) if contrast else u(35, 48), 6.0),
        T.AORTA: (u(140, 210) if contrast else u(36, 48), 5.0),
        T.IVC: (u(110, 160) if contrast else u(33, 45), 8.0),
        T.SPLEEN: (liver + u(15, 35) if contrast else liver - u(2, 10), 6.0),
        T.STOMACH_WALL: (u(80, 115) if contrast else u(35, 48), 8.0),
        T.STOMACH_CONTENT: (u(5, 60), 10.0),  # water to food: food overlaps the native liver
        T.STOMACH_GAS: (u(-980, -900), 15.0),
        T.PANCREAS: (u(85, 118) if contrast else u(38, 50), 10.0),
        T.LIVER: (liver, u(4.0, 9.0)),
        T.PORTAL_VEIN: (liver + u(50, 90) if contrast else liver - u(10, 25), 6.0),
        T.HEPATIC_VEIN: (liver + u(25, 60) if contrast else liver - u(12, 25), 6.0),
        T.TUMOUR_HYPO: (liver - u(25, 65) if contrast else liver - u(10, 30), 9.0),
        T.TUMOUR_HYPER: (liver + u(20, 50) if contrast else liver + u(-5, 8), 9.0),
        T.GALLBLADDER: (u(0, 20), 3.0),
    }
    return hu


def _arterial_hu(rng: np.random.Generator) -> dict[Tissue, tuple[float, float]]:
    """Late-arterial phase: the aorta, kidney cortex, spleen and pancreas bright, the liver barely
    enhanced (the portal vein only beginning to fill, hepatic veins still dark), so the liver is
    darker than in portal-venous scans and the spleen far brighter than it."""
    hu = tissue_hu("contrast", rng)
    T, u = Tissue, rng.uniform
    liver = u(65.0, 85.0)
    hu.update({
        T.LIVER: (liver, u(4.0, 9.0)),
        T.AORTA: (u(250, 380), 5.0),
        T.HEART_BLOOD: (u(220, 340), 6.0),
        T.IVC: (u(50, 80), 8.0),
        T.KIDNEY_CORTEX: (u(200, 280), 8.0),
        T.KIDNEY_MEDULLA: (u(60, 100), 8.0),
        T.SPLEEN: (liver + u(40, 80), 12.0),
        T.PANCREAS: (u(100, 135), 10.0),
        T.PORTAL_VEIN: (liver + u(20, 50), 6.0),
        T.HEPATIC_VEIN: (liver - u(10, 25), 6.0),
        T.TUMOUR_HYPO: (liver - u(15, 40), 9.0),
        T.TUMOUR_HYPER: (liver + u(40, 90), 9.0),
    })
    return hu


def sample_acquisition(rng: np.random.Generator, preset: Preset, anatomy: Anatomy) -> Acquisition:
    lo, hi = preset.in_plane_spacing
    # Scanners reconstruct a field of view that holds the patient: pick pixels large enough for
    # the body's width, except in ~15 % of cases (a targeted reconstruction that cuts the flanks).
    fits = min(hi, max(lo, (2 * anatomy.body.half_width + 16.0) / preset.in_plane))
    pixel = float(rng.uniform(lo, fits) if rng.random() < 0.15 else rng.uniform(fits, hi))
    if preset.continuous_slices:
        dz = float(rng.uniform(*preset.slice_spacings))
    else:
        dz = float(rng.choice(preset.slice_spacings))
    n_min, n_max = preset.n_slices
    nz = int(np.clip(round(rng.uniform(*preset.scan_length) / dz), n_min, n_max))
    length = nz * dz

    # Scan range: from the lung bases down; in ~20 % of cases (preset.cut_fraction) it deliberately ends inside the liver.
    bottom_liver, top_liver = anatomy.liver_z_range
    height = top_liver - bottom_liver
    r = rng.random()
    if r < preset.cut_fraction / 2:
        top = top_liver - rng.uniform(0.08, 0.3) * height
    elif r < preset.cut_fraction:
        top = bottom_liver + rng.uniform(0.08, 0.3) * height + length
    else:
        top = top_liver + rng.uniform(*preset.above_liver_mm)
    # Voxel centres span [top - length + dz/2, top - dz/2].
    z_centre = top - length / 2
    first, last = z_centre - (nz - 1) / 2 * dz, z_centre + (nz - 1) / 2 * dz
    cut = ("top" if last < top_liver else "") + ("bottom" if first > bottom_liver else "")
    cut = "both" if cut == "topbottom" else cut

    centre = (float(rng.uniform(-15, 15)), float(rng.uniform(-10, 15)), float(z_centre))
    return Acquisition(
        shape=(nz, preset.in_plane, preset.in_plane),
        spacing=(dz, pixel, pixel),
        centre=centre,
        noise_sd=float(rng.uniform(9.0, 22.0)),
        psf_mm=float(rng.uniform(0.4, 0.8)),
        slice_thickness_mm=float(dz * rng.uniform(1.0, 1.5)),
        liver_cut=cut,
    )


def tissue_image(labels: np.ndarray, hu: dict, spacing, rng: np.random.Generator) -> np.ndarray:
    """Mean HU per tissue plus a smooth texture (parenchymal heterogeneity, trabecular bone, lung)."""
    n = max(int(t) for t in Tissue) + 1
    means = np.zeros(n, np.float32)
    textures = np.zeros(n, np.float32)
    for tissue, (mean, texture) in hu.items():
        means[int(tissue)], textures[int(tissue)] = mean, texture
    sigma = [max(3.0 / s, 0.5) for s in spacing]  # a 3 mm grain, at least half a voxel
    field = ndi.gaussian_filter(rng.standard_normal(labels.shape, dtype=np.float32), sigma, mode="wrap", truncate=3.0)
    field *= 1.0 / max(float(field.std()), 1e-6)
    return means[labels] + textures[labels] * field


def blur(image: np.ndarray, spacing, acq: Acquisition, voxel_spacing=None) -> np.ndarray:
    """Partial-volume blur: the in-plane PSF combined with voxel averaging, and the slice profile.

    A voxel's average over its own extent is close to a Gaussian of sigma = 0.3 voxel.
    `voxel_spacing` is the output grid's (when drawing on a coarser grid than the output).
    """
    voxel = voxel_spacing or spacing
    sigma_xy = np.hypot(acq.psf_mm, 0.3 * voxel[1])
    sigma_z = acq.slice_thickness_mm / 2.355
    sigmas = (sigma_z / spacing[0], sigma_xy / spacing[1], sigma_xy / spacing[2])
    return ndi.gaussian_filter(image, sigmas, mode="nearest", truncate=3.0)


def correlated_noise(shape, sd: float, rng: np.random.Generator, grain_voxels: float = 0.6) -> np.ndarray:
    """Gaussian noise with a fine in-plane grain (CT noise is correlated by the reconstruction kernel)."""
    noise = rng.standard_normal(shape, dtype=np.float32)
    if grain_voxels > 0:
        noise = ndi.gaussian_filter(noise, (0.0, grain_voxels, grain_voxels), mode="wrap", truncate=3.0)
        noise *= 1.0 / max(float(noise.std()), 1e-6)
    return noise * np.float32(sd)


def to_hu(image: np.ndarray) -> np.ndarray:
    """Round and clip to the int16 HU range (in place: the float image is not needed afterwards)."""
    np.rint(image, out=image)
    np.clip(image, HU_MIN, HU_MAX, out=image)
    return image.astype(np.int16)

"""Resampling speed: liverbench.data.preprocess (torch) vs scipy.ndimage vs SimpleITK, side by side,
plus the 3 mm round-trip volume error on a real liver mask (prob vs nearest).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/resample_speed.py [--repeats 5]

Both directions a 3 mm method needs: the 512x512x129 grid of ircadb1_01 (0.57 x 0.57 x 1.6 mm)
down to 3 mm (69x97x97), and a 3 mm probability map back up. All three libraries use the same
edge-aligned grid, so their outputs agree to float precision (checked below); timings are
medians of `--repeats` runs, one thread each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import scipy.ndimage as ndi
import SimpleITK as sitk
import torch

from liverbench.data.preprocess import resample, resample_array

FINE, COARSE = (129, 512, 512), (69, 97, 97)
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "ircadb1_01"


def scipy_linear(array, to_shape):
    ratio = np.divide(array.shape, to_shape)
    return ndi.affine_transform(array, ratio, offset=0.5 * ratio - 0.5, output_shape=to_shape, order=1, mode="nearest")


def sitk_linear(array, to_shape):
    image = sitk.GetImageFromArray(array)  # unit spacing, origin 0
    ratio = np.divide(array.shape, to_shape)[::-1]
    reference = sitk.Image([int(n) for n in to_shape[::-1]], sitk.sitkFloat32)
    reference.SetSpacing(tuple(ratio))
    reference.SetOrigin(tuple(0.5 * ratio - 0.5))
    resampler = sitk.ResampleImageFilter()
    resampler.SetReferenceImage(reference)
    resampler.SetInterpolator(sitk.sitkLinear)
    resampler.SetNumberOfThreads(1)
    return sitk.GetArrayFromImage(resampler.Execute(image))


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    coarse = rng.random(COARSE).astype(np.float32)
    print(f"upsampling {COARSE} -> {FINE}, linear, float32, median of {args.repeats}")
    t_torch, ours = median_time(lambda: resample_array(coarse, (3.0, 3.0, 3.0), FINE, "linear"), args.repeats)
    t_scipy, by_scipy = median_time(lambda: scipy_linear(coarse, FINE), args.repeats)
    t_sitk, by_sitk = median_time(lambda: sitk_linear(coarse, FINE), args.repeats)
    inner = (slice(1, -1),) * 3  # ITK treats the outermost half voxel differently
    print(f"  liverbench (torch) {t_torch:.3f} s | scipy.ndimage {t_scipy:.3f} s ({t_scipy / t_torch:.1f}x) "
          f"| SimpleITK {t_sitk:.3f} s ({t_sitk / t_torch:.1f}x)")
    print(f"  max |difference|: scipy {np.abs(ours - by_scipy).max():.1e}, SimpleITK {np.abs(ours[inner] - by_sitk[inner]).max():.1e}")

    fine = rng.random(FINE).astype(np.float32)
    print(f"downsampling {FINE} -> {COARSE}, float32, median of {args.repeats}")
    t_area, _ = median_time(lambda: resample_array(fine, (1.6, 0.57, 0.57), COARSE, "linear"), args.repeats)
    t_point, _ = median_time(lambda: scipy_linear(fine, COARSE), args.repeats)
    print(f"  liverbench (area average, anti-aliased) {t_area:.3f} s | scipy point sampling order 1 {t_point:.3f} s")

    if (REAL / "liver.nii.gz").is_file():
        from liverbench.data.io import read_volume

        mask = read_volume(REAL / "liver.nii.gz")
        truth = mask.array.astype(bool)
        print(f"ircadb1_01 liver ({truth.sum() * mask.voxel_volume_ml:.1f} ml) -> 3 mm -> original grid")
        for kind in ("prob", "nearest"):
            start = time.perf_counter()
            small = resample(mask, 3.0, kind)
            back = resample_array(small.array, small.spacing, mask.shape, kind).astype(bool)
            elapsed = time.perf_counter() - start
            dice = 2 * (back & truth).sum() / (back.sum() + truth.sum())
            print(f"  {kind:8s} volume error {100 * (back.sum() / truth.sum() - 1):+.2f} %, Dice {dice:.4f}, {elapsed:.2f} s")


if __name__ == "__main__":
    main()

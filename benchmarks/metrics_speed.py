"""Speed and memory of liverbench.metrics.evaluate against DeepMind's surface-distance and MedPy.

One liver-sized case (512 x 512 x 200 voxels, 0.7 x 0.7 x 2.5 mm, a reference of about
1.5 litres and a perturbed segmentation), generated here: an ellipsoid with a smooth random
radial deformation, and a copy with extra finer deformation and a sub-centimetre shift.

Timed side by side in one run (repeats interleaved, medians printed):
- liverbench: every metric of a result row (VOE, RVD, ASD, RMSD, MaxD, Dice, Jaccard, HD95,
  surface Dice, scores) in one `evaluate` call;
- surface-distance (DeepMind), through its public API, for what it offers of those:
  compute_surface_distances + average surface distance + robust Hausdorff 95 and 100 + Dice;
- MedPy (medpy.metric.binary): dc, ravd, assd, hd, hd95 (slow: fewer repeats).
Then the two choices inside liverbench, on the same cropped borders: the distance engine
(its exact nearest-border search vs one distance transform per direction with scipy or the
`edt` package) and the border extraction (shifted ANDs vs scipy's binary_erosion).
Extra peak memory (tracemalloc, which tracks numpy's allocations) over the two input masks.
Last, two failure modes (a segmentation 28 mm off; one with speckle noise over the whole
volume) against surface-distance, since a leaderboard must score broken outputs too.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/metrics_speed.py [--repeats 7] [--medpy-repeats 1]
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc

import numpy as np

SHAPE = (200, 512, 512)  # (z, y, x)
SPACING = (2.5, 0.7, 0.7)  # mm (z, y, x)
SEMI_AXES_MM = (64.0, 58.5, 77.0)  # a liver-like extent: ~15 cm cranio-caudal, ~15 x 19 cm axial


def _deformation_terms(seed: int, count: int, amplitude: float, frequency: float):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, 3)) * frequency, rng.uniform(0, 2 * np.pi, count), rng.uniform(0.3, 1.0, count) * amplitude


def deformed_ellipsoid(terms, shift_mm=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Bool mask of an ellipsoid whose radius is modulated by smooth functions of the direction."""
    nz, ny, nx = SHAPE
    centre = np.array(SHAPE) / 2 * np.array(SPACING) + np.array(shift_mm)
    y = ((np.arange(ny) * SPACING[1] - centre[1]) / SEMI_AXES_MM[1]).astype(np.float32)
    x = ((np.arange(nx) * SPACING[2] - centre[2]) / SEMI_AXES_MM[2]).astype(np.float32)
    # The deformation stays below 1.5x the semi-axes: only that box needs evaluating.
    ys, xs = np.flatnonzero(np.abs(y) <= 1.5), np.flatnonzero(np.abs(x) <= 1.5)
    window = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
    y, x = y[window[0], None], x[None, window[1]]
    mask = np.zeros(SHAPE, bool)
    for iz in range(nz):
        z = np.float32((iz * SPACING[0] - centre[0]) / SEMI_AXES_MM[0])
        if abs(z) > 1.5:
            continue
        radius = np.sqrt(z * z + y * y + x * x)
        direction = [np.broadcast_to(c, radius.shape) / np.maximum(radius, 1e-6) for c in (z, y, x)]
        scale = np.ones_like(radius)
        for k, phase, amplitude in terms:
            for i in range(len(amplitude)):
                scale += amplitude[i] * np.cos(k[i, 0] * direction[0] + k[i, 1] * direction[1] + k[i, 2] * direction[2] + phase[i])
        mask[iz][window] = radius <= scale
    return mask


def make_case() -> tuple[np.ndarray, np.ndarray]:
    shape_terms = _deformation_terms(1, 6, 0.12, 2.0)
    ref = deformed_ellipsoid([shape_terms])
    # The "segmentation": the same organ with finer errors (up to a few mm) and a small shift.
    seg = deformed_ellipsoid([shape_terms, _deformation_terms(2, 12, 0.02, 5.0)], shift_mm=(1.0, 0.5, -0.7))
    return seg, ref


def run_liverbench(seg, ref):
    from liverbench.metrics import evaluate

    return evaluate(seg, ref, SPACING)


def run_deepmind(seg, ref):
    import surface_distance as sd

    distances = sd.compute_surface_distances(ref, seg, SPACING)
    return {
        "asd (gt->pred, pred->gt)": sd.compute_average_surface_distance(distances),
        "hd95": sd.compute_robust_hausdorff(distances, 95),
        "maxd": sd.compute_robust_hausdorff(distances, 100),
        "dice": sd.compute_dice_coefficient(ref, seg),
    }


def run_medpy(seg, ref):
    from medpy.metric import binary

    return {
        "dice": binary.dc(seg, ref),
        "rvd": binary.ravd(seg, ref),
        "assd": binary.assd(seg, ref, voxelspacing=SPACING),
        "hd": binary.hd(seg, ref, voxelspacing=SPACING),
        "hd95": binary.hd95(seg, ref, voxelspacing=SPACING),
    }


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def extra_peak_mb(fn, *args) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - before) / 1e6


def engine_comparison(seg, ref, repeats: int) -> dict[str, float]:
    """Medians (s) of the alternatives for the two inner steps, on the same cropped masks."""
    import edt
    from scipy import ndimage as ndi

    from liverbench.metrics import border_distances, border_voxels
    from liverbench.metrics.crop import union_bounding_box

    box = union_bounding_box(seg, ref)
    seg_box, ref_box = seg[box], ref[box]
    structure = ndi.generate_binary_structure(3, 2)  # the 18-neighbourhood
    seg_border, ref_border = border_voxels(seg_box), border_voxels(ref_box)
    spacing = np.asarray(SPACING)
    scipy_border = seg_box & ~ndi.binary_erosion(seg_box, structure, border_value=1)
    assert np.array_equal(scipy_border, seg_border), "border extraction disagrees with scipy"
    ours = border_distances(seg_border, ref_border, spacing)
    check = edt.edt(~ref_border, anisotropy=SPACING)[seg_border]
    assert np.allclose(ours[0], check, atol=1e-4), "distances disagree with edt"

    candidates = {
        "borders: shifted ANDs (liverbench)": lambda: (border_voxels(seg_box), border_voxels(ref_box)),
        "borders: scipy binary_erosion": lambda: [m & ~ndi.binary_erosion(m, structure, border_value=1) for m in (seg_box, ref_box)],
        "distances: nearest-border search (liverbench)": lambda: border_distances(seg_border, ref_border, spacing),
        "distances: edt.edt x2, 1 thread": lambda: (
            edt.edt(~ref_border, anisotropy=SPACING, parallel=1)[seg_border],
            edt.edt(~seg_border, anisotropy=SPACING, parallel=1)[ref_border],
        ),
        "distances: edt.edt x2, 2 threads": lambda: (
            edt.edt(~ref_border, anisotropy=SPACING, parallel=2)[seg_border],
            edt.edt(~seg_border, anisotropy=SPACING, parallel=2)[ref_border],
        ),
        "distances: scipy distance_transform_edt x2": lambda: (
            ndi.distance_transform_edt(~ref_border, sampling=SPACING)[seg_border],
            ndi.distance_transform_edt(~seg_border, sampling=SPACING)[ref_border],
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):  # interleaved, so load from other processes hits all alike
        for name, fn in candidates.items():
            times[name].append(timed(fn)[0])
    box_voxels = int(np.prod(seg_box.shape))
    print(f"\ncropped box {seg_box.shape} = {box_voxels / 1e6:.2f} M voxels; border voxels seg {int(seg_border.sum())}, ref {int(ref_border.sum())}")
    return {name: float(np.median(t)) for name, t in times.items()}


def failure_modes(seg, ref, repeats: int) -> None:
    """Segmentations a broken method could hand in: far more surface far from the reference."""
    displaced = np.roll(ref, 40, axis=2)  # the right organ, 28 mm off
    speckled = seg.copy()
    speckled.flat[np.random.default_rng(0).integers(0, seg.size, 200_000)] = True  # noise over the whole volume
    print("\n| failure mode | liverbench | surface-distance | ratio | liverbench extra peak memory |")
    print("|---|---|---|---|---|")
    for name, bad in (("shifted 28 mm", displaced), ("200k speckles over the volume", speckled)):
        ours_t, deepmind_t = [], []
        for _ in range(repeats):
            ours_t.append(timed(run_liverbench, bad, ref)[0])
            deepmind_t.append(timed(run_deepmind, bad, ref)[0])
        ours_s, deepmind_s = float(np.median(ours_t)), float(np.median(deepmind_t))
        memory = extra_peak_mb(run_liverbench, bad, ref)
        print(f"| {name} | {ours_s:.2f} s | {deepmind_s:.2f} s | {deepmind_s / ours_s:.1f}x | {memory:.0f} MB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="repeats for liverbench and surface-distance")
    parser.add_argument("--medpy-repeats", type=int, default=1, help="repeats for MedPy (slow)")
    parser.add_argument("--failure-repeats", type=int, default=2, help="repeats for the failure-mode cases (0: skip)")
    args = parser.parse_args()

    start = time.perf_counter()
    seg, ref = make_case()
    voxel_ml = float(np.prod(SPACING)) / 1000
    print(f"case: {SHAPE} voxels, spacing {SPACING} mm, reference {ref.sum() * voxel_ml:.0f} ml, "
          f"segmentation {seg.sum() * voxel_ml:.0f} ml (generated in {time.perf_counter() - start:.1f} s)")
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")

    run_liverbench(seg, ref), run_deepmind(seg, ref)  # warm-up: imports, first-touch allocations
    ours_t, deepmind_t = [], []
    for _ in range(args.repeats):
        t, ours = timed(run_liverbench, seg, ref)
        ours_t.append(t)
        t, deepmind = timed(run_deepmind, seg, ref)
        deepmind_t.append(t)
    medpy_t = []
    for _ in range(args.medpy_repeats):
        t, medpy = timed(run_medpy, seg, ref)
        medpy_t.append(t)
    ours_s, deepmind_s, medpy_s = (float(np.median(t)) for t in (ours_t, deepmind_t, medpy_t))

    print("\nliverbench:", {k: (round(v, 4) if isinstance(v, float) else v) for k, v in ours.items()})
    print("surface-distance:", deepmind)
    print("medpy:", medpy)

    ours_mb = extra_peak_mb(run_liverbench, seg, ref)
    deepmind_mb = extra_peak_mb(run_deepmind, seg, ref)
    float32_mb = np.prod(SHAPE) * 4 / 1e6

    print(f"\n| library | what | median time | ratio vs liverbench | extra peak memory |")
    print(f"|---|---|---|---|---|")
    print(f"| liverbench.metrics.evaluate | all row metrics | {ours_s:.3f} s (n={len(ours_t)}) | 1x | {ours_mb:.1f} MB |")
    print(f"| surface-distance 0.1 | ASD, HD95, HD100, Dice | {deepmind_s:.3f} s (n={len(deepmind_t)}) | {deepmind_s / ours_s:.1f}x | {deepmind_mb:.1f} MB |")
    print(f"| MedPy 0.5.2 | dc, ravd, assd, hd, hd95 | {medpy_s:.3f} s (n={len(medpy_t)}) | {medpy_s / ours_s:.1f}x | not measured |")
    print(f"(one float32 copy of the volume: {float32_mb:.0f} MB; goal: >= 5x surface-distance, >= 50x MedPy, memory below that)")

    engines = engine_comparison(seg, ref, args.repeats)
    print("\n| step (cropped box) | median time |")
    print("|---|---|")
    for name, seconds in engines.items():
        print(f"| {name} | {seconds * 1000:.1f} ms |")

    if args.failure_repeats:
        failure_modes(seg, ref, args.failure_repeats)


if __name__ == "__main__":
    main()

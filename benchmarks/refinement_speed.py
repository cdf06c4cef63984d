"""Seconds per case of the dense CRF and graph-cut refinements, with and without the ROI.

Case: ircadb1_01 from shared/data/real (512x512x129, liver 1.49 l -- a liver-sized case, the
paper's setting), with a deliberately noisy probability map (blurred reference + smooth noise,
seeded), so the refinements have real work to do. Each configuration runs --repeats times
back to back in one process; medians and ratios are printed, plus Dice before/after.

    .venv/bin/python benchmarks/refinement_speed.py [--repeats 3] [--heavy]

--heavy adds the graph cut over the whole ROI without the narrow band (about 10 GB of RAM).
Thread count: densecrf uses its `workers` parameter (2 = the 2 cores the goal names).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy import ndimage as ndi

from baselines.densecrf import DenseCRF
from baselines.graphcut import GraphCut
from liverbench.data.datasets.real import RealDataset
from liverbench.metrics import evaluate
from liverbench.plugins.base import Context, Prediction


def noisy_prediction(ref: np.ndarray, seed: int = 0) -> Prediction:
    rng = np.random.default_rng(seed)
    noise = ndi.gaussian_filter(rng.normal(0.0, 1.0, ref.shape).astype(np.float32), (1, 4, 4)) * 8.0
    prob = ndi.gaussian_filter(ref.astype(np.float32), (1, 4, 4)) * 0.8 + 0.1 + 0.3 * noise
    return Prediction(np.clip(prob, 0.0, 1.0).astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="ircadb1_01")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--heavy", action="store_true")
    args = parser.parse_args()
    case = RealDataset().load(args.case)
    ref, spacing = case.liver, case.image.spacing
    pred = noisy_prediction(ref)
    print(f"case {case.id} {case.image.shape} spacing {tuple(round(s, 3) for s in spacing)} "
          f"liver {ref.sum() * case.image.voxel_volume_ml:.0f} ml; noisy map Dice "
          f"{evaluate(pred.prob >= 0.5, ref, spacing)['dice']:.4f}", flush=True)
    configs = [
        ("densecrf 2d, ROI, 2 threads", DenseCRF, {"mode": "2d", "workers": 2}, args.repeats),
        ("densecrf 2d, ROI, 1 thread", DenseCRF, {"mode": "2d", "workers": 1}, args.repeats),
        ("densecrf 2d, no ROI, 2 threads", DenseCRF, {"mode": "2d", "workers": 2, "roi": False}, args.repeats),
        ("densecrf 3d, ROI", DenseCRF, {"mode": "3d"}, 1),
        ("graphcut 6, ROI + 5 mm band", GraphCut, {"connectivity": 6}, args.repeats),
        ("graphcut 6, no ROI, 5 mm band", GraphCut, {"connectivity": 6, "roi": False}, args.repeats),
        ("graphcut 26, ROI + 5 mm band", GraphCut, {"connectivity": 26}, args.repeats),
    ]
    if args.heavy:
        configs.append(("graphcut 6, ROI, no band", GraphCut, {"connectivity": 6, "band_mm": None}, 1))
    results = {}
    for label, cls, params, repeats in configs:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            seg = cls(**params)(case.image, pred, Context(case_id=case.id))
            times.append(time.perf_counter() - start)
        results[label] = statistics.median(times)
        dice = evaluate(seg, ref, spacing)["dice"]
        print(f"{label:34s} median {results[label]:7.2f} s over {repeats} (all: "
              f"{', '.join(f'{t:.1f}' for t in times)}); Dice after {dice:.4f}", flush=True)
    pairs = [("densecrf 2d, no ROI, 2 threads", "densecrf 2d, ROI, 2 threads"),
             ("densecrf 2d, ROI, 1 thread", "densecrf 2d, ROI, 2 threads"),
             ("graphcut 6, no ROI, 5 mm band", "graphcut 6, ROI + 5 mm band")]
    if args.heavy:
        pairs.append(("graphcut 6, ROI, no band", "graphcut 6, ROI + 5 mm band"))
    for slow, fast in pairs:
        print(f"ratio {slow!r} / {fast!r}: {results[slow] / results[fast]:.2f}x")
    print(f"vs. Dou et al.'s 87 s CRF: {87.0 / results['densecrf 2d, ROI, 2 threads']:.1f}x faster")


if __name__ == "__main__":
    main()

"""Accuracy and speed of the learning-free `intensity` baseline.

Every case of shared/data/real (RealDataset) and synthetic "small" phantoms: Dice, the SLiver07
score and the five metrics (liverbench.metrics.evaluate), seconds of `predict` per case (one
core: run with OMP_NUM_THREADS=1).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/baseline_accuracy.py [--phantoms 6]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from baselines.intensity import IntensityBaseline
from liverbench.datasets.real import RealDataset
from liverbench.metrics import evaluate
from liverbench.phantom import make_phantom
from liverbench.plugin import Context


def measure(case, model) -> dict:
    start = time.perf_counter()
    prob = model.predict(case.image, Context(case_id=case.id)).prob
    seconds = time.perf_counter() - start
    m = evaluate(prob >= 0.5, case.liver, case.image.spacing)
    return {"case": case.id, "shape": "x".join(map(str, case.image.shape)), "phase": case.meta.get("phase", ""),
            "reference": case.meta.get("mask_kind", "phantom"), "dice": m["dice"], "score": m["score"],
            "voe": m["voe"], "rvd": m["rvd"], "asd": m["asd"], "rmsd": m["rmsd"], "maxd": m["maxd"], "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phantoms", type=int, default=6, help="synthetic 'small' phantoms, seeds 0..N-1")
    args = parser.parse_args()
    model = IntensityBaseline()
    rows = []
    real = RealDataset()
    for case_id in real.case_ids():
        rows.append(measure(real.load(case_id), model))
        print(rows[-1], flush=True)
    for seed in range(args.phantoms):
        rows.append(measure(make_phantom(seed, preset="small"), model))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(markdown(table))


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table (pandas' to_markdown needs the optional `tabulate`)."""
    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

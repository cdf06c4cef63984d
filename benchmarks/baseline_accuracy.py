"""Accuracy and speed of the learning-free `intensity` baseline.

Every case of shared/data/real (RealDataset), synthetic "small" phantoms, and phantoms drawn with
each failure mode of `liverbench.data.phantom.failure_modes` (effusion, gas loop, border lesion, thin
left lobe, thick slices): Dice, the SLiver07 score and the five metrics
(liverbench.metrics.evaluate), seconds of `predict` per case (one core: run with
OMP_NUM_THREADS=1). `--timing` adds the median time on a 512x512x150 case (ircadb1_01 padded in
memory from 129 to 150 slices). `--rev REV` scores the baseline as committed at git revision REV
(before/after comparisons side by side).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/baseline_accuracy.py [--phantoms 6] [--modes 1,3,6] [--timing 3] [--rev HEAD~1]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

from baselines.intensity import IntensityBaseline
from liverbench.data.datasets.real import RealDataset
from liverbench.data.phantom import generate_phantom, make_phantom
from liverbench.data.phantom.failure_modes import FAILURE_MODES, with_failure_mode
from liverbench.data.volume import Volume
from liverbench.metrics import evaluate
from liverbench.plugins.base import Context

REPO = Path(__file__).resolve().parents[1]


def baseline_at(rev: str | None):
    """IntensityBaseline as in the working tree, or as committed at `rev` (a module
    `baselines/intensity.py` up to version 8, the package `baselines/intensity/` after it)."""
    if not rev:
        return IntensityBaseline()
    name = "intensity_at_" + re.sub(r"\W", "_", rev)
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "baselines/intensity.py", "baselines/intensity"],
                           cwd=REPO, check=True, capture_output=True, text=True).stdout.split()
    if "baselines/intensity.py" in files:
        source = git_show(rev, "baselines/intensity.py")
        module = types.ModuleType(name)
        module.__file__ = f"{rev}:baselines/intensity.py"
        sys.modules[name] = module  # dataclasses and typing look the module up
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        return module.IntensityBaseline()
    # The package's modules import each other relatively: written out under a new name, it
    # imports as a whole beside the working tree's.
    root = Path(tempfile.mkdtemp(prefix=f"{name}-")) / name
    for path in files:
        target = root / Path(path).relative_to("baselines/intensity")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(git_show(rev, path), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, root / "__init__.py", submodule_search_locations=[str(root)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.IntensityBaseline()


def git_show(rev: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, check=True, capture_output=True, text=True).stdout


def measure(case, model) -> dict:
    start = time.perf_counter()
    prob = model.predict(case.image, Context(case_id=case.id)).prob
    seconds = time.perf_counter() - start
    m = evaluate(prob >= 0.5, case.liver, case.image.spacing)
    return {"case": case.id, "shape": "x".join(map(str, case.image.shape)), "phase": case.meta.get("phase", ""),
            "reference": case.meta.get("mask_kind", "phantom"), "dice": m["dice"], "score": m["score"],
            "voe": m["voe"], "rvd": m["rvd"], "asd": m["asd"], "rmsd": m["rmsd"], "maxd": m["maxd"], "seconds": seconds}


def timing_volume() -> Volume:
    """ircadb1_01 edge-padded in z to 512x512x150 (in memory only)."""
    case = RealDataset().load("ircadb1_01")
    array = case.image.array
    padded = np.pad(array, ((0, 150 - array.shape[0]), (0, 0), (0, 0)), mode="edge")
    return Volume(padded, case.image.spacing)


def timing(model, repeats: int) -> float:
    """Median predict seconds on `timing_volume()`."""
    volume = timing_volume()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(volume, Context(case_id="ircadb1_01-150"))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phantoms", type=int, default=6, help="synthetic 'small' phantoms, seeds 0..N-1")
    parser.add_argument("--modes", default="", help="comma-separated phantom seeds drawn with every failure mode")
    parser.add_argument("--timing", type=int, default=0, help="repeats of the 512x512x150 timing (0 = skip)")
    parser.add_argument("--rev", default="", help="git revision of the baseline (baselines/intensity) to score instead")
    parser.add_argument("--no-real", action="store_true", help="skip shared/data/real")
    args = parser.parse_args()
    model = baseline_at(args.rev or None)
    print(f"intensity version {model.version} ({args.rev or 'working tree'})", flush=True)
    rows = []
    if not args.no_real:
        real = RealDataset()
        for case_id in real.case_ids():
            rows.append(measure(real.load(case_id), model))
            print(rows[-1], flush=True)
    for seed in range(args.phantoms):
        rows.append(measure(make_phantom(seed, preset="small"), model))
        print(rows[-1], flush=True)
    for seed in (int(s) for s in args.modes.split(",") if s.strip()):
        phantom = generate_phantom(seed, "small")
        for mode in FAILURE_MODES:
            rows.append(measure(with_failure_mode(phantom, mode), model))
            print(rows[-1], flush=True)
    if rows:
        print(markdown(pd.DataFrame(rows)))
    if args.timing:
        print(f"512x512x150 (ircadb1_01 padded): median {timing(model, args.timing):.2f} s over {args.timing} runs")


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table (pandas' to_markdown needs the optional `tabulate`)."""
    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Real-CT transfer of the neural baselines: trained on synthetic phantoms plus the other real
cases, scored on each held-out real case with a manual mask (issue 15, item 4).

For each held-out case (default: the two 3D-IRCADb-01 cases with manual masks) one model is
trained on the synthetic training set of `benchmarks/real.toml` (12 "small" phantoms, a quarter
held out for validation curves) plus every *other* real case (the other manual case and the two
TotalSegmentator cases, whose model-output masks are fine as training targets), exactly as the
`loo` split of `make real` builds its folds, then predicts the held-out case and scores
threshold (P >= 0.5) and largest-component with `liverbench.metrics.evaluate`.  The case
scored is never trained on.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/real_transfer.py --methods di2in
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/real_transfer.py --methods di2in --no-real   # phantoms only
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/real_transfer.py --methods dsn3d --set augment_hu=true

Real data are read in place (their licences forbid copies); nothing is written but stdout and,
with `--json`, a results file.  One torch thread per process, like one `make real` worker.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baselines.refine_simple import fill_holes  # noqa: E402
from liverbench.data.datasets.real import RealDataset  # noqa: E402
from liverbench.data.datasets.synthetic import SyntheticDataset  # noqa: E402
from liverbench.data.splits import make_splits  # noqa: E402
from liverbench.masks import largest_component  # noqa: E402
from liverbench.metrics import evaluate  # noqa: E402
from liverbench.plugins.base import Context  # noqa: E402
from liverbench.plugins.registry import get_segmenter  # noqa: E402

METHODS = ("cnn3d", "dsn3d", "di2in", "di2in-adv")  # the neural built-ins, found by the registry
MANUAL = ["ircadb1_01", "ircadb1_17"]


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def folds(test_cases, use_real: bool, n_synth: int, seed: int):
    """The folds of `make real`'s split: loo over `test_cases`, [train_dataset] = phantoms."""
    real, synth = RealDataset(), SyntheticDataset(n_cases=n_synth, preset="small", seed=0)
    split = {"kind": "loo", "seed": seed, "val_fraction": 0.25, "test": list(test_cases)}
    split_folds = make_splits(split, real.case_ids(), synth.case_ids())
    if not use_real:  # the baseline: phantoms only, as `make real` trained before
        split_folds = [{**f, "train_from_dataset": []} for f in split_folds]
    return real, synth, split_folds


def run(methods, test_cases, use_real, n_synth, overrides, seed, preset):
    torch.set_num_threads(1)
    real, synth, split_folds = folds(test_cases, use_real, n_synth, seed)
    rows = []
    for name in methods:
        cls = get_segmenter(name)
        for fold in split_folds:
            train = [synth.load(c) for c in fold["train"]] + [real.load(c) for c in fold.get("train_from_dataset", [])]
            val = [synth.load(c) for c in fold["val"]]
            method = cls(preset=preset, **overrides)
            with tempfile.TemporaryDirectory() as tmp:
                start, cpu = time.perf_counter(), time.process_time()
                method.fit(train, val, Context(seed=0, workdir=Path(tmp)))
                t_fit, cpu_fit = time.perf_counter() - start, time.process_time() - cpu
            for case_id in fold["test"]:
                case = real.load(case_id)
                pred = method.predict(case.image, Context(seed=0, case_id=case_id))
                thr = pred.prob >= 0.5
                lc = fill_holes(largest_component(thr, connectivity=3))
                m_thr = evaluate(thr, case.liver, case.image.spacing)
                m_lc = evaluate(lc, case.liver, case.image.spacing)
                row = {"method": name, "case": case_id, "trained_on_real": fold.get("train_from_dataset", []),
                       "dice_threshold": m_thr["dice"], "dice_lc": m_lc["dice"], "score_lc": m_lc["score"],
                       "asd_lc": m_lc["asd"], "maxd_lc": m_lc["maxd"], "rvd_lc": m_lc["rvd"],
                       "t_fit_s": t_fit, "cpu_fit_s": cpu_fit, "overrides": overrides}
                rows.append(row)
                print(f"{name:10s} {case_id:12s} real-train {len(row['trained_on_real'])}  Dice thr {row['dice_threshold']:.3f}  "
                      f"LC {row['dice_lc']:.3f}  score {row['score_lc']:.1f}  ASD {row['asd_lc']:.2f}  "
                      f"MaxD {row['maxd_lc']:.1f}  RVD {row['rvd_lc']:+.1f}  fit {t_fit:.0f} s (CPU {cpu_fit:.0f} s)",
                      flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--test", nargs="+", default=MANUAL, help="real cases to hold out, one fold each")
    ap.add_argument("--no-real", action="store_true", help="train on the phantoms only (today's make real)")
    ap.add_argument("--n-synth", type=int, default=12, help="synthetic 'small' phantoms (as benchmarks/real.toml)")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--seed", type=int, default=0, help="split seed (validation hold-out)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="parameter override (JSON value)")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = _parse_value(value)
    rows = run(args.methods, args.test, not args.no_real, args.n_synth, overrides, args.seed, args.preset)
    for name in args.methods:
        mine = [r for r in rows if r["method"] == name]
        print(f"{name:10s} mean Dice LC {np.mean([r['dice_lc'] for r in mine]):.3f}  "
              f"min {min(r['dice_lc'] for r in mine):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

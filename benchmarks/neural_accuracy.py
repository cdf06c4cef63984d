"""Accuracy and speed of the neural baselines with the `cpu` preset on synthetic phantoms.

Trains each method on `--n-train` "small" phantoms (plus `--n-val` for validation curves),
predicts `--n-test` held-out phantoms (other seeds), thresholds P >= 0.5 and scores with
liverbench.metrics.evaluate (SLiver07 convention).  Prints, per method: training time, median
inference time per volume, median / min Dice and median SLiver07 score; `--append` adds the
table and the command to benchmarks/RESULTS.md.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/neural_accuracy.py            # all four
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/neural_accuracy.py --methods dsn3d --set iterations=100

One thread per process (torch.set_num_threads(1)), like one demo worker.  Methods run one after
another in this process.  Times are reported as wall clock and as this process's CPU time; with
one thread the CPU time is what the wall clock would be on an idle core (the development machine
was shared by several jobs).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from liverbench.data.phantom import make_phantom  # noqa: E402
from liverbench.metrics import evaluate  # noqa: E402
from liverbench.plugins.base import Context  # noqa: E402
from liverbench.plugins.registry import get_segmenter  # noqa: E402

METHODS = ("cnn3d", "dsn3d", "di2in", "di2in-adv")  # the neural built-ins, found by the registry


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def run(methods, n_train, n_val, n_test, overrides, threads, seed):

    torch.set_num_threads(threads)
    train = [make_phantom(seed + i, "small") for i in range(n_train)]
    val = [make_phantom(seed + n_train + i, "small") for i in range(n_val)]
    test = [make_phantom(seed + 1000 + i, "small") for i in range(n_test)]
    rows = []
    for name in methods:
        cls = get_segmenter(name)
        method = cls(preset="cpu", **overrides)
        with tempfile.TemporaryDirectory() as tmp:
            start, cpu_start = time.perf_counter(), time.process_time()
            method.fit(train, val, Context(seed=0, workdir=Path(tmp)))
            t_fit, cpu_fit = time.perf_counter() - start, time.process_time() - cpu_start
        dice, score, t_pred, cpu_pred = [], [], [], []
        for case in test:
            start, cpu_start = time.perf_counter(), time.process_time()
            pred = method.predict(case.image, Context(seed=0, case_id=case.id))
            t_pred.append(time.perf_counter() - start)
            cpu_pred.append(time.process_time() - cpu_start)
            metrics = evaluate(pred.prob >= 0.5, case.liver, case.image.spacing)
            dice.append(metrics["dice"])
            score.append(metrics["score"])
        curves = method.learning_curves()
        last_val = [r["loss"] for r in curves if r["split"] == "val"][-1:] or [float("nan")]
        row = {
            "method": name,
            "t_fit_s": t_fit,
            "cpu_fit_s": cpu_fit,
            "t_predict_s": statistics.median(t_pred),
            "cpu_predict_s": statistics.median(cpu_pred),
            "dice_median": statistics.median(dice),
            "dice_min": min(dice),
            "dice_mean": float(np.mean(dice)),
            "score_median": statistics.median(score),
            "val_loss": last_val[0],
            "steps": method.fit_info.get("steps"),
        }
        rows.append(row)
        print(
            f"{name:10s} fit {t_fit:6.1f} s (CPU {cpu_fit:6.1f} s)  predict {row['t_predict_s']:5.2f} s/vol "
            f"(CPU {row['cpu_predict_s']:5.2f} s)  "
            f"Dice median {row['dice_median']:.3f} min {row['dice_min']:.3f} mean {row['dice_mean']:.3f}  "
            f"score median {row['score_median']:.1f}  val loss {row['val_loss']:.3f}",
            flush=True,
        )
    return rows


def table(rows) -> str:
    lines = [
        "| method | fit wall (s) | fit CPU (s) | predict wall (s/volume, median) | predict CPU (s/volume) "
        "| Dice mean | Dice median | Dice min | SLiver07 score median | goal Dice >= 0.90 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['t_fit_s']:.0f} | {r['cpu_fit_s']:.0f} | {r['t_predict_s']:.2f} | "
            f"{r['cpu_predict_s']:.2f} | {r['dice_mean']:.3f} | {r['dice_median']:.3f} | "
            f"{r['dice_min']:.3f} | {r['score_median']:.1f} | {'met' if r['dice_mean'] >= 0.90 else 'not met'} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--n-train", type=int, default=9, help="as the demo: 12 training cases, 3 of them for validation")
    ap.add_argument("--n-val", type=int, default=3)
    ap.add_argument("--n-test", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="phantom seeds: train seed.., val after, test seed+1000..")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="parameter override (JSON value)")
    ap.add_argument("--append", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = _parse_value(value)
    rows = run(args.methods, args.n_train, args.n_val, args.n_test, overrides, args.threads, args.seed)
    text = table(rows)
    print(text)
    if args.append:
        command = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/neural_accuracy.py " + " ".join(argv or sys.argv[1:])
        with open(ROOT / "benchmarks" / "RESULTS.md", "a") as fh:
            fh.write(
                f"\n## Neural baselines, `cpu` preset, synthetic phantoms\n\n"
                f"Each method trained on {args.n_train} \"small\" phantoms (+{args.n_val} for validation curves), "
                f"scored on {args.n_test} held-out phantoms (seeds {args.seed + 1000}..), P >= 0.5, SLiver07 metrics; "
                f"one torch thread, methods one after another on a machine with 2 shared cores, no GPU "
                f"({platform.processor() or platform.machine()}).\n\n"
                f"Command: `{command.strip()}`\n\n{text}\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

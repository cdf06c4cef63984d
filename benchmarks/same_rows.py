"""The same small run before and after a change that should alter no result: rows side by side.

For refactors (issue 32's packages and types): `run` executes one small `liverbench run` through
the command line (the interface that stays across such a change) and copies its rows and saved
masks out; `compare` reads two such copies and says, per column, whether they are identical:
the row keys, every metric column and every saved mask must be; the timing, memory and host
columns are allowed to differ.

    .venv/bin/python benchmarks/same_rows.py run --out /tmp/before     # at the old revision
    .venv/bin/python benchmarks/same_rows.py run --out /tmp/after      # at the new one
    .venv/bin/python benchmarks/same_rows.py compare /tmp/before /tmp/after

Each side runs with its own package installed: built-in plugins are found through the installed
entry points, which name the modules of the layout installed last (issue 32 moved them).

The run: 6 small synthetic phantoms (fixed split, 2 scored), the learning-free `intensity`
baseline and a 20-iteration `cnn3d` (cpu preset), refined by threshold, largest-component and
graphcut, on the local backend, predictions saved.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CONFIG = """
name = "same-rows"
runs_dir = "{runs}"
[dataset]
name = "synthetic"
params = {{ n_cases = 6, preset = "small", seed = 3 }}
[split]
kind = "fixed"
test_fraction = 0.34
seed = 0
[[methods]]
name = "intensity"
[[methods]]
name = "cnn3d"
params = {{ preset = "cpu", iterations = 20, val_every = 10, checkpoint_every = 10 }}
[[postprocessors]]
name = "largest-component"
[[postprocessors]]
name = "graphcut"
[execution]
backend = "local"
save_predictions = true
"""

# Where the two runs may differ: how long, where and with how much memory they ran.
MAY_DIFFER = ("t_read", "t_preprocess", "t_predict", "t_refine", "t_metrics", "t_fit", "peak_rss_mb",
              "peak_gpu_mb", "host", "run", "cold")


def run(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="same-rows-") as tmp:
        config = Path(tmp) / "run.toml"
        config.write_text(CONFIG.format(runs=tmp), encoding="utf-8")
        subprocess.run([sys.executable, "-m", "liverbench", "run", str(config)], check=True)
        try:
            from liverbench.run.store import ResultStore
        except ImportError:  # before issue 32's moves
            from liverbench.store import ResultStore

        run_dir = Path(tmp) / "same-rows"
        out.mkdir(parents=True, exist_ok=True)
        ResultStore(run_dir).rows().to_parquet(out / "rows.parquet")
        if (out / "predictions").exists():
            shutil.rmtree(out / "predictions")
        shutil.copytree(run_dir / "predictions", out / "predictions")
    print(f"rows and masks in {out}")


def compare(a: Path, b: Path) -> int:
    import nibabel as nib
    import numpy as np
    import pandas as pd

    ra = pd.read_parquet(a / "rows.parquet").set_index("row_key").sort_index()
    rb = pd.read_parquet(b / "rows.parquet").set_index("row_key").sort_index()
    problems = []
    if list(ra.index) != list(rb.index):
        problems.append(f"row keys differ: {sorted(set(ra.index) ^ set(rb.index))[:6]}")
    if list(ra.columns) != list(rb.columns):
        problems.append(f"columns differ: {sorted(set(ra.columns) ^ set(rb.columns))}")
    common = ra.index.intersection(rb.index)
    same = []
    for column in ra.columns.intersection(rb.columns):
        if column in MAY_DIFFER:
            continue
        x, y = ra.loc[common, column], rb.loc[common, column]
        if not ((x == y) | (x.isna() & y.isna())).all():
            problems.append(f"column {column!r} differs in {int((x != y).sum())} of {len(common)} rows")
        else:
            same.append(column)
    masks = sorted(p.name for p in (a / "predictions").iterdir())
    if masks != sorted(p.name for p in (b / "predictions").iterdir()):
        problems.append("the saved masks are not the same files")
    differing = [m for m in masks if (b / "predictions" / m).exists() and not np.array_equal(
        np.asanyarray(nib.load(a / "predictions" / m).dataobj), np.asanyarray(nib.load(b / "predictions" / m).dataobj))]
    if differing:
        problems.append(f"{len(differing)} saved masks differ: {differing[:4]}")
    print(f"{len(ra)} rows ({int((ra['status'] == 'ok').sum())} ok) and {len(masks)} saved masks compared; "
          f"{len(same)} columns identical in every row: {', '.join(same)}")
    print("\n".join(f"DIFFERENT: {p}" for p in problems) if problems else
          "IDENTICAL: same row keys, same columns, same values (timing, memory and host aside), same masks")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run").add_argument("--out", type=Path, required=True)
    cmp = sub.add_parser("compare")
    cmp.add_argument("a", type=Path)
    cmp.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        run(args.out)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())

"""The engine at two git revisions, side by side: the same plan run end to end by each.

For changes to the runner, scheduler or backends that should not change their speed (issue 18's
renovation). Each run is a fresh process (`python -c`) importing liverbench from a checkout of
the revision (a `git worktree` under the temp dir; the working tree for "WORK"), so both pay the
same start-up. Runs alternate old / new `--repeats` times; the figure is the median wall time of
`runner.run` (Ray start-up excluded) and the median of the per-pair ratios. Also checks that
both revisions give the same metric values.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/engine_versions.py --old c999801 [--new WORK] [--backend ray]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Runs inside the revision's checkout: its own config API (parse since issue 18, resolve before;
# in liverbench.run since issue 32). Built-in plugins are found through the installed entry
# points, which name the modules of the layout installed last: across issue 32's moves, install
# each side's checkout (`pip install --no-deps -e`) before its runs.
RUN = r"""
import json, sys, time
try:
    from liverbench.run import config, runner, store
except ImportError:  # before issue 32
    from liverbench import config, runner, store
raw = json.loads(sys.argv[1])
load = getattr(config, "parse", None) or config.resolve
cfg = load(raw)
if raw["execution"]["backend"] == "ray":
    import ray
    ray.init(num_cpus=raw["execution"]["num_cpus"], include_dashboard=False, log_to_driver=False)
t0 = time.perf_counter()
out = runner.run(cfg, quiet=True)
wall = time.perf_counter() - t0
df = store.ResultStore(out.run_dir).rows().sort_values(["case_id", "postprocessor"])  # keys differ across versions
print(json.dumps({"wall": wall, "ok": out.n_ok, "dice": [round(float(v), 9) for v in df["dice"]]}))
"""


def checkout(rev: str, tmp: Path) -> Path:
    if rev == "WORK":
        return REPO
    path = tmp / f"rev-{rev}"
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(path), rev], cwd=REPO, check=True,
                   capture_output=True)
    return path


def run_once(root: Path, raw: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", RUN, json.dumps(raw)], cwd=root, env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{root}: run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--old", required=True, help="git revision of the engine before")
    p.add_argument("--new", default="WORK", help="git revision after (WORK: the working tree)")
    p.add_argument("--backend", default="ray", choices=["ray", "local"])
    p.add_argument("--cases", type=int, default=24)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="liverbench-engines-") as tmp:
        tmp = Path(tmp)
        roots = {"old": checkout(args.old, tmp), "new": checkout(args.new, tmp)}
        try:
            walls: dict[str, list[float]] = {"old": [], "new": []}
            dice = {}
            for r in range(args.repeats):
                for which in ("old", "new"):
                    raw = {"name": f"{which}-{r}", "runs_dir": str(tmp / "runs"),
                           "dataset": {"name": "synthetic", "params": {"n_cases": args.cases, "preset": "small"}},
                           "split": {"kind": "none"}, "methods": [{"name": "intensity"}],
                           "postprocessors": [{"name": "largest-component"}],
                           "execution": {"backend": args.backend, "num_cpus": 2, "max_in_flight": 4}}
                    res = run_once(roots[which], raw)
                    walls[which].append(res["wall"])
                    dice[which] = res["dice"]
                    print(f"  repeat {r}: {which} ({args.old if which == 'old' else args.new}) {res['wall']:.2f} s, "
                          f"{res['ok']} rows ok", flush=True)
        finally:
            for which, root in roots.items():
                if root != REPO:
                    subprocess.run(["git", "worktree", "remove", "--force", str(root)], cwd=REPO, capture_output=True)
    old, new = statistics.median(walls["old"]), statistics.median(walls["new"])
    ratio = statistics.median(n / o for o, n in zip(walls["old"], walls["new"]))
    print(f"{args.backend}, intensity + threshold + largest-component on {args.cases} 'small' phantoms, 2 CPUs")
    print(f"old {args.old}: {old:.2f} s   new {args.new}: {new:.2f} s   new/old (median of pairs): {ratio:.2f}x")
    print(f"same Dice on every row: {dice['old'] == dice['new']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

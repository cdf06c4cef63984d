"""Engine scaling: the same 24 evaluation rows on 1 Ray worker and on 2, in one process; and
Ray's per-task overhead measured with no-op tasks.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/engine_scaling.py [--cases 24] [--preset small]

Rows: the learning-free `intensity` baseline (no fit) + `threshold` on `--cases` synthetic
phantoms, split "none" (every case scored), scored inside the prediction actor (`--refine-in
tasks`: one Ray task per row, as before 2026-12-01). Each configuration gets a fresh local Ray instance
with N CPU slots *and* pinned to N cores (`sched_setaffinity` before `ray.init`; Ray's raylet
and workers inherit it), so "1 worker" really is one core even on a bigger machine. The wall
time is `runner.run` end to end (prediction actors start, cases are read and generated in the
workers, predicted, refined, scored, stored), Ray start-up excluded.

Overhead: (a) round trip of one no-op task at a time (submit + get), median of 200; (b) 1000
no-op tasks submitted at once, wall / 1000. Pass: speed-up >= 1.7 and (a) < 50 ms.

Ceiling: the same rows' work (read/generate, predict, threshold, score) in 1 plain process vs
2 (multiprocessing, no Ray, no store), interleaved with the engine runs: what two cores of this
machine give for this work at best, so the engine's figure can be read against it. And the same
work in 1 vs 2 bare Ray actors (warm, each given its share of the rows in one call, no engine,
no refine tasks, no store): what Ray itself allows here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def run_rows(workers: int, cases: int, preset: str, root: Path, refine_in: str = "auto") -> tuple[float, int, float]:
    import ray

    from liverbench.run import runner
    from liverbench.run.config import parse

    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < workers:
        raise SystemExit(f"needs {workers} cores, this process may use {len(cores)}")
    os.sched_setaffinity(0, set(cores[:workers]))
    try:
        ray.init(num_cpus=workers, num_gpus=0, include_dashboard=False, log_to_driver=False)
        cfg = parse({
            "name": f"scaling-{workers}w", "runs_dir": str(root),
            "dataset": {"name": "synthetic", "params": {"n_cases": cases, "preset": preset, "seed": 0}},
            "split": {"kind": "none"},
            "methods": [{"name": "intensity", "params": {}}],
            "postprocessors": [],
            "execution": {"backend": "ray", "num_cpus": workers, "max_in_flight": 2 * workers,
                          "ray": {"refine_in": refine_in}},
        })
        t0 = time.perf_counter()
        out = runner.run(cfg, quiet=True)
        wall = time.perf_counter() - t0
        if out.exit_code != 0:
            raise SystemExit(out.summary())
        from liverbench.run.store import ResultStore

        rows = ResultStore(out.run_dir).rows()
        # time spent inside the units of work (read + predict + refine + score), summed over rows
        busy = float(rows[["t_read", "t_preprocess", "t_predict", "t_refine", "t_metrics"]].sum().sum())
        return wall, out.n_ok, busy
    finally:
        ray.shutdown()
        os.sched_setaffinity(0, set(cores))


def _plain_rows(case_indices: list[int], cases: int, preset: str) -> None:
    """One worker's share of the rows, without the engine: what the units compute, nothing else."""
    import baselines.intensity as intensity
    from liverbench.data.datasets.synthetic import SyntheticDataset
    from liverbench.metrics import evaluate
    from liverbench.plugins.base import Context

    ds = SyntheticDataset(n_cases=cases, preset=preset, seed=0)
    ids = list(ds.case_ids())
    model = intensity.IntensityBaseline()
    for i in case_indices:
        case = ds.load(ids[i])
        prob = model.predict(case.image, Context(seed=0, case_id=case.id)).prob
        evaluate(prob >= 0.5, case.mask.array.astype(bool), case.mask.spacing)


def plain_ceiling(pools: dict, cases: int, preset: str) -> tuple[float, float]:
    """Wall of all rows in 1 plain process and split over 2 (pools already warm)."""
    t0 = time.perf_counter()
    pools[1].starmap(_plain_rows, [(list(range(cases)), cases, preset)])
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    pools[2].starmap(_plain_rows, [(list(range(0, cases, 2)), cases, preset),
                                   (list(range(1, cases, 2)), cases, preset)])
    return one, time.perf_counter() - t0


class _BareWorker:
    """A Ray actor doing `_plain_rows` (the bare-Ray comparison)."""

    def rows(self, case_indices: list[int], cases: int, preset: str) -> None:
        _plain_rows(case_indices, cases, preset)


def bare_ray(workers: int, cases: int, preset: str) -> float:
    """Wall of all rows split over `workers` warm Ray actors, pinned like `run_rows`."""
    import ray

    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, set(cores[:workers]))
    try:
        ray.init(num_cpus=workers, num_gpus=0, include_dashboard=False, log_to_driver=False)
        actors = [ray.remote(_BareWorker).options(num_cpus=0).remote() for _ in range(workers)]
        ray.get([a.rows.remote([0], 2, preset) for a in actors])  # imports, warm caches
        t0 = time.perf_counter()
        ray.get([a.rows.remote(list(range(k, cases, workers)), cases, preset) for k, a in enumerate(actors)])
        return time.perf_counter() - t0
    finally:
        ray.shutdown()
        os.sched_setaffinity(0, set(cores))


def task_overhead() -> tuple[float, float]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        @ray.remote(num_cpus=1)
        def noop():
            return None

        ray.get([noop.remote() for _ in range(50)])  # start the workers
        singles = []
        for _ in range(200):
            t0 = time.perf_counter()
            ray.get(noop.remote())
            singles.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ray.get([noop.remote() for _ in range(1000)])
        batch = (time.perf_counter() - t0) / 1000
        return statistics.median(singles), batch
    finally:
        ray.shutdown()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=24)
    p.add_argument("--preset", default="small")
    p.add_argument("--repeats", type=int, default=5, help="interleaved 1-worker / 2-worker pairs (median)")
    p.add_argument("--refine-in", default="auto", choices=["auto", "tasks"],
                   help="execution.ray.refine_in: 'auto' = the CPU actor scores its rows, 'tasks' = one Ray task per row")
    args = p.parse_args(argv)
    walls: dict[int, list[float]] = {1: [], 2: []}
    busy: dict[int, list[float]] = {1: [], 2: []}
    plain: dict[int, list[float]] = {1: [], 2: []}
    bare: dict[int, list[float]] = {1: [], 2: []}
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="liverbench-scaling-") as tmp, \
            ctx.Pool(1) as pool1, ctx.Pool(2) as pool2:
        pools = {1: pool1, 2: pool2}
        # warm-up: both timed configurations find imports and the file cache equally warm
        run_rows(1, 2, args.preset, Path(tmp) / "warm")
        pool1.starmap(_plain_rows, [([0], 2, args.preset)])
        pool2.starmap(_plain_rows, [([0], 2, args.preset), ([1], 2, args.preset)])
        # interleaved, so a change in the machine's load hits every configuration alike
        for r in range(args.repeats):
            for w in (1, 2):
                wall, n, b = run_rows(w, args.cases, args.preset, Path(tmp) / f"r{r}", args.refine_in)
                walls[w].append(wall)
                busy[w].append(b)
                n1 = n2 = n
                print(f"  repeat {r}: {w} worker(s) {wall:.2f} s", flush=True)
            p1, p2 = plain_ceiling(pools, args.cases, args.preset)
            plain[1].append(p1)
            plain[2].append(p2)
            print(f"  repeat {r}: plain processes, 1: {p1:.2f} s, 2: {p2:.2f} s", flush=True)
            for w in (1, 2):
                bare[w].append(bare_ray(w, args.cases, args.preset))
            print(f"  repeat {r}: bare Ray actors, 1: {bare[1][-1]:.2f} s, 2: {bare[2][-1]:.2f} s", flush=True)
    single, batch = task_overhead()
    one, two = statistics.median(walls[1]), statistics.median(walls[2])
    speedup = one / two
    # parallel efficiency: time inside the units / (wall x workers); 1.0 = no idle worker
    eff1 = statistics.median(b / w for b, w in zip(busy[1], walls[1]))
    eff2 = statistics.median(b / (2 * w) for b, w in zip(busy[2], walls[2]))
    ok = speedup >= 1.7 and single < 0.050
    print(f"rows: {n1} (1 worker), {n2} (2 workers); intensity + threshold on {args.cases} '{args.preset}' phantoms; "
          f"refine_in = {args.refine_in!r}")
    print(f"wall 1 worker  : {one:7.2f} s  ({one / n1:.3f} s/row)")
    print(f"wall 2 workers : {two:7.2f} s  ({two / n2:.3f} s/row)")
    print(f"speed-up       : {speedup:.2f}x  (target >= 1.7; per pair: "
          f"{', '.join(f'{a / b:.2f}x' for a, b in zip(walls[1], walls[2]))})")
    ceiling = statistics.median(a / b for a, b in zip(plain[1], plain[2]))
    print(f"plain 1 vs 2   : {ceiling:.2f}x  (same work in plain processes, no engine: this machine's ceiling; "
          f"engine reaches {speedup / ceiling:.0%} of it)")
    bare_ratio = statistics.median(a / b for a, b in zip(bare[1], bare[2]))
    print(f"bare Ray 1 vs 2: {bare_ratio:.2f}x  (same work in warm Ray actors, no engine: Ray's ceiling here; "
          f"engine reaches {speedup / bare_ratio:.0%} of it)")
    print(f"worker busy    : {eff1:.0%} (1 worker), {eff2:.0%} (2 workers) of wall x workers")
    print(f"Ray no-op task : {single * 1000:.2f} ms round trip (median of 200), "
          f"{batch * 1000:.2f} ms each in a batch of 1000  (target < 50 ms)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

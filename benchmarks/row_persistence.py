"""Cost of journaling every result row as it finishes, against the old batching alone.

The driver used to keep finished rows in memory and write them as one Parquet part every
`flush_every` (8) rows, so a SIGKILL lost up to 7 finished rows. `ResultStore.append` now also
writes each row as one JSON line to `results/journal-*.jsonl` and flushes it to the OS; a part
write deletes the journal it covers. This times recording 480 rows (a mid-sized run: 40 cases
x 4 methods x 3 refinements) both ways, through the real `ResultStore` (schema-complete rows,
the default `flush_every = 8`), interleaved repeats, medians; then the read-back time of
`rows()` over the finished run folder.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/row_persistence.py [--rows 480] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from liverbench.run.store import ResultStore
from liverbench.schema import ALL_COLUMNS, METRIC_COLUMNS, TIMING_COLUMNS


class BatchedOnly(ResultStore):
    """The store as it was: rows wait in memory until `flush()`."""

    def append(self, row):
        self._buffer.append(row)


def make_rows(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        row = {c: "" for c in ALL_COLUMNS}
        row.update({c: float(v) for c, v in zip(METRIC_COLUMNS, rng.uniform(0, 100, len(METRIC_COLUMNS)))})
        row.update({c: float(v) for c, v in zip(TIMING_COLUMNS, rng.uniform(0, 5, len(TIMING_COLUMNS)))})
        row.update(row_key=f"{i:016x}", fit_key="f" * 16, run="bench", dataset="synthetic", case_id=f"syn-{i % 40:03d}",
                   method="dsn3d", method_version="3", method_params='{"preset":"cpu"}', postprocessor="densecrf",
                   pp_version="1", pp_params="{}", fold=0, seed=0, cold=i == 0, device="cpu", host="bench",
                   peak_rss_mb=812.5, peak_gpu_mb=None, status="ok", error="", note="")
        rows.append(row)
    return rows


def record_all(store_cls, rows, flush_every: int) -> tuple[float, float]:
    """(seconds to record every row, seconds to read the run back), in a fresh folder."""
    with tempfile.TemporaryDirectory(prefix="lb-rows-") as tmp:
        store = store_cls(Path(tmp))
        t0 = time.perf_counter()
        for i, row in enumerate(rows, 1):
            store.append(dict(row))
            if i % flush_every == 0:
                store.flush()
        store.flush()
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        assert len(ResultStore(Path(tmp)).rows()) == len(rows)
        return t_write, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=480)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--flush-every", type=int, default=8)
    args = ap.parse_args()
    rows = make_rows(args.rows)
    record_all(ResultStore, rows[:16], args.flush_every)  # warm-up: imports, pyarrow
    times = {"batched (old)": [], "journaled (new)": []}
    reads = {"batched (old)": [], "journaled (new)": []}
    for _ in range(args.repeats):
        for label, cls in (("batched (old)", BatchedOnly), ("journaled (new)", ResultStore)):
            w, r = record_all(cls, rows, args.flush_every)
            times[label].append(w)
            reads[label].append(r)
    base = statistics.median(times["batched (old)"])
    print(f"{args.rows} rows, flush_every = {args.flush_every}, {args.repeats} interleaved repeats (medians)")
    for label in times:
        med = statistics.median(times[label])
        print(f"  {label:<16} record {med:7.3f} s ({med / args.rows * 1e3:6.3f} ms/row, {med / base:5.2f}x)"
              f"   read back {statistics.median(reads[label]):6.3f} s")
    extra = statistics.median(times["journaled (new)"]) - base
    print(f"  journal cost: {extra / args.rows * 1e3:+.3f} ms per row")


if __name__ == "__main__":
    main()

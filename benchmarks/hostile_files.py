"""Memory and time to refuse hostile NIfTI files, and the cost of the bounded reader on real CT.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/hostile_files.py [--repeats 5]

Part 1 reads each hostile file (made here: gzip bombs of many identical members, headers
claiming huge shapes; see tests/unit/test_io_hostile.py) with `liverbench.data.io.read_volume` in a
fresh process and prints the wall time and the process's peak RSS beyond what its imports took.
The "whole" column does what the reader did before issue 31 (`gzip.decompress` of the file,
then nibabel's `from_bytes`), capped by RLIMIT_AS at 6 GiB so the machine survives: it shows
what the file would ask for.

Part 2 times `read_volume` on the real CT of ../shared/data/real (33 MB .nii.gz, 512 x 512 x
129 int16) against that whole-file way, interleaved, medians of `--repeats`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from test_io_hostile import hostile_files  # noqa: E402  (the same bombs the tests use)

PROBE = textwrap.dedent("""
    import gzip, resource, sys, time
    import nibabel as nib, numpy as np
    from liverbench.data.io import read_volume
    from liverbench.errors import InputError
    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    base = rss()
    resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, resource.RLIM_INFINITY))
    path, how = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    try:
        if how == "bounded":
            read_volume(path)
            outcome = "read"
        else:
            raw = gzip.decompress(open(path, "rb").read()) if path.endswith(".gz") else open(path, "rb").read()
            image = nib.Nifti1Image.from_bytes(raw)
            np.asarray(image.dataobj)
            outcome = "read"
    except InputError as exc:
        outcome = "refused: " + str(exc).split(": ", 1)[1][:60]
    except MemoryError:
        outcome = "MemoryError (over 6 GiB)"
    except Exception as exc:
        outcome = type(exc).__name__
    print(f"{time.perf_counter() - t0:.2f}\\t{rss() - base:.0f}\\t{outcome}")
""")


def probe(path: Path, how: str) -> tuple[float, float, str]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(path), how], capture_output=True, text=True,
                         timeout=600, cwd=ROOT).stdout.strip().split("\t")
    return float(out[0]), float(out[1]), out[2]


def real_read_times(repeats: int) -> None:
    import gzip

    import nibabel as nib
    import numpy as np

    from liverbench.data.io import read_volume

    path = ROOT.parent / "shared" / "data" / "real" / "ircadb1_01" / "image.nii.gz"
    if not path.is_file():
        print(f"\n(real CT not found at {path}: part 2 skipped)")
        return
    bounded, whole = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        read_volume(path)
        bounded.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.asarray(nib.Nifti1Image.from_bytes(gzip.decompress(path.read_bytes())).dataobj)
        whole.append(time.perf_counter() - t0)
    b, w = statistics.median(bounded), statistics.median(whole)
    print(f"\n{path.name} ({path.stat().st_size / 1e6:.0f} MB): read_volume {b:.3f} s, whole-file decompress "
          f"+ from_bytes {w:.3f} s (medians of {repeats}; ratio {b / w:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = hostile_files(Path(tmp))
        print(f"{'file':<14} {'size':>9}  {'bounded: s':>10} {'MB':>6}  outcome | {'whole: s':>8} {'MB':>6}  outcome")
        for name, (path, _) in files.items():
            tb, mb, ob = probe(path, "bounded")
            tw, mw, ow = probe(path, "whole")
            print(f"{name:<14} {path.stat().st_size / 1e6:>7.2f}MB  {tb:>10.2f} {mb:>6.0f}  {ob} | "
                  f"{tw:>8.2f} {mw:>6.0f}  {ow}")
    real_read_times(args.repeats)


if __name__ == "__main__":
    main()

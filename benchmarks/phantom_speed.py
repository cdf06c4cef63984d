"""Time the synthetic phantom generator per preset (median wall and CPU seconds per case).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/phantom_speed.py
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from liverbench.data.phantom import generate_phantom

SEEDS = {"tiny": 10, "small": 10, "realistic": 3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=list(SEEDS), choices=list(SEEDS))
    args = parser.parse_args()
    generate_phantom(0, "tiny")  # warm imports and caches
    for preset in args.presets:
        wall, cpu, shapes = [], [], set()
        for seed in range(SEEDS[preset]):
            t0, c0 = time.perf_counter(), time.process_time()
            phantom = generate_phantom(seed, preset)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            shapes.add(phantom.case.image.shape)
        print(
            f"{preset:>9}: median wall {np.median(wall):.3f} s, median CPU {np.median(cpu):.3f} s "
            f"(CPU {min(cpu):.3f}-{max(cpu):.3f}); {len(shapes)} shapes e.g. {sorted(shapes)[0]}; "
            f"load average {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()

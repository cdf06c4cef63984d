"""Bitwise identity of the learning-free `intensity` baseline across a change of its code.

Predicts a spread of images and prints the SHA-256 of each P(liver) map (float32 bytes): every
case of shared/data/real; synthetic "small" phantoms (native and contrast) and each of them drawn
with every failure mode of `liverbench.data.phantom.failure_modes` (thick slices included); two of them
3x finer in-plane, where the native-grid border band and its keep-outs run; a scan that starts
inside the liver; "tiny" phantoms; an image of air; and ircadb1_17 and the finer phantoms with
each optional step switched off. `--rev REV` predicts the same with the baseline as committed at
git revision REV (side by side, `baseline_accuracy.baseline_at`); `--save` writes the hashes to a
JSON file and `--against` compares with one written before. Exit status 1 when any map differs.
`--timing N` then times `predict` on a 512x512x150 case (ircadb1_01 padded in memory) N times per
baseline, the baselines taking turns so that the machine's load falls on both alike (one core: run
with OMP_NUM_THREADS=1).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/intensity_identity.py [--rev REV] [--save FILE] [--against FILE] [--no-real] [--timing 9]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline_accuracy import baseline_at, timing_volume  # noqa: E402

from liverbench.data.datasets.real import RealDataset  # noqa: E402
from liverbench.data.phantom import generate_phantom, make_phantom  # noqa: E402
from liverbench.data.phantom.failure_modes import FAILURE_MODES, with_failure_mode  # noqa: E402
from liverbench.data.volume import Volume  # noqa: E402
from liverbench.plugins.base import Context  # noqa: E402

PHANTOMS = (0, 1, 4, 6, 18, 44)  # native 0 and 4 (back muscles), contrast 1 and 6 (cava), 18 (window), 44 (no cava run)
REAL_SWITCHED = "ircadb1_17"  # every correction changes it (the left lobe's thin parts only here)
FINER = (1, 4)  # 3x finer in-plane: block factors > 1, so the border band and its keep-outs run
SWITCHES = ("border_band_mm", "lesion_fill_mm", "dome_gap_mm", "lobe_opening_mm", "cava_min_mm", "back_min_mm2")


def finer(volume: Volume) -> Volume:
    array = np.repeat(np.repeat(volume.array, 3, axis=1), 3, axis=2)
    return Volume(array, (volume.spacing[0], volume.spacing[1] / 3, volume.spacing[2] / 3))


def images(real: bool):
    """(name, image, params) of every prediction compared."""
    if real:
        dataset = RealDataset()
        for case_id in dataset.case_ids():
            yield case_id, dataset.load(case_id).image, {}
        image = dataset.load(REAL_SWITCHED).image
        for key in SWITCHES:
            yield f"{REAL_SWITCHED}-{key}=0", image, {key: 0.0}
    for seed in PHANTOMS:
        phantom = generate_phantom(seed, "small")
        yield f"small-{seed}", phantom.case.image, {}
        for mode in FAILURE_MODES:
            yield f"small-{seed}-{mode}", with_failure_mode(phantom, mode).image, {}
    for seed in FINER:
        image = finer(make_phantom(seed, preset="small").image)
        yield f"small-{seed}-finer", image, {}
        for key in SWITCHES:
            yield f"small-{seed}-finer-{key}=0", image, {key: 0.0}
    case = make_phantom(1, preset="small")
    first = int(np.nonzero(case.liver.any(axis=(1, 2)))[0][0])
    yield "small-1-from-inside-the-liver", Volume(case.image.array[first + 4:], case.image.spacing), {}
    yield "small-1-no-median", case.image, {"median": False}
    for seed in (1, 3):
        yield f"tiny-{seed}", make_phantom(seed, preset="tiny").image, {}
    yield "air", Volume(np.full((20, 40, 40), -1000, np.int16), (2.5, 2.5, 2.5)), {}


def digest(prob: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(prob, dtype=np.float32).tobytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="", help="git revision of the baseline to predict side by side")
    parser.add_argument("--save", type=Path, help="write the working tree's hashes to this JSON file")
    parser.add_argument("--against", type=Path, help="compare with hashes saved before by --save")
    parser.add_argument("--no-real", action="store_true", help="skip shared/data/real")
    parser.add_argument("--timing", type=int, default=0, help="turns of the 512x512x150 timing (0 = skip)")
    args = parser.parse_args()
    models = {"working tree": baseline_at(None)}
    if args.rev:
        models[args.rev] = baseline_at(args.rev)
    saved = json.loads(args.against.read_text(encoding="utf-8")) if args.against else {}
    hashes, differ = {}, []
    for name, image, params in images(not args.no_real):
        found = {label: digest(type(model)(**params).predict(image, Context(case_id=name)).prob)
                 for label, model in models.items()}
        if name in saved:
            found[str(args.against)] = saved[name]
        hashes[name] = found["working tree"]
        same = len(set(found.values())) == 1
        differ += [] if same else [name]
        print(f"{name:40s} {found['working tree'][:16]} {'identical' if same else 'DIFFERS: ' + str(found)}", flush=True)
    missing = sorted(set(saved) - set(hashes))
    if missing:
        print(f"{args.against}: {len(missing)} saved image(s) not predicted here: {missing}")
    if args.save:
        args.save.write_text(json.dumps(hashes, indent=1, sort_keys=True), encoding="utf-8")
    compared = " and ".join([f"--rev {args.rev}"] * bool(args.rev) + [str(args.against)] * bool(args.against))
    print(f"{len(hashes)} maps, {len(differ)} differ" + (f" (working tree against {compared})" if compared else ""))
    if args.timing:
        print_timing(models, args.timing)
    sys.exit(1 if differ else 0)


def print_timing(models: dict, turns: int) -> None:
    """Median predict seconds of each baseline on `timing_volume()`, taking turns."""
    volume = timing_volume()
    times: dict[str, list[float]] = {label: [] for label in models}
    for _ in range(turns):
        for label, model in models.items():
            start = time.perf_counter()
            model.predict(volume, Context(case_id="ircadb1_01-150"))
            times[label].append(time.perf_counter() - start)
    first = statistics.median(times["working tree"])
    for label, seconds in times.items():
        median = statistics.median(seconds)
        print(f"512x512x150 (ircadb1_01 padded), {label}: median {median:.2f} s over {turns} turns "
              f"({median / first:.2f}x the working tree's; all: {', '.join(f'{t:.2f}' for t in seconds)})")


if __name__ == "__main__":
    main()

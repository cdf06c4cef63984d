"""Speed of the neural baselines with the `paper` preset on a CUDA GPU (mixed precision).

Per method: training time per iteration (median over the timed iterations, after warm-up;
for di2in-adv per adversarial iteration of k_D = 10 discriminator steps with mini-batch 8 and
k_G = 1 generator step with mini-batch 4) and inference time per volume on "realistic"
512x512xN synthetic phantoms, both the network alone on the preprocessed volume (the papers'
figure: Yang et al. < 1 s on a TITAN X; goal here < 0.2 s) and the whole `predict` call
(HU window, resampling to the working grid and back, on the CPU).  Prints the GPU's name;
without CUDA it says so and exits with status 2.

    .venv/bin/python benchmarks/gpu_paper_preset.py                  # on a machine with a GPU
    .venv/bin/python benchmarks/gpu_paper_preset.py --append         # and add to RESULTS.md
    .venv/bin/python benchmarks/gpu_paper_preset.py --cpu-dry-run    # check the script itself (tiny, CPU)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baselines.di2in import DI2IN  # noqa: E402
from baselines.di2in_adv import DI2INAdversarial  # noqa: E402
from baselines.dou_dsn import DSN3D  # noqa: E402
from baselines.inference import infer  # noqa: E402
from baselines.training import as_triple, prepare_image  # noqa: E402
from liverbench.phantom import make_phantom  # noqa: E402
from liverbench.plugin import Context  # noqa: E402


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_training(cls, cases, device: str, iterations: int, adv_iterations: int | None, dry: bool, overrides):
    """Median seconds per iteration (pre-training / supervised) and per adversarial iteration."""
    stamps: list[float] = []

    def progress(done, total, message):
        _sync(device)
        stamps.append(time.perf_counter())

    params = {"iterations": iterations, "val_patches": 0, "checkpoint_every": 10**6, **overrides}
    if adv_iterations is not None:
        params["adv_iterations"] = adv_iterations
    method = cls(preset="cpu" if dry else "paper", **params)
    with tempfile.TemporaryDirectory() as tmp:
        _sync(device)
        start = time.perf_counter()
        method.fit(cases[:-1], [], Context(device=device, seed=0, workdir=Path(tmp), progress=progress))
    steps = np.diff([start, *stamps])
    supervised = steps[:iterations][3:] if iterations > 4 else steps[:iterations]
    adversarial = steps[iterations:][1:] if adv_iterations and adv_iterations > 2 else steps[iterations:]
    return method, (float(np.median(supervised)) if len(supervised) else float("nan")), (
        float(np.median(adversarial)) if len(adversarial) else None
    )


def time_inference(method, cases, device: str, repeats: int):
    """(network-only seconds, full predict seconds), medians over warm calls."""
    c = method.config
    net_times, predict_times = [], []
    for case in cases:
        prepared = prepare_image(case.image, method.spacing, c["hu"])
        kwargs = dict(stride=method.network_stride, device=torch.device(device), amp=c["amp"], max_voxels=c["max_voxels"],
                      tile=as_triple(c["tile"], "tile"), overlap=c["overlap"], blend=c["blend"])
        infer(method.net, method.network_class.probabilities, prepared.array, **kwargs)  # warm-up (cuDNN autotune)
        for _ in range(repeats):
            _sync(device)
            t = time.perf_counter()
            infer(method.net, method.network_class.probabilities, prepared.array, **kwargs)
            _sync(device)
            net_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        method.predict(case.image, Context(device=device, case_id=case.id))
        _sync(device)
        predict_times.append(time.perf_counter() - t)
    return statistics.median(net_times), statistics.median(predict_times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=20, help="timed supervised iterations per method")
    ap.add_argument("--adv-iterations", type=int, default=5, help="timed adversarial iterations (di2in-adv)")
    ap.add_argument("--cases", type=int, default=4, help="realistic phantoms (the last is only predicted)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpu-dry-run", action="store_true", help="tiny phantoms, cpu preset, CPU: checks the script runs")
    ap.add_argument("--append", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)

    dry = args.cpu_dry_run
    if not dry and not torch.cuda.is_available():
        print("gpu_paper_preset: no CUDA device is available (torch.cuda.is_available() is False); "
              "run this on a machine with an NVIDIA GPU and a CUDA build of torch.", file=sys.stderr)
        return 2
    device = "cpu" if dry else "cuda"
    gpu = "CPU dry run" if dry else torch.cuda.get_device_name(0)
    print(f"device: {gpu}; torch {torch.__version__}; mixed precision: {not dry}", flush=True)
    preset = "tiny" if dry else "realistic"
    cases = [make_phantom(seed, preset) for seed in range(max(2, args.cases))]
    print("phantoms:", [c.image.shape for c in cases], flush=True)
    overrides = {"spacing_mm": 8.0, "patch": [16, 32, 32], "width": 0.125} if dry else {}

    rows = []
    plan = [("dsn3d", DSN3D, None), ("di2in", DI2IN, None), ("di2in-adv", DI2INAdversarial, args.adv_iterations)]
    for name, cls, adv in plan:
        if torch.cuda.is_available() and not dry:
            torch.cuda.reset_peak_memory_stats()
        extra = dict(overrides)
        if dry and cls is DI2INAdversarial:
            extra["d_width"] = 0.125
        method, t_iter, t_adv = time_training(cls, cases, device, args.iterations, adv, dry, extra)
        t_net, t_predict = time_inference(method, cases[-1:] if dry else cases, device, args.repeats)
        peak = torch.cuda.max_memory_allocated() / 2**30 if (torch.cuda.is_available() and not dry) else float("nan")
        rows.append((name, t_iter, t_adv, t_net, t_predict, peak))
        adv_text = f"  adversarial iteration {t_adv:.3f} s" if t_adv is not None else ""
        print(f"{name:10s} train {t_iter:.3f} s/iteration{adv_text}  inference: network {t_net:.3f} s/volume, "
              f"predict() {t_predict:.3f} s/volume  peak GPU memory {peak:.1f} GiB", flush=True)

    lines = [
        "| method | train (s/iteration) | adversarial iteration (s) | network inference (s/volume) | predict() incl. CPU resampling (s/volume) | peak GPU memory (GiB) |",
        "|---|---|---|---|---|---|",
    ]
    for name, t_iter, t_adv, t_net, t_predict, peak in rows:
        lines.append(f"| {name} | {t_iter:.3f} | {'' if t_adv is None else f'{t_adv:.3f}'} | {t_net:.3f} | {t_predict:.3f} | {peak:.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.append and not dry:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a") as fh:
            fh.write(
                f"\n## Neural baselines, `paper` preset, GPU ({gpu})\n\n"
                f"Mixed precision (autocast fp16 + GradScaler); {args.iterations} supervised iterations timed per method "
                f"(median after 3 warm-up), {args.adv_iterations} adversarial iterations for di2in-adv; inference on "
                f"{len(cases)} realistic 512x512xN phantoms, median of warm calls.\n\n"
                f"Command: `.venv/bin/python benchmarks/gpu_paper_preset.py {' '.join(argv or sys.argv[1:])}`\n\n{table}\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

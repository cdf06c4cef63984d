"""The device check: the neural methods' GPU path in one command (<= 8 min on one modern GPU).

    bash benchmarks/gpu_check.sh [OUT_DIR]          # on a machine with an NVIDIA GPU
    bash benchmarks/gpu_check.sh /tmp/x --cpu-dry-run   # checks the script itself (tiny, CPU)

(a) Training: each of cnn3d, dsn3d, di2in and di2in-adv with the `paper` preset (mixed precision
    on CUDA) for a capped number of iterations on "realistic" 512x512xN phantoms: loss at start
    and end (mean of the first / last five iterations), iterations per second (median of the
    steps after three warm-up steps; di2in-adv: its adversarial iterations, k_D = 10 steps of
    batch 8 and k_G = 1 of batch 4) and peak GPU memory.
(b) Inference: whole-volume network inference on each method's working grid (DI2IN: 3 mm
    isotropic; Yang et al. report < 1 s, the goal here is <= 0.2 s), CUDA-synchronised,
    median of warm calls; and the whole `predict` (HU window, resampling there and back).
(c) A small `liverbench run` (dsn3d and di2in, paper preset, capped iterations, 6 "small"
    phantoms) on Ray with execution.num_gpus = 1, end to end; where Ray is not installed (the
    lent H200 image has none, and Ray's wheel is larger than what the device tool carries) it
    runs with the local backend, and says so.

Everything goes to OUT_DIR: gpu_check.json (every figure), gpu_check.md (the tables for
benchmarks/RESULTS.md), and the log. The run's own folder stays in a temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
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
from baselines.dou_dsn import CNN3D, DSN3D  # noqa: E402
from baselines.inference import infer  # noqa: E402
from baselines.training import as_triple, prepare_image  # noqa: E402
from liverbench.data.phantom import make_phantom  # noqa: E402
from liverbench.plugins.base import Context  # noqa: E402

METHODS = [CNN3D, DSN3D, DI2IN, DI2INAdversarial]
# Tiny networks on tiny phantoms for --cpu-dry-run (the paper preset's other settings stay).
DRY = {"spacing_mm": 8.0, "patch": [16, 32, 32], "tile": [32, 64, 64], "width": 0.125, "batch_size": 1}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def fit_method(cls, cases, device: str, iterations: int, adv_iterations: int, dry: bool) -> tuple[object, dict]:
    stamps: list[float] = []

    def progress(done, total, message):
        _sync(device)
        stamps.append(time.perf_counter())

    params = {"iterations": iterations, "val_patches": 0, "checkpoint_every": 10**6, **(DRY if dry else {})}
    if cls is DI2INAdversarial:
        params.update(adv_iterations=adv_iterations, **({"d_width": 0.125, "batch_d": 2, "batch_g": 1} if dry else {}))
    method = cls(preset="paper", **params)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        _sync(device)
        start = time.perf_counter()
        method.fit(cases, [], Context(device=device, seed=0, workdir=Path(tmp), progress=progress))
    steps = np.diff([start, *stamps])
    supervised, adversarial = steps[:iterations], steps[iterations:]
    # di2in-adv's adversarial iterations follow its supervised pre-training in the same curve
    losses = [r["loss"] for r in method.learning_curves() if r["split"] == "train"]
    adv_losses = losses[iterations:] or None
    losses = losses[:iterations]

    def rate(s):
        s = s[3:] if len(s) > 4 else s
        return float(1.0 / np.median(s)) if len(s) else None

    return method, {
        "method": cls.name, "iterations": iterations, "loss_start": float(np.mean(losses[:5])),
        "loss_end": float(np.mean(losses[-5:])), "iterations_per_s": rate(supervised),
        "adv_iterations": len(adversarial) or None, "adv_iterations_per_s": rate(adversarial),
        "adv_loss": adv_losses and [float(adv_losses[0]), float(adv_losses[-1])],
        "fit_s": float(sum(steps)), "peak_gpu_gib": torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None,
    }


def time_inference(method, case, device: str, repeats: int) -> dict:
    c = method.config
    prepared = prepare_image(case.image, method.spacing, c["hu"])
    kwargs = dict(stride=method.network_stride, device=torch.device(device), amp=c["amp"], max_voxels=c["max_voxels"],
                  tile=as_triple(c["tile"], "tile"), overlap=c["overlap"], blend=c["blend"])
    infer(method.net, method.network_class.probabilities, prepared.array, **kwargs)  # warm-up (cuDNN autotune)
    net = []
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        infer(method.net, method.network_class.probabilities, prepared.array, **kwargs)
        _sync(device)
        net.append(time.perf_counter() - t)
    full = []
    for _ in range(max(1, repeats // 2)):
        _sync(device)
        t = time.perf_counter()
        method.predict(case.image, Context(device=device, case_id=case.id))
        _sync(device)
        full.append(time.perf_counter() - t)
    return {"method": method.name, "grid_shape": list(prepared.array.shape),
            "grid_spacing_mm": [round(float(s), 3) for s in prepared.spacing],
            "network_s": statistics.median(net), "predict_s": statistics.median(full)}


def liverbench_run(work: Path, iterations: int, dry: bool) -> dict:
    """(c): a small run through the CLI, on Ray with one GPU where Ray is installed."""
    try:
        import ray  # noqa: F401

        backend = "ray"
    except ImportError:
        backend = "local"
    params = {"preset": "paper", "iterations": iterations, "val_patches": 0, **(DRY if dry else {})}
    toml = "\n".join([
        'name = "gpu-check"', f'runs_dir = "{work / "runs"}"',
        "[dataset]", 'name = "synthetic"', f'params = {{ n_cases = 6, preset = "{"tiny" if dry else "small"}", seed = 0 }}',
        "[split]", 'kind = "fixed"', "test_fraction = 0.34", "val_fraction = 0.0", "seed = 0",
        *[line for name in ("dsn3d", "di2in") for line in
          ("[[methods]]", f'name = "{name}"', "params = " + _toml_inline(params))],
        "[[postprocessors]]", 'name = "threshold"',
        "[execution]", f'backend = "{backend}"', f"num_cpus = {min(8, os.cpu_count() or 1)}",
        f"num_gpus = {0 if dry else 1}", "allow_cpu_fallback = true", "seeds = [0]",
    ]) + "\n"
    cfg = work / "gpu_check_run.toml"
    cfg.write_text(toml, encoding="utf-8")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "liverbench", "run", str(cfg)], capture_output=True, text=True)
    wall = time.perf_counter() - t
    out = {"backend": backend, "num_gpus": 0 if dry else 1, "exit_code": proc.returncode, "wall_s": wall, "config": toml,
           "output_tail": (proc.stdout + proc.stderr)[-3000:]}
    try:
        from liverbench.run.store import ResultStore

        rows = ResultStore(work / "runs" / "gpu-check").rows()
        out["rows"] = rows[["method", "case_id", "postprocessor", "status", "device", "gpu_name", "dice",
                            "t_predict", "peak_gpu_mb"]].to_dict("records")
        fits = {}
        for fit_dir in sorted((work / "runs" / "gpu-check" / "fits").iterdir()):
            info = fit_dir / "fit.json"
            if info.is_file():
                fits[fit_dir.name] = json.loads(info.read_text())
        out["fits"] = fits
    except Exception as exc:  # noqa: BLE001 -- reported, the rest of the check stands
        out["rows_error"] = f"{type(exc).__name__}: {exc}"
    return out


def _toml_inline(params: dict) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in params.items()) + " }"


def environment(device: str) -> dict:
    env = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "device": device, "host": platform.node(), "cpus": os.cpu_count()}
    if device == "cuda":
        env["gpu"] = torch.cuda.get_device_name(0)
        env["gpu_memory_gib"] = torch.cuda.get_device_properties(0).total_memory / 2**30
    if shutil.which("nvidia-smi"):
        env["nvidia_smi"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                                            "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()
    return env


def markdown(result: dict) -> str:
    env = result["environment"]
    lines = [f"Device: {env.get('gpu', 'CPU dry run')} (torch {env['torch']}, CUDA {env['cuda']}); "
             f"`bash benchmarks/gpu_check.sh {' '.join(result['argv'])}`", "",
             "| method (paper preset) | iterations | loss start -> end | iterations/s | adversarial it/s | peak GPU (GiB) |",
             "|---|---|---|---|---|---|"]
    for f in result["training"]:
        adv = "" if f["adv_iterations_per_s"] is None else f"{f['adv_iterations_per_s']:.2f}"
        peak = "" if f["peak_gpu_gib"] is None else f"{f['peak_gpu_gib']:.1f}"
        lines.append(f"| {f['method']} | {f['iterations']} | {f['loss_start']:.3f} -> {f['loss_end']:.3f} | "
                     f"{f['iterations_per_s']:.2f} | {adv} | {peak} |")
    lines += ["", "| method | working grid (voxels, mm) | network inference (s/volume) | predict() (s/volume) |",
              "|---|---|---|---|"]
    for i in result["inference"]:
        lines.append(f"| {i['method']} | {'x'.join(map(str, i['grid_shape']))} at {i['grid_spacing_mm']} | "
                     f"{i['network_s']:.3f} | {i['predict_s']:.3f} |")
    run = result.get("run")
    if run:
        devices = sorted({str(r["device"]) for r in run.get("rows", [])})
        ok = sum(r["status"] == "ok" for r in run.get("rows", []))
        lines += ["", f"`liverbench run` ({run['backend']} backend, num_gpus = {run['num_gpus']}): exit {run['exit_code']}, "
                      f"{ok}/{len(run.get('rows', []))} rows ok, devices {devices}, {run['wall_s']:.0f} s wall."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/gpu_check", help="folder for gpu_check.json / .md (default: %(default)s)")
    ap.add_argument("--iterations", type=int, default=60, help="supervised iterations per method (default: %(default)s)")
    ap.add_argument("--adv-iterations", type=int, default=5, help="adversarial iterations of di2in-adv")
    ap.add_argument("--cases", type=int, default=3, help="realistic phantoms: all but the last train (default: %(default)s)")
    ap.add_argument("--repeats", type=int, default=5, help="warm inference calls timed per method")
    ap.add_argument("--run-iterations", type=int, default=150, help="iterations per fit in the liverbench run (c)")
    ap.add_argument("--skip-run", action="store_true", help="leave out (c)")
    ap.add_argument("--cpu-dry-run", action="store_true", help="tiny phantoms and networks on the CPU: checks the script")
    args = ap.parse_args(argv)
    dry = args.cpu_dry_run
    if not dry and not torch.cuda.is_available():
        print("gpu_check: no CUDA device is visible (torch.cuda.is_available() is False); run it on a machine with "
              "an NVIDIA GPU and a CUDA build of torch, or pass --cpu-dry-run to check the script.", file=sys.stderr)
        return 2
    device = "cpu" if dry else "cuda"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"argv": list(argv if argv is not None else sys.argv[1:]), "environment": environment(device)}
    print(json.dumps(result["environment"]), flush=True)
    t0 = time.perf_counter()
    cases = [make_phantom(seed, "tiny" if dry else "realistic") for seed in range(max(2, args.cases))]
    print(f"phantoms: {[c.image.shape for c in cases]} in {time.perf_counter() - t0:.0f} s", flush=True)
    result["training"], result["inference"] = [], []
    for cls in METHODS:
        method, fit = fit_method(cls, cases[:-1], device, args.iterations, args.adv_iterations, dry)
        result["training"].append(fit)
        print(f"(a) {cls.name:10s} loss {fit['loss_start']:.3f} -> {fit['loss_end']:.3f}, "
              f"{fit['iterations_per_s']:.2f} it/s, peak GPU {fit['peak_gpu_gib']} GiB", flush=True)
        inf = time_inference(method, cases[-1], device, args.repeats)
        result["inference"].append(inf)
        print(f"(b) {cls.name:10s} grid {inf['grid_shape']} @ {inf['grid_spacing_mm']} mm: network "
              f"{inf['network_s']:.3f} s, predict() {inf['predict_s']:.3f} s", flush=True)
        del method
        if device == "cuda":
            torch.cuda.empty_cache()
    if not args.skip_run:
        with tempfile.TemporaryDirectory(prefix="liverbench-gpu-check-") as work:
            result["run"] = liverbench_run(Path(work), args.run_iterations, dry)
        run = result["run"]
        print(f"(c) liverbench run ({run['backend']}): exit {run['exit_code']} in {run['wall_s']:.0f} s", flush=True)
        for row in run.get("rows", []):
            print(f"    {row['method']:8s} {row['case_id']:10s} {row['status']:6s} device={row['device']} "
                  f"gpu={row['gpu_name']!s} dice={row['dice']:.3f} t_predict={row['t_predict']:.3f}", flush=True)
        if run["exit_code"] != 0:
            print(run["output_tail"], flush=True)
    result["total_s"] = time.perf_counter() - t0
    (out / "gpu_check.json").write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    (out / "gpu_check.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    print(f"gpu_check: {result['total_s']:.0f} s; wrote {out / 'gpu_check.json'} and {out / 'gpu_check.md'}")
    return 0 if result.get("run", {}).get("exit_code", 0) == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

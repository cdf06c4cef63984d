"""`liverbench profile`: inference and refinement time per stage, on your hardware.

    liverbench profile intensity --refine largest-component --cases 4 --repeats 3

Stages: read (dataset load), preprocess (what the method times as "preprocess"), predict (the
rest of predict()), refine (the post-processor). The first call of the process is *cold*
(lazy imports, allocator and cache warm-up, CUDA context) and is shown apart, never mixed
into the medians. On CUDA the stopwatch synchronises around each stage.

`liverbench tune-refinement` (tune_command.py) uses its "get a model, open a dataset" part.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liverbench.devices import resolve_device
from liverbench.errors import ConfigError, InputError
from liverbench.memory import peak_rss_mb
from liverbench.plugins.base import Context, Prediction
from liverbench.run.workspec import construct
from liverbench.stopwatch import Stopwatch

STAGES = ("read", "preprocess", "predict", "refine")


def open_dataset(name: str, params: dict[str, Any] | None, n_needed: int):
    """The dataset to profile on; the synthetic one (its defaults) with `n_needed` phantoms unless given params."""
    from liverbench.plugins import registry

    cls = registry.get_dataset(name)
    if params is None:
        params = {"n_cases": n_needed} if name == "synthetic" else {}
    return construct(cls, params, "--dataset-params")


def _refinement(name: str, params: dict[str, Any] | None):
    from liverbench.plugins import registry

    return construct(registry.get_postprocessor(name), params or {}, "--refine-params")


def get_model(method: str, params: dict[str, Any], model_dir: str | None, ds, fit_ids: list[str], device: str):
    """(model, seconds to fit or load): a saved model, else one fitted here (if trainable)."""
    from liverbench.plugins import registry

    cls = registry.get_segmenter(method)
    t0 = time.perf_counter()
    if model_dir:
        if not Path(model_dir).is_dir():
            raise InputError(f"--model {model_dir}: no such directory")
        from liverbench.run.units import load_model

        model = load_model(cls, Path(model_dir))  # InputError naming the file (exit 3)
    else:
        model = construct(cls, params, "--params")
        if cls.trainable:
            if not fit_ids:
                raise ConfigError(f"{method} is trainable: pass --model DIR or leave cases for --fit-cases")
            cases = [ds.load(c) for c in fit_ids]
            n_val = 1 if len(cases) > 2 else 0
            model.fit(cases[n_val:], cases[:n_val], Context(device=device, seed=0))
    return model, time.perf_counter() - t0


def profile(method: str, *, params: dict[str, Any] | None = None, refine: str | None = None,
            refine_params: dict[str, Any] | None = None, cases: int = 4, repeats: int = 3,
            dataset: str = "synthetic", dataset_params: dict[str, Any] | None = None, model_dir: str | None = None,
            fit_cases: int = 4) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-call timings (one row per case x repeat) and a summary dict."""
    from liverbench.plugins import registry

    if cases < 1 or repeats < 1:
        raise ConfigError("--cases and --repeats must be >= 1")
    pp = _refinement(refine, refine_params) if refine else None  # bad params fail before any work
    device = resolve_device("auto")
    trainable = registry.get_segmenter(method).trainable and not model_dir
    ds = open_dataset(dataset, dataset_params, cases + (fit_cases if trainable else 0))
    ids = sorted(ds.case_ids())
    if len(ids) < cases:
        raise ConfigError(f"--cases {cases}: dataset {dataset!r} has only {len(ids)} cases")
    test_ids = ids[:cases]
    model, t_model = get_model(method, params or {}, model_dir, ds, ids[cases:cases + fit_cases] if trainable else [],
                               device)
    rows = []
    first = True
    for cid in test_ids:
        t0 = time.perf_counter()
        case = ds.load(cid)
        t_read = time.perf_counter() - t0
        for rep in range(repeats):
            sw = Stopwatch(sync_cuda=device == "cuda")
            ctx = Context(device=device, seed=0, stopwatch=sw, case_id=cid)
            t1 = time.perf_counter()
            with sw.stage("__total"):
                pred = model.predict(case.image, ctx)
            total = time.perf_counter() - t1
            pre = float(sw.totals.get("preprocess", 0.0))
            row = {"case_id": cid, "repeat": rep, "cold": first, "read": t_read if rep == 0 else np.nan,
                   "preprocess": pre, "predict": max(0.0, total - pre), "refine": np.nan}
            if pp is not None:
                if isinstance(pred, np.ndarray):
                    pred = Prediction(prob=pred)
                rsw = Stopwatch(sync_cuda=device == "cuda")
                with rsw.stage("refine"):
                    pp(case.image, pred, Context(device="cpu", seed=0, stopwatch=rsw, case_id=cid))
                row["refine"] = rsw.totals["refine"]
            rows.append(row)
            first = False
    df = pd.DataFrame(rows)
    gpu_mb = None
    if device == "cuda":
        import torch

        gpu_mb = torch.cuda.max_memory_allocated() / 2**20
    shape = tuple(case.image.shape)
    summary = {"method": method, "refine": refine, "device": device, "cases": cases, "repeats": repeats,
               "dataset": dataset, "shape_last": shape, "t_model": t_model, "peak_rss_mb": peak_rss_mb(),
               "peak_gpu_mb": gpu_mb}
    return df, summary


def summary_table(df: pd.DataFrame, summary: dict[str, Any]) -> str:
    warm = df[~df["cold"]]
    cold = df[df["cold"]]
    lines = [f"{summary['method']}" + (f" + {summary['refine']}" if summary["refine"] else "") +
             f" on {summary['dataset']} ({summary['cases']} cases x {summary['repeats']} repeats, "
             f"device {summary['device']}, last case shape {summary['shape_last']})",
             f"{'stage':<12}{'cold s':>10}{'median s':>11}{'p90 s':>10}{'n warm':>8}"]
    for stage in STAGES:
        if df[stage].isna().all():
            continue
        w = warm[stage].dropna()
        c = cold[stage].dropna()
        med = f"{w.median():.4f}" if len(w) else "-"
        p90 = f"{w.quantile(0.9):.4f}" if len(w) else "-"
        cs = f"{c.iloc[0]:.4f}" if len(c) else "-"
        lines.append(f"{stage:<12}{cs:>10}{med:>11}{p90:>10}{len(w):>8}")
    lines.append(f"model fit/load: {summary['t_model']:.2f} s; peak RSS {summary['peak_rss_mb']:.0f} MiB"
                 + (f"; peak GPU {summary['peak_gpu_mb']:.0f} MiB" if summary["peak_gpu_mb"] is not None else ""))
    if len(warm) == 0:
        lines.append("note: only one call was made, so every figure is cold; use --repeats 2 or more")
    return "\n".join(lines)


def cmd_profile(args: argparse.Namespace) -> int:
    df, summary = profile(args.method, params=args.params, refine=args.refine, refine_params=args.refine_params,
                          cases=args.cases, repeats=args.repeats, dataset=args.dataset,
                          dataset_params=args.dataset_params, model_dir=args.model, fit_cases=args.fit_cases)
    print(summary_table(df, summary))
    return 0

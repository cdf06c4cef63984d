"""The development protocol of issue 29: a change is judged on every real case and on a fixed,
wide phantom suite, never on two cases alone.

Real cases (`../shared/data/real`, read in place): leave-one-out over all four. A learning-free
method is simply run on each; a neural method is trained once per held-out case on the
phantoms of `benchmarks/real.toml` (12 "small", a quarter held out for validation curves) plus
the three other real cases, as `make real`'s folds are, and scores the case it never saw. The two
3D-IRCADb-01 cases are scored against their manual masks, the two TotalSegmentator cases against
that model's output (a realistic target, not ground truth): they are reported apart.

The suite (`liverbench.data.phantom.suite.SUITE`, 15 phantoms): slice thickness 0.7-5 mm, field of
view from liver-only to chest-to-pelvis, native / arterial / portal phase, HU offsets of -40 and
+40, a border lesion, effusion, a thin left lobe. A neural method scores it with the model of
the first fold (trained on the phantoms + ircadb1_17 + both TotalSegmentator cases).

Adoption rule (`compare`): a candidate is adopted only if its mean Dice on the suite is higher
than the reference's by more than `--tolerance` AND it loses on no real case (Dice lower by more than `--tolerance`, 0.001
by default: the third decimal that RESULTS.md reports). Every table is per case.

    # a learning-free method (about 3 min on one core); `--set` overrides its params
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/generalisation.py run intensity --json ref.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/generalisation.py run intensity --set back_min_mm2=0 --json cand.json
    .venv/bin/python benchmarks/generalisation.py compare ref.json cand.json
    # a neural method: four fits (cpu preset: 4-8 min each on one core), kept under --models
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/generalisation.py run di2in --set balance='"dataset"' --set iterations=600 --json di2in.json
    # every stage of the intensity baseline switched off in turn, each compared with the whole
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/generalisation.py ablate-intensity --json ablation.json

Neural rows come in variants: `threshold` (P >= 0.5, the network alone), `largest-component`
and `guard` (the far-component guard of baselines/guard.py at `--guard-mm`, then P >= 0.5; the
row says whether it fired). `make generalisation` runs the intensity baseline and DI2IN as
`make real` configures them. Nothing is written but stdout, `--json` and the fitted models.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baselines.refine_simple import fill_holes, largest_component  # noqa: E402
from liverbench.data.datasets.real import RealDataset  # noqa: E402
from liverbench.data.datasets.synthetic import SyntheticDataset  # noqa: E402
from liverbench.data.phantom.suite import SUITE  # noqa: E402
from liverbench.data.splits import make_splits  # noqa: E402
from liverbench.errors import InputError  # noqa: E402
from liverbench.hashing import digest  # noqa: E402
from liverbench.metrics import evaluate  # noqa: E402
from liverbench.plugins.base import Context  # noqa: E402
from liverbench.plugins.registry import get_segmenter  # noqa: E402

# The stages of `intensity` and the parameter value that switches each off (baselines/intensity.py).
INTENSITY_STAGES = {  # newest first: the later versions were the ones chosen on one or two scans
    "back muscles out": {"back_min_mm2": 0.0},  # v8
    "cava out": {"cava_min_mm": 0.0},  # v7
    "dome rim": {"dome_gap_mm": 0.0},  # v6
    "native-grid border band": {"border_band_mm": 0.0},
    "thin left-lobe parts": {"lobe_opening_mm": 0.0},  # v5
    "enclosed fat out": {"fat_max_hu": -1000.0},  # v5
    "per-slice lesion fill": {"lesion_fill_mm": 0.0},
    "closing of border lesions": {"closing_mm": 0.0},
    "regrowth after the opening": {"regrow_steps": 0},
    "median filter": {"median": False},
}
METRICS = ("dice", "score", "voe", "rvd", "asd", "rmsd", "maxd")


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(items) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        out[key] = _parse_value(value)
    return out


def _group(case) -> str:
    if case.meta.get("source") == "synthetic":
        return "suite"
    return "manual" if case.meta.get("mask_kind") == "manual" else "model-output"


def score_row(method: str, label: str, variant: str, case, mask: np.ndarray, **extra) -> dict:
    m = evaluate(mask, case.liver, case.image.spacing)
    row = {"method": method, "label": label, "variant": variant, "group": _group(case), "case": case.id,
           "axis": case.meta.get("suite_axis", "real CT"), **{k: float(m[k]) for k in METRICS}, **extra}
    print(f"  {label:22s} {variant:17s} {row['group']:12s} {case.id:30s} Dice {row['dice']:.3f}  score {row['score']:5.1f}"
          f"  RVD {row['rvd']:+6.1f}  ASD {row['asd']:5.2f}  MaxD {row['maxd']:6.1f}"
          + ("  guard fired" if extra.get("guard_fired") else ""), flush=True)
    return row


def suite_cases():
    for c in SUITE:
        yield c.load()


def run_learning_free(name: str, params: dict, label: str) -> list[dict]:
    method = get_segmenter(name)(**params)
    real, rows = RealDataset(), []
    cases = [real.load(c) for c in real.case_ids()]
    for case in cases + list(suite_cases()):
        start = time.perf_counter()
        prob = method.predict(case.image, Context(case_id=case.id)).prob
        rows.append(score_row(name, label, "threshold", case, prob >= 0.5, seconds=time.perf_counter() - start))
    return rows


def neural_folds(n_synth: int, seed: int):
    """make real's folds, but leave-one-out over every real case."""
    real, synth = RealDataset(), SyntheticDataset(n_cases=n_synth, preset="small", seed=0)
    split = {"kind": "loo", "seed": seed, "val_fraction": 0.25, "test": real.case_ids()}
    return real, synth, make_splits(split, real.case_ids(), synth.case_ids())


def fit_or_load(cls, params, train, val, model_dir: Path):
    if (model_dir / "model.json").is_file():
        print(f"  reusing the fit in {model_dir}", flush=True)
        return cls.load(model_dir), 0.0
    method = cls(**params)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        method.fit(train, val, Context(seed=0, workdir=Path(tmp)))
        seconds = time.perf_counter() - start
    method.save(model_dir)
    return method, seconds


def neural_variants(method, name: str, label: str, case, guard_mm: float, **extra) -> list[dict]:
    """threshold, largest-component and guard rows of one prediction (the guard on the working grid)."""
    ctx = Context(seed=0, case_id=case.id)
    method.params.pop("guard_mm", None)
    prob = method.predict(case.image, ctx).prob
    thr = prob >= 0.5
    rows = [score_row(name, label, "threshold", case, thr, **extra),
            score_row(name, label, "largest-component", case, fill_holes(largest_component(thr)), **extra)]
    method.params["guard_mm"] = float(guard_mm)
    guarded = method.predict(case.image, ctx).prob >= 0.5
    g = method.last_guard
    rows.append(score_row(name, label, "guard", case, guarded, guard_fired=bool(g and g.fired),
                          guard_removed_voxels=int(g.removed_voxels if g else 0), **extra))
    method.params.pop("guard_mm", None)
    return rows


def run_neural(name: str, params: dict, label: str, n_synth: int, n_wide: int, guard_mm: float, models: Path,
               seed: int = 0, held_out=None, save=None) -> list[dict]:
    """`held_out`: only these folds (None: all four); `save(rows)` is called after every fold."""
    torch.set_num_threads(1)
    cls = get_segmenter(name)
    params = {"preset": "cpu", **params}
    real, synth, folds = neural_folds(n_synth, seed)
    wide = SyntheticDataset(n_cases=n_wide, preset="wide", seed=1) if n_wide else None
    key = digest(json.dumps({"method": name, "params": params, "n_synth": n_synth, "n_wide": n_wide, "seed": seed},
                            sort_keys=True))
    rows = []
    for i, fold in enumerate(folds):
        train = [synth.load(c) for c in fold["train"]] + [real.load(c) for c in fold.get("train_from_dataset", [])]
        if wide is not None:
            train += [wide.load(c) for c in wide.case_ids()]
        val = [synth.load(c) for c in fold["val"]]
        (held,) = fold["test"]
        if held_out and held not in held_out:
            continue
        print(f"{label}: fold {i + 1}/{len(folds)} (held out {held}; {len(train)} training cases)", flush=True)
        method, seconds = fit_or_load(cls, params, train, val, models / f"{name}-{key}" / held)
        rows += neural_variants(method, name, label, real.load(held), guard_mm, fit_seconds=seconds)
        if i == 0:  # the suite, with the first fold's model
            for case in suite_cases():
                rows += neural_variants(method, name, label, case, guard_mm, fit_seconds=0.0)
        if save is not None:
            save(rows)  # a fold's rows are kept even if a later fold fails
    return rows


# ---------------------------------------------------------------------------------------------
# Tables and the verdict


def per_case_table(rows: list[dict], variant: str = "threshold") -> str:
    """One line per case, the labels side by side (Dice / score / RVD / MaxD)."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    by = {(r["label"], r["case"]): r for r in rows if r["variant"] == variant}
    cases = list(dict.fromkeys((r["group"], r["case"]) for r in rows if r["variant"] == variant))
    head = "| group | case | " + " | ".join(f"{lab}: Dice / score / RVD % / MaxD mm" for lab in labels) + " |"
    lines = [head, "|" + "---|" * (2 + len(labels))]
    for group, case in cases:
        cells = []
        for lab in labels:
            r = by.get((lab, case))
            cells.append("" if r is None else f"{r['dice']:.3f} / {r['score']:.1f} / {r['rvd']:+.1f} / {r['maxd']:.0f}"
                         + (" (guard fired)" if r.get("guard_fired") else ""))
        lines.append(f"| {group} | {case} | " + " | ".join(cells) + " |")
    for group in ("manual", "model-output", "suite"):
        lines.append(f"| {group} | mean Dice (n = {sum(1 for g, _ in cases if g == group)}) | " + " | ".join(
            _mean([by[(lab, c)]["dice"] for g, c in cases if g == group and (lab, c) in by]) for lab in labels) + " |")
    return "\n".join(lines)


def _mean(values) -> str:
    return f"{statistics.fmean(values):.3f}" if values else ""


def verdict(ref: list[dict], cand: list[dict], variant: str = "threshold", tolerance: float = 0.001) -> dict:
    """Adopt only if the candidate gains on the suite (mean Dice, by more than `tolerance`) and loses
    on no real case (none drops by more than `tolerance`)."""
    r = {x["case"]: x for x in ref if x["variant"] == variant}
    c = {x["case"]: x for x in cand if x["variant"] == variant}
    shared = [k for k in r if k in c]
    if not shared:
        raise InputError(f"compare: the two result sets share no case at variant {variant!r}")
    suite = [k for k in shared if r[k]["group"] == "suite"]
    real = [k for k in shared if r[k]["group"] != "suite"]
    gain = statistics.fmean(c[k]["dice"] - r[k]["dice"] for k in suite) if suite else float("nan")
    losses = {k: round(c[k]["dice"] - r[k]["dice"], 4) for k in real if c[k]["dice"] < r[k]["dice"] - tolerance}
    suite_better = sum(c[k]["dice"] > r[k]["dice"] + tolerance for k in suite)
    suite_worse = sum(c[k]["dice"] < r[k]["dice"] - tolerance for k in suite)
    return {"variant": variant, "suite_cases": len(suite), "suite_mean_dice_gain": gain, "suite_better": suite_better,
            "suite_worse": suite_worse, "real_cases": len(real), "real_losses": losses,
            "adopt": bool(suite and gain > tolerance and not losses)}  # +0.0000 is no gain


def print_verdict(ref_label: str, cand_label: str, v: dict) -> None:
    print(f"verdict ({v['variant']}): {cand_label} vs {ref_label}: suite mean Dice {v['suite_mean_dice_gain']:+.4f} over "
          f"{v['suite_cases']} cases ({v['suite_better']} better, {v['suite_worse']} worse); real cases lost: "
          f"{v['real_losses'] or 'none'} of {v['real_cases']} -> {'ADOPT' if v['adopt'] else 'do not adopt'}", flush=True)


def _load_rows(path: str) -> list[dict]:
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"compare: cannot read result rows from {path}: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and {"case", "variant", "dice"} <= set(r) for r in rows):
        raise SystemExit(f"compare: {path} does not hold generalisation rows (a list with case, variant, dice)")
    return rows


def _write(path: str | None, rows: list[dict]) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(rows, indent=1), encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="score one method (one configuration) on the real cases and the suite")
    run.add_argument("method", help="a registered segmenter (intensity, di2in, di2in-adv, dsn3d, cnn3d, ...)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="parameter override (JSON value)")
    run.add_argument("--label", help="name of this configuration in the tables (default: method + overrides)")
    run.add_argument("--n-synth", type=int, default=12, help="'small' training phantoms (as benchmarks/real.toml)")
    run.add_argument("--wide", type=int, default=0, help="extra training phantoms of the 'wide' preset (long fields of view)")
    run.add_argument("--guard-mm", type=float, default=30.0, help="distance of the far-component guard rows")
    run.add_argument("--models", default="runs/generalisation", help="where fitted models are kept (and reused)")
    run.add_argument("--json", help="write the rows here (input of `compare`; rewritten after every fold)")
    run.add_argument("--held-out", nargs="+", help="neural methods: only these folds (default: all four real cases)")
    cmp_ = sub.add_parser("compare", help="per-case tables and the adoption verdict of CANDIDATE against REFERENCE")
    cmp_.add_argument("reference")
    cmp_.add_argument("candidate")
    cmp_.add_argument("--variant", default="threshold", help="threshold | largest-component | guard")
    cmp_.add_argument("--candidate-variant", help="compare the candidate's rows of another variant (e.g. guard)")
    cmp_.add_argument("--tolerance", type=float, default=0.001, help="a real case loses when its Dice drops by more")
    abl = sub.add_parser("ablate-intensity", help="every stage of the intensity baseline off in turn, against the whole")
    abl.add_argument("--json", help="write every row here (rewritten after every stage)")
    abl.add_argument("--stages", type=int, default=len(INTENSITY_STAGES), help="only the first N stages (newest first)")
    args = ap.parse_args(argv)

    if args.command == "run":
        params = parse_sets(args.set)
        label = args.label or (args.method + "".join(f" {k}={v}" for k, v in params.items())
                               + (f" wide={args.wide}" if args.wide else ""))
        if getattr(get_segmenter(args.method), "trainable", False):
            rows = run_neural(args.method, params, label, args.n_synth, args.wide, args.guard_mm, Path(args.models),
                              held_out=args.held_out, save=lambda r: _write(args.json, r))
        else:
            rows = run_learning_free(args.method, params, label)
        _write(args.json, rows)
        for variant in dict.fromkeys(r["variant"] for r in rows):
            print(f"\n{label}, {variant}:\n{per_case_table(rows, variant)}")
        fired = [r for r in rows if r["variant"] == "guard"]
        if fired:
            print(f"\nguard ({args.guard_mm:g} mm) fired on {sum(r['guard_fired'] for r in fired)} of {len(fired)} cases")
        return 0
    if args.command == "compare":
        ref, cand = _load_rows(args.reference), _load_rows(args.candidate)
        cvar = args.candidate_variant or args.variant
        cand = [{**r, "variant": args.variant, "label": r["label"] + ("" if cvar == args.variant else f" ({cvar})")}
                for r in cand if r["variant"] == cvar]
        ref = [r for r in ref if r["variant"] == args.variant]
        print(per_case_table(ref + cand, args.variant))
        print_verdict(ref[0]["label"], cand[0]["label"], verdict(ref, cand, args.variant, args.tolerance))
        return 0
    # ablate-intensity
    rows = run_learning_free("intensity", {}, "intensity (all stages)")
    ablated = {}
    _write(args.json, rows)
    for stage, params in list(INTENSITY_STAGES.items())[:args.stages]:
        print(f"without {stage}: {params}", flush=True)
        ablated[stage] = run_learning_free("intensity", params, f"without {stage}")
        rows += ablated[stage]
        _write(args.json, rows)
    whole = [r for r in rows if r["label"] == "intensity (all stages)"]
    print(per_case_table(rows))
    for stage, mine in ablated.items():
        # the stage is justified when removing it would not be adopted: the whole must beat its ablation
        v = verdict(mine, whole)
        print(f"{stage}: with it vs without, suite mean Dice {v['suite_mean_dice_gain']:+.4f} ({v['suite_better']} better, "
              f"{v['suite_worse']} worse of {v['suite_cases']}); real cases where it loses: {v['real_losses'] or 'none'}"
              f" -> {'justified' if v['adopt'] else 'NOT justified by the suite and the real cases'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

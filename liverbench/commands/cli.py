"""The `liverbench` command line.

    liverbench run CONFIG [--dry-run] [--set key=value ...] [--retry-failed] [--quiet] [--report DIR]
    liverbench eval --pred DIR --ref DIR|DATASET [--pattern ...] [--label N|N+] [--out FILE]
    liverbench report RUN [--out DIR]
    liverbench methods
    liverbench profile METHOD [--refine PP] [--cases N] [--repeats R] [--dataset NAME]
    liverbench tune-refinement PP --method METHOD [--cases N]
    liverbench check NAME [--kind KIND] [--params JSON]
    liverbench --version
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

from liverbench.errors import ConfigError, InputError, LiverbenchError, RegistryError, UnknownNameError
from liverbench.table_file import check_table_path, write_table

EXIT_OK, EXIT_FAILED_ROWS, EXIT_USAGE, EXIT_INPUT = 0, 1, 2, 3
EXIT_CODES = """exit codes:
  0  everything succeeded
  1  the command ran, but some rows (cases, methods) failed; they are listed at the end
  2  usage or configuration error (unknown key, unknown method name, bad value); nothing ran
  3  input data error (missing, unreadable or inconsistent image / mask files)"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _json_arg(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object, e.g. '{\"preset\": \"cpu\"}'")
    return value


def _positive_mm(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number > 0")
    return value


def _version() -> str:
    import liverbench

    return liverbench.__version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="liverbench", formatter_class=_Formatter,
        description="Train, evaluate and compare 3D CT liver segmentation methods the SLiver07 way.",
        epilog=EXIT_CODES)
    p.add_argument("--version", action="version", version=f"liverbench {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    r = sub.add_parser("run", formatter_class=_Formatter, help="run (or resume) the benchmark a TOML config describes",
                       description="Run the benchmark a TOML config describes. Re-running the same command resumes: "
                                   "rows already stored are skipped.",
                       epilog="examples:\n  liverbench run benchmarks/demo.toml --dry-run\n"
                              "  liverbench run benchmarks/demo.toml --set execution.backend=local --quiet\n"
                              "  liverbench run benchmarks/demo.toml --set methods.0.params.preset=paper\n\n" + EXIT_CODES)
    r.add_argument("config", help="run config (TOML)")
    r.add_argument("--dry-run", action="store_true", help="print the plan (fits, rows, resources) and exit")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (TOML syntax; repeatable), e.g. execution.num_cpus=4")
    r.add_argument("--retry-failed", action="store_true", help="re-run rows stored as failed")
    r.add_argument("--quiet", action="store_true", help="no progress display (for CI)")
    r.add_argument("--report", metavar="DIR", help="build the report into DIR after the run")
    r.add_argument("--wait", action="store_true",
                   help="if another run is using the run folder, wait for it instead of refusing")

    e = sub.add_parser("eval", formatter_class=_Formatter, help="score masks produced elsewhere",
                       description="Score predicted masks against references, matching files by case id, "
                                   "and print a SLiver07 table.",
                       epilog="examples:\n  liverbench eval --pred out/ --ref refs/ --out scores.csv\n"
                              "  liverbench eval --pred out/ --ref sliver07 --ref-params '{\"root\": \"data/sliver07\"}'\n"
                              "  liverbench eval --pred out/ --ref lits/labels/ --label 1+ --out scores.csv\n\n"
                              + EXIT_CODES)
    e.add_argument("--pred", required=True, metavar="DIR", help="folder of predicted masks")
    e.add_argument("--ref", required=True, metavar="DIR|DATASET",
                   help="folder of reference masks, or a registered dataset name (see --ref-params)")
    e.add_argument("--ref-params", type=_json_arg, default={}, metavar="JSON", help="parameters of the reference dataset")
    e.add_argument("--pattern", default=None,
                   help="file name of a prediction, e.g. '{case_id}/pred.nii.gz' (default: <case_id>.<ext>)")
    e.add_argument("--ref-pattern", default=None, help="file name of a reference mask in a --ref folder")
    e.add_argument("--out", metavar="FILE",
                   help="write the per-case table (.csv or .parquet) with a mean row, and summary.json beside it "
                        "(per case, mean, std, median, convention, NSD tolerance, liverbench version)")
    e.add_argument("--label", metavar="N|N+", default=None,
                   help="score label maps: the reference's liver is label N, or N+ for labels >= N (LiTS / MSD: "
                        "liver 1, tumour 2, so 1+ is the liver with its tumours); default: binary 0/1 masks")
    e.add_argument("--pred-label", metavar="N|N+", default=None,
                   help="the same for the predictions, when they are label maps too (default: binary 0/1 masks)")
    e.add_argument("--convention", default="sliver07", help="metrics convention (default sliver07)")
    e.add_argument("--nsd-tolerance", type=_positive_mm, default=1.0, metavar="MM", help="surface Dice tolerance in mm")
    e.add_argument("--only-present", action="store_true",
                   help="score only the reference cases that have a prediction (default: a missing "
                        "prediction is a failed case, as in a leaderboard submission)")

    rep = sub.add_parser("report", help="build the report of a run directory")
    rep.add_argument("run", help="run directory (runs/<name>)")
    rep.add_argument("--out", metavar="DIR", help="output folder (default: RUN/report)")
    rep.add_argument("--formats", default="md,html,csv,tex", help="comma-separated: md,html,csv,tex")

    m = sub.add_parser("methods", help="list segmenters, post-processors and datasets with their packages")
    m.add_argument("--no-load", action="store_true", help="list names only; import no plugin")

    pr = sub.add_parser("profile", formatter_class=_Formatter, help="time inference and refinement per stage",
                        description="Time a method's inference (and a refinement) per stage on N cases, R repeats: "
                                    "median and p90 of warm calls (the first, cold call is shown apart), peak memory.")
    _method_args(pr)
    pr.add_argument("--refine", metavar="PP", help="also time this post-processor")
    pr.add_argument("--refine-params", type=_json_arg, default={}, metavar="JSON")
    pr.add_argument("--repeats", type=int, default=3, help="timed calls per case (default 3)")

    t = sub.add_parser("tune-refinement", formatter_class=_Formatter,
                       help="grid-search a refinement's parameters on a method's predictions",
                       description="Predict N cases with a method, then grid-search a post-processor's "
                                   "parameters (its param_grid) on those predictions.")
    t.add_argument("postprocessor", metavar="PP")
    _method_args(t, positional=False)
    t.add_argument("--metric", default="score", help="metric to optimise (default score)")
    t.add_argument("--out", metavar="FILE", help="write the grid table (.csv or .parquet)")

    c = sub.add_parser("check", formatter_class=_Formatter, help="run the contract kit on an installed plugin",
                       description="Check that an installed segmenter, post-processor or dataset honours the "
                                   "plugin contract (liverbench.plugins.testing): it fits and predicts on tiny phantoms, "
                                   "checks declarations, outputs, save/load; a failure names the check.",
                       epilog="examples:\n  liverbench check hu-threshold\n"
                              "  liverbench check cnn3d --params '{\"preset\": \"cpu\", \"iterations\": 2}'\n"
                              "  liverbench check nifti-folder --params '{\"root\": \"data/mine\"}'\n\n"
                              "exit codes: 0 the contract holds, 1 a check failed, 2 unknown name or bad params")
    c.add_argument("name", help="plugin name, as `liverbench methods` lists it")
    c.add_argument("--kind", choices=("segmenter", "postprocessor", "dataset"),
                   help="which kind, where a name is used by several")
    c.add_argument("--params", type=_json_arg, default={}, metavar="JSON", help="constructor parameters")
    return p


def _method_args(p: argparse.ArgumentParser, positional: bool = True) -> None:
    if positional:
        p.add_argument("method", help="segmenter name")
    else:
        p.add_argument("--method", required=True, help="segmenter whose predictions are refined")
    p.add_argument("--params", type=_json_arg, default={}, metavar="JSON", help="method parameters")
    p.add_argument("--model", metavar="DIR", help="a trained model (runs/<name>/fits/<fit_key>); "
                                                  "else trainable methods are fitted on --fit-cases first")
    p.add_argument("--fit-cases", type=int, default=4, help="cases to fit on when no --model (default 4)")
    p.add_argument("--cases", type=int, default=4, help="cases to use (default 4)")
    p.add_argument("--dataset", default="synthetic", help="dataset name (default synthetic)")
    p.add_argument("--dataset-params", type=_json_arg, default=None, metavar="JSON",
                   help="dataset parameters (default for synthetic: small phantoms)")


_default_format_warning = warnings.formatwarning


def _format_warning(message, category, filename, lineno, line=None) -> str:
    # liverbench's own warnings name their file already: one plain line, no source excerpt
    if Path(filename).resolve().is_relative_to(Path(__file__).resolve().parents[1]):  # the liverbench package
        return f"liverbench: warning: {message}\n"
    return _default_format_warning(message, category, filename, lineno, line)


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _format_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except (ConfigError, UnknownNameError, RegistryError) as exc:
        print(f"liverbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except InputError as exc:
        print(f"liverbench: input error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except LiverbenchError as exc:
        print(f"liverbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("liverbench: interrupted; finished rows are stored, re-run the command to resume", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return cmd_run(args)
    if args.command == "eval":
        return cmd_eval(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "methods":
        return cmd_methods(args)
    if args.command == "profile":
        from liverbench.commands.profile import cmd_profile

        return cmd_profile(args)
    if args.command == "tune-refinement":
        from liverbench.commands.tune_refinement import cmd_tune

        return cmd_tune(args)
    if args.command == "check":
        from liverbench.commands.check import cmd_check

        return cmd_check(args)
    raise AssertionError(args.command)


def cmd_run(args: argparse.Namespace) -> int:
    from liverbench.run import runner
    from liverbench.run.config import load_config

    cfg = load_config(args.config, args.overrides)
    if args.dry_run:
        runner.dry_run(cfg)
        return EXIT_OK
    outcome = runner.run(cfg, retry_failed=args.retry_failed, quiet=args.quiet, wait=args.wait)
    print(outcome.summary())
    if args.report:
        from liverbench.report import build_report

        path = build_report(outcome.run_dir, Path(args.report))
        print(f"report: {path}")
    return outcome.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    from liverbench.report import build_report

    run_dir = Path(args.run)
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"report: {run_dir} is not a run directory (no config.json)")
    out = Path(args.out) if args.out else run_dir / "report"
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    print(build_report(run_dir, out, formats=formats))
    return EXIT_OK


def cmd_methods(args: argparse.Namespace) -> int:
    from liverbench.plugins import registry

    rows = registry.describe(load=not args.no_load)
    print(registry.format_methods_table(rows))
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from liverbench.commands.folder_eval import evaluate_folder, parse_labels, summary, with_mean_row
    from liverbench.report.console import eval_notes, sliver07_table

    if args.out:  # a bad file name fails before the scoring
        check_table_path(args.out)
    labels = parse_labels(args.label) if args.label is not None else None
    pred_labels = parse_labels(args.pred_label) if args.pred_label is not None else None
    df = evaluate_folder(args.pred, args.ref, ref_params=args.ref_params, pattern=args.pattern,
                         ref_pattern=args.ref_pattern, convention=args.convention,
                         nsd_tolerance_mm=args.nsd_tolerance, only_present=args.only_present,
                         labels=labels, pred_labels=pred_labels)
    print(sliver07_table(df, nsd_tolerance_mm=args.nsd_tolerance))
    for line in eval_notes(df):
        print(line)
    missing = df.attrs.get("missing_predictions") or []
    if missing:
        print(f"note: --only-present: {len(missing)} reference case(s) without a prediction were not scored: "
              f"{', '.join(missing)}", file=sys.stderr)
    extra = df.attrs.get("unmatched_predictions") or []
    if extra:
        print(f"note: {len(extra)} prediction(s) without a reference were ignored: {', '.join(extra)}",
              file=sys.stderr)
    if args.out:
        write_table(with_mean_row(df.drop(columns=[c for c in ("error_kind",) if c in df.columns])), args.out)
        summary_path = Path(args.out).with_name("summary.json")
        summary_path.write_text(json.dumps(summary(df, convention=args.convention, nsd_tolerance_mm=args.nsd_tolerance,
                                                   labels=labels, pred_labels=pred_labels), indent=2) + "\n",
                                encoding="utf-8")
        print(f"wrote {args.out} and {summary_path}")
    failed = df[df["status"] != "ok"]
    if len(failed):
        print(f"{len(failed)} of {len(df)} case(s) failed", file=sys.stderr)
        if "error_kind" in df.columns and (failed["error_kind"] == "input").any():
            return EXIT_INPUT
        return EXIT_FAILED_ROWS
    return EXIT_OK

"""Start a run from Python, as `liverbench run` does from the command line.

    import liverbench
    outcome = liverbench.run_benchmark("benchmarks/demo.toml", overrides=["execution.backend=local"])
    print(outcome.summary())                  # "runs/demo: 60 ok, 0 failed of 60 rows ..."
    rows = liverbench.ResultStore(outcome.run_dir).rows()

The config is a TOML path, a dict shaped like the TOML file, or a parsed `RunConfig`; it is
checked before any work (a ConfigError names the key), the run is resumable exactly as on the
command line, and `report` builds the report into a folder at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from liverbench.errors import ConfigError
from liverbench.run.config import RunConfig, apply_overrides, load_config, parse
from liverbench.run.runner import RunOutcome, run


def run_benchmark(config: str | Path | Mapping[str, Any] | RunConfig, *, overrides: Iterable[str] = (),
                  retry_failed: bool = False, quiet: bool = True, wait: bool = False,
                  report: str | Path | None = None) -> RunOutcome:
    """Run (or resume) the benchmark `config` describes; returns the outcome (rows ok / failed,
    `exit_code` as the command line's, `summary()`). `overrides` are `--set` expressions
    ("methods.0.params.preset=paper")."""
    overrides = list(overrides)
    if isinstance(config, RunConfig):
        if overrides:
            raise ConfigError("run_benchmark: overrides apply to a config file or dict; this RunConfig is already parsed")
    elif isinstance(config, Mapping):
        config = parse(apply_overrides(dict(config), overrides))
    else:
        config = load_config(config, overrides)
    outcome = run(config, retry_failed=retry_failed, quiet=quiet, wait=wait)
    if report is not None:
        from liverbench.report import build_report

        build_report(outcome.run_dir, Path(report))
    return outcome

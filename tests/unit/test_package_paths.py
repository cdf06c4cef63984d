"""What the package finds relative to its own files still points where it should after the
move into packages (issue 32): the checkout, the real-data folder beside it, its own warnings."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

from liverbench.commands import cli
from liverbench.data.datasets import real
from liverbench.run import environment, store

ROOT = Path(__file__).resolve().parents[2]


def test_the_real_data_default_is_beside_the_checkout(monkeypatch):
    monkeypatch.delenv(real.ENV_VAR, raising=False)
    assert real.default_root() == ROOT.parent / "shared" / "data" / "real"


def test_the_manifest_records_this_checkout_commit():
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert environment.git_commit()["commit"] == head.stdout.strip()


def test_a_warning_from_any_liverbench_package_is_one_plain_line():
    own = cli._format_warning("part-1.parquet: corrupt", UserWarning, store.__file__, 1)
    assert own == "liverbench: warning: part-1.parquet: corrupt\n"
    other = cli._format_warning("deprecated", DeprecationWarning, warnings.__file__, 1)
    assert other.startswith(warnings.__file__) and "liverbench: warning" not in other

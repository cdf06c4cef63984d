"""A run folder that cannot be written: a file for `runs_dir`, a read-only folder, a full disk.

Each ends with a clear error (exit 2) naming the key or the file, no partial result part is
left to be counted as done, and the same command run again (with room to write) resumes from
what was stored. The faults are injected at the operating-system call (`os.open` refusing to
write under the run folder, a Parquet write cut short by ENOSPC), which is what a read-only
mount or a full disk look like to the process; no privileges are needed.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pandas as pd
import pytest
from test_faults import write_config

from liverbench.commands import cli
from liverbench.run.store import ResultStore


@pytest.mark.parametrize("dry", [True, False])
def test_a_file_for_runs_dir_is_a_config_error_naming_the_key(tmp_path, capsys, dry):
    cfg = write_config(tmp_path)
    blocker = tmp_path / "passwd"
    blocker.write_text("root:x:0:0\n")
    for runs_dir in (blocker, blocker / "deeper"):
        args = ["run", str(cfg), "--quiet", "--set", f'runs_dir="{runs_dir}"'] + (["--dry-run"] if dry else [])
        assert cli.main(args) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert f"runs_dir: '{runs_dir}': {blocker} is a file, not a folder" in err, err
        assert "Traceback" not in err
    assert blocker.read_text() == "root:x:0:0\n"


def read_only(monkeypatch, folder: Path) -> None:
    """Writes under `folder` fail as on a read-only mount (EROFS); reads and all else work."""
    real_open, real_mkdir = os.open, os.mkdir
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def guarded(path) -> None:
        if Path(os.path.abspath(path)).is_relative_to(folder):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def fake_open(path, flags, *args, **kwargs):
        if flags & write_flags:
            guarded(path)
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        guarded(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


def test_a_read_only_run_folder_is_refused_by_name_and_its_rows_are_kept(tmp_path, capsys, monkeypatch):
    cfg = write_config(tmp_path, n_cases=2)
    assert cli.main(["run", str(cfg), "--quiet"]) == cli.EXIT_OK
    run_dir = tmp_path / "runs" / "faults"
    before = sorted(p.name for p in (run_dir / "results").iterdir())
    capsys.readouterr()
    with monkeypatch.context() as patch:
        read_only(patch, run_dir)
        assert cli.main(["run", str(cfg), "--quiet", "--retry-failed"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"runs_dir: '{tmp_path / 'runs'}': cannot create the run folder {run_dir}: Read-only file system" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in (run_dir / "results").iterdir()) == before
    assert (ResultStore(run_dir).rows()["status"] == "ok").sum() == 2


def test_a_full_disk_leaves_no_partial_part_and_the_same_command_resumes(tmp_path, capsys, monkeypatch):
    cfg = write_config(tmp_path, n_cases=3, execution="flush_every = 1")
    run_dir = tmp_path / "runs" / "faults"
    real_to_parquet = pd.DataFrame.to_parquet

    def disk_full(self, path, *args, **kwargs):
        if Path(path).is_relative_to(run_dir):
            Path(path).write_bytes(b"PAR1 cut short")  # what a full disk leaves: a partial file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_to_parquet(self, path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, "to_parquet", disk_full)
        assert cli.main(["run", str(cfg), "--quiet"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "No space left on device; rows already stored are kept" in err and "run the same command again" in err
    assert str(run_dir / "results") in err and "Traceback" not in err
    results = run_dir / "results"
    assert not list(results.glob("part-*")), "a part cut short must not be left to count as done"
    assert not list(results.glob(".tmp-*"))
    journaled = ResultStore(run_dir).rows()
    assert len(journaled) == 1 and (journaled["status"] == "ok").all()  # the row finished before

    assert cli.main(["run", str(cfg), "--quiet"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "3 ok, 0 failed of 3 rows (2 computed now, 1 already stored)" in out, out
    rows = ResultStore(run_dir).rows()
    assert sorted(rows["case_id"]) == ["syn-000", "syn-001", "syn-002"] and (rows["status"] == "ok").all()

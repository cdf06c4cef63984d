"""`precomputed`: its pattern, its folder and the reads' staying inside it are checked before any
work (exit 2 naming the key), not per row."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from liverbench.commands import cli
from liverbench.data.io import write_volume
from liverbench.data.volume import Volume
from liverbench.errors import InputError
from liverbench.plugins.base import Context
from liverbench.plugins.precomputed import Precomputed


def config(tmp: Path, params: str) -> Path:
    path = tmp / "pre.toml"
    path.write_text(textwrap.dedent(f"""\
        name = "pre"
        runs_dir = "{tmp / 'runs'}"
        [dataset]
        name = "synthetic"
        params = {{ n_cases = 2, preset = "tiny", seed = 0 }}
        [split]
        kind = "none"
        [[methods]]
        name = "precomputed"
        params = {params}
        """), encoding="utf-8")
    return path


@pytest.mark.parametrize("params, message", [
    ('{{ dir = "{masks}", pattern = "{{case_id}}{{0}}.nii.gz" }}',
     "methods[0].params.pattern: '{case_id}{0}.nii.gz' is not a valid pattern (IndexError"),
    ('{{ dir = "{masks}", pattern = "{{case_id.real}}.nii.gz" }}', "methods[0].params.pattern: '{case_id.real}.nii.gz' must contain"),
    ('{{ dir = "{masks}", pattern = "{{{{case_id}}}}.nii.gz" }}', "names the same file for every case"),
    ('{{ dir = "{masks}/absent" }}', "methods[0].params.dir: folder '{masks}/absent' not found"),
    ('{{ dir = "{masks}/a.nii.gz" }}', "methods[0].params.dir: folder '{masks}/a.nii.gz' not found (it is a file)"),
    ('{{ dir = "{masks}", pattern = "../../{{case_id}}.nii.gz" }}',
     "methods[0].params.pattern: '../../{case_id}.nii.gz' leads outside dir ('../../CASE.nii.gz' for a case 'CASE'); "
     "set allow_outside_dir = true"),
    ('{{ dir = "{masks}", pattern = "/etc/{{case_id}}" }}', "methods[0].params.pattern: '/etc/{case_id}' leads outside dir"),
])
@pytest.mark.parametrize("dry", [True, False])
def test_bad_precomputed_settings_are_refused_before_any_work(tmp_path, capsys, params, message, dry):
    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "a.nii.gz").write_bytes(b"")
    cfg = config(tmp_path, params.format(masks=masks))
    assert cli.main(["run", str(cfg), "--quiet"] + (["--dry-run"] if dry else [])) == cli.EXIT_USAGE
    assert message.replace("{masks}", str(masks)) in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_the_real_benchmarks_layout_passes_the_checks(tmp_path, capsys):
    masks = tmp_path / "masks"
    masks.mkdir()
    cfg = config(tmp_path, f'{{ dir = "{masks}", pattern = "{{case_id}}/pred_totalsegmentator.nii.gz" }}')
    assert cli.main(["run", str(cfg), "--dry-run"]) == cli.EXIT_OK
    assert "precomputed" in capsys.readouterr().out


def test_reads_stay_inside_dir_for_case_ids_too_unless_allowed(tmp_path):
    inside, outside = tmp_path / "masks", tmp_path / "elsewhere"
    inside.mkdir()
    mask = Volume(np.ones((3, 4, 5), np.uint8), (1.0, 1.0, 1.0))
    write_volume(mask, outside / "c1.nii.gz")
    method = Precomputed(dir=str(inside))
    with pytest.raises(InputError, match=r"the mask of case '\.\./elsewhere/c1' would be read from outside dir"):
        method.path_for("../elsewhere/c1")
    from liverbench.plugins.base import ParamError

    with pytest.raises(ParamError, match=r"^pattern: .*would be read from outside dir"):
        method.check_inputs(["ok", "../elsewhere/c1"])
    trusting = Precomputed(dir=str(inside), allow_outside_dir=True)
    trusting.check_inputs(["../elsewhere/c1"])
    prob = trusting.predict(mask, Context(case_id="../elsewhere/c1")).prob
    assert prob.dtype == np.float32 and (prob == 1).all()
    assert Precomputed(dir=str(inside), pattern="../{case_id}.nii.gz", allow_outside_dir=True).path_for("x") \
        == inside / "../x.nii.gz"

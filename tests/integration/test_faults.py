"""Fault injection: each failure of issue 17's campaign, done again on tiny phantoms.

Bad plugin parameters and settings are refused before any work (exit 2, naming the key); a fit
killed with its driver resumes from its checkpoint; a second run on one folder is refused (or
waits); a driver killed with SIGKILL keeps every finished row (local and Ray backends) and
leaves no Ray process behind; an empty or corrupt result part is skipped with a warning; a
hostile model.pt is an input error (exit 3) without PyTorch's weights_only advice; dataset
errors name the key or the file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from liverbench.commands import cli
from liverbench.errors import ConfigError, InputError
from liverbench.run import runner
from liverbench.run.config import load_config
from liverbench.run.store import ResultStore

PY = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
TINY_NEURAL = ('{ preset = "cpu", iterations = 40, checkpoint_every = 4, val_every = 1000, val_patches = 0, '
               'width = 0.125, spacing_mm = 8.0, patch = [16, 32, 32], tile = [32, 64, 64], batch_size = 1 }')


def write_config(tmp: Path, name: str = "faults", *, n_cases: int = 4, split: str = 'kind = "none"',
                 method: str = 'name = "intensity"', pps: str = "", backend: str = "local",
                 execution: str = "") -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(textwrap.dedent(f"""\
        name = "{name}"
        runs_dir = "{tmp / 'runs'}"
        [dataset]
        name = "synthetic"
        params = {{ n_cases = {n_cases}, preset = "tiny", seed = 0 }}
        [split]
        {split}
        [[methods]]
        {method}
        {pps}
        [execution]
        backend = "{backend}"
        {execution}
        """), encoding="utf-8")
    return path


def start_driver(cfg: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([PY, "-m", "liverbench", "run", str(cfg), "--quiet", *args], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(condition, proc: subprocess.Popen, timeout: float = 45.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"driver ended before {what}: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()


# --- 1. parameters of every built-in plugin checked with the config -------------------------


@pytest.mark.parametrize("override, message", [
    ('postprocessors=[{name="graphcut", params={sigma=0}}]', "postprocessors[0].params.sigma: 0 must be > 0"),
    ('postprocessors=[{name="threshold"}, {name="graphcut", params={lam=-1, sigma=0}}]',
     "postprocessors[1].params.lam: -1 must be >= 0"),
    ('postprocessors=[{name="graphcut", params={band_mm=-5}}]', "postprocessors[0].params.band_mm: -5 must be > 0"),
    ('postprocessors=[{name="graphcut", params={roi_margin_mm=-10}}]',
     "postprocessors[0].params.roi_margin_mm: -10 must be >= 0"),
    ('postprocessors=[{name="graphcut", params={connectivity=8}}]',
     "postprocessors[0].params.connectivity: 8 is not one of 6, 26"),
    ('postprocessors=[{name="densecrf", params={tau=[0.7, 0.5]}}]', "postprocessors[0].params.tau: [0.7, 0.5] must sum below 1"),
    ('postprocessors=[{name="densecrf", params={theta_beta="wide"}}]',
     "postprocessors[0].params.theta_beta: expected a number, got str 'wide'"),
    ('postprocessors=[{name="largest-component", params={level=1.5}}]', "postprocessors[0].params.level: 1.5 must be <= 1"),
    ('methods=[{name="intensity", params={opening_mm=-1}}]', "methods[0].params.opening_mm: -1 must be >= 0"),
    ('methods=[{name="dsn3d", params={lr=0}}]', "methods[0].params.lr: 0 must be > 0"),
    ('methods=[{name="di2in-adv", params={k_d=0}}]', "methods[0].params.k_d: 0 must be >= 1"),
    ('methods=[{name="cnn3d", params={eta=[0.3]}}]', "methods[0].params.eta: [0.3] must have 2 items"),
    # the neural constructors' own checks run with the config too (errors before any work)
    ('methods=[{name="di2in", params={patch=[30, 64, 64]}}]', "methods[0].params: DI2IN rejected"),
    ('dataset.params.n_cases=0', "dataset.params.n_cases: 0 must be >= 1"),
])
def test_bad_plugin_parameters_are_refused_before_any_work(tmp_path, capsys, override, message):
    cfg = write_config(tmp_path)
    assert cli.main(["run", str(cfg), "--quiet", "--set", override]) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists(), "nothing may be written before the config is valid"


def test_graphcut_guards_sigma_zero_at_its_source():
    from baselines.graphcut import graph_cut

    prob = np.zeros((4, 5, 6), np.float32)
    prob[1:3, 1:4, 1:5] = 0.9
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="sigma must be > 0"):
        graph_cut(prob, np.zeros_like(prob), (1.0, 1.0, 1.0), lam=1.0, sigma=0.0, connectivity=6)
    with pytest.raises(ConfigError, match="lam >= 0"):
        graph_cut(prob, np.zeros_like(prob), (1.0, 1.0, 1.0), lam=-1.0, sigma=20.0, connectivity=6)
    assert time.perf_counter() - t0 < 5


def test_a_plugin_declares_its_checks_the_same_way():
    from liverbench.plugins.base import Param, ParamError, PostProcessor

    class Clip(PostProcessor):
        name, version = "clip-test", "1"
        param_checks = {"low": Param(float, ge=0, le=1), "mode": Param(str, choices=("a", "b"))}

        def __call__(self, image, pred, ctx):
            return pred.prob >= self.params.get("low", 0.5)

    with pytest.raises(ParamError, match=r"^clip-test.params.low: 2 must be <= 1$"):
        Clip(low=2)
    with pytest.raises(ParamError, match="mode: 'c' is not one of 'a', 'b'"):
        Clip(mode="c")
    assert Clip(low=0.3, mode="a").params == {"low": 0.3, "mode": "a"}


# --- 2. every setting checked before the work -------------------------------------------------


@pytest.mark.parametrize("override, message", [
    ('metrics.convention="7-object"', "metrics.convention: unknown border convention '7-object'"),
    ('postprocessors=[{name="graphcut", tune=true, metric="bogus"}]', "postprocessors[0].metric: unknown metric 'bogus'"),
    # nan and inf pass every `<= 0` check: refused as not finite, with the key (issue 31)
    ("metrics.nsd_tolerance_mm=nan", "metrics.nsd_tolerance_mm: nan must be a finite number"),
    ("metrics.nsd_tolerance_mm=inf", "metrics.nsd_tolerance_mm: inf must be a finite number"),
    ("metrics.refs={voe=-inf}", "metrics.refs.voe: -inf must be a finite number"),
    ("split.test_fraction=nan", "split.test_fraction: nan must be a finite number"),
    # sizes are bounded: a typo must not plan (or allocate) gigabytes
    ("dataset.params.n_cases=10000000000", "dataset.params.n_cases: 10000000000 must be <= 100000"),
    ("execution.num_cpus=1000000000", "execution.num_cpus: 1000000000 must be <= 100000"),
    ("execution.max_in_flight=1000000000", "execution.max_in_flight: 1000000000 must be <= 100000"),
    ("execution.retries=1000000", "execution.retries: 1000000 must be <= 100"),
    ("split.k=100000000", "split.k: 100000000 folds; at most 10000"),
    ('methods=[{name="dsn3d", params={width=1e6}}]', "methods[0].params.width: 1000000.0 must be <= 16"),
    ('methods=[{name="di2in", params={patch=[32, 64, 100000]}}]', "methods[0].params.patch: item [2]: 100000 must be <= 1024"),
    ('methods=[{name="cnn3d", params={batch_size=100000000}}]', "methods[0].params.batch_size: 100000000 must be <= 1024"),
    ("split.seed=-1", "split.seed: -1 must be >= 0"),
    ("execution.seeds=[0, -3]", "execution.seeds[1]: -3 must be >= 0"),
])
@pytest.mark.parametrize("dry", [True, False])
def test_settings_are_checked_before_any_work(tmp_path, capsys, override, message, dry):
    cfg = write_config(tmp_path, split='kind = "fixed"\ntest_fraction = 0.5')
    args = ["run", str(cfg), "--quiet", "--set", override] + (["--dry-run"] if dry else [])
    assert cli.main(args) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


# --- 3. a killed fit resumes from its checkpoint ----------------------------------------------


def test_fit_killed_with_its_driver_resumes_from_its_checkpoint(tmp_path):
    cfg = write_config(tmp_path, "fit", split='kind = "fixed"\ntest_fraction = 0.25\nval_fraction = 0.0',
                       method=f'name = "di2in"\nparams = {TINY_NEURAL}')
    proc = start_driver(cfg)
    fits = tmp_path / "runs" / "fit" / "fits"

    def checkpoint_step() -> int:
        pointers = list(fits.glob("*/work/checkpoint.json"))
        try:
            return json.loads(pointers[0].read_text())["step"] if pointers else 0
        except (OSError, ValueError):
            return 0

    wait_for(lambda: checkpoint_step() >= 8, proc, what="a checkpoint at step 8")
    kill(proc)
    killed_at = checkpoint_step()
    assert 8 <= killed_at < 40, "the kill should land mid-fit"

    outcome = runner.run(load_config(cfg), quiet=True)
    assert outcome.exit_code == 0
    (fit_dir,) = [d for d in fits.iterdir() if (d / "fit.json").is_file()]
    fit = json.loads((fit_dir / "model.json").read_text())["fit"]
    assert fit["steps"] == 40 and fit["resumed_from"] is not None and fit["resumed_from"] >= killed_at
    assert not (fit_dir / "work").exists(), "checkpoints go once the model is stored"


# --- 4. one run per folder ---------------------------------------------------------------------

HOLDER = """
import sys, time
from liverbench.run.lock import RunLock
lock = RunLock(sys.argv[1]).acquire()
print("HELD", flush=True)
time.sleep(float(sys.argv[2]))
lock.release()
"""


def hold_lock(run_dir: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([PY, "-c", HOLDER, str(run_dir), str(seconds)], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "HELD"
    return proc


def test_second_run_on_one_folder_is_refused_then_waits_then_takes_over_a_stale_lock(tmp_path, capsys):
    cfg = write_config(tmp_path, "locked")
    run_dir = tmp_path / "runs" / "locked"

    holder = hold_lock(run_dir, 60)
    try:
        assert cli.main(["run", str(cfg), "--quiet"]) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert f"pid {holder.pid} on host {socket.gethostname()}" in err and "--wait" in err
        assert not (run_dir / "results").exists()
    finally:
        holder.kill()
        holder.wait()
    # SIGKILL left the lock file behind, unreleased: the next run takes it over
    assert cli.main(["run", str(cfg), "--quiet"]) == cli.EXIT_OK
    assert f"previous run (pid {holder.pid}" in capsys.readouterr().err

    holder = hold_lock(run_dir, 1.5)
    t0 = time.monotonic()
    assert cli.main(["run", str(cfg), "--quiet", "--wait", "--retry-failed"]) == cli.EXIT_OK
    assert time.monotonic() - t0 >= 1.0, "--wait must wait for the holder"
    assert f"waiting for pid {holder.pid}" in capsys.readouterr().err
    holder.wait()
    rows = ResultStore(run_dir).rows(include_superseded=True)
    assert rows["row_key"].is_unique, "no row computed twice"


# --- 5 + 9. SIGKILL keeps finished rows; no Ray process outlives the driver --------------------


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_sigkill_keeps_every_finished_row_and_leaves_no_ray_process(tmp_path, backend):
    from liverbench.backends.ray_reaper import descendants, process_table

    cfg = write_config(tmp_path, "rows", n_cases=40, pps='[[postprocessors]]\nname = "largest-component"',
                       backend=backend, execution="num_cpus = 1\nflush_every = 1000\nsave_predictions = true")
    run_dir = tmp_path / "runs" / "rows"
    proc = start_driver(cfg)
    wait_for(lambda: len(list((run_dir / "predictions").glob("*.nii.gz"))) >= 6, proc, timeout=55,
             what="six finished rows")
    helpers = descendants(proc.pid, process_table())
    kill(proc)

    predicted = {p.name[: -len(".nii.gz")] for p in (run_dir / "predictions").glob("*.nii.gz")}
    stored = ResultStore(run_dir).rows()
    assert not list((run_dir / "results").glob("part-*.parquet")), "flush_every = 1000: no part yet"
    assert len(stored) < 80, "the kill should land mid-run"
    # a row is recorded right after its prediction file: at most the one in hand can be missing
    assert len(predicted - set(stored["row_key"])) <= 1
    assert (stored["status"] == "ok").all()

    if backend == "ray":
        assert len(helpers) >= 2, "the Ray driver should have started its helpers"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            table = process_table()
            left = [p for p, start in helpers.items() if p in table and table[p][1] == start]
            if not left:
                break
            time.sleep(0.2)
        assert not left, f"Ray processes left 15 s after the driver's SIGKILL: {left}"

    resumed = runner.run(load_config(cfg, ["execution.backend=local"]), quiet=True)
    assert resumed.exit_code == 0 and resumed.skipped == len(stored)
    rows = ResultStore(run_dir).rows(include_superseded=True)
    assert len(rows) == len(resumed.plan.rows) and rows["row_key"].is_unique
    assert not list((run_dir / "results").glob("journal-*")), "the killed run's journal is folded into a part"


def test_a_ray_run_that_ends_leaves_no_ray_process(tmp_path):
    from liverbench.backends.ray_reaper import descendants, process_table

    cfg = write_config(tmp_path, "ends", n_cases=2, backend="ray", execution="num_cpus = 1")
    proc = start_driver(cfg)
    seen: dict[int, str] = {}
    while proc.poll() is None:  # note every process the driver starts, as the watchdog does
        seen.update(descendants(proc.pid, process_table()))
        time.sleep(0.1)
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    proc.stderr.close()
    assert len(seen) >= 2, "the driver should have started Ray"
    deadline = time.monotonic() + 10
    while True:
        table = process_table()
        left = [p for p, start in seen.items() if p in table and table[p][1] == start]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"Ray processes left 10 s after the run ended: {left}"


# --- 6. an empty or corrupt result part -------------------------------------------------------


def test_empty_or_corrupt_part_is_skipped_with_a_warning_and_recomputed(tmp_path, capsys):
    cfg = write_config(tmp_path, "parts", execution="flush_every = 2")
    first = runner.run(load_config(cfg), quiet=True)
    assert first.exit_code == 0
    run_dir = tmp_path / "runs" / "parts"
    parts = sorted((run_dir / "results").glob("part-*.parquet"))
    assert len(parts) >= 2
    parts[0].write_bytes(b"")  # empty
    parts[1].write_bytes(b"PAR1 not really parquet")  # corrupt

    with pytest.warns(UserWarning, match=f"{parts[0].name}: empty or corrupt result part skipped"):
        assert cli.main(["run", str(cfg), "--dry-run"]) == cli.EXIT_OK
    with pytest.warns(UserWarning, match=parts[1].name):
        assert ResultStore(run_dir).rows()["row_key"].is_unique
    capsys.readouterr()
    again = runner.run(load_config(cfg), quiet=True)  # the writer moves them aside, once
    err = capsys.readouterr().err
    assert again.exit_code == 0 and again.computed >= 2 and again.n_ok == len(again.plan.rows)
    for part in parts[:2]:
        assert f"{part}: empty or corrupt, moved to" in err
        assert not part.exists() and (run_dir / "results" / "unreadable" / part.name).exists()
    assert cli.main(["report", str(run_dir), "--out", str(tmp_path / "report"), "--formats", "md,csv"]) == 0
    assert "Traceback" not in capsys.readouterr().err


# --- 7. a bad or hostile model.pt ---------------------------------------------------------------


def test_profile_of_a_hostile_model_is_an_input_error_without_weights_only_advice(tmp_path, capsys):
    import torch

    marker = tmp_path / "PWNED"

    class Hostile:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    model = tmp_path / "model"
    model.mkdir()
    torch.save({"w": Hostile()}, model / "model.pt")
    (model / "model.json").write_text(json.dumps({"method": "dsn3d", "params": {}}))
    args = ["profile", "dsn3d", "--model", str(model), "--cases", "1", "--repeats", "1",
            "--dataset-params", '{"n_cases": 1, "preset": "tiny"}']
    assert cli.main(args) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert str(model) in err and "model.pt" in err and "weights_only" not in err
    assert not marker.exists()

    (model / "model.pt").write_bytes(b"not a checkpoint")
    assert cli.main(args) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "model.pt" in err and "Traceback" not in err


# --- 8. dataset errors ----------------------------------------------------------------------------


def test_missing_dataset_root_is_a_config_error_naming_the_key(tmp_path, capsys):
    cfg = write_config(tmp_path)
    text = cfg.read_text().replace('name = "synthetic"\nparams = { n_cases = 4, preset = "tiny", seed = 0 }',
                                   f'name = "nifti-folder"\nparams = {{ root = "{tmp_path / "absent"}" }}')
    cfg.write_text(text)
    assert cli.main(["run", str(cfg), "--quiet"]) == cli.EXIT_USAGE
    assert "dataset.params.root: folder" in capsys.readouterr().err


def _volume(tmp_path: Path):
    from liverbench.data.volume import Volume

    return Volume(np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6), (2.0, 1.0, 1.0))


def test_volume_files_that_are_folders_empty_or_mis_sized_are_refused_by_name(tmp_path):
    from liverbench.data.datasets.nifti_folder import NiftiFolderDataset
    from liverbench.data.io import read_volume, write_volume

    (tmp_path / "images" / "x.nii.gz").mkdir(parents=True)
    write_volume(_volume(tmp_path), tmp_path / "labels" / "x.nii.gz")
    with pytest.raises(InputError, match=r"images/x.nii.gz: is a folder"):
        NiftiFolderDataset(root=str(tmp_path))

    empty = tmp_path / "empty.nii.gz"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=f"{empty}: empty file"):
        read_volume(empty)

    mhd = write_volume(_volume(tmp_path), tmp_path / "v.mhd")
    header = mhd.read_text()
    mhd.write_text(header.replace("DimSize = 6 5 4", "DimSize = 6 5 3"))  # smaller than its .raw
    with pytest.raises(InputError, match=r"v.mhd: the sizes disagree.*describes a smaller volume"):
        read_volume(mhd)
    mhd.write_text(header.replace("DimSize = 6 5 4", "DimSize = 6 5 9"))  # larger than its .raw
    with pytest.raises(InputError, match=r"v.mhd: the sizes disagree.*v.raw has 240 \(truncated"):
        read_volume(mhd)
    mhd.write_text(header)
    assert read_volume(mhd).shape == (4, 5, 6)


def test_a_journal_line_cut_by_a_kill_is_skipped_and_the_rest_kept(tmp_path):
    store = ResultStore(tmp_path)
    for key in ("a", "b"):
        store.append({"row_key": key, "status": "ok", "score": 80.0, "fold": 0, "seed": 0})
    (journal,) = (tmp_path / "results").glob("journal-*.jsonl")
    with journal.open("a") as f:
        f.write('{"row_key": "c", "status": "o')  # what SIGKILL mid-write leaves
    with pytest.warns(UserWarning, match=f"{journal.name}: skipped 1 incomplete journal line"):
        assert sorted(ResultStore(tmp_path).rows()["row_key"]) == ["a", "b"]
    fresh = ResultStore(tmp_path)  # the next run, under the lock
    assert fresh.tidy() == [f"{tmp_path / 'results'}: 2 row(s) journaled by an interrupted run kept"]
    assert not list((tmp_path / "results").glob("journal-*"))
    assert sorted(ResultStore(tmp_path).rows()["row_key"]) == ["a", "b"]


def test_every_parameter_of_every_built_in_plugin_has_a_declared_check():
    """A new key added to a built-in's defaults or presets must come with its check."""
    import baselines.intensity as intensity
    from baselines.densecrf import DenseCRF
    from baselines.graphcut import GraphCut
    from liverbench.plugins import registry

    keys = {intensity.IntensityBaseline: set(intensity.DEFAULTS), GraphCut: set(GraphCut.DEFAULTS),
            DenseCRF: set(DenseCRF.DEFAULTS), registry.get_postprocessor("threshold"): {"level"},
            registry.get_segmenter("precomputed"): {"dir", "pattern", "allow_outside_dir"}}
    for name in ("cnn3d", "dsn3d", "di2in", "di2in-adv"):
        cls = registry.get_segmenter(name)
        keys[cls] = {"preset"}.union(*(set(p) for p in cls.presets.values()))
    for cls, names in keys.items():
        assert not names - set(cls.param_checks), f"{cls.name}: no declared check for {sorted(names - set(cls.param_checks))}"

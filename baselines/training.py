"""One trainer for the four neural baselines (cnn3d, dsn3d, di2in, di2in-adv).

The methods differ only in their networks, losses and step functions; everything else lives
here, once:

- device choice (CUDA when present, CPU otherwise) and, on CUDA, mixed precision
  (`torch.autocast` + one `GradScaler` per optimizer);
- seeding: networks are initialised from `torch.manual_seed(seed)`; every random draw of step
  `s` comes from `numpy.random.default_rng([seed, s, stream])`, so a step's data does not
  depend on how many steps ran in this process.  That is what makes a resumed fit reproduce an
  uninterrupted one bit for bit on the CPU;
- learning-rate schedules as pure functions of the step (nothing to save but the step);
- checkpoints in `ctx.workdir` every `checkpoint_every` steps: tensors (modules, optimizers,
  grad scalers, torch RNG) in a `.pt` file loaded with `torch.load(weights_only=True)`, the rest
  (step, curves, method state such as the deep-supervision weights eta_d) in JSON; each file is
  written to a temporary name and renamed, and a small `checkpoint.json` pointer is renamed
  last, so a fit killed at any moment resumes from the last complete checkpoint;
- learning curves: {"step", "split", "loss"} rows ("train" every step, "val" every `val_every`
  steps and at the end).

It also holds the training-data side shared by all methods: preprocessing cases onto the
method's working grid and sampling random patches from them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from scipy import ndimage as ndi
from torch import nn

from liverbench.data.preprocess import hu_window, resample
from liverbench.data.volume import Case, Volume
from liverbench.errors import ConfigError, InputError
from liverbench.hashing import digest

log = logging.getLogger("liverbench.training")

CHECKPOINT_POINTER = "checkpoint.json"


# ---------------------------------------------------------------------------------------------
# Parameters and presets


def as_triple(value: Any, what: str) -> tuple[Any, Any, Any]:
    """A (z, y, x) triple from a scalar or a 3-sequence."""
    if isinstance(value, (list, tuple)):
        if len(value) != 3:
            raise ConfigError(f"{what} must be one number or three (z, y, x); got {value!r}")
        return tuple(value)
    return (value, value, value)


def config_fingerprint(config: Mapping[str, Any]) -> str:
    """Short hash of the training configuration: a checkpoint made under another one is ignored.
    Its text stays json.dumps' spaced form (not canonical_json) so checkpoints already written
    keep their fingerprint and still resume."""
    return digest(json.dumps(config, sort_keys=True, default=str))


# ---------------------------------------------------------------------------------------------
# Devices


def memory_format(device: torch.device) -> torch.memory_format:
    # channels-last 3D makes oneDNN's CPU convolutions 2-3x faster here (measured: Dou's 9x9x7
    # first layer 0.17 s -> 0.06 s on a 32x64x64 patch, one thread); cuDNN is fine either way.
    return torch.channels_last_3d if device.type == "cpu" else torch.contiguous_format


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules (pure functions of the step)


def step_decay(base_lr: float, every_steps: int, gamma: float = 0.1) -> Callable[[int], float]:
    """lr = base_lr * gamma ** floor(step / every_steps) (Dou: /10 every 50 epochs; Yang: /10 at half)."""
    every = max(1, int(every_steps))
    return lambda step: base_lr * gamma ** (step // every)


def decayed_weight(initial: float, step: int, steps_per_epoch: int, every_epochs: float, rate: float) -> float:
    """eta_d after `step` steps: decayed by `rate` (0.05 = 5 %) every `every_epochs` epochs."""
    epochs = step // max(1, steps_per_epoch)
    return initial * (1.0 - rate) ** int(epochs // every_epochs)


def make_optimizer(kind: str, params, lr: float, weight_decay: float, momentum: float, method: str) -> torch.optim.Optimizer:
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ConfigError(f"{method}: optimizer must be 'sgd' or 'adam'; got {kind!r}")


# ---------------------------------------------------------------------------------------------
# Training data


@dataclass
class TrainingVolume:
    """One case on the method's working grid: windowed image in [0, 1] and the liver target:
    a 0/1 mask, or (`soft_labels`) the liver fraction of every working-grid voxel."""

    case_id: str
    image: np.ndarray  # float32 (z, y, x)
    mask: np.ndarray  # float32 (z, y, x) in [0, 1]
    spacing: tuple[float, float, float]
    group: str = ""  # the dataset the case came from (Case.meta["dataset"]), for balance="dataset"


def prepare_image(image: Volume, spacing: Sequence[float] | None, hu: Sequence[float]) -> Volume:
    """HU window to [0, 1] then resampling to `spacing` mm (None keeps the image's grid)."""
    windowed = image.with_array(hu_window(image.array, float(hu[0]), float(hu[1])))
    if spacing is None:
        return windowed
    return resample(windowed, tuple(float(s) for s in spacing), kind="linear")


def prepare_cases(cases: Sequence[Case], spacing, hu, method: str, soft_labels: bool = False) -> list[TrainingVolume]:
    """Cases on the working grid.  The reference mask is resampled as a float (area average where
    the grid coarsens), which gives each working voxel its liver fraction; `soft_labels` keeps
    that fraction as the target, otherwise it is thresholded at 0.5 (a 0/1 target, as the papers
    trained).  Why soft: on a grid about as coarse as the image (the `cpu` preset's 5 mm) the
    thresholded target misplaces the surface by up to half a voxel and, on the phantoms, grows the
    liver by 1.5-4 %; the fraction keeps the volume (within 1 %) and the surface's sub-voxel
    position, which the probability map, resampled back to the image grid, then carries."""
    out = []
    for case in cases:
        if case.mask is None:
            raise InputError(f"{method}: training case {case.id!r} has no liver mask")
        image = prepare_image(case.image, spacing, hu)
        if spacing is None:
            mask = case.liver
        else:
            mask = resample(case.mask.with_array(case.liver.astype(np.float32)), image.spacing, kind="linear").array
            if mask.shape != image.shape:  # both grids come from the same rounding; guard anyway
                raise InputError(f"{method}: case {case.id!r}: resampled mask {mask.shape} != image {image.shape}")
            mask = np.clip(mask, 0.0, 1.0) if soft_labels else (mask >= 0.5)
        out.append(TrainingVolume(case.id, image.array.astype(np.float32, copy=False), mask.astype(np.float32),
                                  image.spacing, str(case.meta.get("dataset", ""))))
    return out


BALANCES = ("case", "dataset")

# The augmentations that cover the generalisation suite's axes (issue 29), and the bound of each:
# augment_hu_shift: HU offset, +- this fraction of the HU window (0.1 = +-50 HU in a 500 HU one);
# augment_gamma: contrast-phase change, window value ** exp(U(-g, g)) (soft tissue brighter or
#   darker relative to each other, as between native, arterial and portal phases);
# augment_slices: thicker slices, a z blur of a random FWHM in [0, this] mm;
# augment_crop: probability that the patch's field of view ends at a random z inside it (image
#   and target 0 beyond, as where a scan ends).
SUITE_AUGMENTATIONS_TOP = {"augment_hu_shift": 1.0, "augment_gamma": 1.0, "augment_slices": 20.0, "augment_crop": 1.0}


def check_sampling(config: Mapping[str, Any], method: str) -> None:
    """The PatchSampler keys of a resolved config; ConfigErrors name the method and the key."""
    if config["balance"] not in BALANCES:
        raise ConfigError(f"{method}: balance must be one of {', '.join(map(repr, BALANCES))}; got {config['balance']!r}")
    for key, top in (("augment_noise", 1.0), ("augment_zoom", 1.0)) + tuple(SUITE_AUGMENTATIONS_TOP.items()):
        value = config.get(key, 0.0)  # the issue-29 keys are present only when a run gives them
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0.0 <= value < top):
            raise ConfigError(f"{method}: {key} must be a number in [0, {top:g}); got {value!r}")


class PatchSampler:
    """Random training patches of a fixed size from whole volumes.

    A patch is centred on a random liver voxel with probability `fg_fraction`, else anywhere;
    volumes smaller than the patch are zero-padded (0 = the bottom of the HU window, i.e. air
    and fat).  `augment` adds a random intensity scale (+-10 %) and shift (+-0.05), which covers
    the spread between native and contrast-enhanced phases; no flips, because the liver's side
    is information.

    Options for training across datasets (all off by default; with them off the draws are
    exactly those of the plain sampler):
    - `balance="dataset"` draws a dataset (TrainingVolume.group) uniformly, then a volume in it:
      a few real cases beside many phantoms would otherwise get few of the patches;
    - `noise` adds Gaussian noise of a random sd in [0, noise] (window units; 0.04 = 20 HU in
      a 500 HU window), for scanners noisier than the training data;
    - `zoom` cuts a region of a random size in [patch / (1 + zoom), patch * (1 + zoom)]
      (log-uniform, one factor for all axes) and resamples it to the patch: other voxel
      spacings, body sizes and fields of view;
    - `hu_shift`, `gamma`, `slices_mm`, `crop`: HU calibration offsets, contrast-phase changes,
      thicker slices and scan ends inside the patch (SUITE_AUGMENTATIONS_TOP says how each is drawn).
    """

    def __init__(self, volumes: Sequence[TrainingVolume], patch: Sequence[int], fg_fraction: float = 0.5,
                 augment: bool = False, *, balance: str = "case", noise: float = 0.0, zoom: float = 0.0,
                 hu_shift: float = 0.0, gamma: float = 0.0, slices_mm: float = 0.0, crop: float = 0.0):
        if not volumes:
            raise InputError("no training volumes to sample patches from")
        if balance not in BALANCES:
            raise ConfigError(f"balance must be one of {', '.join(map(repr, BALANCES))}; got {balance!r}")
        self.volumes = list(volumes)
        self.patch = tuple(int(p) for p in patch)
        self.fg_fraction = float(fg_fraction)
        self.augment = bool(augment)
        self.noise, self.zoom = float(noise), float(zoom)
        self.hu_shift, self.gamma, self.slices_mm, self.crop = float(hu_shift), float(gamma), float(slices_mm), float(crop)
        self._fg = [np.flatnonzero(v.mask.ravel() >= 0.5) for v in self.volumes]  # liver-centred patches
        groups: dict[str, list[int]] = {}
        for i, v in enumerate(self.volumes):
            groups.setdefault(v.group, []).append(i)
        self._groups = [groups[g] for g in sorted(groups)] if balance == "dataset" else None

    def _one(self, rng: np.random.Generator, v: TrainingVolume, fg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shape = np.array(v.image.shape)
        patch = np.array(self.patch)
        if self.zoom:
            scale = float(np.exp(rng.uniform(-np.log1p(self.zoom), np.log1p(self.zoom))))
            patch = np.maximum(1, np.round(patch * scale)).astype(int)
        if fg.size and rng.random() < self.fg_fraction:
            centre = np.array(np.unravel_index(fg[rng.integers(fg.size)], v.image.shape))
        else:
            centre = np.array([rng.integers(n) for n in shape])
        # start so that the patch contains the centre, clipped to the volume where it is larger
        start = centre - patch // 2
        # (a volume smaller than the patch sits centred in it, zero-padded around)
        start = np.where(shape >= patch, np.clip(start, 0, np.maximum(shape - patch, 0)), -((patch - shape) // 2))
        image = np.zeros(tuple(patch), np.float32)
        mask = np.zeros(tuple(patch), np.float32)
        src, dst = [], []
        for s, n, p in zip(start, shape, patch):
            lo, hi = max(s, 0), min(s + p, n)
            src.append(slice(lo, hi))
            dst.append(slice(lo - s, hi - s))
        image[tuple(dst)] = v.image[tuple(src)]
        mask[tuple(dst)] = v.mask[tuple(src)]
        if tuple(patch) != self.patch:
            image, mask = _resize(image, self.patch), np.clip(_resize(mask, self.patch), 0.0, 1.0)
        if self.augment:
            image = image * np.float32(1.0 + rng.uniform(-0.1, 0.1)) + np.float32(rng.uniform(-0.05, 0.05))
        if self.slices_mm:
            sigma = rng.uniform(0.0, self.slices_mm) / 2.355 / float(v.spacing[0])  # FWHM mm -> sigma voxels
            if sigma > 0.1:
                image = ndi.gaussian_filter1d(image, sigma, axis=0, mode="nearest")
        if self.gamma:
            image = np.clip(image, 0.0, 1.0) ** np.float32(np.exp(rng.uniform(-self.gamma, self.gamma)))
        if self.hu_shift:
            image = image + np.float32(rng.uniform(-self.hu_shift, self.hu_shift))
        if self.crop and rng.random() < self.crop:
            plane = int(rng.integers(1, image.shape[0]))
            end = slice(plane, None) if rng.random() < 0.5 else slice(0, plane)
            image[end], mask[end] = 0.0, 0.0
        if self.noise:
            sd = rng.uniform(0.0, self.noise)
            image = image + rng.normal(0.0, sd, image.shape).astype(np.float32)
        return image.astype(np.float32, copy=False), mask

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(images, masks), each (n, 1, *patch) float32."""
        images, masks = [], []
        for _ in range(n):
            if self._groups is None:
                i = int(rng.integers(len(self.volumes)))
            else:
                group = self._groups[int(rng.integers(len(self._groups)))]
                i = group[int(rng.integers(len(group)))]
            image, mask = self._one(rng, self.volumes[i], self._fg[i])
            images.append(image)
            masks.append(mask)
        return np.stack(images)[:, None], np.stack(masks)[:, None]


def _resize(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Linear resampling of a patch onto `shape` voxels covering the same extent (cell centres)."""
    from scipy.ndimage import map_coordinates

    axes = [(np.arange(m, dtype=np.float32) + 0.5) * (n / m) - 0.5 for n, m in zip(array.shape, shape)]
    coords = np.stack(np.meshgrid(*axes, indexing="ij"))
    return map_coordinates(array, coords, order=1, mode="nearest").astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Checkpoints


def _atomic_write_bytes(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def _atomic_write_json(path: Path, obj: Any) -> None:
    _atomic_write_bytes(path, lambda p: p.write_text(json.dumps(obj), encoding="utf-8"))


def save_checkpoint(workdir: Path, step: int, tensors: dict[str, Any], meta: dict[str, Any]) -> None:
    """tensors -> checkpoint-<step>.pt, meta -> checkpoint-<step>.json, then the pointer; older ones go."""
    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"checkpoint-{step:08d}"
    _atomic_write_bytes(workdir / f"{stem}.pt", lambda p: torch.save(tensors, p))
    _atomic_write_json(workdir / f"{stem}.json", meta)
    _atomic_write_json(workdir / CHECKPOINT_POINTER, {"step": step, "stem": stem})
    for old in workdir.glob("checkpoint-*"):
        if not old.name.startswith(stem):
            old.unlink(missing_ok=True)


def load_checkpoint(workdir: Path | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(tensors, meta) of the last complete checkpoint in `workdir`, or None."""
    if workdir is None:
        return None
    pointer = Path(workdir) / CHECKPOINT_POINTER
    if not pointer.is_file():
        return None
    stem = json.loads(pointer.read_text(encoding="utf-8"))["stem"]
    meta = json.loads((Path(workdir) / f"{stem}.json").read_text(encoding="utf-8"))
    tensors = torch.load(Path(workdir) / f"{stem}.pt", map_location="cpu", weights_only=True)
    return tensors, meta


# ---------------------------------------------------------------------------------------------
# The trainer


class Trainer:
    """Runs a step function `total_steps` times with checkpoints, AMP, curves and resume.

    modules / optimizers / lr_schedules are dicts keyed by name ("net", "disc", ...);
    lr_schedules[name](step) sets the learning rate of optimizers[name] before each step.
    `state` is a JSON-able dict the method may keep across steps (e.g. eta_d); it is
    checkpointed with the step.
    """

    def __init__(
        self,
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        lr_schedules: dict[str, Callable[[int], float]],
        *,
        device: torch.device,
        seed: int,
        config: Mapping[str, Any],
        workdir: Path | None = None,
        checkpoint_every: int = 50,
        logger: logging.Logger | None = None,
        progress: Callable[[int, int, str], Any] | None = None,
        amp: bool = True,
    ) -> None:
        self.modules = modules
        self.optimizers = optimizers
        self.lr_schedules = lr_schedules
        self.device = device
        self.seed = int(seed)
        self.config_hash = config_fingerprint(config)
        self.workdir = Path(workdir) if workdir is not None else None
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.logger = logger or log
        self.progress = progress
        self.amp = bool(amp) and device.type == "cuda"
        self.scalers = {name: torch.amp.GradScaler("cuda", enabled=self.amp) for name in optimizers}
        self.step = 0
        self.curves: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {}
        self.resumed_from: int | None = None
        self.train_seconds = 0.0

    # -- helpers for step functions ------------------------------------------------------------

    def rng(self, step: int, stream: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(step), int(stream)])

    def tensor(self, array: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(array)).to(self.device, non_blocking=True)
        return t.contiguous(memory_format=memory_format(self.device)) if t.ndim == 5 else t

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()

    def update(self, name: str, loss: torch.Tensor) -> None:
        """Backward + optimizer step (through the GradScaler on CUDA) for optimizers[name]."""
        optimizer, scaler = self.optimizers[name], self.scalers[name]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    # -- checkpointing -------------------------------------------------------------------------

    def _tensors(self) -> dict[str, Any]:
        return {
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
            "torch_rng": torch.get_rng_state(),
        }

    def _meta(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "config_hash": self.config_hash,
            "curves": self.curves,
            "state": self.state,
            "train_seconds": self.train_seconds,
        }

    def save(self) -> None:
        if self.workdir is not None:
            save_checkpoint(self.workdir, self.step, self._tensors(), self._meta())

    def try_resume(self) -> bool:
        found = load_checkpoint(self.workdir)
        if found is None:
            return False
        tensors, meta = found
        if meta.get("config_hash") != self.config_hash:
            self.logger.warning(
                "checkpoint in %s was made with another configuration; starting afresh", self.workdir
            )
            return False
        for k, m in self.modules.items():
            m.load_state_dict(tensors["modules"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(tensors["optimizers"][k])
        for k, s in self.scalers.items():
            if tensors["scalers"].get(k):
                s.load_state_dict(tensors["scalers"][k])
        torch.set_rng_state(tensors["torch_rng"])
        self.step = int(meta["step"])
        self.curves = list(meta["curves"])
        self.state = dict(meta["state"])
        self.train_seconds = float(meta.get("train_seconds", 0.0))
        self.resumed_from = self.step
        self.logger.info("resuming from the checkpoint at step %d in %s", self.step, self.workdir)
        return True

    # -- the loop ------------------------------------------------------------------------------

    def run(
        self,
        total_steps: int,
        step_fn: Callable[["Trainer", int], float],
        val_fn: Callable[["Trainer"], float] | None = None,
        val_every: int = 0,
    ) -> None:
        """Steps self.step .. total_steps-1; step_fn returns the step's training loss."""
        self.try_resume()
        for step in range(self.step, total_steps):
            start = time.perf_counter()
            for name, schedule in self.lr_schedules.items():
                for group in self.optimizers[name].param_groups:
                    group["lr"] = schedule(step)
            for m in self.modules.values():
                m.train()
            loss = float(step_fn(self, step))
            if not math.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss} at step {step + 1}; lower the learning rate")
            self.step = step + 1
            self.curves.append({"step": self.step, "split": "train", "loss": loss})
            if val_fn is not None and (self.step == total_steps or (val_every and self.step % val_every == 0)):
                with torch.no_grad():
                    for m in self.modules.values():
                        m.eval()
                    self.curves.append({"step": self.step, "split": "val", "loss": float(val_fn(self))})
            self.train_seconds += time.perf_counter() - start
            if self.step % self.checkpoint_every == 0 or self.step == total_steps:
                self.save()
            if self.progress is not None:
                self.progress(self.step, total_steps, f"loss {loss:.4f}")
        for m in self.modules.values():
            m.eval()

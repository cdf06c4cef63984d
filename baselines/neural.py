"""What the four neural segmenters share: parameters and presets, preprocessing, the fit
skeleton around `baselines.training.Trainer`, inference, save and load.

A subclass provides `presets`, `network_class`, `build_network()` and `run_training(kit)` (its losses and step
function); see baselines/dou_dsn.py, baselines/di2in.py, baselines/di2in_adv.py.

Resources: a fit asks for one whole GPU and a prediction actor for half of one (two actors share
a GPU: whole-volume inference at 3-5 mm uses a fraction of its memory and time).  That is the one
declaration; the plan decides the rest: where the cluster has GPUs, Ray gives them and
ctx.device is "cuda"; on a GPU-less cluster the plan drops the GPUs and runs on the CPU when
`execution.allow_cpu_fallback` (the default), or refuses.  Training and inference follow
ctx.device; "cuda" without a visible CUDA device falls back to the CPU with a warning.

Saved state (`save(dir)`): `model.pt` (the network's state dict, plain tensors, loaded with
`torch.load(weights_only=True)`) and `model.json` (method, version, the resolved params,
learning curves, fit facts).  The discriminator of DI2IN-AN is not saved.
"""

from __future__ import annotations

import copy
import json
import math
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from baselines.guard import GuardResult, apply_guard, far_component_guard
from baselines.inference import infer, to_image_grid
from baselines.training import (
    PatchSampler,
    Trainer,
    as_triple,
    check_sampling,
    make_optimizer,
    memory_format,
    prepare_cases,
    prepare_image,
)
from liverbench.data.volume import Case, Volume
from liverbench.devices import resolve_device
from liverbench.errors import ConfigError, InputError
from liverbench.plugins.base import Context, Param, ParamError, Prediction, Resources, Segmenter

MODEL_WEIGHTS = "model.pt"
MODEL_JSON = "model.json"


@dataclass
class FitKit:
    """Everything a subclass's `train` needs, built once by `fit`."""

    net: nn.Module
    device: torch.device
    sampler: PatchSampler
    val_images: torch.Tensor | None  # fixed validation patches (N, 1, *patch) on device
    val_masks: torch.Tensor | None
    n_train: int
    ctx: Context


class NeuralSegmenter(Segmenter):
    version: ClassVar[str] = "1"
    trainable: ClassVar[bool] = True
    fit_resources: ClassVar[Resources] = Resources(num_cpus=1, num_gpus=1.0, memory_gb=4.0)
    predict_resources: ClassVar[Resources] = Resources(num_cpus=1, num_gpus=0.5, memory_gb=4.0)
    presets: ClassVar[dict[str, dict[str, Any]]]
    network_class: ClassVar[type]  # the nn.Module class: its `stride` and `probabilities`
    # Declared checks of the shared keys (the run config is checked against them); the resolved
    # preset is checked again by _check_config (patch/tile vs. the network stride, ...). Sizes have
    # upper bounds far above any preset, so a typo (width = 1e6) is refused before it takes memory.
    param_checks = {
        "preset": Param(str), "width": Param(float, gt=0, le=16),
        "spacing_mm": Param((float, list), gt=0, null=True, length=3, item=Param(float, gt=0)),
        "hu": Param(list, length=2, item=Param(float)), "patch": Param((int, list), gt=0, le=1024, length=3, item=Param(int, gt=0, le=1024)),
        "batch_size": Param(int, ge=1, le=1024), "iterations": Param(int, ge=0, le=10**8), "optimizer": Param(str, choices=("sgd", "adam")),
        "lr": Param(float, gt=0), "momentum": Param(float, ge=0, lt=1), "weight_decay": Param(float, ge=0),
        "init": Param(str, choices=("gaussian", "xavier", "kaiming", "default")), "init_std": Param(float, gt=0),
        "fg_fraction": Param(float, ge=0, le=1), "soft_labels": Param(bool), "augment": Param(bool),
        "checkpoint_every": Param(int, ge=1), "val_every": Param(int, ge=1), "val_patches": Param(int, ge=0, le=10_000),
        "amp": Param(bool), "max_voxels": Param(int, ge=1),
        "tile": Param((int, list), gt=0, le=2048, length=3, item=Param(int, gt=0, le=2048)), "overlap": Param(float, ge=0, lt=1),
        "blend": Param(str, choices=("gaussian", "uniform")), "lr_gamma": Param(float, gt=0, le=1),
        "batch_norm": Param(bool), "balance": Param(str, choices=("case", "dataset")),
        "augment_noise": Param(float, ge=0, lt=1), "augment_zoom": Param(float, ge=0, lt=1),
        "augment_hu_shift": Param(float, ge=0, lt=1), "augment_gamma": Param(float, ge=0, lt=1),
        "augment_slices": Param(float, ge=0, lt=20), "augment_crop": Param(float, ge=0, lt=1),
        "guard_mm": Param(float, ge=0),
    }
    # Keys added by issue 29 (baselines.training.SUITE_AUGMENTATIONS_TOP and the far-component
    # guard, baselines/guard.py): accepted, but filled in only when a run gives them, so the
    # resolved params, and with them the fit keys, of every run made before stay as they were.
    # Absent means off.
    optional_keys: ClassVar[dict[str, float]] = {
        "augment_hu_shift": 0.0, "augment_gamma": 0.0, "augment_slices": 0.0, "augment_crop": 0.0, "guard_mm": 0.0}

    default_preset: ClassVar[str] = "cpu"

    @classmethod
    def param_defaults(cls, params: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
        """The chosen preset's values and its name: `self.params` holds every value the preset
        resolves to (overrides applied), not only what was given, so {"preset": "paper"} and
        {"preset": "paper", "lr": <paper's lr>} are one identity; and editing a preset changes
        the keys of the runs that use it instead of silently reusing their fits."""
        preset = params.get("preset", cls.default_preset)
        if not isinstance(preset, str) or preset not in cls.presets:
            raise ParamError("preset", f"unknown preset {preset!r}; choose one of {', '.join(sorted(cls.presets))}",
                             f"{cls.name}.params")
        defaults = {"preset": preset, **copy.deepcopy(cls.presets[preset])}
        return defaults, set(defaults) | set(cls.optional_keys)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._check_config()
        self.net: nn.Module | None = None
        self._curves: list[dict[str, Any]] = []
        self.fit_info: dict[str, Any] = {}
        self.last_guard: GuardResult | None = None  # the far-component guard on the last prediction

    def option(self, key: str) -> float:
        """An issue-29 key's value (absent: off)."""
        return float(self.config.get(key, self.optional_keys[key]))

    # -- to be provided by each method --------------------------------------------------------

    @abstractmethod
    def build_network(self) -> nn.Module: ...

    @abstractmethod
    def run_training(self, kit: FitKit) -> Trainer:
        """Run the method's training loop on kit.net; return the finished Trainer."""

    # -- configuration ------------------------------------------------------------------------

    def _check_config(self) -> None:
        c = self.config
        where = f"{self.name}"
        for key in ("iterations", "batch_size", "checkpoint_every"):
            if not isinstance(c[key], int) or c[key] < (0 if key == "iterations" else 1):
                raise ConfigError(f"{where}: {key} must be a positive integer; got {c[key]!r}")
        if not (isinstance(c["width"], (int, float)) and c["width"] > 0):
            raise ConfigError(f"{where}: width must be a positive number; got {c['width']!r}")
        stride = self.network_stride
        patch = as_triple(c["patch"], f"{where}: patch")
        if any(int(p) <= 0 or int(p) % stride for p in patch):
            raise ConfigError(f"{where}: patch {list(patch)} must be positive multiples of the network stride {stride}")
        tile = as_triple(c["tile"], f"{where}: tile")
        if any(int(t) <= 0 or int(t) % stride for t in tile):
            raise ConfigError(f"{where}: tile {list(tile)} must be positive multiples of the network stride {stride}")
        if c["spacing_mm"] is not None:
            spacing = as_triple(c["spacing_mm"], f"{where}: spacing_mm")
            if not all(isinstance(s, (int, float)) and s > 0 for s in spacing):
                raise ConfigError(f"{where}: spacing_mm must be positive (mm) or null; got {c['spacing_mm']!r}")
        if len(c["hu"]) != 2 or not c["hu"][1] > c["hu"][0]:
            raise ConfigError(f"{where}: hu must be [low, high] with high > low; got {c['hu']!r}")
        check_sampling(c, where)

    @property
    def config(self) -> dict[str, Any]:
        """The resolved parameters (`self.params`), under the name the training code reads."""
        return self.params

    @property
    def network_stride(self) -> int:
        return int(self.network_class.stride)

    @property
    def spacing(self) -> tuple[float, float, float] | None:
        s = self.config["spacing_mm"]
        return None if s is None else tuple(float(v) for v in as_triple(s, "spacing_mm"))

    @property
    def patch(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in as_triple(self.config["patch"], "patch"))

    # -- helpers for subclasses ---------------------------------------------------------------

    def optimizer(self, params, prefix: str = "") -> torch.optim.Optimizer:
        c = self.config
        return make_optimizer(
            c[f"{prefix}optimizer"], params, c[f"{prefix}lr"], c[f"{prefix}weight_decay"], c["momentum"], self.name
        )

    def trainer(self, kit: FitKit, modules, optimizers, schedules) -> Trainer:
        c = self.config
        return Trainer(
            modules,
            optimizers,
            schedules,
            device=kit.device,
            seed=kit.ctx.seed,
            config={"method": self.name, "version": self.version, "config": c, "n_train": kit.n_train},
            workdir=kit.ctx.workdir,
            checkpoint_every=c["checkpoint_every"],
            logger=kit.ctx.logger,
            progress=kit.ctx.progress,
            amp=c["amp"],
        )

    # -- Segmenter API ------------------------------------------------------------------------

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: Context) -> None:
        c = self.config
        if not train:
            raise InputError(f"{self.name}: fit needs at least one training case")
        device = torch.device(resolve_device(ctx.device, ctx.logger))
        torch.manual_seed(ctx.seed)  # network initialisation; every later draw is seeded per step
        volumes = prepare_cases(train, self.spacing, c["hu"], self.name, c["soft_labels"])
        val_volumes = prepare_cases(val, self.spacing, c["hu"], self.name, c["soft_labels"]) if val else []
        sampler = PatchSampler(volumes, self.patch, c["fg_fraction"], c["augment"], balance=c["balance"],
                               noise=c["augment_noise"], zoom=c["augment_zoom"],
                               hu_shift=self.option("augment_hu_shift"), gamma=self.option("augment_gamma"),
                               slices_mm=self.option("augment_slices"), crop=self.option("augment_crop"))
        val_images = val_masks = None
        if val_volumes and c["val_patches"] > 0:
            # fixed validation patches (same every evaluation), drawn like training patches but
            # without augmentation, from a stream no training step uses
            val_sampler = PatchSampler(val_volumes, self.patch, c["fg_fraction"], augment=False)
            images, masks = val_sampler.sample(np.random.default_rng([ctx.seed, 2**31 - 1]), c["val_patches"])
            val_images = torch.from_numpy(images).to(device).contiguous(memory_format=memory_format(device))
            val_masks = torch.from_numpy(masks).to(device)
        net = self.build_network().to(device).to(memory_format=memory_format(device))
        kit = FitKit(net, device, sampler, val_images, val_masks, len(volumes), ctx)
        trainer = self.run_training(kit)
        self.net = net.eval()
        self._curves = list(trainer.curves)
        self.fit_info = {
            "device": str(device),
            "steps": trainer.step,
            "resumed_from": trainer.resumed_from,
            "train_seconds": trainer.train_seconds,
            "state": trainer.state,
            "train_cases": [v.case_id for v in volumes],
        }

    def predict(self, image: Volume, ctx: Context) -> Prediction:
        if self.net is None:
            raise RuntimeError(f"{self.name}: predict called before fit or load")
        c = self.config
        device = torch.device(resolve_device(ctx.device, ctx.logger))
        self.net.to(device).to(memory_format=memory_format(device))
        prepared = prepare_image(image, self.spacing, c["hu"])
        maps = infer(
            self.net,
            self.network_class.probabilities,
            prepared.array,
            stride=self.network_stride,
            device=device,
            amp=c["amp"],
            max_voxels=c["max_voxels"],
            tile=as_triple(c["tile"], "tile"),
            overlap=c["overlap"],
            blend=c["blend"],
        )
        self.last_guard = None
        if self.option("guard_mm") > 0:
            self.last_guard = far_component_guard(maps["prob"], prepared.spacing, self.option("guard_mm"))
            if self.last_guard.keep is not None:
                maps = apply_guard(maps, self.last_guard.keep)
                if ctx.logger is not None:
                    ctx.logger.info("%s: far-component guard took out %d working-grid voxels at P >= 0.5",
                                    ctx.case_id or "image", self.last_guard.removed_voxels)
        maps = to_image_grid(maps, prepared.spacing, image.shape)
        prob = maps.pop("prob")
        return Prediction(prob=prob, extras=maps)

    def learning_curves(self) -> list[dict[str, Any]]:
        return list(self._curves)

    def save(self, directory: Path) -> None:
        if self.net is None:
            raise RuntimeError(f"{self.name}: nothing to save; call fit first")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        torch.save(state, directory / MODEL_WEIGHTS)
        meta = {
            "method": self.name,
            "version": self.version,
            "params": self.params,
            "curves": self._curves,
            "fit": self.fit_info,
        }
        (directory / MODEL_JSON).write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "NeuralSegmenter":
        directory = Path(directory)
        meta_path, weights_path = directory / MODEL_JSON, directory / MODEL_WEIGHTS
        if not meta_path.is_file() or not weights_path.is_file():
            raise InputError(f"{cls.name}: {directory} holds no saved model ({MODEL_JSON} and {MODEL_WEIGHTS} expected)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("method") != cls.name:
            raise InputError(f"{cls.name}: {directory} holds a {meta.get('method')!r} model, not {cls.name!r}")
        method = cls(**meta["params"])
        net = method.build_network()
        net.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
        method.net = net.eval()
        method._curves = list(meta.get("curves", []))
        method.fit_info = dict(meta.get("fit", {}))
        return method


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """One epoch = as many patches as training volumes (each iteration draws `batch_size`)."""
    return max(1, math.ceil(n_train / batch_size))


def common_preset(**overrides: Any) -> dict[str, Any]:
    """Keys every neural method has (its presets override them)."""
    base = {
        "width": 1.0,
        "spacing_mm": 3.0,
        "hu": [-200.0, 300.0],
        "patch": [64, 64, 64],
        "batch_size": 1,
        "iterations": 200,
        "optimizer": "sgd",
        "lr": 0.01,
        "momentum": 0.9,
        "weight_decay": 0.0,
        "init": "kaiming",
        "init_std": 0.01,
        "fg_fraction": 0.5,
        "soft_labels": False,
        "augment": False,
        # training across datasets (baselines.training.PatchSampler); off unless a run asks
        "balance": "case",
        "augment_noise": 0.0,
        "augment_zoom": 0.0,
        "checkpoint_every": 50,
        "val_every": 25,
        "val_patches": 4,
        "amp": True,
        "max_voxels": 16_000_000,
        "tile": [128, 128, 128],
        "overlap": 0.5,
        "blend": "gaussian",
    }
    base.update(overrides)
    return base

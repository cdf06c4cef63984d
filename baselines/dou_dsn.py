"""`cnn3d` and `dsn3d`: the 3D CNN and 3D deeply supervised network of Dou et al. 2016.

Both train the same network (baselines/nets/dou.py) with the per-voxel negative log-likelihood
of the softmax (Eq. 1); `dsn3d` adds the two deep-supervision losses (Eq. 2) with weights eta_d
initialised to 0.3 (branch after layer 3) and 0.4 (after layer 6) and decayed by 5 % every 10
epochs (Eq. 3); `cnn3d` is "trained with the loss only from the last layer".  Weight decay
(lambda ||W||^2) is the optimizer's weight decay.  `dsn3d` returns the branch probabilities as
Prediction.extras "branch1" (layer 3) and "branch2" (layer 6) for the CRF of Eq. 4; `cnn3d`'s
network has no branch heads (the paper's 3D CNN has none), so its CRF unary is the final map
alone by construction.

Presets (the paper's figures where it gives them, our choices marked):
- `paper`: width 1 (8/16/32/32 kernels), plain SGD lr 0.1 / 10 every 50 epochs (no momentum:
  the paper names none, and with 0.9 at lr 0.1 the loss became NaN within 50-90 iterations on a
  short CPU run), weight decay 5e-4 (ours: lambda is not given), zero-mean Gaussian
  init with sigma = sqrt(2 / fan_in) per layer (Caffe's "msra" filler; see below), batch 1
  (each iteration "a large volumetric data"), input crops of 72x160x160 (z, y, x; Fig. 1),
  3000 iterations (ours: 150 epochs of the 20 SLiver07 training volumes, enough for the lr
  steps at 50 and 100 epochs).  Working spacing 2.0 mm between slices and 1.5 mm in-plane
  (ours: the paper does not say; 160x160x72 voxels then span 240x240x144 mm, a liver-sized
  field, and the 9x9x7 first kernel is roughly isotropic in mm).
  Initialisation: the paper says "Gaussian distribution (mu = 0, sigma = 0.01)".  Taken
  literally (init = "gaussian", init_std = 0.01) it cannot train the plain 3D CNN: with no batch
  norm, eight layers at sigma 0.01 shrink the main output's logits to std ~1e-7 and the gradient
  reaching conv1 from the main loss to ~1e-7 (against 2e-2 through the DSN branches); on a
  short CPU run (tests/unit/test_training.py) the main output stays at the class prior for both
  networks.  The authors' networks did train, so the sigma they quote is most likely the order
  of magnitude of a fan-in-scaled Gaussian (He / Caffe "msra": sigma 0.06, 0.03, 0.02, 0.03 for
  conv1-conv4 here), which is what the preset uses; `init = "gaussian"` restores the literal one.
- `cpu`: width 0.5, 5 mm isotropic (the demo phantoms are 3.7-4.7 mm in-plane, 4-6 mm slices;
  a 5 mm round trip of their reference masks keeps Dice 0.97-0.98, and 4 mm would double the
  cost), 32x64x64 patches, batch 2, 800 iterations (about 250 s on one core), Adam lr 3e-3
  divided by 10 every 100 epochs, He init (a sigma 0.01 Gaussian start needs the long
  paper schedule to leave its plateau, which is exactly the paper's point about the plain
  3D CNN), batch norm after conv1-conv4, intensity augmentation.  One epoch = as many patches
  as training cases.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from baselines.nets.dou import DouDSN
from baselines.neural import FitKit, NeuralSegmenter, common_preset, steps_per_epoch
from baselines.training import Trainer, decayed_weight, step_decay
from liverbench.errors import ConfigError
from liverbench.plugins.base import Param

_DSN_KEYS = dict(
    eta=[0.3, 0.4],  # initial eta_d for the branches after layers 3 and 6
    eta_decay=0.05,  # 5 % ...
    eta_every_epochs=10,  # ... every 10 epochs
    lr_step_epochs=50,  # lr divided by lr_gamma every 50 epochs
    lr_gamma=0.1,
    deconv_act=True,  # leaky ReLU after each mainstream deconvolution (see baselines/nets/dou.py)
)

PRESETS: dict[str, dict[str, Any]] = {
    "paper": common_preset(
        width=1.0,
        spacing_mm=[2.0, 1.5, 1.5],
        patch=[72, 160, 160],
        batch_size=1,
        iterations=3000,
        optimizer="sgd",
        lr=0.1,
        momentum=0.0,
        weight_decay=5e-4,
        init="kaiming",
        batch_norm=False,
        val_patches=4,
        val_every=100,
        checkpoint_every=200,
        tile=[96, 192, 192],
        **_DSN_KEYS,
    ),
    "cpu": common_preset(
        width=0.5,
        spacing_mm=5.0,
        patch=[32, 64, 64],
        batch_size=2,
        iterations=800,
        soft_labels=True,
        optimizer="adam",
        lr=3e-3,
        weight_decay=0.0,
        init="kaiming",
        batch_norm=True,
        augment=True,
        val_patches=2,
        val_every=25,
        checkpoint_every=50,
        tile=[64, 128, 128],
        **{**_DSN_KEYS, "lr_step_epochs": 100},
    ),
}


def class_probabilities(mask: torch.Tensor) -> torch.Tensor:
    """(N, 1, ...) liver target in [0, 1] -> (N, 2, ...) (background, liver) probabilities: the
    softmax cross-entropy's target; for a 0/1 mask it is exactly the usual class-index loss."""
    return torch.cat([1.0 - mask, mask], 1)


def dsn_loss(outputs: dict[str, torch.Tensor], target: torch.Tensor, eta: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """(total, main): L + sum_d eta_d L_d (Eq. 3 without the weight decay term), and L alone.

    `target`: (N, 2, ...) class probabilities (`class_probabilities`).  Per-voxel NLL of the
    softmax, averaged over voxels (the paper sums; the mean only rescales
    the learning rate and keeps it independent of the patch size).
    """
    main = F.cross_entropy(outputs["main"].float(), target)
    total = main
    for d, weight in enumerate(eta, start=1):
        if weight:
            total = total + weight * F.cross_entropy(outputs[f"branch{d}"].float(), target)
    return total, main


class CNN3D(NeuralSegmenter):
    """Dou et al.'s network trained on the last layer's loss only (their "3D CNN")."""

    name: ClassVar[str] = "cnn3d"
    # 2: cpu preset re-sized, soft labels; 3: nonlinear deconvolutions; 4: no branch heads, paper
    # preset with fan-in-scaled init and plain SGD; 5: the key holds the resolved preset (issue 18)
    version: ClassVar[str] = "5"
    network_class = DouDSN
    presets = PRESETS
    deep_supervision: ClassVar[bool] = False
    param_checks = {
        **NeuralSegmenter.param_checks,
        "eta": Param(list, length=2, item=Param(float, ge=0)), "eta_decay": Param(float, ge=0, lt=1),
        "eta_every_epochs": Param(int, ge=1), "lr_step_epochs": Param(int, ge=1), "deconv_act": Param(bool),
    }

    def _check_config(self) -> None:
        super()._check_config()
        eta = self.config["eta"]
        if not (isinstance(eta, (list, tuple)) and len(eta) == 2 and all(isinstance(e, (int, float)) and e >= 0 for e in eta)):
            raise ConfigError(f"{self.name}: eta must be two non-negative weights [eta_3, eta_6]; got {eta!r}")
        if not 0 <= self.config["eta_decay"] < 1:
            raise ConfigError(f"{self.name}: eta_decay must be in [0, 1); got {self.config['eta_decay']!r}")

    def build_network(self) -> DouDSN:
        c = self.config
        return DouDSN(width=c["width"], init=c["init"], init_std=c["init_std"], batch_norm=c["batch_norm"],
                      deconv_act=c["deconv_act"], branches=self.deep_supervision)

    def eta_at(self, step: int, n_train: int) -> list[float]:
        """The deep-supervision weights in force at `step` (all zero for the plain 3D CNN)."""
        if not self.deep_supervision:
            return [0.0, 0.0]
        c = self.config
        spe = steps_per_epoch(n_train, c["batch_size"])
        return [decayed_weight(e, step, spe, c["eta_every_epochs"], c["eta_decay"]) for e in c["eta"]]

    def run_training(self, kit: FitKit) -> Trainer:
        c = self.config
        spe = steps_per_epoch(kit.n_train, c["batch_size"])
        optimizer = self.optimizer(kit.net.parameters())
        schedule = step_decay(c["lr"], c["lr_step_epochs"] * spe, c["lr_gamma"])
        trainer = self.trainer(kit, {"net": kit.net}, {"net": optimizer}, {"net": schedule})

        def step(tr: Trainer, s: int) -> float:
            eta = self.eta_at(s, kit.n_train)
            if eta != tr.state.get("eta"):
                tr.state["eta"] = eta
                tr.state.setdefault("eta_history", []).append([s, *eta])
            images, masks = kit.sampler.sample(tr.rng(s), c["batch_size"])
            x, target = tr.tensor(images), class_probabilities(tr.tensor(masks))
            with tr.autocast():
                outputs = kit.net(x)
            total, main = dsn_loss(outputs, target, eta)
            tr.update("net", total)
            return main.item()

        def validate(tr: Trainer) -> float:
            with tr.autocast():
                outputs = kit.net(kit.val_images)
            return F.cross_entropy(outputs["main"].float(), class_probabilities(kit.val_masks)).item()

        trainer.run(c["iterations"], step, validate if kit.val_images is not None else None, c["val_every"])
        return trainer


class DSN3D(CNN3D):
    """Dou et al.'s 3D DSN: the same network with deep supervision after layers 3 and 6."""

    name: ClassVar[str] = "dsn3d"
    # 2: cpu preset re-sized, soft labels; 3: nonlinear deconvolutions; 4: paper preset with
    # fan-in-scaled init and plain SGD; 5: the key holds the resolved preset (issue 18)
    version: ClassVar[str] = "5"
    deep_supervision: ClassVar[bool] = True

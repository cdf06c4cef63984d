"""`di2in-adv`: DI2IN-AN, DI2IN improved by adversarial training (Yang et al. 2017, section 2.2).

Training (Algorithm 1): pre-train the generator G (DI2IN) exactly like `di2in` for
`iterations` steps, then run `adv_iterations` adversarial iterations, each of

- k_D discriminator steps: a mini-batch of `batch_d` training crops, G's prediction for them
  (no gradient into G), and l_D = -log D(y_gt) - log(1 - D(G(x))) (Eq. 1), reference label 1,
  prediction label 0;
- k_G generator steps: a mini-batch of `batch_g` crops and l_G = l_seg + lambda * l_adv with the
  non-saturating adversarial term of Eq. 3, l_adv = -log D(G(x)).  (Eq. 3 as printed reads
  "+ lambda log D(G(x))", whose minimisation would push D(G(x)) down; the sentence before it,
  "maximize the probability that prediction to be the ground truth", and Goodfellow et al.'s
  trick it cites fix the sign to -log D(G(x)).)

D sees the mask only (as in Eq. 1: D(y)), fed G's probability map for predictions.  During the
adversarial phase G keeps the learning rate it ended pre-training with (the paper gives none);
D uses SGD at `d_lr` (paper preset 0.01, the paper's base rate; ours).  D is not saved: only G
is needed at inference ("the adversarial network is no longer required at inference").

Presets: `paper` = di2in's paper preset + 100 adversarial iterations, k_D = 10 with mini-batch
8, k_G = 1 with mini-batch 4, lambda = 0.01.  `cpu` = di2in's cpu preset as the pre-training,
then a few short adversarial iterations (k_D = 2, mini-batch 2; k_G = 1, mini-batch 2; D width
0.25), so the fit costs about as much CPU as di2in's plus 10 %.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from baselines.di2in import DI2IN, PRESETS as DI2IN_PRESETS
from baselines.nets.discriminator import Discriminator
from baselines.neural import FitKit
from baselines.training import Trainer, make_optimizer, step_decay
from liverbench.errors import ConfigError
from liverbench.plugins.base import Param

# What both presets' adversarial stage shares: one generator step per round, Yang et al.'s
# lambda, a discriminator that sees the maps alone, without weight decay.
_ADV_KEYS = dict(k_g=1, adv_lambda=0.01, d_with_image=False, d_weight_decay=0.0)

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        **DI2IN_PRESETS["paper"],
        **_ADV_KEYS,
        "adv_iterations": 100,
        "k_d": 10,
        "batch_d": 8,
        "batch_g": 4,
        "d_width": 1.0,
        "d_optimizer": "sgd",
        "d_lr": 0.01,
    },
    "cpu": {
        **DI2IN_PRESETS["cpu"],
        **_ADV_KEYS,
        "adv_iterations": 10,
        "k_d": 2,
        "batch_d": 2,
        "batch_g": 2,
        "d_width": 0.25,
        "d_optimizer": "adam",
        "d_lr": 1e-3,
    },
}


class DI2INAdversarial(DI2IN):
    name: ClassVar[str] = "di2in-adv"
    # 2: cpu preset re-sized, soft labels (fit keys change); 3: the key holds the resolved preset (issue 18)
    version: ClassVar[str] = "3"
    presets = PRESETS
    param_checks = {
        **DI2IN.param_checks,
        "adv_iterations": Param(int, ge=0), "k_d": Param(int, ge=1), "batch_d": Param(int, ge=1),
        "k_g": Param(int, ge=1), "batch_g": Param(int, ge=1), "adv_lambda": Param(float, ge=0),
        "d_width": Param(float, gt=0), "d_with_image": Param(bool), "d_optimizer": Param(str, choices=("sgd", "adam")),
        "d_lr": Param(float, gt=0), "d_weight_decay": Param(float, ge=0),
    }

    def _check_config(self) -> None:
        super()._check_config()
        c = self.config
        for key in ("adv_iterations", "k_d", "k_g", "batch_d", "batch_g"):
            if not isinstance(c[key], int) or c[key] < (0 if key == "adv_iterations" else 1):
                raise ConfigError(f"{self.name}: {key} must be a positive integer; got {c[key]!r}")
        if not c["adv_lambda"] >= 0:
            raise ConfigError(f"{self.name}: adv_lambda must be >= 0; got {c['adv_lambda']!r}")

    def build_discriminator(self) -> Discriminator:
        c = self.config
        return Discriminator(width=c["d_width"], with_image=c["d_with_image"], init=c["init"], init_std=c["init_std"])

    def run_training(self, kit: FitKit) -> Trainer:
        c = self.config
        g, pretrain = kit.net, c["iterations"]
        d = self.build_discriminator().to(kit.device)
        g_opt = self.optimizer(g.parameters())
        d_opt = make_optimizer(c["d_optimizer"], d.parameters(), c["d_lr"], c["d_weight_decay"], c["momentum"], self.name)
        pre_schedule = step_decay(c["lr"], max(1, pretrain // 2), c["lr_gamma"])
        end_lr = pre_schedule(max(0, pretrain - 1))
        schedules = {
            "net": lambda s: pre_schedule(s) if s < pretrain else end_lr,
            "disc": lambda s: c["d_lr"],
        }
        trainer = self.trainer(kit, {"net": g, "disc": d}, {"net": g_opt, "disc": d_opt}, schedules)
        supervised_step = self.generator_step_fn(kit)

        def d_input(tr: Trainer, mask: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
            return d(mask, images if c["d_with_image"] else None)

        def adversarial_iteration(tr: Trainer, s: int) -> float:
            log = tr.state.setdefault("adv_log", "")
            # k_D discriminator steps on (reference, G(x)) pairs
            for j in range(c["k_d"]):
                images, masks = kit.sampler.sample(tr.rng(s, 1 + j), c["batch_d"])
                x, y_gt = tr.tensor(images), tr.tensor(masks)
                with torch.no_grad(), tr.autocast():
                    y_pred = torch.sigmoid(g(x)["main"].float())
                with tr.autocast():
                    real, fake = d_input(tr, y_gt, x), d_input(tr, y_pred, x)
                l_d = F.binary_cross_entropy_with_logits(real.float(), torch.ones_like(real, dtype=torch.float32)) + (
                    F.binary_cross_entropy_with_logits(fake.float(), torch.zeros_like(fake, dtype=torch.float32))
                )
                tr.update("disc", l_d)
                log += "D"
                tr.state["d_loss"] = l_d.item()
            # k_G generator steps: segmentation loss + lambda * (-log D(G(x)))
            d.requires_grad_(False)
            try:
                for j in range(c["k_g"]):
                    images, masks = kit.sampler.sample(tr.rng(s, 1 + c["k_d"] + j), c["batch_g"])
                    x, y_gt = tr.tensor(images), tr.tensor(masks)
                    with tr.autocast():
                        outputs = g(x)
                        score = d_input(tr, torch.sigmoid(outputs["main"].float()), x)
                    l_seg, final = self.seg_loss(outputs, y_gt)
                    l_adv = F.binary_cross_entropy_with_logits(score.float(), torch.ones_like(score, dtype=torch.float32))
                    tr.update("net", l_seg + c["adv_lambda"] * l_adv)
                    log += "G"
                    tr.state["g_adv_loss"] = l_adv.item()
            finally:
                d.requires_grad_(True)
            tr.state["adv_log"] = log
            return final.item()

        def step(tr: Trainer, s: int) -> float:
            return supervised_step(tr, s) if s < pretrain else adversarial_iteration(tr, s)

        trainer.run(pretrain + c["adv_iterations"], step, self.validate_fn(kit), c["val_every"])
        return trainer

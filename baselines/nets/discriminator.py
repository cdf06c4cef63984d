"""The adversarial network of DI2IN-AN (Yang et al. 2017, section 2.2, Fig. 2 and Fig. 3).

The paper's objective (Eq. 1) writes D(y; theta_D) on a label map y alone: the reference mask
Y_gt (label 1) or the generator's prediction Y_pred = G(X) (label 0), and Algorithm 1 computes
D(G(x')).  So by default D sees the mask only (`with_image=False`); `with_image=True` adds the
CT patch as a second input channel (the conditional variant of pix2pix, reference [10] of the
paper) for experiments.

Architecture (Fig. 3 is an image; our reading): a plain CNN of 3x3x3 convolutions with stride 2
that halves the patch four times, leaky ReLU after each, a 1-channel convolution and a global
average over the remaining positions -> one logit per sample.  No batch norm: with real and
generated masks in one batch, batch statistics would let D tell them apart by the batch
instead of by shape (a known GAN failure), and the generator step shows D generated masks only.
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.nets.init import init_weights

LEAKY_SLOPE = 0.2  # the usual discriminator slope (DCGAN, pix2pix); the paper gives none


class Discriminator(nn.Module):
    def __init__(self, width: float = 1.0, with_image: bool = False, init: str = "kaiming", init_std: float = 0.01) -> None:
        super().__init__()
        f = max(2, int(round(32 * width)))
        self.with_image = bool(with_image)
        cin = 2 if self.with_image else 1
        layers: list[nn.Module] = []
        for cout in (f, 2 * f, 4 * f, 8 * f):
            layers += [nn.Conv3d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
            cin = cout
        layers.append(nn.Conv3d(cin, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)
        init_weights(self, init, init_std, negative_slope=LEAKY_SLOPE)

    def forward(self, mask: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        """Logit (N,) that `mask` (N, 1, z, y, x) in [0, 1] is a reference mask."""
        x = mask
        if self.with_image:
            if image is None:
                raise ValueError("this discriminator was built with_image=True and needs the CT patch")
            x = torch.cat([mask, image], 1)
        return self.net(x).mean(dim=(1, 2, 3, 4))

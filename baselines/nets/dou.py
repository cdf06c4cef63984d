"""The 3D CNN / 3D DSN of Dou et al. 2016 (MICCAI), "3D Deeply Supervised Network for Automatic
Liver Segmentation from CT Volumes", Fig. 1 and section 2.

Mainstream (11 layers: 6 conv, 2 max-pool, 2 deconv, 1 softmax), in this order:

    layer  1  conv1   c1 @ 9x9x7   (in-plane 9x9, 7 slices -> kernel (7, 9, 9) in (z, y, x))
    layer  2  pool1   2x2x2 max, stride 2
    layer  3  conv2   c2 @ 7x7x5   -> deep-supervision branch 1 (1/2 resolution, one deconv x2)
    layer  4  conv3   c3 @ 7x7x5
    layer  5  pool2   2x2x2 max, stride 2
    layer  6  conv4   c4 @ 5x5x3   -> deep-supervision branch 2 (1/4 resolution, two deconvs x2)
    layer  7  conv5   c4 @ 1x1x1
    layer  8  deconv1 c4 @ 3x3x3, stride 2 (+ leaky ReLU, see below)
    layer  9  deconv2 c4 @ 3x3x3, stride 2 (+ leaky ReLU)
    layer 10  conv6   2  @ 1x1x1   (class scores)
    layer 11  softmax

The text gives only the layer counts, the first kernel (9x9x7), the 2x2x2 pooling and the 3x3x3
stride-2 deconvolutions, and says the deep supervision is "via the third and sixth layers"; the
kernel sizes and channel counts are in Fig. 1, which is an image.  What is written above is our
best reading of that figure: 8, 16, 32, 32 kernels of 9x9x7, 7x7x5, 7x7x5, 5x5x3, i.e. kernels
shrinking with depth ("relatively large kernel sizes to form a proper receptive field") and
channels doubling after each pooling until 32.  Where the 1x1x1 layers sit (conv5 before the
deconvolutions, conv6 after them) is our choice that makes the count come to 6 conv layers with
the supervision points at layers 3 and 6.  `width` multiplies every channel count (the `cpu`
preset uses narrower networks of the same family).

Nonlinearity: the paper names none; we use leaky ReLU (slope 0.1).  With plain ReLU the network
learnt on phantoms to mark the liver by *absent* features (all zero after the ReLU), which caps
P(liver) at the softmax of the last layer's bias (max P 0.45-0.55 after 150 iterations), and the
gradient cannot reach those dead units.  Batch norm after conv1-conv4 is optional
(`batch_norm`, on only in the `cpu` preset: the paper has none; with it a few hundred CPU
iterations suffice).

The paper used valid convolutions on 160x160x72 inputs; we pad every convolution ("same") so the
score map has exactly the input's size, which the paper describes as the goal ("inputting a
large volume and directly outputting an equal-sized prediction score map") and which lets one
network run on whole volumes of any size divisible by 4 (`stride`).
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.nets.init import init_weights

LEAKY_SLOPE = 0.1

# (kernel (z, y, x), base channels) of conv1..conv4, read from Fig. 1 (see the module docstring).
CONV_SPECS = (((7, 9, 9), 8), ((5, 7, 7), 16), ((5, 7, 7), 32), ((3, 5, 5), 32))


def _conv(cin: int, cout: int, kernel) -> nn.Conv3d:
    return nn.Conv3d(cin, cout, kernel, padding=tuple(k // 2 for k in kernel))


def _deconv(cin: int, cout: int) -> nn.ConvTranspose3d:
    # 3x3x3 with stride 2 exactly doubles every dimension (padding 1, output_padding 1).
    return nn.ConvTranspose3d(cin, cout, 3, stride=2, padding=1, output_padding=1)


def channels(width: float) -> list[int]:
    return [max(2, int(round(c * width))) for _, c in CONV_SPECS]


class DouDSN(nn.Module):
    """3D DSN; with `branches=False` it is the paper's plain "3D CNN" (the mainstream alone).

    forward(x) returns a dict of 2-class score maps (logits) at the input's size:
    "main" (last layer) and, with branches, "branch1" (after layer 3) and "branch2" (after
    layer 6).  The plain CNN has no branch heads at all, so it can never hand untrained branch
    maps to the CRF of Eq. 4.
    """

    stride = 4  # two 2x2x2 poolings
    n_classes = 2

    def __init__(self, width: float = 1.0, init: str = "gaussian", init_std: float = 0.01, batch_norm: bool = False,
                 deconv_act: bool = True, branches: bool = True) -> None:
        super().__init__()
        c1, c2, c3, c4 = channels(width)
        k1, k2, k3, k4 = (k for k, _ in CONV_SPECS)
        act = lambda: nn.LeakyReLU(LEAKY_SLOPE, inplace=True)  # noqa: E731 - see the module docstring

        def block(cin, cout, kernel):
            layers = [_conv(cin, cout, kernel)] + ([nn.BatchNorm3d(cout)] if batch_norm else []) + [act()]
            return nn.Sequential(*layers)

        self.conv1 = block(1, c1, k1)
        self.pool1 = nn.MaxPool3d(2, 2)
        self.conv2 = block(c1, c2, k2)
        self.conv3 = block(c2, c3, k3)
        self.pool2 = nn.MaxPool3d(2, 2)
        self.conv4 = block(c3, c4, k4)
        self.conv5 = nn.Sequential(_conv(c4, c4, (1, 1, 1)), act())
        # The paper's deconvolutions "reconstruct representations from near neighbors" before the
        # 1x1x1 classifier (conv6): read as feature layers, each with the network's nonlinearity.
        # Linear ones (`deconv_act=False`, FCN-style upsampling) would fold deconv1, deconv2 and
        # conv6 into one linear map of the 1/4-resolution features, and held out they scored
        # lower (dsn3d `cpu` preset, 400 iterations: mean Dice 0.861 linear, 0.869 with).
        up = lambda: nn.Sequential(_deconv(c4, c4), *([act()] if deconv_act else []))  # noqa: E731
        self.deconv1 = up()
        self.deconv2 = up()
        self.conv6 = _conv(c4, self.n_classes, (1, 1, 1))
        # Deep-supervision heads: "up-scale ... feature volumes using additional deconvolutional
        # layers, and then employ the softmax layer"; the last deconvolution emits the class scores.
        self.branches = branches
        if branches:
            self.branch1 = _deconv(c2, self.n_classes)
            self.branch2 = nn.Sequential(_deconv(c4, c4), _deconv(c4, self.n_classes))
        init_weights(self, init, init_std, negative_slope=LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h3 = self.conv2(self.pool1(self.conv1(x)))
        h6 = self.conv4(self.pool2(self.conv3(h3)))
        main = self.conv6(self.deconv2(self.deconv1(self.conv5(h6))))
        if not self.branches:
            return {"main": main}
        return {"main": main, "branch1": self.branch1(h3), "branch2": self.branch2(h6)}

    @staticmethod
    def probabilities(outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """P(liver) per output, shape (N, 1, z, y, x): the softmax's liver channel."""
        return {k: torch.softmax(v.float(), dim=1)[:, 1:2] for k, v in outputs.items()}

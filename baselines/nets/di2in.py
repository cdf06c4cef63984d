"""DI2IN, the deep image-to-image network of Yang et al. 2017 (MICCAI), section 2.1 and Fig. 3.

What the text fixes: a symmetric convolutional encoder-decoder; every kernel 3x3x3; stride 2 at
some encoder layers (no pooling: "only the convolution layers are used" in the encoder); the
decoder upscales by 2 in x, y and z with (tri)linear interpolation; "fast bridges" concatenate
encoder features to decoder features, the concatenation feeding the next convolution; batch
norm and leaky ReLU in all convolutional layers; deep supervision from decoder blocks 10, 11,
12 upscaled by 16, 4 and 1 to the input size; the final output a convolution over all branch
outputs with leaky ReLU; voxel-wise binary cross-entropy on every output.

Fig. 3 (the block table with filter numbers) is an image; our reading, with base `f`
(f = 32 * width; 32 is our choice, the usual first-level width of 3D U-Net-like networks that
still fits 3 mm abdominal volumes in a 12 GB TITAN X):

    block  1  conv f                          1/1   -> bridge to block 9
    block  2  conv 2f s2, conv 2f             1/2   -> bridge to block 8
    block  3  conv 4f s2, conv 4f             1/4   -> bridge to block 7
    block  4  conv 8f s2, conv 8f             1/8   -> bridge to block 6
    block  5  conv 16f s2, conv 8f            1/16  -> branch 1 (block 10, x16)
    block  6  up x2, concat, conv 8f          1/8
    block  7  up x2, concat, conv 4f          1/4   -> branch 2 (block 11, x4)
    block  8  up x2, concat, conv 2f          1/2
    block  9  up x2, concat, conv f           1/1   -> branch 3 (block 12, x1)
    blocks 10-12  conv -> 1 channel at the block's level, trilinear upscaling to the input size
    block 13  concat of the three branch outputs, conv g (3x3x3) + leaky ReLU, conv 1 (1x1x1)

Four stride-2 layers give the 1/16 level that the x16 branch implies.  The convolutions that
emit a branch's or the final output's logits carry no batch norm / leaky ReLU (a leaky ReLU on
the logits would squash every background probability towards 0.5); the leaky ReLU of the
final block sits on its hidden layer, which is how we read "the convolution operations of all
branches with the leaky ReLU".  Leaky slope 0.01 (PyTorch's default; the paper gives none).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baselines.nets.init import init_weights

LEAKY_SLOPE = 0.01
FINAL_HIDDEN = 8  # g: channels of the final fusion convolution (not in the paper; small on purpose)


def conv_bn_lrelu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm3d(cout),
        nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
    )


def _up(x: torch.Tensor, factor: int) -> torch.Tensor:
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=factor, mode="trilinear", align_corners=False)


def base_channels(width: float) -> int:
    return max(2, int(round(32 * width)))


class DI2IN(nn.Module):
    """forward(x) -> dict of logits at the input's size: "main" (block 13) and "branch1..3"."""

    stride = 16
    cpu_min_batch = 2  # see baselines.inference._forward: oneDNN kernels need a batch > 1 here
    branch_factors = (16, 4, 1)

    def __init__(self, width: float = 1.0, init: str = "kaiming", init_std: float = 0.01) -> None:
        super().__init__()
        f = base_channels(width)
        self.block1 = conv_bn_lrelu(1, f)
        self.block2 = nn.Sequential(conv_bn_lrelu(f, 2 * f, 2), conv_bn_lrelu(2 * f, 2 * f))
        self.block3 = nn.Sequential(conv_bn_lrelu(2 * f, 4 * f, 2), conv_bn_lrelu(4 * f, 4 * f))
        self.block4 = nn.Sequential(conv_bn_lrelu(4 * f, 8 * f, 2), conv_bn_lrelu(8 * f, 8 * f))
        self.block5 = nn.Sequential(conv_bn_lrelu(8 * f, 16 * f, 2), conv_bn_lrelu(16 * f, 8 * f))
        self.block6 = conv_bn_lrelu(8 * f + 8 * f, 8 * f)
        self.block7 = conv_bn_lrelu(8 * f + 4 * f, 4 * f)
        self.block8 = conv_bn_lrelu(4 * f + 2 * f, 2 * f)
        self.block9 = conv_bn_lrelu(2 * f + f, f)
        self.block10 = nn.Conv3d(8 * f, 1, 3, padding=1)
        self.block11 = nn.Conv3d(4 * f, 1, 3, padding=1)
        self.block12 = nn.Conv3d(f, 1, 3, padding=1)
        self.block13 = nn.Sequential(
            nn.Conv3d(3, FINAL_HIDDEN, 3, padding=1),
            nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
            nn.Conv3d(FINAL_HIDDEN, 1, 1),
        )
        init_weights(self, init, init_std, negative_slope=LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        e1 = self.block1(x)
        e2 = self.block2(e1)
        e3 = self.block3(e2)
        e4 = self.block4(e3)
        d5 = self.block5(e4)
        d6 = self.block6(torch.cat([_up(d5, 2), e4], 1))
        d7 = self.block7(torch.cat([_up(d6, 2), e3], 1))
        d8 = self.block8(torch.cat([_up(d7, 2), e2], 1))
        d9 = self.block9(torch.cat([_up(d8, 2), e1], 1))
        b1 = _up(self.block10(d5), 16)
        b2 = _up(self.block11(d7), 4)
        b3 = self.block12(d9)
        main = self.block13(torch.cat([b1, b2, b3], 1))
        return {"main": main, "branch1": b1, "branch2": b2, "branch3": b3}

    @staticmethod
    def probabilities(outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: torch.sigmoid(v.float()) for k, v in outputs.items()}

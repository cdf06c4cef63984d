"""Weight initialisation shared by the networks.

`gaussian`: N(0, std) weights, zero biases (Dou et al.: "weights initialized from Gaussian
distribution (mu = 0, sigma = 0.01)").  `kaiming`: He initialisation for leaky/plain ReLU, which
lets the short `cpu` schedules converge; PyTorch's default (`default`) is left untouched.
"""

from __future__ import annotations

from torch import nn

from liverbench.errors import ConfigError

INITS = ("gaussian", "kaiming", "default")


def init_weights(module: nn.Module, kind: str, std: float = 0.01, negative_slope: float = 0.0) -> None:
    if kind not in INITS:
        raise ConfigError(f"init: unknown initialisation {kind!r}; choose one of {', '.join(INITS)}")
    if kind == "default":
        return
    for m in module.modules():
        if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d, nn.Linear)):
            if kind == "gaussian":
                nn.init.normal_(m.weight, 0.0, std)
            else:
                nn.init.kaiming_normal_(m.weight, a=negative_slope, nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm3d, nn.InstanceNorm3d)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

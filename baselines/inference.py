"""Whole-volume and tiled inference for the neural baselines.

`infer` runs a network on one preprocessed volume (on the method's working grid) and returns
the liver probability of every output ("prob" from the last layer, "branch1", "branch2", ...
from the deep-supervision branches) on that grid:

- whole volume, padded at the end of each axis to a multiple of the network's stride
  (`liverbench.data.preprocess.pad_to_multiple`), when it has at most `max_voxels` voxels: the
  papers' own mode (both networks are fully convolutional and run on entire volumes);
- otherwise overlapping tiles of `tile` voxels (multiples of the stride), blended with a
  Gaussian weight centred on each tile (nnU-Net's choice: tile borders, where zero padding
  distorts the context, count least) or uniformly.  When one tile covers the padded volume
  the tiled path feeds the network exactly the whole-volume input and returns the same maps.

`to_image_grid` resamples those maps back onto the original image grid.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from liverbench.data.preprocess import pad_to_multiple, resample_array
from liverbench.errors import ConfigError

BLENDS = ("gaussian", "uniform")


def tile_starts(size: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of tiles of length `tile` covering [0, size) with at least `overlap` overlap."""
    if tile >= size:
        return [0]
    step = max(1, int(tile * (1.0 - overlap)))
    n = math.ceil((size - tile) / step) + 1
    return sorted({int(round(i * (size - tile) / (n - 1))) for i in range(n)})


def blend_weight(tile: Sequence[int], blend: str) -> np.ndarray:
    if blend == "uniform":
        return np.ones(tuple(tile), np.float32)
    if blend != "gaussian":
        raise ConfigError(f"blend must be one of {BLENDS}; got {blend!r}")
    axes = []
    for n in tile:
        x = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
        axes.append(np.exp(-0.5 * (x / (n / 8.0)) ** 2))  # sigma = tile / 8, as nnU-Net
    weight = axes[0][:, None, None] * axes[1][None, :, None] * axes[2][None, None, :]
    weight /= weight.max()
    # never exactly zero: every voxel must receive some weight even at a tile's corner
    return np.maximum(weight, 1e-3).astype(np.float32)


def _forward(
    net: nn.Module, probabilities: Callable, array: np.ndarray, device: torch.device, amp: bool
) -> dict[str, np.ndarray]:
    x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None, None].to(device)
    if device.type == "cpu":
        # PyTorch sends a batch of one with few channels and 3x3x3 kernels to its slow reference
        # convolution instead of oneDNN (the heuristic wants batch > 1 or kernels > 3); feeding
        # the volume twice is faster than once (DI2IN width 0.125, 48x80x80, one thread:
        # 0.50 s for one copy, 0.25 s for two).  Networks with large kernels opt out.
        copies = int(getattr(net, "cpu_min_batch", 1))
        x = x.expand(copies, -1, -1, -1, -1).contiguous(memory_format=torch.channels_last_3d)
    ctx = torch.autocast("cuda", dtype=torch.float16) if (amp and device.type == "cuda") else torch.autocast("cpu", enabled=False)
    with torch.no_grad(), ctx:
        probs = probabilities(net(x))
    return {k: v[0, 0].float().cpu().numpy() for k, v in probs.items()}


def _rename(maps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    # networks call their last output "main"; the harness calls it "prob"
    return {("prob" if k == "main" else k): v for k, v in maps.items()}


def infer(
    net: nn.Module,
    probabilities: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]],
    image: np.ndarray,
    *,
    stride: int,
    device: torch.device,
    amp: bool = True,
    max_voxels: int = 16_000_000,
    tile: Sequence[int] = (128, 128, 128),
    overlap: float = 0.5,
    blend: str = "gaussian",
    force_tiles: bool = False,
) -> dict[str, np.ndarray]:
    """{"prob": ..., "branch1": ...} float32 maps of `image`'s shape (see the module docstring)."""
    net.eval()
    padded, undo = pad_to_multiple(image, stride, value=0.0)
    if padded.size <= max_voxels and not force_tiles:
        return {k: np.ascontiguousarray(v[undo]) for k, v in _rename(_forward(net, probabilities, padded, device, amp)).items()}
    if not 0.0 <= overlap < 1.0:
        raise ConfigError(f"tile overlap must be in [0, 1); got {overlap}")
    if any(int(t) % stride for t in tile):
        raise ConfigError(f"tile {tuple(tile)} must be a multiple of the network stride {stride} on every axis")
    tile = tuple(min(int(t), n) for t, n in zip(tile, padded.shape))
    starts = [tile_starts(n, t, overlap) for n, t in zip(padded.shape, tile)]
    positions = list(itertools.product(*starts))
    if len(positions) == 1:
        out = _forward(net, probabilities, padded, device, amp)
        return {k: np.ascontiguousarray(v[undo]) for k, v in _rename(out).items()}
    weight = blend_weight(tile, blend)
    sums: dict[str, np.ndarray] = {}
    total = np.zeros(padded.shape, np.float32)
    for start in positions:
        where = tuple(slice(s, s + t) for s, t in zip(start, tile))
        for k, v in _forward(net, probabilities, padded[where], device, amp).items():
            sums.setdefault(k, np.zeros(padded.shape, np.float32))[where] += v * weight
        total[where] += weight
    return {k: np.ascontiguousarray((v / total)[undo]) for k, v in _rename(sums).items()}


def to_image_grid(maps: dict[str, np.ndarray], working_spacing, image_shape: Sequence[int]) -> dict[str, np.ndarray]:
    """Maps on the working grid -> float32 maps in [0, 1] on the image's grid (linear resampling)."""
    out = {}
    for k, v in maps.items():
        if v.shape != tuple(image_shape):
            v = resample_array(v, working_spacing, image_shape, kind="linear")
        out[k] = np.clip(v, 0.0, 1.0).astype(np.float32, copy=False)
    return out

"""The networks of the neural baselines and whole-volume vs tiled inference (CPU, tiny sizes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.inference import blend_weight, infer, tile_starts, to_image_grid
from baselines.nets import DI2IN, Discriminator, DouDSN
from baselines.nets.init import init_weights
from liverbench.errors import ConfigError

torch.set_num_threads(1)


def test_dou_dsn_layers_and_shapes():
    torch.manual_seed(0)
    net = DouDSN(width=0.25, init="kaiming").eval()
    assert net.conv1[0].kernel_size == (7, 9, 9)  # 9x9 in-plane x 7 slices, (z, y, x)
    assert sum(isinstance(m, torch.nn.MaxPool3d) for m in net.modules()) == 2
    # six mainstream convolutions, two mainstream deconvolutions
    mainstream = [net.conv1, net.conv2, net.conv3, net.conv4, net.conv5, net.conv6]
    assert len(mainstream) == 6
    assert all(d[0].stride == (2, 2, 2) and d[0].kernel_size == (3, 3, 3) for d in (net.deconv1, net.deconv2))
    x = torch.rand(2, 1, 12, 20, 24)
    with torch.no_grad():
        out = net(x)
        probs = DouDSN.probabilities(out)
    assert set(out) == {"main", "branch1", "branch2"}
    for v in out.values():
        assert v.shape == (2, 2, 12, 20, 24)
    for v in probs.values():
        assert v.shape == (2, 1, 12, 20, 24) and float(v.min()) >= 0 and float(v.max()) <= 1


def test_plain_cnn_has_no_branch_heads():
    plain, dsn = DouDSN(width=0.25, branches=False), DouDSN(width=0.25)
    assert not any(k.startswith("branch") for k in plain.state_dict())
    assert any(k.startswith("branch") for k in dsn.state_dict())
    with torch.no_grad():
        assert set(plain(torch.rand(1, 1, 8, 16, 16))) == {"main"}


def test_deconvolutions_are_nonlinear_unless_asked():
    def has_act(net):
        return [any(isinstance(m, torch.nn.LeakyReLU) for m in d) for d in (net.deconv1, net.deconv2)]

    assert has_act(DouDSN(width=0.25)) == [True, True]
    linear = DouDSN(width=0.25, deconv_act=False)
    assert has_act(linear) == [False, False]
    # linear: the upsampling path is additive in its input (what the option promises)
    torch.manual_seed(0)
    a, b = torch.rand(1, 8, 3, 4, 4), torch.rand(1, 8, 3, 4, 4)
    path = lambda x: linear.conv6(linear.deconv2(linear.deconv1(x)))  # noqa: E731
    with torch.no_grad():
        zero = path(torch.zeros_like(a))
        torch.testing.assert_close(path(a + b) - zero, (path(a) - zero) + (path(b) - zero), atol=1e-5, rtol=1e-4)


def test_gaussian_init_has_the_papers_sigma():
    torch.manual_seed(0)
    net = DouDSN(width=1.0, init="gaussian", init_std=0.01)
    w = net.conv3[0].weight.detach()
    assert abs(float(w.std()) - 0.01) < 0.001 and abs(float(w.mean())) < 0.001
    assert float(net.conv3[0].bias.detach().abs().max()) == 0.0
    with pytest.raises(ConfigError, match="init"):
        init_weights(net, "xavier")


def test_di2in_shapes_branches_and_batchnorm():
    torch.manual_seed(0)
    net = DI2IN(width=0.125).eval()
    assert any(isinstance(m, torch.nn.BatchNorm3d) for m in net.modules())
    assert all(m.kernel_size == (3, 3, 3) for m in net.modules() if isinstance(m, torch.nn.Conv3d) and m is not net.block13[2])
    x = torch.rand(1, 1, 16, 32, 48)
    with torch.no_grad():
        out = net(x)
        probs = DI2IN.probabilities(out)
    assert set(out) == {"main", "branch1", "branch2", "branch3"}
    for v in probs.values():
        assert v.shape == (1, 1, 16, 32, 48) and float(v.min()) >= 0 and float(v.max()) <= 1
    # the x16 branch comes from the 1/16 level: constant inside each 16-voxel cell up to interpolation
    assert DI2IN.branch_factors == (16, 4, 1) and DI2IN.stride == 16


def test_discriminator_scores_masks_with_or_without_image():
    torch.manual_seed(0)
    d = Discriminator(width=0.125)
    assert d(torch.rand(3, 1, 16, 32, 32)).shape == (3,)
    d_img = Discriminator(width=0.125, with_image=True)
    assert d_img(torch.rand(2, 1, 16, 32, 32), torch.rand(2, 1, 16, 32, 32)).shape == (2,)
    with pytest.raises(ValueError, match="with_image"):
        d_img(torch.rand(2, 1, 16, 32, 32))


def test_tile_starts_cover_the_axis():
    for size, tile, overlap in [(100, 32, 0.5), (64, 64, 0.5), (65, 32, 0.25), (10, 32, 0.5), (200, 48, 0.0)]:
        starts = tile_starts(size, tile, overlap)
        covered = np.zeros(max(size, tile), bool)
        for s in starts:
            covered[s : s + tile] = True
        assert covered[:size].all()
        assert starts[0] == 0 and (size <= tile or starts[-1] == size - tile)
    w = blend_weight((8, 16, 16), "gaussian")
    assert w.max() == pytest.approx(1.0) and w.min() > 0 and w[4, 8, 8] > w[0, 0, 0]


def _image(shape=(20, 40, 44), seed=0):
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    blob = ((z - 10) / 7) ** 2 + ((y - 20) / 12) ** 2 + ((x - 22) / 14) ** 2 <= 1
    return (0.3 + 0.4 * blob + rng.normal(0, 0.05, shape)).astype(np.float32)


@pytest.mark.parametrize("net_cls", [DouDSN, DI2IN])
def test_whole_and_tiled_inference_agree(net_cls):
    torch.manual_seed(0)
    net = net_cls(width=0.125, init="kaiming").eval()
    image = _image()
    kw = dict(stride=net_cls.stride, device=torch.device("cpu"), amp=False)
    whole = infer(net, net_cls.probabilities, image, **kw)
    assert set(whole) == {"prob"} | {k for k in whole if k.startswith("branch")}
    assert all(v.shape == image.shape and v.dtype == np.float32 for v in whole.values())
    # one tile covering the padded volume: the same input, hence exactly the same maps
    one_tile = infer(net, net_cls.probabilities, image, tile=(64, 64, 64), force_tiles=True, **kw)
    for k in whole:
        np.testing.assert_array_equal(whole[k], one_tile[k])
    # real tiling (several overlapping tiles): close to the whole-volume result
    for blend in ("gaussian", "uniform"):
        tiled = infer(net, net_cls.probabilities, image, tile=(16, 32, 32), overlap=0.5, blend=blend, force_tiles=True, **kw)
        assert tiled["prob"].shape == image.shape
        assert float(np.abs(tiled["prob"] - whole["prob"]).mean()) < 0.05
    # max_voxels below the volume size switches to tiles by itself
    auto = infer(net, net_cls.probabilities, image, tile=(16, 32, 32), max_voxels=1000, **kw)
    np.testing.assert_allclose(auto["prob"], infer(net, net_cls.probabilities, image, tile=(16, 32, 32), force_tiles=True, **kw)["prob"])


def test_tiles_must_be_multiples_of_the_stride():
    net = DouDSN(width=0.125, init="kaiming")
    with pytest.raises(ConfigError, match="multiple"):
        infer(net, DouDSN.probabilities, _image(), stride=4, device=torch.device("cpu"), tile=(10, 32, 32), force_tiles=True)


def test_maps_go_back_to_the_image_grid():
    maps = {"prob": np.full((10, 20, 20), 0.7, np.float32), "branch1": np.zeros((10, 20, 20), np.float32)}
    out = to_image_grid(maps, (3.0, 3.0, 3.0), (15, 33, 31))
    assert out["prob"].shape == (15, 33, 31) and out["prob"].dtype == np.float32
    np.testing.assert_allclose(out["prob"], 0.7, atol=1e-6)

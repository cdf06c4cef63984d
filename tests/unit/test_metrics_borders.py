"""Border voxels: the SLiver07 erosion conventions, checked against scipy's binary erosion."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from liverbench.errors import ConfigError
from liverbench.metrics import CONVENTIONS, SLIVER07, BorderConvention, border_voxels, resolve_convention
from liverbench.metrics.borders import neighbour_offsets

_CONNECTIVITY = {6: 1, 18: 2, 26: 3}  # scipy's generate_binary_structure rank for each ball


def _scipy_border(mask, convention):
    structure = ndi.generate_binary_structure(3, _CONNECTIVITY[convention.neighbourhood])
    eroded = ndi.binary_erosion(mask, structure, border_value=1 if convention.outside == "object" else 0)
    return mask & ~eroded


def test_official_convention_is_the_default():
    assert resolve_convention("sliver07") == SLIVER07 == BorderConvention(18, "object")
    assert resolve_convention("6-background") == BorderConvention(6, "background")
    assert resolve_convention(SLIVER07) is SLIVER07


def test_unknown_conventions_are_config_errors_naming_the_choices():
    with pytest.raises(ConfigError, match="unknown border convention 'official'.*sliver07"):
        resolve_convention("official")
    with pytest.raises(ConfigError, match="neighbourhood"):
        BorderConvention(8, "object")
    with pytest.raises(ConfigError, match="outside"):
        BorderConvention(18, "inside")


@pytest.mark.parametrize("n, count", [(6, 6), (18, 18), (26, 26)])
def test_neighbourhood_sizes(n, count):
    offsets = neighbour_offsets(n)
    assert len(offsets) == len(set(offsets)) == count
    assert (0, 0, 0) not in offsets


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_matches_scipy_binary_erosion_on_random_masks_touching_the_edges(name):
    convention = CONVENTIONS[name]
    rng = np.random.default_rng(3)
    for _ in range(4):
        noise = ndi.gaussian_filter(rng.normal(size=(9, 12, 11)), 1.2)
        mask = noise > np.quantile(noise, 0.4)  # big blobs that run off the volume's faces
        np.testing.assert_array_equal(border_voxels(mask, convention), _scipy_border(mask, convention))


def test_edge_of_the_field_of_view_is_a_surface_only_with_outside_as_background():
    mask = np.zeros((8, 8, 8), bool)
    mask[:, :, :4] = True  # a half-space cut by five image faces
    official = border_voxels(mask, "sliver07")
    assert official.sum() == 64 and official[:, :, 3].all()  # only the interior face x = 3
    background = border_voxels(mask, "18-background")
    assert background[0].any() and background[:, 0].any() and background[:, :, 0].all()
    assert background.sum() > official.sum()


def test_a_full_image_has_no_border_under_the_official_convention():
    mask = np.ones((4, 5, 6), bool)
    assert not border_voxels(mask).any()
    assert border_voxels(mask, "6-background").sum() == mask.size - 2 * 3 * 4


def test_single_voxel_and_thin_plate_are_all_border():
    mask = np.zeros((7, 7, 7), bool)
    mask[3, 3, 3] = True
    np.testing.assert_array_equal(border_voxels(mask), mask)
    plate = np.zeros((7, 9, 9), bool)
    plate[3, 2:7, 2:7] = True
    for name in CONVENTIONS:
        np.testing.assert_array_equal(border_voxels(plate, name), plate)


def test_18_neighbourhood_border_is_between_6_and_26():
    ball = np.linalg.norm(np.indices((15, 15, 15)) - 7, axis=0) <= 5.5
    b6, b18, b26 = (border_voxels(ball, f"{n}-object").sum() for n in (6, 18, 26))
    assert b6 < b18 < b26

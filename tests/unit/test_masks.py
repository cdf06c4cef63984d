"""`liverbench.masks.largest_component`: the one largest-connected-component helper."""

from __future__ import annotations

import numpy as np
import pytest

from liverbench.masks import largest_component


def test_connectivity_decides_whether_corner_neighbours_join():
    mask = np.zeros((5, 5, 5), bool)
    mask[0:2, 0:2, 0:2] = True  # 8 voxels
    mask[2, 2, 2] = True  # touches the cube by a corner only
    mask[4, 4, 0:3] = True  # 3 voxels, apart
    faces = largest_component(mask, connectivity=1)
    assert faces.sum() == 8 and not faces[2, 2, 2]
    corners = largest_component(mask, connectivity=3)
    assert corners.sum() == 9 and corners[2, 2, 2] and not corners[4, 4].any()


def test_two_dimensional_masks_and_ties():
    mask = np.zeros((4, 6), bool)
    mask[0, 0:2] = True
    mask[3, 4:6] = True  # as large: the first in scan order wins
    np.testing.assert_array_equal(largest_component(mask, connectivity=2), mask & (np.arange(4)[:, None] == 0))


@pytest.mark.parametrize("mask", [np.zeros((3, 3, 3), bool), np.ones((3, 3, 3), bool)], ids=["empty", "one component"])
def test_a_mask_with_at_most_one_component_comes_back_as_a_copy(mask):
    out = largest_component(mask, connectivity=1)
    np.testing.assert_array_equal(out, mask)
    assert out.dtype == bool and out is not mask
    out[0, 0, 0] = ~out[0, 0, 0]
    assert out[0, 0, 0] != mask[0, 0, 0]


def test_any_non_zero_value_is_foreground():
    mask = np.array([[0, 2, 2, 0, 1]], dtype=np.uint8)
    np.testing.assert_array_equal(largest_component(mask, connectivity=1), [[False, True, True, False, False]])


@pytest.mark.parametrize("connectivity", [0, 4])
def test_connectivity_out_of_range_is_refused(connectivity):
    with pytest.raises(ValueError, match=f"connectivity {connectivity} must be 1..3"):
        largest_component(np.ones((2, 2, 2), bool), connectivity)

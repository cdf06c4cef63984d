import numpy as np
import pytest

from liverbench.data.validate import binary_mask, finite_image, same_grid
from liverbench.data.volume import Volume, affine_from_spacing
from liverbench.errors import InputError


@pytest.mark.parametrize(
    "array",
    [
        np.array([[[0, 1], [1, 0]]], dtype=np.uint8),
        np.array([[[False, True]]]),
        np.array([[[0.0, 1.0]]], dtype=np.float32),
        np.array([[[0, 1]]], dtype=np.int64),
        np.zeros((2, 2, 2), dtype=np.uint8),
    ],
)
def test_binary_mask_accepts_zero_one_values(array):
    out = binary_mask(array, "m.nii.gz")
    assert out.dtype == bool
    np.testing.assert_array_equal(out, array.astype(bool))


@pytest.mark.parametrize(
    "array, fragment",
    [
        (np.array([0, 1, 2], dtype=np.uint8), "not binary"),
        (np.array([0, 255], dtype=np.uint8), "255"),
        (np.array([0.0, 0.5, 1.0]), "0.5"),
        (np.array([0, -1], dtype=np.int16), "not binary"),
        (np.array([0.0, np.nan]), "NaN"),
    ],
)
def test_binary_mask_refuses_other_values_naming_the_file(array, fragment):
    with pytest.raises(InputError) as info:
        binary_mask(array, "seg-007.nii.gz")
    assert "seg-007.nii.gz" in str(info.value)
    assert fragment in str(info.value)


def test_finite_image_refuses_nan_and_inf_and_locates_it():
    image = np.zeros((3, 4, 5), dtype=np.float32)
    np.testing.assert_array_equal(finite_image(image, "img.nii"), image)
    np.testing.assert_array_equal(finite_image(image.astype(np.int16), "img.nii"), image)
    image[1, 2, 3] = np.nan
    image[2, 0, 0] = np.inf
    with pytest.raises(InputError, match=r"img\.nii: image contains 2 NaN.*\(1, 2, 3\)"):
        finite_image(image, "img.nii")


def _translation(offset):
    matrix = np.eye(4)
    matrix[:3, 3] = offset
    return matrix


def _volume(shape=(4, 5, 6), spacing=(2.0, 0.8, 0.8), origin=(10.0, -20.0, 30.0)):
    return Volume(np.zeros(shape, np.int16), spacing, affine_from_spacing(spacing, origin))


def test_same_grid_accepts_equal_and_rounding_level_differences():
    same_grid(_volume(), _volume(), "mask.nii")
    same_grid(_volume(), _volume(spacing=(2.0, 0.80004, 0.8), origin=(10.0, -20.0, 30.001)), "mask.nii")


@pytest.mark.parametrize(
    "other, fragment",
    [
        (_volume(shape=(4, 5, 7)), "shape"),
        (_volume(spacing=(2.5, 0.8, 0.8)), "spacing"),
        (_volume(origin=(10.0, -20.0, 31.0)), "origin"),
        # x flipped (RAS-style first axis) at the same origin and spacing
        (Volume(np.zeros((4, 5, 6)), (2.0, 0.8, 0.8), np.diag([0.8, -0.8, 2.0, 1.0]) @ _translation((12.5, 25.0, 15.0))), "orientation"),
    ],
)
def test_same_grid_names_the_file_and_the_difference(other, fragment):
    with pytest.raises(InputError) as info:
        same_grid(_volume(), other, "liver-seg001.mhd")
    assert str(info.value).startswith("liver-seg001.mhd")
    assert fragment in str(info.value)

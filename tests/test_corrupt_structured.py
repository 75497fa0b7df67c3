"""aebook.data.corrupt: the structured corruptions "occlusion" and "blur"."""

import numpy as np
import pytest

from aebook import data


def _images(n=6, seed=0):
    return np.random.default_rng(seed).random((n, 28, 28)).astype("float32")


@pytest.mark.parametrize("shape", [(6, 784), (6, 28, 28), (6, 28, 28, 1)])
@pytest.mark.parametrize("noise", data.STRUCTURED_CORRUPTIONS)
def test_shapes_dtype_range_and_layouts_agree(noise, shape):
    x = _images()
    out = data.corrupt(x.reshape(shape), noise, 0.4, seed=3)
    assert out.shape == shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(out.reshape(6, 28, 28), data.corrupt(x, noise, 0.4, seed=3))


def test_occlusion_zeros_one_block_of_the_requested_side():
    x = np.ones((50, 28, 28), dtype="float32")
    out = data.corrupt(x, "occlusion", 0.5, seed=1)
    for image in out:
        rows, cols = np.nonzero(image == 0)
        assert rows.max() - rows.min() + 1 == 14 and cols.max() - cols.min() + 1 == 14
        assert (image == 0).sum() == 14 * 14
    positions = {tuple(np.argwhere(image == 0)[0]) for image in out}
    assert len(positions) > 10, "the block moves from image to image"


def test_occlusion_is_seeded_and_level_zero_or_one():
    x = _images()
    a = data.corrupt(x, "occlusion", 0.3, seed=1)
    np.testing.assert_array_equal(a, data.corrupt(x, "occlusion", 0.3, seed=1))
    assert not np.array_equal(a, data.corrupt(x, "occlusion", 0.3, seed=2))
    np.testing.assert_array_equal(data.corrupt(x, "occlusion", 0.0), x)
    assert not data.corrupt(x, "occlusion", 1.0).any()


def test_blur_matches_scipy_and_keeps_the_mean():
    from scipy.ndimage import gaussian_filter

    x = _images()
    out = data.corrupt(x, "blur", 1.5, seed=0)
    np.testing.assert_allclose(out[2], gaussian_filter(x[2], 1.5, mode="nearest"), atol=1e-6)
    assert out.std() < 0.5 * x.std(), "blur removes most of the pixel-level variation"
    np.testing.assert_allclose(out.mean(), x.mean(), atol=0.02)
    np.testing.assert_array_equal(data.corrupt(x, "blur", 0.0), x)
    np.testing.assert_array_equal(out, data.corrupt(x, "blur", 1.5, seed=9))  # seed is ignored


def test_bad_arguments():
    x = _images()
    with pytest.raises(ValueError, match="noise must be one of"):
        data.corrupt(x, "smudge", 0.5)
    with pytest.raises(ValueError, match="level must be a float in"):
        data.corrupt(x, "occlusion", 1.5)
    with pytest.raises(ValueError, match="level must be a non-negative float"):
        data.corrupt(x, "blur", -1.0)
    with pytest.raises(ValueError, match="square grayscale images"):
        data.corrupt(np.zeros((4, 10), "float32"), "blur", 1.0)
    with pytest.raises(ValueError, match="square grayscale images"):
        data.corrupt(np.zeros((4, 28, 20), "float32"), "occlusion", 0.5)


def test_noise_types_of_the_layer_are_unchanged():
    assert data.NOISE_TYPES == ("gaussian", "salt_and_pepper", "masking")
    assert data.CORRUPTION_TYPES == data.NOISE_TYPES + ("occlusion", "blur")

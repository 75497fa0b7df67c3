"""Tests of aebook.metrics.checkerboard_energy (convolutional autoencoder chapter)."""

import numpy as np
import pytest

from aebook.metrics import checkerboard_energy


def _checkerboard(h=28, w=28):
    return np.fromfunction(lambda i, j: (-1.0) ** (i + j), (h, w))


def test_pure_checkerboard_plus_constant_is_one():
    x = np.stack([0.5 + 0.1 * _checkerboard(), 0.2 * _checkerboard()])
    np.testing.assert_allclose(checkerboard_energy(x), [1.0, 1.0])


def test_row_and_column_stripes_count():
    i = np.arange(28)
    stripes = np.stack([np.tile(((-1.0) ** i)[:, None], (1, 28)),
                        np.tile(((-1.0) ** i)[None, :], (28, 1))])
    np.testing.assert_allclose(checkerboard_energy(stripes), [1.0, 1.0])


def test_nearest_upsampled_images_have_none():
    small = np.random.default_rng(0).random((5, 14, 14))
    up = small.repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_allclose(checkerboard_energy(up), 0.0, atol=1e-12)


def test_white_noise_is_about_three_over_pixels():
    noise = np.random.default_rng(1).standard_normal((2000, 28, 28))
    assert abs(checkerboard_energy(noise).mean() - 3 / 784) < 0.5 / 784


def test_mixture_fraction_and_range():
    rng = np.random.default_rng(2)
    smooth = np.zeros((28, 28))
    smooth[:, :14] = 1.0  # a step edge: no period-2 content
    x = smooth + 0.5 * _checkerboard()
    expected = (0.25 * 784) / (0.25 * 784 + 0.25 * 784)
    np.testing.assert_allclose(checkerboard_energy(x[None]), [expected])
    values = checkerboard_energy(rng.random((10, 28, 28)))
    assert np.all((values >= 0) & (values <= 1))


def test_layouts_agree_and_constant_is_zero():
    x = np.random.default_rng(3).random((4, 28, 28))
    a = checkerboard_energy(x)
    np.testing.assert_allclose(checkerboard_energy(x[..., None]), a)
    np.testing.assert_allclose(checkerboard_energy(x.reshape(4, 784)), a)
    np.testing.assert_array_equal(checkerboard_energy(np.ones((2, 28, 28))), [0.0, 0.0])


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="even"):
        checkerboard_energy(np.zeros((2, 27, 27)))
    with pytest.raises(ValueError, match="x must be"):
        checkerboard_energy(np.zeros((2, 4, 4, 3)))

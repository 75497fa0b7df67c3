"""aebook.models.interpolate: decoding a straight line between two codes."""

import keras
import numpy as np
import pytest

import aebook
from aebook.models import interpolate


@pytest.fixture(scope="module")
def decoder():
    return aebook.build_vae(hidden_dims=(16,), latent_dim=3, seed=0).decoder


def test_shape_and_end_points(decoder):
    z_a, z_b = np.array([1.0, -2.0, 0.5]), np.array([-1.0, 0.0, 2.0])
    images = interpolate(decoder, z_a, z_b, n=7)
    assert images.shape == (7, 784)
    ends = decoder.predict(np.stack([z_a, z_b]).astype("float32"), verbose=0)
    np.testing.assert_allclose(images[0], ends[0], atol=1e-6)
    np.testing.assert_allclose(images[-1], ends[1], atol=1e-6)


def test_codes_are_evenly_spaced_on_the_line():
    # With a linear decoder, the outputs are the codes themselves.
    z = keras.Input(shape=(2,))
    identity = keras.Model(z, keras.layers.Identity()(z))
    out = interpolate(identity, [0.0, 0.0], [3.0, -6.0], n=4)
    np.testing.assert_allclose(out, [[0, 0], [1, -2], [2, -4], [3, -6]], atol=1e-6)


def test_same_end_points_give_constant_images(decoder):
    z = np.array([0.3, 0.1, -0.4])
    images = interpolate(decoder, z, z, n=3)
    np.testing.assert_allclose(images, np.repeat(images[:1], 3, axis=0), atol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 2.5, "3"])
def test_bad_n(decoder, n):
    with pytest.raises(ValueError, match="n must be"):
        interpolate(decoder, np.zeros(3), np.ones(3), n=n)


@pytest.mark.parametrize("z_a, z_b, name", [
    (np.zeros(2), np.ones(3), "z_a"),
    (np.zeros(3), np.ones((1, 3)), "z_b"),
])
def test_bad_code_shape(decoder, z_a, z_b, name):
    with pytest.raises(ValueError, match=f"{name} must have the decoder's code shape"):
        interpolate(decoder, z_a, z_b, n=3)

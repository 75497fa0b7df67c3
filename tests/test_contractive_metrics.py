"""aebook.metrics.jacobian_frobenius_norm and code_sensitivity (contractive chapter)."""

import keras
import numpy as np
import pytest
from keras import ops

from aebook import build_contractive_autoencoder
from aebook import layers as L
from aebook import metrics


def _linear_encoder(kernel):
    inputs = keras.Input(shape=(kernel.shape[0],))
    dense = keras.layers.Dense(kernel.shape[1], use_bias=False)
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([kernel.astype("float32")])
    return model


def test_jacobian_norm_of_linear_encoder_is_kernel_norm():
    kernel = np.random.default_rng(0).normal(size=(12, 5))
    encoder = _linear_encoder(kernel)
    x = np.random.default_rng(1).uniform(size=(7, 12))
    norms = metrics.jacobian_frobenius_norm(encoder, x, batch_size=50)  # several chunks
    assert norms.shape == (7,) and norms.dtype == np.float64
    np.testing.assert_allclose(norms, np.linalg.norm(kernel), rtol=1e-4)


def test_jacobian_norm_matches_contractive_closed_form():
    keras.utils.set_random_seed(0)
    encoder, _, _ = build_contractive_autoencoder(input_dim=16, latent_dim=6)
    kernel, bias = encoder.get_layer("code").get_weights()
    x = np.random.default_rng(2).uniform(size=(9, 16)).astype("float32")
    h = 1.0 / (1.0 + np.exp(-(x.astype("float64") @ kernel + bias)))
    closed = ops.convert_to_numpy(L.contractive_norm(h * (1 - h), kernel))
    estimated = metrics.jacobian_frobenius_norm(encoder, x, eps=1e-2)
    np.testing.assert_allclose(estimated**2, closed, rtol=2e-3)


def test_code_sensitivity_of_scaled_identity_is_the_scale():
    encoder = _linear_encoder(3.0 * np.eye(10))
    x = np.random.default_rng(3).uniform(size=(20, 10))
    ratio = metrics.code_sensitivity(encoder, x, sigma=0.05, seed=0)
    assert ratio.shape == (20,)
    np.testing.assert_allclose(ratio, 3.0, rtol=1e-4)
    again = metrics.code_sensitivity(encoder, x, sigma=0.05, seed=0)
    np.testing.assert_array_equal(ratio, again)


def test_code_sensitivity_mean_square_approximates_jacobian_norm():
    kernel = np.random.default_rng(4).normal(size=(30, 4))
    encoder = _linear_encoder(kernel)
    x = np.zeros((4000, 30))
    ratio = metrics.code_sensitivity(encoder, x, sigma=0.1, seed=1)
    expected = np.linalg.norm(kernel) ** 2 / 30
    assert abs(np.mean(ratio**2) - expected) < 0.1 * expected


@pytest.mark.parametrize(
    ("fn", "kwargs", "name"),
    [
        (metrics.jacobian_frobenius_norm, {"eps": 0.0}, "eps"),
        (metrics.jacobian_frobenius_norm, {"batch_size": 0}, "batch_size"),
        (metrics.code_sensitivity, {"sigma": -1.0}, "sigma"),
        (metrics.code_sensitivity, {"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_arguments_raise(fn, kwargs, name):
    encoder = _linear_encoder(np.eye(3))
    with pytest.raises(ValueError, match=name):
        fn(encoder, np.zeros((2, 3)), **kwargs)

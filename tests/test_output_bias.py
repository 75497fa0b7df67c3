"""aebook.models.init_output_bias: a fresh decoder starts at the mean input."""

import numpy as np
import pytest

import aebook  # noqa: F401  (selects the torch backend before keras is imported)
from aebook import build_conv_autoencoder, build_deep_autoencoder, build_vanilla_autoencoder
from aebook.models import init_output_bias

RNG = np.random.default_rng(0)
X = RNG.uniform(size=(50, 16)).astype("float32") ** 2


def test_sigmoid_decoder_outputs_the_mean_for_a_zero_code():
    _, decoder, _ = build_vanilla_autoencoder(input_dim=16, latent_dim=3)
    bias = init_output_bias(decoder, X)
    assert bias.shape == (16,)
    out = decoder.predict(np.zeros((1, 3), "float32"), verbose=0)[0]
    np.testing.assert_allclose(out, X.mean(axis=0), rtol=1e-4, atol=1e-6)


def test_clipping_and_linear_outputs():
    x = np.zeros((4, 16), "float32")
    x[:, 0] = 1.0
    _, decoder, _ = build_deep_autoencoder(input_dim=16, hidden_dims=(8,), latent_dim=2)
    bias = init_output_bias(decoder, x, eps=0.01)
    np.testing.assert_allclose(bias[0], np.log(0.99 / 0.01), rtol=1e-5)
    np.testing.assert_allclose(bias[1:], np.log(0.01 / 0.99), rtol=1e-5)
    _, linear_decoder, _ = build_vanilla_autoencoder(input_dim=16, latent_dim=2,
                                                     output_activation="linear")
    np.testing.assert_allclose(init_output_bias(linear_decoder, X), X.mean(axis=0), rtol=1e-6)


def test_conv_decoder_gets_the_channel_mean():
    x = RNG.uniform(size=(6, 8, 8, 1)).astype("float32")
    _, decoder, _ = build_conv_autoencoder(input_shape=(8, 8, 1), filters=(4,))
    bias = init_output_bias(decoder, x)
    m = x.astype("float64").mean()
    np.testing.assert_allclose(bias, [np.log(m / (1 - m))], rtol=1e-5)


def test_rejects_bad_arguments():
    _, decoder, _ = build_vanilla_autoencoder(input_dim=16, latent_dim=2)
    with pytest.raises(ValueError, match="matches neither"):
        init_output_bias(decoder, np.zeros((3, 9)))
    with pytest.raises(ValueError, match="eps"):
        init_output_bias(decoder, X, eps=0.7)
    _, relu_decoder, _ = build_vanilla_autoencoder(input_dim=16, latent_dim=2,
                                                   output_activation="relu")
    with pytest.raises(ValueError, match="sigmoid and linear"):
        init_output_bias(relu_decoder, X)

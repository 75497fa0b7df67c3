"""aebook.metrics.vae_elbo_terms: the reconstruction and KL terms of the negative ELBO."""

import keras
import numpy as np
import pytest

import aebook
from aebook.metrics import vae_elbo_terms, vae_negative_elbo


@pytest.fixture(scope="module")
def vae_parts():
    return aebook.build_vae(hidden_dims=(16,), latent_dim=3, seed=0)


def test_terms_add_up_to_the_negative_elbo(vae_parts, x_binary):
    encoder, decoder, _ = vae_parts
    x = x_binary[:32]
    rec, kl = vae_elbo_terms(encoder, decoder, x, n_samples=3, seed=5)
    assert rec.shape == kl.shape == (32,)
    assert rec.dtype == kl.dtype == np.float64
    np.testing.assert_allclose(rec + kl, vae_negative_elbo(encoder, decoder, x, n_samples=3, seed=5),
                               rtol=1e-10)
    assert np.all(kl >= 0) and np.all(rec > 0)


def test_kl_matches_the_closed_form(vae_parts, x_binary):
    encoder, decoder, _ = vae_parts
    x = x_binary[:8]
    mean, log_var = [a.astype("float64") for a in encoder.predict(x, verbose=0)]
    expected = 0.5 * np.sum(mean**2 + np.exp(log_var) - 1 - log_var, axis=1)
    _, kl = vae_elbo_terms(encoder, decoder, x)
    np.testing.assert_allclose(kl, expected, rtol=1e-5, atol=1e-6)


def test_kl_is_zero_when_q_is_the_prior(x_binary):
    x = keras.Input(shape=(784,))
    zeros = keras.layers.Dense(2, kernel_initializer="zeros", bias_initializer="zeros")
    encoder = keras.Model(x, [zeros(x), zeros(x)])  # mean 0, log_var 0: q = N(0, I)
    decoder = aebook.build_vae(hidden_dims=(8,), latent_dim=2, seed=0).decoder
    rec, kl = vae_elbo_terms(encoder, decoder, x_binary[:4])
    np.testing.assert_allclose(kl, 0.0, atol=1e-12)
    assert np.all(rec > 0)


@pytest.mark.parametrize("n_samples", [0, -1, 1.5])
def test_bad_n_samples(vae_parts, x_binary, n_samples):
    encoder, decoder, _ = vae_parts
    with pytest.raises(ValueError, match="n_samples must be a positive int"):
        vae_elbo_terms(encoder, decoder, x_binary[:4], n_samples=n_samples)

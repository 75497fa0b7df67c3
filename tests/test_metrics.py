"""aebook.metrics against hand values, scikit-image, and a direct NumPy VAE."""

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

import aebook
from aebook import metrics

# ---------------------------------------------------------------- reconstruction metrics

X = np.array([[0.0, 1.0], [0.5, 0.5]])
X_HAT = np.array([[0.0, 0.0], [0.0, 1.0]])


def test_per_sample_mse_and_squared_error_hand_values():
    # sample 1: (0 + 1) -> sum 1, mean 0.5; sample 2: (0.25 + 0.25) -> sum 0.5, mean 0.25
    np.testing.assert_allclose(metrics.per_sample_mse(X, X_HAT), [0.5, 0.25])
    np.testing.assert_allclose(metrics.per_sample_squared_error(X, X_HAT), [1.0, 0.5])


def test_per_sample_metrics_flatten_images():
    x = np.zeros((2, 3, 3, 1))
    x_hat = np.zeros((2, 3, 3, 1))
    x_hat[1, 0, 0, 0] = 0.3
    np.testing.assert_allclose(metrics.per_sample_squared_error(x, x_hat), [0.0, 0.09])
    np.testing.assert_allclose(metrics.per_sample_mse(x, x_hat), [0.0, 0.01])


def test_per_sample_bce_hand_values():
    x = np.array([[1.0, 0.0], [1.0, 1.0]])
    x_hat = np.array([[0.9, 0.1], [0.5, 0.5]])
    # sample 1: -ln 0.9 per pixel; sample 2: ln 2 per pixel
    np.testing.assert_allclose(metrics.per_sample_bce(x, x_hat),
                               [-math.log(0.9), math.log(2.0)], rtol=1e-12)
    np.testing.assert_allclose(metrics.per_sample_bce(x, x_hat, reduction="sum"),
                               [-2 * math.log(0.9), 2 * math.log(2.0)], rtol=1e-12)
    # probabilities are clipped: a confident wrong pixel costs -ln(1e-7), not inf
    np.testing.assert_allclose(metrics.per_sample_bce([[1.0]], [[0.0]], reduction="sum"),
                               [-math.log(1e-7)], rtol=1e-6)
    with pytest.raises(ValueError, match="^reduction must be"):
        metrics.per_sample_bce(x, x_hat, reduction="max")


def test_psnr_hand_values():
    x = np.full((2, 784), 0.5)
    x_hat = x.copy()
    x_hat[0] += 0.1  # MSE 0.01 -> 10 log10(1 / 0.01) = 20 dB
    out = metrics.psnr(x, x_hat)
    assert out[0] == pytest.approx(20.0, abs=1e-9)
    assert out[1] == np.inf  # identical
    # data_range 255 and MSE 1: 20 log10(255)
    assert metrics.psnr([[0.0, 0.0]], [[1.0, 1.0]], data_range=255.0)[0] == pytest.approx(
        20 * math.log10(255.0))


def test_ssim_identical_is_one_and_matches_skimage(images):
    a, b = images[:3], images[3:6]
    np.testing.assert_allclose(metrics.ssim(a, a), [1.0, 1.0, 1.0])
    direct = structural_similarity(a[1].astype("float64"), b[1].astype("float64"), data_range=1.0)
    got = metrics.ssim(a, b)
    assert got[1] == pytest.approx(direct, rel=1e-12)
    assert got.shape == (3,) and np.all(got < 0.99)
    # the three accepted layouts agree
    np.testing.assert_allclose(metrics.ssim(a.reshape(3, -1), b.reshape(3, -1)), got)
    np.testing.assert_allclose(metrics.ssim(a[..., None], b[..., None]), got)


def test_ssim_rejects_non_square_flat_images():
    with pytest.raises(ValueError, match="square"):
        metrics.ssim(np.zeros((2, 10)), np.zeros((2, 10)))


@pytest.mark.parametrize("fn", [metrics.per_sample_mse, metrics.per_sample_squared_error,
                                metrics.per_sample_bce, metrics.psnr, metrics.ssim])
def test_mismatched_shapes_raise(fn):
    with pytest.raises(ValueError, match=r"same shape.*x\.shape=\(2, 784\).*x_hat\.shape=\(2, 783\)"):
        fn(np.zeros((2, 784)), np.zeros((2, 783)))


# ---------------------------------------------------------------- VAE bounds


@pytest.fixture
def tiny_vae(x_binary):
    """An untrained VAE (784-8-2) whose posterior is pushed away from the prior
    (mean bias (1.5, -1), log-variance bias (-1, -2)), so the KL term is ~2.9 nats."""
    enc, dec, _ = aebook.build_vae(input_dim=784, hidden_dims=(8,), latent_dim=2, seed=0)
    for name, bias in [("z_mean", [1.5, -1.0]), ("z_log_var", [-1.0, -2.0])]:
        layer = enc.get_layer(name)
        kernel, _ = layer.get_weights()
        layer.set_weights([0.1 * kernel, np.array(bias, "float32")])
    return enc, dec, x_binary[:8]


def _weights(model, name):
    return [w.astype("float64") for w in model.get_layer(name).get_weights()]


def _numpy_vae(enc, dec):
    """The VAE's forward pass in float64 NumPy, from its weights."""
    (w0, b0), (wm, bm), (wl, bl) = (_weights(enc, n) for n in ("encoder_dense_0", "z_mean", "z_log_var"))
    (w1, b1), (w2, b2) = (_weights(dec, n) for n in ("decoder_dense_0", "reconstruction"))

    def encode(x):
        h = np.maximum(x @ w0 + b0, 0)
        return h @ wm + bm, h @ wl + bl

    def decode(z):
        return 1 / (1 + np.exp(-(np.maximum(z @ w1 + b1, 0) @ w2 + b2)))

    return encode, decode


def test_vae_negative_elbo_equals_direct_numpy_computation(tiny_vae):
    enc, dec, x = tiny_vae
    encode, decode = _numpy_vae(enc, dec)
    mean, log_var = encode(x.astype("float64"))
    kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1 - log_var, axis=1)
    rng = np.random.default_rng(42)
    rec = np.zeros(len(x))
    n_samples = 3
    for _ in range(n_samples):
        p = decode(mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape))
        rec += -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    expected = rec / n_samples + kl
    assert np.all(kl > 2.0)
    got = metrics.vae_negative_elbo(enc, dec, x, n_samples=n_samples, seed=42)
    assert got.shape == (8,)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # seeded: same seed same value, another seed another value
    np.testing.assert_array_equal(metrics.vae_negative_elbo(enc, dec, x, n_samples=3, seed=42), got)
    assert not np.allclose(metrics.vae_negative_elbo(enc, dec, x, n_samples=3, seed=43), got)


def test_iwae_k1_has_the_expectation_of_the_negative_elbo(tiny_vae):
    enc, dec, x = tiny_vae
    copies = np.repeat(x, 250, axis=0)  # 2000 independent one-sample estimates
    iwae = metrics.iwae_negative_log_likelihood(enc, dec, copies, k=1, seed=1)
    elbo = metrics.vae_negative_elbo(enc, dec, copies, n_samples=1, seed=2)
    se = math.sqrt(iwae.var() / len(iwae) + elbo.var() / len(elbo))
    # a bound that dropped log p(z) - log q(z|x) would be off by the KL, ~2.9 nats >> 4 se
    assert se < 0.2
    assert abs(iwae.mean() - elbo.mean()) < 4 * se


def test_iwae_with_many_samples_is_tighter_than_the_elbo(tiny_vae):
    enc, dec, x = tiny_vae
    elbo = metrics.vae_negative_elbo(enc, dec, x, n_samples=64, seed=3)
    iwae_1 = metrics.iwae_negative_log_likelihood(enc, dec, np.repeat(x, 64, axis=0), k=1, seed=4)
    iwae_64 = metrics.iwae_negative_log_likelihood(enc, dec, x, k=64, seed=4)
    assert iwae_64.shape == (8,)
    assert iwae_64.mean() < elbo.mean()
    assert iwae_64.mean() < iwae_1.mean()


def test_iwae_chunking_does_not_change_the_result(tiny_vae):
    enc, dec, x = tiny_vae
    whole = metrics.iwae_negative_log_likelihood(enc, dec, x, k=16, seed=5)
    chunked = metrics.iwae_negative_log_likelihood(enc, dec, x, k=16, seed=5, batch_size=48)  # 3 rows
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)


def test_vae_bounds_validate_sample_counts(tiny_vae):
    enc, dec, x = tiny_vae
    with pytest.raises(ValueError, match="^n_samples must be a positive int"):
        metrics.vae_negative_elbo(enc, dec, x, n_samples=0)
    with pytest.raises(ValueError, match="^k must be a positive int"):
        metrics.iwae_negative_log_likelihood(enc, dec, x, k=0)

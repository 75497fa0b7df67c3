"""Reconstruction metrics (per sample, NumPy) and VAE likelihood bounds in nats."""

import numpy as np
from scipy.special import logsumexp
from skimage.metrics import structural_similarity

from aebook import _validation as v

_EPS = 1e-7


def _pair(x, x_hat):
    x = np.asarray(x, dtype="float64")
    x_hat = np.asarray(x_hat, dtype="float64")
    if x.shape != x_hat.shape:
        raise ValueError(
            f"x and x_hat must have the same shape. Received: x.shape={x.shape}, "
            f"x_hat.shape={x_hat.shape}"
        )
    return x.reshape(len(x), -1), x_hat.reshape(len(x_hat), -1)


def per_sample_mse(x, x_hat):
    """Mean squared error of each sample over its pixels.

    Args:
        x, x_hat: arrays of the same shape (N, ...).

    Returns:
        float64 array of shape (N,).
    """
    x, x_hat = _pair(x, x_hat)
    return np.mean((x - x_hat) ** 2, axis=1)


def per_sample_squared_error(x, x_hat):
    """Squared error of each sample summed over its pixels (Hinton & Salakhutdinov
    2006 report this, averaged over the test set). Returns shape (N,)."""
    x, x_hat = _pair(x, x_hat)
    return np.sum((x - x_hat) ** 2, axis=1)


def per_sample_bce(x, x_hat, reduction="mean"):
    """Binary cross-entropy of each sample; `x_hat` are probabilities.

    Args:
        x: targets in [0, 1], (N, ...).
        x_hat: predicted probabilities, same shape (clipped to [1e-7, 1 - 1e-7]).
        reduction: `"mean"` over pixels (as Keras's `binary_crossentropy`) or
            `"sum"` (nats per image).

    Returns:
        float64 array of shape (N,).
    """
    v.choice("reduction", reduction, ("mean", "sum"))
    x, x_hat = _pair(x, x_hat)
    p = np.clip(x_hat, _EPS, 1 - _EPS)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p))
    return bce.mean(axis=1) if reduction == "mean" else bce.sum(axis=1)


def psnr(x, x_hat, data_range=1.0):
    """Peak signal-to-noise ratio of each sample, in dB: 10 log10(range^2 / MSE).

    Returns:
        float64 array of shape (N,); `inf` where the reconstruction is exact.
    """
    mse = per_sample_mse(x, x_hat)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)


def _as_images(x):
    x = np.asarray(x, dtype="float64")
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise ValueError(f"flat inputs must be square images. Received: x.shape={x.shape}")
        return x.reshape(len(x), side, side)
    if x.ndim == 4 and x.shape[-1] == 1:
        return x[..., 0]
    if x.ndim == 3:
        return x
    raise ValueError(f"x must be (N, H*W), (N, H, W) or (N, H, W, 1). Received: x.shape={x.shape}")


def ssim(x, x_hat, data_range=1.0):
    """Structural similarity (Wang et al. 2004) of each image, via scikit-image.

    Args:
        x, x_hat: grayscale images, (N, H*W) square, (N, H, W) or (N, H, W, 1).
        data_range: the pixel range (1.0 for [0, 1]).

    Returns:
        float64 array of shape (N,), values in [-1, 1] (1 is identical).
    """
    _pair(x, x_hat)
    a, b = _as_images(x), _as_images(x_hat)
    return np.array([structural_similarity(ai, bi, data_range=data_range) for ai, bi in zip(a, b, strict=True)])


def _bernoulli_log_likelihood(x, probs):
    p = np.clip(probs.astype("float64"), _EPS, 1 - _EPS)
    return np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1)


def _log_normal(z, mean, log_var):
    return -0.5 * np.sum(np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var), axis=-1)


def _encode(encoder, x, batch_size):
    z_mean, z_log_var = encoder.predict(x, batch_size=batch_size, verbose=0)
    return z_mean.astype("float64"), z_log_var.astype("float64")


def vae_negative_elbo(encoder, decoder, x, n_samples=1, seed=0, batch_size=1000):
    """Negative evidence lower bound of each image, in nats (lower is better).

    -ELBO(x) = E_q(z|x)[-log p(x|z)] + KL(q(z|x) || N(0, I)), the expectation
    estimated with `n_samples` draws of z, the KL in closed form. p(x|z) is the
    decoder's Bernoulli distribution.

    Args:
        encoder: VAE encoder, x -> [z_mean, z_log_var].
        decoder: VAE decoder, z -> pixel probabilities.
        x: flat inputs in [0, 1], shape (N, D).
        n_samples: Monte Carlo samples per image.
        seed: NumPy seed of the samples.
        batch_size: prediction batch size.

    Returns:
        float64 array of shape (N,).
    """
    n_samples = v.positive_int("n_samples", n_samples)
    x = np.asarray(x, dtype="float64")
    mean, log_var = _encode(encoder, x, batch_size)
    kl = -0.5 * np.sum(1 + log_var - mean**2 - np.exp(log_var), axis=-1)
    rng = np.random.default_rng(seed)
    rec = np.zeros(len(x))
    for _ in range(n_samples):
        z = mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape)
        probs = decoder.predict(z.astype("float32"), batch_size=batch_size, verbose=0)
        rec -= _bernoulli_log_likelihood(x, probs)
    return rec / n_samples + kl


def iwae_negative_log_likelihood(encoder, decoder, x, k=100, seed=0, batch_size=5000):
    """Importance-sampled estimate of -log p(x) per image, in nats (Burda et al. 2016).

    -log p(x) ~= -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x). The bound
    tightens as k grows; k = 1 gives (a one-sample estimate of) the negative ELBO.

    Args:
        encoder, decoder: the VAE's models.
        x: flat inputs in [0, 1], shape (N, D).
        k: importance samples per image.
        seed: NumPy seed.
        batch_size: decoder prediction batch size.

    Returns:
        float64 array of shape (N,).
    """
    k = v.positive_int("k", k)
    x = np.asarray(x, dtype="float64")
    mean, log_var = _encode(encoder, x, batch_size)
    rng = np.random.default_rng(seed)
    out = np.empty(len(x))
    chunk = max(1, batch_size // k)
    for start in range(0, len(x), chunk):
        sl = slice(start, start + chunk)
        m, lv = mean[sl][:, None, :], log_var[sl][:, None, :]
        z = m + np.exp(0.5 * lv) * rng.standard_normal((len(m), k, m.shape[-1]))
        probs = decoder.predict(z.reshape(-1, m.shape[-1]).astype("float32"),
                                batch_size=batch_size, verbose=0).reshape(len(m), k, -1)
        log_w = (_bernoulli_log_likelihood(x[sl][:, None, :], probs)
                 + _log_normal(z, 0.0, np.zeros_like(z)) - _log_normal(z, m, lv))
        out[sl] = -(logsumexp(log_w, axis=1) - np.log(k))
    return out

"""Reconstruction metrics (per sample, NumPy) and VAE likelihood bounds in nats."""

import numpy as np
from scipy.special import logsumexp
from skimage.metrics import structural_similarity

from aebook import validation as v

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

    Raises:
        ValueError: for a bad `reduction`, shapes that differ, `x` with values
            outside [0, 1] or integer 0-255 pixels in `x_hat`.

    Example:
        >>> import numpy as np
        >>> from aebook.metrics import per_sample_bce
        >>> x = np.array([[0.0, 1.0]])
        >>> per_sample_bce(x, np.array([[0.5, 0.5]])).round(4)
        array([0.6931])
    """
    v.choice("reduction", reduction, ("mean", "sum"))
    x = v.unit_interval_array("x", x)
    v.not_pixels_0_255("x_hat", x_hat)
    x, x_hat = _pair(x, x_hat)
    p = np.clip(x_hat, _EPS, 1 - _EPS)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p))
    return bce.mean(axis=1) if reduction == "mean" else bce.sum(axis=1)


def psnr(x, x_hat, data_range=1.0):
    """Peak signal-to-noise ratio of each sample, in dB: 10 log10(range^2 / MSE).

    Args:
        x: reference images with values in [0, `data_range`], (N, ...).
        x_hat: reconstructions, same shape (they may over- or undershoot the range).
        data_range: the pixel range (1.0 for images in [0, 1]; 255 for 0-255 pixels).

    Returns:
        float64 array of shape (N,); `inf` where the reconstruction is exact.

    Raises:
        ValueError: for a bad `data_range`, shapes that differ, `x` outside
            [0, data_range] (e.g. 0-255 pixels with the default range 1), or integer
            pixels above `data_range` in `x_hat`.

    Example:
        >>> import numpy as np
        >>> from aebook.metrics import psnr
        >>> x = np.full((1, 4), 0.5)
        >>> psnr(x, x + 0.1).round(2)
        array([20.])
    """
    data_range = v.positive_float("data_range", data_range)
    x = v.unit_interval_array("x", x, high=data_range)
    v.not_pixels_0_255("x_hat", x_hat, high=data_range)
    mse = per_sample_mse(x, x_hat)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)


def set_psnr(x, x_hat, data_range=1.0):
    """PSNR of a whole set, in dB, from its mean squared error over all pixels.

    10 log10(range^2 / mean_i MSE_i). It differs from `psnr(x, x_hat).mean()`, the
    mean of per-image PSNRs: the log is taken after averaging, so a few badly
    reconstructed images weigh more, and one exact image does not make it infinite.

    Args:
        x: reference images with values in [0, `data_range`], (N, ...).
        x_hat: reconstructions, same shape.
        data_range: the pixel range (1.0 for images in [0, 1]).

    Returns:
        float (`inf` if every image is reconstructed exactly).

    Raises:
        ValueError: as `psnr`.

    Example:
        >>> import numpy as np
        >>> from aebook.metrics import set_psnr
        >>> x = np.full((2, 4), 0.5)
        >>> float(round(set_psnr(x, x + np.array([[0.1], [0.0]])), 2))  # MSE 0.005
        23.01
    """
    data_range = v.positive_float("data_range", data_range)
    x = v.unit_interval_array("x", x, high=data_range)
    v.not_pixels_0_255("x_hat", x_hat, high=data_range)
    mse = np.float64(per_sample_mse(x, x_hat).mean())
    with np.errstate(divide="ignore"):
        return float(10.0 * np.log10(data_range**2 / mse))


def per_sample_correlation(x, x_hat):
    """Pearson correlation between each sample and its reconstruction, over pixels.

    Unlike the squared error, it ignores brightness and contrast: it is 1 when
    `x_hat` is an increasing affine copy of `x` (e.g. `0.5 * x + 0.2`), near 0 when
    the reconstruction does not follow the input (an autoencoder that draws a
    generic image whatever it is given), and -1 for an inverted copy.

    Args:
        x, x_hat: arrays of the same shape (N, ...).

    Returns:
        float64 array of shape (N,), values in [-1, 1]; NaN for a sample where `x`
        or `x_hat` is constant (the correlation is undefined).
    """
    x, x_hat = _pair(x, x_hat)
    x = x - x.mean(axis=1, keepdims=True)
    x_hat = x_hat - x_hat.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.sum(x**2, axis=1) * np.sum(x_hat**2, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(x * x_hat, axis=1) / norms


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

    Raises:
        ValueError: for a bad shape or `data_range`, `x` outside [0, data_range],
            or integer pixels above `data_range` in `x_hat`.
    """
    data_range = v.positive_float("data_range", data_range)
    x = v.unit_interval_array("x", x, high=data_range)
    v.not_pixels_0_255("x_hat", x_hat, high=data_range)
    _pair(x, x_hat)
    a, b = _as_images(x), _as_images(x_hat)
    return np.array([structural_similarity(ai, bi, data_range=data_range) for ai, bi in zip(a, b, strict=True)])


def checkerboard_energy(x):
    """Fraction of each image's variance in a pattern that repeats every 2 pixels.

    A stride-2 transposed convolution whose kernel size is not divisible by the
    stride covers some output pixels more often than others, which prints a
    checkerboard onto its output (Odena et al. 2016). Such a pattern is periodic
    with period 2 along each axis. This function projects each mean-removed image
    onto the three period-2 patterns (-1)^i, (-1)^j and (-1)^(i+j) (the 2-D DFT
    coefficients at the Nyquist frequencies (H/2, 0), (0, W/2) and (H/2, W/2))
    and returns their energy divided by the image's total energy about its mean.
    Equivalently, it measures how much the four interleaved sub-grids
    `x[a::2, b::2]` differ in their mean levels. A pattern whose phase varies
    across the image (local artefacts of changing sign) is not counted.

    Args:
        x: grayscale images, (N, H*W) square, (N, H, W) or (N, H, W, 1), with
            even H and W.

    Returns:
        float64 array of shape (N,), values in [0, 1]: 1 for a pure checkerboard
        (plus any constant), about 3 / (H W) for white noise, 0 for images made of
        2 x 2 blocks (nearest-neighbour upsampling) and for constant images.

    Raises:
        ValueError: for a bad shape, or odd H or W.
    """
    a = _as_images(x)
    h, w = a.shape[1:]
    if h % 2 or w % 2:
        raise ValueError(f"height and width must be even. Received: x.shape={np.shape(x)}")
    rows = (-1.0) ** np.arange(h)
    cols = (-1.0) ** np.arange(w)
    patterns = (np.outer(rows, np.ones(w)), np.outer(np.ones(h), cols), np.outer(rows, cols))
    periodic = sum(np.einsum("nhw,hw->n", a, p) ** 2 for p in patterns) / (h * w)
    total = np.sum((a - a.mean(axis=(1, 2), keepdims=True)) ** 2, axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, periodic / np.where(total > 0, total, 1.0), 0.0)


def gaussian_kl(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) of each row, in nats (closed form).

    KL = 1/2 sum_j (mean_j^2 + var_j - 1 - log var_j): the VAE's regularizer, zero
    exactly when q(z|x) is the prior.

    Args:
        z_mean: means of a diagonal Gaussian, shape (N, latent_dim).
        z_log_var: log-variances, same shape.

    Returns:
        float64 array of shape (N,).

    Raises:
        ValueError: if the shapes differ or are not 2-D.

    Example:
        >>> import numpy as np
        >>> from aebook.metrics import gaussian_kl
        >>> gaussian_kl(np.zeros((1, 3)), np.zeros((1, 3)))
        array([0.])
        >>> gaussian_kl(np.array([[2.0]]), np.array([[0.0]]))  # mean^2 / 2
        array([2.])
    """
    z_mean = np.asarray(z_mean, dtype="float64")
    z_log_var = np.asarray(z_log_var, dtype="float64")
    if z_mean.ndim != 2 or z_mean.shape != z_log_var.shape:
        raise ValueError(
            "z_mean and z_log_var must be 2-D arrays of the same shape (N, latent_dim). "
            f"Received: z_mean.shape={z_mean.shape}, z_log_var.shape={z_log_var.shape}"
        )
    return 0.5 * np.sum(z_mean**2 + np.exp(z_log_var) - 1.0 - z_log_var, axis=-1)


def active_units(z_mean, threshold=0.01):
    """Number of active latent dimensions (Burda et al. 2016): Var_x(E_q[z_j|x]) > threshold.

    A dimension whose posterior mean does not change with the input carries no
    information about it: the KL has pushed it to the prior ("posterior collapse").

    Args:
        z_mean: posterior means of a set of inputs, shape (N, latent_dim).
        threshold: the variance above which a dimension counts as active.

    Returns:
        int in [0, latent_dim].

    Raises:
        ValueError: if `z_mean` is not 2-D or `threshold` is negative.

    Example:
        >>> import numpy as np
        >>> from aebook.metrics import active_units
        >>> z = np.stack([np.linspace(-1, 1, 50), np.full(50, 0.3)], axis=1)
        >>> active_units(z)  # the first dimension varies, the second is constant
        1
    """
    threshold = v.non_negative_float("threshold", threshold)
    z_mean = np.asarray(z_mean, dtype="float64")
    if z_mean.ndim != 2:
        raise ValueError(
            f"z_mean must be a 2-D array (N, latent_dim). Received: z_mean.shape={z_mean.shape}"
        )
    return int(np.sum(z_mean.var(axis=0) > threshold))


def train_digit_judge(x_train, y_train, *, epochs=3, batch_size=128, learning_rate=1e-3,
                      seed=0):
    """The "judge": a small classifier that scores how digit-like generated images are.

    A 784-128-10 MLP (ReLU, softmax) trained with Adam on `(x_train, y_train)`.
    `keras.utils.set_random_seed(seed)` is called first, so the judge is the same for
    the same data and seed. Score images with `judge_probabilities` or
    `digit_likeness`.

    Args:
        x_train: flat images, shape (N, 784), values in [0, 1].
        y_train: integer labels 0-9, shape (N,), aligned with `x_train`.
        epochs: training epochs.
        batch_size: training batch size.
        learning_rate: Adam's learning rate.
        seed: the Keras seed (weights and shuffling).

    Returns:
        The trained `keras.Sequential` named `"digit_judge"`.

    Raises:
        ValueError: for bad arguments, or if `x_train` and `y_train` differ in length.
    """
    import keras

    epochs = v.positive_int("epochs", epochs)
    batch_size = v.positive_int("batch_size", batch_size)
    learning_rate = v.positive_float("learning_rate", learning_rate)
    seed = v.seed("seed", seed, allow_none=False)
    x_train = v.unit_interval_array("x_train", x_train, dtype="float32")
    y_train = np.asarray(y_train)
    if x_train.ndim != 2 or y_train.shape != (len(x_train),):
        raise ValueError(
            "x_train must be flat images (N, D) and y_train their N labels. Received: "
            f"x_train.shape={x_train.shape}, y_train.shape={y_train.shape}"
        )
    keras.utils.set_random_seed(seed)
    judge = keras.Sequential([keras.Input(shape=(x_train.shape[1],)),
                              keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")], name="digit_judge")
    judge.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    judge.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    return judge


def judge_probabilities(judge, images, binarize=True):
    """The judge's p(y | x) for flat images, shape (N, 10).

    Args:
        judge: a classifier from `train_digit_judge`.
        images: flat images, shape (N, 784), values in [0, 1].
        binarize: threshold the images at 0.5 first (generated images are grey
            probabilities; the judge is asked about the binary digits they stand for).

    Returns:
        float32 array of shape (N, 10); rows sum to 1.
    """
    images = v.unit_interval_array("images", images, dtype="float32")
    if binarize:
        images = (images > 0.5).astype("float32")
    return judge.predict(images, batch_size=1000, verbose=0)


def digit_likeness(judge, images, binarize=True):
    """Mean over images of the judge's top-class probability: near 1 for clear digits.

    Args:
        judge: a classifier from `train_digit_judge`.
        images: flat images, shape (N, 784), values in [0, 1].
        binarize: as in `judge_probabilities`.

    Returns:
        float in [0.1, 1].
    """
    return float(judge_probabilities(judge, images, binarize).max(axis=1).mean())


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
        x: inputs in [0, 1] in the encoder's shape: flat (N, D) for `build_vae`,
            images (N, H, W, C) for `build_conv_vae`. The decoder's output must
            have as many values per image; the log-likelihood sums over all of them.
        n_samples: Monte Carlo samples per image.
        seed: NumPy seed of the samples.
        batch_size: prediction batch size.

    Returns:
        float64 array of shape (N,).
    """
    n_samples = v.positive_int("n_samples", n_samples)
    seed = v.seed("seed", seed)
    batch_size = v.positive_int("batch_size", batch_size)
    x = v.unit_interval_array("x", x)
    mean, log_var = _encode(encoder, x, batch_size)
    kl = gaussian_kl(mean, log_var)
    rng = np.random.default_rng(seed)
    rec = np.zeros(len(x))
    for _ in range(n_samples):
        z = mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape)
        probs = decoder.predict(z.astype("float32"), batch_size=batch_size, verbose=0)
        rec -= _bernoulli_log_likelihood(x.reshape(len(x), -1), probs.reshape(len(x), -1))
    return rec / n_samples + kl


def vae_elbo_terms(encoder, decoder, x, n_samples=1, seed=0, batch_size=1000):
    """The two terms of the negative ELBO of each image, in nats.

    Returns the reconstruction term E_q(z|x)[-log p(x|z)] (estimated with
    `n_samples` draws of z) and KL(q(z|x) || N(0, I)) (closed form). Their sum is
    `vae_negative_elbo(..., n_samples, seed)`; a beta-VAE minimizes
    `reconstruction + beta * kl`.

    Args:
        encoder: VAE encoder, x -> [z_mean, z_log_var].
        decoder: VAE decoder, z -> pixel probabilities.
        x: inputs in [0, 1] in the encoder's shape, flat (N, D) or images
            (N, H, W, C), as in `vae_negative_elbo`.
        n_samples: Monte Carlo samples per image.
        seed: NumPy seed of the samples.
        batch_size: prediction batch size.

    Returns:
        Tuple `(reconstruction, kl)` of float64 arrays of shape (N,).
    """
    n_samples = v.positive_int("n_samples", n_samples)
    batch_size = v.positive_int("batch_size", batch_size)
    x = v.unit_interval_array("x", x)
    mean, log_var = _encode(encoder, x, batch_size)
    kl = gaussian_kl(mean, log_var)
    return vae_negative_elbo(encoder, decoder, x, n_samples, seed, batch_size) - kl, kl


def iwae_negative_log_likelihood(encoder, decoder, x, k=100, seed=0, batch_size=5000):
    """Importance-sampled estimate of -log p(x) per image, in nats (Burda et al. 2016).

    -log p(x) ~= -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x). The bound
    tightens as k grows; k = 1 gives (a one-sample estimate of) the negative ELBO.

    Args:
        encoder, decoder: the VAE's models.
        x: inputs in [0, 1] in the encoder's shape, flat (N, D) or images
            (N, H, W, C), as in `vae_negative_elbo`.
        k: importance samples per image.
        seed: NumPy seed.
        batch_size: decoder prediction batch size.

    Returns:
        float64 array of shape (N,).
    """
    k = v.positive_int("k", k)
    seed = v.seed("seed", seed)
    batch_size = v.positive_int("batch_size", batch_size)
    x = v.unit_interval_array("x", x)
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
        log_w = (_bernoulli_log_likelihood(x[sl].reshape(len(m), 1, -1), probs)
                 + _log_normal(z, 0.0, np.zeros_like(z)) - _log_normal(z, m, lv))
        out[sl] = -(logsumexp(log_w, axis=1) - np.log(k))
    return out


def _codes(encoder, x, batch_size):
    h = encoder.predict(x.astype("float32"), batch_size=batch_size, verbose=0)
    return np.asarray(h, dtype="float64").reshape(len(x), -1)


def jacobian_frobenius_norm(encoder, x, eps=1e-2, batch_size=4096):
    """Frobenius norm of the encoder's Jacobian, ||dh/dx||_F, at each input.

    Estimated with central differences, one pair of evaluations per input
    dimension: column i of J is (h(x + eps e_i) - h(x - eps e_i)) / (2 eps). It
    needs 2 D encoder evaluations per sample, so use it on a few hundred inputs.
    It works for any deterministic encoder; for a single sigmoid layer it should
    agree with the closed form `aebook.layers.contractive_norm`.

    Args:
        encoder: a model mapping inputs of shape `(batch, *input_shape)` to codes.
        x: inputs, shape `(N, *input_shape)`.
        eps: half the step of the central difference (> 0).
        batch_size: prediction batch size.

    Returns:
        float64 array of shape (N,).

    Raises:
        ValueError: for a bad `eps` or `batch_size`.
    """
    eps = v.positive_float("eps", eps)
    batch_size = v.positive_int("batch_size", batch_size)
    x = np.asarray(x, dtype="float64")
    flat = x.reshape(len(x), -1)
    d = flat.shape[1]
    steps = np.concatenate([np.eye(d), -np.eye(d)]) * eps  # (2D, D)
    per_chunk = max(1, batch_size // (2 * d))
    out = np.empty(len(x))
    for start in range(0, len(x), per_chunk):
        chunk = flat[start:start + per_chunk]
        probes = (chunk[:, None, :] + steps[None]).reshape(-1, *x.shape[1:])
        h = _codes(encoder, probes, batch_size).reshape(len(chunk), 2, d, -1)
        jac = (h[:, 0] - h[:, 1]) / (2 * eps)  # (chunk, D, code size)
        out[start:start + len(chunk)] = np.sqrt(np.sum(jac**2, axis=(1, 2)))
    return out


def code_sensitivity(encoder, x, sigma=0.05, seed=0, batch_size=1024):
    """How far codes move under small Gaussian input perturbations.

    For each input, draws e ~ N(0, sigma^2 I) (not clipped to the pixel range)
    and returns ||h(x + e) - h(x)|| / ||e||, the code change per unit of input
    change. For small `sigma` this is ||J u|| for a random direction u, so its
    mean square approximates ||J||_F^2 / D.

    Args:
        encoder: a model mapping inputs of shape `(batch, *input_shape)` to codes.
        x: inputs, shape `(N, *input_shape)`.
        sigma: standard deviation of the perturbation (> 0).
        seed: NumPy seed of the perturbations.
        batch_size: prediction batch size.

    Returns:
        float64 array of shape (N,).

    Raises:
        ValueError: for a bad `sigma` or `batch_size`.
    """
    sigma = v.positive_float("sigma", sigma)
    seed = v.seed("seed", seed)
    batch_size = v.positive_int("batch_size", batch_size)
    x = np.asarray(x, dtype="float64")
    e = np.random.default_rng(seed).normal(scale=sigma, size=x.shape)
    dh = _codes(encoder, x + e, batch_size) - _codes(encoder, x, batch_size)
    return np.linalg.norm(dh, axis=1) / np.linalg.norm(e.reshape(len(x), -1), axis=1)


def weight_gradient_norms(model, x, y, loss="binary_crossentropy"):
    """Norm of the loss gradient with respect to each trainable weight, on one batch.

    A diagnostic for vanishing or exploding gradients: compare the norms of the
    first and last layers' kernels of a deep network at initialization. The loss
    is `loss(y, model(x))` averaged over the batch (penalties added with
    `add_loss` are not included). Works with the torch, tensorflow and jax
    backends.

    Args:
        model: a built `keras.Model`.
        x: one batch of inputs, shape `(N, *model.input_shape[1:])`.
        y: its targets, shape `(N, *model.output_shape[1:])` (for an autoencoder,
            `x` itself).
        loss: a Keras loss name or callable `loss(y_true, y_pred)` returning one
            value per sample (e.g. `"mse"`, `"binary_crossentropy"`).

    Returns:
        dict mapping each trainable weight's path (e.g.
        `"encoder_dense_0/kernel"`) to the Frobenius norm of its gradient
        (float), in the order of `model.trainable_weights`.

    Raises:
        ValueError: if `x` and `y` hold different numbers of samples, or for an
            unsupported backend.
    """
    import keras

    x = np.asarray(x, dtype="float32")
    y = np.asarray(y, dtype="float32")
    if len(x) != len(y):
        raise ValueError(
            f"x and y must hold the same number of samples. Received: x.shape={x.shape}, "
            f"y.shape={y.shape}"
        )
    loss_fn = keras.losses.get(loss)
    weights = model.trainable_weights
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        value = keras.ops.mean(loss_fn(keras.ops.convert_to_tensor(y), model(x)))
        grads = torch.autograd.grad(value, [w.value for w in weights])
    elif backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = keras.ops.mean(loss_fn(y, model(x)))
        grads = tape.gradient(value, weights)
    elif backend == "jax":
        import jax

        non_trainable = [w.value for w in model.non_trainable_variables]

        def _loss(trainable):
            y_pred, _ = model.stateless_call(trainable, non_trainable, x)
            return keras.ops.mean(loss_fn(y, y_pred))

        grads = jax.grad(_loss)([w.value for w in weights])
    else:
        raise ValueError(f"weight_gradient_norms supports the torch, tensorflow and jax backends. "
                         f"Received: backend={backend!r}")
    return {w.path: float(np.linalg.norm(keras.ops.convert_to_numpy(g).astype("float64")))
            for w, g in zip(weights, grads, strict=True)}


def gradient_sharpness(x):
    """Mean squared difference between neighbouring pixels of each image.

    A measure of how sharp an image is: edges contribute large differences and
    blur spreads them over several pixels, lowering the sum of their squares. It is
    `(sum (x[i+1, j] - x[i, j])^2 + sum (x[i, j+1] - x[i, j])^2) / (H W)`.

    Args:
        x: grayscale images, (N, H*W) square, (N, H, W) or (N, H, W, 1).

    Returns:
        float64 array of shape (N,), >= 0 (0 for a constant image).

    Raises:
        ValueError: for a bad shape.
    """
    a = _as_images(x)
    h, w = a.shape[1:]
    return (np.sum(np.diff(a, axis=1) ** 2, axis=(1, 2)) + np.sum(np.diff(a, axis=2) ** 2, axis=(1, 2))) / (h * w)


def _features_and_labels(features_name, features, labels_name, labels):
    """Returns `features` (2-D, dtype kept) and `labels` (1-D), one label per row."""
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 2:
        raise ValueError(f"{features_name} must be a 2-D array (samples, features). "
                         f"Received: {features_name} with shape {features.shape}")
    if labels.ndim != 1 or len(labels) != len(features):
        raise ValueError(f"{labels_name} must be a 1-D array with one label per row of "
                         f"{features_name} ({len(features)}). "
                         f"Received: {labels_name} with shape {labels.shape}")
    return features, labels


def linear_probe_accuracy(features_train, y_train, features_test, y_test, *, max_iter=1000):
    """Test accuracy of a linear probe: standardization + logistic regression.

    The usual measure of how much label information a representation (autoencoder
    codes, PCA coordinates, raw pixels) holds in linearly readable form: fit
    `make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))` from
    scikit-learn on the training features and labels, then score it on the test
    ones. The features keep their dtype (float32 codes are scaled in float32).

    Args:
        features_train: training features, shape (N, D).
        y_train: training labels, shape (N,), at least two classes.
        features_test: test features, shape (M, D), same D.
        y_test: test labels, shape (M,).
        max_iter: iterations of the L-BFGS solver (positive int).

    Returns:
        float in [0, 1]: the fraction of test rows whose label is predicted correctly.

    Raises:
        ValueError: for features that are not 2-D, labels that are not 1-D or do not
            have one label per row, train and test features of different widths, or
            a bad `max_iter`.

    Example:
        >>> import numpy as np
        >>> from aebook.metrics import linear_probe_accuracy
        >>> f = np.array([[0.0], [1.0], [10.0], [11.0]])
        >>> linear_probe_accuracy(f, [0, 0, 1, 1], f, [0, 0, 1, 1])
        1.0
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    max_iter = v.positive_int("max_iter", max_iter)
    features_train, y_train = _features_and_labels("features_train", features_train,
                                                   "y_train", y_train)
    features_test, y_test = _features_and_labels("features_test", features_test,
                                                 "y_test", y_test)
    if features_test.shape[1] != features_train.shape[1]:
        raise ValueError(
            "features_test must have as many columns as features_train "
            f"({features_train.shape[1]}). Received: features_test with shape "
            f"{features_test.shape}")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    clf.fit(features_train, y_train)
    return float(clf.score(features_test, y_test))


def _codes_and_factors(codes, factors, n_bins):
    """Validated codes (N, D) float64, factors as class indices (N, K), and n_bins."""
    n_bins = v.positive_int("n_bins", n_bins)
    if n_bins < 2:
        v.fail("n_bins", "an int >= 2", n_bins)
    codes = np.asarray(codes)
    if codes.ndim != 2 or not (np.issubdtype(codes.dtype, np.number) or codes.dtype == bool):
        raise ValueError("codes must be a 2-D numeric array (samples, code dimensions). "
                         f"Received: codes with shape {codes.shape} and dtype {codes.dtype}")
    codes = codes.astype("float64")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes must be finite (no NaN or inf). Received: codes with "
                         f"{int(np.sum(~np.isfinite(codes)))} non-finite values")
    factors = np.asarray(factors)
    if factors.ndim == 1:
        factors = factors[:, None]
    if factors.ndim != 2 or len(factors) != len(codes) or factors.size == 0:
        raise ValueError(f"factors must be a 1-D or 2-D array with one row per row of codes "
                         f"({len(codes)}) and at least one row and column. Received: factors "
                         f"with shape {factors.shape}")
    classes = np.empty(factors.shape, dtype="int64")
    for k in range(factors.shape[1]):
        values, classes[:, k] = np.unique(factors[:, k], return_inverse=True)
        if len(values) < 2:
            raise ValueError(f"factors[:, {k}] must take at least two values (its entropy "
                             f"normalizes the gap). Received: factors[:, {k}] constant, "
                             f"equal to {values[0]!r}")
    return codes, classes, n_bins


def _discretize(codes, n_bins):
    """Each code column cut into `n_bins` equal-width bins over its range: ints (N, D)."""
    out = np.empty(codes.shape, dtype="int64")
    for j in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, j], bins=n_bins)
        out[:, j] = np.digitize(codes[:, j], edges[1:-1])
    return out


def _discrete_mutual_information(a, b):
    """I(a; b) in nats of two int label arrays, from their joint frequencies."""
    n_b = b.max() + 1
    joint = np.bincount(a * n_b + b, minlength=(a.max() + 1) * n_b).reshape(-1, n_b) / len(a)
    pa, pb = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])))


def _entropy(labels):
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def code_factor_mutual_information(codes, factors, n_bins=20):
    """Mutual information between each code dimension and each factor, in nats.

    Each code dimension is cut into `n_bins` equal-width bins over its range (the
    histogram estimator of Locatello et al. 2019, which `mutual_information_gap`
    uses); each factor is treated as discrete, one class per distinct value. The
    estimate of I(z_j; v_k) is then the mutual information of two discrete labels,
    from their joint frequencies. It is biased upwards by about
    (n_bins - 1)(classes - 1) / (2 N) nats for independent variables.

    Args:
        codes: codes, e.g. a VAE encoder's means, shape (N, D).
        factors: the true generative factors, shape (N, K) or (N,): discrete
            values (grid indices, labels); each must take at least two values.
        n_bins: histogram bins per code dimension (int >= 2).

    Returns:
        float64 array (D, K): entry (j, k) is I(z_j; v_k) >= 0.

    Raises:
        ValueError: for codes that are not a finite 2-D numeric array, factors with
            another number of rows or a constant column, or a bad `n_bins`.

    Example:
        >>> import numpy as np
        >>> from aebook.metrics import code_factor_mutual_information
        >>> f = np.array([0, 1, 0, 1])
        >>> code_factor_mutual_information(np.stack([f, np.zeros(4)], 1), f).round(4)  # ln 2
        array([[0.6931],
               [0.    ]])
    """
    codes, classes, n_bins = _codes_and_factors(codes, factors, n_bins)
    binned = _discretize(codes, n_bins)
    return np.array([[_discrete_mutual_information(binned[:, j], classes[:, k])
                      for k in range(classes.shape[1])] for j in range(codes.shape[1])])


def mutual_information_gap(codes, factors, n_bins=20, per_factor=False):
    """Mutual Information Gap (MIG, Chen et al. 2018): how disentangled a code is.

    For each factor v_k, the gap between the largest and the second largest mutual
    information of a code dimension with it, divided by the factor's entropy, then
    averaged over the factors:

        MIG = (1/K) sum_k (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k),

    where z_(1) and z_(2) are the two code dimensions that share the most
    information with v_k. It is 1 when each factor is captured completely by one
    code dimension and by no other, and near 0 when a factor is spread over
    several dimensions (a rotated code) or captured by none. Changing the order of
    the code dimensions does not change it.

    The mutual information is estimated as in Locatello et al. 2019
    (`disentanglement_lib`): each code dimension (use the encoder's means) is cut
    into `n_bins` equal-width bins, the factors are discrete
    (`code_factor_mutual_information`). Chen et al. estimate I(z_j; v_k) from the
    encoder's distribution q(z|x) instead; the two estimators give different
    numbers, so compare MIGs computed the same way only.

    Args:
        codes: codes, shape (N, D) with D >= 2.
        factors: true factors, shape (N, K) or (N,), discrete, each with at least
            two distinct values.
        n_bins: histogram bins per code dimension (int >= 2).
        per_factor: also return the gap of each factor.

    Returns:
        The MIG, a float in [0, 1] (up to the estimator's small bias); with
        `per_factor=True`, `(mig, gaps)` with `gaps` float64 (K,).

    Raises:
        ValueError: as `code_factor_mutual_information`, for fewer than two code
            dimensions, or if `per_factor` is not True or False.

    Example:
        >>> import numpy as np
        >>> from aebook.metrics import mutual_information_gap
        >>> rng = np.random.default_rng(0)
        >>> f = rng.integers(0, 4, size=(2000, 2))
        >>> mutual_information_gap(f[:, ::-1], f) > 0.99  # each factor in its own dimension
        True
        >>> mutual_information_gap(np.stack([f[:, 0] + f[:, 1], f[:, 0] - f[:, 1]], 1), f) < 0.05
        True
    """
    per_factor = v.flag("per_factor", per_factor)
    codes, classes, n_bins = _codes_and_factors(codes, factors, n_bins)
    if codes.shape[1] < 2:
        raise ValueError("codes must have at least 2 columns (the gap compares two code "
                         f"dimensions). Received: codes with shape {codes.shape}")
    mi = code_factor_mutual_information(codes, classes, n_bins)
    top = np.sort(mi, axis=0)[::-1]
    entropy = np.array([_entropy(classes[:, k]) for k in range(classes.shape[1])])
    gaps = (top[0] - top[1]) / entropy
    mig = float(gaps.mean())
    return (mig, gaps) if per_factor else mig

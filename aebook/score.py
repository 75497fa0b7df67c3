"""Denoising as score estimation: exact smoothed scores, learned scores, Langevin sampling.

A denoiser r trained with squared error at Gaussian noise level sigma estimates
E[x | x~], the mean of the clean x given the noisy x~ = x + sigma * eps, and by
Tweedie's (Miyasawa's) formula

    grad log p_sigma(x~) = (E[x | x~] - x~) / sigma^2,

where p_sigma is the data density convolved with N(0, sigma^2 I)
(Vincent 2011; Alain & Bengio 2014). This module holds the pieces of that story for
low-dimensional data (NumPy arrays of shape (N, D)):

- `smoothed_log_density`, `smoothed_score`: the exact log-density and score of a
  finite sample smoothed by N(0, sigma^2 I) (a Gaussian mixture), the
  known answer a trained denoiser is measured against;
- `build_score_denoiser`, `denoising_pairs`: a noise-conditional MLP denoiser
  r(x~, sigma) and its training data;
- `denoiser_score`: the score (r(x~) - x~) / sigma^2 of a denoiser, and
  `score_errors`: how far an estimated score is from the exact one;
- `annealed_langevin`: annealed Langevin dynamics (Song & Ermon 2019);
- `energy_distance`: a two-sample distance to judge the samples.
"""

import numpy as np

from aebook import validation as v

__all__ = [
    "annealed_langevin",
    "build_score_denoiser",
    "denoiser_score",
    "denoising_pairs",
    "energy_distance",
    "score_errors",
    "smoothed_log_density",
    "smoothed_score",
]

_CHUNK_ELEMENTS = 2_000_000  # query rows x data rows per block (bounds the memory used)


def _points(name, x, dim=None):
    """Returns `x` as a finite float64 array of shape (M, D), checking D against `dim`."""
    try:
        arr = np.asarray(x, dtype="float64")
    except (TypeError, ValueError):
        v.fail(name, "a 2-D array of numbers of shape (n_points, n_dims)", type(x).__name__)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        v.fail(name, "a non-empty 2-D array of shape (n_points, n_dims)", f"array of shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        v.fail(name, f"an array with {dim} columns (n_dims of the other argument)",
               f"array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        v.fail(name, "finite (no inf or nan)", "array with non-finite values")
    return arr


def _chunks(n_rows, n_cols):
    """Slices of at most `_CHUNK_ELEMENTS // n_cols` rows covering range(n_rows)."""
    step = max(1, _CHUNK_ELEMENTS // max(1, n_cols))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def _squared_distances(a, b):
    """(len(a), len(b)) squared Euclidean distances, clipped at 0 against rounding."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0)


def smoothed_log_density(x, data, sigma):
    """Log-density of the sample `data` smoothed by N(0, sigma^2 I).

    p_sigma(x) = 1/N sum_i N(x; x_i, sigma^2 I), the density of x_i + sigma * eps with
    x_i drawn uniformly from `data` and eps ~ N(0, I).

    Args:
        x: points, shape (M, D).
        data: the sample, shape (N, D).
        sigma: noise standard deviation, > 0.

    Returns:
        float64 array (M,): log p_sigma(x), computed with log-sum-exp.

    Raises:
        ValueError: for a non-positive `sigma`, or arrays that are not 2-D, finite, or
            do not have the same number of columns.

    Example:
        >>> import numpy as np
        >>> from aebook.score import smoothed_log_density
        >>> float(smoothed_log_density(np.zeros((1, 1)), np.zeros((1, 1)), 1.0)[0])  # log N(0; 0, 1)
        -0.9189385332046727
    """
    data = _points("data", data)
    x = _points("x", x, dim=data.shape[1])
    sigma = v.positive_float("sigma", sigma)
    n, dim = data.shape
    out = np.empty(len(x))
    for rows in _chunks(len(x), n):
        logits = -_squared_distances(x[rows], data) / (2.0 * sigma**2)
        top = logits.max(1, keepdims=True)
        out[rows] = top[:, 0] + np.log(np.exp(logits - top).sum(1))
    return out - np.log(n) - 0.5 * dim * np.log(2.0 * np.pi * sigma**2)


def smoothed_score(x, data, sigma):
    """Exact score grad_x log p_sigma(x) of the sample `data` smoothed by N(0, sigma^2 I).

    For the mixture p_sigma(x) = 1/N sum_i N(x; x_i, sigma^2 I),

        grad log p_sigma(x) = sum_i w_i(x) (x_i - x) / sigma^2,
        w_i(x) = softmax_i(-norm(x - x_i)^2 / (2 sigma^2)):

    sum_i w_i x_i is the posterior mean E[x_i | x], the output of the
    ideal denoiser, so this is Tweedie's formula with the best possible denoiser for
    this sample.

    Args:
        x: points, shape (M, D).
        data: the sample, shape (N, D).
        sigma: noise standard deviation, > 0.

    Returns:
        float64 array (M, D).

    Raises:
        ValueError: as `smoothed_log_density`.

    Example:
        >>> import numpy as np
        >>> from aebook.score import smoothed_score
        >>> smoothed_score(np.array([[1.0, 0.0]]), np.zeros((1, 2)), 0.5)  # (x_1 - x) / sigma^2
        array([[-4.,  0.]])
    """
    data = _points("data", data)
    x = _points("x", x, dim=data.shape[1])
    sigma = v.positive_float("sigma", sigma)
    out = np.empty_like(x)
    for rows in _chunks(len(x), len(data)):
        logits = -_squared_distances(x[rows], data) / (2.0 * sigma**2)
        w = np.exp(logits - logits.max(1, keepdims=True))
        w /= w.sum(1, keepdims=True)
        out[rows] = (w @ data - x[rows]) / sigma**2
    return out


def score_errors(estimate, exact):
    """How far a score estimate is from the exact score: relative error and mean cosine.

    Args:
        estimate: estimated scores, shape (M, D).
        exact: exact scores at the same points, shape (M, D).

    Returns:
        `(relative_error, cosine)`: the relative root-mean-square error
        sqrt(sum_m norm(estimate_m - exact_m)^2 / sum_m norm(exact_m)^2)
        (0 for a perfect estimate, 1 for an estimate of 0) and the mean over points of
        the cosine of the angle between estimate_m and exact_m (1: same directions;
        a zero vector counts as cosine 0).

    Raises:
        ValueError: if the arrays are not 2-D, finite and of the same shape, or `exact`
            is zero everywhere.

    Example:
        >>> import numpy as np
        >>> from aebook.score import score_errors
        >>> score_errors(np.array([[2.0, 0.0]]), np.array([[1.0, 0.0]]))
        (1.0, 1.0)
    """
    exact = _points("exact", exact)
    estimate = _points("estimate", estimate, dim=exact.shape[1])
    if estimate.shape != exact.shape:
        v.fail("estimate", f"an array of the shape of exact, {exact.shape}", f"array of shape {estimate.shape}")
    total = (exact**2).sum()
    if total == 0:
        v.fail("exact", "not zero everywhere (the relative error divides by its norm)", "all zeros")
    relative_error = np.sqrt(((estimate - exact) ** 2).sum() / total)
    norms = np.linalg.norm(estimate, axis=1) * np.linalg.norm(exact, axis=1)
    cosine = np.where(norms > 0, (estimate * exact).sum(1) / np.where(norms > 0, norms, 1.0), 0.0)
    return float(relative_error), float(cosine.mean())


def build_score_denoiser(data_dim=2, hidden_dims=(128, 128, 128), activation="swish", name="denoiser"):
    """A noise-conditional MLP denoiser r(x~, sigma) = x~ + sigma * f(x~, log sigma).

    The MLP f sees the noisy point and log sigma and predicts the direction back to
    the data in units of sigma (about -eps for x~ = x + sigma * eps). The skip
    connection keeps the score (r - x~) / sigma^2 = f / sigma as accurate at small
    sigma as at large ones: without it the network would have to output x~ almost
    exactly and the tiny difference r - x~ would be lost in its error. Trained with
    squared error against the clean point and sample weights 1 / sigma^2
    (`denoising_pairs`), it minimizes Song & Ermon's (2019) denoising score matching
    loss with weighting lambda(sigma) = sigma^2.

    It returns one model, not `AutoencoderParts`: the skip connection and the noise
    level reach the output around the hidden layers, so there is no single code that a
    separate decoder could take.

    Args:
        data_dim: dimension D of the data.
        hidden_dims: widths of the hidden layers of f (non-empty).
        activation: activation of the hidden layers.
        name: the model's name.

    Returns:
        A functional `keras.Model` with inputs `x_noisy` (batch, D) and `log_sigma`
        (batch, 1) (the natural logarithm of sigma) and output `x_denoised`
        (batch, D). Parameters: with widths h[1], ..., h[k],
        (D + 2) h[1] + sum over j > 1 of (h[j-1] + 1) h[j] + (h[k] + 1) D.

    Raises:
        ValueError: for a non-positive `data_dim`, an empty or non-positive
            `hidden_dims`, or an unknown `activation`.

    Example:
        >>> from aebook.score import build_score_denoiser
        >>> build_score_denoiser(2, hidden_dims=(8,)).count_params()  # (3 + 1) * 8 + (8 + 1) * 2
        50
    """
    import keras

    data_dim = v.positive_int("data_dim", data_dim)
    hidden_dims = v.positive_int_tuple("hidden_dims", hidden_dims)
    activation = v.activation("activation", activation)
    x_noisy = keras.Input((data_dim,), name="x_noisy")
    log_sigma = keras.Input((1,), name="log_sigma")
    h = keras.layers.Concatenate(name="features")([x_noisy, log_sigma])
    for i, units in enumerate(hidden_dims, start=1):
        h = keras.layers.Dense(units, activation=activation, name=f"hidden_{i}")(h)
    direction = keras.layers.Dense(data_dim, name="direction")(h)
    sigma = keras.layers.Activation("exponential", name="sigma")(log_sigma)
    step = keras.layers.Multiply(name="step")([sigma, direction])  # (batch, 1) * (batch, D)
    x_denoised = keras.layers.Add(name="x_denoised")([x_noisy, step])
    return keras.Model([x_noisy, log_sigma], x_denoised, name=name)


def denoising_pairs(x, sigma_min, sigma_max, copies=1, seed=None):
    """Training data for a noise-conditional denoiser: noisy copies at random noise levels.

    Each of the `copies` passes over `x` draws, for every point, a noise level
    sigma log-uniformly in [`sigma_min`, `sigma_max`] and a corruption
    x~ = x + sigma * eps, eps ~ N(0, I).

    Args:
        x: clean points, shape (N, D).
        sigma_min: smallest noise level, > 0.
        sigma_max: largest noise level, >= `sigma_min`.
        copies: number of noisy copies of each point.
        seed: seed of the NumPy generator (None: unseeded).

    Returns:
        `(inputs, targets, sample_weight)` for `model.fit(inputs, targets,
        sample_weight=sample_weight)` on a `build_score_denoiser` model: `inputs` a
        dict with `x_noisy` (copies * N, D) and `log_sigma` (copies * N, 1), `targets`
        the clean points (copies * N, D), `sample_weight` 1 / sigma^2 (copies * N,),
        all float32.

    Raises:
        ValueError: for bad levels, `copies` or `seed`, or `x` not a 2-D finite array.
    """
    x = _points("x", x)
    sigma_min = v.positive_float("sigma_min", sigma_min)
    sigma_max = v.positive_float("sigma_max", sigma_max)
    if sigma_max < sigma_min:
        v.fail("sigma_max", f"at least sigma_min={sigma_min!r}", sigma_max)
    copies = v.positive_int("copies", copies)
    rng = np.random.default_rng(v.seed("seed", seed))
    clean = np.tile(x, (copies, 1))
    log_sigma = rng.uniform(np.log(sigma_min), np.log(sigma_max), size=(len(clean), 1))
    noisy = clean + np.exp(log_sigma) * rng.standard_normal(clean.shape)
    inputs = {"x_noisy": noisy.astype("float32"), "log_sigma": log_sigma.astype("float32")}
    return inputs, clean.astype("float32"), np.exp(-2.0 * log_sigma[:, 0]).astype("float32")


def denoiser_score(denoiser, x, sigma):
    """The score estimate of a denoiser, (r(x~) - x~) / sigma^2 (Tweedie's formula).

    Args:
        denoiser: a `keras.Model` with two inputs, x~ and log sigma (as
            built by `build_score_denoiser`); a `keras.Model` with one input (a
            denoiser trained at this one `sigma`); or a callable mapping an (M, D)
            array to the denoised (M, D) array. Keras models are called directly
            (`training=False`), not through `predict`, which is slow for the many
            small batches of a Langevin chain.
        x: noisy points x~, shape (M, D).
        sigma: the noise level the denoiser is asked to remove, > 0.

    Returns:
        float64 array (M, D).

    Raises:
        ValueError: for a non-positive `sigma`, a bad `x`, or a denoiser output whose
            shape is not that of `x`.

    Example:
        >>> import numpy as np
        >>> from aebook.score import denoiser_score
        >>> shrink = lambda x: 0.8 * x  # the ideal denoiser for N(0, 4) data at sigma = 1
        >>> denoiser_score(shrink, np.array([[1.0]]), 1.0)  # the score of N(0, 5) at 1: -1/5
        array([[-0.2]])
    """
    x = _points("x", x)
    sigma = v.positive_float("sigma", sigma)
    import keras

    if isinstance(denoiser, keras.Model):
        x32 = x.astype("float32")
        if len(denoiser.inputs) == 2:
            log_sigma = np.full((len(x), 1), np.log(sigma), dtype="float32")
            out = denoiser([x32, log_sigma], training=False)
        else:
            out = denoiser(x32, training=False)
        out = keras.ops.convert_to_numpy(out)
    elif callable(denoiser):
        out = denoiser(x)
    else:
        v.fail("denoiser", "a keras.Model or a callable", type(denoiser).__name__)
    out = np.asarray(out, dtype="float64")
    if out.shape != x.shape:
        v.fail("denoiser", f"a map whose output has the shape of x, {x.shape}",
               f"output of shape {out.shape}")
    return (out - x) / sigma**2


def annealed_langevin(score_fn, x0, sigmas, steps=100, step_size=2e-5, seed=None):
    """Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1).

    For each noise level sigma_i of `sigmas` (largest first) it runs `steps`
    Langevin steps with step alpha_i = step_size * sigma_i^2 / sigma_L^2, where
    sigma_L is the last level:

        x <- x + alpha_i / 2 * score_fn(x, sigma_i) + sqrt(alpha_i) * z,  z ~ N(0, I).

    Args:
        score_fn: callable `score_fn(x, sigma)` returning the score of p_sigma at
            `x`, an array of the shape of `x`.
        x0: starting points, shape (M, D).
        sigmas: noise levels, positive and strictly decreasing.
        steps: Langevin steps per level, > 0.
        step_size: the step at the last level, > 0.
        seed: seed of the NumPy generator of z (None: unseeded).

    Returns:
        float64 array (M, D): the points after the last step.

    Raises:
        ValueError: for bad `sigmas`, `steps`, `step_size`, `seed` or `x0`, or a
            `score_fn` whose output has another shape.

    Example:
        >>> import numpy as np
        >>> from aebook.score import annealed_langevin
        >>> gaussian_score = lambda x, sigma: -x / (1.0 + sigma**2)  # N(0, 1) smoothed by sigma
        >>> x = annealed_langevin(gaussian_score, np.zeros((2000, 1)), [1.0, 0.1], steps=200,
        ...                       step_size=0.01, seed=0)
        >>> bool(abs(x.std() - 1.0) < 0.1)
        True
    """
    x = _points("x0", x0).copy()
    levels = np.asarray(sigmas, dtype="float64") if np.ndim(sigmas) == 1 else None
    if (levels is None or len(levels) == 0 or not np.all(np.isfinite(levels)) or np.any(levels <= 0)
            or np.any(np.diff(levels) >= 0)):
        v.fail("sigmas", "a non-empty 1-D sequence of positive, strictly decreasing noise levels",
               sigmas)
    steps = v.positive_int("steps", steps)
    step_size = v.positive_float("step_size", step_size)
    if not callable(score_fn):
        v.fail("score_fn", "a callable score_fn(x, sigma)", type(score_fn).__name__)
    rng = np.random.default_rng(v.seed("seed", seed))
    for sigma in levels:
        alpha = step_size * (sigma / levels[-1]) ** 2
        for _ in range(steps):
            score = np.asarray(score_fn(x, float(sigma)), dtype="float64")
            if score.shape != x.shape:
                v.fail("score_fn", f"a function returning an array of the shape of x, {x.shape}",
                       f"output of shape {score.shape}")
            x += 0.5 * alpha * score + np.sqrt(alpha) * rng.standard_normal(x.shape)
    return x


def energy_distance(a, b):
    """Squared energy distance between two samples (Székely & Rizzo), a V-statistic.

        E(a, b) = 2 mean norm(a_i - b_j) - mean norm(a_i - a_k) - mean norm(b_j - b_l),

    with every mean over all pairs (the zero distances of a point to itself included).
    It is non-negative, 0 when the two samples are the same set of points, and its
    population value is 0 only when the two distributions are equal. For two finite
    samples of one distribution it is small but positive (a bias of order
    1/n), so compare it with a baseline between two samples of the data. In one
    dimension it equals the square of `scipy.stats.energy_distance`.

    Args:
        a: sample, shape (n, D).
        b: sample, shape (m, D).

    Returns:
        float, >= 0.

    Raises:
        ValueError: if `a` or `b` is not a non-empty finite 2-D array, or their numbers
            of columns differ.

    Example:
        >>> import numpy as np
        >>> from aebook.score import energy_distance
        >>> energy_distance(np.array([[0.0], [1.0]]), np.array([[0.0], [1.0]]))
        0.0
        >>> energy_distance(np.array([[0.0]]), np.array([[3.0]]))  # 2 * 3 - 0 - 0
        6.0
    """
    a = _points("a", a)
    b = _points("b", b, dim=a.shape[1])

    def mean_distance(p, q):
        total = 0.0
        for rows in _chunks(len(p), len(q)):
            total += np.sqrt(_squared_distances(p[rows], q)).sum()
        return total / (len(p) * len(q))

    value = 2.0 * mean_distance(a, b) - mean_distance(a, a) - mean_distance(b, b)
    return float(max(value, 0.0))

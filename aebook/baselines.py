"""Principal component analysis, the baseline every autoencoder is compared with."""

import numpy as np
from sklearn.decomposition import PCA

from aebook import validation as v


def fit_pca(x_train, n_components):
    """Fits scikit-learn's PCA (exact, via the covariance eigendecomposition).

    Args:
        x_train: array of shape (N, D) or (N, H, W[, C]) (flattened internally).
        n_components: number of principal components k (positive int <= D).

    Returns:
        The fitted `sklearn.decomposition.PCA`.

    Raises:
        ValueError: for a bad `n_components`.
    """
    n_components = v.positive_int("n_components", n_components)
    x_train = np.asarray(x_train).reshape(len(x_train), -1)
    if n_components > x_train.shape[1]:
        raise ValueError(
            f"n_components must be at most the input size {x_train.shape[1]}. "
            f"Received: n_components={n_components}"
        )
    return PCA(n_components=n_components, svd_solver="covariance_eigh").fit(x_train)


def pca_reconstruct(x_train, x_test, n_components, clip=True):
    """Projects `x_test` on the top `n_components` principal axes of `x_train`.

    Args:
        x_train: training data, (N, ...).
        x_test: data to reconstruct, (M, ...).
        n_components: code size k.
        clip: clip reconstructions to [0, 1] (the pixel range), as a decoder with a
            sigmoid output would be. Set False for the pure linear projection.

    Returns:
        `(x_hat, pca)`: reconstructions shaped like `x_test` (float32) and the
        fitted PCA.

    Raises:
        ValueError: for a bad `n_components`, or, with `clip=True`, data with
            values outside [0, 1] (e.g. uint8 pixels in 0-255), which clipping to
            the pixel range would silently destroy.
    """
    if clip:
        x_train = v.unit_interval_array("x_train", x_train, dtype=None)
        x_test = v.unit_interval_array("x_test", x_test, dtype=None)
    pca = fit_pca(x_train, n_components)
    flat = np.asarray(x_test).reshape(len(x_test), -1)
    x_hat = pca.inverse_transform(pca.transform(flat)).reshape(np.shape(x_test))
    if clip:
        x_hat = np.clip(x_hat, 0.0, 1.0)
    return x_hat.astype("float32"), pca


def pca_reconstruction_errors(x_train, x_test, ks, clip=True):
    """Test reconstruction error of PCA for several code sizes, fitting PCA once.

    PCA's top-k components are the first k of the top-`max(ks)` components, so one
    fit with `max(ks)` components serves every k: each reconstruction uses the
    first k rows of `components_`. This gives the same numbers as calling
    `pca_reconstruct(x_train, x_test, k, clip)` for each k, in one fit instead of
    `len(ks)`.

    Args:
        x_train: training data, (N, ...) (flattened internally).
        x_test: data to reconstruct, (M, ...).
        ks: code sizes, a list or tuple of positive ints, each at most the input
            size (any order; repeats allowed).
        clip: clip reconstructions to [0, 1] before measuring the error, as
            `pca_reconstruct` does.

    Returns:
        float64 array of shape (len(ks),): for each k, the mean squared error per
        pixel, averaged over the samples of `x_test` (the mean of
        `aebook.metrics.per_sample_mse`).

    Raises:
        ValueError: for a bad `ks`, or, with `clip=True`, data with values outside
            [0, 1].
    """
    ks = v.positive_int_tuple("ks", ks)
    if clip:
        x_train = v.unit_interval_array("x_train", x_train, dtype=None)
        x_test = v.unit_interval_array("x_test", x_test, dtype=None)
    pca = fit_pca(x_train, max(ks))
    flat = np.asarray(x_test, dtype="float64").reshape(len(x_test), -1)
    centred = flat - pca.mean_
    errors = []
    for k in ks:
        components = pca.components_[:k]
        x_hat = (centred @ components.T) @ components + pca.mean_
        if clip:
            x_hat = np.clip(x_hat, 0.0, 1.0)
        errors.append(np.mean((flat - x_hat) ** 2))
    return np.array(errors, dtype="float64")


def pca_project(pca, x, n_components=None, clip=True):
    """Projects `x` on the first `n_components` principal axes of a fitted PCA.

    PCA's top-k axes are the first k rows of `components_` of any PCA with at
    least k components, so one fit serves every k. Used as a linear denoiser: fit
    the PCA on clean data, project noisy data, and the discarded directions take
    most of the noise with them.

    Args:
        pca: a fitted `sklearn.decomposition.PCA` (e.g. from `fit_pca`).
        x: data of shape (N, D) or (N, H, W[, C]) with prod of the trailing axes
            equal to the PCA's input size D.
        n_components: k, a positive int at most `pca.n_components_`; None uses
            all of the PCA's components.
        clip: clip the result to [0, 1] (the pixel range).

    Returns:
        float32 array shaped like `x`: `mean + (x - mean) V_k^T V_k`, with V_k the
        first k rows of `pca.components_`.

    Raises:
        ValueError: for a bad `n_components`, `x` of the wrong size, or, with
            `clip=True`, `x` with values outside [0, 1].
    """
    n_fitted = pca.components_.shape[0]
    if n_components is None:
        n_components = n_fitted
    n_components = v.positive_int("n_components", n_components)
    if n_components > n_fitted:
        raise ValueError(
            f"n_components must be at most the PCA's {n_fitted} components. "
            f"Received: n_components={n_components}"
        )
    x = v.unit_interval_array("x", x, dtype=None) if clip else np.asarray(x)
    flat = x.reshape(len(x), -1).astype("float32")
    if flat.shape[1] != pca.mean_.shape[0]:
        raise ValueError(
            f"x must have {pca.mean_.shape[0]} values per sample, as the PCA was fitted on. "
            f"Received: x.shape={x.shape}"
        )
    axes = pca.components_[:n_components].astype("float32")  # float32: twice as fast
    mean = pca.mean_.astype("float32")
    x_hat = (flat - mean) @ axes.T @ axes + mean
    if clip:
        x_hat = np.clip(x_hat, 0.0, 1.0)
    return x_hat.reshape(x.shape).astype("float32")

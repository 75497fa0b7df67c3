"""aebook.baselines.pca_reconstruction_errors: one PCA fit for a sweep of code sizes."""

import itertools

import numpy as np
import pytest

from aebook import baselines
from aebook.metrics import per_sample_mse


@pytest.mark.parametrize("clip", [True, False])
def test_matches_one_fit_per_k(x_flat, clip):
    train, test = x_flat[:200], x_flat[200:]
    ks = (1, 3, 10, 40)
    errors = baselines.pca_reconstruction_errors(train, test, ks, clip=clip)
    assert errors.shape == (4,) and errors.dtype == np.float64
    expected = [per_sample_mse(test, baselines.pca_reconstruct(train, test, k, clip=clip)[0]).mean()
                for k in ks]
    np.testing.assert_allclose(errors, expected, rtol=1e-4)


def test_decreasing_order_and_repeats(x_flat):
    train, test = x_flat[:200], x_flat[200:]
    errors = baselines.pca_reconstruction_errors(train, test, [1, 2, 4, 8, 16, 32], clip=False)
    assert all(a > b for a, b in itertools.pairwise(errors)), errors
    shuffled = baselines.pca_reconstruction_errors(train, test, [8, 1, 8, 32], clip=False)
    np.testing.assert_allclose(shuffled, errors[[3, 0, 3, 5]], rtol=1e-10)


def test_image_shapes_and_full_rank(x_img):
    train, test = x_img[:200], x_img[200:]
    errors = baselines.pca_reconstruction_errors(train, test, (5,))
    x_hat, _ = baselines.pca_reconstruct(train, test, 5)
    np.testing.assert_allclose(errors[0], per_sample_mse(test, x_hat).mean(), rtol=1e-4)
    small = np.random.default_rng(0).normal(size=(30, 6))
    exact = baselines.pca_reconstruction_errors(small[:20], small[20:], (6,), clip=False)
    assert exact[0] < 1e-20


@pytest.mark.parametrize("ks", [(), [0], (2, -1), 3, (2.5,), (True,)])
def test_bad_ks(x_flat, ks):
    with pytest.raises(ValueError, match=r"^ks must be"):
        baselines.pca_reconstruction_errors(x_flat[:50], x_flat[50:60], ks)


def test_k_larger_than_input(x_flat):
    with pytest.raises(ValueError, match=r"^n_components must be at most"):
        baselines.pca_reconstruction_errors(x_flat[:50], x_flat[50:60], (2, 785))

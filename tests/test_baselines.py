"""aebook.baselines: PCA reconstruction."""

import itertools

import numpy as np
import pytest

from aebook import baselines


@pytest.fixture
def low_dim():
    """60 correlated samples in 8 dimensions, values around [0, 1]."""
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 3)) @ rng.normal(size=(3, 8)) * 0.1 + rng.normal(size=(60, 8)) * 0.05 + 0.5


def test_all_components_reconstruct_exactly(low_dim):
    x_hat, pca = baselines.pca_reconstruct(low_dim[:40], low_dim[40:], n_components=8, clip=False)
    assert pca.n_components_ == 8
    assert x_hat.dtype == np.float32 and x_hat.shape == (20, 8)
    np.testing.assert_allclose(x_hat, low_dim[40:], rtol=0, atol=1e-6)  # float32 output


def test_matches_projection_on_top_singular_vectors(low_dim):
    train, test = low_dim[:40], low_dim[40:]
    k = 3
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    v = vt[:k].T
    expected = mean + (test - mean) @ v @ v.T
    x_hat, _ = baselines.pca_reconstruct(train, test, n_components=k, clip=False)
    np.testing.assert_allclose(x_hat, expected, rtol=0, atol=1e-6)


def test_error_decreases_monotonically_with_k(low_dim):
    train, test = low_dim[:40], low_dim[40:]
    errors = [np.mean((baselines.pca_reconstruct(train, test, k, clip=False)[0] - test) ** 2)
              for k in range(1, 9)]
    assert all(a > b for a, b in itertools.pairwise(errors)), errors
    assert errors[-1] < 1e-12


def test_clip_and_image_shapes(x_img):
    x_hat, pca = baselines.pca_reconstruct(x_img[:200], x_img[200:], n_components=5)
    assert x_hat.shape == x_img[200:].shape == (56, 28, 28, 1)
    assert x_hat.min() >= 0.0 and x_hat.max() <= 1.0
    unclipped, _ = baselines.pca_reconstruct(x_img[:200], x_img[200:], n_components=5, clip=False)
    assert unclipped.min() < 0.0  # so clipping really did something
    np.testing.assert_array_equal(x_hat, np.clip(unclipped, 0, 1))
    assert pca.components_.shape == (5, 784)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "3", 9])
def test_bad_n_components(low_dim, k):
    with pytest.raises(ValueError, match=r"^n_components must be"):
        baselines.fit_pca(low_dim, k)

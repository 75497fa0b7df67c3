"""aebook.baselines.pca_project: projection on the top-k axes of one fitted PCA."""

import numpy as np
import pytest

from aebook import baselines


@pytest.mark.parametrize("clip", [True, False])
def test_matches_pca_reconstruct(x_flat, clip):
    train, test = x_flat[:200], x_flat[200:]
    pca = baselines.fit_pca(train, 40)
    for k in (1, 7, 40):
        expected, _ = baselines.pca_reconstruct(train, test, k, clip=clip)
        got = baselines.pca_project(pca, test, k, clip=clip)
        assert got.shape == test.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_default_uses_all_components_and_image_shapes(x_img):
    train, test = x_img[:200], x_img[200:]
    pca = baselines.fit_pca(train, 12)
    got = baselines.pca_project(pca, test)
    assert got.shape == test.shape
    np.testing.assert_allclose(got, baselines.pca_project(pca, test, 12), atol=0)
    assert 0.0 <= got.min() and got.max() <= 1.0


def test_full_rank_is_identity_without_clipping():
    x = np.random.default_rng(0).normal(size=(30, 6))
    pca = baselines.fit_pca(x[:20], 6)
    np.testing.assert_allclose(baselines.pca_project(pca, x[20:], clip=False), x[20:], atol=1e-5)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, 13])
def test_bad_n_components(x_flat, k):
    pca = baselines.fit_pca(x_flat[:50], 12)
    with pytest.raises(ValueError, match=r"^n_components must be"):
        baselines.pca_project(pca, x_flat[50:60], k)


def test_wrong_input_size(x_flat):
    pca = baselines.fit_pca(x_flat[:50], 5)
    with pytest.raises(ValueError, match=r"^x must have 784 values"):
        baselines.pca_project(pca, x_flat[50:60, :100], 3)

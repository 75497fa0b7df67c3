"""Tests of aebook.metrics.per_sample_correlation."""

import numpy as np
import pytest

from aebook.metrics import per_sample_correlation


def test_shape_dtype_and_affine_invariance():
    x = np.random.default_rng(0).random((5, 28, 28), dtype="float32")
    r = per_sample_correlation(x, 0.5 * x + 0.2)
    assert r.shape == (5,) and r.dtype == np.float64
    np.testing.assert_allclose(r, 1.0, atol=1e-6)
    np.testing.assert_allclose(per_sample_correlation(x, 1.0 - x), -1.0, atol=1e-6)


def test_matches_numpy_corrcoef():
    rng = np.random.default_rng(1)
    x, x_hat = rng.random((4, 784)), rng.random((4, 784))
    x_hat[:2] += 0.8 * x[:2]
    expected = [np.corrcoef(a, b)[0, 1] for a, b in zip(x, x_hat, strict=True)]
    np.testing.assert_allclose(per_sample_correlation(x, x_hat), expected, rtol=1e-10)


def test_unrelated_images_are_uncorrelated():
    rng = np.random.default_rng(2)
    r = per_sample_correlation(rng.random((200, 784)), rng.random((200, 784)))
    assert abs(r.mean()) < 0.01


def test_constant_sample_gives_nan():
    x = np.random.default_rng(3).random((2, 16))
    x_hat = x.copy()
    x_hat[1] = 0.5
    r = per_sample_correlation(x, x_hat)
    assert r[0] == pytest.approx(1.0) and np.isnan(r[1])


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        per_sample_correlation(np.zeros((2, 4)), np.zeros((2, 5)))

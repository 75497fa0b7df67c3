"""aebook.compression: uniform quantization of codes and the JPEG round trip."""

import numpy as np
import pytest

from aebook import compression


def test_uniform_quantize_levels_and_error_bound():
    z = np.random.default_rng(0).normal(size=(500, 6))
    low, high = z.min(axis=0), z.max(axis=0)
    for bits in (1, 4, 8):
        z_hat = compression.uniform_quantize(z, bits, low, high)
        assert z_hat.shape == z.shape and z_hat.dtype == np.float32
        for j in range(z.shape[1]):
            assert len(np.unique(z_hat[:, j])) <= 2**bits
        step = (high - low) / (2**bits - 1)
        assert np.all(np.abs(z_hat - z) <= step / 2 + 1e-5)


def test_uniform_quantize_clips_and_defaults_to_column_range():
    z = np.array([[0.0, 1.0], [1.0, 3.0], [0.6, 2.2]])
    np.testing.assert_allclose(compression.uniform_quantize(z, 1), [[0, 1], [1, 3], [1, 3]])
    got = compression.uniform_quantize(np.array([[-5.0], [5.0]]), 8, low=0.0, high=1.0)
    np.testing.assert_allclose(got, [[0.0], [1.0]])
    constant = compression.uniform_quantize(np.ones((4, 2)), 8)
    np.testing.assert_allclose(constant, 1.0)


@pytest.mark.parametrize("bits", [0, 17, 2.5, True])
def test_uniform_quantize_rejects_bad_bits(bits):
    with pytest.raises(ValueError, match="bits"):
        compression.uniform_quantize(np.zeros((2, 2)), bits)


def test_uniform_quantize_rejects_bad_shapes_and_ranges():
    with pytest.raises(ValueError, match="z must"):
        compression.uniform_quantize(np.zeros(3), 8)
    with pytest.raises(ValueError, match="high"):
        compression.uniform_quantize(np.zeros((2, 1)), 8, low=1.0, high=0.0)


def test_jpeg_roundtrip_shapes_sizes_and_quality(x_flat):
    x = x_flat[:20]
    low = compression.jpeg_roundtrip(x, 5)
    high = compression.jpeg_roundtrip(x.reshape(20, 28, 28), 95)
    x_hat, file_bytes, payload_bytes = low
    assert x_hat.shape == x.shape and x_hat.dtype == np.float32
    assert 0.0 <= x_hat.min() and x_hat.max() <= 1.0
    assert high[0].shape == (20, 28, 28)
    assert np.all(payload_bytes > 0) and np.all(payload_bytes < file_bytes)
    # identical headers at one quality: file minus payload is constant
    assert len(np.unique(file_bytes - payload_bytes)) == 1
    err_low = np.mean((x_hat - x) ** 2)
    err_high = np.mean((high[0].reshape(20, -1) - x) ** 2)
    assert err_high < err_low and high[2].mean() > payload_bytes.mean()


def test_jpeg_roundtrip_rejects_bad_arguments(x_flat):
    for quality in (0, 96, 50.0):
        with pytest.raises(ValueError, match="quality"):
            compression.jpeg_roundtrip(x_flat[:2], quality)
    with pytest.raises(ValueError, match="pixels"):
        compression.jpeg_roundtrip(np.zeros((2, 100)), 50)

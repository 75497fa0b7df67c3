"""aebook.plotting.plot_features: weight rows shown as signed, per-feature-scaled tiles."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import aebook
from aebook import plotting


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_features_tiles_scaled_rows():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 784))
    fig = plotting.plot_features(w, n=5, ncols=3, title="features")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "features"
    canvas = ax.images[0].get_array()
    assert canvas.shape == (2 * 29 - 1, 3 * 29 - 1)  # 2 rows x 3 columns, 1-pixel borders
    for i in range(5):
        r, c = divmod(i, 3)
        tile = canvas[r * 29:r * 29 + 28, c * 29:c * 29 + 28]
        expected = 0.5 + 0.5 * w[i] / np.abs(w[i]).max()
        np.testing.assert_allclose(tile, expected.reshape(28, 28))
    np.testing.assert_array_equal(canvas[28, :], 1.0)  # border row between tile rows
    np.testing.assert_array_equal(canvas[29:, 2 * 29:], 1.0)  # the empty sixth tile


def test_plot_features_zero_row_is_mid_grey_and_n_limits_rows():
    w = np.zeros((10, 16))
    w[1, 3] = -2.0
    fig = plotting.plot_features(w, n=2, ncols=8, image_shape=(4, 4))
    canvas = fig.axes[0].images[0].get_array()
    assert canvas.shape == (4, 2 * 5 - 1)  # ncols shrinks to the number of features
    np.testing.assert_array_equal(canvas[:, :4], 0.5)
    assert canvas[0, 5 + 3] == 0.0  # the most negative weight is black


def test_plot_features_of_a_decoder_kernel():
    _, decoder, _ = aebook.build_sparse_autoencoder(latent_dim=20, penalty=None)
    kernel = decoder.get_layer("reconstruction").get_weights()[0]
    assert kernel.shape == (20, 784)
    fig = plotting.plot_features(kernel, n=20, ncols=10)
    assert fig.axes[0].images[0].get_array().shape == (2 * 29 - 1, 10 * 29 - 1)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"weights": np.zeros((3, 100))}, r"weights must have shape \(n_features, 784\)"),
    ({"weights": np.zeros(784)}, r"weights must have shape"),
    ({"weights": np.zeros((3, 784)), "n": 0}, r"^n must be a positive int"),
    ({"weights": np.zeros((3, 784)), "ncols": 0}, r"^ncols must be a positive int"),
])
def test_plot_features_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plotting.plot_features(**kwargs)

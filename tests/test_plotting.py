"""aebook.plotting: every function returns a Figure (Agg backend, figures closed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy.stats import norm

import aebook
from aebook import plotting


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_image_rows(x_flat):
    fig = plotting.plot_image_rows([x_flat, x_flat[::-1], x_flat], row_labels=["a", "b", "c"], n=4)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3 * 4
    first = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(first, x_flat[0].reshape(28, 28))
    assert fig.axes[4].get_ylabel() == "b"  # first image of the second row


def test_plot_reconstructions(x_flat):
    fig = plotting.plot_reconstructions(x_flat, 1 - x_flat, n=5)
    assert isinstance(fig, Figure) and len(fig.axes) == 10
    assert [fig.axes[0].get_ylabel(), fig.axes[5].get_ylabel()] == ["original", "reconstruction"]
    np.testing.assert_allclose(fig.axes[5].images[0].get_array(), 1 - x_flat[0].reshape(28, 28))


def test_plot_image_grid_tiles_images(images):
    fig = plotting.plot_image_grid(images[:3], ncols=2, title="samples")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    canvas = fig.axes[0].images[0].get_array()
    assert canvas.shape == (56, 56)
    np.testing.assert_array_equal(canvas[:28, 28:], images[1])
    np.testing.assert_array_equal(canvas[28:, :28], images[2])
    np.testing.assert_array_equal(canvas[28:, 28:], np.ones((28, 28)))  # empty cell stays white
    assert fig.axes[0].get_title() == "samples"


def test_plot_latent_scatter():
    rng = np.random.default_rng(0)
    z, labels = rng.normal(size=(300, 2)), rng.integers(0, 10, size=300)
    fig = plotting.plot_latent_scatter(z, labels, title="codes", max_points=100)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title() == "codes"
    assert len(ax.collections[0].get_offsets()) == 100  # a subset of max_points
    fig2, ax2 = plt.subplots()
    assert plotting.plot_latent_scatter(z, labels, ax=ax2) is fig2
    assert len(ax2.collections[0].get_offsets()) == 300


@pytest.mark.parametrize("shape", [(10, 3), (10,), (10, 2, 1)])
def test_plot_latent_scatter_rejects_codes_that_are_not_2d(shape):
    with pytest.raises(ValueError, match=r"z must have shape \(N, 2\)"):
        plotting.plot_latent_scatter(np.zeros(shape), np.zeros(10, int))


@pytest.mark.parametrize(("limits", "corner"), [
    (None, (norm.ppf(0.05), norm.ppf(0.95))),  # Gaussian quantiles 5% .. 95%
    (((-2.0, 2.0), (-1.0, 1.0)), (-2.0, 1.0)),
])
def test_plot_latent_manifold(limits, corner):
    _, decoder, _ = aebook.build_vae(input_dim=784, hidden_dims=(8,), latent_dim=2)
    fig = plotting.plot_latent_manifold(decoder, n=3, limits=limits, title="manifold")
    assert isinstance(fig, Figure) and fig.axes[0].get_title() == "manifold"
    canvas = fig.axes[0].images[0].get_array()
    assert canvas.shape == (3 * 28, 3 * 28)
    # top-left tile: x at its minimum, y at its maximum (rows run from top to bottom)
    expected = decoder.predict(np.array([corner], "float32"), verbose=0).reshape(28, 28)
    np.testing.assert_allclose(canvas[:28, :28], expected, atol=1e-6)


def test_plot_history_from_history_and_dict():
    hist = {"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.7, 0.4]}

    class FakeHistory:
        history = hist

    fig = plotting.plot_history(FakeHistory(), log_scale=True, title="t")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["loss", "val_loss"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2, 3])
    assert ax.get_yscale() == "log"
    fig2 = plotting.plot_history(hist, keys=["val_loss"])
    assert [line.get_label() for line in fig2.axes[0].get_lines()] == ["val_loss"]


def test_use_book_style():
    with matplotlib.rc_context():
        plotting.use_book_style()
        assert plt.rcParams["image.cmap"] == "gray"
        assert plt.rcParams["axes.spines.top"] is False


@pytest.mark.parametrize(("call", "name"), [
    (lambda x: plotting.plot_image_rows([x], n=0), "n"),
    (lambda x: plotting.plot_image_grid(x[:4], ncols=0), "ncols"),
])
def test_plot_bad_arguments(call, name, x_flat):
    with pytest.raises(ValueError, match=rf"^{name} must be a positive int"):
        call(x_flat)

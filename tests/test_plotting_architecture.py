"""aebook.plotting.plot_architecture: one labelled box per layer, nested models expanded."""

import matplotlib

matplotlib.use("Agg")

import keras
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


def _boxes(ax):
    return [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]


def _labels(ax):
    # the arrows between boxes are Annotations (Text subclasses) without text
    return [t.get_text() for t in ax.texts if not isinstance(t, matplotlib.text.Annotation)]


def test_vanilla_autoencoder_boxes_labels_and_colours():
    _, _, autoencoder = aebook.build_vanilla_autoencoder(input_dim=784, latent_dim=32)
    fig = plotting.plot_architecture(autoencoder)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    boxes = _boxes(ax)
    # input x, then the encoder's "code", then the decoder's "reconstruction";
    # the nested models' own Input layers are not drawn
    assert [b.get_label() for b in boxes] == ["x", "code", "reconstruction"]
    labels = _labels(ax)
    assert labels[0] == "x\n784\n0 params"
    assert labels[1] == "code\n32\nrelu\n25,120 params"  # 784 * 32 + 32
    assert labels[2] == "reconstruction\n784\nsigmoid\n25,872 params"  # 32 * 784 + 784
    assert ax.get_title() == "vanilla_autoencoder: 50,992 parameters"
    # encoder and decoder layers get different colours; the code box is outlined
    assert boxes[1].get_facecolor() != boxes[2].get_facecolor()
    assert boxes[1].get_linewidth() > boxes[2].get_linewidth()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["encoder", "decoder"]


@pytest.mark.parametrize(("scale", "expected"), [
    ("linear", 32 / 784),
    ("sqrt", np.sqrt(32 / 784)),
    ("log", np.log1p(32) / np.log1p(784)),
])
def test_box_heights_follow_size_scale(scale, expected):
    _, _, autoencoder = aebook.build_vanilla_autoencoder(input_dim=784, latent_dim=32)
    boxes = _boxes(plotting.plot_architecture(autoencoder, size_scale=scale).axes[0])
    heights = np.array([b.get_height() for b in boxes])
    # heights are 0.1 + 0.9 * size / max size, so every box stays visible
    np.testing.assert_allclose(heights, [1.0, 0.1 + 0.9 * expected, 1.0], rtol=1e-6)


def test_deep_autoencoder_lists_every_layer_in_order():
    _, _, autoencoder = aebook.build_deep_autoencoder(hidden_dims=(16, 8), latent_dim=4)
    ax = plotting.plot_architecture(autoencoder, title="deep").axes[0]
    names = [b.get_label() for b in _boxes(ax)]
    assert names == ["x", "encoder_dense_0", "encoder_dense_1", "code",
                     "decoder_dense_0", "decoder_dense_1", "reconstruction"]
    assert ax.get_title() == "deep"
    n_params = sum(int(t.split("\n")[-1].split()[0].replace(",", "")) for t in _labels(ax))
    assert n_params == autoencoder.count_params()


def test_conv_and_multi_output_layers_are_labelled_with_their_shapes():
    _, _, conv = aebook.build_conv_autoencoder(input_shape=(28, 28, 1), filters=(4, 8))
    labels = _labels(plotting.plot_architecture(conv).axes[0])
    assert labels[0].split("\n")[1] == "28x28x1"
    assert labels[1].split("\n")[1] == "14x14x4"
    _, _, vae = aebook.build_vae(input_dim=784, hidden_dims=(8,), latent_dim=2)
    labels = _labels(plotting.plot_architecture(vae).axes[0])
    kl = next(t for t in labels if t.startswith("kl_divergence"))
    assert kl.split("\n")[1] == "2, 2"  # two outputs: z_mean and z_log_var


def test_sequential_model_and_existing_axes():
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(3, name="d")], name="seq")
    fig, ax = plt.subplots()
    assert plotting.plot_architecture(model, ax=ax) is fig
    assert [b.get_label() for b in _boxes(ax)] == ["d"]
    assert ax.get_legend() is None  # no encoder/decoder groups to explain


def test_plot_architecture_bad_arguments():
    with pytest.raises(TypeError, match=r"^model must be a keras.Model"):
        plotting.plot_architecture("not a model")
    _, _, autoencoder = aebook.build_vanilla_autoencoder(input_dim=8, latent_dim=2)
    with pytest.raises(ValueError, match=r"^size_scale must be one of"):
        plotting.plot_architecture(autoencoder, size_scale="cubic")

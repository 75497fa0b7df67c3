"""Input checks that catch a new user's usual mistakes (issue 11), one section per class:

1. raw 0-255 (uint8) pixels where [0, 1] floats are documented;
2. no silent clipping of the corrupted inputs of a denoising autoencoder on data that
   is not in [0, 1];
3. NumPy scalars are accepted wherever Python numbers are, and converted;
4. empty arrays in a data file give a `DataError` naming the file;
5. seeds >= 2**31 (and negative ones) are rejected with a message naming `seed`;
6. inf and nan hyper-parameters are rejected;
7. plotting: fewer images than `n`, colour images.

Every check is in `aebook.validation`; each test below failed before it was added.
"""

import json
import math

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

import aebook
from aebook import anomaly, baselines, callbacks, compression, data, layers, metrics, models
from aebook import plotting

UINT8_MESSAGE = r"^(x|x_train|x_test) must have values in \[0, 1\] \(0-255 pixels\? Divide by 255"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def pixels(images):
    """The test images as raw 0-255 uint8 pixels, flat (N, 784)."""
    return np.round(images[:32] * 255).astype(np.uint8).reshape(32, -1)


@pytest.fixture(scope="module")
def vae():
    encoder, decoder, _ = aebook.build_vae(hidden_dims=(8,), latent_dim=2, seed=0)
    return encoder, decoder


# ---------------------------------------------------------------- 1. 0-255 pixels


def _uint8_calls(x_flat, pixels, vae):
    encoder, decoder = vae
    floats = x_flat[:32]
    decoder_sigmoid = aebook.build_vanilla_autoencoder(latent_dim=4).decoder
    return {
        "per_sample_bce": lambda: metrics.per_sample_bce(pixels, floats),
        "psnr": lambda: metrics.psnr(pixels, floats),
        "ssim": lambda: metrics.ssim(pixels, floats),
        "vae_negative_elbo": lambda: metrics.vae_negative_elbo(encoder, decoder, pixels),
        "vae_elbo_terms": lambda: metrics.vae_elbo_terms(encoder, decoder, pixels),
        "iwae": lambda: metrics.iwae_negative_log_likelihood(encoder, decoder, pixels, k=2),
        "corrupt": lambda: data.corrupt(pixels, "gaussian", 0.1),
        "corrupt_blur": lambda: data.corrupt(pixels, "blur", 1.0),
        "jpeg_roundtrip": lambda: compression.jpeg_roundtrip(pixels, 50),
        "pca_reconstruct": lambda: baselines.pca_reconstruct(pixels, pixels, 4),
        "pca_reconstruct_test": lambda: baselines.pca_reconstruct(floats, pixels, 4),
        "pca_reconstruction_errors": lambda: baselines.pca_reconstruction_errors(
            pixels, pixels, [4]),
        "pca_project": lambda: baselines.pca_project(baselines.fit_pca(floats, 4), pixels),
        "init_output_bias": lambda: models.init_output_bias(decoder_sigmoid, pixels),
    }


UINT8_CALLS = ["per_sample_bce", "psnr", "ssim", "vae_negative_elbo", "vae_elbo_terms", "iwae",
               "corrupt", "corrupt_blur", "jpeg_roundtrip", "pca_reconstruct",
               "pca_reconstruct_test", "pca_reconstruction_errors", "pca_project",
               "init_output_bias"]


@pytest.mark.parametrize("name", UINT8_CALLS)
def test_uint8_pixels_are_rejected_where_0_1_floats_are_documented(name, x_flat, pixels, vae):
    call = _uint8_calls(x_flat, pixels, vae)[name]
    with pytest.raises(ValueError, match=UINT8_MESSAGE):
        call()


@pytest.mark.parametrize("bad", [-0.5, 1.5, np.nan])
def test_float_images_outside_0_1_are_rejected(x_flat, bad):
    x = x_flat[:4].copy()
    x[0, 0] = bad
    with pytest.raises(ValueError, match=r"^x must have values in \[0, 1\]\. Received: x with min="):
        data.corrupt(x)
    with pytest.raises(ValueError, match=r"^x must have values in \[0, 1\]"):
        metrics.psnr(x, x_flat[:4])


def test_float32_rounding_just_outside_0_1_is_accepted(x_flat):
    x = x_flat[:4].copy()
    x[0, 0], x[0, 1] = -1e-7, 1 + 1e-7
    assert data.corrupt(x, "masking", 0.1).shape == x.shape
    assert np.isfinite(metrics.per_sample_bce(x, np.clip(x, 0.1, 0.9))).all()


def test_data_range_255_accepts_0_255_pixels(pixels):
    noisy = np.clip(pixels.astype(int) + 10, 0, 255)
    value = metrics.psnr(pixels, noisy, data_range=255)
    assert np.all((value > 20) & (value < 40))
    with pytest.raises(ValueError, match="^data_range must be a positive float"):
        metrics.psnr(pixels, noisy, data_range=0)


def test_reconstructions_as_integer_pixels_are_rejected(x_flat, pixels):
    with pytest.raises(ValueError, match="^x_hat must be a float array on the scale"):
        metrics.psnr(x_flat[:32], pixels)
    # a float reconstruction that overshoots a little (linear decoder) is fine
    assert np.isfinite(metrics.psnr(x_flat[:32], x_flat[:32] * 1.1 + 0.05)).all()


def test_unclipped_pca_accepts_any_scale(pixels):
    x_hat, _ = baselines.pca_reconstruct(pixels, pixels, 4, clip=False)
    assert x_hat.max() > 100  # no clipping, no error
    linear_decoder = aebook.build_vanilla_autoencoder(latent_dim=4,
                                                      output_activation="linear").decoder
    bias = models.init_output_bias(linear_decoder, pixels.astype("float32"))
    assert bias.max() > 100


# ---------------------------------------------------------------- 2. denoising on other scales


def test_denoising_autoencoder_with_linear_output_does_not_clip_corruption():
    x = np.random.default_rng(0).standard_normal((64, 8)).astype("float32")  # standardized
    parts = aebook.build_denoising_autoencoder(input_shape=(8,), latent_dim=2, hidden_dims=(),
                                               level=0.1, output_activation="linear",
                                               seed=1)
    corruption = parts.autoencoder.get_layer("corruption")
    assert corruption.clip is False
    out = keras.ops.convert_to_numpy(corruption(x, training=True))
    assert (out < 0).mean() > 0.3 and (out > 1).mean() > 0.05
    assert 0.05 < np.std(out - x) < 0.15  # only the noise was added


def test_denoising_autoencoder_with_sigmoid_output_still_clips(x_flat):
    parts = aebook.build_denoising_autoencoder(latent_dim=2, hidden_dims=(), seed=1)
    corruption = parts.autoencoder.get_layer("corruption")
    assert corruption.clip is True
    out = keras.ops.convert_to_numpy(corruption(x_flat[:16], training=True))
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_denoising_clip_can_be_forced_and_is_serialized():
    parts = aebook.build_denoising_autoencoder(input_shape=(8,), latent_dim=2, hidden_dims=(),
                                               output_activation="tanh", clip=True)
    layer = parts.autoencoder.get_layer("corruption")
    assert layer.clip is True
    clone = layers.Corruption.from_config(layers.Corruption(clip=False).get_config())
    assert clone.clip is False
    with pytest.raises(ValueError, match="^clip must be None, True or False"):
        aebook.build_denoising_autoencoder(input_shape=(8,), clip="no")


# ---------------------------------------------------------------- 3. NumPy scalars


def test_numpy_ints_reach_keras_as_python_ints():
    parts = aebook.build_conv_autoencoder(input_shape=(8, 8, 1), filters=(4,),
                                          latent_dim=np.int64(3), kernel_size=np.int64(3))
    assert parts.encoder.output_shape == (None, 3)
    assert parts.autoencoder.predict(np.zeros((2, 8, 8, 1), "float32"), verbose=0).shape == (
        2, 8, 8, 1)
    dae = aebook.build_denoising_autoencoder(input_shape=(16,), latent_dim=np.int64(3),
                                             hidden_dims=(np.int64(8),), seed=np.int64(5),
                                             level=np.float32(0.2))
    corruption = dae.autoencoder.get_layer("corruption")
    assert type(corruption.seed) is int and type(corruption.level) is float
    json.dumps(dae.autoencoder.get_config())  # NumPy scalars would not serialize
    vae = aebook.build_vae(input_dim=16, hidden_dims=(np.int32(8),), latent_dim=np.int64(2),
                           beta=np.float64(0.5), seed=np.int64(3))
    assert type(vae.autoencoder.get_layer("sampling").seed) is int
    out = vae.autoencoder(np.zeros((2, 16), "float32"))
    assert tuple(out.shape) == (2, 16)


def test_numpy_floats_are_accepted_like_python_floats():
    errors = np.arange(100, dtype="float64")
    assert anomaly.percentile_threshold(errors, q=np.float32(90)) == pytest.approx(89.1)
    assert anomaly.percentile_threshold(errors, q=np.int64(50)) == pytest.approx(49.5)
    signal, _ = anomaly.make_anomalous_signal(np.int64(400), n_anomalies=np.int64(2),
                                              seed=np.int64(1))
    assert signal.shape == (400,)
    sparse = aebook.build_sparse_autoencoder(input_dim=8, latent_dim=4,
                                             sparsity_weight=np.float32(1e-3),
                                             target=np.float32(0.1))
    assert type(sparse.encoder.get_layer("sparsity").weight) is float
    annealing = callbacks.KLAnnealing(beta_end=np.float32(1.0), warmup_epochs=np.int64(2))
    assert annealing.beta_at(1) == pytest.approx(0.5)


def test_numpy_seeds_give_the_same_numbers_as_python_seeds(x_flat):
    a = data.corrupt(x_flat[:4], "masking", 0.3, seed=np.int64(7))
    np.testing.assert_array_equal(a, data.corrupt(x_flat[:4], "masking", 0.3, seed=7))
    decoder = aebook.build_vae(input_dim=16, hidden_dims=(), latent_dim=2).decoder
    np.testing.assert_array_equal(models.sample_prior(decoder, 3, seed=np.int64(2)),
                                  models.sample_prior(decoder, 3, seed=2))


# ---------------------------------------------------------------- 4. empty data files


@pytest.mark.parametrize("key", ["x_train", "x_test"])
def test_empty_arrays_in_a_data_file_raise_a_data_error_naming_the_file(tmp_path, write_npz,
                                                                         key):
    split = key.split("_")[1]
    path = tmp_path / "mnist.npz"
    write_npz(path, **{key: np.zeros((0, 28, 28), np.uint8),
                       f"y_{split}": np.zeros(0, np.uint8)})
    with pytest.raises(data.DataError, match=rf"{path}.*{key} is empty"):
        data.load_mnist(path=path)


def test_empty_labels_alone_raise_a_data_error(tmp_path, write_npz):
    path = tmp_path / "mnist.npz"
    write_npz(path, y_test=np.zeros(0, np.uint8))
    with pytest.raises(data.DataError, match=r"y_test is empty"):
        data.load_mnist(path=path)


# ---------------------------------------------------------------- 5. seeds


def _seeded_calls(x_flat, tmp_path, write_npz):
    write_npz(tmp_path / "mnist.npz")
    decoder = aebook.build_vae(input_dim=16, hidden_dims=(), latent_dim=2).decoder
    return {
        "build_denoising_autoencoder": lambda s: aebook.build_denoising_autoencoder(seed=s),
        "build_vae": lambda s: aebook.build_vae(seed=s),
        "build_conditional_vae": lambda s: aebook.build_conditional_vae(seed=s),
        "Corruption": lambda s: layers.Corruption(seed=s),
        "Sampling": lambda s: layers.Sampling(seed=s),
        "corrupt": lambda s: data.corrupt(x_flat[:2], seed=s),
        "load_mnist": lambda s: data.load_mnist(path=tmp_path / "mnist.npz",
                                                validation_split=0.5, seed=s),
        "DynamicBinarization": lambda s: data.DynamicBinarization(x_flat[:4], seed=s),
        "sample_prior": lambda s: models.sample_prior(decoder, 2, seed=s),
        "make_anomalous_signal": lambda s: anomaly.make_anomalous_signal(100, seed=s),
    }


SEEDED = ["build_denoising_autoencoder", "build_vae", "build_conditional_vae", "Corruption",
          "Sampling", "corrupt", "load_mnist", "DynamicBinarization", "sample_prior",
          "make_anomalous_signal"]


@pytest.mark.parametrize("name", SEEDED)
@pytest.mark.parametrize("seed", [2**31, 2**32 + 5, np.int64(2**40), -1])
def test_seeds_outside_int32_are_rejected_naming_seed(name, seed, x_flat, tmp_path, write_npz):
    call = _seeded_calls(x_flat, tmp_path, write_npz)[name]
    with pytest.raises(ValueError, match=r"^seed must be (None or )?an int in \[0, 2\*\*31 - 1"):
        call(seed)


def test_the_largest_seed_works(x_flat):
    layer = layers.Corruption("gaussian", 0.1, seed=2**31 - 1)
    out = keras.ops.convert_to_numpy(layer(x_flat[:2], training=True))
    assert out.shape == x_flat[:2].shape
    assert data.corrupt(x_flat[:2], seed=2**31 - 1).shape == x_flat[:2].shape


# ---------------------------------------------------------------- 6. inf and nan


NON_FINITE_CALLS = {
    "beta": lambda b: aebook.build_vae(beta=b),
    "cvae beta": lambda b: aebook.build_conditional_vae(beta=b),
    "sparsity_weight": lambda b: aebook.build_sparse_autoencoder(sparsity_weight=b),
    "contractive_weight": lambda b: aebook.build_contractive_autoencoder(contractive_weight=b),
    "builder level": lambda b: aebook.build_denoising_autoencoder(level=b),
    "level": lambda b: data.corrupt(np.zeros((2, 4), "float32"), "gaussian", b),
    "blur level": lambda b: data.corrupt(np.zeros((2, 4), "float32"), "blur", b),
    "layer level": lambda b: layers.Corruption("gaussian", b),
    "KLDivergence beta": lambda b: layers.KLDivergence(b),
    "weight": lambda b: layers.L1Sparsity(b),
    "beta_end": lambda b: callbacks.KLAnnealing(beta_end=b),
    "k": lambda b: anomaly.mean_std_threshold(np.arange(5.0), k=b),
    "q": lambda b: anomaly.percentile_threshold(np.arange(5.0), q=b),
    "sigma": lambda b: metrics.code_sensitivity(None, np.zeros((2, 4)), sigma=b),
}


@pytest.mark.parametrize("name", list(NON_FINITE_CALLS))
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, np.float32("inf")])
def test_inf_and_nan_hyperparameters_are_rejected(name, value):
    argument = name.split()[-1]
    with pytest.raises(ValueError, match=rf"^{argument} must be "):
        NON_FINITE_CALLS[name](value)


def test_non_finite_message_says_finite():
    with pytest.raises(ValueError, match=r"^beta must be a non-negative float \(finite, not inf "
                                         r"or nan\)\. Received: beta=inf$"):
        aebook.build_vae(beta=math.inf)


# ---------------------------------------------------------------- 7. plotting


def test_plot_reconstructions_with_fewer_images_than_n(x_flat):
    fig = plotting.plot_reconstructions(x_flat[:3], x_flat[:3], n=10)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 3
    fig = plotting.plot_image_rows([x_flat[:5], x_flat[:2]], n=10)
    assert len(fig.axes) == 2 * 2  # every row shows as many as the shortest holds


def test_plot_image_rows_rejects_an_empty_row(x_flat):
    with pytest.raises(ValueError, match=r"^rows\[1\] must be a non-empty array"):
        plotting.plot_image_rows([x_flat[:3], x_flat[:0]])


def test_plot_image_grid_shows_colour_images_from_the_conv_builder():
    parts = aebook.build_conv_autoencoder(input_shape=(16, 16, 3), filters=(4,))
    x = np.random.default_rng(0).random((5, 16, 16, 3)).astype("float32")
    images = parts.autoencoder.predict(x, verbose=0)
    fig = plotting.plot_image_grid(images, ncols=3)
    canvas = fig.axes[0].images[0].get_array()
    assert canvas.shape == (2 * 16, 3 * 16, 3)
    np.testing.assert_allclose(canvas[:16, 16:32], images[1], rtol=1e-6)
    np.testing.assert_array_equal(canvas[16:, 32:], 1.0)  # the empty cell stays white
    fig = plotting.plot_image_grid(x.reshape(5, -1), ncols=5, image_shape=(16, 16))  # flat RGB
    assert fig.axes[0].images[0].get_array().shape == (16, 5 * 16, 3)
    fig = plotting.plot_reconstructions(x, images, n=4)
    assert fig.axes[0].images[0].get_array().shape == (16, 16, 3)


def test_plots_reject_0_255_pixels(pixels):
    with pytest.raises(ValueError, match=r"^images must be a float array on the scale \[0, 1\]"):
        plotting.plot_image_grid(pixels)
    with pytest.raises(ValueError, match=r"^rows\[0\] must be a float array"):
        plotting.plot_reconstructions(pixels, pixels)


def test_plot_image_grid_still_shows_grey_images(images):
    fig = plotting.plot_image_grid(images[:4, :, :, None], ncols=2)  # (N, 28, 28, 1)
    assert fig.axes[0].images[0].get_array().shape == (56, 56)
    with pytest.raises(ValueError, match="image_shape"):
        plotting.plot_image_grid(images[:4], image_shape=(10, 10))

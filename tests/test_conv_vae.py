"""build_conv_vae: shapes, parameter counts, training, saving, errors, and the VAE metrics
on image-shaped inputs."""

import keras
import numpy as np
import pytest

from aebook import losses
from aebook.metrics import iwae_negative_log_likelihood, vae_elbo_terms, vae_negative_elbo
from aebook.models import build_conv_vae, sample_prior

SMALL = {"filters": (4, 8), "latent_dim": 3}


@pytest.fixture(scope="module")
def x_bin_img(x_binary):
    """(256, 28, 28, 1) binarized images."""
    return x_binary.reshape(-1, 28, 28, 1)


def test_shapes_and_names(x_bin_img):
    enc, dec, vae = build_conv_vae(**SMALL, seed=0)
    assert (enc.name, dec.name, vae.name) == ("encoder", "decoder", "conv_vae")
    assert [type(layer).__name__ for layer in vae.layers] == [
        "InputLayer", "Functional", "KLDivergence", "Sampling", "Functional"]
    z_mean, z_log_var = enc.predict(x_bin_img[:8], verbose=0)
    assert z_mean.shape == z_log_var.shape == (8, 3)
    mean_image = dec.predict(z_mean, verbose=0)
    assert mean_image.shape == (8, 28, 28, 1)
    out = vae.predict(x_bin_img[:8], verbose=0)
    assert out.shape == (8, 28, 28, 1) and 0 <= out.min() and out.max() <= 1
    assert dec.get_layer("reconstruction").activation.__name__ == "sigmoid"
    # the encoder halves height and width once per filter: 28 -> 14 -> 7
    assert enc.get_layer("encoder_conv_1").output.shape[1:] == (7, 7, 8)
    assert sample_prior(dec, 5, seed=0).shape == (5, 28, 28, 1)


def test_other_input_shapes_and_depths():
    enc, dec, vae = build_conv_vae(input_shape=(32, 32, 3), filters=(4, 4, 8), latent_dim=5)
    assert enc.output_shape == [(None, 5), (None, 5)]
    assert vae.input_shape == vae.output_shape == (None, 32, 32, 3)
    assert enc.get_layer("encoder_conv_2").output.shape[1:] == (4, 4, 8)


def test_parameter_count_by_hand():
    latent, f1, f2 = 16, 32, 64
    enc, dec, vae = build_conv_vae(filters=(f1, f2), latent_dim=latent)
    # encoder: two 3x3 convs, stride 2 (28 -> 14 -> 7), then two Dense heads on 7*7*f2
    conv0 = 3 * 3 * 1 * f1 + f1                      # 320
    conv1 = 3 * 3 * f1 * f2 + f2                     # 18,496
    heads = 2 * (7 * 7 * f2 * latent + latent)       # 2 * 50,192
    # decoder: Dense to 7*7*f2, two 3x3 transposed convs (f2 -> f2 -> f1), a 3x3 conv to 1
    dense = latent * 7 * 7 * f2 + 7 * 7 * f2         # 53,312
    deconv0 = 3 * 3 * f2 * f2 + f2                   # 36,928
    deconv1 = 3 * 3 * f2 * f1 + f1                   # 18,464
    out = 3 * 3 * f1 * 1 + 1                         # 289
    assert enc.count_params() == conv0 + conv1 + heads == 119_200
    assert dec.count_params() == dense + deconv0 + deconv1 + out == 108_993
    assert vae.count_params() == 119_200 + 108_993 + 1  # + KLDivergence's non-trainable beta
    # the closed forms of the docstring
    assert enc.count_params() == 10 * f1 + (9 * f1 + 1) * f2 + 2 * (49 * f2 + 1) * latent
    assert dec.count_params() == ((latent + 1) * 49 * f2 + (9 * f2 + 1) * f2
                                  + (9 * f2 + 1) * f1 + 9 * f1 + 1)


def test_beta_and_seed_reach_the_layers():
    _, _, vae = build_conv_vae(**SMALL, beta=2.5, seed=11)
    assert vae.get_layer("sampling").seed == 11
    assert float(keras.ops.convert_to_numpy(vae.get_layer("kl_divergence").beta)) == 2.5


def test_one_step_lowers_the_loss(x_bin_img):
    x = x_bin_img[:64]
    keras.utils.set_random_seed(0)
    enc, dec, vae = build_conv_vae(**SMALL, seed=1)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2), loss=losses.sum_binary_crossentropy)

    def loss():  # Sampling draws at inference too: average a few evaluations
        return np.mean([vae.evaluate(x, x, batch_size=len(x), verbose=0) for _ in range(3)])

    before = loss()
    weights = [np.array(w) for w in vae.trainable_weights]
    vae.train_on_batch(x, x)
    after = loss()
    assert all(not np.array_equal(old, np.array(new))
               for old, new in zip(weights, vae.trainable_weights, strict=True))
    assert after < before - 1.0, (before, after)  # measured: 545.3 -> 540.4


def test_loss_is_the_negative_elbo(x_bin_img):
    """With beta = 1 Keras's loss and vae_negative_elbo estimate the same number."""
    x = x_bin_img[:128]
    enc, dec, vae = build_conv_vae(**SMALL, seed=2)
    vae.compile(optimizer="adam", loss=losses.sum_binary_crossentropy)
    keras_loss = np.mean([vae.evaluate(x, x, batch_size=len(x), verbose=0) for _ in range(5)])
    ours = vae_negative_elbo(enc, dec, x, n_samples=5, seed=0).mean()
    assert ours == pytest.approx(keras_loss, rel=0.01), (ours, keras_loss)


def _flat_twins(enc, dec, shape):
    """The same encoder and decoder, on flat vectors instead of images."""
    flat_in = keras.Input((int(np.prod(shape)),))
    flat_enc = keras.Model(flat_in, enc(keras.layers.Reshape(shape)(flat_in)))
    z = keras.Input(dec.input_shape[1:])
    flat_dec = keras.Model(z, keras.layers.Flatten()(dec(z)))
    return flat_enc, flat_dec


def test_vae_metrics_take_images(x_bin_img):
    """On images, the metrics give exactly what they give on the same model and data, flat."""
    x = x_bin_img[:40]
    enc, dec, _ = build_conv_vae(**SMALL, seed=0)
    flat_enc, flat_dec = _flat_twins(enc, dec, (28, 28, 1))
    x_flat = x.reshape(len(x), -1)

    elbo = vae_negative_elbo(enc, dec, x, n_samples=2, seed=3)
    assert elbo.shape == (40,) and np.all(np.isfinite(elbo)) and np.all(elbo > 0)
    np.testing.assert_allclose(elbo, vae_negative_elbo(flat_enc, flat_dec, x_flat, n_samples=2,
                                                       seed=3), rtol=1e-6)

    rec, kl = vae_elbo_terms(enc, dec, x, n_samples=2, seed=3)
    np.testing.assert_allclose(rec + kl, elbo, rtol=1e-6)
    assert np.all(kl >= 0)

    iwae = iwae_negative_log_likelihood(enc, dec, x, k=8, seed=4, batch_size=64)
    assert iwae.shape == (40,) and np.all(np.isfinite(iwae))
    np.testing.assert_allclose(iwae, iwae_negative_log_likelihood(
        flat_enc, flat_dec, x_flat, k=8, seed=4, batch_size=64), rtol=1e-6)


def test_negative_elbo_by_hand(x_bin_img):
    """Known answer: one sampled code per image, Bernoulli log-likelihood plus closed-form KL."""
    x = x_bin_img[:16]
    enc, dec, _ = build_conv_vae(**SMALL, seed=0)
    mean, log_var = (a.astype("float64") for a in enc.predict(x, verbose=0))
    z = mean + np.exp(0.5 * log_var) * np.random.default_rng(5).standard_normal(mean.shape)
    p = np.clip(dec.predict(z.astype("float32"), verbose=0).astype("float64"), 1e-7, 1 - 1e-7)
    rec = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    kl = -0.5 * np.sum(1 + log_var - mean**2 - np.exp(log_var), axis=1)
    np.testing.assert_allclose(vae_negative_elbo(enc, dec, x, seed=5), rec + kl, rtol=1e-5)


LOAD_SCRIPT = r"""
import sys
import numpy as np
import aebook  # registers aebook's layers and losses
import keras

folder = sys.argv[1] if len(sys.argv) > 1 else __FOLDER__
model = keras.saving.load_model(f"{folder}/conv_vae.keras")
x = np.load(f"{folder}/x.npy")
z_mean, z_log_var = model.get_layer("encoder").predict(x, batch_size=len(x), verbose=0)
np.save(f"{folder}/z_mean_loaded.npy", z_mean)
np.save(f"{folder}/z_log_var_loaded.npy", z_log_var)
np.save(f"{folder}/mean_image_loaded.npy",
        model.get_layer("decoder").predict(z_mean, batch_size=len(x), verbose=0))
np.save(f"{folder}/pred_loaded.npy", model.predict(x, batch_size=len(x), verbose=0))
print(model.name, model.get_layer("sampling").seed, getattr(model.loss, "__name__", model.loss))
"""


def test_saves_and_loads_in_a_fresh_process(tmp_path, run_python, x_bin_img):
    x = x_bin_img[:16]
    enc, dec, vae = build_conv_vae(**SMALL, beta=1.5, seed=7)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2), loss=losses.sum_binary_crossentropy)
    vae.train_on_batch(x, x)  # weights away from their initial values
    vae.save(tmp_path / "conv_vae.keras")
    np.save(tmp_path / "x.npy", x)
    z_mean, z_log_var = enc.predict(x, batch_size=len(x), verbose=0)
    mean_image = dec.predict(z_mean, batch_size=len(x), verbose=0)

    out = run_python(LOAD_SCRIPT.replace("__FOLDER__", repr(str(tmp_path))))
    assert out.strip().splitlines()[-1] == "conv_vae 7 sum_binary_crossentropy"
    np.testing.assert_array_equal(np.load(tmp_path / "z_mean_loaded.npy"), z_mean)
    np.testing.assert_array_equal(np.load(tmp_path / "z_log_var_loaded.npy"), z_log_var)
    np.testing.assert_array_equal(np.load(tmp_path / "mean_image_loaded.npy"), mean_image)
    # Sampling restarts from its seed when loaded, so the first prediction after a load
    # (sampled codes included) is the same in both processes.
    reloaded = keras.saving.load_model(tmp_path / "conv_vae.keras")
    np.testing.assert_array_equal(np.load(tmp_path / "pred_loaded.npy"),
                                  reloaded.predict(x, batch_size=len(x), verbose=0))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"latent_dim": 0}, "latent_dim must be a positive int. Received: latent_dim=0"),
    ({"latent_dim": None}, "latent_dim must be a positive int. Received: latent_dim=None"),
    ({"filters": ()}, "filters must be a list or tuple of positive ints (not empty). "
                      "Received: filters=()"),
    ({"filters": (4, 0)}, "filters must be a list or tuple of positive ints. "
                          "Received: filters=(4, 0)"),
    ({"input_shape": (28, 28)}, "input_shape must be a shape with 3 dimensions. "
                                "Received: input_shape=(28, 28)"),
    ({"input_shape": (30, 30, 1)}, "input_shape height and width must be divisible by "
                                   "2**len(filters)=4"),
    ({"kernel_size": 0}, "kernel_size must be a positive int. Received: kernel_size=0"),
    ({"activation": "nope"}, "activation must be"),
    ({"beta": -1.0}, "beta must be a non-negative"),
    ({"seed": -1}, "seed must be None or an int in [0, 2**31 - 1"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError) as info:
        build_conv_vae(**{**SMALL, **kwargs})
    assert message in str(info.value)

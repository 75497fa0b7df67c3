"""`compose_vae(encoder, decoder)`: any encoder of [z_mean, z_log_var] and any decoder
of the latent space become a VAE; `build_vae` and `build_conditional_vae` use it."""

import json

import keras
import numpy as np
import pytest

import aebook
from aebook import layers as L
from aebook import losses
from aebook.models import compose_vae

LATENT = 2


def conv_pair(latent_dim=LATENT):
    """A small convolutional encoder (8x8x1 -> [z_mean, z_log_var]) and decoder."""
    x = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="enc_conv")(x)
    h = keras.layers.Flatten(name="enc_flat")(h)
    encoder = keras.Model(x, [keras.layers.Dense(latent_dim, name="z_mean")(h),
                              keras.layers.Dense(latent_dim, name="z_log_var")(h)],
                          name="conv_encoder")
    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(4 * 4 * 4, activation="relu", name="dec_dense")(z)
    h = keras.layers.Reshape((4, 4, 4), name="dec_reshape")(h)
    out = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid",
                                       name="dec_deconv")(h)
    return encoder, keras.Model(z, out, name="conv_decoder")


@pytest.fixture(scope="module")
def x8(images):
    """(64, 8, 8, 1) float32 images in [0, 1], subsampled from the shared fixture."""
    return np.ascontiguousarray(images[:64, 2:26:3, 2:26:3, None])


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


def test_composed_conv_vae_has_the_vae_structure():
    encoder, decoder = conv_pair()
    vae = compose_vae(encoder, decoder, beta=2.0, seed=3, name="conv_vae")
    assert vae.name == "conv_vae"
    assert [type(layer).__name__ for layer in vae.layers] == [
        "InputLayer", "Functional", "KLDivergence", "Sampling", "Functional"]
    assert vae.input_shape == (None, 8, 8, 1) and vae.output_shape == (None, 8, 8, 1)
    assert vae.inputs[0].name == "image"  # the encoder's input name is kept
    # + 1: KLDivergence's non-trainable beta, a variable so that it can be annealed
    assert vae.count_params() == encoder.count_params() + decoder.count_params() + 1
    assert vae.get_layer("sampling").seed == 3


def test_composed_vae_adds_beta_times_the_gaussian_kl(x8):
    encoder, decoder = conv_pair()
    beta = 2.5
    vae = compose_vae(encoder, decoder, beta=beta, seed=0)
    vae(x8[:8])
    (added,) = vae.losses
    z_mean, z_log_var = (np.asarray(t, "float64") for t in encoder.predict(x8[:8], verbose=0))
    kl = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)
    assert float(keras.ops.convert_to_numpy(added)) == pytest.approx(beta * kl.mean(), rel=1e-5)


def test_composed_conv_vae_trains_and_its_loss_goes_down(x8):
    encoder, decoder = conv_pair()
    vae = compose_vae(encoder, decoder, seed=3, name="conv_vae")
    vae.compile(optimizer=keras.optimizers.Adam(1e-2), loss=losses.sum_binary_crossentropy)

    def loss():  # Sampling draws at inference too: average a few evaluations
        return np.mean([vae.evaluate(x8, x8, batch_size=len(x8), verbose=0) for _ in range(3)])

    before = loss()
    enc_before, dec_before = _weights(encoder), _weights(decoder)
    vae.train_on_batch(x8, x8)  # one step
    after_one = loss()
    for old, new in zip(enc_before + dec_before, _weights(encoder) + _weights(decoder),
                        strict=True):
        assert not np.array_equal(old, new)  # gradients reach both parts (through Sampling)
    assert after_one < before - 0.1, (before, after_one)  # measured: 44.34 -> 43.78
    for _ in range(29):
        vae.train_on_batch(x8, x8)
    assert loss() < 0.85 * before  # measured: 44.3 -> 31.2 after 30 steps


LOAD_SCRIPT = r"""
import sys
import numpy as np
import aebook  # registers aebook's layers and losses
import keras

folder = sys.argv[1] if len(sys.argv) > 1 else __FOLDER__
model = keras.saving.load_model(f"{folder}/conv_vae.keras")
x = np.load(f"{folder}/x.npy")
z_mean, z_log_var = model.get_layer("conv_encoder").predict(x, batch_size=len(x), verbose=0)
np.save(f"{folder}/z_mean_loaded.npy", z_mean)
np.save(f"{folder}/z_log_var_loaded.npy", z_log_var)
np.save(f"{folder}/mean_recon_loaded.npy",
        model.get_layer("conv_decoder").predict(z_mean, batch_size=len(x), verbose=0))
np.save(f"{folder}/pred_loaded.npy", model.predict(x, batch_size=len(x), verbose=0))
print(model.name, [type(layer).__name__ for layer in model.layers],
      model.get_layer("sampling").seed, getattr(model.loss, "__name__", str(model.loss)))
"""


def test_composed_vae_saves_and_loads_in_a_fresh_process(tmp_path, run_python, x8):
    encoder, decoder = conv_pair()
    vae = compose_vae(encoder, decoder, beta=1.5, seed=7, name="conv_vae")
    vae.compile(optimizer=keras.optimizers.Adam(1e-2), loss=losses.sum_binary_crossentropy)
    x = x8[:16]
    vae.train_on_batch(x, x)  # weights away from their initial values
    vae.save(tmp_path / "conv_vae.keras")
    np.save(tmp_path / "x.npy", x)
    z_mean, z_log_var = encoder.predict(x, batch_size=len(x), verbose=0)
    mean_recon = decoder.predict(z_mean, batch_size=len(x), verbose=0)

    out = run_python(LOAD_SCRIPT.replace("__FOLDER__", repr(str(tmp_path))))
    assert out.strip().splitlines()[-1] == (
        "conv_vae ['InputLayer', 'Functional', 'KLDivergence', 'Sampling', 'Functional'] 7 "
        "sum_binary_crossentropy")
    # The deterministic paths are bit-identical to the model that was saved.
    np.testing.assert_array_equal(np.load(tmp_path / "z_mean_loaded.npy"), z_mean)
    np.testing.assert_array_equal(np.load(tmp_path / "z_log_var_loaded.npy"), z_log_var)
    np.testing.assert_array_equal(np.load(tmp_path / "mean_recon_loaded.npy"), mean_recon)
    # Sampling's generator restarts from its seed when loaded (Keras does not save its
    # state), so the full model's first prediction after a load is reproducible too.
    reloaded = keras.saving.load_model(tmp_path / "conv_vae.keras")
    np.testing.assert_array_equal(np.load(tmp_path / "pred_loaded.npy"),
                                  reloaded.predict(x, batch_size=len(x), verbose=0))


# ---------------------------------------------------------------- build_vae and the cvae on it


def _reference_vae(encoder, decoder, input_dim, beta, seed):
    """The autoencoder exactly as `build_vae` wired it before `compose_vae` existed."""
    inputs = keras.Input(shape=(input_dim,), name="x")
    stats = L.KLDivergence(beta, name="kl_divergence")(encoder(inputs))
    z = L.Sampling(seed=seed, name="sampling")(stats)
    return keras.Model(inputs, decoder(z), name="vae")


def _reference_cvae(encoder, decoder, input_dim, num_classes, beta, seed):
    x_in = keras.Input(shape=(input_dim,), name="x")
    y_in = keras.Input(shape=(num_classes,), name="y")
    stats = L.KLDivergence(beta, name="kl_divergence")(encoder([x_in, y_in]))
    z = L.Sampling(seed=seed, name="sampling")(stats)
    return keras.Model([x_in, y_in], decoder([z, y_in]), name="cvae")


def _config(model):
    return json.dumps(model.get_config(), sort_keys=True, default=str)


def test_build_vae_on_compose_vae_is_the_model_it_was():
    encoder, decoder, vae = aebook.build_vae(input_dim=20, hidden_dims=(8,), latent_dim=3,
                                             beta=1.5, seed=4)
    reference = _reference_vae(encoder, decoder, 20, 1.5, 4)
    assert _config(vae) == _config(reference)
    encoder_params = (20 * 8 + 8) + 2 * (8 * 3 + 3)
    decoder_params = (3 * 8 + 8) + (8 * 20 + 20)
    assert vae.count_params() == reference.count_params() == encoder_params + decoder_params + 1


def test_build_conditional_vae_on_compose_vae_is_the_model_it_was():
    encoder, decoder, cvae = aebook.build_conditional_vae(input_dim=20, num_classes=4,
                                                          hidden_dims=(8,), latent_dim=3, seed=2)
    reference = _reference_cvae(encoder, decoder, 20, 4, 1.0, 2)
    assert _config(cvae) == _config(reference)
    assert [t.name for t in cvae.inputs] == ["x", "y"]


def test_compose_vae_with_a_conditioning_input(x8):
    """An encoder [x, c] and a decoder [z, c]: the VAE takes [x, c] and feeds c to both."""
    x_in, c_in = keras.Input((6,), name="x"), keras.Input((3,), name="c")
    h = keras.layers.Concatenate()([x_in, c_in])
    encoder = keras.Model([x_in, c_in], [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    z_in, c_dec = keras.Input((2,)), keras.Input((3,))
    decoder = keras.Model([z_in, c_dec], keras.layers.Dense(6, activation="sigmoid")(
        keras.layers.Concatenate()([z_in, c_dec])))
    vae = compose_vae(encoder, decoder, seed=0, name="cvae")
    assert [t.name for t in vae.inputs] == ["x", "c"]
    x = np.full((4, 6), 0.5, "float32")
    c = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    assert vae.predict([x, c], verbose=0).shape == (4, 6)


# ---------------------------------------------------------------- validation


def _dense_encoder(shapes=((2,), (2,)), input_dim=5):
    x = keras.Input((input_dim,))
    return keras.Model(x, [keras.layers.Reshape(s)(keras.layers.Dense(int(np.prod(s)))(x))
                           for s in shapes])


def _dense_decoder(latent=2, out=5):
    z = keras.Input((latent,))
    return keras.Model(z, keras.layers.Dense(out)(z))


def test_encoder_with_one_output_is_rejected():
    x = keras.Input((5,))
    encoder = keras.Model(x, keras.layers.Dense(2)(x))
    with pytest.raises(ValueError, match=r"^encoder must output \[z_mean, z_log_var\], two tensors "
                                         r"of the same shape \(batch, latent_dim\)\. Received: "
                                         r"encoder with output shapes \[\(None, 2\)\]$"):
        compose_vae(encoder, _dense_decoder())


@pytest.mark.parametrize("shapes", [((2,), (3,)), ((2,), (2,), (2,)), ((2, 2), (2, 2))])
def test_encoder_outputs_must_be_two_equal_flat_codes(shapes):
    with pytest.raises(ValueError, match=r"^encoder must output \[z_mean, z_log_var\].*"
                                         r"Received: encoder with output shapes"):
        compose_vae(_dense_encoder(shapes), _dense_decoder())


def test_decoder_input_must_match_the_latent_shape():
    with pytest.raises(ValueError, match=r"^decoder's inputs must be the latent shape "
                                         r"\(batch, latent_dim\), i\.e\. \[\(None, 2\)\]\. "
                                         r"Received: decoder with input shapes \[\(None, 3\)\]$"):
        compose_vae(_dense_encoder(), _dense_decoder(latent=3))


def test_conditioning_inputs_must_match():
    x_in, c_in = keras.Input((5,)), keras.Input((3,))
    h = keras.layers.Concatenate()([x_in, c_in])
    encoder = keras.Model([x_in, c_in], [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    with pytest.raises(ValueError, match=r"^decoder's inputs must be \[z, \*conditioning inputs\]"):
        compose_vae(encoder, _dense_decoder())  # the decoder ignores c
    z_in, c_dec = keras.Input((2,)), keras.Input((4,))
    decoder = keras.Model([z_in, c_dec], keras.layers.Concatenate()([z_in, c_dec]))
    with pytest.raises(ValueError, match=r"Received: decoder with input shapes "
                                         r"\[\(None, 2\), \(None, 4\)\]"):
        compose_vae(encoder, decoder)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"beta": -1.0}, "beta"), ({"seed": -3}, "seed"), ({"name": ""}, "name"),
    ({"name": 3}, "name")])
def test_bad_keyword_arguments(kwargs, name):
    (key, value), = kwargs.items()
    with pytest.raises(ValueError, match=rf"^{name} must be .*Received: {key}={value!r}$"):
        compose_vae(_dense_encoder(), _dense_decoder(), **kwargs)


def test_models_that_are_not_keras_models_or_have_no_inputs():
    with pytest.raises(ValueError, match=r"^encoder must be a keras\.Model with known inputs"):
        compose_vae(keras.layers.Dense(2), _dense_decoder())

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match=r"^decoder must be a keras\.Model with known inputs.*"
                                         r"build it from keras\.Input"):
        compose_vae(_dense_encoder(), Subclassed())


def test_beta_and_seed_are_keyword_only():
    with pytest.raises(TypeError):
        compose_vae(_dense_encoder(), _dense_decoder(), 1.0)

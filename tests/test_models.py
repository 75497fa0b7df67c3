"""The builders: shapes, names, shared weights, parameter counts, training,
the seed's equations in NumPy, and argument validation."""

import re

import keras
import numpy as np
import pytest

import aebook
from aebook import losses, metrics
from aebook.models import sample_prior

FLAT = (784,)
IMAGE = (28, 28, 1)

# id -> (builder call, autoencoder name, input shape, code shape). Small configurations.
CASES = {
    "vanilla": (lambda: aebook.build_vanilla_autoencoder(input_dim=784, latent_dim=16),
                "vanilla_autoencoder", FLAT, (16,)),
    "deep": (lambda: aebook.build_deep_autoencoder(hidden_dims=(64, 32), latent_dim=8),
             "deep_autoencoder", FLAT, (8,)),
    "conv_transpose": (lambda: aebook.build_conv_autoencoder(filters=(4, 8), upsampling="transpose"),
                       "conv_autoencoder", IMAGE, (7, 7, 8)),
    "conv_upsample": (lambda: aebook.build_conv_autoencoder(filters=(4, 8), upsampling="upsample"),
                      "conv_autoencoder", IMAGE, (7, 7, 8)),
    "conv_transpose_latent": (
        lambda: aebook.build_conv_autoencoder(filters=(4, 8), latent_dim=10, upsampling="transpose"),
        "conv_autoencoder", IMAGE, (10,)),
    "conv_upsample_latent": (
        lambda: aebook.build_conv_autoencoder(filters=(4, 8), latent_dim=10, upsampling="upsample"),
        "conv_autoencoder", IMAGE, (10,)),
    "denoising_dense": (
        lambda: aebook.build_denoising_autoencoder(input_shape=(784,), latent_dim=16, hidden_dims=(64,),
                                                   noise="gaussian", noise_level=0.3, seed=1),
        "denoising_autoencoder", FLAT, (16,)),
    "denoising_conv": (
        lambda: aebook.build_denoising_autoencoder(input_shape=(28, 28, 1), latent_dim=None,
                                                   filters=(4, 8), noise="masking", noise_level=0.3,
                                                   seed=1),
        "denoising_autoencoder", IMAGE, (7, 7, 8)),
    "sparse_kl": (lambda: aebook.build_sparse_autoencoder(latent_dim=64, penalty="kl"),
                  "sparse_autoencoder", FLAT, (64,)),
    "sparse_l1": (lambda: aebook.build_sparse_autoencoder(latent_dim=64, penalty="l1"),
                  "sparse_autoencoder", FLAT, (64,)),
    "sparse_none": (lambda: aebook.build_sparse_autoencoder(latent_dim=64, penalty=None),
                    "sparse_autoencoder", FLAT, (64,)),
    "contractive": (lambda: aebook.build_contractive_autoencoder(latent_dim=16),
                    "contractive_autoencoder", FLAT, (16,)),
}


def _inputs(shape, x_flat, x_img, n):
    return (x_flat if shape == FLAT else x_img)[:n]


def _predict(model, x):
    return model.predict(x, batch_size=len(x), verbose=0)


# ---------------------------------------------------------------- 1. shapes, names, weights


@pytest.mark.parametrize("case", list(CASES))
def test_shapes_names_and_shared_weights(case, x_flat, x_img):
    build, name, in_shape, code_shape = CASES[case]
    parts = build()
    assert isinstance(parts, aebook.AutoencoderParts)
    enc, dec, ae = parts
    assert (enc.name, dec.name, ae.name) == ("encoder", "decoder", name)
    assert enc.input_shape == (None, *in_shape)
    assert enc.output_shape == (None, *code_shape)
    assert dec.input_shape == (None, *code_shape)
    assert dec.output_shape == (None, *in_shape)
    assert ae.input_shape == (None, *in_shape) and ae.output_shape == (None, *in_shape)
    # the autoencoder is built from the very same encoder and decoder objects
    assert ae.get_layer("encoder") is enc and ae.get_layer("decoder") is dec

    x = _inputs(in_shape, x_flat, x_img, 8)
    z = _predict(enc, x)
    x_hat = _predict(ae, x)
    assert z.shape == (8, *code_shape) and x_hat.shape == (8, *in_shape)
    assert np.all((x_hat > 0) & (x_hat < 1))  # sigmoid output
    np.testing.assert_array_equal(x_hat, _predict(dec, z))  # bit-identical

    # and they really share weights: changing the decoder changes the autoencoder
    last = dec.get_layer("reconstruction")
    kernel, bias = last.get_weights()
    last.set_weights([kernel, bias + 1.0])
    assert not np.allclose(_predict(ae, x), x_hat, atol=1e-3)


def test_vae_shapes_names_and_shared_weights(x_binary):
    enc, dec, ae = aebook.build_vae(input_dim=784, hidden_dims=(32,), latent_dim=2, seed=0)
    assert (enc.name, dec.name, ae.name) == ("encoder", "decoder", "vae")
    assert enc.input_shape == (None, 784)
    assert enc.output_shape == [(None, 2), (None, 2)]
    assert dec.input_shape == (None, 2) and dec.output_shape == (None, 784)
    assert ae.input_shape == (None, 784) and ae.output_shape == (None, 784)
    assert ae.get_layer("encoder") is enc and ae.get_layer("decoder") is dec
    assert isinstance(ae.get_layer("kl_divergence"), aebook.layers.KLDivergence)
    assert isinstance(ae.get_layer("sampling"), aebook.layers.Sampling)

    x = x_binary[:8]
    z_mean, z_log_var = _predict(enc, x)
    assert z_mean.shape == z_log_var.shape == (8, 2)
    # the autoencoder samples, so it is not deterministic ...
    out1, out2 = _predict(ae, x), _predict(ae, x)
    assert out1.shape == (8, 784) and not np.array_equal(out1, out2)
    # ... but with a (numerically) zero variance z == z_mean, so ae(x) == dec(enc_mean(x))
    log_var_layer = enc.get_layer("z_log_var")
    kernel, bias = log_var_layer.get_weights()
    log_var_layer.set_weights([np.zeros_like(kernel), np.full_like(bias, -40.0)])
    z_mean, _ = _predict(enc, x)
    np.testing.assert_allclose(_predict(ae, x), _predict(dec, z_mean), rtol=0, atol=1e-6)


@pytest.mark.parametrize("input_shape", [FLAT, IMAGE])
def test_denoising_corrupts_in_front_of_the_encoder_in_training_only(input_shape, x_flat, x_img):
    kwargs = {"hidden_dims": (32,), "latent_dim": 8} if input_shape == FLAT else {
        "filters": (4, 8), "latent_dim": None}
    enc, dec, ae = aebook.build_denoising_autoencoder(input_shape=input_shape, noise="masking",
                                                      noise_level=1.0, seed=0, **kwargs)
    assert [layer.name for layer in ae.layers] == ["x", "corruption", "encoder", "decoder"]
    x = _inputs(input_shape, x_flat, x_img, 4)
    # masking every pixel: in training the encoder sees an all-black image
    trained_view = keras.ops.convert_to_numpy(ae(x, training=True))
    black = _predict(dec, _predict(enc, np.zeros_like(x)))
    np.testing.assert_allclose(trained_view, black, rtol=0, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ae(x, training=False)),
                               _predict(dec, _predict(enc, x)), rtol=0, atol=1e-6)
    assert not np.allclose(trained_view, _predict(ae, x), atol=1e-3)


# ---------------------------------------------------------------- 2. parameter counts by hand


def test_param_count_vanilla():
    parts = aebook.build_vanilla_autoencoder(input_dim=784, latent_dim=32)
    encoder = 784 * 32 + 32
    decoder = 32 * 784 + 784
    assert parts.encoder.count_params() == encoder == 25_120
    assert parts.decoder.count_params() == decoder == 25_872
    assert parts.autoencoder.count_params() == encoder + decoder == 50_992


def test_param_count_deep():
    parts = aebook.build_deep_autoencoder(hidden_dims=(128, 64), latent_dim=32,
                                          latent_activation="relu")
    encoder = (784 * 128 + 128) + (128 * 64 + 64) + (64 * 32 + 32)
    decoder = (32 * 64 + 64) + (64 * 128 + 128) + (128 * 784 + 784)
    assert parts.encoder.count_params() == encoder
    assert parts.decoder.count_params() == decoder
    assert parts.autoencoder.count_params() == encoder + decoder == 222_384


def test_param_count_deep_without_hidden_layers():
    parts = aebook.build_deep_autoencoder(hidden_dims=(), latent_dim=8)
    assert parts.autoencoder.count_params() == (784 * 8 + 8) + (8 * 784 + 784)
    assert [layer.name for layer in parts.encoder.layers] == ["x", "code"]


@pytest.mark.parametrize("upsampling", ["transpose", "upsample"])
def test_param_count_conv_feature_map_code(upsampling):
    parts = aebook.build_conv_autoencoder(filters=(8, 16), upsampling=upsampling)
    # 3x3 kernels: params = 3*3*c_in*c_out + c_out
    encoder = (3 * 3 * 1 * 8 + 8) + (3 * 3 * 8 * 16 + 16)
    # decoder filters reversed: 16 -> 16, 16 -> 8, then 8 -> 1 channel; UpSampling2D has
    # no parameters, so Conv2D after it and Conv2DTranspose count alike
    decoder = (3 * 3 * 16 * 16 + 16) + (3 * 3 * 16 * 8 + 8) + (3 * 3 * 8 * 1 + 1)
    assert parts.encoder.count_params() == encoder == 1_248
    assert parts.decoder.count_params() == decoder == 3_553
    assert parts.autoencoder.count_params() == encoder + decoder


def test_param_count_conv_dense_code():
    parts = aebook.build_conv_autoencoder(filters=(8, 16), latent_dim=10, upsampling="upsample")
    flat = 7 * 7 * 16
    encoder = (3 * 3 * 1 * 8 + 8) + (3 * 3 * 8 * 16 + 16) + (flat * 10 + 10)
    decoder = (10 * flat + flat) + (3 * 3 * 16 * 16 + 16) + (3 * 3 * 16 * 8 + 8) + (3 * 3 * 8 + 1)
    assert parts.encoder.count_params() == encoder
    assert parts.decoder.count_params() == decoder
    assert parts.autoencoder.count_params() == encoder + decoder == 21_275


def test_param_count_denoising():
    parts = aebook.build_denoising_autoencoder(input_shape=(784,), latent_dim=16, hidden_dims=(64,))
    encoder = (784 * 64 + 64) + (64 * 16 + 16)
    decoder = (16 * 64 + 64) + (64 * 784 + 784)
    # the Corruption layer has no weights (its seed state is not a weight)
    assert parts.autoencoder.count_params() == encoder + decoder == 103_328
    conv = aebook.build_denoising_autoencoder(input_shape=(28, 28, 1), latent_dim=None,
                                              filters=(4, 8))
    assert conv.autoencoder.count_params() == (
        (9 * 1 * 4 + 4) + (9 * 4 * 8 + 8) + (9 * 8 * 8 + 8) + (9 * 8 * 4 + 4) + (9 * 4 * 1 + 1))


@pytest.mark.parametrize("penalty", ["kl", "l1", None])
def test_param_count_sparse(penalty):
    parts = aebook.build_sparse_autoencoder(latent_dim=1024, penalty=penalty)
    # the penalty layers have no weights
    assert parts.autoencoder.count_params() == (784 * 1024 + 1024) + (1024 * 784 + 784) == 1_607_440


def test_param_count_vae():
    parts = aebook.build_vae(input_dim=784, hidden_dims=(512,), latent_dim=2)
    encoder = (784 * 512 + 512) + (512 * 2 + 2) + (512 * 2 + 2)  # hidden, z_mean, z_log_var
    decoder = (2 * 512 + 512) + (512 * 784 + 784)
    assert parts.encoder.count_params() == encoder
    assert parts.decoder.count_params() == decoder
    # + 1: the KLDivergence layer's scalar, non-trainable beta
    assert parts.autoencoder.count_params() == encoder + decoder + 1 == 807_701
    trainable = sum(int(np.prod(w.shape)) for w in parts.autoencoder.trainable_weights)
    assert trainable == encoder + decoder


def test_param_count_contractive():
    parts = aebook.build_contractive_autoencoder(input_dim=784, latent_dim=64)
    assert parts.autoencoder.count_params() == (784 * 64 + 64) + (64 * 784 + 784) == 101_200


# ---------------------------------------------------------------- 3. one step lowers the loss


@pytest.mark.parametrize("case", ["vanilla", "deep", "conv_transpose", "conv_upsample_latent",
                                  "denoising_dense", "denoising_conv", "sparse_kl", "sparse_l1",
                                  "sparse_none", "contractive"])
def test_one_training_step_lowers_the_loss(case, x_flat, x_img):
    build, _, in_shape, _ = CASES[case]
    ae = build().autoencoder
    ae.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    x = _inputs(in_shape, x_flat, x_img, 64)
    # evaluate() runs with training=False: for the denoising models the Corruption layer
    # is the identity there, so this is the clean loss, while train_on_batch corrupts x.
    before = ae.evaluate(x, x, batch_size=64, verbose=0)
    ae.train_on_batch(x, x)
    after = ae.evaluate(x, x, batch_size=64, verbose=0)
    assert np.isfinite(before) and after < before


def test_one_training_step_lowers_the_vae_negative_elbo(x_binary):
    enc, dec, ae = aebook.build_vae(input_dim=784, hidden_dims=(32,), latent_dim=2, seed=0)
    ae.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses.sum_binary_crossentropy)
    x = x_binary[:64]
    # The training loss is stochastic (Sampling layer). Score before and after with the
    # same NumPy draws (common random numbers), so the difference is the step's effect.
    before = metrics.vae_negative_elbo(enc, dec, x, n_samples=4, seed=123).mean()
    ae.train_on_batch(x, x)
    after = metrics.vae_negative_elbo(enc, dec, x, n_samples=4, seed=123).mean()
    assert np.isfinite(before) and after < before


# ---------------------------------------------------------------- the regularizers are in the loss


def _bce(x, p):
    p = np.clip(p.astype("float64"), 1e-7, 1 - 1e-7)
    return -(x * np.log(p) + (1 - x) * np.log(1 - p))


@pytest.mark.parametrize("penalty", ["kl", "l1"])
def test_sparse_penalty_is_added_to_the_loss(penalty, batch):
    weight, target = 0.1, 0.05
    enc, _, ae = aebook.build_sparse_autoencoder(latent_dim=64, penalty=penalty,
                                                 sparsity_weight=weight, target=target)
    ae.compile(optimizer="adam", loss="binary_crossentropy")
    x = batch
    loss = ae.evaluate(x, x, batch_size=len(x), verbose=0)
    h = _predict(enc, x).astype("float64")
    reconstruction = _bce(x, _predict(ae, x)).mean()
    if penalty == "l1":
        expected = weight * np.abs(h).sum(axis=1).mean()
    else:
        rho = h.mean(axis=0)
        expected = weight * np.sum(target * np.log(target / rho)
                                   + (1 - target) * np.log((1 - target) / (1 - rho)))
    assert expected > 0.01  # the penalty is large enough to be seen
    np.testing.assert_allclose(loss - reconstruction, expected, rtol=1e-4)


def test_contractive_penalty_is_added_to_the_loss(batch):
    weight = 0.5
    enc, _, ae = aebook.build_contractive_autoencoder(latent_dim=16, contractive_weight=weight)
    ae.compile(optimizer="adam", loss="mse")
    x = batch
    loss = ae.evaluate(x, x, batch_size=len(x), verbose=0)
    h = _predict(enc, x).astype("float64")
    w = enc.get_layer("code").get_weights()[0].astype("float64")
    # ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ij^2 for a sigmoid code
    jac = ((h * (1 - h)) ** 2 * (w**2).sum(axis=0)).sum(axis=1)
    mse = ((x - _predict(ae, x)) ** 2).mean()
    assert weight * jac.mean() > 0.01
    np.testing.assert_allclose(loss - mse, weight * jac.mean(), rtol=1e-4)


def test_vae_loss_is_the_beta_weighted_negative_elbo(x_binary):
    beta = 0.5
    enc, dec, ae = aebook.build_vae(input_dim=784, hidden_dims=(32,), latent_dim=2, beta=beta,
                                    seed=0)
    ae.compile(optimizer="adam", loss=losses.sum_binary_crossentropy)
    # log_var = -40 makes the sample equal the mean (sigma = 2e-9), so the loss is exact
    layer = enc.get_layer("z_log_var")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.full_like(bias, -40.0)])
    x = x_binary[:32]
    loss = ae.evaluate(x, x, batch_size=len(x), verbose=0)
    z_mean, z_log_var = (a.astype("float64") for a in _predict(enc, x))
    np.testing.assert_allclose(z_log_var, -40.0)
    reconstruction = _bce(x, _predict(dec, z_mean.astype("float32"))).sum(axis=1)
    kl = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)  # ~ 39 + |m|^2/2
    np.testing.assert_allclose(loss, reconstruction.mean() + beta * kl.mean(), rtol=1e-5)


def test_sample_prior_decodes_seeded_standard_normal_codes():
    _, dec, _ = aebook.build_vae(input_dim=784, hidden_dims=(16,), latent_dim=2)
    samples = sample_prior(dec, 5, seed=7)
    z = np.random.default_rng(7).standard_normal((5, 2)).astype("float32")
    np.testing.assert_allclose(samples, _predict(dec, z), rtol=0, atol=1e-6)
    assert samples.shape == (5, 784) and np.all((samples > 0) & (samples < 1))
    assert not np.allclose(sample_prior(dec, 5, seed=8), samples)
    with pytest.raises(ValueError, match="n must be a positive int"):
        sample_prior(dec, 0)


# ---------------------------------------------------------------- 6. the seed's equations


def _relu(a):
    return np.maximum(a, 0.0)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _train(ae, x, steps=3):
    ae.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    for _ in range(steps):
        ae.train_on_batch(x, x)


def test_vanilla_autoencoder_is_the_seed_equations(batch):
    enc, dec, ae = aebook.build_vanilla_autoencoder(latent_dim=16)
    _train(ae, batch)
    w1, b1 = (a.astype("float64") for a in enc.get_layer("code").get_weights())
    w2, b2 = (a.astype("float64") for a in dec.get_layer("reconstruction").get_weights())
    assert np.abs(b1).max() > 0 and np.abs(b2).max() > 0  # trained: biases moved off zero
    x = batch.astype("float64")
    z = _relu(x @ w1 + b1)             # Z = relu(X W1 + b1)
    x_prime = _sigmoid(z @ w2 + b2)    # X' = sigmoid(Z W2 + b2)
    np.testing.assert_allclose(_predict(enc, batch), z, rtol=0, atol=1e-5)
    np.testing.assert_allclose(_predict(ae, batch), x_prime, rtol=0, atol=1e-5)


def test_deep_autoencoder_layer_by_layer(batch):
    enc, dec, ae = aebook.build_deep_autoencoder(hidden_dims=(64, 32), latent_dim=8)
    _train(ae, batch)

    def dense(model, name, a, f):
        w, b = (t.astype("float64") for t in model.get_layer(name).get_weights())
        return f(a @ w + b)

    h = batch.astype("float64")
    h = dense(enc, "encoder_dense_0", h, _relu)
    h = dense(enc, "encoder_dense_1", h, _relu)
    z = dense(enc, "code", h, lambda a: a)  # linear code layer
    h = dense(dec, "decoder_dense_0", z, _relu)
    h = dense(dec, "decoder_dense_1", h, _relu)
    x_prime = dense(dec, "reconstruction", h, _sigmoid)
    assert dec.get_layer("decoder_dense_0").get_weights()[0].shape == (8, 32)  # mirrored
    assert dec.get_layer("decoder_dense_1").get_weights()[0].shape == (32, 64)
    assert z.min() < 0  # linear: negative codes survive
    np.testing.assert_allclose(_predict(enc, batch), z, rtol=0, atol=1e-5)
    np.testing.assert_allclose(_predict(ae, batch), x_prime, rtol=0, atol=1e-5)


# ---------------------------------------------------------------- 5. argument validation


def test_exact_keras_style_message():
    with pytest.raises(ValueError) as info:
        aebook.build_vanilla_autoencoder(latent_dim=0)
    assert str(info.value) == "latent_dim must be a positive int. Received: latent_dim=0"


LATENT_BUILDERS = {
    "vanilla": aebook.build_vanilla_autoencoder,
    "deep": aebook.build_deep_autoencoder,
    "conv": aebook.build_conv_autoencoder,
    "denoising": aebook.build_denoising_autoencoder,
    "sparse": aebook.build_sparse_autoencoder,
    "vae": aebook.build_vae,
    "contractive": aebook.build_contractive_autoencoder,
}


@pytest.mark.parametrize("builder", list(LATENT_BUILDERS))
@pytest.mark.parametrize("value", [0, -1, 2.5, True, "8"])
def test_bad_latent_dim(builder, value):
    with pytest.raises(ValueError, match=r"latent_dim must be a positive int\. Received: latent_dim="):
        LATENT_BUILDERS[builder](latent_dim=value)


B = aebook
BAD_ARGUMENTS = [
    # (builder, kwargs, name expected in the message)
    (B.build_vanilla_autoencoder, {"input_dim": 0}, "input_dim"),
    (B.build_vanilla_autoencoder, {"activation": "sigmoidal"}, "activation"),
    (B.build_vanilla_autoencoder, {"output_activation": None}, "output_activation"),
    (B.build_deep_autoencoder, {"hidden_dims": [0]}, "hidden_dims"),
    (B.build_deep_autoencoder, {"hidden_dims": "abc"}, "hidden_dims"),
    (B.build_deep_autoencoder, {"hidden_dims": (64, 2.5)}, "hidden_dims"),
    (B.build_deep_autoencoder, {"hidden_dims": 64}, "hidden_dims"),
    (B.build_deep_autoencoder, {"latent_activation": "bad"}, "latent_activation"),
    (B.build_conv_autoencoder, {"filters": ()}, "filters"),
    (B.build_conv_autoencoder, {"filters": [0, 8]}, "filters"),
    (B.build_conv_autoencoder, {"input_shape": (30, 30, 1), "filters": (4, 8)}, "input_shape"),
    (B.build_conv_autoencoder, {"input_shape": (28, 28, 1), "filters": (4, 8, 16)}, "input_shape"),
    (B.build_conv_autoencoder, {"input_shape": (28, 28)}, "input_shape"),
    (B.build_conv_autoencoder, {"upsampling": "bilinear"}, "upsampling"),
    (B.build_conv_autoencoder, {"kernel_size": 0}, "kernel_size"),
    (B.build_conv_autoencoder, {"activation": "bad"}, "activation"),
    (B.build_denoising_autoencoder, {"noise": "speckle"}, "noise"),
    (B.build_denoising_autoencoder, {"noise": "gaussian", "noise_level": -0.1}, "noise_level"),
    (B.build_denoising_autoencoder, {"noise": "masking", "noise_level": 1.5}, "noise_level"),
    (B.build_denoising_autoencoder, {"noise": "salt_and_pepper", "noise_level": "0.1"},
     "noise_level"),
    (B.build_denoising_autoencoder, {"input_shape": (28, 28)}, "input_shape"),
    (B.build_denoising_autoencoder, {"input_shape": (30, 30, 1)}, "input_shape"),
    (B.build_denoising_autoencoder, {"hidden_dims": "abc"}, "hidden_dims"),
    (B.build_denoising_autoencoder, {"seed": 1.5}, "seed"),
    (B.build_denoising_autoencoder, {"input_shape": (784,), "latent_dim": None}, "latent_dim"),
    (B.build_denoising_autoencoder, {"input_shape": (28, 28, 1), "upsampling": "x"}, "upsampling"),
    (B.build_sparse_autoencoder, {"penalty": "l2"}, "penalty"),
    (B.build_sparse_autoencoder, {"penalty": "kl", "activation": "relu"}, "activation"),
    (B.build_sparse_autoencoder, {"target": 0.0}, "target"),
    (B.build_sparse_autoencoder, {"target": 1.0}, "target"),
    (B.build_sparse_autoencoder, {"sparsity_weight": -1}, "sparsity_weight"),
    (B.build_vae, {"beta": -1}, "beta"),
    (B.build_vae, {"hidden_dims": [0]}, "hidden_dims"),
    (B.build_vae, {"seed": "1"}, "seed"),
    (B.build_vae, {"activation": "bad"}, "activation"),
    (B.build_vae, {"input_dim": -5}, "input_dim"),
    (B.build_contractive_autoencoder, {"activation": "elu"}, "activation"),
    (B.build_contractive_autoencoder, {"contractive_weight": -1}, "contractive_weight"),
]


@pytest.mark.parametrize(("builder", "kwargs", "name"), BAD_ARGUMENTS,
                         ids=[f"{b.__name__}-{'-'.join(map(str, k))}" for b, k, _ in BAD_ARGUMENTS])
def test_bad_argument_raises_value_error_naming_it(builder, kwargs, name):
    with pytest.raises(ValueError) as info:
        builder(**kwargs)
    message = str(info.value)
    assert re.match(rf"{name}\b", message), message  # "noise" must not match "noise_level"
    if name in kwargs:
        assert f"Received: {name}={kwargs[name]!r}" in message, message


def test_kl_penalty_requires_sigmoid_code_message():
    with pytest.raises(ValueError, match=r"activation must be 'sigmoid' with penalty='kl'.*"
                                         r"Received: activation='relu'"):
        aebook.build_sparse_autoencoder(penalty="kl", activation="relu")


def test_empty_hidden_dims_allowed_where_documented():
    assert aebook.build_vae(hidden_dims=(), latent_dim=2).encoder.count_params() == 2 * (784 * 2 + 2)
    dense = aebook.build_denoising_autoencoder(input_shape=784, hidden_dims=[], latent_dim=4)
    assert dense.autoencoder.count_params() == (784 * 4 + 4) + (4 * 784 + 784)

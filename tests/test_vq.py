"""aebook.vq: the vector quantizer, build_vq_vae, codebook diagnostics, dead-code resets, priors."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import torch
from keras import ops

import aebook  # noqa: F401  (selects the torch backend)
from aebook import vq
from aebook.vq import VectorQuantizer

CODEBOOK = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], "float32")
Z = np.array([[0.9, 0.2], [0.1, 0.1], [0.2, 0.7]], "float32")


def _quantizer(beta=0.25):
    layer = VectorQuantizer(num_codes=3, code_dim=2, beta=beta)
    layer.build((None, 2))
    layer.codebook.assign(CODEBOOK)
    return layer


def _images(n, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, 28, 28, 1)).astype("float32")


# ---------------------------------------------------------------- the layer


def test_known_answer_indices_output_and_loss():
    layer = _quantizer(beta=0.25)
    assert layer.indices(Z).tolist() == [1, 0, 2]
    out = ops.convert_to_numpy(layer(Z))
    np.testing.assert_allclose(out, CODEBOOK[[1, 0, 2]], atol=1e-7)
    # squared distances to the assigned codes: 0.01+0.04, 0.01+0.01, 0.04+0.09 -> 0.20 over 6 elements
    loss = float(ops.convert_to_numpy(layer.losses[0]))
    assert loss == pytest.approx(1.25 * 0.20 / 6, rel=1e-5)


def test_indices_keep_the_grid_shape_and_lookup_inverts_them():
    layer = _quantizer()
    grid = np.stack([Z, Z[::-1]]).reshape(2, 3, 1, 2)  # (batch, h, w, code_dim)
    idx = layer.indices(grid)
    assert idx.shape == (2, 3, 1) and idx.dtype == np.int64
    np.testing.assert_array_equal(idx[:, :, 0], [[1, 0, 2], [2, 0, 1]])
    np.testing.assert_allclose(layer.lookup(idx), CODEBOOK[idx])


def test_straight_through_gradient_and_loss_gradients():
    layer = _quantizer(beta=0.5)
    z = torch.tensor(Z, requires_grad=True)
    w = torch.tensor(np.arange(6, dtype="float32").reshape(3, 2))
    out = layer(z)
    # the decoder's gradient reaches z unchanged (straight through the argmin)
    (grad_out,) = torch.autograd.grad((out * w).sum(), z, retain_graph=True)
    np.testing.assert_allclose(grad_out.numpy(), w.numpy())
    # the VQ loss pulls z towards its code with weight beta (commitment) ...
    (grad_z,) = torch.autograd.grad(layer.losses[0], z, retain_graph=True)
    q = CODEBOOK[[1, 0, 2]]
    np.testing.assert_allclose(grad_z.numpy(), 0.5 * 2 * (Z - q) / Z.size, rtol=1e-5, atol=1e-7)
    # ... and the codebook towards the assigned z with weight 1 (codebook loss); code 0..2 each once
    (grad_e,) = torch.autograd.grad(layer.losses[0], layer.codebook.value)
    expected = np.zeros_like(CODEBOOK)
    expected[[1, 0, 2]] = 2 * (q - Z) / Z.size
    np.testing.assert_allclose(grad_e.numpy(), expected, rtol=1e-5, atol=1e-7)


def test_seed_fixes_the_codebook_initializer():
    def codebook(seed):
        layer = VectorQuantizer(8, 3, seed=seed)
        layer.build((None, 3))
        return ops.convert_to_numpy(layer.codebook)

    np.testing.assert_array_equal(codebook(3), codebook(3))
    assert not np.array_equal(codebook(3), codebook(4))
    assert np.abs(codebook(3)).max() <= 1 / 8


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_codes": 0, "code_dim": 2}, "num_codes must be a positive int. Received: num_codes=0"),
    ({"num_codes": 1, "code_dim": 2}, "num_codes must be an int >= 2. Received: num_codes=1"),
    ({"num_codes": 4, "code_dim": 2.5}, "code_dim must be a positive int. Received: code_dim=2.5"),
    ({"num_codes": 4, "code_dim": 2, "beta": -1.0}, "beta must be a non-negative float. Received: beta=-1.0"),
    ({"num_codes": 4, "code_dim": 2, "seed": -1}, "seed must be None or an int"),
])
def test_layer_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        VectorQuantizer(**kwargs)


def test_wrong_code_dim_and_bad_indices_raise():
    layer = _quantizer()
    with pytest.raises(ValueError, match="incompatible with the layer"):
        layer(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., code_dim=2\)"):
        layer.indices(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"indices must be ints in \[0, num_codes=3\)"):
        layer.lookup([0, 3])


# ---------------------------------------------------------------- the builder


def test_build_vq_vae_shapes_and_parameter_counts():
    keras.utils.set_random_seed(0)
    encoder, decoder, autoencoder = vq.build_vq_vae(filters=(4, 8), code_dim=2, num_codes=4, seed=0)
    assert encoder.output_shape == (None, 7, 7, 2)
    assert decoder.input_shape == (None, 7, 7, 2) and decoder.output_shape == (None, 28, 28, 1)
    assert autoencoder.name == "vq_vae" and autoencoder.output_shape == (None, 28, 28, 1)
    # encoder: conv 3*3*1*4+4 = 40, conv 3*3*4*8+8 = 296, 1x1 conv 8*2+2 = 18, codebook 4*2 = 8
    assert encoder.count_params() == 40 + 296 + 18 + 8
    # decoder: conv 3*3*2*8+8 = 152, deconv 3*3*8*8+8 = 584, deconv 3*3*8*4+4 = 292, conv 3*3*4*1+1 = 37
    assert decoder.count_params() == 152 + 584 + 292 + 37
    assert autoencoder.count_params() == encoder.count_params() + decoder.count_params()
    grid = vq.code_indices(encoder, _images(3))
    assert grid.shape == (3, 7, 7) and grid.min() >= 0 and grid.max() < 4
    images = vq.decode_indices(decoder, vq.get_quantizer(encoder), grid)
    np.testing.assert_allclose(images, autoencoder.predict(_images(3), verbose=0), rtol=1e-5, atol=1e-6)


def test_grid_size_follows_the_number_of_blocks():
    encoder, _, _ = vq.build_vq_vae(input_shape=(16, 16, 3), filters=(4, 4, 4), code_dim=5, num_codes=8)
    assert encoder.output_shape == (None, 2, 2, 5)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"input_shape": (28, 28)}, "input_shape must be a shape with 3 dimensions"),
    ({"input_shape": (28, 28, 1), "filters": (4, 4, 4)}, "divisible by 2**len(filters)=8"),
    ({"filters": ()}, "filters must be a list or tuple of positive ints (not empty)"),
    ({"code_dim": 0}, "code_dim must be a positive int. Received: code_dim=0"),
    ({"num_codes": 1}, "num_codes must be an int >= 2"),
    ({"beta": "high"}, "beta must be a non-negative float"),
    ({"activation": "nope"}, "activation must be a Keras activation"),
    ({"seed": 2**31}, "seed must be None or an int in [0, 2**31 - 1"),
])
def test_builder_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as info:
        vq.build_vq_vae(**kwargs)
    assert message in str(info.value)


def test_one_training_step_lowers_the_loss():
    keras.utils.set_random_seed(1)
    x = _images(64, seed=1) ** 4  # mostly dark images, like digits
    _, _, autoencoder = vq.build_vq_vae(filters=(4, 8), code_dim=2, num_codes=4, seed=1)
    autoencoder.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    before = autoencoder.evaluate(x, x, batch_size=64, verbose=0)
    autoencoder.fit(x, x, epochs=1, batch_size=64, shuffle=False, verbose=0)
    after = autoencoder.evaluate(x, x, batch_size=64, verbose=0)
    assert after < before


def test_the_vq_loss_is_part_of_the_training_loss():
    keras.utils.set_random_seed(2)
    x = _images(16, seed=2)
    _, _, autoencoder = vq.build_vq_vae(filters=(4, 8), code_dim=2, num_codes=4, beta=0.25, seed=2)
    autoencoder.compile(optimizer="sgd", loss="mse")
    reconstruction = float(np.mean((autoencoder.predict(x, verbose=0) - x) ** 2))
    autoencoder(x)
    vq_loss = float(sum(ops.convert_to_numpy(loss) for loss in autoencoder.losses))
    assert vq_loss > 0
    assert autoencoder.evaluate(x, x, batch_size=16, verbose=0) == pytest.approx(reconstruction + vq_loss,
                                                                                   rel=1e-4)


LOAD_SCRIPT = r"""
import sys
import numpy as np
import aebook.vq  # registers VectorQuantizer (and selects the torch backend)
import keras

folder = sys.argv[1]
model = keras.saving.load_model(f"{folder}/vq_vae.keras")
x = np.load(f"{folder}/x.npy")
np.save(f"{folder}/loaded.npy", model.predict(x, verbose=0))
np.save(f"{folder}/loaded_indices.npy", aebook.vq.code_indices(model.get_layer("encoder"), x))
np.save(f"{folder}/loaded_codebook.npy", keras.ops.convert_to_numpy(aebook.vq.get_quantizer(model).codebook))
"""


def test_keras_save_and_load_in_a_fresh_process(tmp_path):
    keras.utils.set_random_seed(3)
    x = _images(8, seed=3)
    encoder, _, autoencoder = vq.build_vq_vae(filters=(4, 8), code_dim=3, num_codes=6, seed=3)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    autoencoder.fit(x, x, epochs=1, batch_size=8, verbose=0)  # weights away from their initial values
    autoencoder.save(tmp_path / "vq_vae.keras")
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(tmp_path)], check=True, env=env, timeout=300)
    np.testing.assert_array_equal(np.load(tmp_path / "loaded.npy"), autoencoder.predict(x, verbose=0))
    np.testing.assert_array_equal(np.load(tmp_path / "loaded_indices.npy"), vq.code_indices(encoder, x))
    np.testing.assert_array_equal(np.load(tmp_path / "loaded_codebook.npy"),
                                  ops.convert_to_numpy(vq.get_quantizer(encoder).codebook))


# ---------------------------------------------------------------- diagnostics and dead codes


def test_usage_perplexity_and_dead_codes_known_answers():
    np.testing.assert_array_equal(vq.codebook_usage([[0, 2], [2, 2]], 4), [1, 0, 3, 0])
    assert vq.perplexity([0, 1, 2, 3], 8) == pytest.approx(4.0)
    assert vq.perplexity([5, 5, 5], 8) == pytest.approx(1.0)
    p = np.array([0.25, 0.75])
    assert vq.perplexity([0, 1, 1, 1], 2) == pytest.approx(np.exp(-np.sum(p * np.log(p))))
    assert vq.dead_codes([0, 0, 3], 4) == 2
    with pytest.raises(ValueError, match=r"indices must lie in \[0, num_codes=4\)"):
        vq.codebook_usage([0, 4], 4)
    with pytest.raises(ValueError, match="indices must be a non-empty array"):
        vq.perplexity(np.zeros(0, "int64"), 4)
    with pytest.raises(ValueError, match="indices must be an array of ints"):
        vq.dead_codes([0.5], 4)


def test_reset_dead_codes_moves_unused_codes_onto_encoder_outputs():
    layer = _quantizer()
    layer.codebook.assign(np.array([[0.0, 0.0], [50.0, 50.0], [-50.0, 50.0]], "float32"))
    z_e = np.random.default_rng(0).normal(size=(40, 2)).astype("float32")
    assert vq.dead_codes(layer.indices(z_e), 3) == 2
    assert vq.reset_dead_codes(layer, z_e, seed=0) == 2
    codebook = ops.convert_to_numpy(layer.codebook)
    np.testing.assert_array_equal(codebook[0], [0.0, 0.0])  # the used code is untouched
    for row in codebook[1:]:
        assert np.any(np.all(z_e == row, axis=1))  # the dead ones are encoder outputs now
    assert vq.dead_codes(layer.indices(z_e), 3) == 0
    assert vq.reset_dead_codes(layer, z_e, seed=0) == 0
    with pytest.raises(ValueError, match=r"z_e must be a non-empty array of shape \(\.\.\., code_dim=2\)"):
        vq.reset_dead_codes(layer, np.zeros((4, 3), "float32"))


def test_monitor_and_reset_callbacks_during_fit():
    keras.utils.set_random_seed(4)
    x = _images(64, seed=4) ** 4
    encoder, _, autoencoder = vq.build_vq_vae(filters=(4, 8), code_dim=2, num_codes=32, seed=4)
    quantizer = vq.get_quantizer(encoder)
    quantizer.codebook.assign(ops.convert_to_numpy(quantizer.codebook) + 100.0)  # every code far away
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    before = vq.dead_codes(vq.code_indices(encoder, x), 32)
    assert before == 31  # every vector picks the same (nearest) far-away code
    reset = vq.DeadCodeReset(encoder, x, every=2, seed=0)
    history = autoencoder.fit(x, x, epochs=2, batch_size=16, verbose=0,
                              callbacks=[vq.CodebookMonitor(encoder, x), reset])
    assert len(reset.resets) == 4 and reset.resets[0] == 31
    assert len(history.history["codes_used"]) == 2 and len(history.history["perplexity"]) == 2
    assert history.history["codes_used"][-1] > 5  # from 1 code used to many


def test_get_quantizer_and_pre_quantization_model():
    encoder, decoder, autoencoder = vq.build_vq_vae(filters=(4, 8), code_dim=2, num_codes=4)
    assert vq.get_quantizer(autoencoder) is vq.get_quantizer(encoder)
    z_e = vq.pre_quantization_model(encoder).predict(_images(2), verbose=0)
    assert z_e.shape == (2, 7, 7, 2)
    with pytest.raises(ValueError, match="model must contain exactly one VectorQuantizer"):
        vq.get_quantizer(decoder)


# ---------------------------------------------------------------- priors


def test_causal_context_known_answer():
    grid = np.array([[[0, 1], [2, 3]]])
    context = vq.causal_context(grid, num_codes=4)
    # (left, up-left, up, up-right, position); 4 = outside the grid
    np.testing.assert_array_equal(context[0], [[4, 4, 4, 4, 0],
                                               [0, 4, 4, 4, 1],
                                               [4, 4, 0, 1, 2],
                                               [2, 0, 1, 4, 3]])


def test_independent_prior_known_answers():
    grids = np.array([[[0, 1]], [[0, 2]], [[0, 1]]])  # (3, 1, 2)
    probs = vq.fit_independent_prior(grids, num_codes=4, alpha=1.0)
    np.testing.assert_allclose(probs[0, 0], [4 / 7, 1 / 7, 1 / 7, 1 / 7])
    np.testing.assert_allclose(probs[0, 1], [1 / 7, 3 / 7, 2 / 7, 1 / 7])
    bits = vq.prior_bits_per_image(probs, np.array([[[0, 1]]]))
    assert bits == pytest.approx(-np.log2(4 / 7) - np.log2(3 / 7))
    uniform = np.full((2, 3, 8), 1 / 8)
    assert vq.prior_bits_per_image(uniform, np.zeros((5, 2, 3), "int64")) == pytest.approx(2 * 3 * 3)
    samples = vq.sample_independent(np.array([[[0.1, 0.9, 0.0]]]), 4000, seed=0)
    assert samples.shape == (4000, 1, 1) and set(np.unique(samples)) <= {0, 1}
    assert np.mean(samples == 1) == pytest.approx(0.9, abs=0.02)
    with pytest.raises(ValueError, match="indices must be a non-empty int array of shape"):
        vq.fit_independent_prior(np.zeros((3, 4), "int64"), 4)


def test_autoregressive_prior_learns_what_the_independent_one_cannot():
    # each row repeats one random code: the left neighbour predicts the rest of the row
    rng = np.random.default_rng(0)
    grids = np.repeat(rng.integers(0, 8, size=(600, 3, 1)), 3, axis=2)  # (600, 3, 3)
    keras.utils.set_random_seed(0)
    prior = vq.build_code_prior(8, (3, 3), embed_dim=8, hidden_units=32, seed=0)
    assert prior.output_shape == (None, 8)
    # parameters: embeddings 9*8 + 9*8, hidden 40*32+32, output 32*8+8
    assert prior.count_params() == 72 + 72 + 1312 + 264
    vq.fit_code_prior(prior, grids[:500], epochs=30, batch_size=256, learning_rate=1e-2)
    independent = vq.fit_independent_prior(grids[:500], 8)
    bits_ar = vq.prior_bits_per_image(prior, grids[500:])
    bits_ind = vq.prior_bits_per_image(independent, grids[500:])
    assert bits_ind == pytest.approx(9 * 3, abs=0.3)  # 9 uniform codes of 3 bits
    assert bits_ar < 3 * 3 + 1.5  # only the first code of each row costs 3 bits
    samples = vq.sample_autoregressive(prior, 50, (3, 3), seed=1)
    assert samples.shape == (50, 3, 3) and samples.min() >= 0 and samples.max() < 8
    assert np.mean(samples[:, :, 1:] == samples[:, :, :1]) > 0.9  # rows repeat, as in the data


def test_prior_bad_arguments():
    with pytest.raises(ValueError, match=r"grid_shape must be a pair \(h, w\)"):
        vq.build_code_prior(8, (3, 3, 3))
    with pytest.raises(ValueError, match="alpha must be a positive float. Received: alpha=0"):
        vq.fit_independent_prior(np.zeros((2, 2, 2), "int64"), 4, alpha=0)
    with pytest.raises(ValueError, match=r"indices must have shape \(N, 2, 2\)"):
        vq.prior_bits_per_image(np.full((2, 2, 4), 0.25), np.zeros((1, 3, 2), "int64"))

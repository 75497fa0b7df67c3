"""Tests of aebook.masked: the masked autoencoder, its layers and helpers."""

import keras
import numpy as np
import pytest
from keras import ops

from aebook import masked as M

SHAPE = (8, 8, 1)  # 2 x 2 patches of 4 x 4 pixels: N = 4, P = 16
SMALL = {"image_shape": SHAPE, "patch_size": 4, "mask_ratio": 0.5, "embed_dim": 8, "depth": 1,
         "num_heads": 2, "decoder_dim": 4, "decoder_depth": 1, "mlp_ratio": 2}


def _np(t):
    return ops.convert_to_numpy(t)


@pytest.fixture
def x16():
    return np.random.default_rng(0).uniform(size=(16, *SHAPE)).astype("float32")


def _masking(model):
    return model.get_layer("random_masking").seed_generator.state


# ---------------------------------------------------------------- known answers


def test_patchify_orders_patches_row_major_and_unpatchify_inverts_it():
    x = np.arange(2 * 4 * 6 * 2, dtype="float32").reshape(2, 4, 6, 2)
    patches = _np(M.Patchify(2)(x))
    assert patches.shape == (2, 6, 8)
    # patch 4 is row 1, column 1: pixels (2:4, 2:4), flattened row-major with channels last
    np.testing.assert_array_equal(patches[1, 4], x[1, 2:4, 2:4, :].reshape(-1))
    np.testing.assert_array_equal(patches[0, 2], x[0, 0:2, 4:6, :].reshape(-1))
    np.testing.assert_array_equal(_np(M.Unpatchify(2, (4, 6, 2))(patches)), x)


def test_masked_reconstruction_loss_counts_masked_patches_only():
    x = np.zeros((1, 4, 4, 1), "float32")
    x_hat = np.zeros_like(x)
    x_hat[0, :2, :2] = 1.0   # patch 0: squared error 1 per pixel, masked
    x_hat[0, :2, 2:] = 0.5   # patch 1: visible, must not count
    x_hat[0, 2:, :2] = 0.0   # patch 2: masked, error 0
    mask = np.array([[1.0, 0.0, 1.0, 0.0]], "float32")
    layer = M.MaskedReconstructionLoss(2)
    out = layer([x, x_hat, mask])
    np.testing.assert_array_equal(_np(out), x_hat)
    assert float(_np(layer.losses[0])) == pytest.approx(0.5)  # (1 + 0) / 2 patches
    assert M.masked_patch_mse(x, x_hat, mask, patch_size=2) == pytest.approx(0.5)


def test_insert_mask_tokens_scatters_visible_tokens_to_their_positions():
    layer = M.InsertMaskTokens(5)
    visible = np.array([[[1.0, 2.0], [3.0, 4.0]]], "float32")
    ids = np.array([[1, 3]], "int32")
    layer.build([visible.shape, ids.shape])
    layer.mask_token.assign([9.0, 8.0])
    expected = np.array([[[9, 8], [1, 2], [9, 8], [3, 4], [9, 8]]], "float32")
    np.testing.assert_array_equal(_np(layer([visible, ids])), expected)


def test_random_patch_masking_keeps_and_reports_the_right_tokens():
    tokens = np.random.default_rng(1).normal(size=(50, 16, 3)).astype("float32")
    layer = M.RandomPatchMasking(0.75, seed=3)
    visible, ids_keep, mask = (_np(t) for t in layer(tokens))
    assert visible.shape == (50, 4, 3) and ids_keep.shape == (50, 4) and mask.shape == (50, 16)
    assert ids_keep.dtype == np.int32
    np.testing.assert_array_equal(mask.sum(axis=1), np.full(50, 12.0))
    assert np.all(np.diff(ids_keep, axis=1) > 0)  # ascending, no repeats
    np.testing.assert_allclose(visible, np.take_along_axis(tokens, ids_keep[..., None], axis=1))
    np.testing.assert_array_equal(np.take_along_axis(mask, ids_keep, axis=1), 0.0)
    assert len({tuple(row) for row in ids_keep}) > 40  # a fresh draw per image
    # uniform: every position is kept about a quarter of the time
    assert 0.1 < (1 - mask).mean(axis=0).min() and (1 - mask).mean(axis=0).max() < 0.45
    again = M.RandomPatchMasking(0.75, seed=3)
    np.testing.assert_array_equal(_np(again(tokens)[1]), ids_keep)  # seeded
    assert not np.array_equal(_np(layer(tokens)[1]), ids_keep)  # new draw on the next call


def test_num_masked_patches_rounds():
    assert M.num_masked_patches(16, 0.75) == 12
    assert M.num_masked_patches(16, 0.9) == 14  # 14.4
    assert M.num_masked_patches(49, 0.25) == 12  # 12.25


def test_patch_mask_to_pixels():
    pixels = M.patch_mask_to_pixels(np.array([[1, 0, 0, 1]]), (4, 4, 2), 2)
    assert pixels.shape == (1, 4, 4, 2)
    np.testing.assert_array_equal(pixels[0, :, :, 1],
                                  [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]])


# ---------------------------------------------------------------- the builder


def test_shapes_and_names(x16):
    encoder, decoder, autoencoder = M.build_masked_autoencoder(**SMALL, seed=0)
    assert (encoder.name, decoder.name, autoencoder.name) == (
        "mae_encoder", "mae_decoder", "masked_autoencoder")
    assert encoder.output_shape == (None, 8)
    assert decoder.input_shape == [(None, 2, 8), (None, 2)]
    assert decoder.output_shape == (None, *SHAPE)
    reconstruction, mask = autoencoder.predict(x16, verbose=0)
    assert reconstruction.shape == x16.shape and mask.shape == (16, 4)
    assert 0 <= reconstruction.min() and reconstruction.max() <= 1  # sigmoid output
    np.testing.assert_array_equal(mask.sum(axis=1), 2.0)
    flat = M.build_masked_autoencoder(**SMALL, pooling="flatten").encoder
    assert flat.output_shape == (None, 4 * 8)


def test_parameter_count_by_hand():
    """N = 4 patches of P = 16 pixels, D = 8, MLP 16; decoder width d = 4, MLP 8."""
    encoder, decoder, autoencoder = M.build_masked_autoencoder(**SMALL)
    D, d, P, N = 8, 4, 16, 4

    def block(w):  # 2 LayerNorms, attention (q, k, v, output: w x w + w each), MLP w -> 2w -> w
        return 2 * 2 * w + 4 * (w * w + w) + (w * 2 * w + 2 * w) + (2 * w * w + w)

    encoder_params = (P * D + D) + N * D + block(D) + 2 * D  # embedding, positions, block, norm
    assert encoder_params == 784
    decoder_params = (D * d + d) + d + N * d + block(d) + 2 * d + (d * P + P)
    assert decoder_params == 316
    assert encoder.count_params() == encoder_params
    assert decoder.count_params() == decoder_params
    assert autoencoder.count_params() == encoder_params + decoder_params  # shared, not doubled


def test_encoder_sees_every_patch_without_masking(x16):
    encoder = M.build_masked_autoencoder(**SMALL, seed=0).encoder
    a, b = encoder.predict(x16, verbose=0), encoder.predict(x16, verbose=0)
    np.testing.assert_array_equal(a, b)  # nothing random
    x = x16.copy()
    x[:, 4:, 4:] = 0.0  # changing the last patch changes the features
    assert not np.allclose(encoder.predict(x, verbose=0), a)


def test_training_loss_is_the_numpy_masked_mse(x16):
    autoencoder = M.build_masked_autoencoder(**SMALL, seed=0).autoencoder
    reconstruction, mask = (_np(t) for t in autoencoder(x16))
    loss = float(_np(autoencoder.losses[0]))
    assert loss == pytest.approx(M.masked_patch_mse(x16, reconstruction, mask, 4), rel=1e-5)


def test_one_training_step_lowers_the_loss_on_the_same_mask(x16):
    keras.utils.set_random_seed(0)
    autoencoder = M.build_masked_autoencoder(**SMALL, seed=1).autoencoder
    autoencoder.compile(optimizer=keras.optimizers.Adam(1e-2))
    state = _np(_masking(autoencoder))
    before = autoencoder.test_on_batch(x16)
    _masking(autoencoder).assign(state)
    autoencoder.train_on_batch(x16)
    _masking(autoencoder).assign(state)  # the same masks again
    after = autoencoder.test_on_batch(x16)
    assert after < before


def test_the_masking_ratio_sets_how_many_patches_the_encoder_sees():
    for ratio, keep in [(0.25, 3), (0.5, 2), (0.75, 1)]:
        decoder = M.build_masked_autoencoder(**{**SMALL, "mask_ratio": ratio}).decoder
        assert decoder.input_shape[0] == (None, keep, 8)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"patch_size": 5}, "image_shape must be divisible into 5x5 patches"),
    ({"patch_size": 0}, "patch_size must be a positive int. Received: patch_size=0"),
    ({"mask_ratio": 0.0}, "mask_ratio must be a fraction that hides at least one"),
    ({"mask_ratio": 0.99}, "mask_ratio must be a fraction that hides at least one and at most 15"),
    ({"mask_ratio": 1.5}, "mask_ratio must be a float in [0, 1]. Received: mask_ratio=1.5"),
    ({"embed_dim": 30}, "embed_dim must be divisible by num_heads=4. Received: embed_dim=30"),
    ({"decoder_dim": 6}, "decoder_dim must be divisible by num_heads=4. Received: decoder_dim=6"),
    ({"depth": 0}, "depth must be a positive int. Received: depth=0"),
    ({"decoder_depth": -1}, "decoder_depth must be a non-negative int"),
    ({"pooling": "max"}, "pooling must be one of 'mean', 'flatten'. Received: pooling='max'"),
    ({"seed": -1}, "seed must be None or an int in [0, 2**31 - 1"),
    ({"image_shape": (28, 28)}, "image_shape must be a shape with 3 dimensions"),
])
def test_bad_arguments_raise_the_house_message(kwargs, message):
    with pytest.raises(ValueError, match=None) as info:
        M.build_masked_autoencoder(**{"embed_dim": 32, "num_heads": 4, "decoder_dim": 16,
                                      **kwargs})
    assert message in str(info.value)


def test_bad_arguments_of_layers_and_helpers():
    with pytest.raises(ValueError, match="mask_ratio must be a float in"):
        M.RandomPatchMasking(-0.1)
    with pytest.raises(ValueError, match="input_shape must be divisible into 3x3 patches"):
        M.Patchify(3)(np.zeros((1, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match=r"mask must be an array of shape \(batch, 4\)"):
        M.patch_mask_to_pixels(np.zeros((2, 5)), (4, 4, 1), 2)
    with pytest.raises(ValueError, match="x_hat must be an array of the shape of x"):
        M.masked_patch_mse(np.zeros((2, 4, 4, 1)), np.zeros((2, 4, 4, 2)), np.ones((2, 4)), 2)


# ---------------------------------------------------------------- .keras in a fresh process

LOAD_SCRIPT = """
import aebook.masked  # registers the layers; selects the torch backend
import keras
import numpy as np

folder = __FOLDER__
x = np.load(f"{folder}/x.npy")
autoencoder = keras.saving.load_model(f"{folder}/mae.keras")
encoder = keras.saving.load_model(f"{folder}/encoder.keras")
reconstruction, mask = autoencoder.predict(x, batch_size=len(x), verbose=0)
np.save(f"{folder}/reconstruction.npy", reconstruction)
np.save(f"{folder}/mask.npy", mask)
np.save(f"{folder}/features.npy", encoder.predict(x, batch_size=len(x), verbose=0))
np.save(f"{folder}/loss.npy", autoencoder.evaluate(x, batch_size=len(x), verbose=0))
print([type(layer).__name__ for layer in autoencoder.layers][1:5],
      autoencoder.get_layer("random_masking").seed)
"""


def test_saves_and_loads_in_a_fresh_process(tmp_path, run_python, x16):
    keras.utils.set_random_seed(0)
    encoder, _, autoencoder = M.build_masked_autoencoder(**SMALL, seed=5)
    autoencoder.compile(optimizer=keras.optimizers.Adam(1e-2))
    autoencoder.train_on_batch(x16)  # weights away from their initial values
    autoencoder.save(tmp_path / "mae.keras")
    encoder.save(tmp_path / "encoder.keras")
    np.save(tmp_path / "x.npy", x16)
    features = encoder.predict(x16, batch_size=16, verbose=0)

    out = run_python(LOAD_SCRIPT.replace("__FOLDER__", repr(str(tmp_path))))
    assert out.strip().splitlines()[-1] == (
        "['Patchify', 'Dense', 'PatchPositionEmbedding', 'RandomPatchMasking'] 5")
    np.testing.assert_array_equal(np.load(tmp_path / "features.npy"), features)
    # The masking generator restarts from its seed when loaded, so a load in this
    # process draws the same masks and predicts bit-identically.
    reloaded = keras.saving.load_model(tmp_path / "mae.keras")
    reconstruction, mask = reloaded.predict(x16, batch_size=16, verbose=0)
    np.testing.assert_array_equal(np.load(tmp_path / "mask.npy"), mask)
    np.testing.assert_array_equal(np.load(tmp_path / "reconstruction.npy"), reconstruction)
    # and the loaded model still carries its masked loss
    loss = float(np.load(tmp_path / "loss.npy"))
    assert loss > 0 and np.isfinite(loss)

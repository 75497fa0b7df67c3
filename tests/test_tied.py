"""Tied weights: `build_vanilla_autoencoder(tied=True)`, `build_deep_autoencoder(tied=True)`
and the layer behind them, `aebook.layers.DenseTranspose`.

Parameter counts worked out by hand, the tie itself (one variable, not a copy), a
training step, `.keras` save / load in a fresh process (the tie survives a load of the
autoencoder; the decoder alone loads with its own copy), bad arguments, and a known
answer: a linear tied autoencoder trained on centred data converges to the PCA
subspace with orthonormal columns (W^T W = I).
"""

import json

import keras
import numpy as np
import pytest
from keras import ops

from aebook.layers import DenseTranspose
from aebook.models import build_deep_autoencoder, build_vanilla_autoencoder, init_output_bias


def _np(t):
    return ops.convert_to_numpy(t)


def _predict(model, x):
    return model.predict(x, batch_size=len(x), verbose=0)


# ---------------------------------------------------------------- parameter counts


def test_vanilla_parameter_counts_by_hand():
    # untied: W1 (784, 32) + b1 (32) + W2 (32, 784) + b2 (784)
    untied = build_vanilla_autoencoder(784, 32).autoencoder
    assert untied.count_params() == 784 * 32 + 32 + 32 * 784 + 784 == 50992
    # tied: W2 = W1^T is the same variable, so only b2 is added
    encoder, decoder, tied = build_vanilla_autoencoder(784, 32, tied=True)
    assert tied.count_params() == 784 * 32 + 32 + 784 == 25904
    assert encoder.count_params() == 784 * 32 + 32
    # the decoder uses the kernel (shared) and owns its bias
    assert decoder.count_params() == 784 * 32 + 784
    assert [w.path for w in decoder.weights] == ["code/kernel", "reconstruction/bias"]


def test_deep_parameter_counts_by_hand():
    sizes = dict(input_dim=784, hidden_dims=(128, 64), latent_dim=32)
    encoder_params = (784 * 128 + 128) + (128 * 64 + 64) + (64 * 32 + 32)
    assert encoder_params == 110816
    untied = build_deep_autoencoder(**sizes).autoencoder
    decoder_params = (32 * 64 + 64) + (64 * 128 + 128) + (128 * 784 + 784)
    assert untied.count_params() == encoder_params + decoder_params == 222384
    tied = build_deep_autoencoder(**sizes, tied=True).autoencoder
    assert tied.count_params() == encoder_params + 64 + 128 + 784 == 111792
    assert len(tied.trainable_weights) == 6 + 3  # 3 kernels and 3 biases + 3 decoder biases


# ---------------------------------------------------------------- the tie


def test_tied_parts_are_named_functional_models_with_the_untied_layer_names(x_flat):
    encoder, decoder, autoencoder = build_deep_autoencoder(784, (64,), 16, tied=True)
    untied = build_deep_autoencoder(784, (64,), 16)
    assert (encoder.name, decoder.name, autoencoder.name) == ("encoder", "decoder",
                                                               "deep_autoencoder")
    assert [la.name for la in decoder.layers] == [la.name for la in untied.decoder.layers]
    assert [la.name for la in encoder.layers] == [la.name for la in untied.encoder.layers]
    assert encoder.output_shape == (None, 16) and decoder.output_shape == (None, 784)
    x = x_flat[:32]
    np.testing.assert_allclose(_predict(decoder, _predict(encoder, x)), _predict(autoencoder, x),
                               rtol=1e-5, atol=1e-6)


def test_decoder_kernel_is_the_encoder_kernel_transposed():
    encoder, decoder, autoencoder = build_deep_autoencoder(6, (5, 4), 2, activation="linear",
                                                           output_activation="linear", tied=True)
    pairs = [("code", "decoder_dense_0"), ("encoder_dense_1", "decoder_dense_1"),
             ("encoder_dense_0", "reconstruction")]
    for enc_name, dec_name in pairs:
        dense, tied = encoder.get_layer(enc_name), decoder.get_layer(dec_name)
        assert tied.kernel is dense.kernel  # the same variable, not a copy
        assert tied.dense is dense
    # assigning through the encoder changes what the decoder computes ...
    dense, tied = encoder.get_layer("encoder_dense_0"), decoder.get_layer("reconstruction")
    new = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
    dense.kernel.assign(new)
    h = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    np.testing.assert_allclose(_np(tied(h)), h @ new.T + _np(tied.bias), rtol=1e-5, atol=1e-6)
    # ... and assigning through the decoder changes the encoder's kernel
    tied.kernel.assign(2 * new)
    np.testing.assert_array_equal(_np(dense.kernel), 2 * new)


def test_one_training_step_lowers_the_loss_and_keeps_the_tie(x_flat):
    keras.utils.set_random_seed(0)
    encoder, decoder, autoencoder = build_vanilla_autoencoder(784, 16, tied=True)
    x = x_flat[:64]
    autoencoder.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    kernel_before = _np(encoder.get_layer("code").kernel).copy()
    before = autoencoder.evaluate(x, x, batch_size=64, verbose=0)
    autoencoder.train_on_batch(x, x)
    after = autoencoder.evaluate(x, x, batch_size=64, verbose=0)
    assert after < before
    kernel = encoder.get_layer("code").kernel
    assert not np.array_equal(_np(kernel), kernel_before)  # the shared kernel moved ...
    assert decoder.get_layer("reconstruction").kernel is kernel  # ... once, for both


def test_init_output_bias_works_on_a_tied_decoder(x_flat):
    _, decoder, _ = build_vanilla_autoencoder(784, 8, tied=True)
    m = init_output_bias(decoder, x_flat)
    np.testing.assert_array_equal(_np(decoder.get_layer("reconstruction").bias), m)


# ---------------------------------------------------------------- save / load, fresh process

LOAD_SCRIPT = r"""
import json
import numpy as np
import aebook  # registers DenseTranspose (and selects the torch backend)
import keras
from keras import ops

folder = __FOLDER__
report = {}
for case in ("vanilla", "deep"):
    x = np.load(f"{folder}/{case}_x.npy")
    model = keras.saving.load_model(f"{folder}/{case}.keras")
    np.save(f"{folder}/{case}_pred_loaded.npy", model.predict(x, batch_size=len(x), verbose=0))
    decoder = keras.saving.load_model(f"{folder}/{case}_decoder.keras")
    encoder = keras.saving.load_model(f"{folder}/{case}_encoder.keras")
    z = encoder.predict(x, batch_size=len(x), verbose=0)
    np.save(f"{folder}/{case}_decoded_loaded.npy", decoder.predict(z, batch_size=len(x), verbose=0))
    first = "encoder_dense_0" if case == "deep" else "code"
    tied = model.get_layer("reconstruction").kernel is model.get_layer(first).kernel
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    model.train_on_batch(x, x)  # after a step, still one variable
    still = model.get_layer("reconstruction").kernel is model.get_layer(first).kernel
    report[case] = {"name": model.name, "params": model.count_params(), "tied": tied,
                    "tied_after_step": still, "decoder_name": decoder.name,
                    "encoder_name": encoder.name,
                    "layers": [type(layer).__name__ for layer in model.layers]}
json.dump(report, open(f"{folder}/report.json", "w"))
"""

CASES = {
    "vanilla": lambda: build_vanilla_autoencoder(784, 16, tied=True),
    "deep": lambda: build_deep_autoencoder(784, (32, 16), 8, tied=True),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory, run_python, x_flat):
    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("tied")
    refs = {}
    x = x_flat[:16]
    for case, build in CASES.items():
        encoder, decoder, autoencoder = build()
        autoencoder.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
        autoencoder.train_on_batch(x, x)  # weights away from their initial values
        autoencoder.save(folder / f"{case}.keras")
        decoder.save(folder / f"{case}_decoder.keras")
        encoder.save(folder / f"{case}_encoder.keras")
        np.save(folder / f"{case}_x.npy", x)
        refs[case] = {"pred": _predict(autoencoder, x), "params": autoencoder.count_params(),
                      "name": autoencoder.name,
                      "decoded": _predict(decoder, _predict(encoder, x))}
    run_python(LOAD_SCRIPT.replace("__FOLDER__", repr(str(folder))))
    return folder, refs, json.loads((folder / "report.json").read_text())


@pytest.mark.parametrize("case", list(CASES))
def test_fresh_process_load_predicts_identically_and_stays_tied(saved, case):
    folder, refs, report = saved
    np.testing.assert_array_equal(np.load(folder / f"{case}_pred_loaded.npy"), refs[case]["pred"])
    assert report[case]["name"] == refs[case]["name"]
    assert report[case]["params"] == refs[case]["params"]  # tied count, not the untied one
    assert report[case]["tied"] and report[case]["tied_after_step"]
    assert "DenseTranspose" in report[case]["layers"]


@pytest.mark.parametrize("case", list(CASES))
def test_fresh_process_decoder_and_encoder_load_on_their_own(saved, case):
    folder, refs, report = saved
    assert (report[case]["encoder_name"], report[case]["decoder_name"]) == ("encoder", "decoder")
    np.testing.assert_array_equal(np.load(folder / f"{case}_decoded_loaded.npy"),
                                  refs[case]["decoded"])


def test_config_round_trip_of_the_layer_gives_an_untied_copy():
    dense = keras.layers.Dense(3)
    dense.build((None, 5))
    layer = DenseTranspose(dense, "sigmoid", name="t")
    layer.build((None, 3))
    clone = DenseTranspose.from_config(layer.get_config())
    clone.build((None, 3))
    assert clone.get_config() == layer.get_config()
    assert clone.kernel is not dense.kernel  # documented: outside a .keras file, a copy
    assert tuple(clone.kernel.shape) == (5, 3)


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("tied", ["yes", 1, None])
@pytest.mark.parametrize("build", [build_vanilla_autoencoder, build_deep_autoencoder])
def test_bad_tied_raises_the_house_message(build, tied):
    with pytest.raises(ValueError, match=r"^tied must be True or False\. Received: tied="):
        build(tied=tied)


def test_dense_transpose_rejects_what_it_cannot_tie():
    with pytest.raises(ValueError, match=r"^dense must be a built keras\.layers\.Dense"):
        DenseTranspose(keras.layers.Dense(3))  # not built: no kernel to share yet
    with pytest.raises(ValueError, match=r"^dense must be a built keras\.layers\.Dense"):
        DenseTranspose("code")
    conv = keras.layers.Conv2D(2, 3)
    conv.build((None, 8, 8, 1))
    with pytest.raises(ValueError, match=r"^dense must be a built keras\.layers\.Dense"):
        DenseTranspose(conv)
    dense = keras.layers.Dense(3)
    dense.build((None, 5))
    with pytest.raises(ValueError, match=r"^activation must be a Keras activation"):
        DenseTranspose(dense, activation="no_such_activation")
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        DenseTranspose(dense)(np.zeros((2, 4), "float32"))


# ---------------------------------------------------------------- known answer: PCA


def _principal_sines(a, b):
    """Sines of the principal angles between the column spaces of a and b."""
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    cos = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), 0.0, 1.0)
    return np.sqrt(1.0 - cos ** 2)


def test_linear_tied_autoencoder_converges_to_orthonormal_pca_axes():
    """min_W ||X - X W W^T||^2 is reached exactly when W W^T projects onto the top-k
    principal subspace, i.e. W = U_k Q with Q orthogonal: W^T W = I (Baldi & Hornik 1989).

    Data: 512 centred points in 6-D with variances (4, 2, 0.25, 0.1, 0.05, 0.02) in a random
    basis; k = 2. Plain gradient descent on this loss converges at a rate set by the gap
    lambda_2 - lambda_3 = 1.75 (relative to lambda_1 = 4), so 600 full-batch Adam steps
    reach the minimum to float32 precision: on seeds 0..4, ||W^T W - I|| <= 2.2e-7 after
    training (0.5 to 1.9 at the random start) and the largest principal-angle sine is
    <= 3.5e-4, which is the float32 floor of sin = sqrt(1 - cos^2) (cos = 1 - 6e-8). The
    tolerances, 1e-3 and 5e-3, leave a wide margin above those and are far below a start.
    """
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    x = (rng.normal(size=(512, 6)) * np.sqrt([4, 2, 0.25, 0.1, 0.05, 0.02])) @ basis.T
    x = (x - x.mean(axis=0)).astype("float32")
    keras.utils.set_random_seed(0)
    encoder, _, autoencoder = build_vanilla_autoencoder(6, 2, activation="linear",
                                                        output_activation="linear", tied=True)
    w0 = _np(encoder.get_layer("code").kernel).copy()
    autoencoder.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    autoencoder.fit(x, x, epochs=600, batch_size=512, shuffle=False, verbose=0)
    w = _np(encoder.get_layer("code").kernel)
    u = np.linalg.svd(x, full_matrices=False)[2][:2].T  # top-2 principal axes, (6, 2)
    assert np.linalg.norm(w0.T @ w0 - np.eye(2)) > 0.3  # the start is far from orthonormal
    assert np.linalg.norm(w.T @ w - np.eye(2)) < 1e-3
    assert _principal_sines(w, u).max() < 5e-3
    # and its error is PCA's: the variance outside the top-2 plane
    pca_mse = np.mean((x - x @ u @ u.T) ** 2)
    assert autoencoder.evaluate(x, x, batch_size=512, verbose=0) == pytest.approx(pca_mse,
                                                                                  rel=1e-3)

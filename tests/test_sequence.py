"""aebook.sequence: Conv1D and LSTM autoencoders, and the order-only anomaly generator.

Shapes, parameter counts worked out by hand, one training step, `.keras` save/load in
a fresh process, argument validation, and `shuffle_segments`' known answers (same
values, different order). Sequences are tiny generated sines; no data files.
"""

import json
import re

import keras
import numpy as np
import pytest

from aebook.anomaly import make_anomalous_signal, sliding_windows, window_labels
from aebook.models import AutoencoderParts
from aebook.sequence import build_conv1d_autoencoder, build_lstm_autoencoder, shuffle_segments


def _sines(n, timesteps, features, seed=0):
    """(n, timesteps, features) float32 sines with random phases and periods 8-16."""
    rng = np.random.default_rng(seed)
    t = np.arange(timesteps)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, features))
    period = rng.uniform(8, 16, size=(n, 1, features))
    return np.sin(2 * np.pi * t / period + phase).astype("float32")


def _lstm_params(units, inputs):
    """Weights of keras.layers.LSTM(units) on `inputs` features: 4 gates, each
    kernel (inputs x units), recurrent kernel (units x units) and bias (units)."""
    return 4 * (units * (units + inputs) + units)


def _conv_params(kernel_size, c_in, c_out):
    return kernel_size * c_in * c_out + c_out


# id -> (builder call, autoencoder name, input shape, code shape, parameters by hand)
CASES = {
    "conv1d": (
        lambda: build_conv1d_autoencoder(32, features=2, filters=(6, 4), kernel_size=5),
        "conv1d_autoencoder", (32, 2), (8, 4),
        # encoder: 32x2 -> 16x6 -> 8x4; decoder: 8x4 -> 16x4 -> 32x6 -> 32x2
        _conv_params(5, 2, 6) + _conv_params(5, 6, 4)
        + _conv_params(5, 4, 4) + _conv_params(5, 4, 6) + _conv_params(5, 6, 2)),
    "conv1d_latent": (
        lambda: build_conv1d_autoencoder(24, filters=(4,), kernel_size=3, strides=3, latent_dim=5),
        "conv1d_autoencoder", (24, 1), (5,),
        # 24x1 -> 8x4 -> flatten 32 -> code 5 -> dense 32 -> 8x4 -> 24x4 -> 24x1
        _conv_params(3, 1, 4) + (32 * 5 + 5) + (5 * 32 + 32) + _conv_params(3, 4, 4)
        + _conv_params(3, 4, 1)),
    "lstm": (
        lambda: build_lstm_autoencoder(12, features=3, units=(6,), latent_dim=4),
        "lstm_autoencoder", (12, 3), (4,),
        # encoder LSTM(6) on 3, code LSTM(4) on 6; decoder LSTM(6) on 4, Dense 6 -> 3 per step
        _lstm_params(6, 3) + _lstm_params(4, 6) + _lstm_params(6, 4) + (6 * 3 + 3)),
    "lstm_deep": (
        lambda: build_lstm_autoencoder(10, units=(5, 3), latent_dim=2),
        "lstm_autoencoder", (10, 1), (2,),
        _lstm_params(5, 1) + _lstm_params(3, 5) + _lstm_params(2, 3)
        + _lstm_params(3, 2) + _lstm_params(5, 3) + (5 * 1 + 1)),
}


def _predict(model, x):
    return model.predict(x, batch_size=len(x), verbose=0)


@pytest.mark.parametrize("case", list(CASES))
def test_shapes_names_and_shared_weights(case):
    build, name, shape, code_shape, _ = CASES[case]
    parts = build()
    assert isinstance(parts, AutoencoderParts)
    encoder, decoder, autoencoder = parts
    assert (encoder.name, decoder.name, autoencoder.name) == ("encoder", "decoder", name)
    x = _sines(5, *shape)
    z = _predict(encoder, x)
    assert z.shape == (5, *code_shape)
    assert _predict(decoder, z).shape == (5, *shape)
    x_hat = _predict(autoencoder, x)
    assert x_hat.shape == (5, *shape)
    # The autoencoder is decoder(encoder(x)) with the same layers, not copies.
    np.testing.assert_allclose(x_hat, _predict(decoder, z), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", list(CASES))
def test_parameter_counts_by_hand(case):
    build, _, _, _, expected = CASES[case]
    encoder, decoder, autoencoder = build()
    assert autoencoder.count_params() == expected
    assert encoder.count_params() + decoder.count_params() == expected


def test_lstm_layer_count_matches_the_formula():
    encoder, _, _ = build_lstm_autoencoder(7, features=2, units=(9,), latent_dim=3)
    assert encoder.get_layer("encoder_lstm_0").count_params() == 4 * (9 * (9 + 2) + 9) == 432
    assert encoder.get_layer("code").count_params() == 4 * (3 * (3 + 9) + 3) == 156


def test_conv1d_defaults_are_the_keras_io_network():
    # keras.io's time-series example: Conv1D(32, 7, s2) -> Conv1D(16, 7, s2) ->
    # Conv1DTranspose(16) -> Conv1DTranspose(32) -> 1 channel, on 288 steps (no dropout here).
    encoder, _, autoencoder = build_conv1d_autoencoder(288)
    assert encoder.output_shape == (None, 72, 16)
    assert autoencoder.count_params() == (7 * 1 * 32 + 32) + (7 * 32 * 16 + 16) + (7 * 16 * 16 + 16) \
        + (7 * 16 * 32 + 32) + (7 * 32 * 1 + 1)


@pytest.mark.parametrize("case", list(CASES))
def test_one_training_step_lowers_the_loss(case):
    build, _, shape, _, _ = CASES[case]
    autoencoder = build().autoencoder
    autoencoder.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    x = _sines(32, *shape)
    before = autoencoder.evaluate(x, x, batch_size=32, verbose=0)
    autoencoder.train_on_batch(x, x)
    after = autoencoder.evaluate(x, x, batch_size=32, verbose=0)
    assert after < before, (before, after)


LOAD_SCRIPT = r"""
import json
import numpy as np
import aebook
import keras

folder = __FOLDER__
report = {}
for case in json.load(open(f"{folder}/manifest.json")):
    model = keras.saving.load_model(f"{folder}/{case}.keras")
    x = np.load(f"{folder}/{case}_x.npy")
    np.save(f"{folder}/{case}_loaded.npy", model.predict(x, batch_size=len(x), verbose=0))
    report[case] = {"name": model.name, "layers": [layer.name for layer in model.layers]}
json.dump(report, open(f"{folder}/report.json", "w"))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory, run_python):
    """Trains each model one step, saves it, reloads all of them in ONE fresh process."""
    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("sequence")
    refs = {}
    for case, (build, _, shape, _, _) in CASES.items():
        autoencoder = build().autoencoder
        x = _sines(8, *shape, seed=1)
        autoencoder.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        autoencoder.train_on_batch(x, x)
        autoencoder.save(folder / f"{case}.keras")
        np.save(folder / f"{case}_x.npy", x)
        refs[case] = {"pred": _predict(autoencoder, x), "name": autoencoder.name,
                      "layers": [layer.name for layer in autoencoder.layers]}
    (folder / "manifest.json").write_text(json.dumps(list(CASES)))
    run_python(LOAD_SCRIPT.replace("__FOLDER__", repr(str(folder))))
    return folder, refs, json.loads((folder / "report.json").read_text())


@pytest.mark.parametrize("case", list(CASES))
def test_fresh_process_load_predicts_identically(saved, case):
    folder, refs, report = saved
    np.testing.assert_array_equal(np.load(folder / f"{case}_loaded.npy"), refs[case]["pred"])
    assert report[case]["name"] == refs[case]["name"]
    assert report[case]["layers"] == refs[case]["layers"]


BAD = [
    (build_conv1d_autoencoder, {"timesteps": 0}, "timesteps must be a positive int. Received: timesteps=0"),
    (build_conv1d_autoencoder, {"timesteps": 30, "features": 0},
     "features must be a positive int. Received: features=0"),
    (build_conv1d_autoencoder, {"timesteps": 32, "filters": ()},
     "filters must be a list or tuple of positive ints (not empty). Received: filters=()"),
    (build_conv1d_autoencoder, {"timesteps": 32, "kernel_size": 2.5},
     "kernel_size must be a positive int. Received: kernel_size=2.5"),
    (build_conv1d_autoencoder, {"timesteps": 32, "strides": 0},
     "strides must be a positive int. Received: strides=0"),
    (build_conv1d_autoencoder, {"timesteps": 32, "latent_dim": 0},
     "latent_dim must be a positive int. Received: latent_dim=0"),
    (build_conv1d_autoencoder, {"timesteps": 32, "activation": "nope"}, "activation must be a Keras activation"),
    (build_conv1d_autoencoder, {"timesteps": 30, "filters": (8, 4)},
     "timesteps must be divisible by strides**len(filters)=4 (each Conv1D block divides the length by "
     "strides=2). Received: timesteps=30, filters=(8, 4), strides=2"),
    (build_conv1d_autoencoder, {"timesteps": 30, "filters": (8, 4), "strides": 3},
     "timesteps must be divisible by strides**len(filters)=9"),
    (build_lstm_autoencoder, {"timesteps": -1}, "timesteps must be a positive int. Received: timesteps=-1"),
    (build_lstm_autoencoder, {"timesteps": 10, "units": ()},
     "units must be a list or tuple of positive ints (not empty). Received: units=()"),
    (build_lstm_autoencoder, {"timesteps": 10, "units": (4, 0)},
     "units must be a list or tuple of positive ints. Received: units=(4, 0)"),
    (build_lstm_autoencoder, {"timesteps": 10, "latent_dim": None},
     "latent_dim must be a positive int. Received: latent_dim=None"),
    (build_lstm_autoencoder, {"timesteps": 10, "features": True},
     "features must be a positive int. Received: features=True"),
    (build_lstm_autoencoder, {"timesteps": 10, "output_activation": 3},
     "output_activation must be a Keras activation"),
]


@pytest.mark.parametrize(("build", "kwargs", "message"), BAD,
                         ids=[f"{b.__name__}-{'-'.join(k)}-{i}" for i, (b, k, _) in enumerate(BAD)])
def test_bad_arguments_raise_the_house_message(build, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build(**kwargs)


def test_conv1d_accepts_numpy_ints():
    _, _, autoencoder = build_conv1d_autoencoder(np.int64(16), filters=np.array([4, 2]), kernel_size=np.int32(3))
    assert autoencoder.output_shape == (None, 16, 1)


# shuffle_segments --------------------------------------------------------------------------

def test_shuffle_segments_keeps_the_values_and_changes_the_order():
    signal, _ = make_anomalous_signal(3000, 0, seed=4)
    shuffled, labels = shuffle_segments(signal, 5, 32, seed=1)
    assert shuffled.shape == signal.shape and shuffled.dtype == signal.dtype
    assert labels.dtype == np.int64 and set(np.unique(labels)) == {0, 1}
    assert labels.sum() == 5 * 32
    # Same multiset of values as the normal signal, in a different order.
    np.testing.assert_array_equal(np.sort(shuffled), np.sort(signal))
    assert not np.array_equal(shuffled, signal)
    # Outside the segments nothing moved; inside, each segment keeps its own values.
    np.testing.assert_array_equal(shuffled[labels == 0], signal[labels == 0])
    starts = np.flatnonzero(np.diff(np.r_[0, labels]) == 1)
    ends = np.flatnonzero(np.diff(np.r_[labels, 0]) == -1) + 1
    assert len(starts) == 5 and np.all(ends - starts == 32)
    for a, b in zip(starts, ends, strict=True):
        np.testing.assert_array_equal(np.sort(shuffled[a:b]), np.sort(signal[a:b]))
        assert not np.array_equal(shuffled[a:b], signal[a:b])
    # Segments are at least `gap` (50) steps apart and from both ends.
    assert starts[0] >= 50 and len(signal) - ends[-1] >= 50
    assert np.all(starts[1:] - ends[:-1] >= 50)


def test_a_window_holding_a_whole_segment_has_the_same_histogram():
    # The point of the generator: a detector that looks only at the values in a
    # window (their histogram, mean, variance) cannot tell such a window from normal.
    signal = np.sin(np.arange(1000) / 5.0)
    shuffled, labels = shuffle_segments(signal, 3, 16, seed=2)
    w_normal, w_shuffled = sliding_windows(signal, 40), sliding_windows(shuffled, 40)
    whole = sliding_windows(labels, 40).sum(axis=1) == 16
    assert whole.sum() == 3 * (40 - 16 + 1)
    np.testing.assert_array_equal(np.sort(w_shuffled[whole], axis=1), np.sort(w_normal[whole], axis=1))
    assert np.all(np.abs(w_shuffled[whole] - w_normal[whole]).max(axis=1) > 0)
    assert np.all(window_labels(labels, 40)[whole] == 1)


def test_shuffle_segments_is_seeded():
    signal = np.arange(500.0)
    a = shuffle_segments(signal, 3, 10, seed=7)
    b = shuffle_segments(signal, 3, 10, seed=7)
    c = shuffle_segments(signal, 3, 10, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_shuffle_segments_never_returns_an_unshuffled_segment():
    # length 2 has one non-identity permutation; it must be the one chosen every time.
    signal = np.arange(300.0)
    for seed in range(20):
        shuffled, labels = shuffle_segments(signal, 4, 2, gap=10, seed=seed)
        assert np.sum(shuffled != signal) == 8, seed


def test_shuffle_segments_zero_segments_is_a_copy():
    signal = np.arange(100.0)
    shuffled, labels = shuffle_segments(signal, 0, 10)
    np.testing.assert_array_equal(shuffled, signal)
    assert shuffled is not signal and labels.sum() == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_segments": -1}, "n_segments must be a non-negative int. Received: n_segments=-1"),
    ({"length": 1}, "length must be an int >= 2 (one step has no order to shuffle). Received: length=1"),
    ({"length": 0}, "length must be a positive int. Received: length=0"),
    ({"gap": -5}, "gap must be a non-negative int. Received: gap=-5"),
    ({"seed": -1}, "seed must be an int in [0, 2**31 - 1"),
    ({"n_segments": 5, "length": 40}, "5 segments of 40 steps with gaps of 50 steps do not fit in the signal. "
                                      "Received: len(signal)=300"),
])
def test_shuffle_segments_bad_arguments(kwargs, message):
    args = {"n_segments": 2, "length": 10, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        shuffle_segments(np.arange(300.0), **args)


def test_shuffle_segments_rejects_a_2d_signal():
    with pytest.raises(ValueError, match=re.escape("signal must be a 1-D series. Received: signal.shape=(10, 2)")):
        shuffle_segments(np.zeros((10, 2)), 1, 2)

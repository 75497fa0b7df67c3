"""Helpers the chapters share, written once in aebook (issue 15, "define once").

Each has a known answer here: the Gaussian KL and active-unit count of constructed
codes, the set-level PSNR of a known error, the timed fit of a compiled model, and the
digit judge on data whose label is written in the pixels.
"""

import time

import keras
import numpy as np
import pytest

from aebook import metrics
from aebook.training import Timer, step_seconds, timed_fit

# ------------------------------------------------------------------------ gaussian_kl


def test_gaussian_kl_is_zero_at_the_prior_and_matches_hand_values():
    np.testing.assert_allclose(metrics.gaussian_kl(np.zeros((3, 4)), np.zeros((3, 4))), 0.0)
    # one dimension: mean 1, var e: 1/2 (1 + e - 1 - 1) = (e - 1) / 2
    np.testing.assert_allclose(metrics.gaussian_kl([[1.0]], [[1.0]]), [(np.e - 1) / 2])
    # sums over dimensions, one value per row
    kl = metrics.gaussian_kl([[2.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, np.log(4.0)]])
    np.testing.assert_allclose(kl, [2.0, 0.5 * (4.0 - 1.0 - np.log(4.0))])


def test_gaussian_kl_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    mean, log_var = np.array([[0.7, -1.2]]), np.array([[-0.5, 0.8]])
    z = mean + np.exp(0.5 * log_var) * rng.standard_normal((200_000, 2))
    log_q = -0.5 * np.sum(np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var), axis=1)
    log_p = -0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=1)
    np.testing.assert_allclose(metrics.gaussian_kl(mean, log_var), [np.mean(log_q - log_p)],
                               rtol=0.02)


def test_gaussian_kl_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        metrics.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        metrics.gaussian_kl(np.zeros(3), np.zeros(3))


def test_vae_elbo_terms_kl_is_gaussian_kl():
    # a linear "encoder" whose outputs are known: the KL term must be gaussian_kl of them
    x = np.random.default_rng(1).uniform(size=(5, 6)).astype("float32")
    inputs = keras.Input(shape=(6,))
    mean = keras.layers.Dense(2, kernel_initializer="ones", bias_initializer="zeros")(inputs)
    log_var = keras.layers.Dense(2, kernel_initializer="zeros", bias_initializer="ones")(inputs)
    encoder = keras.Model(inputs, [mean, log_var])
    z = keras.Input(shape=(2,))
    decoder = keras.Model(z, keras.layers.Dense(6, activation="sigmoid")(z))
    _, kl = metrics.vae_elbo_terms(encoder, decoder, x)
    expected = metrics.gaussian_kl(np.repeat(x.sum(axis=1, keepdims=True), 2, axis=1),
                                   np.ones((5, 2)))
    np.testing.assert_allclose(kl, expected, rtol=1e-5)


# ---------------------------------------------------------------------- active_units


def test_active_units_counts_dimensions_that_vary():
    rng = np.random.default_rng(0)
    z = np.column_stack([rng.normal(0, 1.0, 500), rng.normal(0, 0.01, 500), np.full(500, 3.0),
                         rng.normal(0, 0.5, 500)])
    assert metrics.active_units(z) == 2  # variances 1, 1e-4, 0, 0.25
    assert metrics.active_units(z, threshold=0.5) == 1
    assert metrics.active_units(z, threshold=0.0) == 3


def test_active_units_validates():
    with pytest.raises(ValueError, match="threshold"):
        metrics.active_units(np.zeros((3, 2)), threshold=-1.0)
    with pytest.raises(ValueError, match="2-D"):
        metrics.active_units(np.zeros(3))


# -------------------------------------------------------------------------- set_psnr


def test_set_psnr_is_the_psnr_of_the_mean_squared_error():
    x = np.full((3, 4), 0.5)
    x_hat = x + np.array([[0.1], [0.0], [0.0]])  # MSEs 0.01, 0, 0: set MSE 0.01 / 3
    assert metrics.set_psnr(x, x_hat) == pytest.approx(10 * np.log10(300.0))
    # the mean of per-image PSNRs is infinite here (exact images); the set PSNR is not
    assert np.isinf(metrics.psnr(x, x_hat).mean())
    assert metrics.set_psnr(x, x) == np.inf
    assert metrics.set_psnr(x * 255, x_hat * 255, data_range=255) == pytest.approx(
        10 * np.log10(300.0))


def test_set_psnr_validates_like_psnr():
    with pytest.raises(ValueError, match="same shape"):
        metrics.set_psnr(np.zeros((2, 4)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="data_range"):
        metrics.set_psnr(np.zeros((2, 4)), np.zeros((2, 4)), data_range=0)


# -------------------------------------------------------------------- Timer, timed_fit


def test_timer_measures_the_block():
    with Timer() as t:
        time.sleep(0.05)
    assert 0.04 < t.seconds < 5.0
    assert "seconds=" in repr(t)


def _tiny_autoencoder():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(2),
                              keras.layers.Dense(8, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def test_timed_fit_trains_and_times():
    x = np.random.default_rng(0).uniform(size=(64, 8)).astype("float32")
    model = _tiny_autoencoder()
    history, seconds = timed_fit(model, x, x, epochs=3, batch_size=16)
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert seconds > 0.0


def test_timed_fit_matches_plain_fit_and_keeps_user_callbacks():
    x = np.random.default_rng(0).uniform(size=(64, 8)).astype("float32")
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    history, _ = timed_fit(_tiny_autoencoder(), x, x, epochs=2, batch_size=16, shuffle=False,
                           callbacks=[record], progress=False)
    plain = _tiny_autoencoder().fit(x, x, epochs=2, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], plain.history["loss"], rtol=1e-6)
    assert seen == [0, 1]


def test_timed_fit_validates_progress():
    with pytest.raises(ValueError, match="progress"):
        timed_fit(_tiny_autoencoder(), np.zeros((4, 8)), np.zeros((4, 8)), progress="yes")


def _wide_autoencoder(width=1024):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(width, activation="relu"),
                              keras.layers.Dense(width, activation="relu"), keras.layers.Dense(8)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def test_step_seconds_ranks_models_by_their_work_and_leaves_them_untrained():
    x = np.random.default_rng(0).uniform(size=(256, 8)).astype("float32")
    small, wide = _tiny_autoencoder(), _wide_autoencoder()
    before = [w.copy() for w in wide.get_weights()]
    seconds = step_seconds({"small": (small, x), "wide": (wide, x)}, batch_size=32, steps=4,
                           repeats=3)
    assert list(seconds) == ["small", "wide"]
    assert all(0.0 < s < 5.0 for s in seconds.values())
    # about a million multiply-adds per image against a few dozen
    assert seconds["wide"] > 3 * seconds["small"], seconds
    for w, w0 in zip(wide.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, w0)
    assert int(keras.ops.convert_to_numpy(wide.optimizer.iterations)) == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"runs": {}}, "runs must be a non-empty dict"),
    ({"batch_size": 0}, "batch_size must be a positive int"),
    ({"steps": 1.5}, "steps must be a positive int"),
    ({"repeats": -1}, "repeats must be a positive int"),
    ({"batch_size": 64, "steps": 8}, "at least batch_size \\* steps = 512 rows"),
])
def test_step_seconds_validates(kwargs, match):
    x = np.zeros((256, 8), "float32")
    args = {"runs": {"tiny": (_tiny_autoencoder(), x)}, "batch_size": 32, "steps": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        step_seconds(args.pop("runs"), **args)


def test_step_seconds_needs_a_compiled_model():
    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(8)])
    with pytest.raises(ValueError, match="must be compiled"):
        step_seconds({"raw": (model, np.zeros((64, 8), "float32"))}, batch_size=8, steps=2)


# ------------------------------------------------------------------------ digit judge


def _labelled_blobs(n=600, seed=0):
    """Images whose label is written in them: class c lights pixels 10c..10c+9."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.uniform(0, 0.3, (n, 100)).astype("float32")
    for c in range(10):
        x[y == c, 10 * c:10 * c + 10] = 1.0
    return x, y


def test_digit_judge_learns_a_labelled_pattern_and_scores_likeness():
    x, y = _labelled_blobs()
    judge = metrics.train_digit_judge(x, y, epochs=5, batch_size=32, learning_rate=1e-2, seed=3)
    assert judge.name == "digit_judge"
    probs = metrics.judge_probabilities(judge, x[:100])
    assert probs.shape == (100, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(probs.argmax(axis=1) == y[:100]) > 0.95
    # clear patterns are confidently classified; flat grey ones are not
    assert metrics.digit_likeness(judge, x[:100]) > 0.8
    grey = np.full((100, 100), 0.3, dtype="float32")
    assert metrics.digit_likeness(judge, grey, binarize=False) < 0.6


def test_digit_judge_is_reproducible_and_labels_must_align():
    x, y = _labelled_blobs(200)
    a = metrics.train_digit_judge(x, y, epochs=1, seed=5)
    b = metrics.train_digit_judge(x, y, epochs=1, seed=5)
    np.testing.assert_array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))
    with pytest.raises(ValueError, match="y_train"):
        metrics.train_digit_judge(x, y[:-1])


# ------------------------------------------------------------------ dense_param_counts


def test_dense_param_counts_matches_keras():
    from aebook.models import build_deep_autoencoder, build_vanilla_autoencoder, dense_param_counts

    assert dense_param_counts([784, 32, 784]) == [784 * 32 + 32, 32 * 784 + 784]
    assert sum(dense_param_counts([784, 32, 784])) == \
        build_vanilla_autoencoder().autoencoder.count_params()
    sizes = [20, 8, 4, 3, 4, 8, 20]
    parts = build_deep_autoencoder(input_dim=20, hidden_dims=(8, 4), latent_dim=3)
    assert sum(dense_param_counts(sizes)) == parts.autoencoder.count_params()
    assert sum(dense_param_counts(sizes[:4])) == parts.encoder.count_params()


@pytest.mark.parametrize("sizes", [[784], [], [784, 0, 784], (784, 2.5), "784,32", None])
def test_dense_param_counts_rejects_bad_sizes(sizes):
    from aebook.models import dense_param_counts

    with pytest.raises(ValueError, match="sizes must be"):
        dense_param_counts(sizes)


# -------------------------------------------------------------------- labelled_subset


def test_labelled_subset_draws_per_class_and_keeps_labels():
    from aebook.data import labelled_subset

    y = np.random.default_rng(0).integers(0, 10, 1000)
    idx = labelled_subset(y, 7, seed=3)
    assert idx.shape == (70,) and len(set(idx.tolist())) == 70
    np.testing.assert_array_equal(y[idx], np.repeat(np.arange(10), 7))
    np.testing.assert_array_equal(idx, labelled_subset(y, 7, seed=3))
    assert not np.array_equal(idx, labelled_subset(y, 7, seed=4))
    # the draw the chapters made before it moved here
    rng = np.random.default_rng(3)
    old = np.concatenate([rng.choice(np.flatnonzero(y == c), 7, replace=False) for c in range(10)])
    np.testing.assert_array_equal(idx, old)


def test_labelled_subset_validates():
    from aebook.data import labelled_subset

    y = np.array([0, 0, 1])
    with pytest.raises(ValueError, match="per_class must be at most the size of the smallest"):
        labelled_subset(y, 2)
    with pytest.raises(ValueError, match="per_class must be a positive int"):
        labelled_subset(y, 0)
    with pytest.raises(ValueError, match="1-D"):
        labelled_subset(y.reshape(1, 3), 1)

"""aebook.score: exact smoothed scores, denoiser scores, annealed Langevin, energy distance.

Known answers: finite differences of the smoothed log-density, a single Gaussian's
and a two-point mixture's closed-form scores, the ideal (linear) denoiser of Gaussian
data, Langevin sampling of a Gaussian whose smoothed scores are exact, SciPy's 1-D
energy distance and the closed form for two shifted normal distributions.
"""

import json
import math
import subprocess
import sys

import keras
import numpy as np
import pytest
from scipy.special import erf

from aebook.score import (
    annealed_langevin,
    build_score_denoiser,
    denoiser_score,
    denoising_pairs,
    energy_distance,
    score_errors,
    smoothed_log_density,
    smoothed_score,
)

# --- smoothed_log_density / smoothed_score -------------------------------------------


def test_smoothed_log_density_of_one_point_is_a_gaussian():
    center = np.array([[0.3, -1.2]])
    x = np.array([[0.0, 0.0], [1.0, 2.0]])
    sigma = 0.7
    expected = -((x - center) ** 2).sum(1) / (2 * sigma**2) - np.log(2 * np.pi * sigma**2)
    np.testing.assert_allclose(smoothed_log_density(x, center, sigma), expected, rtol=1e-12)


def test_smoothed_score_of_one_point_is_the_gaussian_score():
    rng = np.random.default_rng(0)
    center = rng.normal(size=(1, 3))
    x = rng.normal(size=(5, 3))
    np.testing.assert_allclose(smoothed_score(x, center, 0.4), (center - x) / 0.16, rtol=1e-12)


def test_smoothed_score_of_two_points_has_the_tanh_closed_form():
    # p = (N(-a, s^2) + N(a, s^2)) / 2 in 1-D: d/dx log p = (a tanh(a x / s^2) - x) / s^2.
    a, s = 1.3, 0.6
    x = np.linspace(-3, 3, 13)[:, None]
    expected = (a * np.tanh(a * x / s**2) - x) / s**2
    np.testing.assert_allclose(smoothed_score(x, np.array([[-a], [a]]), s), expected, rtol=1e-10, atol=1e-12)


def test_smoothed_score_is_the_gradient_of_the_log_density():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(50, 2)) * [1.0, 0.3]
    x = rng.normal(size=(20, 2))
    sigma, h = 0.25, 1e-5
    numeric = np.stack([
        (smoothed_log_density(x + h * e, data, sigma) - smoothed_log_density(x - h * e, data, sigma)) / (2 * h)
        for e in np.eye(2)], axis=1)
    np.testing.assert_allclose(smoothed_score(x, data, sigma), numeric, rtol=1e-5, atol=1e-5)


def test_smoothed_score_is_the_same_in_chunks(monkeypatch):
    rng = np.random.default_rng(2)
    data, x = rng.normal(size=(30, 2)), rng.normal(size=(25, 2))
    whole = smoothed_score(x, data, 0.3)
    whole_log = smoothed_log_density(x, data, 0.3)
    monkeypatch.setattr("aebook.score._CHUNK_ELEMENTS", 60)  # 2 rows per block
    np.testing.assert_allclose(smoothed_score(x, data, 0.3), whole, rtol=1e-12)
    np.testing.assert_allclose(smoothed_log_density(x, data, 0.3), whole_log, rtol=1e-12)


def test_smoothed_score_far_from_the_data_does_not_overflow():
    # Softmax weights with exp(-d^2 / 2 sigma^2) of order exp(-5e7): the naive formula gives 0/0.
    score = smoothed_score(np.array([[100.0]]), np.array([[0.0], [1.0]]), 0.01)
    np.testing.assert_allclose(score, [[(1.0 - 100.0) / 1e-4]], rtol=1e-12)


# --- denoiser_score ----------------------------------------------------------------------


def test_denoiser_score_of_the_ideal_gaussian_denoiser():
    # Data N(mu, s^2 I): E[x | x~] = mu + s^2 / (s^2 + sigma^2) (x~ - mu), score -(x~ - mu) / (s^2 + sigma^2).
    mu, s, sigma = np.array([0.5, -1.0]), 1.5, 0.8
    x = np.random.default_rng(3).normal(size=(10, 2))
    ideal = lambda xt: mu + s**2 / (s**2 + sigma**2) * (xt - mu)  # noqa: E731
    np.testing.assert_allclose(denoiser_score(ideal, x, sigma), -(x - mu) / (s**2 + sigma**2), rtol=1e-12)


def test_denoiser_score_of_the_identity_is_zero_and_of_a_constant_is_exact():
    x = np.random.default_rng(4).normal(size=(6, 3))
    np.testing.assert_array_equal(denoiser_score(lambda xt: xt, x, 0.3), np.zeros_like(x))
    np.testing.assert_allclose(denoiser_score(lambda xt: np.ones_like(xt), x, 0.5), (1 - x) / 0.25)


def test_denoiser_score_calls_a_noise_conditional_model_with_log_sigma():
    model = build_score_denoiser(2, hidden_dims=(8,))
    x = np.random.default_rng(5).normal(size=(7, 2)).astype("float32")
    for sigma in (0.05, 0.7):
        log_sigma = np.full((7, 1), np.log(sigma), dtype="float32")
        expected = (model.predict([x, log_sigma], verbose=0) - x) / sigma**2
        np.testing.assert_allclose(denoiser_score(model, x, sigma), expected, rtol=1e-4, atol=1e-4)


def test_denoiser_score_of_a_one_input_model():
    inp = keras.Input((2,))
    model = keras.Model(inp, keras.layers.Rescaling(0.5)(inp))  # r(x) = x / 2
    x = np.array([[2.0, -4.0]])
    np.testing.assert_allclose(denoiser_score(model, x, 1.0), [[-1.0, 2.0]], rtol=1e-6)


def test_a_model_with_a_zero_last_layer_has_zero_score():
    model = build_score_denoiser(2, hidden_dims=(8, 8))
    layer = model.get_layer("direction")
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    x = np.random.default_rng(6).normal(size=(5, 2))
    np.testing.assert_allclose(denoiser_score(model, x, 0.1), np.zeros_like(x), atol=1e-4)


# --- build_score_denoiser ----------------------------------------------------------------


def test_build_score_denoiser_shapes_and_parameter_count():
    model = build_score_denoiser(data_dim=3, hidden_dims=(16, 8))
    assert model.name == "denoiser"
    assert [t.name for t in model.inputs] == ["x_noisy", "log_sigma"]
    # (3 + 1) * 16 + 16 = 80; (16 + 1) * 8 = 136; (8 + 1) * 3 = 27.
    assert model.count_params() == 80 + 136 + 27 == 243
    out = model.predict([np.zeros((4, 3)), np.zeros((4, 1))], verbose=0)
    assert out.shape == (4, 3)
    assert model.get_layer("hidden_1").activation.__name__ == "silu"  # swish


def test_the_skip_connection_is_scaled_by_sigma():
    # r(x, sigma) - x = sigma * f(x, log sigma): at log sigma = 0 it is f, at log sigma = log 2 twice
    # f(x, log 2), so with a network whose f ignores log sigma the two differ by exactly 2.
    model = build_score_denoiser(2, hidden_dims=(4,))
    w, b = model.get_layer("hidden_1").get_weights()
    w[2] = 0.0  # the row of log sigma
    model.get_layer("hidden_1").set_weights([w, b])
    x = np.random.default_rng(7).normal(size=(5, 2)).astype("float32")
    one = model.predict([x, np.zeros((5, 1))], verbose=0) - x
    two = model.predict([x, np.full((5, 1), np.log(2.0))], verbose=0) - x
    np.testing.assert_allclose(two, 2 * one, rtol=1e-5, atol=1e-6)


def test_one_training_step_lowers_the_loss():
    data = np.random.default_rng(8).normal(size=(256, 2)) * [1.0, 0.2]
    inputs, targets, weights = denoising_pairs(data, 0.1, 1.0, copies=2, seed=0)
    keras.utils.set_random_seed(0)
    model = build_score_denoiser(2, hidden_dims=(32, 32))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    before = model.evaluate(inputs, targets, sample_weight=weights, batch_size=512, verbose=0)
    model.fit(inputs, targets, sample_weight=weights, batch_size=512, epochs=1, shuffle=False, verbose=0)
    after = model.evaluate(inputs, targets, sample_weight=weights, batch_size=512, verbose=0)
    assert after < before


LOAD_SCRIPT = r"""
import json, sys
import numpy as np
import aebook
import keras
from aebook.score import denoiser_score
folder = sys.argv[1]
model = keras.saving.load_model(f"{folder}/denoiser.keras")
x = np.load(f"{folder}/x.npy")
np.save(f"{folder}/score_loaded.npy", denoiser_score(model, x, 0.3))
json.dump({"name": model.name, "inputs": [t.name for t in model.inputs]}, open(f"{folder}/report.json", "w"))
"""


def test_keras_save_load_in_a_fresh_process(tmp_path):
    data = np.random.default_rng(9).normal(size=(128, 2))
    inputs, targets, weights = denoising_pairs(data, 0.1, 1.0, seed=1)
    keras.utils.set_random_seed(1)
    model = build_score_denoiser(2, hidden_dims=(16, 16))
    model.compile(optimizer="adam", loss="mse")
    model.fit(inputs, targets, sample_weight=weights, batch_size=64, epochs=1, verbose=0)
    model.save(tmp_path / "denoiser.keras")
    x = np.random.default_rng(10).normal(size=(32, 2))
    np.save(tmp_path / "x.npy", x)
    subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(tmp_path)], check=True, timeout=300)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == {"name": "denoiser", "inputs": ["x_noisy", "log_sigma"]}
    np.testing.assert_array_equal(np.load(tmp_path / "score_loaded.npy"), denoiser_score(model, x, 0.3))


# --- denoising_pairs ---------------------------------------------------------------------


def test_denoising_pairs_shapes_levels_and_weights():
    data = np.arange(20.0).reshape(10, 2)
    inputs, targets, weights = denoising_pairs(data, 0.05, 2.0, copies=3, seed=0)
    assert inputs["x_noisy"].shape == (30, 2) and inputs["log_sigma"].shape == (30, 1)
    assert targets.shape == (30, 2) and weights.shape == (30,)
    assert {a.dtype for a in (*inputs.values(), targets, weights)} == {np.dtype("float32")}
    np.testing.assert_array_equal(targets, np.tile(data, (3, 1)))
    sigma = np.exp(inputs["log_sigma"][:, 0].astype("float64"))
    assert np.all((sigma >= 0.05 * (1 - 1e-6)) & (sigma <= 2.0 * (1 + 1e-6)))
    np.testing.assert_allclose(weights, 1 / sigma**2, rtol=1e-5)
    again, _, _ = denoising_pairs(data, 0.05, 2.0, copies=3, seed=0)
    np.testing.assert_array_equal(again["x_noisy"], inputs["x_noisy"])


def test_denoising_pairs_noise_has_standard_deviation_sigma():
    data = np.zeros((20000, 2))
    inputs, _, _ = denoising_pairs(data, 0.3, 0.3, seed=1)
    assert abs(inputs["x_noisy"].std() - 0.3) < 0.01


# --- annealed_langevin -------------------------------------------------------------------


def test_annealed_langevin_samples_a_gaussian_from_its_exact_scores():
    mu, s = np.array([1.0, -2.0]), 0.5

    def score(x, sigma):
        return -(x - mu) / (s**2 + sigma**2)

    x0 = np.random.default_rng(0).normal(size=(4000, 2)) * 3.0
    x = annealed_langevin(score, x0, np.geomspace(2.0, 0.05, 5), steps=500, step_size=2e-3, seed=1)
    np.testing.assert_allclose(x.mean(0), mu, atol=0.05)
    np.testing.assert_allclose(x.std(0), math.sqrt(s**2 + 0.05**2), rtol=0.04)


def test_annealed_langevin_is_seeded_and_leaves_x0_alone():
    x0 = np.zeros((5, 2))
    run = lambda seed: annealed_langevin(lambda x, sigma: -x, x0, [1.0, 0.5], steps=3, step_size=0.1, seed=seed)  # noqa: E731
    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))
    np.testing.assert_array_equal(x0, 0.0)


def test_annealed_langevin_uses_the_step_schedule_of_song_and_ermon():
    # With zero noise impossible to switch off, check the drift: a constant score c moves
    # x by steps * alpha_i / 2 * c at level i, alpha_i = eps * sigma_i^2 / sigma_L^2, plus noise
    # of variance steps * alpha_i; averaged over many chains the noise vanishes.
    x0 = np.zeros((20000, 1))
    x = annealed_langevin(lambda x, sigma: np.ones_like(x), x0, [2.0, 1.0], steps=4, step_size=0.01, seed=0)
    alphas = 0.01 * np.array([4.0, 1.0])
    assert abs(x.mean() - 4 * alphas.sum() / 2) < 0.01
    assert abs(x.var() - 4 * alphas.sum()) < 0.01


# --- energy_distance ---------------------------------------------------------------------


def test_energy_distance_of_a_set_with_itself_is_zero():
    a = np.random.default_rng(0).normal(size=(100, 3))
    assert energy_distance(a, a) == 0.0
    assert energy_distance(a, a[::-1].copy()) == pytest.approx(0.0, abs=1e-12)


def test_energy_distance_is_symmetric_and_positive_for_different_sets():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 2)), rng.normal(size=(70, 2)) + 0.5
    assert energy_distance(a, b) == pytest.approx(energy_distance(b, a), rel=1e-12)
    assert energy_distance(a, b) > 0


def test_energy_distance_in_one_dimension_is_scipys_squared():
    from scipy.stats import energy_distance as scipy_energy_distance

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=40), rng.exponential(size=30)
    assert energy_distance(a[:, None], b[:, None]) == pytest.approx(scipy_energy_distance(a, b) ** 2, rel=1e-9)


def test_energy_distance_of_shifted_normals_matches_the_closed_form():
    # X ~ N(0, 1), Y ~ N(d, 1): X - Y ~ N(-d, 2), X - X' ~ N(0, 2);
    # E|N(m, v)| = sqrt(2 v / pi) exp(-m^2 / 2v) + m erf(m / sqrt(2 v)).
    def mean_abs(m, var):
        return math.sqrt(2 * var / math.pi) * math.exp(-m * m / (2 * var)) + m * erf(m / math.sqrt(2 * var))

    d = 1.0
    expected = 2 * mean_abs(d, 2.0) - 2 * mean_abs(0.0, 2.0)  # about 0.4319
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(4000, 1)), rng.normal(size=(4000, 1)) + d
    assert energy_distance(a, b) == pytest.approx(expected, abs=0.03)


# --- score_errors --------------------------------------------------------------------------


def test_score_errors_known_answers():
    exact = np.array([[1.0, 0.0], [0.0, 2.0]])
    assert score_errors(exact, exact) == (0.0, 1.0)
    assert score_errors(np.zeros_like(exact), exact) == (1.0, 0.0)
    rel, cos = score_errors(-exact, exact)
    assert rel == pytest.approx(2.0) and cos == pytest.approx(-1.0)
    rotated = np.array([[0.0, 1.0], [0.0, 2.0]])  # first vector turned by 90 degrees
    rel, cos = score_errors(rotated, exact)
    assert rel == pytest.approx(np.sqrt(2.0 / 5.0)) and cos == pytest.approx(0.5)


# --- bad arguments -----------------------------------------------------------------------


@pytest.mark.parametrize("call, message", [
    (lambda: smoothed_score(np.zeros((2, 2)), np.zeros((3, 2)), 0.0),
     "sigma must be a positive float. Received: sigma=0.0"),
    (lambda: smoothed_score(np.zeros((2, 3)), np.zeros((3, 2)), 1.0), "x must be an array with 2 columns"),
    (lambda: smoothed_log_density(np.zeros(2), np.zeros((3, 2)), 1.0), "x must be a non-empty 2-D array"),
    (lambda: smoothed_score(np.zeros((2, 2)), np.full((3, 2), np.nan), 1.0), "data must be finite"),
    (lambda: denoiser_score(lambda x: x[:, :1], np.zeros((2, 2)), 1.0),
     "denoiser must be a map whose output has the shape of x"),
    (lambda: denoiser_score("identity", np.zeros((2, 2)), 1.0), "denoiser must be a keras.Model or a callable"),
    (lambda: denoiser_score(lambda x: x, np.zeros((2, 2)), -1.0), "sigma must be a positive float"),
    (lambda: annealed_langevin(lambda x, s: x, np.zeros((2, 2)), [0.1, 1.0]), "sigmas must be a non-empty"),
    (lambda: annealed_langevin(lambda x, s: x, np.zeros((2, 2)), []), "sigmas must be a non-empty"),
    (lambda: annealed_langevin(lambda x, s: x, np.zeros((2, 2)), [1.0], steps=0),
     "steps must be a positive int. Received: steps=0"),
    (lambda: annealed_langevin(lambda x, s: x, np.zeros((2, 2)), [1.0], step_size=0),
     "step_size must be a positive float"),
    (lambda: annealed_langevin(lambda x, s: x, np.zeros((2, 2)), [1.0], seed=-1), "seed must be None or an int"),
    (lambda: annealed_langevin(lambda x, s: x[:1], np.zeros((2, 2)), [1.0]), "score_fn must be a function"),
    (lambda: annealed_langevin(None, np.zeros((2, 2)), [1.0]), "score_fn must be a callable"),
    (lambda: energy_distance(np.zeros((2, 2)), np.zeros((2, 3))), "b must be an array with 2 columns"),
    (lambda: energy_distance(np.zeros((0, 2)), np.zeros((2, 2))), "a must be a non-empty 2-D array"),
    (lambda: score_errors(np.zeros((2, 2)), np.zeros((2, 2))), "exact must be not zero everywhere"),
    (lambda: score_errors(np.zeros((3, 2)), np.ones((2, 2))), "estimate must be an array of the shape of exact"),
    (lambda: build_score_denoiser(0), "data_dim must be a positive int. Received: data_dim=0"),
    (lambda: build_score_denoiser(2, hidden_dims=()), "hidden_dims must be a list or tuple of positive ints"),
    (lambda: build_score_denoiser(2, activation="nope"), "activation must be a Keras activation"),
    (lambda: denoising_pairs(np.zeros((3, 2)), 0.5, 0.1), "sigma_max must be at least sigma_min=0.5"),
    (lambda: denoising_pairs(np.zeros((3, 2)), 0.1, 0.5, copies=0), "copies must be a positive int"),
    (lambda: denoising_pairs(np.zeros((3, 2)), 0.0, 0.5), "sigma_min must be a positive float"),
])
def test_bad_arguments_raise_the_house_message(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        call()

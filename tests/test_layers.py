"""The custom layers: Corruption, Sampling, KLDivergence, L1Sparsity, KLSparsity,
ContractiveDense (closed-form Jacobian penalty vs torch autograd)."""

import math

import keras
import numpy as np
import pytest
import torch
from keras import ops

from aebook import layers as L


def _np(t):
    return ops.convert_to_numpy(t)


def _only_loss(layer):
    assert len(layer.losses) == 1, layer.losses
    return float(_np(layer.losses[0]))


# ---------------------------------------------------------------- Corruption


@pytest.mark.parametrize("noise", ["gaussian", "salt_and_pepper", "masking"])
def test_corruption_is_identity_at_inference_and_corrupts_in_training(noise, x_flat):
    layer = L.Corruption(noise, 0.3, seed=0)
    x = x_flat[:32]
    np.testing.assert_array_equal(_np(layer(x)), x)
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)
    out = _np(layer(x, training=True))
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.mean(out != x) > 0.1
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_corruption_gaussian_output_is_clipped():
    x = np.full((100, 100), 0.5, dtype="float32")
    out = _np(L.Corruption("gaussian", 2.0, seed=0)(x, training=True))
    assert out.min() == 0.0 and out.max() == 1.0  # noise of std 2 hits both bounds
    assert np.mean(out == 0.0) > 0.3 and np.mean(out == 1.0) > 0.3


def test_corruption_masking_fraction():
    n = 200 * 500
    x = np.random.default_rng(0).uniform(0.1, 1.0, size=(200, 500)).astype("float32")  # no zeros
    out = _np(L.Corruption("masking", 0.3, seed=1)(x, training=True))
    zeroed = np.mean(out == 0.0)
    assert abs(zeroed - 0.3) < 5 * math.sqrt(0.3 * 0.7 / n)  # 5 binomial std = 0.0072
    kept = out != 0.0
    np.testing.assert_array_equal(out[kept], x[kept])  # the other pixels are untouched


def test_corruption_gaussian_std_matches_level():
    n = 200 * 500
    x = np.full((200, 500), 0.5, dtype="float32")  # mid-grey: clipping at 5 sigma is negligible
    out = _np(L.Corruption("gaussian", 0.1, seed=2)(x, training=True)).astype("float64")
    noise = out - 0.5
    assert abs(noise.mean()) < 5 * 0.1 / math.sqrt(n)
    assert abs(noise.std() - 0.1) < 5 * 0.1 / math.sqrt(2 * n)


def test_corruption_salt_and_pepper_fractions():
    n = 200 * 500
    x = np.full((200, 500), 0.5, dtype="float32")
    out = _np(L.Corruption("salt_and_pepper", 0.2, seed=3)(x, training=True))
    tol = 5 * math.sqrt(0.1 * 0.9 / n)
    assert abs(np.mean(out == 0.0) - 0.1) < tol  # pepper: level / 2
    assert abs(np.mean(out == 1.0) - 0.1) < tol  # salt: level / 2
    assert np.all((out == 0.0) | (out == 1.0) | (out == 0.5))


def test_corruption_is_reproducible_with_a_seed(x_flat):
    x = x_flat[:16]
    a = _np(L.Corruption("gaussian", 0.2, seed=5)(x, training=True))
    b = _np(L.Corruption("gaussian", 0.2, seed=5)(x, training=True))
    c = _np(L.Corruption("gaussian", 0.2, seed=6)(x, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    layer = L.Corruption("gaussian", 0.2, seed=5)
    first, second = _np(layer(x, training=True)), _np(layer(x, training=True))
    assert not np.allclose(first, second)  # a fresh corruption on every call


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"noise": "speckle"}, "noise"),
    ({"noise": "gaussian", "level": -0.1}, "level"),
    ({"noise": "masking", "level": 1.5}, "level"),
    ({"noise": "salt_and_pepper", "level": -0.5}, "level"),
    ({"seed": 1.5}, "seed"),
])
def test_corruption_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        L.Corruption(**kwargs)


# ---------------------------------------------------------------- Sampling


def test_sampling_mean_and_variance():
    n = 20000
    mean = np.tile(np.array([[1.5, -2.0]], "float32"), (n, 1))
    log_var = np.tile(np.array([[math.log(4.0), math.log(0.25)]], "float32"), (n, 1))
    z = _np(L.Sampling(seed=0)([mean, log_var])).astype("float64")
    assert z.shape == (n, 2)
    std = np.array([2.0, 0.5])
    np.testing.assert_array_less(np.abs(z.mean(axis=0) - [1.5, -2.0]), 5 * std / math.sqrt(n))
    np.testing.assert_array_less(np.abs(z.std(axis=0) - std), 5 * std / math.sqrt(2 * n))
    assert abs(np.corrcoef(z.T)[0, 1]) < 5 / math.sqrt(n)  # independent coordinates


def test_sampling_is_seeded_and_samples_every_call():
    mean, log_var = np.zeros((4, 3), "float32"), np.zeros((4, 3), "float32")
    a = _np(L.Sampling(seed=1)([mean, log_var]))
    b = _np(L.Sampling(seed=1)([mean, log_var]))
    np.testing.assert_array_equal(a, b)
    layer = L.Sampling(seed=1)
    assert not np.allclose(_np(layer([mean, log_var])), _np(layer([mean, log_var])))


# ---------------------------------------------------------------- KLDivergence


def test_kl_divergence_zero_for_standard_normal_and_passes_inputs_through():
    layer = L.KLDivergence(beta=1.0)
    mean, log_var = np.zeros((5, 3), "float32"), np.zeros((5, 3), "float32")
    out_mean, out_log_var = layer([mean, log_var])
    np.testing.assert_array_equal(_np(out_mean), mean)
    np.testing.assert_array_equal(_np(out_log_var), log_var)
    assert _only_loss(layer) == 0.0


def test_kl_divergence_hand_computed():
    layer = L.KLDivergence(beta=1.0)
    # mean = 1, log_var = 0 in 2 dims: KL = 0.5 * sum(mu^2) = 0.5 * 2 * 1 = 1.0
    layer([np.ones((4, 2), "float32"), np.zeros((4, 2), "float32")])
    assert _only_loss(layer) == pytest.approx(1.0, rel=1e-6)
    # batch mean: sample 1 as above (1.0); sample 2 has var 2 in one dim:
    # KL = -0.5 (1 + ln 2 - 0 - 2) = 0.5 (1 - ln 2); the layer adds their mean
    mean = np.array([[1.0, 1.0], [0.0, 0.0]], "float32")
    log_var = np.array([[0.0, 0.0], [math.log(2.0), 0.0]], "float32")
    layer([mean, log_var])
    expected = (1.0 + 0.5 * (1.0 - math.log(2.0))) / 2
    assert _only_loss(layer) == pytest.approx(expected, rel=1e-6)


def test_kl_divergence_beta_weights_the_term_and_is_a_variable():
    layer = L.KLDivergence(beta=0.25)
    args = [np.ones((4, 2), "float32"), np.zeros((4, 2), "float32")]
    layer(args)
    assert _only_loss(layer) == pytest.approx(0.25, rel=1e-6)
    assert [w.name for w in layer.non_trainable_weights] == ["beta"] and not layer.trainable_weights
    layer.beta.assign(3.0)  # KL annealing changes it in place
    layer(args)
    assert _only_loss(layer) == pytest.approx(3.0, rel=1e-6)


def test_gaussian_kl_matches_closed_form():
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    var = np.exp(log_var)
    expected = 0.5 * np.sum(var + mean**2 - 1 - log_var, axis=1)
    got = _np(L.gaussian_kl(ops.convert_to_tensor(mean, "float32"),
                            ops.convert_to_tensor(log_var, "float32")))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


# ---------------------------------------------------------------- sparsity penalties


def test_l1_sparsity_hand_computed():
    layer = L.L1Sparsity(weight=0.1)
    h = np.array([[1.0, -2.0], [3.0, 0.0]], "float32")
    np.testing.assert_array_equal(_np(layer(h)), h)
    # sum |h| per sample: 3 and 3; batch mean 3; times 0.1
    assert _only_loss(layer) == pytest.approx(0.3, rel=1e-6)


def test_kl_sparsity_hand_computed():
    layer = L.KLSparsity(target=0.05, weight=0.5)
    h = np.array([[0.1, 0.2], [0.3, 0.4]], "float32")
    np.testing.assert_array_equal(_np(layer(h)), h)
    rho = 0.05
    expected = 0.0
    for rho_hat in (0.2, 0.3):  # column means
        expected += rho * math.log(rho / rho_hat) + (1 - rho) * math.log((1 - rho) / (1 - rho_hat))
    expected *= 0.5
    assert expected == pytest.approx(0.5 * (0.093943 + 0.200525), abs=1e-5)
    assert _only_loss(layer) == pytest.approx(expected, rel=1e-5)


def test_kl_sparsity_zero_at_target():
    layer = L.KLSparsity(target=0.2, weight=1.0)
    layer(np.array([[0.1, 0.3], [0.3, 0.1]], "float32"))  # both column means are 0.2
    assert _only_loss(layer) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(("cls", "kwargs", "name"), [
    (L.KLSparsity, {"target": 0.0}, "target"),
    (L.KLSparsity, {"target": 1.0}, "target"),
    (L.KLSparsity, {"weight": -1.0}, "weight"),
    (L.L1Sparsity, {"weight": -0.1}, "weight"),
    (L.KLDivergence, {"beta": -1}, "beta"),
    (L.Sampling, {"seed": "0"}, "seed"),
    (L.ContractiveDense, {"units": 0}, "units"),
    (L.ContractiveDense, {"units": 4, "activation": "elu"}, "activation"),
    (L.ContractiveDense, {"units": 4, "weight": -1}, "weight"),
])
def test_layer_bad_arguments(cls, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        cls(**kwargs)


# ---------------------------------------------------------------- ContractiveDense


def _numpy_activation(name, z):
    return {"sigmoid": lambda a: 1 / (1 + np.exp(-a)), "tanh": np.tanh,
            "relu": lambda a: np.maximum(a, 0), "linear": lambda a: a}[name](z)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "linear"])
def test_contractive_penalty_equals_autograd_jacobian_norm(activation):
    rng = np.random.default_rng(1)
    d_in, units, weight = 5, 3, 0.7
    layer = L.ContractiveDense(units, activation=activation, weight=weight)
    layer.build((None, d_in))
    kernel = rng.normal(size=(d_in, units)).astype("float32")
    bias = rng.normal(size=units).astype("float32")
    layer.set_weights([kernel, bias])
    x = rng.normal(size=(6, d_in)).astype("float32")
    if activation == "relu":  # keep pre-activations away from the kink at 0
        assert np.abs(x @ kernel + bias).min() > 1e-2

    h = _np(layer(x))
    np.testing.assert_allclose(h, _numpy_activation(activation, x @ kernel + bias), rtol=1e-5,
                               atol=1e-6)
    penalty = _only_loss(layer)

    # the true Jacobian of the layer's own forward pass, one sample at a time
    norms = []
    for row in x:
        jac = torch.autograd.functional.jacobian(
            lambda v: layer(v[None, :])[0], torch.tensor(row, dtype=torch.float64).float())
        assert tuple(jac.shape) == (units, d_in)
        norms.append(float((jac.double() ** 2).sum()))
    if activation == "relu":
        assert max(norms) > min(norms)  # the on/off pattern differs between samples
    np.testing.assert_allclose(penalty, weight * np.mean(norms), rtol=1e-5)


def test_contractive_norm_per_sample_by_hand():
    # h = sigmoid(z): dh = h (1 - h); with dh = [[0.25, 0.1]] and W columns of squared
    # norms [1 + 4, 9]: ||J||^2 = 0.25^2 * 5 + 0.1^2 * 9 = 0.3125 + 0.09
    dh = np.array([[0.25, 0.1], [0.0, 1.0]], "float32")
    kernel = np.array([[1.0, 3.0], [2.0, 0.0]], "float32")
    np.testing.assert_allclose(_np(L.contractive_norm(dh, kernel)), [0.4025, 9.0], rtol=1e-6)


def test_contractive_dense_output_shape():
    layer = L.ContractiveDense(7)
    assert layer.compute_output_shape((None, 5)) == (None, 7)
    assert tuple(layer(np.zeros((2, 5), "float32")).shape) == (2, 7)


# ---------------------------------------------------------------- config round trips


ROUND_TRIP = [
    (L.Corruption, {"noise": "masking", "level": 0.25, "seed": 3}),
    (L.Sampling, {"seed": 4}),
    (L.KLDivergence, {"beta": 2.5}),
    (L.L1Sparsity, {"weight": 0.01}),
    (L.KLSparsity, {"target": 0.1, "weight": 0.02}),
    (L.ContractiveDense, {"units": 6, "activation": "tanh", "weight": 0.03}),
]


@pytest.mark.parametrize(("cls", "kwargs"), ROUND_TRIP, ids=[c.__name__ for c, _ in ROUND_TRIP])
def test_get_config_from_config_round_trip(cls, kwargs):
    layer = cls(name="the_layer", **kwargs)
    config = layer.get_config()
    for key, value in kwargs.items():
        assert config[key] == value
    clone = cls.from_config(config)
    assert type(clone) is cls and clone.name == "the_layer"
    assert clone.get_config() == config
    # registered under the package name, so keras can find the class by name
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"aebook>{cls.__name__}"
    again = keras.saving.deserialize_keras_object(serialized)
    assert type(again) is cls and again.get_config() == config

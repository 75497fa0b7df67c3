"""aebook.metrics.weight_gradient_norms against a hand-computed gradient."""

import numpy as np
import pytest

import aebook  # noqa: F401  (selects the torch backend before keras is imported)
import keras
from aebook import build_deep_autoencoder
from aebook.metrics import weight_gradient_norms


def _linear_model(kernel, bias):
    inputs = keras.Input(shape=(2,))
    dense = keras.layers.Dense(1, name="dense")
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.asarray(kernel, "float32"), np.asarray(bias, "float32")])
    return model


def test_matches_the_hand_gradient_of_the_mean_squared_error():
    model = _linear_model([[1.0], [-2.0]], [0.5])
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]], dtype="float32")
    y = np.array([[0.0], [1.0], [3.0]], dtype="float32")
    residual = x @ np.array([[1.0], [-2.0]]) + 0.5 - y  # (3, 1)
    grad_kernel = 2.0 / len(x) * x.T @ residual
    grad_bias = 2.0 / len(x) * residual.sum(axis=0)
    norms = weight_gradient_norms(model, x, y, loss="mse")
    assert list(norms) == ["dense/kernel", "dense/bias"]
    np.testing.assert_allclose(norms["dense/kernel"], np.linalg.norm(grad_kernel), rtol=1e-5)
    np.testing.assert_allclose(norms["dense/bias"], np.linalg.norm(grad_bias), rtol=1e-5)


def test_does_not_change_the_weights_and_covers_every_layer_of_an_autoencoder():
    _, _, autoencoder = build_deep_autoencoder(input_dim=16, hidden_dims=(8, 4), latent_dim=2)
    before = [w.copy() for w in autoencoder.get_weights()]
    x = np.random.default_rng(0).uniform(size=(5, 16)).astype("float32")
    norms = weight_gradient_norms(autoencoder, x, x)
    assert len(norms) == len(autoencoder.trainable_weights) == 12
    assert all(np.isfinite(n) and n >= 0 for n in norms.values())
    assert "encoder_dense_0/kernel" in norms and "reconstruction/kernel" in norms
    for a, b in zip(before, autoencoder.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_rejects_mismatched_batches():
    model = _linear_model([[1.0], [1.0]], [0.0])
    with pytest.raises(ValueError, match="same number of samples"):
        weight_gradient_norms(model, np.zeros((3, 2)), np.zeros((2, 1)))

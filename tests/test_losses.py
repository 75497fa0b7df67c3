"""aebook.losses: per-sample sums over pixels, checked against hand values."""

import math

import numpy as np
import pytest
from keras import ops

from aebook import losses


def _np(t):
    return ops.convert_to_numpy(t)


def _t(a):
    return ops.convert_to_tensor(np.asarray(a, dtype="float32"))


def test_sum_binary_crossentropy_hand_values():
    y_true = [[1.0, 0.0], [1.0, 1.0]]
    y_pred = [[0.8, 0.2], [0.5, 0.25]]
    # sample 1: -(ln 0.8 + ln 0.8); sample 2: -(ln 0.5 + ln 0.25) = 3 ln 2
    expected = [-2 * math.log(0.8), 3 * math.log(2.0)]
    got = _np(losses.sum_binary_crossentropy(_t(y_true), _t(y_pred)))
    assert got.shape == (2,)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_sum_binary_crossentropy_soft_targets_and_clipping():
    # soft target 0.5 with p = 0.5: -(0.5 ln 0.5 + 0.5 ln 0.5) = ln 2
    np.testing.assert_allclose(_np(losses.sum_binary_crossentropy(_t([[0.5]]), _t([[0.5]]))),
                               [math.log(2.0)], rtol=1e-6)
    # p = 0 for a 1 pixel is clipped to 1e-7: -ln(1e-7) = 16.118..., finite
    got = _np(losses.sum_binary_crossentropy(_t([[1.0, 0.0]]), _t([[0.0, 0.0]])))
    np.testing.assert_allclose(got, [-math.log(1e-7)], rtol=1e-4)


def test_sum_binary_crossentropy_sums_over_all_non_batch_axes():
    rng = np.random.default_rng(0)
    y_true = (rng.random((3, 4, 4, 1)) > 0.5).astype("float32")
    y_pred = rng.uniform(0.05, 0.95, size=(3, 4, 4, 1)).astype("float32")
    p = y_pred.astype("float64")
    expected = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).sum(axis=(1, 2, 3))
    got = _np(losses.sum_binary_crossentropy(_t(y_true), _t(y_pred)))
    assert got.shape == (3,)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_sum_squared_error_hand_values():
    y_true = [[1.0, 0.0, 0.5], [0.0, 0.0, 0.0]]
    y_pred = [[0.5, 0.5, 0.5], [1.0, 1.0, 0.1]]
    # 0.25 + 0.25 + 0 = 0.5 and 1 + 1 + 0.01 = 2.01
    np.testing.assert_allclose(_np(losses.sum_squared_error(_t(y_true), _t(y_pred))), [0.5, 2.01],
                               rtol=1e-6)
    images = np.ones((2, 2, 2, 1), "float32")
    np.testing.assert_allclose(
        _np(losses.sum_squared_error(_t(images), _t(np.zeros_like(images)))), [4.0, 4.0])


@pytest.mark.parametrize("fn", [losses.sum_binary_crossentropy, losses.sum_squared_error])
def test_keras_reduces_the_per_sample_sums_by_the_batch_mean(fn):
    """Used as a compiled loss, Keras averages the per-sample sums over the batch."""
    import keras

    y_true = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    y_pred = np.array([[0.9, 0.3], [0.4, 0.6]], "float32")
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, inputs)
    model.compile(loss=fn)
    per_sample = _np(fn(_t(y_true), _t(y_pred)))
    assert model.evaluate(y_pred, y_true, batch_size=2, verbose=0) == pytest.approx(
        per_sample.mean(), rel=1e-6)

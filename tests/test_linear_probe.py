"""Tests of `aebook.metrics.linear_probe_accuracy` on tiny generated data."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aebook.metrics import linear_probe_accuracy


def _blobs(n_per_class, seed, spread=0.5):
    """Three well-separated 2-D Gaussian blobs (centres 10 apart) with labels 0, 1, 2."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    y = np.repeat(np.arange(3), n_per_class)
    return centres[y] + spread * rng.normal(size=(len(y), 2)), y


def test_separable_blobs_give_accuracy_one():
    f_train, y_train = _blobs(50, seed=0)
    f_test, y_test = _blobs(20, seed=1)
    acc = linear_probe_accuracy(f_train, y_train, f_test, y_test)
    assert type(acc) is float and acc == 1.0


def test_features_that_carry_no_label_give_the_majority_class_accuracy():
    rng = np.random.default_rng(0)
    y_train = np.array([0] * 6 + [1] * 3 + [2])  # class 0 is the majority
    y_test = np.array([0, 0, 1, 2, 0])  # 3 of 5 are class 0
    row = rng.normal(size=4)
    f_train, f_test = np.tile(row, (len(y_train), 1)), np.tile(row, (len(y_test), 1))
    assert linear_probe_accuracy(f_train, y_train, f_test, y_test) == pytest.approx(3 / 5)


def test_labels_travel_with_their_rows():
    f_train, y_train = _blobs(50, seed=0)
    f_test, y_test = _blobs(50, seed=1)
    perm = np.random.default_rng(2).permutation(len(y_train))
    # the same permutation of rows and labels changes nothing
    assert linear_probe_accuracy(f_train[perm], y_train[perm], f_test, y_test) == 1.0
    # shuffling the labels alone breaks the link: about chance (1/3) on balanced classes
    shuffled = linear_probe_accuracy(f_train, y_train[perm], f_test, y_test)
    assert shuffled < 0.6


def test_equals_the_scaler_and_logistic_regression_pipeline():
    rng = np.random.default_rng(3)
    z_train, z_test = rng.normal(size=(120, 5)), rng.normal(size=(60, 5))
    w = rng.normal(size=5)
    y_train = (z_train @ w + rng.normal(size=120) > 0).astype(int)  # noisy: not separable
    y_test = (z_test @ w + rng.normal(size=60) > 0).astype(int)
    # columns on very different scales, so that the standardization matters
    scale, offset = np.array([1e-3, 1e-1, 1.0, 1e1, 1e3]), np.arange(5.0) * 50
    f_train, f_test = z_train * scale + offset, z_test * scale + offset
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=50))
    expected = clf.fit(f_train, y_train).score(f_test, y_test)
    assert 0.5 < expected < 1.0
    assert linear_probe_accuracy(f_train, y_train, f_test, y_test, max_iter=50) == expected


@pytest.mark.parametrize("bad, match", [
    ({"features_train": np.zeros(10)}, "features_train must be a 2-D array"),
    ({"features_test": np.zeros((4, 2, 1))}, "features_test must be a 2-D array"),
    ({"y_train": np.zeros(9)}, "y_train must be a 1-D array with one label per row"),
    ({"y_test": np.zeros((4, 1))}, "y_test must be a 1-D array with one label per row"),
    ({"features_test": np.zeros((4, 3))}, "features_test must have as many columns"),
    ({"max_iter": 0}, "max_iter must be a positive int. Received: max_iter=0"),
])
def test_rejects_bad_inputs(bad, match):
    args = {"features_train": np.arange(20.0).reshape(10, 2), "y_train": np.arange(10) % 2,
            "features_test": np.zeros((4, 2)), "y_test": np.zeros(4), "max_iter": 10}
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        linear_probe_accuracy(args.pop("features_train"), args.pop("y_train"),
                              args.pop("features_test"), args.pop("y_test"), **args)

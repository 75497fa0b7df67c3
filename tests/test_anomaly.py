"""aebook.anomaly: labelled signals, sliding windows, threshold rules and rates."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from aebook import anomaly  # noqa: E402


def test_clean_signal_is_periodic_and_seeded():
    s, labels = anomaly.make_anomalous_signal(500, 0, periods=(50,), noise_std=0.0, seed=3)
    assert s.shape == (500,) and s.dtype == np.float32 and labels.dtype == np.int64
    assert not labels.any()
    np.testing.assert_allclose(s[50:], s[:-50], atol=1e-5)
    s2, _ = anomaly.make_anomalous_signal(500, 0, periods=(50,), noise_std=0.0, seed=3)
    np.testing.assert_array_equal(s, s2)


def test_events_are_labelled_with_their_kind():
    kw = dict(periods=(40,), noise_std=0.0, shift_length=30, burst_length=20, seed=7)
    clean, _ = anomaly.make_anomalous_signal(3000, 0, **kw)
    s, labels = anomaly.make_anomalous_signal(3000, 6, **kw)
    assert np.sum(labels == 1) == 2  # two spikes, one step each
    assert np.sum(labels == 2) == 2 * 30 and np.sum(labels == 3) == 2 * 20
    diff = s - clean
    np.testing.assert_allclose(diff[labels == 0], 0, atol=1e-5)
    np.testing.assert_allclose(np.abs(diff[labels == 1]), 2.5, atol=1e-5)
    np.testing.assert_allclose(np.abs(diff[labels == 2]), 1.0, atol=1e-5)
    assert diff[labels == 3].std() > 0.2


def test_kinds_subset():
    _, labels = anomaly.make_anomalous_signal(2000, 4, kinds=("level_shift",), seed=0)
    assert set(np.unique(labels)) == {0, 2}


@pytest.mark.parametrize(
    "kwargs, match",
    [({"n_steps": 0}, "n_steps"), ({"n_anomalies": -1}, "n_anomalies"), ({"kinds": ("dip",)}, "kinds"),
     ({"noise_std": -0.1}, "noise_std"), ({"spike_height": 0}, "spike_height"), ({"periods": ()}, "periods")],
)
def test_bad_signal_arguments(kwargs, match):
    args = {"n_steps": 1000, "n_anomalies": 2} | kwargs
    with pytest.raises(ValueError, match=f"^{match} must be"):
        anomaly.make_anomalous_signal(**args)


def test_too_many_anomalies():
    with pytest.raises(ValueError, match="do not fit"):
        anomaly.make_anomalous_signal(300, 10)


def test_sliding_windows():
    x = np.arange(10)
    w = anomaly.sliding_windows(x, 4)
    assert w.shape == (7, 4)
    np.testing.assert_array_equal(w[2], [2, 3, 4, 5])
    w = anomaly.sliding_windows(x, 4, stride=3)
    np.testing.assert_array_equal(w[:, 0], [0, 3, 6])
    w[0, 0] = 99
    assert x[0] == 0, "windows are a copy"
    for bad in (dict(window=11), dict(window=0), dict(window=3, stride=0)):
        with pytest.raises(ValueError, match="must be"):
            anomaly.sliding_windows(x, **bad)
    with pytest.raises(ValueError, match="1-D"):
        anomaly.sliding_windows(np.zeros((3, 3)), 2)


def test_window_labels():
    labels = np.zeros(10, dtype=int)
    labels[5] = 3
    np.testing.assert_array_equal(anomaly.window_labels(labels, 3), [0, 0, 0, 3, 3, 3, 0, 0])


def test_threshold_rules():
    e = np.arange(1, 101, dtype=float)
    assert anomaly.percentile_threshold(e, 99) == pytest.approx(np.percentile(e, 99))
    assert anomaly.percentile_threshold(e, 100) == 100
    assert anomaly.mean_std_threshold(e, 2) == pytest.approx(e.mean() + 2 * e.std())
    assert anomaly.mean_std_threshold(e, 0) == pytest.approx(e.mean())
    assert anomaly.max_threshold(e) == 100
    with pytest.raises(ValueError, match="^q must be"):
        anomaly.percentile_threshold(e, 101)
    with pytest.raises(ValueError, match="^k must be"):
        anomaly.mean_std_threshold(e, -1)
    with pytest.raises(ValueError, match="^errors must be"):
        anomaly.max_threshold([])
    with pytest.raises(ValueError, match="^errors must be"):
        anomaly.max_threshold([1.0, np.nan])


def test_detection_rates_and_report():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    is_anomaly = np.array([0, 0, 0, 1, 1, 1])
    assert anomaly.detection_rates(scores, is_anomaly, 0.35) == (0.0, 1.0)
    assert anomaly.detection_rates(scores, is_anomaly, 0.25) == pytest.approx((1 / 3, 1.0))
    assert anomaly.detection_rates(scores, is_anomaly, 0.5) == pytest.approx((0.0, 1 / 3))
    with pytest.raises(ValueError, match="same length"):
        anomaly.detection_rates(scores, is_anomaly[:3], 0.5)
    with pytest.raises(ValueError, match="both"):
        anomaly.detection_rates(scores, np.ones(6), 0.5)
    report = anomaly.threshold_report([0.1, 0.2, 0.45], [0.1, 0.2, 0.3], scores, is_anomaly, q=100, k=1)
    assert set(report) == {"percentile", "mean_std", "max"}
    assert report["percentile"]["threshold"] == pytest.approx(0.3)
    assert report["max"]["threshold"] == pytest.approx(0.45)
    assert report["max"]["detection_rate"] == pytest.approx(2 / 3)
    assert report["mean_std"]["false_positive_rate"] == pytest.approx(1 / 3)


def test_plot_score_curves():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(50), np.ones(10)]
    fig = anomaly.plot_score_curves({"a": (y, y + rng.normal(size=60)), "b": (y, rng.normal(size=60))}, title="t")
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="^curves must be"):
        anomaly.plot_score_curves({})

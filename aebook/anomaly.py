"""Anomaly detection by reconstruction error: signals, windows, thresholds, curves.

An autoencoder trained on normal data only reconstructs normal inputs well and
unfamiliar ones badly, so its reconstruction error is an anomaly score. This
module holds the pieces around that score: a synthetic signal with labelled
anomalies, sliding windows, the three usual threshold rules and the rates a
threshold gives. Its ROC and precision-recall plot is
`aebook.plotting.plot_score_curves` (also importable from here, its old home).
"""

import numpy as np

from aebook import validation as v
from aebook.plotting import plot_score_curves  # noqa: F401 (its old home; same object)

ANOMALY_KINDS = ("spike", "level_shift", "noise_burst")
"""Anomaly types of `make_anomalous_signal`; label `i + 1` marks `ANOMALY_KINDS[i]`."""


def make_anomalous_signal(n_steps, n_anomalies=0, kinds=ANOMALY_KINDS, periods=(40, 95),
                          noise_std=0.1, spike_height=2.5, shift_height=1.0, shift_length=60,
                          burst_std=0.5, burst_length=40, seed=0):
    """A periodic signal with labelled spikes, level shifts and noise bursts.

    The normal signal is a sum of unit-amplitude sines with the given `periods`
    (in steps, random phases) plus Gaussian noise of standard deviation
    `noise_std`. Then `n_anomalies` events are injected at random,
    non-overlapping positions (at least 50 normal steps apart), cycling through
    `kinds`:

    - `"spike"`: one step jumps by `+-spike_height`;
    - `"level_shift"`: `shift_length` steps are offset by `+-shift_height`;
    - `"noise_burst"`: `burst_length` steps get extra N(0, burst_std^2) noise.

    Args:
        n_steps: length of the signal.
        n_anomalies: number of injected events (0 gives a clean signal).
        kinds: anomaly types to cycle through, a non-empty subset of
            `ANOMALY_KINDS`.
        periods: periods of the sines, positive ints.
        noise_std: standard deviation of the background noise (>= 0).
        spike_height, shift_height, burst_std: anomaly magnitudes (> 0).
        shift_length, burst_length: durations in steps (positive ints).
        seed: int seed; the same seed gives the same signal.

    Returns:
        Tuple `(signal, labels)`: `signal` float32 of shape (n_steps,);
        `labels` int64 of shape (n_steps,), 0 for normal steps and `i + 1` for
        steps of an event of kind `ANOMALY_KINDS[i]`.

    Raises:
        ValueError: for a bad argument, or if the events do not fit in `n_steps`.
    """
    n_steps = v.positive_int("n_steps", n_steps)
    n_anomalies = v.non_negative_int("n_anomalies", n_anomalies)
    if not isinstance(kinds, (list, tuple)) or not kinds or any(k not in ANOMALY_KINDS for k in kinds):
        v.fail("kinds", "a non-empty list or tuple of " + ", ".join(map(repr, ANOMALY_KINDS)), kinds)
    periods = v.positive_int_tuple("periods", periods)
    noise_std = v.non_negative_float("noise_std", noise_std)
    spike_height = v.positive_float("spike_height", spike_height)
    shift_height = v.positive_float("shift_height", shift_height)
    burst_std = v.positive_float("burst_std", burst_std)
    shift_length = v.positive_int("shift_length", shift_length)
    burst_length = v.positive_int("burst_length", burst_length)
    seed = v.seed("seed", seed)

    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    signal = sum(np.sin(2 * np.pi * t / p + rng.uniform(0, 2 * np.pi)) for p in periods)
    signal = signal + rng.normal(scale=noise_std, size=n_steps) if noise_std > 0 else signal
    labels = np.zeros(n_steps, dtype="int64")

    lengths = {"spike": 1, "level_shift": shift_length, "noise_burst": burst_length}
    events = [kinds[i % len(kinds)] for i in range(n_anomalies)]
    gap = 50
    slack = n_steps - sum(lengths[k] for k in events) - gap * (len(events) + 1)
    if slack < 0:
        raise ValueError(
            f"{n_anomalies} anomalies with gaps of {gap} steps do not fit in the signal. "
            f"Received: n_steps={n_steps}, n_anomalies={n_anomalies}"
        )
    # Spread the spare steps over the len(events) + 1 gaps at random.
    cuts = np.sort(rng.integers(0, slack + 1, size=len(events)))
    extra = np.diff(np.concatenate([[0], cuts]))
    order = rng.permutation(len(events))
    start = 0
    for i, j in enumerate(order):
        kind = events[j]
        start += gap + extra[i]
        length = lengths[kind]
        sl = slice(start, start + length)
        sign = rng.choice([-1.0, 1.0])
        if kind == "spike":
            signal[sl] += sign * spike_height
        elif kind == "level_shift":
            signal[sl] += sign * shift_height
        else:
            signal[sl] += rng.normal(scale=burst_std, size=length)
        labels[sl] = ANOMALY_KINDS.index(kind) + 1
        start += length
    return signal.astype("float32"), labels


def sliding_windows(x, window, stride=1):
    """Cuts a 1-D series into overlapping windows.

    Args:
        x: array of shape (n_steps,).
        window: window length (<= n_steps).
        stride: step between the starts of consecutive windows.

    Returns:
        Array of shape (n_windows, window), `n_windows = (n_steps - window) //
        stride + 1`, with the dtype of `x`; row `i` is `x[i * stride:i * stride +
        window]` (a copy).

    Raises:
        ValueError: for a bad `window` or `stride`, or if `x` is not 1-D.
    """
    x = np.asarray(x)
    window = v.positive_int("window", window)
    stride = v.positive_int("stride", stride)
    if x.ndim != 1:
        raise ValueError(f"x must be a 1-D series. Received: x.shape={x.shape}")
    if window > len(x):
        v.fail("window", f"at most the series length {len(x)}", window)
    return np.lib.stride_tricks.sliding_window_view(x, window)[::stride].copy()


def window_labels(labels, window, stride=1):
    """Label of each window of `sliding_windows(labels, window, stride)`.

    A window is anomalous if it contains at least one anomalous step.

    Args:
        labels: int array of shape (n_steps,), 0 for normal steps.
        window, stride: as in `sliding_windows`.

    Returns:
        int64 array of shape (n_windows,): 0 for an all-normal window, otherwise
        the largest label inside it.
    """
    return sliding_windows(np.asarray(labels, dtype="int64"), window, stride).max(axis=1)


def _errors(errors):
    errors = np.asarray(errors, dtype="float64").ravel()
    if errors.size == 0 or not np.all(np.isfinite(errors)):
        raise ValueError(f"errors must be a non-empty array of finite numbers. Received: errors.shape={errors.shape}")
    return errors


def percentile_threshold(errors, q=99.0):
    """The `q`-th percentile of reconstruction errors on normal (validation) data.

    By construction about `(100 - q)` % of normal samples like these score above
    it, so `q` sets the false-positive rate you expect.

    Args:
        errors: scores of normal samples, any shape.
        q: percentile in [0, 100].

    Returns:
        float threshold.

    Raises:
        ValueError: for bad `errors` or `q`.
    """
    q = v.bounded_float("q", q, 0, 100)
    return float(np.percentile(_errors(errors), q))


def mean_std_threshold(errors, k=3.0):
    """Mean plus `k` standard deviations of normal reconstruction errors.

    The rule assumes roughly Gaussian errors; reconstruction errors are skewed
    to the right, so the false-positive rate it gives is usually above the
    Gaussian tail probability.

    Args:
        errors: scores of normal samples, any shape.
        k: number of standard deviations (>= 0).

    Returns:
        float threshold.

    Raises:
        ValueError: for bad `errors` or `k`.
    """
    k = v.non_negative_float("k", k)
    errors = _errors(errors)
    return float(errors.mean() + k * errors.std())


def max_threshold(errors):
    """The largest reconstruction error on normal training data.

    The rule of the keras.io time-series anomaly example: flag what the model
    reconstructs worse than anything it was trained on. It depends on a single
    extreme sample and is usually the most conservative of the three rules.

    Args:
        errors: scores of normal samples, any shape.

    Returns:
        float threshold.

    Raises:
        ValueError: for bad `errors`.
    """
    return float(_errors(errors).max())


def detection_rates(scores, is_anomaly, threshold):
    """False-positive and detection rates of the rule `score > threshold`.

    Args:
        scores: anomaly scores, shape (N,).
        is_anomaly: booleans (or 0/1) of shape (N,), with both classes present.
        threshold: flag samples whose score is strictly above it.

    Returns:
        Tuple `(false_positive_rate, detection_rate)` of floats: the fraction of
        normal samples flagged and the fraction of anomalies flagged (the
        recall, or true-positive rate).

    Raises:
        ValueError: if the shapes differ or one class is missing.
    """
    scores = np.asarray(scores, dtype="float64").ravel()
    is_anomaly = np.asarray(is_anomaly).ravel().astype(bool)
    if scores.shape != is_anomaly.shape:
        raise ValueError(
            f"scores and is_anomaly must have the same length. Received: "
            f"scores.shape={scores.shape}, is_anomaly.shape={is_anomaly.shape}"
        )
    if is_anomaly.all() or not is_anomaly.any():
        raise ValueError("is_anomaly must contain both normal and anomalous samples.")
    flagged = scores > float(threshold)
    return float(flagged[~is_anomaly].mean()), float(flagged[is_anomaly].mean())


def threshold_report(train_errors, val_errors, scores, is_anomaly, q=99.0, k=3.0):
    """Applies the three threshold rules and measures the rates each gives.

    The percentile and mean + k sigma rules are fitted on `val_errors` (normal
    samples held out from training); the max rule on `train_errors`, as in the
    keras.io example. Each threshold is then applied to the test `scores`.

    Args:
        train_errors: reconstruction errors of the (normal) training samples.
        val_errors: reconstruction errors of held-out normal samples.
        scores: test scores, shape (N,).
        is_anomaly: test labels, booleans of shape (N,).
        q: percentile of `percentile_threshold`.
        k: number of standard deviations of `mean_std_threshold`.

    Returns:
        dict mapping the rule names `"percentile"`, `"mean_std"` and `"max"` to
        dicts with keys `"threshold"`, `"false_positive_rate"` and
        `"detection_rate"` (floats).

    Raises:
        ValueError: for a bad argument.
    """
    thresholds = {
        "percentile": percentile_threshold(val_errors, q),
        "mean_std": mean_std_threshold(val_errors, k),
        "max": max_threshold(train_errors),
    }
    report = {}
    for rule, threshold in thresholds.items():
        fpr, tpr = detection_rates(scores, is_anomaly, threshold)
        report[rule] = {"threshold": threshold, "false_positive_rate": fpr, "detection_rate": tpr}
    return report

"""Tests of `aebook.callbacks.CPUTimeLimit` (a CPU-time budget for `fit`).

Most tests replace the callback's clock by a fake one that advances by exactly one
CPU second per batch, so the stopping rules are checked on exact numbers; one test
uses the real clock.
"""

import math
import types

import numpy as np
import pytest

import keras
from aebook import callbacks
from aebook.callbacks import CPUTimeLimit

SAMPLES, BATCH = 64, 16  # 4 batches per epoch: one epoch costs 4 fake CPU seconds


class _FakeClock:
    """`time.process_time` stand-in; `Tick` advances it."""

    def __init__(self):
        self.now = 1000.0

    def process_time(self):
        return self.now


class _Tick(keras.callbacks.Callback):
    """Advances the fake clock by one second after each batch (runs before the limit)."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def on_train_batch_end(self, batch, logs=None):
        self.clock.now += 1.0


@pytest.fixture
def clock(monkeypatch):
    fake = _FakeClock()
    monkeypatch.setattr(callbacks, "time", types.SimpleNamespace(process_time=fake.process_time))
    return fake


def _fit(limit, epochs, clock=None):
    x = np.zeros((SAMPLES, 4), dtype="float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss="mse")
    cbs = ([_Tick(clock)] if clock is not None else []) + [limit]
    history = model.fit(x, x, epochs=epochs, batch_size=BATCH, callbacks=cbs, verbose=0)
    return len(history.history["loss"])


@pytest.mark.parametrize("minutes", [0, -1.0, True, "1", None, math.nan, math.inf])
def test_rejects_a_bad_budget(minutes):
    with pytest.raises(ValueError, match=r"minutes must be a positive float\b.*Received: minutes="):
        CPUTimeLimit(minutes)


def test_accepts_numpy_numbers():
    limit = CPUTimeLimit(np.float32(0.5))
    assert limit.minutes == 0.5 and type(limit.minutes) is float
    assert CPUTimeLimit(np.int64(2)).minutes == 2.0


def test_a_large_budget_trains_every_epoch(clock):
    limit = CPUTimeLimit(100 / 60)  # 100 s for 3 epochs of 4 s
    assert _fit(limit, epochs=3, clock=clock) == 3
    assert not limit.stopped and limit.epochs_done == 3.0


def test_stops_before_an_epoch_that_would_overrun(clock):
    # 10 s: after epoch 1 (4 s) the next ends at 8 s, go on; after epoch 2 (8 s) the
    # next would end at 12 s > 10 s, stop -- before the budget is crossed
    limit = CPUTimeLimit(10 / 60)
    assert _fit(limit, epochs=5, clock=clock) == 2
    assert limit.stopped and limit.epochs_done == 2.0


def test_stops_within_an_epoch_after_the_batch_that_crosses_the_budget(clock):
    limit = CPUTimeLimit(2.5 / 60)  # crossed by the 3rd batch (3 s) of 4
    assert _fit(limit, epochs=5, clock=clock) == 1
    assert limit.stopped and limit.epochs_done == 0.75


def test_never_stops_after_the_last_epoch(clock):
    # 5 s: after the only epoch (4 s) another would overrun, but there is none left
    limit = CPUTimeLimit(5 / 60)
    assert _fit(limit, epochs=1, clock=clock) == 1
    assert not limit.stopped and limit.epochs_done == 1.0


def test_counts_from_the_start_of_each_fit(clock):
    limit = CPUTimeLimit(10 / 60)
    assert _fit(limit, epochs=5, clock=clock) == 2
    clock.now += 1e6  # CPU time spent between the two fits does not count
    assert _fit(limit, epochs=5, clock=clock) == 2
    assert limit.stopped and limit.epochs_done == 2.0


def test_real_clock_a_tiny_budget_stops_after_the_first_batch():
    limit = CPUTimeLimit(1e-9)
    assert _fit(limit, epochs=5) == 1
    assert limit.stopped and limit.epochs_done == 1 / (SAMPLES // BATCH)

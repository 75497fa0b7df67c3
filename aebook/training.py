"""Training helpers shared by the chapters: a stopwatch and a timed `fit`.

Every chapter that compares training costs measures them the same way: wall-clock
seconds around one `model.fit` call, with the book's one-line progress bar and no
per-epoch log. `timed_fit` is that measurement, written once; `Timer` times anything
else (a PCA fit, a prediction) with the same clock. `fast_compile_kwargs` holds the
`compile` setting that closes Keras's per-step overhead against a plain PyTorch loop,
for long trainings (`benchmarks/overhead.py` measures it). `step_seconds` compares the
per-step speed of several models in a way other programs on the machine cannot tip.
"""

import time

import keras

from aebook import validation as v
from aebook.callbacks import progress_callback


class Timer:
    """Wall-clock stopwatch for a `with` block (`time.perf_counter`).

    Attributes:
        seconds: elapsed seconds, set when the block exits (`None` before).

    Example:
        >>> from aebook.training import Timer
        >>> with Timer() as t:
        ...     total = sum(range(1000))
        >>> t.seconds >= 0.0
        True
    """

    def __init__(self):
        self.seconds = None
        self._start = None

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        self.seconds = time.perf_counter() - self._start
        return False

    def __repr__(self):
        return f"Timer(seconds={self.seconds!r})"


def timed_fit(model, x, y, *, progress=True, callbacks=None, **fit_kwargs):
    """`model.fit(x, y, ...)` with the book's progress bar, timed.

    The model must be compiled. `verbose` is 0 unless given (the progress bar is one
    line that updates in place, so a chapter's HTML page shows one block of training
    output, not a line per epoch).

    Args:
        model: a compiled `keras.Model`.
        x: inputs, e.g. `x_train` of shape (N, 784).
        y: targets; `x_train` again for an autoencoder.
        progress: add `aebook.callbacks.progress_callback()` to the callbacks.
        callbacks: more Keras callbacks, run after the progress bar.
        **fit_kwargs: passed to `model.fit` (`epochs`, `batch_size`, `shuffle`,
            `validation_data`, ...).

    Returns:
        `(history, seconds)`: the `keras.callbacks.History` of the run and its
        wall-clock duration in seconds.

    Raises:
        ValueError: if `progress` is not True or False.
    """
    progress = v.flag("progress", progress)
    callbacks = ([progress_callback()] if progress else []) + list(callbacks or [])
    fit_kwargs.setdefault("verbose", 0)
    with Timer() as timer:
        history = model.fit(x, y, callbacks=callbacks, **fit_kwargs)
    return history, timer.seconds


def fast_compile_kwargs(enabled=True):
    """Keyword arguments for `model.compile` that make `fit` as fast as a PyTorch loop.

    On the torch backend, `fit` spends more Python time per step than a hand-written
    PyTorch loop over the same model (Keras's data adapter, loss wrapper, loss
    tracker, callbacks and optimizer bookkeeping): about 1.4 times the loop's time per
    epoch for the seed model (784-128-64-32, batch 256) on one CPU thread.
    `jit_compile=True` makes Keras wrap its train step in `torch.compile`, which
    removes that overhead (measured at or below the loop's own time), but compiling
    costs tens of CPU seconds once per model (and again for a batch of another size,
    such as an epoch's last, smaller batch). It pays off only for long trainings, e.g.
    the benchmarks, not for a chapter's few epochs; `benchmarks/overhead.py` measures
    both. It needs a C++ compiler on a CPU (TorchInductor compiles C++ kernels).

    Args:
        enabled: return the fast setting (True), or Keras's default, eager steps
            (False), so that one flag can switch it.

    Returns:
        dict for `model.compile(..., **fast_compile_kwargs())`:
        `{"jit_compile": enabled}`.

    Raises:
        ValueError: if `enabled` is not True or False.

    Example:
        >>> from aebook.training import fast_compile_kwargs
        >>> fast_compile_kwargs()
        {'jit_compile': True}
    """
    return {"jit_compile": v.flag("enabled", enabled)}


def step_seconds(runs, *, batch_size, steps=8, repeats=5):
    """Seconds per training step of `fit` for several models, best of interleaved rounds.

    A comparison of training speeds from two separate `fit` calls is at the mercy of
    whatever else the machine does meanwhile: a burst of other work during one of them
    slows that one alone. Here every round times `steps` steps of each model in turn,
    through `fit` on a fresh copy (same architecture, same initial weights, a new
    optimizer from the same config), and the result is each model's *fastest* round
    (`timeit`'s rule: the minimum is the measurement least disturbed by other programs).
    The given models are not trained. One untimed warm-up step per model comes first.

    Args:
        runs: dict `name -> (model, x)` of compiled autoencoders and their inputs (the
            targets are the inputs); each `x` needs at least `batch_size * steps` rows.
        batch_size: positive int, the batch size of every step.
        steps: positive int, the training steps per timed round.
        repeats: positive int, the rounds.

    Returns:
        dict `name -> seconds per step` (float), in the order of `runs`.

    Raises:
        ValueError: if `runs` is empty, a model is not compiled, an `x` has fewer than
            `batch_size * steps` rows, or an int argument is not positive.
    """
    batch_size = v.positive_int("batch_size", batch_size)
    steps = v.positive_int("steps", steps)
    repeats = v.positive_int("repeats", repeats)
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict name -> (model, x). "
                         f"Received: runs={runs!r}")
    n = batch_size * steps
    copies = {}
    for name, (model, x) in runs.items():
        if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
            raise ValueError(f"runs[{name!r}]: the model must be compiled.")
        if len(x) < n:
            raise ValueError(f"runs[{name!r}]: x needs at least batch_size * steps = {n} rows. "
                             f"Received: {len(x)} rows")
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        optimizer = type(model.optimizer).from_config(model.optimizer.get_config())
        copy.compile(optimizer=optimizer, loss=model.loss)
        x = x[:n]
        copy.fit(x[:batch_size], x[:batch_size], batch_size=batch_size, epochs=1, verbose=0)
        copies[name] = (copy, x)
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, (copy, x) in copies.items():
            with Timer() as timer:
                copy.fit(x, x, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
            best[name] = min(best[name], timer.seconds / steps)
    return best

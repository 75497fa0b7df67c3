"""Keras callbacks for training autoencoders (backend-agnostic)."""

import math
import sys
import time
import warnings

import keras
from tqdm.std import TqdmWarning
from tqdm.std import tqdm as text_tqdm

with warnings.catch_warnings():
    # tqdm.keras imports tqdm.auto, which warns in a Jupyter kernel without ipywidgets
    # ("IProgress not found"); aebook uses tqdm's text bar, which needs no widgets.
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.keras import TqdmCallback

from aebook import validation as v
from aebook import layers as L


class KLAnnealing(keras.callbacks.Callback):
    """Anneals the weight beta of a VAE's KL term linearly during training.

    KL annealing (Bowman et al. 2016) starts the VAE as a plain autoencoder
    (beta = `beta_start`, usually 0), so the decoder learns to use the code before
    the KL term pushes q(z|x) towards the prior, and raises beta linearly to
    `beta_end` over the first `warmup_epochs` epochs. Each epoch's value is set
    before the epoch starts, on every `aebook.layers.KLDivergence` layer of the
    model, and recorded in the logs (and so in `history.history["beta"]`).

    Args:
        beta_end: beta after the warm-up (non-negative float; 1.0 gives the ELBO).
        warmup_epochs: number of epochs over which beta rises (positive int); epoch
            `e` (counted from 0) trains with
            `beta_start + (beta_end - beta_start) * min(1, e / warmup_epochs)`.
        beta_start: beta of the first epoch (non-negative float).

    Raises:
        ValueError: for a bad argument, or (when training starts) a model without a
            `KLDivergence` layer.
    """

    def __init__(self, beta_end=1.0, warmup_epochs=10, beta_start=0.0):
        super().__init__()
        self.beta_end = v.non_negative_float("beta_end", beta_end)
        self.warmup_epochs = v.positive_int("warmup_epochs", warmup_epochs)
        self.beta_start = v.non_negative_float("beta_start", beta_start)
        self._layers = []

    def beta_at(self, epoch):
        """The beta used in epoch `epoch` (counted from 0), as a float."""
        epoch = int(epoch)
        fraction = min(1.0, max(0, epoch) / self.warmup_epochs)
        return self.beta_start + (self.beta_end - self.beta_start) * fraction

    def on_train_begin(self, logs=None):
        self._layers = [layer for layer in _all_layers(self.model)
                        if isinstance(layer, L.KLDivergence)]
        if not self._layers:
            raise ValueError(
                "KLAnnealing needs a model with an aebook.layers.KLDivergence layer. "
                f"Received: model={self.model.name!r}"
            )

    def on_epoch_begin(self, epoch, logs=None):
        for layer in self._layers:
            layer.beta.assign(self.beta_at(epoch))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["beta"] = float(keras.ops.convert_to_numpy(self._layers[0].beta))


def _all_layers(model):
    """Every layer of `model`, descending into nested models."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _in_ipython_kernel():
    """True inside a Jupyter kernel (JupyterLab, VS Code, nbclient), False elsewhere."""
    shell = sys.modules.get("IPython")
    shell = shell.get_ipython() if shell is not None else None
    return shell is not None and hasattr(shell, "kernel")


class ProgressBar(TqdmCallback):
    """One tqdm progress bar over the epochs of a `fit`, updated in place.

    A thin subclass of tqdm's own Keras callback, `tqdm.keras.TqdmCallback`, with
    `verbose=0` (one bar counting epochs, nothing per batch) and a text bar rather
    than a widget, so that it works in every front end and in a stored notebook:

    - In Jupyter (any IPython kernel) the bar is written to stdout with carriage
      returns, so it updates in place; the postfix shows the latest epoch's logs
      (`loss=...`, `val_loss=...`). A notebook run by nbval or nbconvert keeps only
      the final state of the bar once its streams are coalesced (carriage returns
      processed), so the built book shows a single summary line.
    - In a terminal it behaves like any tqdm bar (on stderr).
    - Where stderr is not a terminal (a CI log, a file) it refreshes at most once a
      minute, so logs are not flooded; the final line is always written.

    A new bar starts at every `fit`, so one instance can be reused. Use it with
    `verbose=0`, which turns off Keras's own progress output. Build it with
    `progress_callback`.

    Args:
        **tqdm_kwargs: passed to `tqdm.tqdm` for the bar (e.g. `desc="VAE"`,
            `mininterval=1.0`, `disable=True`).
    """

    def __init__(self, **tqdm_kwargs):
        # TqdmCallback opens its bar at once; open a disabled placeholder and make
        # the real one when training starts, when the number of epochs is known.
        super().__init__(verbose=0, tqdm_class=text_tqdm, disable=True)
        self.tqdm_kwargs = dict(tqdm_kwargs)

    def _bar_options(self):
        options = {"unit": "epoch", "dynamic_ncols": False}
        if _in_ipython_kernel():
            options.update(file=sys.stdout, mininterval=0.5)
        else:
            stream = self.tqdm_kwargs.get("file", sys.stderr)
            isatty = getattr(stream, "isatty", lambda: False)
            options.update(mininterval=0.1 if isatty() else 60.0)
        options.update(self.tqdm_kwargs)
        return options

    def on_train_begin(self, logs=None):
        if not self.epoch_bar.disable:
            self.epoch_bar.close()
        self.epoch_bar = text_tqdm(total=self.params.get("epochs"), **self._bar_options())
        self.on_epoch_end = self.bar2callback(self.epoch_bar)


def progress_callback(**tqdm_kwargs):
    """A live progress bar for `fit`: one line that updates in place, one tick per epoch.

    Pass it to `fit` together with `verbose=0`::

        model.fit(x, x, epochs=20, verbose=0,
                  callbacks=[aebook.callbacks.progress_callback()])

    In Jupyter the bar updates in place while training runs and ends as one line
    such as ``100%|##########| 20/20 [00:12<00:00, 1.6epoch/s, loss=0.0921]`` (tqdm
    draws the bar with block characters); nothing is printed per batch. See
    `ProgressBar` for the behaviour in terminals and logs.

    Args:
        **tqdm_kwargs: options of the `tqdm.tqdm` bar, e.g. `desc="denoising"`.

    Returns:
        A `ProgressBar` (a `tqdm.keras.TqdmCallback`).
    """
    return ProgressBar(**tqdm_kwargs)


class CPUTimeLimit(keras.callbacks.Callback):
    """Stops training once the process has used a budget of CPU time.

    A budget in CPU time rather than in epochs makes a benchmark comparable across
    recipes: every recipe gets the same compute, and the epochs it managed are the
    result (`benchmarks/reproduce.py` records them). CPU time is
    `time.process_time()` (all threads of this process), counted from the start of
    each `fit`, so one instance can be reused.

    - Within an epoch, training stops after the batch that crosses the budget.
    - At the end of an epoch, training stops if the next epoch, assumed as long as
      the last one, would overrun the budget (never after the last epoch: there is
      nothing left to stop).

    After `fit`, `epochs_done` is the number of epochs trained, fractional when an
    epoch was cut short (batches done / batches per epoch), and `stopped` says
    whether the budget stopped training.

    Args:
        minutes: CPU-time budget in minutes (positive float).

    Raises:
        ValueError: for a bad `minutes`.

    Example:
        >>> import numpy as np
        >>> import keras
        >>> from aebook.callbacks import CPUTimeLimit
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> limit = CPUTimeLimit(minutes=1e-9)  # spent by the first batch
        >>> x = np.zeros((64, 4), dtype="float32")
        >>> history = model.fit(x, x, epochs=5, batch_size=16, verbose=0,
        ...                     callbacks=[limit])
        >>> limit.stopped, len(history.history["loss"]), limit.epochs_done
        (True, 1, 0.25)
    """

    def __init__(self, minutes):
        super().__init__()
        self.minutes = v.positive_float("minutes", minutes)
        self.epochs_done = 0.0
        self.stopped = False
        self._start = self._epoch_start = 0.0
        self._steps = 0

    def _used(self):
        """CPU seconds used since the start of `fit`."""
        return time.process_time() - self._start

    def _stop(self):
        self.model.stop_training = self.stopped = True

    def on_train_begin(self, logs=None):
        self._start = time.process_time()
        self.epochs_done, self.stopped, self._steps = 0.0, False, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start, self._steps = self._used(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        if self._used() > 60.0 * self.minutes:
            self._stop()

    def on_epoch_end(self, epoch, logs=None):
        steps = self.params.get("steps") or self._steps
        self.epochs_done += min(1.0, self._steps / max(1, steps))
        used = self._used()
        last = epoch + 1 >= self.params.get("epochs", math.inf)  # nothing left to stop
        if not last and used + (used - self._epoch_start) > 60.0 * self.minutes:
            self._stop()

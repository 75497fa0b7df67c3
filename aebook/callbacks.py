"""Keras callbacks for training autoencoders (backend-agnostic)."""

import keras

from aebook import _validation as v
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

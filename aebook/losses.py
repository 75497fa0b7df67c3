"""Reconstruction losses summed over pixels (per-sample totals, in nats for BCE).

Keras's built-in `"mse"` and `"binary_crossentropy"` average over the pixels of an
image. That is fine for a plain autoencoder, but once a second term is added (the
KL of a VAE, a sparsity penalty) the balance between the two depends on the
reduction: the VAE's evidence lower bound needs the reconstruction term summed
over the 784 pixels. These losses return one value per sample, which Keras then
averages over the batch.
"""

import keras
from keras import ops


def _sum_over_features(values):
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="aebook")
def sum_binary_crossentropy(y_true, y_pred):
    """Binary cross-entropy summed over all non-batch axes: -log p(x|z) for a
    Bernoulli decoder, in nats. `y_pred` are probabilities in (0, 1).

    Args:
        y_true: targets in [0, 1], shape (batch, ...).
        y_pred: predicted probabilities, same shape.

    Returns:
        Tensor of shape (batch,).
    """
    y_true = ops.cast(y_true, y_pred.dtype)
    eps = 1e-7
    p = ops.clip(y_pred, eps, 1.0 - eps)
    return _sum_over_features(-(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p)))


@keras.saving.register_keras_serializable(package="aebook")
def sum_squared_error(y_true, y_pred):
    """Squared error summed over all non-batch axes (Hinton & Salakhutdinov's
    "squared error per image").

    Returns:
        Tensor of shape (batch,).
    """
    y_true = ops.cast(y_true, y_pred.dtype)
    return _sum_over_features(ops.square(y_true - y_pred))

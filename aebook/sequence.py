"""Sequence autoencoders: Conv1D and LSTM builders for `(timesteps, features)` input.

A dense autoencoder on sliding windows (the anomaly chapter's scenario C) treats a
window of 64 steps as 64 unrelated numbers. The two builders here know that the
axis is time:

- `build_conv1d_autoencoder`: strided `Conv1D` blocks that shorten the sequence,
  mirrored by strided `Conv1DTranspose` blocks, as in the keras.io time-series
  anomaly example (Vijay 2020). Its weights are shared along time, so it has far
  fewer parameters than a dense model of the same width.
- `build_lstm_autoencoder`: an LSTM encoder reads the sequence and its last state
  is the code; the decoder repeats the code at every step (`RepeatVector`) and an
  LSTM unrolls it back into a sequence, read out per step by a
  `TimeDistributed(Dense)` (Srivastava et al. 2015).

Both return `aebook.models.AutoencoderParts` of named functional models. The
windows, labels and thresholds of an anomaly detector come from `aebook.anomaly`;
`shuffle_segments` adds the one kind of anomaly that module lacks, one visible only
in the order of the values.
"""

import keras
import numpy as np

from aebook import validation as v
from aebook.models import AutoencoderParts

__all__ = ["build_conv1d_autoencoder", "build_lstm_autoencoder", "shuffle_segments"]


def _parts(encoder, decoder, name):
    """`AutoencoderParts` with the autoencoder x -> decoder(encoder(x)) named `name`."""
    inputs = keras.Input(shape=encoder.input_shape[1:], name="x")
    return AutoencoderParts(encoder, decoder, keras.Model(inputs, decoder(encoder(inputs)), name=name))


def build_conv1d_autoencoder(timesteps, features=1, filters=(32, 16), kernel_size=7, strides=2,
                             latent_dim=None, activation="relu", output_activation="linear"):
    """A 1-D convolutional autoencoder for sequences.

    Each encoder block is a `Conv1D(filters[i], kernel_size, strides, padding="same")`,
    which divides the sequence length by `strides`. The decoder mirrors it with
    `Conv1DTranspose` blocks (filters in reverse order), then a
    `Conv1D(features, kernel_size, padding="same")` named `"reconstruction"`. With the
    defaults and `timesteps=288` this is the network of the keras.io time-series
    anomaly example, without its dropout (its last layer is a stride-1
    `Conv1DTranspose`, with the same number of parameters).

    Args:
        timesteps: sequence length; divisible by `strides ** len(filters)`.
        features: values per time step (channels).
        filters: filters of the encoder's blocks, outermost first.
        kernel_size: kernel length of every convolution.
        strides: stride of every encoder (and decoder) block.
        latent_dim: None keeps the last feature map as the code, shape
            `(timesteps / strides**len(filters), filters[-1])`; an int flattens it and
            adds a linear `Dense(latent_dim)` code layer named `"code"`.
        activation: activation of the conv blocks.
        output_activation: activation of the reconstruction; `"linear"` for signals
            that are not confined to [0, 1].

    Returns:
        `AutoencoderParts`: encoder (batch, timesteps, features) -> code, decoder
        code -> (batch, timesteps, features), and the autoencoder named
        `"conv1d_autoencoder"`.

    Raises:
        ValueError: for a bad argument, or if `timesteps` is not divisible by
            `strides ** len(filters)`.

    Example:
        >>> from aebook.sequence import build_conv1d_autoencoder
        >>> encoder, decoder, autoencoder = build_conv1d_autoencoder(64, filters=(8, 4))
        >>> encoder.output_shape, autoencoder.output_shape
        ((None, 16, 4), (None, 64, 1))
    """
    timesteps = v.positive_int("timesteps", timesteps)
    features = v.positive_int("features", features)
    filters = v.positive_int_tuple("filters", filters)
    kernel_size = v.positive_int("kernel_size", kernel_size)
    strides = v.positive_int("strides", strides)
    if latent_dim is not None:
        latent_dim = v.positive_int("latent_dim", latent_dim)
    v.activation("activation", activation)
    v.activation("output_activation", output_activation)
    factor = strides ** len(filters)
    if timesteps % factor:
        raise ValueError(
            f"timesteps must be divisible by strides**len(filters)={factor} (each Conv1D "
            f"block divides the length by strides={strides}). Received: timesteps={timesteps}, "
            f"filters={filters}, strides={strides}"
        )

    x = inputs = keras.Input(shape=(timesteps, features), name="x")
    for i, f in enumerate(filters):
        x = keras.layers.Conv1D(f, kernel_size, strides=strides, padding="same",
                                activation=activation, name=f"encoder_conv_{i}")(x)
    feature_shape = tuple(x.shape[1:])
    if latent_dim is not None:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(latent_dim, name="code")(x)
    encoder = keras.Model(inputs, x, name="encoder")

    x = latent = keras.Input(shape=(latent_dim,) if latent_dim is not None else feature_shape,
                             name="z")
    if latent_dim is not None:
        x = keras.layers.Dense(int(np.prod(feature_shape)), activation=activation,
                               name="decoder_dense")(x)
        x = keras.layers.Reshape(feature_shape, name="unflatten")(x)
    for i, f in enumerate(reversed(filters)):
        x = keras.layers.Conv1DTranspose(f, kernel_size, strides=strides, padding="same",
                                         activation=activation, name=f"decoder_deconv_{i}")(x)
    outputs = keras.layers.Conv1D(features, kernel_size, padding="same",
                                  activation=output_activation, name="reconstruction")(x)
    decoder = keras.Model(latent, outputs, name="decoder")
    return _parts(encoder, decoder, "conv1d_autoencoder")


def build_lstm_autoencoder(timesteps, features=1, units=(32,), latent_dim=8,
                           output_activation="linear"):
    """An LSTM sequence autoencoder (encoder-decoder, Srivastava et al. 2015).

    The encoder is a stack of `LSTM(units[i], return_sequences=True)` layers followed
    by `LSTM(latent_dim)` named `"code"`: the code is its last hidden state, a
    summary of the whole sequence (each entry in (-1, 1), the range of `tanh`). The
    decoder repeats the code `timesteps` times (`RepeatVector`), runs
    `LSTM(u, return_sequences=True)` layers with `units` in reverse order, and maps
    each step's state to `features` values with a `TimeDistributed(Dense)` named
    `"reconstruction"`. An LSTM layer of `u` units on `d` inputs has
    `4 * (u * (u + d) + u)` parameters.

    LSTMs run step by step; on a CPU they are much slower than `Conv1D` of a
    similar size.

    Args:
        timesteps: sequence length.
        features: values per time step.
        units: units of the encoder's LSTM layers before the code, outermost first
            (not empty); the decoder uses them in reverse.
        latent_dim: code size (units of the last encoder LSTM).
        output_activation: activation of the per-step read-out.

    Returns:
        `AutoencoderParts`: encoder (batch, timesteps, features) -> (batch,
        latent_dim), decoder (batch, latent_dim) -> (batch, timesteps, features),
        and the autoencoder named `"lstm_autoencoder"`.

    Raises:
        ValueError: for a bad argument.

    Example:
        >>> from aebook.sequence import build_lstm_autoencoder
        >>> encoder, decoder, autoencoder = build_lstm_autoencoder(20, units=(4,), latent_dim=2)
        >>> encoder.output_shape, autoencoder.count_params()
        ((None, 2), 269)
    """
    timesteps = v.positive_int("timesteps", timesteps)
    features = v.positive_int("features", features)
    units = v.positive_int_tuple("units", units)
    latent_dim = v.positive_int("latent_dim", latent_dim)
    v.activation("output_activation", output_activation)

    x = inputs = keras.Input(shape=(timesteps, features), name="x")
    for i, u in enumerate(units):
        x = keras.layers.LSTM(u, return_sequences=True, name=f"encoder_lstm_{i}")(x)
    x = keras.layers.LSTM(latent_dim, name="code")(x)
    encoder = keras.Model(inputs, x, name="encoder")

    x = latent = keras.Input(shape=(latent_dim,), name="z")
    x = keras.layers.RepeatVector(timesteps, name="repeat")(x)
    for i, u in enumerate(reversed(units)):
        x = keras.layers.LSTM(u, return_sequences=True, name=f"decoder_lstm_{i}")(x)
    outputs = keras.layers.TimeDistributed(
        keras.layers.Dense(features, activation=output_activation), name="reconstruction")(x)
    decoder = keras.Model(latent, outputs, name="decoder")
    return _parts(encoder, decoder, "lstm_autoencoder")


def shuffle_segments(signal, n_segments, length, gap=50, seed=0):
    """Shuffles the steps inside random segments: an anomaly visible only in order.

    `n_segments` non-overlapping segments of `length` steps, at least `gap` steps
    apart (and from the ends), are chosen at random, and the values inside each are
    permuted at random. Every value of the result is a value of `signal`, and each
    segment keeps its own values (the permutation is never the identity): the histogram of the whole signal, and of any window
    that contains a whole segment, is unchanged. Only the order tells.

    Args:
        signal: 1-D array of shape (n_steps,), e.g. from
            `aebook.anomaly.make_anomalous_signal`.
        n_segments: number of shuffled segments (0 returns a copy).
        length: steps per segment (>= 2).
        gap: minimum number of untouched steps before, between and after segments.
        seed: int seed; the same seed gives the same segments and permutations.

    Returns:
        Tuple `(shuffled, labels)`: `shuffled` has the shape and dtype of `signal`
        and the same multiset of values; `labels` is int64 of shape (n_steps,), 1
        inside a shuffled segment and 0 elsewhere (use it with
        `aebook.anomaly.window_labels`).

    Raises:
        ValueError: for a bad argument, or if the segments do not fit in the signal.

    Example:
        >>> import numpy as np
        >>> from aebook.sequence import shuffle_segments
        >>> x = np.arange(200.0)
        >>> y, labels = shuffle_segments(x, 2, 10, gap=20, seed=0)
        >>> bool(np.array_equal(np.sort(y), x)), int(labels.sum())
        (True, 20)
    """
    signal = np.asarray(signal)
    if signal.ndim != 1:
        raise ValueError(f"signal must be a 1-D series. Received: signal.shape={signal.shape}")
    n_segments = v.non_negative_int("n_segments", n_segments)
    length = v.positive_int("length", length)
    if length < 2:
        v.fail("length", "an int >= 2 (one step has no order to shuffle)", length)
    gap = v.non_negative_int("gap", gap)
    seed = v.seed("seed", seed, allow_none=False)
    slack = len(signal) - n_segments * length - gap * (n_segments + 1)
    if slack < 0:
        raise ValueError(
            f"{n_segments} segments of {length} steps with gaps of {gap} steps do not fit in "
            f"the signal. Received: len(signal)={len(signal)}, n_segments={n_segments}, "
            f"length={length}, gap={gap}"
        )
    rng = np.random.default_rng(seed)
    shuffled = signal.copy()
    labels = np.zeros(len(signal), dtype="int64")
    # Spread the spare steps over the n_segments + 1 gaps at random.
    extra = np.diff(np.concatenate([[0], np.sort(rng.integers(0, slack + 1, size=n_segments))]))
    start = 0
    for i in range(n_segments):
        start += gap + int(extra[i])
        segment = slice(start, start + length)
        order = rng.permutation(length)
        while np.array_equal(order, np.arange(length)):  # a shuffle that moves nothing
            order = rng.permutation(length)
        shuffled[segment] = signal[segment][order]
        labels[segment] = 1
        start += length
    return shuffled, labels

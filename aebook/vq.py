"""Discrete codes: the VQ-VAE's vector quantizer, its builder, codebook diagnostics and code priors.

A VQ-VAE (van den Oord et al., 2017) replaces the continuous code of an autoencoder by
a grid of indices into a learned **codebook** of `num_codes` vectors. The pieces:

- `VectorQuantizer`: the layer. It snaps every `code_dim`-vector of its input to the
  nearest codebook vector, passes gradients straight through to the encoder
  (`z + stop_gradient(q - z)`) and adds the codebook and commitment losses with
  `add_loss`.
- `build_vq_vae`: a convolutional encoder to a small grid of code vectors, the
  quantizer, and a mirrored decoder, as `AutoencoderParts`.
- `code_indices`, `decode_indices`: images to index grids and back.
- `codebook_usage`, `perplexity`, `dead_codes` and the `CodebookMonitor` callback:
  how much of the codebook is in use.
- `reset_dead_codes` and the `DeadCodeReset` callback: one fix for dead codes
  (re-initialise unused codes from encoder outputs).
- Priors over index grids: `fit_independent_prior` (a categorical per grid
  position) and `build_code_prior` (a small autoregressive model over the grid in
  raster order), with `prior_bits_per_image` and the samplers `sample_independent`
  and `sample_autoregressive`.

Import `aebook.vq` (or `aebook`) before loading a saved VQ-VAE: that registers
`VectorQuantizer` with Keras.
"""

import keras
import numpy as np
from keras import ops

from aebook import validation as v
from aebook.models import AutoencoderParts

__all__ = [
    "CodebookMonitor",
    "DeadCodeReset",
    "VectorQuantizer",
    "build_code_prior",
    "build_vq_vae",
    "causal_context",
    "code_indices",
    "codebook_usage",
    "dead_codes",
    "decode_indices",
    "fit_code_prior",
    "fit_independent_prior",
    "get_quantizer",
    "perplexity",
    "pre_quantization_model",
    "prior_bits_per_image",
    "reset_dead_codes",
    "sample_autoregressive",
    "sample_independent",
]


@keras.saving.register_keras_serializable(package="aebook")
class VectorQuantizer(keras.layers.Layer):
    """Snaps each `code_dim`-vector to its nearest codebook vector (VQ-VAE's bottleneck).

    For an input `z` of shape `(..., code_dim)` the layer finds, for every vector,
    the index `k = argmin_j ||z - e_j||^2` of the nearest of the `num_codes` rows
    `e_j` of its codebook, and returns `z + stop_gradient(e_k - z)`: the quantized
    vectors in the forward pass, the identity in the backward pass (the
    straight-through estimator). It adds, with `add_loss`,

        mean ||stop_gradient(z) - e_k||^2 + beta * mean ||z - stop_gradient(e_k)||^2,

    the codebook loss (moves the codes towards the encoder outputs) plus the
    commitment loss (keeps the encoder outputs near their codes), both averaged
    over every element of `z`.

    Args:
        num_codes: number of codebook vectors K (>= 2); an index costs
            `log2(num_codes)` bits.
        code_dim: length D of each vector (the input's last axis).
        beta: non-negative weight of the commitment loss (0.25 in the paper).
        seed: None or an int in [0, 2**31 - 1]: seeds the codebook's initializer,
            uniform in [-1/K, 1/K].
        **kwargs: passed to `keras.layers.Layer` (`name`, ...).

    Input shape: `(batch, ..., code_dim)`. Output shape: the same.

    Example:
        >>> import numpy as np
        >>> vq = VectorQuantizer(num_codes=3, code_dim=2)
        >>> vq.build((None, 2))
        >>> _ = vq.codebook.assign(np.array([[0, 0], [1, 0], [0, 1]], "float32"))
        >>> vq.indices(np.array([[0.9, 0.2], [0.1, 0.1]], "float32")).tolist()
        [1, 0]
    """

    def __init__(self, num_codes, code_dim, beta=0.25, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_codes = v.positive_int("num_codes", num_codes)
        if self.num_codes < 2:
            v.fail("num_codes", "an int >= 2", num_codes)
        self.code_dim = v.positive_int("code_dim", code_dim)
        self.beta = v.non_negative_float("beta", beta)
        self.seed = v.seed("seed", seed)
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: self.code_dim})

    def build(self, input_shape):
        limit = 1.0 / self.num_codes
        self.codebook = self.add_weight(
            shape=(self.num_codes, self.code_dim), name="codebook",
            initializer=keras.initializers.RandomUniform(-limit, limit, seed=self.seed))

    def _nearest(self, flat):
        """Indices (M,) of the nearest codes to the rows of `flat` (M, D)."""
        codebook = ops.cast(self.codebook, flat.dtype)
        distances = (ops.sum(flat**2, axis=1, keepdims=True)
                     - 2.0 * ops.matmul(flat, ops.transpose(codebook))
                     + ops.sum(codebook**2, axis=1)[None, :])
        return ops.argmin(distances, axis=1)

    def call(self, inputs):
        flat = ops.reshape(inputs, (-1, self.code_dim))
        codes = ops.take(ops.cast(self.codebook, inputs.dtype), self._nearest(flat), axis=0)
        quantized = ops.reshape(codes, ops.shape(inputs))
        codebook_loss = ops.mean((ops.stop_gradient(inputs) - quantized) ** 2)
        commitment_loss = ops.mean((inputs - ops.stop_gradient(quantized)) ** 2)
        self.add_loss(codebook_loss + self.beta * commitment_loss)
        return inputs + ops.stop_gradient(quantized - inputs)

    def indices(self, z):
        """The index of the nearest code of every vector of `z`.

        Args:
            z: array of shape `(..., code_dim)` (pre-quantization encoder outputs).

        Returns:
            int64 NumPy array of shape `z.shape[:-1]`.
        """
        z = np.asarray(z, dtype="float32")
        if z.ndim < 1 or z.shape[-1] != self.code_dim:
            raise ValueError(f"z must have shape (..., code_dim={self.code_dim}). "
                             f"Received: z.shape={z.shape}")
        if not self.built:
            self.build(z.shape)
        flat = ops.convert_to_tensor(z.reshape(-1, self.code_dim))
        return ops.convert_to_numpy(self._nearest(flat)).astype("int64").reshape(z.shape[:-1])

    def lookup(self, indices):
        """The codebook vectors of integer `indices` (any shape): shape `(*indices.shape, code_dim)`."""
        indices = np.asarray(indices)
        if not np.issubdtype(indices.dtype, np.integer) or (
                indices.size and (indices.min() < 0 or indices.max() >= self.num_codes)):
            raise ValueError(f"indices must be ints in [0, num_codes={self.num_codes}). "
                             f"Received: indices with dtype {indices.dtype}")
        return ops.convert_to_numpy(self.codebook)[indices]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "code_dim": self.code_dim,
                "beta": self.beta, "seed": self.seed}


# ---------------------------------------------------------------- the model


def build_vq_vae(input_shape=(28, 28, 1), filters=(32, 64), code_dim=8, num_codes=64, beta=0.25,
                 kernel_size=3, activation="relu", output_activation="sigmoid", seed=None):
    """A convolutional VQ-VAE: image -> grid of code vectors -> nearest codes -> image.

    Encoder: one stride-2 `Conv2D(f, kernel_size)` per entry of `filters` (each halves
    height and width), a 1x1 `Conv2D(code_dim)` named `"pre_quantization"` (linear)
    and the `VectorQuantizer` named `"vector_quantizer"`; it outputs the quantized
    grid. Decoder: a `Conv2D(filters[-1], kernel_size)`, then one stride-2
    `Conv2DTranspose` per entry of `filters` (reversed), then a `Conv2D` to the
    input's channels. For 28x28x1 inputs and two blocks the grid is 7x7, so an image
    costs `49 * log2(num_codes)` bits.

    Args:
        input_shape: (height, width, channels); height and width divisible by
            `2**len(filters)`.
        filters: filters of the encoder's stride-2 conv blocks, outermost first.
        code_dim: length of each code vector.
        num_codes: size of the codebook (>= 2).
        beta: commitment-loss weight.
        kernel_size: size of the square kernels.
        activation: activation of the conv blocks.
        output_activation: activation of the reconstruction.
        seed: None or an int: seeds the codebook's initializer (Keras's global seed,
            `keras.utils.set_random_seed`, seeds the convolutions).

    Returns:
        `AutoencoderParts`: encoder `(batch, *input_shape)` -> quantized grid
        `(batch, h, w, code_dim)`; decoder grid -> `(batch, *input_shape)`;
        autoencoder named `"vq_vae"`. Compile the autoencoder with a
        reconstruction loss; the quantizer's losses are added to it.

    Raises:
        ValueError: for a bad argument.

    Example:
        >>> parts = build_vq_vae(filters=(4, 8), code_dim=2, num_codes=4)
        >>> parts.encoder.output_shape
        (None, 7, 7, 2)
    """
    input_shape = v.input_shape("input_shape", input_shape, ndims=(3,))
    filters = v.positive_int_tuple("filters", filters)
    code_dim = v.positive_int("code_dim", code_dim)
    kernel_size = v.positive_int("kernel_size", kernel_size)
    v.activation("activation", activation)
    v.activation("output_activation", output_activation)
    factor = 2 ** len(filters)
    if input_shape[0] % factor or input_shape[1] % factor:
        raise ValueError(
            f"input_shape height and width must be divisible by 2**len(filters)={factor} "
            f"(each conv block halves them). Received: input_shape={input_shape}, "
            f"filters={filters}")
    quantizer = VectorQuantizer(num_codes, code_dim, beta=beta, seed=seed, name="vector_quantizer")

    x = inputs = keras.Input(shape=input_shape, name="x")
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(f, kernel_size, strides=2, padding="same", activation=activation,
                                name=f"encoder_conv_{i}")(x)
    x = keras.layers.Conv2D(code_dim, 1, name="pre_quantization")(x)
    encoder = keras.Model(inputs, quantizer(x), name="encoder")

    grid = (input_shape[0] // factor, input_shape[1] // factor, code_dim)
    x = latent = keras.Input(shape=grid, name="z_q")
    x = keras.layers.Conv2D(filters[-1], kernel_size, padding="same", activation=activation,
                            name="decoder_conv")(x)
    for i, f in enumerate(reversed(filters)):
        x = keras.layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same",
                                         activation=activation, name=f"decoder_deconv_{i}")(x)
    outputs = keras.layers.Conv2D(input_shape[-1], kernel_size, padding="same",
                                  activation=output_activation, name="reconstruction")(x)
    decoder = keras.Model(latent, outputs, name="decoder")

    x = keras.Input(shape=input_shape, name="x")
    autoencoder = keras.Model(x, decoder(encoder(x)), name="vq_vae")
    return AutoencoderParts(encoder, decoder, autoencoder)


def get_quantizer(model):
    """The `VectorQuantizer` inside `model` (searched through nested models).

    Raises:
        ValueError: if `model` holds no `VectorQuantizer`, or more than one.
    """
    found = []

    def walk(layer):
        if isinstance(layer, VectorQuantizer):
            found.append(layer)
        for sub in getattr(layer, "layers", []):
            walk(sub)

    walk(model)
    if len(found) != 1:
        raise ValueError(f"model must contain exactly one VectorQuantizer. "
                         f"Received: model={getattr(model, 'name', model)!r} with {len(found)}")
    return found[0]


def pre_quantization_model(encoder):
    """A model from `encoder`'s input to its quantizer's input (the continuous `z_e`).

    Args:
        encoder: a functional model whose last step is a `VectorQuantizer`, e.g.
            `build_vq_vae(...).encoder`.

    Returns:
        `keras.Model` named `"pre_quantization_encoder"`, sharing `encoder`'s layers.
    """
    quantizer = get_quantizer(encoder)
    return keras.Model(encoder.inputs, quantizer.input, name="pre_quantization_encoder")


def code_indices(encoder, x, batch_size=1024):
    """The index grid of each image: `encoder`'s code vectors mapped to codebook indices.

    Args:
        encoder: a VQ-VAE encoder (`build_vq_vae(...).encoder`).
        x: images shaped like the encoder's input.
        batch_size: prediction batch size.

    Returns:
        int64 array of shape (N, h, w) (the grid's shape).
    """
    batch_size = v.positive_int("batch_size", batch_size)
    z_e = pre_quantization_model(encoder).predict(x, batch_size=batch_size, verbose=0)
    return get_quantizer(encoder).indices(z_e)


def decode_indices(decoder, quantizer, indices, batch_size=1024):
    """Decodes index grids: `decoder(codebook[indices])`.

    Args:
        decoder: a VQ-VAE decoder.
        quantizer: the `VectorQuantizer` whose codebook the indices refer to
            (`get_quantizer(encoder)`).
        indices: int array of shape (N, h, w).
        batch_size: prediction batch size.

    Returns:
        The decoded images, shape (N, height, width, channels).
    """
    batch_size = v.positive_int("batch_size", batch_size)
    return decoder.predict(quantizer.lookup(indices), batch_size=batch_size, verbose=0)


# ---------------------------------------------------------------- codebook diagnostics


def _index_array(name, indices, num_codes):
    num_codes = v.positive_int("num_codes", num_codes)
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer):
        v.fail(name, "an array of ints", f"array with dtype {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= num_codes):
        raise ValueError(f"{name} must lie in [0, num_codes={num_codes}). "
                         f"Received: {name} with min={indices.min()}, max={indices.max()}")
    return indices, num_codes


def codebook_usage(indices, num_codes):
    """How often each code is used: counts of shape (num_codes,) over all of `indices`.

    Args:
        indices: int array of any shape, values in [0, num_codes).
        num_codes: codebook size K.

    Returns:
        int64 array of shape (K,).

    Example:
        >>> codebook_usage([[0, 2], [2, 2]], 4).tolist()
        [1, 0, 3, 0]
    """
    indices, num_codes = _index_array("indices", indices, num_codes)
    return np.bincount(indices.ravel(), minlength=num_codes).astype("int64")


def perplexity(indices, num_codes):
    """exp(entropy) of the code-usage distribution: the effective number of codes in use.

    Equal to K when every code is used equally often, 1 when a single code is
    used. (Entropy in nats, so `log2(perplexity)` is the entropy in bits.)

    Args:
        indices: int array of any shape (not empty), values in [0, num_codes).
        num_codes: codebook size K.

    Returns:
        float in [1, K].

    Raises:
        ValueError: for empty or out-of-range `indices`.

    Example:
        >>> round(perplexity([0, 1, 2, 3], 8), 6)
        4.0
    """
    counts = codebook_usage(indices, num_codes)
    if counts.sum() == 0:
        v.fail("indices", "a non-empty array", "[]")
    p = counts[counts > 0] / counts.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def dead_codes(indices, num_codes):
    """The number of codebook vectors that no index in `indices` uses.

    Example:
        >>> dead_codes([0, 0, 3], 4)
        2
    """
    return int(np.sum(codebook_usage(indices, num_codes) == 0))


class CodebookMonitor(keras.callbacks.Callback):
    """Logs codebook usage at the end of every epoch, on fixed images.

    Adds `codes_used` (codes used at least once on `x`) and `perplexity` to the
    epoch's logs, so they appear in `history.history`.

    Args:
        encoder: the VQ-VAE encoder being trained.
        x: images to encode (a fixed sample, e.g. 1,000 training images).
        batch_size: prediction batch size.
    """

    def __init__(self, encoder, x, batch_size=1024):
        super().__init__()
        self.encoder = encoder
        self.x = x
        self.batch_size = v.positive_int("batch_size", batch_size)

    def on_epoch_end(self, epoch, logs=None):
        quantizer = get_quantizer(self.encoder)
        idx = code_indices(self.encoder, self.x, self.batch_size)
        if logs is not None:
            logs["codes_used"] = float(quantizer.num_codes - dead_codes(idx, quantizer.num_codes))
            logs["perplexity"] = perplexity(idx, quantizer.num_codes)


def reset_dead_codes(quantizer, z_e, seed=0):
    """Re-initialises every code that no vector of `z_e` uses to a random vector of `z_e`.

    Dead codes are codebook vectors that are nobody's nearest neighbour, so they
    get no gradient and stay dead; moving them onto encoder outputs gives each a
    region of code space that is actually visited.

    Args:
        quantizer: a built `VectorQuantizer`.
        z_e: pre-quantization encoder outputs, shape `(..., code_dim)`
            (`pre_quantization_model(encoder).predict(x)`).
        seed: seeds the choice of the replacement vectors (NumPy).

    Returns:
        int: the number of codes re-initialised.
    """
    seed = v.seed("seed", seed, allow_none=False)
    z_e = np.asarray(z_e, dtype="float32")
    if z_e.shape[-1:] != (quantizer.code_dim,) or z_e.size == 0:
        raise ValueError(f"z_e must be a non-empty array of shape (..., code_dim={quantizer.code_dim}). "
                         f"Received: z_e.shape={z_e.shape}")
    flat = z_e.reshape(-1, quantizer.code_dim)
    dead = np.flatnonzero(codebook_usage(quantizer.indices(flat), quantizer.num_codes) == 0)
    if len(dead):
        rng = np.random.default_rng(seed)
        rows = rng.choice(len(flat), size=len(dead), replace=len(dead) > len(flat))
        codebook = ops.convert_to_numpy(quantizer.codebook).copy()
        codebook[dead] = flat[rows]
        quantizer.codebook.assign(codebook)
    return int(len(dead))


class DeadCodeReset(keras.callbacks.Callback):
    """Calls `reset_dead_codes` every `every` training batches, on the codes of `x`.

    Args:
        encoder: the VQ-VAE encoder being trained.
        x: images whose pre-quantization outputs supply the new codes (a fixed
            sample, e.g. 2,000 training images).
        every: batches between resets.
        seed: seeds the choice of replacement vectors (reset i uses `seed + i`).

    Attributes:
        resets: list of the number of codes re-initialised at each reset.
    """

    def __init__(self, encoder, x, every=100, seed=0):
        super().__init__()
        self.encoder = encoder
        self.x = x
        self.every = v.positive_int("every", every)
        self.seed = v.seed("seed", seed, allow_none=False)
        self.resets = []
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches % self.every == 0:
            z_e = pre_quantization_model(self.encoder).predict(self.x, batch_size=1024, verbose=0)
            self.resets.append(reset_dead_codes(get_quantizer(self.encoder), z_e,
                                                seed=(self.seed + len(self.resets)) % (v.MAX_SEED + 1)))


# ---------------------------------------------------------------- priors over index grids


def _grids(indices, num_codes):
    indices, num_codes = _index_array("indices", indices, num_codes)
    if indices.ndim != 3 or len(indices) == 0:
        v.fail("indices", "a non-empty int array of shape (N, h, w)", f"shape {indices.shape}")
    return indices, num_codes


def fit_independent_prior(indices, num_codes, alpha=1.0):
    """A categorical distribution per grid position: smoothed code frequencies.

    p(k at position (i, j)) = (count + alpha) / (N + alpha * K), from the training
    grids, independently per position.

    Args:
        indices: int array (N, h, w).
        num_codes: codebook size K.
        alpha: add-alpha (Laplace) smoothing, > 0, so no code has probability 0.

    Returns:
        float64 array (h, w, K); each (i, j) row sums to 1.
    """
    indices, num_codes = _grids(indices, num_codes)
    alpha = v.positive_float("alpha", alpha)
    onehot = np.eye(num_codes)[indices]  # (N, h, w, K)
    return (onehot.sum(axis=0) + alpha) / (len(indices) + alpha * num_codes)


def sample_independent(probs, n, seed=0):
    """`n` index grids drawn position by position from `fit_independent_prior`'s `probs`.

    Returns:
        int64 array (n, h, w).
    """
    n = v.positive_int("n", n)
    rng = np.random.default_rng(v.seed("seed", seed, allow_none=False))
    probs = np.asarray(probs, dtype="float64")
    cdf = np.cumsum(probs, axis=-1)
    u = rng.uniform(size=(n, *probs.shape[:-1], 1))
    return np.minimum((u > cdf[None]).sum(axis=-1), probs.shape[-1] - 1).astype("int64")


_NEIGHBOURS = ((0, -1), (-1, -1), (-1, 0), (-1, 1))  # left, up-left, up, up-right


def causal_context(indices, num_codes):
    """The autoregressive prior's inputs: each position's earlier neighbours in raster order.

    For every grid position, the codes at left, up-left, up and up-right (all
    before it in raster order), with `num_codes` standing for "outside the grid",
    followed by the position's raster index.

    Args:
        indices: int array (N, h, w).
        num_codes: codebook size K.

    Returns:
        int64 array (N, h * w, 5): four neighbour codes in [0, K] and the position.
    """
    indices, num_codes = _grids(indices, num_codes)
    n, h, w = indices.shape
    padded = np.full((n, h + 1, w + 2), num_codes, dtype="int64")
    padded[:, 1:, 1:-1] = indices
    parts = [padded[:, 1 + di:1 + di + h, 1 + dj:1 + dj + w] for di, dj in _NEIGHBOURS]
    position = np.broadcast_to(np.arange(h * w).reshape(1, h, w), (n, h, w))
    return np.stack(parts + [position], axis=-1).reshape(n, h * w, 5)


def build_code_prior(num_codes, grid_shape, embed_dim=16, hidden_units=128, seed=None):
    """A small autoregressive prior over index grids: p(code | earlier neighbours, position).

    Embeds the four causal neighbours of `causal_context` (left, up-left, up,
    up-right; token K = outside the grid) and the position, concatenates the five
    embeddings, and maps them through `Dense(hidden_units, relu)` to a softmax over
    the K codes. The product over positions in raster order is a proper
    distribution over grids, a minimal PixelCNN-like model.

    Args:
        num_codes: codebook size K.
        grid_shape: (h, w) of the index grid.
        embed_dim: embedding size of each neighbour code and of the position.
        hidden_units: width of the hidden layer.
        seed: None or an int: seeds the initializers.

    Returns:
        Uncompiled `keras.Model` named `"code_prior"`: int input (batch, 5) ->
        probabilities (batch, K). Train it with `fit_code_prior`.
    """
    num_codes = v.positive_int("num_codes", num_codes)
    grid_shape = v.positive_int_tuple("grid_shape", grid_shape)
    if len(grid_shape) != 2:
        v.fail("grid_shape", "a pair (h, w)", grid_shape)
    embed_dim = v.positive_int("embed_dim", embed_dim)
    hidden_units = v.positive_int("hidden_units", hidden_units)
    seed = v.seed("seed", seed)

    def init(k):
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed + k)

    context = keras.Input(shape=(5,), dtype="int32", name="context")
    neighbours = keras.layers.Embedding(num_codes + 1, embed_dim, name="code_embedding",
                                        embeddings_initializer=keras.initializers.RandomUniform(
                                            -0.05, 0.05, seed=seed))(context[:, :4])
    position = keras.layers.Embedding(grid_shape[0] * grid_shape[1], embed_dim,
                                      name="position_embedding",
                                      embeddings_initializer=keras.initializers.RandomUniform(
                                          -0.05, 0.05, seed=None if seed is None else seed + 1)
                                      )(context[:, 4])
    x = keras.layers.Concatenate(name="features")(
        [keras.layers.Flatten(name="flatten")(neighbours), position])
    x = keras.layers.Dense(hidden_units, activation="relu", kernel_initializer=init(2),
                           name="hidden")(x)
    outputs = keras.layers.Dense(num_codes, activation="softmax", kernel_initializer=init(3),
                                 name="next_code")(x)
    return keras.Model(context, outputs, name="code_prior")


def fit_code_prior(prior, indices, epochs=3, batch_size=512, learning_rate=3e-3, callbacks=None):
    """Trains `build_code_prior`'s model on index grids (cross-entropy, Adam).

    Args:
        prior: the model from `build_code_prior`.
        indices: training grids, int array (N, h, w).
        epochs, batch_size, learning_rate: as in `fit`.
        callbacks: Keras callbacks (e.g. `aebook.callbacks.progress_callback()`).

    Returns:
        The `keras.callbacks.History`.
    """
    num_codes = int(prior.output_shape[-1])
    context = causal_context(indices, num_codes).reshape(-1, 5)
    targets = np.asarray(indices).reshape(-1)
    prior.compile(optimizer=keras.optimizers.Adam(v.positive_float("learning_rate", learning_rate)),
                  loss="sparse_categorical_crossentropy")
    return prior.fit(context, targets, epochs=v.positive_int("epochs", epochs),
                     batch_size=v.positive_int("batch_size", batch_size), verbose=0,
                     callbacks=list(callbacks or []))


def prior_bits_per_image(prior, indices, batch_size=4096):
    """Mean negative log-likelihood of index grids under a prior, in bits per image.

    This is also the length an ideal entropy coder driven by the prior would need
    to store the grid (the fixed-length cost is `h * w * log2(K)` bits).

    Args:
        prior: either the (h, w, K) array of `fit_independent_prior` or the model
            of `build_code_prior`.
        indices: int array (N, h, w).
        batch_size: prediction batch size (model priors).

    Returns:
        float: mean over images of `-log2 p(grid)`.
    """
    if isinstance(prior, keras.Model):
        num_codes = int(prior.output_shape[-1])
        indices, _ = _grids(indices, num_codes)
        probs = prior.predict(causal_context(indices, num_codes).reshape(-1, 5),
                              batch_size=v.positive_int("batch_size", batch_size), verbose=0)
        p = probs[np.arange(len(probs)), indices.reshape(-1)].reshape(len(indices), -1)
    else:
        probs = np.asarray(prior, dtype="float64")
        indices, _ = _grids(indices, probs.shape[-1])
        if indices.shape[1:] != probs.shape[:-1]:
            raise ValueError(f"indices must have shape (N, {probs.shape[0]}, {probs.shape[1]}). "
                             f"Received: indices.shape={indices.shape}")
        n, h, w = indices.shape
        p = probs[np.arange(h)[None, :, None], np.arange(w)[None, None, :], indices].reshape(n, -1)
    return float(np.mean(-np.sum(np.log2(np.maximum(p, 1e-30)), axis=1)))


def sample_autoregressive(prior, n, grid_shape, seed=0, batch_size=4096):
    """`n` index grids drawn from `build_code_prior`'s model, position by position in raster order.

    Returns:
        int64 array (n, h, w).
    """
    n = v.positive_int("n", n)
    h, w = v.positive_int_tuple("grid_shape", grid_shape)
    rng = np.random.default_rng(v.seed("seed", seed, allow_none=False))
    num_codes = int(prior.output_shape[-1])
    grids = np.zeros((n, h, w), dtype="int64")
    for pos in range(h * w):
        i, j = divmod(pos, w)
        context = causal_context(grids, num_codes)[:, pos]  # only earlier codes matter
        probs = prior.predict(context, batch_size=batch_size, verbose=0).astype("float64")
        cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
        grids[:, i, j] = np.minimum((rng.uniform(size=(n, 1)) > cdf).sum(axis=1), num_codes - 1)
    return grids

"""Masked autoencoders (He et al. 2022): hide most image patches, reconstruct them.

An image is cut into non-overlapping square patches (`Patchify`), each patch is
embedded by one `Dense` layer and given a learned position embedding
(`PatchPositionEmbedding`), and a random fraction `mask_ratio` of the patches of each
image is dropped (`RandomPatchMasking`). A small Transformer encoder sees only the
visible patches. A light decoder puts a learned mask token at every hidden position
(`InsertMaskTokens`), adds its own position embedding, mixes the tokens with
Transformer blocks and predicts the pixels of every patch (`Unpatchify` turns the
patches back into an image). The loss (`MaskedReconstructionLoss`) is the squared
error on the *masked* patches only: copying the visible patches earns nothing.

`build_masked_autoencoder` wires these into three functional Keras models:

- `encoder`: image -> features, for probing and fine-tuning. It encodes *all*
  patches, without masking, and pools the tokens (mean, or flattened);
- `decoder`: `[latent, ids_keep]` -> reconstructed image, where `latent` holds the
  encoded visible tokens and `ids_keep` their patch indices;
- `autoencoder`: image -> `[reconstruction, mask]`, masking in training *and* at
  inference (the task is always "fill in the hidden patches"), with the masked loss
  added by `add_loss`: compile it without a loss and train it with `fit(x, None)`.

Every layer is registered as serializable under the package name `"aebook"`, so the
models save to `.keras` and load in a fresh process after `import aebook.masked`.
"""

import keras
import numpy as np
from keras import ops

from aebook import validation as v
from aebook.models import AutoencoderParts

__all__ = [
    "InsertMaskTokens",
    "MaskedReconstructionLoss",
    "PatchPositionEmbedding",
    "Patchify",
    "RandomPatchMasking",
    "Unpatchify",
    "build_masked_autoencoder",
    "masked_patch_mse",
    "num_masked_patches",
    "patch_mask_to_pixels",
    "sincos_position_table",
]


def _patch_grid(image_shape, patch_size, name="image_shape"):
    """(rows, cols, patch_dim) of the patch grid; raises unless the patches tile the image."""
    height, width, channels = image_shape
    if height % patch_size or width % patch_size:
        v.fail(name, f"divisible into {patch_size}x{patch_size} patches (patch_size="
               f"{patch_size} must divide the height and the width)", tuple(image_shape))
    return height // patch_size, width // patch_size, patch_size * patch_size * channels


def num_masked_patches(num_patches, mask_ratio):
    """How many of `num_patches` patches a `mask_ratio` hides: `round(mask_ratio * num_patches)`.

    Args:
        num_patches: positive int.
        mask_ratio: float in [0, 1].

    Returns:
        int in [1, num_patches - 1].

    Raises:
        ValueError: if the ratio hides no patch or every patch (nothing to predict, or
            nothing to predict it from).

    Example:
        >>> num_masked_patches(16, 0.75)
        12
    """
    num_patches = v.positive_int("num_patches", num_patches)
    mask_ratio = v.fraction("mask_ratio", mask_ratio)
    n = int(round(mask_ratio * num_patches))
    if not 1 <= n <= num_patches - 1:
        v.fail("mask_ratio", f"a fraction that hides at least one and at most "
               f"{num_patches - 1} of the {num_patches} patches", mask_ratio)
    return n


def _patchify(x, patch_size):
    """(B, H, W, C) -> (B, N, p*p*C), patches in row-major order, pixels row-major inside."""
    _, height, width, channels = x.shape
    rows, cols = height // patch_size, width // patch_size
    x = ops.reshape(x, (-1, rows, patch_size, cols, patch_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, rows * cols, patch_size * patch_size * channels))


@keras.saving.register_keras_serializable(package="aebook")
class Patchify(keras.layers.Layer):
    """Cuts images into non-overlapping square patches, each flattened to a vector.

    Args:
        patch_size: positive int, the side of a patch in pixels; it must divide the
            image's height and width.
        **kwargs: passed to `keras.layers.Layer` (`name`, ...).

    Input shape: (batch, H, W, C). Output shape: (batch, (H/p)*(W/p), p*p*C), the
    patches in row-major order (left to right, then top to bottom).

    Example:
        >>> import numpy as np
        >>> tuple(Patchify(7)(np.zeros((2, 28, 28, 1), "float32")).shape)
        (2, 16, 49)
    """

    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = v.positive_int("patch_size", patch_size)
        self.input_spec = keras.InputSpec(ndim=4)

    def build(self, input_shape):
        _patch_grid(tuple(input_shape[1:]), self.patch_size, name="input_shape")
        self.input_spec = keras.InputSpec(ndim=4, axes={1: input_shape[1], 2: input_shape[2],
                                                        3: input_shape[3]})

    def call(self, inputs):
        return _patchify(inputs, self.patch_size)

    def compute_output_shape(self, input_shape):
        rows, cols, dim = _patch_grid(tuple(input_shape[1:]), self.patch_size, "input_shape")
        return (input_shape[0], rows * cols, dim)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}


@keras.saving.register_keras_serializable(package="aebook")
class Unpatchify(keras.layers.Layer):
    """The inverse of `Patchify`: puts flattened patches back into images.

    Args:
        patch_size: positive int, the side of a patch.
        image_shape: (H, W, C) of the images; `patch_size` must divide H and W.
        **kwargs: passed to `keras.layers.Layer`.

    Input shape: (batch, (H/p)*(W/p), p*p*C). Output shape: (batch, H, W, C).
    """

    def __init__(self, patch_size, image_shape, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = v.positive_int("patch_size", patch_size)
        self.image_shape = v.input_shape("image_shape", image_shape, ndims=(3,))
        rows, cols, dim = _patch_grid(self.image_shape, self.patch_size)
        self.input_spec = keras.InputSpec(ndim=3, axes={1: rows * cols, 2: dim})

    def call(self, inputs):
        p = self.patch_size
        height, width, channels = self.image_shape
        rows, cols = height // p, width // p
        x = ops.reshape(inputs, (-1, rows, cols, p, p, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, height, width, channels))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.image_shape)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size,
                "image_shape": list(self.image_shape)}


def sincos_position_table(num_tokens, dim):
    """The sinusoidal position table of Vaswani et al. (2017), shape (num_tokens, dim).

    Row n holds `sin(n * w_k)` in its first `ceil(dim / 2)` columns and `cos(n * w_k)`
    in the rest, with frequencies `w_k = 10000 ** (-k / (dim // 2))`, k = 0, 1, ...

    Args:
        num_tokens: positive int.
        dim: positive int.

    Returns:
        float32 array (num_tokens, dim); row 0 is `[0, ..., 0, 1, ..., 1]`.

    Example:
        >>> sincos_position_table(2, 2).tolist()
        [[0.0, 1.0], [0.8414709568023682, 0.5403022766113281]]
    """
    num_tokens = v.positive_int("num_tokens", num_tokens)
    dim = v.positive_int("dim", dim)
    n_sin, n_cos = (dim + 1) // 2, dim // 2
    freqs = 10000.0 ** (-np.arange(n_sin) / max(n_cos, 1))
    angles = np.arange(num_tokens)[:, None] * freqs[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles[:, :n_cos])], axis=1).astype("float32")


@keras.saving.register_keras_serializable(package="aebook")
class PatchPositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding of each token's position: out[:, i] = x[:, i] + e_i.

    Args:
        initializer: `"sincos"` (start from `sincos_position_table`, so positions are
            told apart from the first step) or `"normal"` (N(0, 0.02^2), as in ViT).
        **kwargs: passed to `keras.layers.Layer`.

    Input shape: (batch, N, D), N and D fixed. Output shape: the same. Weights: one
    trainable (N, D) matrix.
    """

    def __init__(self, initializer="sincos", **kwargs):
        super().__init__(**kwargs)
        self.initializer = v.choice("initializer", initializer, ("sincos", "normal"))
        self.input_spec = keras.InputSpec(ndim=3)

    def build(self, input_shape):
        num_tokens, dim = input_shape[1], input_shape[2]
        if num_tokens is None or dim is None:
            v.fail("input_shape", "(batch, N, D) with N and D known", tuple(input_shape))
        if self.initializer == "sincos":
            init = keras.initializers.Constant(sincos_position_table(num_tokens, dim))
        else:
            init = keras.initializers.RandomNormal(stddev=0.02)
        self.embeddings = self.add_weight(shape=(num_tokens, dim), name="embeddings",
                                          initializer=init)
        self.input_spec = keras.InputSpec(ndim=3, axes={1: num_tokens, 2: dim})

    def call(self, inputs):
        return inputs + ops.cast(self.embeddings, inputs.dtype)[None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "initializer": self.initializer}


@keras.saving.register_keras_serializable(package="aebook")
class RandomPatchMasking(keras.layers.Layer):
    """Keeps a random subset of the tokens of each sequence and says which it dropped.

    Each call draws, independently for every sample, which `num_masked_patches(N,
    mask_ratio)` of the N tokens to hide (uniformly, from the layer's seeded
    `keras.random.SeedGenerator`), in training and at inference alike. The kept
    tokens are returned in their original order.

    Args:
        mask_ratio: float in [0, 1], the fraction of tokens to hide (rounded to a
            whole number of tokens; at least one is hidden and one kept).
        seed: None or an int in [0, 2**31 - 1].
        **kwargs: passed to `keras.layers.Layer`.

    Input shape: (batch, N, D). Outputs: `[visible, ids_keep, mask]`: the kept tokens
    (batch, N_keep, D), their indices (batch, N_keep) int32, ascending, and the mask
    (batch, N) in the input's dtype, 1.0 where a token was hidden and 0.0 where kept.
    """

    def __init__(self, mask_ratio=0.75, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.mask_ratio = v.fraction("mask_ratio", mask_ratio)
        self.seed = v.seed("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.input_spec = keras.InputSpec(ndim=3)

    def _num_keep(self, num_tokens):
        return num_tokens - num_masked_patches(num_tokens, self.mask_ratio)

    def build(self, input_shape):
        if input_shape[1] is None:
            v.fail("input_shape", "(batch, N, D) with N known", tuple(input_shape))
        self._num_keep(input_shape[1])  # validates the ratio against N
        self.input_spec = keras.InputSpec(ndim=3, axes={1: input_shape[1], 2: input_shape[2]})

    def call(self, inputs):
        batch, num_tokens = ops.shape(inputs)[0], inputs.shape[1]
        num_keep = self._num_keep(num_tokens)
        noise = keras.random.uniform((batch, num_tokens), seed=self.seed_generator)
        ids_keep = ops.sort(ops.argsort(noise, axis=1)[:, :num_keep], axis=1)
        ids_keep = ops.cast(ids_keep, "int32")
        select = ops.one_hot(ids_keep, num_tokens, dtype=inputs.dtype)  # (B, keep, N)
        visible = ops.einsum("bkn,bnd->bkd", select, inputs)
        mask = 1.0 - ops.sum(select, axis=1)
        return [visible, ids_keep, mask]

    def compute_output_shape(self, input_shape):
        batch, num_tokens, dim = input_shape
        num_keep = self._num_keep(num_tokens)
        return [(batch, num_keep, dim), (batch, num_keep), (batch, num_tokens)]

    def compute_output_spec(self, inputs):
        shapes = self.compute_output_shape(inputs.shape)
        return [keras.KerasTensor(shapes[0], dtype=inputs.dtype),
                keras.KerasTensor(shapes[1], dtype="int32"),
                keras.KerasTensor(shapes[2], dtype=inputs.dtype)]

    def get_config(self):
        return {**super().get_config(), "mask_ratio": self.mask_ratio, "seed": self.seed}


@keras.saving.register_keras_serializable(package="aebook")
class InsertMaskTokens(keras.layers.Layer):
    """Scatters the visible tokens back to their positions; a learned mask token elsewhere.

    Args:
        num_patches: positive int N, the length of the full sequence.
        **kwargs: passed to `keras.layers.Layer`.

    Inputs: `[visible, ids_keep]`, the tokens (batch, N_keep, D) and their indices
    (batch, N_keep) in [0, N). Output: (batch, N, D), `visible[:, j]` at position
    `ids_keep[:, j]` and the mask token (one learned D-vector, initialized to zeros)
    at every other position.
    """

    def __init__(self, num_patches, **kwargs):
        super().__init__(**kwargs)
        self.num_patches = v.positive_int("num_patches", num_patches)
        self.input_spec = [keras.InputSpec(ndim=3), keras.InputSpec(ndim=2)]

    def build(self, input_shape):
        visible_shape, ids_shape = input_shape
        if visible_shape[-1] is None:
            v.fail("input_shape", "[(batch, N_keep, D), (batch, N_keep)] with D known",
                   input_shape)
        self.mask_token = self.add_weight(shape=(visible_shape[-1],), name="mask_token",
                                          initializer="zeros")
        self.input_spec = [keras.InputSpec(ndim=3, axes={2: visible_shape[-1]}),
                           keras.InputSpec(ndim=2)]

    def call(self, inputs):
        visible, ids_keep = inputs
        select = ops.one_hot(ops.cast(ids_keep, "int32"), self.num_patches,
                             dtype=visible.dtype)  # (B, keep, N)
        scattered = ops.einsum("bkn,bkd->bnd", select, visible)
        hidden = 1.0 - ops.sum(select, axis=1)  # (B, N)
        return scattered + hidden[..., None] * ops.cast(self.mask_token, visible.dtype)

    def compute_output_shape(self, input_shape):
        visible_shape = input_shape[0]
        return (visible_shape[0], self.num_patches, visible_shape[-1])

    def get_config(self):
        return {**super().get_config(), "num_patches": self.num_patches}


@keras.saving.register_keras_serializable(package="aebook")
class MaskedReconstructionLoss(keras.layers.Layer):
    """Adds the squared error on the masked patches to the model loss; passes x_hat on.

    The loss is the mean squared pixel error over the masked patches of the batch,
    `sum_{b,n} mask[b,n] * mean_pixels((x - x_hat)[b,n]^2) / sum_{b,n} mask[b,n]`,
    the loss of He et al. (2022) without their per-patch normalization of the target.

    Args:
        patch_size: positive int, the side of a patch (as in `Patchify`).
        **kwargs: passed to `keras.layers.Layer`.

    Inputs: `[x, x_hat, mask]`: images (batch, H, W, C), reconstructions of the same
    shape, and the patch mask (batch, N) (1 = masked). Output: `x_hat`, unchanged.
    """

    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = v.positive_int("patch_size", patch_size)
        self.input_spec = [keras.InputSpec(ndim=4), keras.InputSpec(ndim=4),
                           keras.InputSpec(ndim=2)]

    def build(self, input_shape):
        x_shape, x_hat_shape, mask_shape = (tuple(s) for s in input_shape)
        rows, cols, _ = _patch_grid(x_shape[1:], self.patch_size, name="input_shape")
        if x_shape[1:] != x_hat_shape[1:] or mask_shape[1] not in (None, rows * cols):
            v.fail("input_shape", f"[x, x_hat, mask] with x and x_hat of one shape and "
                   f"mask of shape (batch, {rows * cols})", input_shape)

    def call(self, inputs):
        x, x_hat, mask = inputs
        per_patch = ops.mean(ops.square(_patchify(x, self.patch_size)
                                        - _patchify(x_hat, self.patch_size)), axis=-1)
        mask = ops.cast(mask, per_patch.dtype)
        self.add_loss(ops.sum(mask * per_patch) / ops.maximum(ops.sum(mask), 1.0))
        return x_hat

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}


def _transformer_block(x, dim, num_heads, mlp_dim, prefix):
    """A pre-norm Transformer block: x + MHA(LN(x)), then x + MLP(LN(x))."""
    h = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_norm_1")(x)
    h = keras.layers.MultiHeadAttention(num_heads, key_dim=dim // num_heads,
                                        name=f"{prefix}_attention")(h, h)
    x = keras.layers.Add(name=f"{prefix}_add_1")([x, h])
    h = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_norm_2")(x)
    h = keras.layers.Dense(mlp_dim, activation="gelu", name=f"{prefix}_mlp_1")(h)
    h = keras.layers.Dense(dim, name=f"{prefix}_mlp_2")(h)
    return keras.layers.Add(name=f"{prefix}_add_2")([x, h])


def _divisible_by_heads(dim_name, dim, num_heads):
    """Raises unless a token width splits evenly over the attention heads."""
    if dim % num_heads:
        v.fail(dim_name, f"divisible by num_heads={num_heads}", dim)


def build_masked_autoencoder(image_shape=(28, 28, 1), patch_size=7, mask_ratio=0.75,
                             embed_dim=64, depth=2, num_heads=4, decoder_dim=32,
                             decoder_depth=1, mlp_ratio=2, pooling="mean",
                             output_activation="sigmoid", seed=None):
    """Builds a masked autoencoder (MAE) for small images.

    Args:
        image_shape: (H, W, C) of the images; values in [0, 1] (the decoder ends in
            a sigmoid).
        patch_size: side of the square patches; must divide H and W. N = HW / p^2
            patches of P = p^2 C pixels.
        mask_ratio: fraction of the patches hidden from the encoder in each image
            (rounded to a whole number, at least one hidden and one visible).
        embed_dim: width D of the encoder's tokens; divisible by `num_heads`.
        depth: number of Transformer blocks in the encoder (positive int).
        num_heads: attention heads of every block, encoder and decoder.
        decoder_dim: width of the decoder's tokens; divisible by `num_heads`.
        decoder_depth: Transformer blocks in the decoder (0 gives a per-token MLP
            that can only predict from a mask token and its position).
        mlp_ratio: the hidden layer of each block's MLP is `mlp_ratio` times its width.
        pooling: the encoder's features: `"mean"` (average of the N tokens, D
            numbers) or `"flatten"` (all tokens, N*D numbers).
        output_activation: activation of the decoder's pixel layer (`"sigmoid"`
            for pixels in [0, 1], `"linear"` for standardized data).
        seed: None or an int in [0, 2**31 - 1], seeds the masking.

    Returns:
        `AutoencoderParts(encoder, decoder, autoencoder)`, uncompiled and sharing
        their layers:

        - `encoder` ("mae_encoder"): (batch, H, W, C) -> (batch, D) or (batch, N*D),
          all patches encoded, no masking (for probes and fine-tuning);
        - `decoder` ("mae_decoder"): `[latent (batch, N_keep, D), ids_keep (batch,
          N_keep) int32]` -> (batch, H, W, C);
        - `autoencoder` ("masked_autoencoder"): (batch, H, W, C) -> `[reconstruction
          (batch, H, W, C), mask (batch, N)]`. It masks on every call, and adds the
          loss on the masked patches with `add_loss`: `compile(optimizer=...)`
          without a loss, then `fit(x, None, ...)`; `evaluate(x)` returns that loss.

    Raises:
        ValueError: for a bad argument, a patch size that does not tile the image, a
            ratio that hides no patch or all of them, or widths not divisible by
            `num_heads`.

    Example:
        >>> parts = build_masked_autoencoder(embed_dim=32, depth=1, num_heads=2,
        ...                                  decoder_dim=16, seed=0)
        >>> parts.encoder.output_shape, parts.autoencoder.output_shape
        ((None, 32), [(None, 28, 28, 1), (None, 16)])
    """
    image_shape = v.input_shape("image_shape", image_shape, ndims=(3,))
    patch_size = v.positive_int("patch_size", patch_size)
    rows, cols, patch_dim = _patch_grid(image_shape, patch_size)
    num_patches = rows * cols
    mask_ratio = v.fraction("mask_ratio", mask_ratio)
    num_keep = num_patches - num_masked_patches(num_patches, mask_ratio)
    embed_dim = v.positive_int("embed_dim", embed_dim)
    depth = v.positive_int("depth", depth)
    num_heads = v.positive_int("num_heads", num_heads)
    decoder_dim = v.positive_int("decoder_dim", decoder_dim)
    decoder_depth = v.non_negative_int("decoder_depth", decoder_depth)
    mlp_ratio = v.positive_int("mlp_ratio", mlp_ratio)
    pooling = v.choice("pooling", pooling, ("mean", "flatten"))
    output_activation = v.activation("output_activation", output_activation)
    seed = v.seed("seed", seed)
    _divisible_by_heads("embed_dim", embed_dim, num_heads)
    _divisible_by_heads("decoder_dim", decoder_dim, num_heads)

    # the encoder's Transformer, shared by the masked and the unmasked path (any length)
    tokens = keras.Input(shape=(None, embed_dim), name="tokens")
    h = tokens
    for i in range(depth):
        h = _transformer_block(h, embed_dim, num_heads, mlp_ratio * embed_dim, f"encoder_{i}")
    h = keras.layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(h)
    transformer = keras.Model(tokens, h, name="encoder_transformer")

    patchify = Patchify(patch_size, name="patchify")
    patch_embedding = keras.layers.Dense(embed_dim, name="patch_embedding")
    position = PatchPositionEmbedding(name="position_embedding")

    inputs = keras.Input(shape=image_shape, name="x")
    h = transformer(position(patch_embedding(patchify(inputs))))
    if pooling == "mean":
        features = keras.layers.GlobalAveragePooling1D(name="mean_pool")(h)
    else:
        features = keras.layers.Flatten(name="flatten")(h)
    encoder = keras.Model(inputs, features, name="mae_encoder")

    latent = keras.Input(shape=(num_keep, embed_dim), name="latent")
    ids_keep = keras.Input(shape=(num_keep,), dtype="int32", name="ids_keep")
    h = keras.layers.Dense(decoder_dim, name="decoder_embedding")(latent)
    h = InsertMaskTokens(num_patches, name="insert_mask_tokens")([h, ids_keep])
    h = PatchPositionEmbedding(name="decoder_position_embedding")(h)
    for i in range(decoder_depth):
        h = _transformer_block(h, decoder_dim, num_heads, mlp_ratio * decoder_dim, f"decoder_{i}")
    h = keras.layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")(h)
    h = keras.layers.Dense(patch_dim, activation=output_activation,
                           name="reconstruction_patches")(h)
    reconstruction = Unpatchify(patch_size, image_shape, name="unpatchify")(h)
    decoder = keras.Model([latent, ids_keep], reconstruction, name="mae_decoder")

    x = keras.Input(shape=image_shape, name="x")
    visible, keep, mask = RandomPatchMasking(mask_ratio, seed=seed, name="random_masking")(
        position(patch_embedding(patchify(x))))
    x_hat = decoder([transformer(visible), keep])
    x_hat = MaskedReconstructionLoss(patch_size, name="masked_loss")([x, x_hat, mask])
    autoencoder = keras.Model(x, [x_hat, mask], name="masked_autoencoder")
    return AutoencoderParts(encoder, decoder, autoencoder)


def patch_mask_to_pixels(mask, image_shape=(28, 28, 1), patch_size=7):
    """Expands a patch mask (batch, N) to a pixel mask (batch, H, W, C) (NumPy).

    Args:
        mask: array (batch, N), 1 where a patch is masked, 0 where visible.
        image_shape: (H, W, C).
        patch_size: side of a patch; N must be (H/p)*(W/p).

    Returns:
        float32 array (batch, H, W, C): each patch's value on all its pixels.

    Raises:
        ValueError: for a bad shape or a mask of the wrong size.
    """
    image_shape = v.input_shape("image_shape", image_shape, ndims=(3,))
    patch_size = v.positive_int("patch_size", patch_size)
    rows, cols, _ = _patch_grid(image_shape, patch_size)
    mask = np.asarray(mask, dtype="float32")
    if mask.ndim != 2 or mask.shape[1] != rows * cols:
        v.fail("mask", f"an array of shape (batch, {rows * cols})", mask.shape)
    grid = mask.reshape(-1, rows, cols)
    pixels = np.repeat(np.repeat(grid, patch_size, axis=1), patch_size, axis=2)
    return np.broadcast_to(pixels[..., None], (len(mask), *image_shape)).copy()


def masked_patch_mse(x, x_hat, mask, patch_size=7):
    """Mean squared pixel error over the masked patches (NumPy twin of the training loss).

    Args:
        x: images (batch, H, W, C).
        x_hat: reconstructions, same shape.
        mask: patch mask (batch, N), 1 = masked.
        patch_size: side of a patch.

    Returns:
        float: the mean of (x - x_hat)^2 over every pixel of every masked patch.

    Raises:
        ValueError: for mismatched shapes or a mask without a masked patch.
    """
    x, x_hat = np.asarray(x, "float64"), np.asarray(x_hat, "float64")
    if x.ndim != 4 or x.shape != x_hat.shape:
        v.fail("x_hat", f"an array of the shape of x {x.shape} (batch, H, W, C)", x_hat.shape)
    pixels = patch_mask_to_pixels(mask, x.shape[1:], patch_size)
    if len(pixels) != len(x) or not pixels.any():
        v.fail("mask", f"one row per image of x ({len(x)}) with at least one masked patch",
               np.shape(mask))
    return float(np.sum(pixels * (x - x_hat) ** 2) / np.sum(pixels))

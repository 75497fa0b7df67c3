"""Sparse autoencoders (SAEs) for interpreting a network's activations.

A sparse autoencoder trained on the hidden activations `h` of another network
rewrites each activation vector as a sparse, non-negative combination of many
dictionary directions, `h ≈ b_d + sum_j f_j(h) d_j`, with more directions than the
layer has neurons (Bricken et al. 2023, "Towards Monosemanticity"). Each latent
`f_j` is a candidate *feature* to interpret. Two ways to make the code sparse:

- an L1 penalty on the ReLU latents (Bricken et al.), weighted by `l1_weight`;
- `TopKSparsity`: keep the k largest pre-activations of each sample and zero the
  rest (Gao et al. 2024, "Scaling and evaluating sparse autoencoders"), which
  sets the number of active latents directly.

`build_sae` builds either. The metrics here measure an SAE the way those papers
do: `fraction_variance_explained`, `l0_norm` (mean active latents per sample),
`dead_latent_fraction`, and `class_purity`, a simple label-based proxy for how
monosemantic a unit is, computed in the same way for SAE latents and for neurons.

Import `aebook.interpretability` (or `aebook`, once it exports this module) before
loading a saved model that holds a `TopKSparsity` or `PreBias` layer: the import
registers them with Keras.
"""

import keras
import numpy as np
from keras import ops

from aebook import validation as v
from aebook.layers import L1Sparsity
from aebook.models import AutoencoderParts

__all__ = [
    "PreBias",
    "TopKSparsity",
    "build_sae",
    "class_purity",
    "dead_latent_fraction",
    "fraction_variance_explained",
    "l0_norm",
    "top_activating",
]


@keras.saving.register_keras_serializable(package="aebook")
class TopKSparsity(keras.layers.Layer):
    """Keeps the k largest entries of each sample, ReLU'd; sets the others to zero.

    `TopKSparsity(k)(a) = ReLU(a) * mask`, where `mask` is 1 on the k largest entries
    of each row of `a` and 0 elsewhere (Gao et al. 2024). At most k entries of each
    output row are non-zero (fewer if some of the k largest are <= 0). The gradient
    flows to the kept entries only (the mask is treated as a constant), as for a
    ReLU. Entries equal to the k-th largest value are all kept (an exact tie, which
    real-valued pre-activations almost never produce).

    Args:
        k: number of entries to keep per sample (positive int, at most the number of
            features of the input).

    Input shape: (batch, features). Output shape: the same.

    Raises:
        ValueError: for a bad `k`, or (when called) a `k` larger than `features`.

    Example:
        >>> import numpy as np
        >>> import aebook.interpretability as interp
        >>> a = np.array([[0.5, -1.0, 2.0, 0.1]], dtype="float32")
        >>> np.asarray(interp.TopKSparsity(2)(a)).tolist()
        [[0.5, 0.0, 2.0, 0.0]]
    """

    def __init__(self, k, **kwargs):
        super().__init__(**kwargs)
        self.k = v.positive_int("k", k)
        self.input_spec = keras.InputSpec(ndim=2)

    def build(self, input_shape):
        features = input_shape[-1]
        if features is not None and self.k > features:
            v.fail("k", f"at most the number of features ({features})", self.k)
        super().build(input_shape)

    def call(self, inputs):
        kth_largest = ops.top_k(inputs, self.k, sorted=True)[0][:, -1:]  # (batch, 1)
        mask = ops.cast(ops.greater_equal(inputs, kth_largest), inputs.dtype)
        return ops.relu(inputs) * ops.stop_gradient(mask)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "k": self.k}


@keras.saving.register_keras_serializable(package="aebook")
class PreBias(keras.layers.Layer):
    """A trainable bias b of shape (features,): adds it, or subtracts it.

    The SAE's decoder bias `b_d`, shared with the encoder, which first subtracts it
    from its input (`x - b_d`, the "pre-encoder bias" of Bricken et al. 2023 and Gao
    et al. 2024). Call the same layer with `subtract=True` in the encoder and without
    in the decoder, so that both use one weight.

    Args:
        initializer: initializer of b (a Keras initializer or its name).

    Input shape: (batch, features). Output shape: the same.
    """

    def __init__(self, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)
        self.input_spec = keras.InputSpec(ndim=2)

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer=self.initializer,
                                    name="bias")
        super().build(input_shape)

    def call(self, inputs, subtract=False):
        return inputs - self.bias if subtract else inputs + self.bias

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(),
                "initializer": keras.initializers.serialize(self.initializer)}


SPARSITIES = ("topk", "l1")


def build_sae(input_dim, dict_size, sparsity="topk", k=None, l1_weight=None,
              unit_norm_decoder=True, pre_bias=None, seed=None):
    """A sparse autoencoder (dictionary) for activations of size `input_dim`.

    Encoder: `f = S(W_e (x - b_d) + b_e)`, with `S` either `TopKSparsity(k)` or a
    ReLU followed by an L1 penalty `l1_weight * mean_batch(sum_j |f_j|)`
    (`aebook.layers.L1Sparsity`). Decoder: `x_hat = W_d f + b_d`, a linear
    dictionary whose `dict_size` atoms (the rows of the kernel of the Dense layer
    `"dictionary"`) are kept at unit norm after every optimizer step when
    `unit_norm_decoder` (so the L1 penalty cannot be dodged by shrinking f and
    growing the atoms). The encoder's kernel starts as the transpose of the
    dictionary, as in Gao et al. `b_d` is one `PreBias` layer, `"pre_bias"`, used by both.

    Parameters: `input_dim` (b_d) + `input_dim * dict_size + dict_size` (encoder)
    + `dict_size * input_dim` (decoder, no bias of its own).

    Args:
        input_dim: size of the activations to explain (positive int).
        dict_size: number of latents (dictionary atoms), usually several times
            `input_dim` (positive int).
        sparsity: `"topk"` or `"l1"`.
        k: latents kept per sample; required for `"topk"` (at most `dict_size`),
            must be None for `"l1"`.
        l1_weight: penalty weight (non-negative float); required for `"l1"`, must be
            None for `"topk"`.
        unit_norm_decoder: keep each dictionary atom at unit L2 norm.
        pre_bias: None, or an array of shape (input_dim,) to start b_d from (the
            papers use the data's geometric median; the mean is a simple choice).
        seed: None or an int seed of the weight initializers.

    Returns:
        `AutoencoderParts`: encoder (batch, input_dim) -> (batch, dict_size) named
        `"sae_encoder"`, decoder (batch, dict_size) -> (batch, input_dim) named
        `"sae_decoder"`, autoencoder named `"sae"`. Uncompiled; train with
        `loss="mse"`.

    Raises:
        ValueError: for a bad argument, e.g.
            `k must be a positive int. Received: k=0`.

    Example:
        >>> import aebook.interpretability as interp
        >>> parts = interp.build_sae(4, 16, sparsity="topk", k=2, seed=0)
        >>> parts.autoencoder.count_params()  # 4 + (4*16 + 16) + 16*4
        148
    """
    input_dim = v.positive_int("input_dim", input_dim)
    dict_size = v.positive_int("dict_size", dict_size)
    sparsity = v.choice("sparsity", sparsity, SPARSITIES)
    unit_norm_decoder = v.flag("unit_norm_decoder", unit_norm_decoder)
    seed = v.seed("seed", seed)
    if sparsity == "topk":
        if k is None:
            v.fail("k", "a positive int when sparsity='topk'", k)
        k = v.positive_int("k", k)
        if k > dict_size:
            v.fail("k", f"at most dict_size ({dict_size})", k)
        if l1_weight is not None:
            v.fail("l1_weight", "None when sparsity='topk'", l1_weight)
    else:
        if l1_weight is None:
            v.fail("l1_weight", "a non-negative float when sparsity='l1'", l1_weight)
        l1_weight = v.non_negative_float("l1_weight", l1_weight)
        if k is not None:
            v.fail("k", "None when sparsity='l1'", k)
    if pre_bias is not None:
        pre_bias = np.asarray(pre_bias, dtype="float32")
        if pre_bias.shape != (input_dim,) or not np.all(np.isfinite(pre_bias)):
            v.fail("pre_bias", f"None or a finite array of shape ({input_dim},)",
                   f"array of shape {pre_bias.shape}")

    bias = PreBias(name="pre_bias")
    encode = keras.layers.Dense(dict_size, name="encoder_dense")  # kernel set below
    if sparsity == "topk":
        sparsify = [TopKSparsity(k, name="topk")]
    else:
        sparsify = [keras.layers.Activation("relu", name="relu"), L1Sparsity(l1_weight, name="l1")]
    dictionary = keras.layers.Dense(
        input_dim, use_bias=False, kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        kernel_constraint=keras.constraints.UnitNorm(axis=1) if unit_norm_decoder else None,
        name="dictionary")

    x = keras.Input(shape=(input_dim,), name="x")
    f = encode(bias(x, subtract=True))
    for layer in sparsify:
        f = layer(f)
    encoder = keras.Model(x, f, name="sae_encoder")
    z = keras.Input(shape=(dict_size,), name="z")
    decoder = keras.Model(z, bias(dictionary(z)), name="sae_decoder")
    autoencoder = keras.Model(x, bias(dictionary(f)), name="sae")
    # Gao et al.: unit-norm atoms from the start, and the encoder starts as the
    # transpose of the dictionary (fewer dead latents)
    w = dictionary.get_weights()[0]
    if unit_norm_decoder:
        w = w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)
        dictionary.set_weights([w])
    encode.set_weights([w.T, encode.get_weights()[1]])
    if pre_bias is not None:
        bias.set_weights([pre_bias])
    return AutoencoderParts(encoder, decoder, autoencoder)


# ---------------------------------------------------------------- metrics


def _matrix(name, x):
    x = np.asarray(x, dtype="float64")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        v.fail(name, "a non-empty 2-D array (samples, features)", f"array of shape {x.shape}")
    if not np.all(np.isfinite(x)):
        v.fail(name, "finite (no inf or nan)", "an array with inf or nan")
    return x


def fraction_variance_explained(x, x_hat):
    """1 - sum ||x - x_hat||^2 / sum ||x - mean(x)||^2: the share of x's variance kept.

    1 is a perfect reconstruction, 0 is no better than predicting the mean of `x`
    for every sample (1 minus this is the "FVU" of Gao et al. 2024).

    Args:
        x: activations, (N, d).
        x_hat: their reconstructions, (N, d).

    Returns:
        A float, at most 1 (negative if x_hat is worse than the mean).

    Raises:
        ValueError: for shapes that differ, empty arrays or an `x` with zero variance.

    Example:
        >>> import numpy as np
        >>> x = np.array([[0.0, 0.0], [2.0, 2.0]])
        >>> fraction_variance_explained(x, x.mean(axis=0) + 0 * x)
        0.0
        >>> fraction_variance_explained(x, x)
        1.0
    """
    x, x_hat = _matrix("x", x), _matrix("x_hat", x_hat)
    if x.shape != x_hat.shape:
        v.fail("x_hat", f"the shape of x {x.shape}", f"array of shape {x_hat.shape}")
    total = np.sum((x - x.mean(axis=0)) ** 2)
    if total == 0:
        v.fail("x", "an array with non-zero variance", "a constant array")
    return float(1.0 - np.sum((x - x_hat) ** 2) / total)


def l0_norm(z, threshold=0.0):
    """Mean number of active latents (entries > `threshold`) per sample.

    Args:
        z: codes, (N, dict_size).
        threshold: a latent is active where it exceeds this (non-negative float).

    Returns:
        A float in [0, dict_size].

    Example:
        >>> l0_norm([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
        1.5
    """
    z = _matrix("z", z)
    threshold = v.non_negative_float("threshold", threshold)
    return float(np.mean(np.sum(z > threshold, axis=1)))


def dead_latent_fraction(z, threshold=0.0):
    """Share of latents that are never active (never > `threshold`) on the samples `z`.

    Args:
        z: codes, (N, dict_size).
        threshold: a latent is active where it exceeds this (non-negative float).

    Returns:
        A float in [0, 1]; times `dict_size`, the number of dead latents.

    Example:
        >>> dead_latent_fraction([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]])
        0.5
    """
    z = _matrix("z", z)
    threshold = v.non_negative_float("threshold", threshold)
    return float(np.mean(~np.any(z > threshold, axis=0)))


def top_activating(z, unit, n=10):
    """Indices of the `n` samples on which `unit` is largest, largest first.

    Args:
        z: activations or codes, (N, units).
        unit: column of `z` (int in [0, units)).
        n: number of samples (positive int, at most N).

    Returns:
        An int array (n,) of row indices of `z`.
    """
    z = _matrix("z", z)
    unit = v.non_negative_int("unit", unit)
    if unit >= z.shape[1]:
        v.fail("unit", f"an int in [0, {z.shape[1]})", unit)
    n = v.positive_int("n", n)
    if n > z.shape[0]:
        v.fail("n", f"at most the number of samples ({z.shape[0]})", n)
    return np.argsort(-z[:, unit], kind="stable")[:n]


def class_purity(z, labels, top=20):
    """For each unit, the share of its `top` most activating samples in their majority class.

    A label-based proxy for monosemanticity: a unit whose strongest activations all
    fall on images of one class scores 1; a unit that fires equally on ten balanced
    classes scores about 0.1 plus sampling noise. Only samples on which the unit is
    active (> 0) count, and a unit active on fewer than `top` samples (a dead or
    nearly dead unit) gets NaN, so that average with `np.nanmean`. The same function
    scores SAE latents and a layer's neurons, so the two can be compared.

    Args:
        z: non-negative activations or codes, (N, units) (e.g. ReLU outputs).
        labels: int class labels, (N,).
        top: number of top-activating samples per unit (positive int).

    Returns:
        A float array (units,) with values in [1/classes, 1], or NaN.

    Raises:
        ValueError: for a bad `top`, or `labels` of another length than `z`.

    Example:
        >>> z = [[3.0, 1.0], [2.0, 2.0], [0.0, 3.0], [0.0, 4.0]]
        >>> class_purity(z, [0, 0, 1, 0], top=2).tolist()
        [1.0, 0.5]
    """
    z = _matrix("z", z)
    labels = np.asarray(labels)
    if labels.shape != (z.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        v.fail("labels", f"an int array of shape ({z.shape[0]},)",
               f"array of shape {labels.shape} and dtype {labels.dtype}")
    top = v.positive_int("top", top)
    order = np.argsort(-z, axis=0, kind="stable")[:top]  # (top, units)
    purity = np.full(z.shape[1], np.nan)
    for unit in range(z.shape[1]):
        idx = order[:, unit]
        if idx.size < top or np.any(z[idx, unit] <= 0):
            continue
        purity[unit] = np.bincount(labels[idx]).max() / top
    return purity

"""Builders for every autoencoder the book teaches.

Each builder returns an `AutoencoderParts(encoder, decoder, autoencoder)` of named,
uncompiled functional `keras.Model` objects that share their layers: train `autoencoder`,
then use `encoder` for codes and `decoder` to map codes back to inputs. Compile
with the optimizer and reconstruction loss you want, e.g.
`autoencoder.compile(optimizer="adam", loss="mse")`. Regularized variants (sparse,
contractive, variational) add their penalty with `add_loss`, so plain `fit` trains
them; the VAE wants a loss summed over pixels,
`aebook.losses.sum_binary_crossentropy`, to make its loss the negative ELBO.

All arguments are validated up front; a bad one raises `ValueError` naming it,
e.g. `latent_dim must be a positive int. Received: latent_dim=0`.

Argument names follow one rule across builders, layers and functions:

- the input: `input_dim` (an int, the size of a flat input) for builders whose
  network is dense only; `input_shape` (a tuple without the batch axis, as in
  `keras.Input(shape=...)`) for builders that also take images
  (`build_conv_autoencoder`, `build_denoising_autoencoder`, `build_conv_vae`);
- an argument has the same name in a builder as in the layer or function it is
  passed to: the corruption is `noise` and `level` in `build_denoising_autoencoder`,
  the `Corruption` layer and `aebook.data.corrupt` (the builder's old keyword
  `noise_level` still works, with a `DeprecationWarning`); the KL weight is `beta`
  in the VAE builders, `compose_vae` and `KLDivergence`; convolutions take
  `kernel_size` and `filters`, as in Keras;
- the one exception: a penalty weight is `sparsity_weight` or `contractive_weight`
  in a builder, where a bare `weight` would be ambiguous, and `weight` in the layer
  that adds that one penalty (`KLSparsity`, `L1Sparsity`, `ContractiveDense`);
- activations are anything `keras.activations.get` accepts (a name such as
  `"relu"`, `"swish"`, `"gelu"`, or a callable), except where a layer needs a
  derivative it knows (`ContractiveDense`).

`compose_vae(encoder, decoder)` turns any encoder that outputs `[z_mean, z_log_var]`
and any decoder of the latent space into a VAE; `build_vae`,
`build_conditional_vae` and `build_conv_vae` are built on it.
"""

from typing import NamedTuple

import keras
import numpy as np

from aebook import validation as v
from aebook import layers as L
from aebook.data import NOISE_TYPES


class AutoencoderParts(NamedTuple):
    """The three models a builder returns (they share weights)."""

    encoder: keras.Model
    decoder: keras.Model
    autoencoder: keras.Model


def _compose(encoder, decoder, name, pre=None):
    """autoencoder(x) = decoder(encoder(pre(x))); `pre` is an optional layer."""
    inputs = keras.Input(shape=encoder.input_shape[1:], name="x")
    h = pre(inputs) if pre is not None else inputs
    return keras.Model(inputs, decoder(encoder(h)), name=name)


def _dense_stack(x, units_list, activation, prefix):
    """Apply `Dense(units, activation)` layers named `{prefix}_dense_{i}` in order."""
    for i, units in enumerate(units_list):
        x = keras.layers.Dense(units, activation=activation, name=f"{prefix}_dense_{i}")(x)
    return x


def _gaussian_head(x, latent_dim):
    """The two linear heads of a VAE encoder: `z_mean` and `z_log_var`."""
    return (keras.layers.Dense(latent_dim, name="z_mean")(x),
            keras.layers.Dense(latent_dim, name="z_log_var")(x))


def _dense_parts(input_dim, hidden_dims, latent_dim, activation, latent_activation,
                 output_activation):
    """Encoder input_dim -> hidden_dims -> latent_dim and its mirror image."""
    x = inputs = keras.Input(shape=(input_dim,), name="x")
    x = _dense_stack(x, hidden_dims, activation, "encoder")
    z = keras.layers.Dense(latent_dim, activation=latent_activation, name="code")(x)
    encoder = keras.Model(inputs, z, name="encoder")

    x = latent = keras.Input(shape=(latent_dim,), name="z")
    x = _dense_stack(x, reversed(hidden_dims), activation, "decoder")
    outputs = keras.layers.Dense(input_dim, activation=output_activation, name="reconstruction")(x)
    decoder = keras.Model(latent, outputs, name="decoder")
    return encoder, decoder


def _tied_dense_parts(input_dim, hidden_dims, latent_dim, activation, latent_activation,
                      output_activation, name):
    """`_dense_parts` with each decoder layer a `DenseTranspose` of its mirror image.

    Layer names are those of the untied twin. The autoencoder is one flat graph,
    `x -> encoder's layers -> decoder's layers`, not `decoder(encoder(x))`: Keras's
    object sharing then keeps each encoder `Dense` and the `DenseTranspose` that
    holds it as one layer through `.keras` save and load (for nested models, where
    each sub-model's config is copied, it would load two).
    """
    x = inputs = keras.Input(shape=(input_dim,), name="x")
    denses = [keras.layers.Dense(units, activation=activation, name=f"encoder_dense_{i}")
              for i, units in enumerate(hidden_dims)]
    denses.append(keras.layers.Dense(latent_dim, activation=latent_activation, name="code"))
    for dense in denses:
        x = dense(x)
    encoder = keras.Model(inputs, x, name="encoder")

    mirrored = [L.DenseTranspose(dense, activation, name=f"decoder_dense_{i}")
                for i, dense in enumerate(reversed(denses[1:]))]
    mirrored.append(L.DenseTranspose(denses[0], output_activation, name="reconstruction"))
    x = latent = keras.Input(shape=(latent_dim,), name="z")
    h = encoder.output
    for layer in mirrored:
        x, h = layer(x), layer(h)
    decoder = keras.Model(latent, x, name="decoder")
    return AutoencoderParts(encoder, decoder, keras.Model(inputs, h, name=name))


def build_vanilla_autoencoder(input_dim=784, latent_dim=32, activation="relu",
                              output_activation="sigmoid", tied=False):
    """The undercomplete autoencoder of the seed equations, one layer each way.

    encoder: Z = f(W1 X + b1), decoder: X' = g(W2 Z + b2); with `tied=True`,
    W2 = W1^T (see `build_deep_autoencoder` for what tying means).

    Args:
        input_dim: size of a flat input (784 for MNIST).
        latent_dim: code size; smaller than `input_dim` makes it undercomplete.
        activation: f, the encoder activation (`"relu"`, `"sigmoid"`, `"tanh"`,
            `"linear"`, ...).
        output_activation: g; `"sigmoid"` for data in [0, 1].
        tied: True ties the decoder's kernel to the encoder's (W2 = W1^T, one
            variable); the decoder then owns only its bias.

    Returns:
        `AutoencoderParts`: encoder (batch, input_dim) -> (batch, latent_dim),
        decoder (batch, latent_dim) -> (batch, input_dim), and the autoencoder
        (batch, input_dim) -> (batch, input_dim), named `"vanilla_autoencoder"`.
        Untied: input_dim * latent_dim * 2 + latent_dim + input_dim parameters;
        tied: input_dim * latent_dim + latent_dim + input_dim.

    Raises:
        ValueError: for a bad argument.
    """
    input_dim = v.positive_int("input_dim", input_dim)
    latent_dim = v.positive_int("latent_dim", latent_dim)
    v.activation("activation", activation)
    v.activation("output_activation", output_activation)
    if v.flag("tied", tied):
        return _tied_dense_parts(input_dim, (), latent_dim, activation, activation,
                                 output_activation, "vanilla_autoencoder")
    encoder, decoder = _dense_parts(input_dim, (), latent_dim, activation, activation,
                                    output_activation)
    return AutoencoderParts(encoder, decoder, _compose(encoder, decoder, "vanilla_autoencoder"))


def build_deep_autoencoder(input_dim=784, hidden_dims=(1000, 500, 250), latent_dim=30,
                           activation="relu", latent_activation="linear",
                           output_activation="sigmoid", tied=False):
    """A deep dense autoencoder with a mirrored decoder.

    The defaults are Hinton & Salakhutdinov's (2006) MNIST network
    784-1000-500-250-30 with a linear code layer. The seed article's Keras model
    is `build_deep_autoencoder(hidden_dims=(128, 64), latent_dim=32,
    latent_activation="relu")`.

    Args:
        input_dim: size of a flat input.
        hidden_dims: sizes of the encoder's hidden layers, outermost first; the
            decoder uses them in reverse.
        latent_dim: code size.
        activation: activation of the hidden layers.
        latent_activation: activation of the code layer (`"linear"` by default).
        output_activation: activation of the reconstruction.
        tied: True ties each decoder layer to its mirror image in the encoder
            (Hinton & Salakhutdinov's network starts tied before fine-tuning):
            with n encoder layers counted from the input, decoder layer k (counted
            from the code) computes f(h W^T + c) with W the kernel of encoder layer
            n + 1 - k, as an `aebook.layers.DenseTranspose` that holds that
            `Dense`'s kernel variable itself, so training moves both. The decoder
            owns only its biases; the layer names are the untied twin's.

    Returns:
        `AutoencoderParts` as in `build_vanilla_autoencoder`; the autoencoder is
        named `"deep_autoencoder"`. Tied, it has the encoder's parameters plus
        the decoder's biases, `sum(hidden_dims) + input_dim` more; untied, the
        decoder's kernels as well.

        With `tied=True` the autoencoder is one flat graph of the encoder's and
        decoder's layers (untied: `decoder(encoder(x))`, two nested models), and
        saving it to `.keras` keeps the tie: after `keras.saving.load_model`, the
        `DenseTranspose` named `"reconstruction"` and the `Dense` named
        `"encoder_dense_0"` (or `"code"` when `hidden_dims` is empty) share one kernel
        variable. The decoder saved on its own loads with its own copy of the
        kernels (same predictions, tied to nothing); see `DenseTranspose`.

    Raises:
        ValueError: for a bad argument.
    """
    input_dim = v.positive_int("input_dim", input_dim)
    hidden_dims = v.positive_int_tuple("hidden_dims", hidden_dims, allow_empty=True)
    latent_dim = v.positive_int("latent_dim", latent_dim)
    for name, value in [("activation", activation), ("latent_activation", latent_activation),
                        ("output_activation", output_activation)]:
        v.activation(name, value)
    if v.flag("tied", tied):
        return _tied_dense_parts(input_dim, hidden_dims, latent_dim, activation,
                                 latent_activation, output_activation, "deep_autoencoder")
    encoder, decoder = _dense_parts(input_dim, hidden_dims, latent_dim, activation,
                                    latent_activation, output_activation)
    return AutoencoderParts(encoder, decoder, _compose(encoder, decoder, "deep_autoencoder"))


def _check_conv_args(input_shape, filters, latent_dim, kernel_size, upsampling):
    input_shape = v.input_shape("input_shape", input_shape, ndims=(3,))
    filters = v.positive_int_tuple("filters", filters)
    if latent_dim is not None:
        latent_dim = v.positive_int("latent_dim", latent_dim)
    kernel_size = v.positive_int("kernel_size", kernel_size)
    v.choice("upsampling", upsampling, ("transpose", "upsample"))
    factor = 2 ** len(filters)
    if input_shape[0] % factor or input_shape[1] % factor:
        raise ValueError(
            f"input_shape height and width must be divisible by 2**len(filters)={factor} "
            f"(each conv block halves them). Received: input_shape={input_shape}, "
            f"filters={filters}"
        )
    return input_shape, filters, latent_dim, kernel_size


def _conv_parts(input_shape, filters, latent_dim, kernel_size, activation, output_activation,
                upsampling):
    x = inputs = keras.Input(shape=input_shape, name="x")
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(f, kernel_size, strides=2, padding="same", activation=activation,
                                name=f"encoder_conv_{i}")(x)
    feature_shape = tuple(x.shape[1:])
    if latent_dim is not None:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(latent_dim, name="code")(x)
    encoder = keras.Model(inputs, x, name="encoder")

    code_shape = (latent_dim,) if latent_dim is not None else feature_shape
    x = latent = keras.Input(shape=code_shape, name="z")
    if latent_dim is not None:
        x = keras.layers.Dense(int(np.prod(feature_shape)), activation=activation,
                               name="decoder_dense")(x)
        x = keras.layers.Reshape(feature_shape, name="unflatten")(x)
    for i, f in enumerate(reversed(filters)):
        if upsampling == "transpose":
            x = keras.layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same",
                                             activation=activation, name=f"decoder_deconv_{i}")(x)
        else:
            x = keras.layers.UpSampling2D(2, name=f"decoder_upsample_{i}")(x)
            x = keras.layers.Conv2D(f, kernel_size, padding="same", activation=activation,
                                    name=f"decoder_conv_{i}")(x)
    outputs = keras.layers.Conv2D(input_shape[-1], kernel_size, padding="same",
                                  activation=output_activation, name="reconstruction")(x)
    return encoder, keras.Model(latent, outputs, name="decoder")


def build_conv_autoencoder(input_shape=(28, 28, 1), filters=(32, 64), latent_dim=None,
                           kernel_size=3, activation="relu", output_activation="sigmoid",
                           upsampling="transpose"):
    """A convolutional autoencoder.

    Each encoder block is a stride-2 `Conv2D` (halving height and width); the
    decoder mirrors it with stride-2 `Conv2DTranspose` (`upsampling="transpose"`)
    or `UpSampling2D` followed by `Conv2D` (`upsampling="upsample"`, which avoids
    checkerboard artefacts), then a `Conv2D` to the input's channels.

    Args:
        input_shape: (height, width, channels); height and width divisible by
            `2**len(filters)`.
        filters: filters of the encoder's conv blocks, outermost first.
        latent_dim: None keeps the last feature map as the code, shape
            `(height / 2**n, width / 2**n, filters[-1])`; an int flattens it and
            adds a linear `Dense(latent_dim)` code layer.
        kernel_size: size of the square kernels.
        activation: activation of the conv blocks.
        output_activation: activation of the reconstruction.
        upsampling: `"transpose"` or `"upsample"`.

    Returns:
        `AutoencoderParts`: encoder `(batch, *input_shape)` -> code, decoder code ->
        `(batch, *input_shape)`, autoencoder named `"conv_autoencoder"`.

    Raises:
        ValueError: for a bad argument.
    """
    input_shape, filters, latent_dim, kernel_size = _check_conv_args(
        input_shape, filters, latent_dim, kernel_size, upsampling)
    v.activation("activation", activation)
    v.activation("output_activation", output_activation)
    encoder, decoder = _conv_parts(input_shape, filters, latent_dim, kernel_size, activation,
                                   output_activation, upsampling)
    return AutoencoderParts(encoder, decoder, _compose(encoder, decoder, "conv_autoencoder"))


def build_denoising_autoencoder(input_shape=(784,), latent_dim=64, hidden_dims=(256,),
                                noise="gaussian", level=0.5, seed=None,
                                activation="relu", output_activation="sigmoid",
                                filters=(32, 64), upsampling="transpose", clip=None,
                                kernel_size=3, **kwargs):
    """A denoising autoencoder (Vincent et al. 2008): corrupt in training, rebuild clean.

    The autoencoder is `x -> Corruption -> encoder -> decoder`. The `Corruption`
    layer is active only when `training=True`, so `fit(x_train, x_train)` trains
    noisy -> clean, while `predict` and `evaluate` pass inputs through unchanged:
    to denoise, give `predict` noisy images (see `aebook.data.corrupt`).

    Args:
        input_shape: `(input_dim,)` builds a dense network with `hidden_dims`;
            `(height, width, channels)` a convolutional one with `filters` and
            `upsampling` (as in `build_conv_autoencoder`).
        latent_dim: code size (for a conv network, None keeps the feature map).
        hidden_dims: hidden layer sizes of the dense encoder (mirrored).
        noise: `"gaussian"`, `"salt_and_pepper"` or `"masking"`.
        level: standard deviation (gaussian) or fraction of pixels (others), as
            in the `Corruption` layer and `aebook.data.corrupt`.
        seed: seed of the corruption layer.
        activation: activation of the hidden layers (and the dense code layer).
        output_activation: activation of the reconstruction.
        filters: conv filters (conv networks only).
        upsampling: `"transpose"` or `"upsample"` (conv networks only).
        clip: whether the `Corruption` layer clips corrupted inputs to [0, 1].
            None (the default) clips only when `output_activation="sigmoid"`, i.e.
            for data in [0, 1]; with any other output activation (e.g. `"linear"`
            for standardized tabular data) the corrupted inputs are not clipped.
        kernel_size: size of the square conv kernels (conv networks only).
        **kwargs: only `noise_level=`, the deprecated old name of `level`.

    Returns:
        `AutoencoderParts`; the encoder and decoder do not corrupt. The autoencoder
        is named `"denoising_autoencoder"`.

    Raises:
        ValueError: for a bad argument.
        TypeError: for an unknown keyword, or both `level` and `noise_level`.
    """
    level, level_name = v.renamed_argument("build_denoising_autoencoder", kwargs,
                                           "noise_level", "level", level, 0.5)
    input_shape = v.input_shape("input_shape", input_shape)
    v.choice("noise", noise, NOISE_TYPES)
    if noise == "gaussian":
        level = v.non_negative_float(level_name, level)
    else:
        level = v.fraction(level_name, level)
    v.activation("activation", activation)
    v.activation("output_activation", output_activation)
    seed = v.seed("seed", seed)
    clip = v.flag("clip", clip, allow_none=True)
    if clip is None:
        clip = output_activation == "sigmoid"
    kernel_size = v.positive_int("kernel_size", kernel_size)
    if len(input_shape) == 1:
        latent_dim = v.positive_int("latent_dim", latent_dim)
        hidden_dims = v.positive_int_tuple("hidden_dims", hidden_dims, allow_empty=True)
        encoder, decoder = _dense_parts(input_shape[0], hidden_dims, latent_dim, activation,
                                        activation, output_activation)
    else:
        input_shape, filters, latent_dim, kernel_size = _check_conv_args(
            input_shape, filters, latent_dim, kernel_size, upsampling)
        encoder, decoder = _conv_parts(input_shape, filters, latent_dim, kernel_size, activation,
                                       output_activation, upsampling)
    corruption = L.Corruption(noise, level, seed=seed, clip=clip, name="corruption")
    return AutoencoderParts(encoder, decoder,
                            _compose(encoder, decoder, "denoising_autoencoder", pre=corruption))


def build_sparse_autoencoder(input_dim=784, latent_dim=1024, penalty="kl", sparsity_weight=None,
                             target=0.05, activation=None, output_activation="sigmoid"):
    """A sparse autoencoder: an (often overcomplete) code with an activity penalty.

    - `penalty="l1"`: adds `sparsity_weight * mean_batch(sum_j |h_j|)` to the loss.
    - `penalty="kl"`: adds `sparsity_weight * sum_j KL(target || rho_hat_j)`, where
      rho_hat_j is unit j's mean activation over the batch (Ng 2011). Needs a
      sigmoid code layer.
    - `penalty=None`: the unregularized twin, for comparison.

    Args:
        input_dim: size of a flat input.
        latent_dim: size of the code layer (larger than `input_dim` is overcomplete).
        penalty: `"kl"`, `"l1"` or None.
        sparsity_weight: penalty weight; default 1e-3 for `"kl"`, 1e-4 for `"l1"`.
        target: rho, the target mean activation for `"kl"`, in (0, 1).
        activation: code activation; default `"sigmoid"` for `"kl"`, else `"relu"`.
        output_activation: activation of the reconstruction.

    Returns:
        `AutoencoderParts`; the encoder outputs the code h of shape
        (batch, latent_dim); the autoencoder is named `"sparse_autoencoder"`.

    Raises:
        ValueError: for a bad argument, or `penalty="kl"` with a non-sigmoid code.
    """
    input_dim = v.positive_int("input_dim", input_dim)
    latent_dim = v.positive_int("latent_dim", latent_dim)
    v.choice("penalty", penalty, ("kl", "l1", None))
    if sparsity_weight is None:
        sparsity_weight = 1e-3 if penalty == "kl" else 1e-4
    sparsity_weight = v.non_negative_float("sparsity_weight", sparsity_weight)
    target = v.open_unit_float("target", target)
    if activation is None:
        activation = "sigmoid" if penalty == "kl" else "relu"
    v.activation("activation", activation)
    v.activation("output_activation", output_activation)
    if penalty == "kl" and activation != "sigmoid":
        raise ValueError(
            "activation must be 'sigmoid' with penalty='kl' (the KL penalty needs mean "
            f"activations in (0, 1)). Received: activation={activation!r}"
        )
    inputs = keras.Input(shape=(input_dim,), name="x")
    h = keras.layers.Dense(latent_dim, activation=activation, name="code")(inputs)
    if penalty == "kl":
        h = L.KLSparsity(target, sparsity_weight, name="sparsity")(h)
    elif penalty == "l1":
        h = L.L1Sparsity(sparsity_weight, name="sparsity")(h)
    encoder = keras.Model(inputs, h, name="encoder")
    latent = keras.Input(shape=(latent_dim,), name="z")
    outputs = keras.layers.Dense(input_dim, activation=output_activation,
                                 name="reconstruction")(latent)
    decoder = keras.Model(latent, outputs, name="decoder")
    return AutoencoderParts(encoder, decoder, _compose(encoder, decoder, "sparse_autoencoder"))


def build_vae(input_dim=784, hidden_dims=(512,), latent_dim=2, activation="relu", beta=1.0,
              seed=None):
    """A variational autoencoder (Kingma & Welling 2014) with a Bernoulli decoder.

    encoder: x -> hidden_dims -> (z_mean, z_log_var), a diagonal Gaussian q(z|x).
    autoencoder: x -> encoder -> `KLDivergence(beta)` (adds beta * KL(q || N(0, I)))
    -> `Sampling` (z = mean + sigma * eps) -> decoder -> probabilities.
    Compile with `loss=aebook.losses.sum_binary_crossentropy`: the training loss
    is then the negative ELBO in nats per image (for beta = 1). The autoencoder is
    `compose_vae(encoder, decoder, beta=beta, seed=seed, name="vae")`; use
    `compose_vae` directly for an encoder or decoder of your own (e.g.
    convolutional).

    Args:
        input_dim: size of a flat input with values in [0, 1].
        hidden_dims: hidden layer sizes of the encoder (the decoder mirrors them).
        latent_dim: size of z.
        activation: activation of the hidden layers.
        beta: weight of the KL term (1: the VAE; > 1: a beta-VAE).
        seed: seed of the `Sampling` layer.

    Returns:
        `AutoencoderParts`: encoder (batch, input_dim) -> `[z_mean, z_log_var]`,
        each (batch, latent_dim); decoder (batch, latent_dim) -> (batch, input_dim)
        probabilities; autoencoder named `"vae"`. Use `sample_prior` to generate
        and `aebook.metrics.vae_negative_elbo` to evaluate.

    Raises:
        ValueError: for a bad argument.
    """
    input_dim = v.positive_int("input_dim", input_dim)
    hidden_dims = v.positive_int_tuple("hidden_dims", hidden_dims, allow_empty=True)
    latent_dim = v.positive_int("latent_dim", latent_dim)
    v.activation("activation", activation)
    beta = v.non_negative_float("beta", beta)
    seed = v.seed("seed", seed)
    x = inputs = keras.Input(shape=(input_dim,), name="x")
    x = _dense_stack(x, hidden_dims, activation, "encoder")
    z_mean, z_log_var = _gaussian_head(x, latent_dim)
    encoder = keras.Model(inputs, [z_mean, z_log_var], name="encoder")

    x = latent = keras.Input(shape=(latent_dim,), name="z")
    x = _dense_stack(x, reversed(hidden_dims), activation, "decoder")
    outputs = keras.layers.Dense(input_dim, activation="sigmoid", name="reconstruction")(x)
    decoder = keras.Model(latent, outputs, name="decoder")
    return AutoencoderParts(encoder, decoder,
                            compose_vae(encoder, decoder, beta=beta, seed=seed, name="vae"))


def _model_io(role, model):
    """The symbolic input and output tensors of a functional or Sequential model, as lists."""
    requirement = "a keras.Model with known inputs and outputs (functional or Sequential)"
    if not isinstance(model, keras.Model):
        v.fail(role, requirement, model)
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ValueError(f"{role} must be {requirement}. Received: {role}={model!r}, "
                         "a model whose inputs are not defined (build it from keras.Input)")
    return list(inputs), list(outputs)


def _shapes(tensors):
    return [tuple(t.shape) for t in tensors]


def compose_vae(encoder, decoder, *, beta=1.0, seed=None, name="vae"):
    """Makes a variational autoencoder of any encoder and decoder (Kingma & Welling 2014).

    vae(x) = decoder(Sampling(KLDivergence(beta)(encoder(x)))): the encoder gives
    the diagonal Gaussian q(z|x) as `[z_mean, z_log_var]`; `KLDivergence` adds
    beta * KL(q(z|x) || N(0, I)) (batch mean) to the loss; `Sampling` draws
    z = z_mean + exp(z_log_var / 2) * eps; the decoder maps z back to an input. As
    in `build_vae`, compile with a loss summed over pixels
    (`aebook.losses.sum_binary_crossentropy` for a sigmoid decoder) to train on
    the negative ELBO. The result saves to `.keras` and loads like any model of
    aebook's layers (import `aebook` first).

    Conditional VAEs work the same way: an encoder with inputs `[x, c]` (any number
    of conditioning inputs after `x`) and a decoder with inputs `[z, c]` give a VAE
    with inputs `[x, c]` that passes `c` to both (`build_conditional_vae`).

    Example, a convolutional encoder and decoder:

    >>> enc_in = keras.Input((8, 8, 1))
    >>> h = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, strides=2, padding="same")(enc_in))
    >>> encoder = keras.Model(enc_in, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    >>> dec_in = keras.Input((2,))
    >>> h = keras.layers.Reshape((4, 4, 1))(keras.layers.Dense(16)(dec_in))
    >>> out = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same",
    ...                                    activation="sigmoid")(h)
    >>> vae = compose_vae(encoder, keras.Model(dec_in, out), seed=0, name="conv_vae")
    >>> vae.name, vae.output_shape
    ('conv_vae', (None, 8, 8, 1))

    Args:
        encoder: a functional (or Sequential) `keras.Model` with outputs
            `[z_mean, z_log_var]`, both of shape (batch, latent_dim).
        decoder: a functional (or Sequential) `keras.Model` whose (first) input
            has shape (batch, latent_dim).
        beta: weight of the KL term (1: the VAE; > 1: a beta-VAE), keyword only.
        seed: seed of the `Sampling` layer, keyword only.
        name: name of the returned model, keyword only.

    Returns:
        An uncompiled functional `keras.Model` named `name`, with the encoder's
        inputs (same shapes and names) and the decoder's output. It shares its
        weights with `encoder` and `decoder`.

    Raises:
        ValueError: for a bad argument: a model that is not a functional or
            Sequential `keras.Model`, an encoder without exactly two outputs of the
            same shape (batch, latent_dim), a decoder whose input does not have
            that shape, or conditioning inputs that differ between the two.
    """
    beta = v.non_negative_float("beta", beta)
    seed = v.seed("seed", seed)
    if not isinstance(name, str) or not name:
        v.fail("name", "a non-empty str", name)
    enc_in, enc_out = _model_io("encoder", encoder)
    dec_in, _ = _model_io("decoder", decoder)
    out_shapes = _shapes(enc_out)
    if len(out_shapes) != 2 or out_shapes[0] != out_shapes[1] or len(out_shapes[0]) != 2:
        raise ValueError(
            "encoder must output [z_mean, z_log_var], two tensors of the same shape "
            f"(batch, latent_dim). Received: encoder with output shapes {out_shapes}"
        )
    enc_shapes, dec_shapes = _shapes(enc_in), _shapes(dec_in)
    expected = [out_shapes[0], *enc_shapes[1:]]
    if [d[1:] for d in dec_shapes] != [e[1:] for e in expected]:
        what = "the latent shape (batch, latent_dim)"
        if len(enc_shapes) > 1:
            what = "[z, *conditioning inputs] with the shapes of the encoder's extra inputs"
        raise ValueError(
            f"decoder's inputs must be {what}, i.e. {expected}. "
            f"Received: decoder with input shapes {dec_shapes}"
        )
    inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name) for t in enc_in]
    conditions = inputs[1:]
    stats = L.KLDivergence(beta, name="kl_divergence")(encoder(inputs if conditions else inputs[0]))
    z = L.Sampling(seed=seed, name="sampling")(stats)
    outputs = decoder([z, *conditions] if conditions else z)
    return keras.Model(inputs if conditions else inputs[0], outputs, name=name)


def build_conditional_vae(input_dim=784, num_classes=10, hidden_dims=(512,), latent_dim=2,
                          activation="relu", beta=1.0, seed=None):
    """A conditional VAE (Sohn et al. 2015): encoder and decoder also see the label.

    encoder: [x, y] -> concat -> hidden_dims -> (z_mean, z_log_var), q(z|x, y).
    decoder: [z, y] -> concat -> reversed hidden_dims -> pixel probabilities, p(x|z, y).
    autoencoder: [x, y] -> encoder -> `KLDivergence(beta)` -> `Sampling` ->
    decoder([z, y]). Compile with `loss=aebook.losses.sum_binary_crossentropy` and
    train with `fit([x, y_onehot], x)`: the loss is then the negative conditional
    ELBO in nats per image (beta = 1). To draw a chosen digit, decode z ~ N(0, I)
    together with that digit's one-hot label (`sample_conditional`).

    Args:
        input_dim: size of a flat input with values in [0, 1].
        num_classes: number of labels; labels are fed one-hot, shape (batch, num_classes).
        hidden_dims: hidden layer sizes of the encoder (the decoder mirrors them).
        latent_dim: size of z.
        activation: activation of the hidden layers.
        beta: weight of the KL term.
        seed: seed of the `Sampling` layer.

    Returns:
        `AutoencoderParts`: encoder [(batch, input_dim), (batch, num_classes)] ->
        `[z_mean, z_log_var]`, each (batch, latent_dim); decoder
        [(batch, latent_dim), (batch, num_classes)] -> (batch, input_dim);
        autoencoder named `"cvae"`.

    Raises:
        ValueError: for a bad argument.
    """
    input_dim = v.positive_int("input_dim", input_dim)
    num_classes = v.positive_int("num_classes", num_classes)
    hidden_dims = v.positive_int_tuple("hidden_dims", hidden_dims, allow_empty=True)
    latent_dim = v.positive_int("latent_dim", latent_dim)
    v.activation("activation", activation)
    beta = v.non_negative_float("beta", beta)
    seed = v.seed("seed", seed)
    x_in = keras.Input(shape=(input_dim,), name="x")
    y_in = keras.Input(shape=(num_classes,), name="y")
    x = keras.layers.Concatenate(name="encoder_concat")([x_in, y_in])
    x = _dense_stack(x, hidden_dims, activation, "encoder")
    z_mean, z_log_var = _gaussian_head(x, latent_dim)
    encoder = keras.Model([x_in, y_in], [z_mean, z_log_var], name="encoder")

    z_in = keras.Input(shape=(latent_dim,), name="z")
    y_dec = keras.Input(shape=(num_classes,), name="y")
    x = keras.layers.Concatenate(name="decoder_concat")([z_in, y_dec])
    x = _dense_stack(x, reversed(hidden_dims), activation, "decoder")
    outputs = keras.layers.Dense(input_dim, activation="sigmoid", name="reconstruction")(x)
    decoder = keras.Model([z_in, y_dec], outputs, name="decoder")
    return AutoencoderParts(encoder, decoder,
                            compose_vae(encoder, decoder, beta=beta, seed=seed, name="cvae"))


def build_conv_vae(input_shape=(28, 28, 1), filters=(32, 64), latent_dim=2, kernel_size=3,
                   activation="relu", beta=1.0, seed=None):
    """A convolutional VAE with a Bernoulli decoder, laid out like keras.io's VAE example.

    encoder: image -> `len(filters)` stride-2 `Conv2D` blocks (each halves height
    and width) -> `Flatten` -> two linear heads `z_mean` and `z_log_var`, a
    diagonal Gaussian q(z|x).
    decoder: z -> `Dense` to the last feature map's size -> `Reshape` -> stride-2
    `Conv2DTranspose` blocks with the filters in reverse order -> a `Conv2D` with
    a sigmoid to the input's channels: the pixel probabilities of p(x|z), the
    same Bernoulli decoder as `build_vae`'s, in image shape.
    autoencoder: `compose_vae(encoder, decoder, beta=beta, seed=seed,
    name="conv_vae")`. Compile with `loss=aebook.losses.sum_binary_crossentropy`
    (it sums over every non-batch axis): the loss is then the negative ELBO in
    nats per image (beta = 1), directly comparable with `build_vae`'s on the same
    images. `aebook.metrics.vae_negative_elbo`, `vae_elbo_terms` and
    `iwae_negative_log_likelihood` take its encoder and decoder with images of
    shape `(N, *input_shape)`; `sample_prior` returns images of that shape.

    With `input_shape=(28, 28, 1)`, `filters=(f1, f2)` and `kernel_size=3`, the
    parameters are: encoder `(9 + 1) f1 + (9 f1 + 1) f2 + 2 (49 f2 + 1) latent_dim`;
    decoder `(latent_dim + 1) 49 f2 + (9 f2 + 1) f2 + (9 f2 + 1) f1 + 9 f1 + 1`.

    Args:
        input_shape: (height, width, channels) of images in [0, 1]; height and
            width divisible by `2**len(filters)`.
        filters: filters of the encoder's conv blocks, outermost first (the
            decoder uses them in reverse).
        latent_dim: size of z.
        kernel_size: size of the square kernels.
        activation: activation of the conv blocks and of the decoder's `Dense`.
        beta: weight of the KL term (1: the VAE; > 1: a beta-VAE).
        seed: seed of the `Sampling` layer.

    Returns:
        `AutoencoderParts`: encoder `(batch, *input_shape)` -> `[z_mean, z_log_var]`,
        each (batch, latent_dim); decoder (batch, latent_dim) ->
        `(batch, *input_shape)` probabilities; autoencoder named `"conv_vae"`.

    Raises:
        ValueError: for a bad argument, e.g. a height or width not divisible by
            `2**len(filters)`.

    Example:
        >>> encoder, decoder, vae = build_conv_vae(filters=(4, 8), latent_dim=2, seed=0)
        >>> vae.name, vae.output_shape, encoder.output_shape
        ('conv_vae', (None, 28, 28, 1), [(None, 2), (None, 2)])
    """
    latent_dim = v.positive_int("latent_dim", latent_dim)
    input_shape, filters, latent_dim, kernel_size = _check_conv_args(
        input_shape, filters, latent_dim, kernel_size, "transpose")
    v.activation("activation", activation)
    beta = v.non_negative_float("beta", beta)
    seed = v.seed("seed", seed)
    x = inputs = keras.Input(shape=input_shape, name="x")
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(f, kernel_size, strides=2, padding="same", activation=activation,
                                name=f"encoder_conv_{i}")(x)
    feature_shape = tuple(x.shape[1:])
    x = keras.layers.Flatten(name="flatten")(x)
    z_mean, z_log_var = _gaussian_head(x, latent_dim)
    encoder = keras.Model(inputs, [z_mean, z_log_var], name="encoder")

    latent = keras.Input(shape=(latent_dim,), name="z")
    x = keras.layers.Dense(int(np.prod(feature_shape)), activation=activation,
                           name="decoder_dense")(latent)
    x = keras.layers.Reshape(feature_shape, name="unflatten")(x)
    for i, f in enumerate(reversed(filters)):
        x = keras.layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same",
                                         activation=activation, name=f"decoder_deconv_{i}")(x)
    outputs = keras.layers.Conv2D(input_shape[-1], kernel_size, padding="same",
                                  activation="sigmoid", name="reconstruction")(x)
    decoder = keras.Model(latent, outputs, name="decoder")
    return AutoencoderParts(encoder, decoder,
                            compose_vae(encoder, decoder, beta=beta, seed=seed, name="conv_vae"))


def sample_conditional(decoder, labels, seed=0, batch_size=256):
    """Decodes one prior draw z ~ N(0, I) per requested label with a conditional decoder.

    Args:
        decoder: the decoder of `build_conditional_vae`, [z, y_onehot] -> x.
        labels: integer labels, shape (n,), each in [0, num_classes).
        seed: NumPy seed of the codes.
        batch_size: prediction batch size.

    Returns:
        NumPy array of shape (n, input_dim): pixel probabilities.

    Raises:
        ValueError: for labels that are not integers in [0, num_classes), or an empty
            `labels`.
    """
    seed = v.seed("seed", seed)
    batch_size = v.positive_int("batch_size", batch_size)
    latent_dim = decoder.input_shape[0][1]
    num_classes = decoder.input_shape[1][1]
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be a non-empty 1-D array of ints. Received: labels={labels!r}"
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must be in [0, {num_classes}). Received: labels with min "
            f"{labels.min()} and max {labels.max()}"
        )
    z = np.random.default_rng(seed).standard_normal((len(labels), latent_dim))
    y = np.eye(num_classes, dtype="float32")[labels]
    return decoder.predict([z.astype("float32"), y], batch_size=batch_size, verbose=0)


def sample_prior(decoder, n, seed=0, batch_size=256):
    """Decodes `n` codes drawn from the prior N(0, I).

    Args:
        decoder: a decoder model with input shape (batch, latent_dim).
        n: number of samples.
        seed: NumPy seed of the codes.
        batch_size: prediction batch size.

    Returns:
        NumPy array of shape `(n, *decoder.output_shape[1:])`: for the VAE, pixel
        probabilities (the mean of the Bernoulli decoder).

    Raises:
        ValueError: for a bad `n`.
    """
    n = v.positive_int("n", n)
    seed = v.seed("seed", seed)
    batch_size = v.positive_int("batch_size", batch_size)
    z = np.random.default_rng(seed).standard_normal((n, *decoder.input_shape[1:]))
    return decoder.predict(z.astype("float32"), batch_size=batch_size, verbose=0)


def interpolate(decoder, z_a, z_b, n=10, batch_size=256):
    """Decodes `n` evenly spaced codes on the straight line from `z_a` to `z_b`.

    The codes are z_t = (1 - t) z_a + t z_b for t = 0, 1/(n-1), ..., 1, so the
    first image is `decoder(z_a)` and the last `decoder(z_b)`.

    Args:
        decoder: a decoder model with input shape `(batch, *code_shape)`.
        z_a: the start code, shape `code_shape` (e.g. (latent_dim,)).
        z_b: the end code, same shape.
        n: number of codes, at least 2 (both end points included).
        batch_size: prediction batch size.

    Returns:
        NumPy array of shape `(n, *decoder.output_shape[1:])`.

    Raises:
        ValueError: for `n` < 2, or codes whose shape is not the decoder's input
            shape (without the batch axis).
    """
    n = v.positive_int("n", n)
    if n < 2:
        raise ValueError(f"n must be at least 2 (both end points). Received: n={n}")
    code_shape = tuple(decoder.input_shape[1:])
    z_a = np.asarray(z_a, dtype="float32")
    z_b = np.asarray(z_b, dtype="float32")
    for name, z in (("z_a", z_a), ("z_b", z_b)):
        if z.shape != code_shape:
            raise ValueError(
                f"{name} must have the decoder's code shape {code_shape}. "
                f"Received: {name}.shape={z.shape}"
            )
    t = np.linspace(0.0, 1.0, n, dtype="float32").reshape(n, *([1] * len(code_shape)))
    codes = (1.0 - t) * z_a + t * z_b
    return decoder.predict(codes, batch_size=batch_size, verbose=0)


def build_contractive_autoencoder(input_dim=784, latent_dim=64, contractive_weight=1e-3,
                                  activation="sigmoid", output_activation="sigmoid"):
    """A contractive autoencoder (Rifai et al. 2011).

    The code layer is a `ContractiveDense`, which adds
    `contractive_weight * ||dh/dx||_F^2` (batch mean, closed form) to the loss, so
    codes change little under small input perturbations.

    Args:
        input_dim: size of a flat input.
        latent_dim: code size.
        contractive_weight: lambda, the penalty weight (>= 0; 0 gives the twin).
        activation: code activation: `"sigmoid"`, `"tanh"`, `"relu"` or `"linear"`.
        output_activation: activation of the reconstruction.

    Returns:
        `AutoencoderParts`; the autoencoder is named `"contractive_autoencoder"`.

    Raises:
        ValueError: for a bad argument.
    """
    input_dim = v.positive_int("input_dim", input_dim)
    latent_dim = v.positive_int("latent_dim", latent_dim)
    contractive_weight = v.non_negative_float("contractive_weight", contractive_weight)
    v.choice("activation", activation, ("sigmoid", "tanh", "relu", "linear"))
    v.activation("output_activation", output_activation)
    inputs = keras.Input(shape=(input_dim,), name="x")
    h = L.ContractiveDense(latent_dim, activation, contractive_weight, name="code")(inputs)
    encoder = keras.Model(inputs, h, name="encoder")
    latent = keras.Input(shape=(latent_dim,), name="z")
    outputs = keras.layers.Dense(input_dim, activation=output_activation,
                                 name="reconstruction")(latent)
    decoder = keras.Model(latent, outputs, name="decoder")
    return AutoencoderParts(encoder, decoder,
                            _compose(encoder, decoder, "contractive_autoencoder"))


def dense_param_counts(sizes):
    """Parameters of each `Dense` layer of a stack of the given widths.

    A `Dense(m)` layer on an input of width n has a weight matrix (n, m) and a bias
    (m,): n m + m parameters. The architecture chapter derives it.

    Args:
        sizes: widths from input to output, e.g. `[784, 32, 784]` (at least two
            positive ints).

    Returns:
        list of ints, one per layer (`len(sizes) - 1` of them); their sum is the
        stack's `count_params()`.

    Raises:
        ValueError: if `sizes` is not a list or tuple of at least two positive ints.

    Example:
        >>> from aebook.models import dense_param_counts
        >>> dense_param_counts([784, 32, 784])
        [25120, 25872]
    """
    if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
        v.fail("sizes", "a list or tuple of at least two positive ints", sizes)
    sizes = v.positive_int_tuple("sizes", tuple(sizes))
    return [n * m + m for n, m in zip(sizes[:-1], sizes[1:], strict=True)]


def init_output_bias(decoder, x, layer_name="reconstruction", eps=1e-3):
    """Sets the decoder's output bias so that it starts near the mean input.

    Before training, a decoder's output is close to `activation(bias)` with a zero
    bias, a flat grey image, and the first few hundred steps go into learning the
    average image. Starting the bias there removes that phase: for a sigmoid
    output the bias becomes the log-odds `log(m / (1 - m))` of the mean `m` of each
    input feature (clipped to [eps, 1 - eps]); for a linear output, `m` itself.
    Call it on a freshly built decoder, before `fit`.

    Args:
        decoder: a decoder whose output layer, named `layer_name`, is a `Dense`
            or conv layer with a bias of shape (features,) (per pixel for dense
            decoders, per channel for conv decoders).
        x: training data, (N, ...); its mean over the samples (and, for conv
            decoders, over the spatial axes) gives `m`. For a sigmoid output its
            values must lie in [0, 1].
        layer_name: name of the output layer (`"reconstruction"` in every aebook
            builder).
        eps: clipping of `m` before the log-odds, in (0, 0.5).

    Returns:
        The new bias as a NumPy array of shape (features,).

    Raises:
        ValueError: for an output activation other than sigmoid or linear, a bias
            whose size does not match `x`, a bad `eps`, or (sigmoid output) `x`
            with values outside [0, 1].
    """
    eps = v.open_unit_float("eps", eps)
    if eps >= 0.5:
        raise ValueError(f"eps must be less than 0.5. Received: eps={eps}")
    layer = decoder.get_layer(layer_name)
    activation = getattr(layer.activation, "__name__", str(layer.activation))
    if activation not in ("sigmoid", "linear"):
        raise ValueError(
            f"init_output_bias supports sigmoid and linear output layers. Received: "
            f"activation={activation!r} for layer {layer_name!r}"
        )
    if activation == "sigmoid":
        x = v.unit_interval_array("x", x)
    else:
        x = np.asarray(x, dtype="float64")
    size = int(layer.bias.shape[0])
    m = x.reshape(len(x), -1).mean(axis=0) if x[0].size == size else None
    if m is None and x.ndim > 2 and x.shape[-1] == size:
        m = x.reshape(-1, size).mean(axis=0)
    if m is None:
        raise ValueError(
            f"the output bias has {size} entries, which matches neither the features nor "
            f"the channels of x. Received: x.shape={x.shape}"
        )
    if activation == "sigmoid":
        m = np.clip(m, eps, 1.0 - eps)
        m = np.log(m / (1.0 - m))
    layer.bias.assign(m.astype("float32"))
    return m.astype("float32")

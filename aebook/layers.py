"""Custom Keras layers used by the builders (backend-agnostic: `keras.ops` only).

Every layer is registered as serializable under the package name `"aebook"`, so a
model that contains it can be saved to `.keras` and loaded in a fresh process.
Regularization terms are added with `Layer.add_loss`, so they take part in plain
`model.fit()` on any backend.

Every layer declares a `keras.InputSpec`, so a wrong input (rank, or size of the
last axis once the layer is built) raises Keras's `ValueError` naming the layer,
`Input 0 of layer "code" is incompatible with the layer: expected axis -1 of input
shape to have value 784, ...`, rather than a backend error from deep inside `call`.
"""

import keras
from keras import ops

from aebook import validation as v
from aebook.data import NOISE_TYPES


@keras.saving.register_keras_serializable(package="aebook")
class Corruption(keras.layers.Layer):
    """Corrupts its input during training only; the identity at inference.

    Put it in front of an encoder to train a denoising autoencoder with
    `fit(x, x)`: the model sees a fresh corruption of each batch and is scored
    against the clean input.

    Args:
        noise: `"gaussian"` (add N(0, level^2) noise), `"salt_and_pepper"` (a
            fraction `level` of pixels set to 0 or 1) or `"masking"` (a fraction
            `level` of pixels set to 0).
        level: noise standard deviation, or fraction of corrupted pixels.
        seed: None or an int in [0, 2**31 - 1], seeds the layer's
            `keras.random.SeedGenerator`.
        clip: clip the corrupted values to [0, 1] (the pixel range; default).
            Set False for data on another scale (e.g. standardized features).
        **kwargs: passed to `keras.layers.Layer` (`name`, ...).

    Input shape: any; values in [0, 1] if `clip`. Output shape: same.
    """

    def __init__(self, noise="gaussian", level=0.5, seed=None, clip=True, **kwargs):
        super().__init__(**kwargs)
        self.noise = v.choice("noise", noise, NOISE_TYPES)
        if noise == "gaussian":
            self.level = v.non_negative_float("level", level)
        else:
            self.level = v.fraction("level", level)
        self.seed = v.seed("seed", seed)
        self.clip = v.flag("clip", clip)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = True
        self.input_spec = keras.InputSpec(min_ndim=1)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        shape = ops.shape(inputs)
        if self.noise == "gaussian":
            noise = keras.random.normal(shape, stddev=self.level, seed=self.seed_generator)
            out = inputs + ops.cast(noise, inputs.dtype)
        else:
            u = ops.cast(keras.random.uniform(shape, seed=self.seed_generator), inputs.dtype)
            zeros, ones = ops.zeros_like(inputs), ops.ones_like(inputs)
            if self.noise == "salt_and_pepper":
                out = ops.where(u < self.level / 2, zeros, ops.where(u < self.level, ones, inputs))
            else:
                out = ops.where(u < self.level, zeros, inputs)
        return ops.clip(out, 0.0, 1.0) if self.clip else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "noise": self.noise, "level": self.level,
                "seed": self.seed, "clip": self.clip}


@keras.saving.register_keras_serializable(package="aebook")
class Sampling(keras.layers.Layer):
    """The reparameterization trick: z = mean + exp(log_var / 2) * eps, eps ~ N(0, I).

    Args:
        seed: None or an int in [0, 2**31 - 1], seeds the layer's
            `keras.random.SeedGenerator`.
        **kwargs: passed to `keras.layers.Layer` (`name`, ...).

    Input: `[z_mean, z_log_var]`, each of shape (batch, latent_dim).
    Output: `z` of shape (batch, latent_dim). It samples in training and at
    inference alike (use the encoder's mean for a deterministic code).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = v.seed("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.input_spec = _gaussian_input_spec()

    def build(self, input_shape):
        self.input_spec = _gaussian_input_spec(self.name, input_shape)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * ops.cast(eps, z_mean.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _gaussian_input_spec(layer_name=None, input_shape=None):
    """`InputSpec`s of `[z_mean, z_log_var]`: two tensors of rank >= 2 and the same shape.

    Without `input_shape` (in `__init__`): rank only. With it (in `build`): checks
    the two shapes are equal, then fixes the last axis of both.
    """
    if input_shape is None:
        return [keras.InputSpec(min_ndim=2), keras.InputSpec(min_ndim=2)]
    shapes = [tuple(s) for s in input_shape] if isinstance(input_shape, (list, tuple)) else []
    if len(shapes) != 2 or shapes[0] != shapes[1]:
        raise ValueError(
            f'Layer "{layer_name}" expects [z_mean, z_log_var], two tensors of the same '
            f"shape. Received: input_shape={input_shape}"
        )
    axes = {-1: shapes[0][-1]} if shapes[0][-1] is not None else None
    return [keras.InputSpec(min_ndim=2, axes=axes), keras.InputSpec(min_ndim=2, axes=axes)]


def gaussian_kl(z_mean, z_log_var):
    """KL(N(mean, diag(exp(log_var))) || N(0, I)) per sample, in nats (keras.ops)."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


@keras.saving.register_keras_serializable(package="aebook")
class KLDivergence(keras.layers.Layer):
    """Adds beta * KL(q(z|x) || N(0, I)), averaged over the batch, to the model loss.

    Passes `[z_mean, z_log_var]` through unchanged. `beta` is a non-trainable
    variable, so a callback can anneal it during training (KL annealing) and its
    current value is saved with the model.

    Args:
        beta: non-negative weight of the KL term (1.0 gives the ELBO; > 1 a beta-VAE).
    """

    def __init__(self, beta=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_beta = v.non_negative_float("beta", beta)
        self.input_spec = _gaussian_input_spec()

    def build(self, input_shape):
        self.input_spec = _gaussian_input_spec(self.name, input_shape)
        self.beta = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.initial_beta),
            trainable=False, name="beta",
        )

    def call(self, inputs):
        z_mean, z_log_var = inputs
        self.add_loss(ops.cast(self.beta, z_mean.dtype) * ops.mean(gaussian_kl(z_mean, z_log_var)))
        return [z_mean, z_log_var]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "beta": self.initial_beta}


@keras.saving.register_keras_serializable(package="aebook")
class L1Sparsity(keras.layers.Layer):
    """Adds `weight * mean_batch(sum_j |h_j|)` to the loss; passes h through.

    Args:
        weight: non-negative penalty weight.
    """

    def __init__(self, weight=1e-4, **kwargs):
        super().__init__(**kwargs)
        self.weight = v.non_negative_float("weight", weight)
        self.input_spec = keras.InputSpec(min_ndim=2)

    def call(self, inputs):
        self.add_loss(self.weight * ops.mean(ops.sum(ops.abs(inputs), axis=-1)))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


def kl_sparsity_penalty(h, target):
    """sum_j KL(Bernoulli(target) || Bernoulli(rho_hat_j)), rho_hat = batch mean of h."""
    eps = 1e-7
    rho_hat = ops.clip(ops.mean(h, axis=0), eps, 1.0 - eps)
    return ops.sum(
        target * ops.log(target / rho_hat) + (1.0 - target) * ops.log((1.0 - target) / (1.0 - rho_hat))
    )


@keras.saving.register_keras_serializable(package="aebook")
class KLSparsity(keras.layers.Layer):
    """Adds weight * sum_j KL(target || rho_hat_j) to the loss; passes h through.

    rho_hat_j is unit j's mean activation over the batch; the activations must lie
    in (0, 1) (a sigmoid layer), as in Ng's sparse-autoencoder notes.

    Args:
        target: the desired mean activation rho, in (0, 1).
        weight: non-negative penalty weight (Ng's beta).
    """

    def __init__(self, target=0.05, weight=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.target = v.open_unit_float("target", target)
        self.weight = v.non_negative_float("weight", weight)
        self.input_spec = keras.InputSpec(min_ndim=2)

    def call(self, inputs):
        self.add_loss(self.weight * kl_sparsity_penalty(inputs, self.target))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "target": self.target, "weight": self.weight}


_DERIVATIVES = ("sigmoid", "tanh", "relu", "linear")


@keras.saving.register_keras_serializable(package="aebook")
class ContractiveDense(keras.layers.Layer):
    """A dense layer h = f(x W + b) that adds the contractive penalty to the loss.

    The penalty is weight * ||J||_F^2, with J = dh/dx the layer's Jacobian, averaged
    over the batch. For an element-wise f it has the closed form
    ||J||_F^2 = sum_j f'(z_j)^2 * sum_i W_ij^2 (for a sigmoid, f'(z) = h (1 - h)),
    computed with `keras.ops` on any backend (Rifai et al. 2011).

    Args:
        units: output size (positive int).
        activation: `"sigmoid"`, `"tanh"`, `"relu"` or `"linear"`.
        weight: non-negative penalty weight (lambda).

    Input shape: (batch, input_dim). Output shape: (batch, units).
    """

    def __init__(self, units, activation="sigmoid", weight=1e-4, **kwargs):
        super().__init__(**kwargs)
        self.units = v.positive_int("units", units)
        self.activation = v.choice("activation", activation, _DERIVATIVES)
        self.weight = v.non_negative_float("weight", weight)
        self.input_spec = keras.InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f'Layer "{self.name}" needs a known last input axis (the input size). '
                f"Received: input_shape={input_shape}"
            )
        self.kernel = self.add_weight(
            shape=(input_dim, self.units), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: input_dim})

    def _activate(self, z):
        """Returns f(z) and f'(z)."""
        if self.activation == "sigmoid":
            h = ops.sigmoid(z)
            return h, h * (1.0 - h)
        if self.activation == "tanh":
            h = ops.tanh(z)
            return h, 1.0 - ops.square(h)
        if self.activation == "relu":
            return ops.relu(z), ops.cast(z > 0, z.dtype)
        return z, ops.ones_like(z)

    def call(self, inputs):
        h, dh = self._activate(ops.matmul(inputs, self.kernel) + self.bias)
        self.add_loss(self.weight * ops.mean(contractive_norm(dh, self.kernel)))
        return h

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(), "units": self.units,
            "activation": self.activation, "weight": self.weight,
        }


def contractive_norm(dh, kernel):
    """||J||_F^2 per sample for h = f(x W + b): sum_j f'(z_j)^2 sum_i W_ij^2.

    Args:
        dh: f'(z), shape (batch, units).
        kernel: W, shape (input_dim, units).

    Returns:
        Tensor of shape (batch,).
    """
    return ops.sum(ops.square(dh) * ops.sum(ops.square(kernel), axis=0), axis=-1)


@keras.saving.register_keras_serializable(package="aebook")
class DenseTranspose(keras.layers.Layer):
    """A dense layer tied to another: y = f(x W^T + b), with W the `dense` layer's kernel.

    The layer owns only its bias (shape `(dense's input size,)`); its `kernel` IS
    the `kernel` variable of `dense` (the same object, not a copy), so training
    either layer moves both. It is how `build_vanilla_autoencoder(tied=True)` and
    `build_deep_autoencoder(tied=True)` tie each decoder layer to its mirror image
    in the encoder.

    Saving: `get_config` holds `dense`'s config. Saved together with `dense`
    (the tied autoencoder in one `.keras` file), Keras's object sharing on
    `save`/`load_model` gives back one `Dense` and the tie survives the load. Saved
    without it (the decoder alone), the loaded layer rebuilds its own copy of
    `dense` from that config and loads the kernel's values saved with this layer:
    it computes the same function, but it is no longer tied to any encoder. The
    same holds for a plain `from_config(get_config())` round trip.

    Args:
        dense: a built `keras.layers.Dense` (or a serialized one, as in a config)
            whose kernel of shape (n, m) is used transposed.
        activation: f, a name such as `"linear"` (the default) or `"sigmoid"`, or a
            callable (anything `keras.activations.get` accepts).
        **kwargs: passed to `keras.layers.Layer` (`name`, ...).

    Input shape: (batch, ..., m). Output shape: (batch, ..., n).

    Raises:
        ValueError: if `dense` is not a built `keras.layers.Dense`.

    Example:
        >>> import aebook, keras
        >>> dense = keras.layers.Dense(3)
        >>> dense.build((None, 5))
        >>> tied = aebook.layers.DenseTranspose(dense, activation="sigmoid")
        >>> tied.compute_output_shape((None, 3))
        (None, 5)
    """

    def __init__(self, dense, activation="linear", **kwargs):
        super().__init__(**kwargs)
        if isinstance(dense, dict):
            dense = keras.saving.deserialize_keras_object(dense)
        if not isinstance(dense, keras.layers.Dense) or not dense.built:
            v.fail("dense", "a built keras.layers.Dense (call it on an input first)", dense)
        # kept out of Keras's (and torch's) tracking: only the kernel, assigned in
        # build, becomes a weight of this layer; the encoder's bias does not
        object.__setattr__(self, "_dense", dense)
        self.activation = keras.activations.get(v.activation("activation", activation))
        self.units = int(dense.kernel.shape[0])
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: dense.units})

    @property
    def dense(self):
        """The tied `Dense` layer."""
        return self._dense

    def build(self, input_shape):
        self.kernel = self._dense.kernel  # the same variable: tied, not copied
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        kernel = ops.cast(self.kernel, inputs.dtype)
        return self.activation(ops.matmul(inputs, ops.transpose(kernel))
                               + ops.cast(self.bias, inputs.dtype))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(),
                "dense": keras.saving.serialize_keras_object(self._dense),
                "activation": keras.activations.serialize(self.activation)}

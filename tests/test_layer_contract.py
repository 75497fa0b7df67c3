"""The Keras layer contract for every custom layer of aebook.layers.

Each layer goes through Keras's own layer test, `keras.src.testing.TestCase
.run_layer_test` (the helper Keras's built-in layers are tested with): build,
symbolic and eager calls, output shapes, the number of weights, seed generators and
losses, masking support, the get_config / from_config / serialization round trip and
a training step in `model.fit`. On top of it: training versus inference behaviour,
seeded randomness that survives a config round trip, and a `.keras` save / load of a
model holding the layer.

`keras.src.testing` is not public API; it is imported directly on purpose, so that a
Keras release that moves it fails here loudly instead of skipping the contract.
"""

import inspect

import keras
import numpy as np
import pytest
from keras import ops
from keras.src.testing import TestCase

from aebook import layers as L

ALL_LAYERS = sorted(
    (obj for _, obj in inspect.getmembers(L, inspect.isclass)
     if issubclass(obj, keras.layers.Layer) and obj.__module__ == L.__name__),
    key=lambda cls: cls.__name__)


@pytest.fixture(scope="module")
def keras_case():
    case = TestCase()  # a unittest.TestCase used only for its assertion helpers
    case.setUp()
    return case


def _np(t):
    return ops.convert_to_numpy(t)


UNIT = np.random.default_rng(0).uniform(0.1, 0.9, size=(4, 6)).astype("float32")
GAUSS = [np.random.default_rng(1).normal(size=(4, 3)).astype("float32"),
         np.random.default_rng(2).normal(scale=0.3, size=(4, 3)).astype("float32")]


def _built_dense(units, input_dim):
    dense = keras.layers.Dense(units)
    dense.build((None, input_dim))
    return dense


TIED_DENSE = _built_dense(3, 6)  # DenseTranspose maps (4, 3) -> (4, 6) with its kernel

# class -> list of (init kwargs, run_layer_test keyword arguments)
CONTRACT = {
    "Corruption": [
        ({"noise": noise, "level": 0.3, "seed": 1},
         {"input_shape": (4, 6), "expected_output_shape": (4, 6), "call_kwargs": {"training": True},
          "expected_num_trainable_weights": 0, "expected_num_non_trainable_weights": 0,
          "expected_num_seed_generators": 1, "expected_num_losses": 0, "supports_masking": True})
        for noise in ("gaussian", "salt_and_pepper", "masking")
    ] + [
        ({"noise": "gaussian", "level": 0.3, "seed": 1, "clip": False},  # inference: identity
         {"input_data": UNIT, "expected_output": ops.convert_to_tensor(UNIT), "call_kwargs": {"training": False},
          "expected_num_seed_generators": 1, "expected_num_losses": 0}),
    ],
    "Sampling": [
        ({"seed": 2},
         {"input_shape": [(4, 3), (4, 3)], "expected_output_shape": (4, 3),
          "expected_num_trainable_weights": 0, "expected_num_non_trainable_weights": 0,
          "expected_num_seed_generators": 1, "expected_num_losses": 0}),
    ],
    "KLDivergence": [
        ({"beta": 0.5},
         {"input_data": GAUSS, "expected_output": GAUSS, "expected_num_trainable_weights": 0,
          "expected_num_non_trainable_weights": 1, "expected_num_seed_generators": 0,
          "expected_num_losses": 1}),
    ],
    "L1Sparsity": [
        ({"weight": 0.01},
         {"input_data": UNIT, "expected_output": ops.convert_to_tensor(UNIT), "expected_num_trainable_weights": 0,
          "expected_num_non_trainable_weights": 0, "expected_num_seed_generators": 0,
          "expected_num_losses": 1}),
    ],
    "KLSparsity": [
        ({"target": 0.1, "weight": 0.02},
         {"input_data": UNIT, "expected_output": ops.convert_to_tensor(UNIT), "expected_num_trainable_weights": 0,
          "expected_num_non_trainable_weights": 0, "expected_num_seed_generators": 0,
          "expected_num_losses": 1}),
    ],
    "ContractiveDense": [
        ({"units": 3, "activation": activation, "weight": 0.1},
         {"input_shape": (4, 6), "expected_output_shape": (4, 3),
          "expected_num_trainable_weights": 2, "expected_num_non_trainable_weights": 0,
          "expected_num_seed_generators": 0, "expected_num_losses": 1})
        for activation in ("sigmoid", "tanh", "relu", "linear")
    ],
    "DenseTranspose": [  # trainable: the tied kernel (the Dense's own variable) and a bias
        ({"dense": TIED_DENSE, "activation": activation},
         {"input_shape": (4, 3), "expected_output_shape": (4, 6),
          "expected_num_trainable_weights": 2, "expected_num_non_trainable_weights": 0,
          "expected_num_seed_generators": 0, "expected_num_losses": 0})
        for activation in ("sigmoid", "linear")
    ],
}

CASES = [(name, init, kw) for name, cases in CONTRACT.items() for init, kw in cases]


def test_every_custom_layer_has_a_contract():
    assert sorted(CONTRACT) == [cls.__name__ for cls in ALL_LAYERS]


@pytest.mark.parametrize(("name", "init_kwargs", "test_kwargs"), CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_keras_run_layer_test(keras_case, name, init_kwargs, test_kwargs):
    keras_case.run_layer_test(getattr(L, name), init_kwargs, **test_kwargs)


# ---------------------------------------------------------------- training vs inference


def _in_model(layer, shape=(6,)):
    inputs = keras.Input(shape=shape)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize("noise", ["gaussian", "salt_and_pepper", "masking"])
def test_corruption_acts_in_fit_only(noise):
    model = _in_model(L.Corruption(noise, 0.4, seed=3))
    np.testing.assert_array_equal(model.predict(UNIT, verbose=0), UNIT)  # predict: inference
    np.testing.assert_array_equal(_np(model(UNIT)), UNIT)  # a plain call: inference too
    assert np.mean(_np(model(UNIT, training=True)) != UNIT) > 0.2
    # in fit, the loss sees corrupted inputs: an identity model has a non-zero loss
    model.compile(optimizer="sgd", loss="mse")
    fit_loss = model.fit(UNIT, UNIT, epochs=1, batch_size=4, verbose=0).history["loss"][0]
    assert fit_loss > 1e-4
    assert model.evaluate(UNIT, UNIT, verbose=0) == 0.0  # evaluate: inference, exact


def test_sampling_samples_in_training_and_inference():
    mean, log_var = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    model = keras.Model([mean, log_var], L.Sampling(seed=0)([mean, log_var]))
    m, lv = np.zeros((500, 3), "float32"), np.zeros((500, 3), "float32")
    for z in (model.predict([m, lv], verbose=0), _np(model([m, lv], training=True))):
        assert 0.8 < z.std() < 1.2  # unit variance noise, both ways


@pytest.mark.parametrize(("layer", "inputs"), [
    (lambda: L.L1Sparsity(0.1), UNIT),
    (lambda: L.KLSparsity(0.1, 0.1), UNIT),
    (lambda: L.ContractiveDense(3, weight=0.1), UNIT),
])
def test_penalty_layers_add_their_loss_to_fit(layer, inputs):
    model = _in_model(layer())
    out_dim = model.output_shape[-1]
    model.compile(optimizer="sgd", loss=lambda y, p: ops.zeros(ops.shape(p)[:1]))
    model(inputs)  # one call records the penalty on these inputs
    penalty = float(sum(_np(loss) for loss in model.losses))
    assert penalty > 0
    history = model.fit(inputs, np.zeros((len(inputs), out_dim)), epochs=1, batch_size=len(inputs),
                        shuffle=False, verbose=0)
    # the only term of the compiled loss is zero, so the reported loss is the penalty
    assert history.history["loss"][0] == pytest.approx(penalty, rel=1e-5)


def test_kl_divergence_adds_its_loss_to_fit():
    mean, log_var = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    out = L.KLDivergence(0.5)([mean, log_var])
    model = keras.Model([mean, log_var], keras.layers.Concatenate()(out))
    model.compile(optimizer="sgd", loss=lambda y, p: ops.zeros(ops.shape(p)[:1]))
    expected = 0.5 * np.mean(0.5 * np.sum(np.exp(GAUSS[1]) + GAUSS[0] ** 2 - 1 - GAUSS[1], axis=1))
    history = model.fit(GAUSS, np.zeros((4, 6)), epochs=1, batch_size=4, verbose=0)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------- seeded randomness


@pytest.mark.parametrize("make", [
    lambda seed: L.Corruption("salt_and_pepper", 0.5, seed=seed),
    lambda seed: L.Sampling(seed=seed),
], ids=["Corruption", "Sampling"])
def test_seeded_layers_repeat_and_survive_a_config_round_trip(make):
    def draw(layer, n_calls=2):
        if isinstance(layer, L.Sampling):
            return [_np(layer(GAUSS)) for _ in range(n_calls)]
        return [_np(layer(UNIT, training=True)) for _ in range(n_calls)]

    first = draw(make(7))
    again = draw(make(7))
    clone = draw(type(make(7)).from_config(make(7).get_config()))
    other = draw(make(8))
    for a, b, c in zip(first, again, clone, strict=True):
        np.testing.assert_array_equal(a, b)  # same seed, same draws
        np.testing.assert_array_equal(a, c)  # the seed travels in the config
    assert not np.array_equal(first[0], first[1])  # a new draw on every call
    assert not np.array_equal(first[0], other[0])  # another seed, other draws


# ---------------------------------------------------------------- .keras save / load


@pytest.mark.parametrize("make", [
    lambda: L.Corruption("masking", 0.2, seed=1),
    lambda: L.L1Sparsity(0.3),
    lambda: L.KLSparsity(0.2, 0.4),
    lambda: L.ContractiveDense(4, activation="tanh", weight=0.5),
], ids=["Corruption", "L1Sparsity", "KLSparsity", "ContractiveDense"])
def test_model_with_the_layer_saves_and_loads(tmp_path, make):
    model = _in_model(make())
    before = _np(model(UNIT))
    penalty_before = [float(_np(loss)) for loss in model.losses]
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    layer, original = loaded.layers[-1], model.layers[-1]
    assert type(layer) is type(original) and layer.get_config() == original.get_config()
    np.testing.assert_allclose(_np(loaded(UNIT)), before, rtol=1e-6)
    np.testing.assert_allclose([float(_np(loss)) for loss in loaded.losses], penalty_before,
                               rtol=1e-6)


def test_kl_divergence_beta_is_saved_with_the_model(tmp_path):
    mean, log_var = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    layer = L.KLDivergence(1.0)
    model = keras.Model([mean, log_var], layer([mean, log_var]))
    layer.beta.assign(0.25)  # annealed in place
    model.save(tmp_path / "kl.keras")
    loaded = keras.saving.load_model(tmp_path / "kl.keras")
    assert float(_np(loaded.layers[-1].beta)) == 0.25


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("shape", [(2, 5), (2, 3, 5), (2, 4, 4, 1)])
def test_compute_output_shape_matches_the_call(shape):
    x = np.random.default_rng(0).uniform(size=shape).astype("float32")
    for layer in (L.Corruption("gaussian", 0.1, seed=0), L.L1Sparsity(), L.KLSparsity(),
                  L.ContractiveDense(7)):
        out = layer(x, training=True)
        assert tuple(out.shape) == tuple(layer.compute_output_shape(shape)), type(layer).__name__
    sampled = L.Sampling(seed=0)([x, x])
    assert tuple(sampled.shape) == tuple(L.Sampling().compute_output_shape([shape, shape]))


# ---------------------------------------------------------------- layers of other aebook modules


def _other_module_contracts():
    from aebook import interpretability as interp

    return [
        (interp.TopKSparsity, {"k": 2},
         {"input_shape": (4, 6), "expected_output_shape": (4, 6), "expected_num_trainable_weights": 0,
          "expected_num_non_trainable_weights": 0, "expected_num_seed_generators": 0,
          "expected_num_losses": 0}),
        (interp.PreBias, {},
         {"input_shape": (4, 6), "expected_output_shape": (4, 6), "expected_num_trainable_weights": 1,
          "expected_num_non_trainable_weights": 0, "expected_num_seed_generators": 0,
          "expected_num_losses": 0}),
    ]


@pytest.mark.parametrize("index", range(2), ids=["TopKSparsity", "PreBias"])
def test_keras_run_layer_test_other_modules(keras_case, index):
    cls, init_kwargs, test_kwargs = _other_module_contracts()[index]
    keras_case.run_layer_test(cls, init_kwargs, **test_kwargs)


# ---------------------------------------------------------------- aebook.masked's layers

from aebook import masked as M  # noqa: E402

IMAGES = np.random.default_rng(3).uniform(size=(2, 4, 6, 1)).astype("float32")
PATCH_MASK = np.array([[1, 0, 1, 0, 0, 1], [0, 1, 1, 0, 1, 0]], "float32")
MASKED_LAYERS = sorted(
    (obj for _, obj in inspect.getmembers(M, inspect.isclass)
     if issubclass(obj, keras.layers.Layer) and obj.__module__ == M.__name__),
    key=lambda cls: cls.__name__)
MASKED_CONTRACT = {
    "Patchify": [({"patch_size": 2},
                  {"input_shape": (2, 4, 6, 1), "expected_output_shape": (2, 6, 4),
                   "expected_num_trainable_weights": 0, "expected_num_seed_generators": 0,
                   "expected_num_losses": 0})],
    "Unpatchify": [({"patch_size": 2, "image_shape": (4, 6, 1)},
                    {"input_shape": (2, 6, 4), "expected_output_shape": (2, 4, 6, 1),
                     "expected_num_trainable_weights": 0, "expected_num_seed_generators": 0,
                     "expected_num_losses": 0})],
    "PatchPositionEmbedding": [({"initializer": "normal"},
                                {"input_shape": (2, 5, 3), "expected_output_shape": (2, 5, 3),
                                 "expected_num_trainable_weights": 1,
                                 "expected_num_non_trainable_weights": 0,
                                 "expected_num_seed_generators": 0, "expected_num_losses": 0})],
    "RandomPatchMasking": [({"mask_ratio": 0.5, "seed": 1},
                            {"input_shape": (2, 6, 3),
                             "expected_output_shape": [(2, 3, 3), (2, 3), (2, 6)],
                             "expected_num_trainable_weights": 0,
                             "expected_num_non_trainable_weights": 0,
                             "expected_num_seed_generators": 1, "expected_num_losses": 0,
                             "run_training_check": False, "run_mixed_precision_check": False})],
    "InsertMaskTokens": [({"num_patches": 6},
                          {"input_data": [IMAGES.reshape(2, 3, 8), np.array([[0, 2, 5], [1, 3, 4]],
                                                                            "int32")],
                           "expected_output_shape": (2, 6, 8),
                           "expected_num_trainable_weights": 1,
                           "expected_num_non_trainable_weights": 0,
                           "expected_num_seed_generators": 0, "expected_num_losses": 0,
                           "run_training_check": False})],
    "MaskedReconstructionLoss": [({"patch_size": 2},
                                  {"input_data": [IMAGES, IMAGES[::-1].copy(), PATCH_MASK],
                                   "expected_output": ops.convert_to_tensor(IMAGES[::-1].copy()),
                                   "expected_num_trainable_weights": 0,
                                   "expected_num_non_trainable_weights": 0,
                                   "expected_num_seed_generators": 0, "expected_num_losses": 1,
                                   "run_training_check": False})],
}
MASKED_CASES = [(name, init, kw) for name, cases in MASKED_CONTRACT.items() for init, kw in cases]


def test_every_masked_layer_has_a_contract():
    assert sorted(MASKED_CONTRACT) == [cls.__name__ for cls in MASKED_LAYERS]


@pytest.mark.parametrize(("name", "init_kwargs", "test_kwargs"), MASKED_CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(MASKED_CASES)])
def test_masked_keras_run_layer_test(keras_case, name, init_kwargs, test_kwargs):
    keras_case.run_layer_test(getattr(M, name), init_kwargs, **test_kwargs)


# ---------------------------------------------------------------- aebook.vq's layer


def test_vq_keras_run_layer_test(keras_case):
    from aebook import vq

    keras_case.run_layer_test(
        vq.VectorQuantizer, {"num_codes": 5, "code_dim": 3, "beta": 0.25, "seed": 1},
        input_shape=(4, 2, 3), expected_output_shape=(4, 2, 3), expected_num_trainable_weights=1,
        expected_num_non_trainable_weights=0, expected_num_seed_generators=0, expected_num_losses=1)

"""aebook.interpretability: TopKSparsity, PreBias, build_sae and the SAE metrics."""

import keras
import numpy as np
import pytest
import torch
from keras import ops

from aebook import interpretability as interp


def _np(t):
    return ops.convert_to_numpy(t)


@pytest.fixture(scope="module")
def acts():
    """Non-negative 'activations' (64, 6) with structure: a few directions plus noise."""
    rng = np.random.default_rng(0)
    codes = np.maximum(rng.normal(size=(64, 3)), 0)
    return (codes @ rng.uniform(size=(3, 6)) + 0.05 * rng.normal(size=(64, 6))).astype("float32")


# ---------------------------------------------------------------- TopKSparsity


def test_topk_known_answer():
    a = np.array([[0.5, -1.0, 2.0, 0.1, 1.5],
                  [-3.0, -2.0, -1.0, 4.0, -0.5]], dtype="float32")
    out = _np(interp.TopKSparsity(2)(a))
    np.testing.assert_array_equal(out, [[0.0, 0.0, 2.0, 0.0, 1.5],
                                        [0.0, 0.0, 0.0, 4.0, 0.0]])  # kept but negative: ReLU'd to 0
    np.testing.assert_array_equal(_np(interp.TopKSparsity(5)(a)), np.maximum(a, 0))  # k = all: ReLU


def test_topk_keeps_exactly_k_of_random_rows():
    a = np.random.default_rng(1).normal(size=(50, 40)).astype("float32") + 10.0  # all positive
    out = _np(interp.TopKSparsity(7)(a))
    assert np.all(np.sum(out > 0, axis=1) == 7)
    kept = np.sort(a, axis=1)[:, -7:]
    np.testing.assert_array_equal(np.sort(out, axis=1)[:, -7:], kept)


def test_topk_gradient_flows_through_kept_entries_only():
    a = torch.tensor([[0.5, -1.0, 2.0, 0.1, 1.5]], requires_grad=True)
    out = interp.TopKSparsity(3)(a)  # keeps 2.0, 1.5, 0.5
    ops.sum(out * torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]])).backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[1.0, 0.0, 3.0, 0.0, 5.0]])


def test_topk_config_and_bad_arguments():
    layer = interp.TopKSparsity(3, name="t")
    clone = interp.TopKSparsity.from_config(layer.get_config())
    assert clone.k == 3 and clone.name == "t"
    for bad in (0, -1, 2.5, True, None):
        with pytest.raises(ValueError, match=rf"^k must be a positive int\. Received: k={bad!r}$"):
            interp.TopKSparsity(bad)
    with pytest.raises(ValueError, match=r"^k must be at most the number of features \(4\)"):
        interp.TopKSparsity(5)(np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError):  # InputSpec: (batch, features) only
        interp.TopKSparsity(2)(np.zeros((2, 3, 4), "float32"))


def test_prebias_adds_and_subtracts_one_weight():
    layer = interp.PreBias()
    x = np.ones((2, 3), "float32")
    layer.build((None, 3))
    layer.set_weights([np.array([1.0, 2.0, 3.0], "float32")])
    np.testing.assert_array_equal(_np(layer(x)), [[2, 3, 4]] * 2)
    np.testing.assert_array_equal(_np(layer(x, subtract=True)), [[0, -1, -2]] * 2)
    assert len(layer.weights) == 1


# ---------------------------------------------------------------- build_sae


@pytest.mark.parametrize("sparsity,kwargs", [("topk", {"k": 3}), ("l1", {"l1_weight": 0.1})])
def test_build_sae_shapes_names_and_parameter_count(sparsity, kwargs):
    encoder, decoder, autoencoder = interp.build_sae(6, 24, sparsity=sparsity, seed=0, **kwargs)
    assert (encoder.name, decoder.name, autoencoder.name) == ("sae_encoder", "sae_decoder", "sae")
    assert encoder.output_shape == (None, 24) and decoder.output_shape == (None, 6)
    assert autoencoder.output_shape == (None, 6)
    # b_d: 6; encoder W_e, b_e: 6*24 + 24; dictionary W_d (no bias): 24*6 -> 6 + 168 + 144
    assert autoencoder.count_params() == 318
    assert encoder.count_params() == 6 + 168 and decoder.count_params() == 6 + 144
    # the one PreBias weight is shared by the three models
    assert autoencoder.get_layer("pre_bias") is encoder.get_layer("pre_bias") is decoder.get_layer("pre_bias")


def test_build_sae_initial_state(acts):
    mean = acts.mean(axis=0)
    encoder, decoder, autoencoder = interp.build_sae(6, 24, k=2, pre_bias=mean, seed=3)
    w_d = autoencoder.get_layer("dictionary").get_weights()[0]  # (24, 6): one atom per row
    np.testing.assert_allclose(np.linalg.norm(w_d, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(autoencoder.get_layer("encoder_dense").get_weights()[0], w_d.T)
    np.testing.assert_array_equal(autoencoder.get_layer("pre_bias").get_weights()[0], mean)
    # the decoder of an all-zero code is b_d; the autoencoder is decoder(encoder(x))
    np.testing.assert_allclose(decoder.predict(np.zeros((1, 24)), verbose=0)[0], mean, rtol=1e-6)
    np.testing.assert_allclose(autoencoder.predict(acts, verbose=0),
                               decoder.predict(encoder.predict(acts, verbose=0), verbose=0), rtol=1e-5)
    assert np.all(np.sum(encoder.predict(acts, verbose=0) > 0, axis=1) <= 2)
    # seeded: the same seed builds the same weights, another seed others
    same = interp.build_sae(6, 24, k=2, seed=3).autoencoder.get_layer("dictionary").get_weights()[0]
    other = interp.build_sae(6, 24, k=2, seed=4).autoencoder.get_layer("dictionary").get_weights()[0]
    np.testing.assert_array_equal(same, w_d)
    assert not np.array_equal(other, w_d)


@pytest.mark.parametrize("sparsity,kwargs", [("topk", {"k": 3}), ("l1", {"l1_weight": 1e-3})])
def test_training_lowers_the_loss_and_keeps_atoms_unit_norm(acts, sparsity, kwargs):
    keras.utils.set_random_seed(0)
    _, _, autoencoder = interp.build_sae(6, 24, sparsity=sparsity, pre_bias=acts.mean(0), seed=0,
                                         **kwargs)
    autoencoder.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    before = autoencoder.evaluate(acts, acts, verbose=0)
    autoencoder.fit(acts, acts, epochs=20, batch_size=16, shuffle=False, verbose=0)
    after = autoencoder.evaluate(acts, acts, verbose=0)
    assert after < 0.5 * before, (before, after)
    w_d = autoencoder.get_layer("dictionary").get_weights()[0]
    np.testing.assert_allclose(np.linalg.norm(w_d, axis=1), 1.0, rtol=1e-4)


def test_l1_sae_adds_its_penalty(acts):
    _, _, autoencoder = interp.build_sae(6, 24, sparsity="l1", l1_weight=0.5, seed=0)
    encoder = interp.build_sae(6, 24, sparsity="l1", l1_weight=0.5, seed=0).encoder
    autoencoder(acts)
    z = encoder.predict(acts, verbose=0)
    penalty = float(sum(_np(loss) for loss in autoencoder.losses))
    assert penalty == pytest.approx(0.5 * np.mean(np.sum(np.abs(z), axis=1)), rel=1e-5)


@pytest.mark.parametrize("kwargs,message", [
    ({"input_dim": 0, "dict_size": 8, "k": 2}, r"^input_dim must be a positive int\. Received: input_dim=0$"),
    ({"input_dim": 4, "dict_size": 2.0, "k": 2}, r"^dict_size must be a positive int\. Received: dict_size=2\.0$"),
    ({"input_dim": 4, "dict_size": 8, "sparsity": "kl"},
     r"^sparsity must be one of 'topk', 'l1'\. Received: sparsity='kl'$"),
    ({"input_dim": 4, "dict_size": 8}, r"^k must be a positive int when sparsity='topk'\. Received: k=None$"),
    ({"input_dim": 4, "dict_size": 8, "k": 9}, r"^k must be at most dict_size \(8\)\. Received: k=9$"),
    ({"input_dim": 4, "dict_size": 8, "k": 2, "l1_weight": 0.1},
     r"^l1_weight must be None when sparsity='topk'\. Received: l1_weight=0\.1$"),
    ({"input_dim": 4, "dict_size": 8, "sparsity": "l1"},
     r"^l1_weight must be a non-negative float when sparsity='l1'\. Received: l1_weight=None$"),
    ({"input_dim": 4, "dict_size": 8, "sparsity": "l1", "l1_weight": -1.0},
     r"^l1_weight must be a non-negative float\. Received: l1_weight=-1\.0$"),
    ({"input_dim": 4, "dict_size": 8, "sparsity": "l1", "l1_weight": 0.1, "k": 2},
     r"^k must be None when sparsity='l1'\. Received: k=2$"),
    ({"input_dim": 4, "dict_size": 8, "k": 2, "unit_norm_decoder": 1},
     r"^unit_norm_decoder must be True or False\. Received: unit_norm_decoder=1$"),
    ({"input_dim": 4, "dict_size": 8, "k": 2, "seed": -1}, r"^seed must be None or an int in \[0, "),
    ({"input_dim": 4, "dict_size": 8, "k": 2, "pre_bias": np.zeros(3)},
     r"^pre_bias must be None or a finite array of shape \(4,\)\. Received: pre_bias='array of shape \(3,\)'$"),
])
def test_build_sae_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        interp.build_sae(**kwargs)


SAVE_LOAD_SCRIPT = """
import numpy as np
import aebook.interpretability  # registers TopKSparsity and PreBias
import keras
folder = __FOLDER__
x = np.load(f"{folder}/x.npy")
for name in ("topk", "l1"):
    model = keras.saving.load_model(f"{folder}/{name}.keras")
    np.save(f"{folder}/{name}_loaded.npy", model.predict(x, batch_size=len(x), verbose=0))
    print(name, model.name, [type(layer).__name__ for layer in model.layers])
"""


def test_saes_save_and_load_in_a_fresh_process(tmp_path, run_python, acts):
    expected = {}
    for name, kwargs in (("topk", {"k": 3}), ("l1", {"l1_weight": 0.01})):
        _, _, autoencoder = interp.build_sae(6, 24, sparsity=name, seed=1, **kwargs)
        autoencoder.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        autoencoder.train_on_batch(acts, acts)  # every weight away from its initial value
        autoencoder.save(tmp_path / f"{name}.keras")
        expected[name] = autoencoder.predict(acts, batch_size=len(acts), verbose=0)
    np.save(tmp_path / "x.npy", acts)
    out = run_python(SAVE_LOAD_SCRIPT.replace("__FOLDER__", repr(str(tmp_path))))
    assert "topk sae ['InputLayer', 'PreBias', 'Dense', 'TopKSparsity', 'Dense']" in out
    assert "l1 sae ['InputLayer', 'PreBias', 'Dense', 'Activation', 'L1Sparsity', 'Dense']" in out
    for name, pred in expected.items():
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}_loaded.npy"), pred)


# ---------------------------------------------------------------- metrics


def test_fraction_variance_explained_known_answers():
    x = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]])  # total variance sum: 8 + 8 = 16
    assert interp.fraction_variance_explained(x, x) == 1.0
    assert interp.fraction_variance_explained(x, np.tile(x.mean(0), (3, 1))) == pytest.approx(0.0)
    x_hat = x + np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # squared error 4
    assert interp.fraction_variance_explained(x, x_hat) == pytest.approx(0.75)
    with pytest.raises(ValueError, match=r"^x_hat must be the shape of x \(3, 2\)"):
        interp.fraction_variance_explained(x, x[:2])
    with pytest.raises(ValueError, match="^x must be an array with non-zero variance"):
        interp.fraction_variance_explained(np.ones((3, 2)), np.ones((3, 2)))


def test_l0_and_dead_latents_known_answers():
    z = np.array([[0.0, 1.0, 0.0, 0.2], [0.0, 3.0, 2.0, 0.0], [0.0, 0.5, 0.0, 0.0]])
    assert interp.l0_norm(z) == pytest.approx(5 / 3)
    assert interp.l0_norm(z, threshold=0.4) == pytest.approx(4 / 3)
    assert interp.dead_latent_fraction(z) == 0.25
    assert interp.dead_latent_fraction(z, threshold=0.3) == 0.5
    with pytest.raises(ValueError, match=r"^z must be a non-empty 2-D array"):
        interp.l0_norm(np.zeros(4))
    with pytest.raises(ValueError, match=r"^threshold must be a non-negative float"):
        interp.dead_latent_fraction(z, threshold=-1)


def test_top_activating_and_class_purity_known_answers():
    z = np.array([[5.0, 0.0, 1.0], [4.0, 0.0, 2.0], [3.0, 1.0, 3.0], [0.0, 0.0, 4.0]])
    labels = np.array([1, 1, 2, 2])
    np.testing.assert_array_equal(interp.top_activating(z, 0, n=2), [0, 1])
    np.testing.assert_array_equal(interp.top_activating(z, 2, n=3), [3, 2, 1])
    purity = interp.class_purity(z, labels, top=3)
    # unit 0: labels 1, 1, 2 -> 2/3; unit 1 active on one sample only -> nan; unit 2: 2, 2, 1
    np.testing.assert_allclose(purity, [2 / 3, np.nan, 2 / 3])
    np.testing.assert_allclose(interp.class_purity(z, labels, top=2), [1.0, np.nan, 1.0])
    with pytest.raises(ValueError, match=r"^labels must be an int array of shape \(4,\)"):
        interp.class_purity(z, labels[:3])
    with pytest.raises(ValueError, match=r"^unit must be an int in \[0, 3\)\. Received: unit=3$"):
        interp.top_activating(z, 3)
    with pytest.raises(ValueError, match=r"^n must be at most the number of samples \(4\)"):
        interp.top_activating(z, 0, n=5)

"""aebook.callbacks.KLAnnealing and aebook.metrics.gradient_sharpness."""

import keras
import numpy as np
import pytest

import aebook
from aebook.callbacks import KLAnnealing
from aebook.losses import sum_binary_crossentropy
from aebook.metrics import gradient_sharpness


def test_schedule_is_linear_then_flat():
    cb = KLAnnealing(beta_end=2.0, warmup_epochs=4)
    assert [cb.beta_at(e) for e in range(6)] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    cb = KLAnnealing(beta_end=1.0, warmup_epochs=2, beta_start=0.5)
    assert [cb.beta_at(e) for e in range(3)] == [0.5, 0.75, 1.0]


@pytest.mark.parametrize("kwargs", [{"beta_end": -1.0}, {"warmup_epochs": 0},
                                    {"warmup_epochs": 1.5}, {"beta_start": -0.1}])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        KLAnnealing(**kwargs)


def test_sets_the_beta_of_the_vae_and_logs_it(x_binary):
    _, _, vae = aebook.build_vae(hidden_dims=(8,), latent_dim=2, beta=3.0, seed=0)
    vae.compile(optimizer="adam", loss=sum_binary_crossentropy)
    history = vae.fit(x_binary[:64], x_binary[:64], epochs=3, batch_size=32, verbose=0,
                      callbacks=[KLAnnealing(beta_end=1.0, warmup_epochs=2)])
    np.testing.assert_allclose(history.history["beta"], [0.0, 0.5, 1.0])
    beta = vae.get_layer("kl_divergence").beta
    assert float(keras.ops.convert_to_numpy(beta)) == pytest.approx(1.0)


def test_zero_beta_removes_the_kl_from_the_loss(x_binary):
    _, _, vae = aebook.build_vae(hidden_dims=(8,), latent_dim=2, seed=0)
    vae.compile(optimizer="adam", loss=sum_binary_crossentropy)
    vae.fit(x_binary[:32], x_binary[:32], epochs=1, batch_size=32, verbose=0,
            callbacks=[KLAnnealing(beta_end=1.0, warmup_epochs=5)])
    vae(x_binary[:32])
    assert float(keras.ops.convert_to_numpy(vae.losses[0])) == pytest.approx(0.0)


def test_model_without_kl_layer_raises(x_flat):
    _, _, ae = aebook.build_vanilla_autoencoder(latent_dim=4)
    ae.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="KLDivergence"):
        ae.fit(x_flat[:8], x_flat[:8], epochs=1, verbose=0, callbacks=[KLAnnealing()])


def test_sharpness_by_hand_and_shapes(images):
    x = np.zeros((1, 4, 4))
    x[0, :, 2:] = 1.0  # one vertical edge: 4 horizontal differences of 1
    np.testing.assert_allclose(gradient_sharpness(x), [4 / 16])
    assert gradient_sharpness(np.ones((2, 28, 28))).tolist() == [0.0, 0.0]
    flat = gradient_sharpness(images.reshape(len(images), -1))
    np.testing.assert_allclose(flat, gradient_sharpness(images[..., None]))
    assert flat.shape == (len(images),) and flat.dtype == np.float64


def test_blur_lowers_sharpness(images):
    blurred = (images + np.roll(images, 1, axis=1) + np.roll(images, 1, axis=2)) / 3
    assert np.all(gradient_sharpness(blurred) < gradient_sharpness(images))


def test_sharpness_rejects_bad_shapes():
    with pytest.raises(ValueError):
        gradient_sharpness(np.zeros((2, 10)))

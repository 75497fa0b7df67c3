"""build_conditional_vae and sample_conditional: shapes, counts, training, saving, errors."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

import aebook
from aebook import losses
from aebook.models import build_conditional_vae, sample_conditional


@pytest.fixture(scope="module")
def data(x_binary):
    y = np.arange(len(x_binary)) % 10
    return x_binary, keras.utils.to_categorical(y, 10).astype("float32"), y


def test_shapes_and_names(data):
    x, y1h, _ = data
    enc, dec, ae = build_conditional_vae(hidden_dims=(32,), latent_dim=3, seed=0)
    assert (enc.name, dec.name, ae.name) == ("encoder", "decoder", "cvae")
    z_mean, z_log_var = enc.predict([x[:8], y1h[:8]], verbose=0)
    assert z_mean.shape == z_log_var.shape == (8, 3)
    assert dec.predict([z_mean, y1h[:8]], verbose=0).shape == (8, 784)
    out = ae.predict([x[:8], y1h[:8]], verbose=0)
    assert out.shape == (8, 784) and 0 <= out.min() and out.max() <= 1


def test_parameter_count():
    enc, dec, ae = build_conditional_vae(input_dim=784, num_classes=10, hidden_dims=(512,),
                                         latent_dim=2)
    encoder = ((784 + 10) * 512 + 512) + 2 * (512 * 2 + 2)
    decoder = ((2 + 10) * 512 + 512) + (512 * 784 + 784)
    assert enc.count_params() == encoder
    assert dec.count_params() == decoder
    assert ae.count_params() == encoder + decoder + 1  # + the non-trainable beta


def test_the_label_changes_the_decoded_image(data):
    _, dec, _ = build_conditional_vae(hidden_dims=(16,), latent_dim=2)
    z = np.zeros((2, 2), "float32")
    y = np.eye(10, dtype="float32")[[3, 7]]
    a, b = dec.predict([z, y], verbose=0)
    assert np.abs(a - b).max() > 1e-4


def test_one_step_lowers_the_loss(data):
    x, y1h, _ = data
    keras.utils.set_random_seed(0)
    _, _, ae = build_conditional_vae(hidden_dims=(32,), latent_dim=2, seed=1)
    ae.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses.sum_binary_crossentropy)
    # the sampling layer is random: compare losses averaged over several evaluations
    before = np.mean([ae.evaluate([x, y1h], x, batch_size=256, verbose=0) for _ in range(5)])
    ae.fit([x, y1h], x, epochs=1, batch_size=len(x), verbose=0)
    after = np.mean([ae.evaluate([x, y1h], x, batch_size=256, verbose=0) for _ in range(5)])
    assert after < before


def test_save_and_load_in_a_fresh_process(tmp_path, data):
    x, y1h, _ = data
    keras.utils.set_random_seed(0)
    enc, dec, ae = build_conditional_vae(hidden_dims=(16,), latent_dim=2, beta=0.5, seed=2)
    ae.compile(optimizer="adam", loss=losses.sum_binary_crossentropy)
    ae.fit([x, y1h], x, epochs=1, batch_size=64, verbose=0)
    ae.save(tmp_path / "cvae.keras")
    np.save(tmp_path / "x.npy", x[:16])
    np.save(tmp_path / "y.npy", y1h[:16])
    z_mean = enc.predict([x[:16], y1h[:16]], verbose=0)[0]
    decoded = dec.predict([z_mean, y1h[:16]], verbose=0)
    script = f"""
import json, numpy as np, aebook, keras
m = keras.models.load_model({str(tmp_path / "cvae.keras")!r})
x, y = np.load({str(tmp_path / "x.npy")!r}), np.load({str(tmp_path / "y.npy")!r})
zm = m.get_layer("encoder").predict([x, y], verbose=0)[0]
np.save({str(tmp_path / "zm.npy")!r}, zm)
np.save({str(tmp_path / "dec.npy")!r}, m.get_layer("decoder").predict([zm, y], verbose=0))
beta = float(keras.ops.convert_to_numpy(m.get_layer("kl_divergence").beta))
json.dump({{"name": m.name, "beta": beta}}, open({str(tmp_path / "r.json")!r}, "w"))
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    report = json.load(open(tmp_path / "r.json"))
    assert report == {"name": "cvae", "beta": 0.5}
    np.testing.assert_array_equal(np.load(tmp_path / "zm.npy"), z_mean)
    np.testing.assert_array_equal(np.load(tmp_path / "dec.npy"), decoded)


def test_sample_conditional():
    _, dec, _ = build_conditional_vae(hidden_dims=(16,), latent_dim=4)
    a = sample_conditional(dec, [0, 1, 9], seed=3)
    assert a.shape == (3, 784)
    np.testing.assert_array_equal(a, sample_conditional(dec, [0, 1, 9], seed=3))
    for bad in ([10], [-1], [], [0.5], [[1, 2]]):
        with pytest.raises(ValueError, match="labels"):
            sample_conditional(dec, bad)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_classes": 0}, "num_classes"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"hidden_dims": [0]}, "hidden_dims"),
        ({"beta": -1}, "beta"),
        ({"activation": "nope"}, "activation"),
        ({"seed": "1"}, "seed"),
        ({"input_dim": -3}, "input_dim"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        build_conditional_vae(**kwargs)


def test_exported():
    assert aebook.build_conditional_vae is build_conditional_vae

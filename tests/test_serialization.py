"""`.keras` save/load in a FRESH Python process gives identical predictions.

One module-scoped fixture builds every model, trains it one step (so biases and
optimizer state are not at their initial values), saves it with an input batch
and the in-process references, then ONE subprocess (importing aebook, so the
registered classes exist) loads them all and writes its outputs. Starting Python
and importing keras/torch costs ~10 s here, hence the single subprocess.
"""

import json

import keras
import numpy as np
import pytest

import aebook
from aebook import losses

FLAT, IMAGE = "flat", "image"

MODELS = {
    "vanilla": (lambda: aebook.build_vanilla_autoencoder(latent_dim=16), FLAT),
    "deep": (lambda: aebook.build_deep_autoencoder(hidden_dims=(32, 16), latent_dim=8), FLAT),
    "conv_transpose": (lambda: aebook.build_conv_autoencoder(filters=(4, 8)), IMAGE),
    "conv_upsample_latent": (
        lambda: aebook.build_conv_autoencoder(filters=(4, 8), latent_dim=10, upsampling="upsample"),
        IMAGE),
    "denoising_dense": (
        lambda: aebook.build_denoising_autoencoder(input_shape=(784,), latent_dim=16,
                                                   hidden_dims=(32,), noise="salt_and_pepper",
                                                   noise_level=0.2, seed=3), FLAT),
    "denoising_conv": (
        lambda: aebook.build_denoising_autoencoder(input_shape=(28, 28, 1), latent_dim=6,
                                                   filters=(4, 8), noise="gaussian",
                                                   noise_level=0.4, seed=4), IMAGE),
    "sparse_kl": (lambda: aebook.build_sparse_autoencoder(latent_dim=64, penalty="kl",
                                                          sparsity_weight=0.05, target=0.1), FLAT),
    "sparse_l1": (lambda: aebook.build_sparse_autoencoder(latent_dim=64, penalty="l1",
                                                          sparsity_weight=0.01), FLAT),
    "sparse_none": (lambda: aebook.build_sparse_autoencoder(latent_dim=64, penalty=None), FLAT),
    "contractive": (lambda: aebook.build_contractive_autoencoder(latent_dim=16,
                                                                 contractive_weight=0.3), FLAT),
}
BETA = 0.37  # a KL-annealed value, different from the constructor's beta=1.5

LOAD_SCRIPT = r"""
import json, sys
import numpy as np
import aebook  # registers the aebook> classes (and selects the torch backend)
import keras

folder = __FOLDER__
manifest = json.load(open(f"{folder}/manifest.json"))
report = {"backend": keras.backend.backend()}
for case in manifest:
    model = keras.models.load_model(f"{folder}/{case}.keras")
    x = np.load(f"{folder}/{case}_x.npy")
    info = {"name": model.name, "layers": [type(layer).__name__ for layer in model.layers],
            "loss": getattr(model.loss, "__name__", str(model.loss))}
    if case == "vae":
        encoder = model.get_layer("encoder")
        z_mean, z_log_var = encoder.predict(x, batch_size=len(x), verbose=0)
        np.save(f"{folder}/{case}_z_mean_loaded.npy", z_mean)
        np.save(f"{folder}/{case}_z_log_var_loaded.npy", z_log_var)
        info["beta"] = float(keras.ops.convert_to_numpy(model.get_layer("kl_divergence").beta))
        info["sampling_seed"] = model.get_layer("sampling").seed
    else:
        np.save(f"{folder}/{case}_pred_loaded.npy", model.predict(x, batch_size=len(x), verbose=0))
        info["eval_loss"] = float(model.evaluate(x, x, batch_size=len(x), verbose=0))
        if "corruption" in [layer.name for layer in model.layers]:
            config = model.get_layer("corruption").get_config()
            info["corruption"] = [config["noise"], config["level"], config["seed"]]
    report[case] = info
json.dump(report, open(f"{folder}/report.json", "w"))
"""


def _predict(model, x):
    return model.predict(x, batch_size=len(x), verbose=0)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, run_python, x_flat, x_img, x_binary):
    """Saves every model, loads them all in one fresh process; returns (folder, refs, report)."""
    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("saved")
    refs = {}
    for case, (build, kind) in MODELS.items():
        ae = build().autoencoder
        x = (x_flat if kind == FLAT else x_img)[:16]
        ae.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
        ae.train_on_batch(x, x)
        ae.save(folder / f"{case}.keras")
        np.save(folder / f"{case}_x.npy", x)
        refs[case] = {"pred": _predict(ae, x), "name": ae.name,
                      "eval_loss": ae.evaluate(x, x, batch_size=len(x), verbose=0),
                      "layers": [type(layer).__name__ for layer in ae.layers]}

    enc, _, vae = aebook.build_vae(input_dim=784, hidden_dims=(32,), latent_dim=2, beta=1.5, seed=9)
    x = x_binary[:16]
    vae.compile(optimizer=keras.optimizers.Adam(1e-2), loss=losses.sum_binary_crossentropy)
    vae.train_on_batch(x, x)
    vae.get_layer("kl_divergence").beta.assign(BETA)
    vae.save(folder / "vae.keras")
    np.save(folder / "vae_x.npy", x)
    z_mean, z_log_var = _predict(enc, x)
    refs["vae"] = {"z_mean": z_mean, "z_log_var": z_log_var}

    (folder / "manifest.json").write_text(json.dumps([*MODELS, "vae"]))
    run_python(LOAD_SCRIPT.replace("__FOLDER__", repr(str(folder))))
    report = json.loads((folder / "report.json").read_text())
    return folder, refs, report


@pytest.mark.parametrize("case", list(MODELS))
def test_reloaded_model_predicts_identically(saved, case):
    folder, refs, report = saved
    loaded = np.load(folder / f"{case}_pred_loaded.npy")
    # Same weights, same ops, same batch, same CPU kernels: bit-identical.
    np.testing.assert_array_equal(loaded, refs[case]["pred"])
    assert report[case]["name"] == refs[case]["name"]
    assert report[case]["layers"] == refs[case]["layers"]
    assert report["backend"] == "torch"


@pytest.mark.parametrize("case", list(MODELS))
def test_reloaded_model_has_the_same_loss_including_penalties(saved, case):
    """evaluate() includes the add_loss penalties, so their weights must survive too
    (and evaluate is deterministic: Corruption is the identity at inference)."""
    _, refs, report = saved
    assert report[case]["loss"] == "binary_crossentropy"
    assert report[case]["eval_loss"] == pytest.approx(refs[case]["eval_loss"], rel=1e-6, abs=0)


def test_reloaded_corruption_keeps_its_config(saved):
    _, _, report = saved
    assert report["denoising_dense"]["corruption"] == ["salt_and_pepper", 0.2, 3]
    assert report["denoising_conv"]["corruption"] == ["gaussian", 0.4, 4]


def test_reloaded_vae_encoder_means_and_beta(saved):
    folder, refs, report = saved
    np.testing.assert_array_equal(np.load(folder / "vae_z_mean_loaded.npy"), refs["vae"]["z_mean"])
    np.testing.assert_array_equal(np.load(folder / "vae_z_log_var_loaded.npy"),
                                  refs["vae"]["z_log_var"])
    info = report["vae"]
    assert info["name"] == "vae"
    assert info["layers"] == ["InputLayer", "Functional", "KLDivergence", "Sampling", "Functional"]
    assert info["beta"] == pytest.approx(BETA, rel=1e-7)  # the variable's value, not the config's 1.5
    assert info["sampling_seed"] == 9
    assert info["loss"] == "sum_binary_crossentropy"

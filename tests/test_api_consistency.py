"""One consistent API (issue 15, part 4): activations, argument names, kernel_size,
public validation helpers, exports, InputSpecs, the backend warning.

`compose_vae` has its own file, tests/test_api_compose_vae.py.
"""

import ast
import inspect
import json
import pathlib
import re
import warnings

import keras
import numpy as np
import pytest

import aebook
from aebook import data, layers, models, validation

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aebook"

# ---------------------------------------------------------------- activations

NEW_ACTIVATIONS = ["swish", "silu", "mish", "gelu", "hard_sigmoid", keras.activations.relu]

ACTIVATION_BUILDERS = {
    "vanilla": lambda a: aebook.build_vanilla_autoencoder(input_dim=8, latent_dim=2, activation=a),
    "deep": lambda a: aebook.build_deep_autoencoder(input_dim=8, hidden_dims=(4,), latent_dim=2,
                                                    activation=a, latent_activation=a),
    "conv": lambda a: aebook.build_conv_autoencoder(input_shape=(8, 8, 1), filters=(2,),
                                                    activation=a),
    "denoising": lambda a: aebook.build_denoising_autoencoder(input_shape=(8,), latent_dim=2,
                                                              hidden_dims=(4,), activation=a),
    "sparse": lambda a: aebook.build_sparse_autoencoder(input_dim=8, latent_dim=4, penalty="l1",
                                                        activation=a),
    "vae": lambda a: aebook.build_vae(input_dim=8, hidden_dims=(4,), latent_dim=2, activation=a),
    "cvae": lambda a: aebook.build_conditional_vae(input_dim=8, num_classes=3, hidden_dims=(4,),
                                                   latent_dim=2, activation=a),
    "conv_vae": lambda a: models.build_conv_vae(input_shape=(8, 8, 1), filters=(2,), latent_dim=2,
                                                activation=a),
}


def _activation_name(activation):
    return activation if isinstance(activation, str) else activation.__name__


@pytest.mark.parametrize("activation", NEW_ACTIVATIONS, ids=_activation_name)
@pytest.mark.parametrize("builder", list(ACTIVATION_BUILDERS))
def test_every_keras_activation_is_accepted_and_used(builder, activation):
    parts = ACTIVATION_BUILDERS[builder](activation)
    used = {layer.activation.__name__ for model in (parts.encoder, parts.decoder)
            for layer in model.layers if hasattr(layer, "activation")}
    assert keras.activations.get(activation).__name__ in used, used


@pytest.mark.parametrize("value", ["foo", "sigmoidal", "Relu ", None, 3, ["relu"]])
def test_unknown_activation_gets_the_house_message(value):
    expected = ("activation must be a Keras activation: a name such as 'relu' or 'swish', or a "
                f"callable. Received: activation={value!r}")
    with pytest.raises(ValueError) as info:
        aebook.build_vanilla_autoencoder(activation=value)
    assert str(info.value) == expected
    with pytest.raises(ValueError, match=re.escape(f"Received: output_activation={value!r}")):
        aebook.build_conv_autoencoder(output_activation=value)


def test_the_validator_returns_names_and_callables_unchanged():
    assert validation.activation("activation", "swish") == "swish"
    assert validation.activation("activation", np.tanh) is np.tanh


# ---------------------------------------------------------------- argument names


def _params(function):
    return list(inspect.signature(function).parameters)


def test_corruption_is_noise_and_level_everywhere():
    for function in (aebook.build_denoising_autoencoder, layers.Corruption.__init__, data.corrupt):
        params = _params(function)
        assert "noise" in params and "level" in params, (function, params)
        assert "noise_level" not in params


DENSE_ONLY = ["build_vanilla_autoencoder", "build_deep_autoencoder", "build_sparse_autoencoder",
              "build_contractive_autoencoder", "build_vae", "build_conditional_vae"]
IMAGE_CAPABLE = ["build_conv_autoencoder", "build_denoising_autoencoder", "build_conv_vae"]


def test_input_argument_rule():
    """Dense-only builders take `input_dim`, builders that take images `input_shape`."""
    builders = [n for n in dir(models) if n.startswith("build_")]
    assert sorted(builders) == sorted(DENSE_ONLY + IMAGE_CAPABLE)
    for name in DENSE_ONLY:
        params = _params(getattr(models, name))
        assert params[0] == "input_dim" and "input_shape" not in params, name
    for name in IMAGE_CAPABLE:
        params = _params(getattr(models, name))
        assert params[0] == "input_shape" and "input_dim" not in params, name


def _config(parts):
    return json.dumps([m.get_config() for m in parts], sort_keys=True, default=str)


def test_old_noise_level_keyword_still_works_with_a_deprecation_warning():
    kwargs = dict(input_shape=(8,), latent_dim=2, hidden_dims=(4,), noise="masking", seed=1)
    with pytest.warns(DeprecationWarning, match=r"noise_level= is deprecated.*use level="):
        old = aebook.build_denoising_autoencoder(noise_level=0.3, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name warns about nothing
        new = aebook.build_denoising_autoencoder(level=0.3, **kwargs)
    assert old.autoencoder.get_layer("corruption").level == 0.3
    assert _config(old) == _config(new)


def test_deprecation_warning_points_at_the_caller():
    with pytest.warns(DeprecationWarning) as record:
        aebook.build_denoising_autoencoder(input_shape=(8,), latent_dim=2, noise_level=0.1)
    assert record[0].filename == __file__


def test_old_keyword_is_named_in_its_validation_message():
    with pytest.warns(DeprecationWarning), pytest.raises(
            ValueError, match=r"^noise_level must be a float in \[0, 1\]\. Received: noise_level=1\.5"):
        aebook.build_denoising_autoencoder(noise="masking", noise_level=1.5)
    with pytest.raises(ValueError, match=r"^level must be a float in \[0, 1\]\. Received: level=1\.5"):
        aebook.build_denoising_autoencoder(noise="masking", level=1.5)


def test_both_names_or_an_unknown_keyword_raise_type_error():
    with pytest.raises(TypeError, match=r"both level= and its deprecated old name noise_level="):
        aebook.build_denoising_autoencoder(level=0.2, noise_level=0.3)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'noise_levle'"):
        aebook.build_denoising_autoencoder(noise_levle=0.3)


# ---------------------------------------------------------------- kernel_size


def _kernel_sizes(parts):
    return {layer.name: layer.kernel_size for model in (parts.encoder, parts.decoder)
            for layer in model.layers if hasattr(layer, "kernel_size")}


@pytest.mark.parametrize("upsampling", ["transpose", "upsample"])
def test_denoising_conv_path_takes_kernel_size(upsampling):
    kwargs = dict(input_shape=(8, 8, 1), filters=(2, 4), latent_dim=3, upsampling=upsampling)
    dae = aebook.build_denoising_autoencoder(kernel_size=5, **kwargs)
    sizes = _kernel_sizes(dae)
    assert len(sizes) == 5 and set(sizes.values()) == {(5, 5)}, sizes
    conv = aebook.build_conv_autoencoder(kernel_size=5, **kwargs)
    assert dae.autoencoder.count_params() == conv.autoencoder.count_params()
    default = aebook.build_denoising_autoencoder(**kwargs)  # default unchanged: 3
    assert set(_kernel_sizes(default).values()) == {(3, 3)}


@pytest.mark.parametrize("value", [0, 2.5, "3"])
def test_bad_kernel_size_is_rejected(value):
    with pytest.raises(ValueError, match=rf"^kernel_size must be a positive int\. "
                                         rf"Received: kernel_size={re.escape(repr(value))}"):
        aebook.build_denoising_autoencoder(input_shape=(8, 8, 1), filters=(2,), kernel_size=value)


def test_every_conv_builder_exposes_kernel_size():
    for name in IMAGE_CAPABLE:
        assert inspect.signature(getattr(models, name)).parameters["kernel_size"].default == 3


# ---------------------------------------------------------------- public validation API


def _cross_module_private_uses(path):
    """`module._name` attribute uses and `from aebook.x import _name` imports in a file."""
    tree = ast.parse(path.read_text())
    aliases = set()  # local names bound to aebook modules
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aebook"):
            for alias in node.names:
                if node.module == "aebook":
                    aliases.add(alias.asname or alias.name)
                elif alias.name.startswith("_"):
                    found.append(f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("aebook"):
                    aliases.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    return found


def test_no_private_helper_is_used_across_modules():
    uses = {path.name: _cross_module_private_uses(path) for path in sorted(PACKAGE.glob("*.py"))}
    assert {name: found for name, found in uses.items() if found} == {}


def test_the_detector_finds_a_private_use(tmp_path):
    """The check above can fail: it sees the pattern this issue removed."""
    sample = tmp_path / "sample.py"
    sample.write_text("from aebook import validation as v\nfrom aebook.data import _FILENAMES\n"
                      "v._fail('x', 'y', 1)\n")
    assert _cross_module_private_uses(sample) == ["from aebook.data import _FILENAMES",
                                                  "v._fail (line 3)"]


def test_public_validation_helpers():
    with pytest.raises(ValueError, match=r"^window must be at most 5\. Received: window=9$"):
        validation.fail("window", "at most 5", 9)
    assert validation.is_int(np.int64(3)) and not validation.is_int(True)
    assert validation.is_real(np.float32(0.5)) and not validation.is_real(np.bool_(True))
    assert validation.flag("clip", np.bool_(False)) is False
    assert validation.flag("clip", None, allow_none=True) is None
    with pytest.raises(ValueError, match=r"^clip must be True or False\. Received: clip=1$"):
        validation.flag("clip", 1)


# ---------------------------------------------------------------- exports and docs


def test_anomaly_and_compression_are_exported():
    assert {"anomaly", "compression", "validation", "compose_vae"} <= set(aebook.__all__)
    assert aebook.anomaly.make_anomalous_signal is not None
    assert aebook.compression.__name__ == "aebook.compression"


def test_plot_score_curves_lives_in_plotting_and_keeps_its_old_import():
    from aebook.anomaly import plot_score_curves as old
    from aebook.plotting import plot_score_curves as new

    assert old is new
    assert new.__module__ == "aebook.plotting"


def test_api_reference_documents_every_public_module():
    documented = set()
    for page in (ROOT / "book").glob("api*.md"):
        documented |= set(re.findall(r"automodule:: (aebook\.\w+)", page.read_text()))
    public = {f"aebook.{p.stem}" for p in PACKAGE.glob("*.py")
              if not p.stem.startswith("_") and p.stem != "sphinxext"}
    assert public - documented == set()


# ---------------------------------------------------------------- InputSpec


def _layer_classes():
    return [obj for _, obj in inspect.getmembers(layers, inspect.isclass)
            if issubclass(obj, keras.layers.Layer) and obj.__module__ == layers.__name__]


def test_every_custom_layer_declares_an_input_spec():
    classes = _layer_classes()
    assert len(classes) == 7, classes
    dense = keras.layers.Dense(3)
    dense.build((None, 5))
    for cls in classes:
        if cls is layers.ContractiveDense:
            layer = cls(4)
        elif cls is layers.DenseTranspose:
            layer = cls(dense)
        else:
            layer = cls()
        assert layer.input_spec is not None, cls.__name__


def test_contractive_dense_wrong_input_size_is_a_keras_error():
    layer = layers.ContractiveDense(3, name="code")
    layer(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError) as info:
        layer(np.zeros((2, 6), "float32"))
    message = str(info.value)
    assert 'layer \'code\' is incompatible with the layer' in message, message
    assert "expected axis -1 of input shape to have value 5" in message, message
    assert "(2, 6)" in message and "mat1" not in message


def test_contractive_encoder_layer_rejects_a_wrong_input_size():
    encoder = aebook.build_contractive_autoencoder(input_dim=12, latent_dim=3).encoder
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 12"):
        encoder.get_layer("code")(np.zeros((2, 10), "float32"))


@pytest.mark.parametrize("cls", [layers.L1Sparsity, layers.KLSparsity])
def test_sparsity_layers_need_a_batch_axis(cls):
    with pytest.raises(ValueError, match=r"expected min_ndim=2, found ndim=1"):
        cls()(np.full((4,), 0.5, "float32"))


@pytest.mark.parametrize("cls", [layers.Sampling, layers.KLDivergence])
def test_gaussian_layers_check_their_two_inputs(cls):
    with pytest.raises(ValueError, match=r"expects \[z_mean, z_log_var\], two tensors of the "
                                         r"same shape\. Received: input_shape=\[\(2, 3\), \(2, 4\)\]"):
        cls()([np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32")])
    with pytest.raises(ValueError, match=r"expected min_ndim=2, found ndim=1"):
        cls()([np.zeros((3,), "float32"), np.zeros((3,), "float32")])
    built = cls()
    built([np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32")])
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 3"):
        built([np.zeros((2, 4), "float32"), np.zeros((2, 4), "float32")])


# ---------------------------------------------------------------- backend warning

WARN_SCRIPT = r"""
import warnings
import keras
__SETUP__
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        import aebook  # noqa: F401
    except Exception:  # another backend may fail later in the import; the warning came first
        pass
ours = [w for w in caught if "Keras was imported before aebook" in str(w.message)]
print(repr([(w.category.__name__, str(w.message), w.filename) for w in ours]))
"""


def _backend_warnings(run_python, setup, env):
    out = run_python(WARN_SCRIPT.replace("__SETUP__", setup), env_update=env)
    return eval(out.strip().splitlines()[-1])  # a repr of a list of str tuples


def test_import_warns_when_keras_came_first_with_another_backend(run_python):
    # Only torch is installed here (Keras's numpy and jax backends both need jax), so
    # the other backend is simulated: Keras is really imported first, then reports 'jax'.
    found = _backend_warnings(run_python, "keras.backend.backend = lambda: 'jax'",
                              {"KERAS_BACKEND": "torch"})
    assert len(found) == 1, found
    category, message, filename = found[0]
    assert category == "UserWarning"
    assert "with the 'jax' backend" in message
    assert "import aebook before keras" in message and "KERAS_BACKEND=torch" in message
    assert filename == "<string>"  # points at the user's `import aebook`


def test_no_warning_when_keras_came_first_with_torch(run_python):
    assert _backend_warnings(run_python, "", {"KERAS_BACKEND": "torch"}) == []


def test_import_warns_with_a_real_numpy_backend(run_python):
    pytest.importorskip("jax", reason="Keras's numpy backend imports jax")
    found = _backend_warnings(run_python, "", {"KERAS_BACKEND": "numpy"})
    assert len(found) == 1 and "'numpy' backend" in found[0][1], found

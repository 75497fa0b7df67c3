"""The package itself: backend selection on import, public names, version."""

import json
import pathlib

import pytest

import aebook

# A Keras config that names TensorFlow (Keras's own default, not installed here): if
# `import aebook` did not set KERAS_BACKEND, Keras would pick this and fail or differ.
KERAS_JSON = {"floatx": "float32", "epsilon": 1e-07, "backend": "tensorflow",
              "image_data_format": "channels_last"}

REPORT = r"""
import json, os
result = {"env_before": os.environ.get("KERAS_BACKEND")}
try:
    import aebook
    import keras
    result["backend"] = keras.backend.backend()
except ImportError as e:
    result["error"] = f"{type(e).__name__}: {e}"
result["env_after"] = os.environ.get("KERAS_BACKEND")
print(json.dumps(result))
"""


@pytest.fixture
def keras_home(tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps(KERAS_JSON))
    return str(tmp_path)


def test_import_selects_torch_when_no_backend_is_set(run_python, keras_home):
    out = run_python(REPORT, env_update={"KERAS_HOME": keras_home}, unset=("KERAS_BACKEND",))
    result = json.loads(out.strip().splitlines()[-1])
    assert result == {"env_before": None, "backend": "torch", "env_after": "torch"}


def test_import_respects_an_existing_backend_choice(run_python, keras_home):
    # TensorFlow is what a user would pick instead of torch; whether or not it is
    # installed, aebook must leave the choice alone (if it overwrote the variable,
    # the import would succeed on torch and env_after would read "torch").
    out = run_python(REPORT, env_update={"KERAS_HOME": keras_home, "KERAS_BACKEND": "tensorflow"})
    result = json.loads(out.strip().splitlines()[-1])
    assert result["env_before"] == result["env_after"] == "tensorflow"
    if "backend" in result:
        assert result["backend"] == "tensorflow"
    else:
        assert "tensorflow" in result["error"]


def test_public_names():
    for name in aebook.__all__:
        assert hasattr(aebook, name), name
    assert aebook.build_vae is aebook.models.build_vae
    assert aebook.load_mnist is aebook.data.load_mnist
    assert set(aebook.AutoencoderParts._fields) == {"encoder", "decoder", "autoencoder"}


def test_version_matches_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    pyproject = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"
    with open(pyproject, "rb") as f:
        assert aebook.__version__ == tomllib.load(f)["project"]["version"]

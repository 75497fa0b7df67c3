"""aebook.data: loading tiny generated .npz files, errors, offline behaviour, corrupt()."""

import gzip
import re
import socket

import numpy as np
import pytest

from aebook import data
from aebook.data import DataError, DataUnavailableError

LOADERS = {"mnist": (data.load_mnist, "mnist.npz"),
           "fashion_mnist": (data.load_fashion_mnist, "fashion_mnist.npz")}


@pytest.fixture(autouse=True)
def _no_env_data_dir(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)


@pytest.fixture(params=list(LOADERS))
def loader(request):
    """(load function, file name) for MNIST and Fashion-MNIST."""
    return LOADERS[request.param]


# ---------------------------------------------------------------- where the file comes from


def test_explicit_file_path(tmp_path, loader, write_npz):
    load, _ = loader
    arrays = write_npz(tmp_path / "anything.npz")
    (x_train, y_train), (x_test, y_test) = load(path=tmp_path / "anything.npz")
    assert x_train.shape == (20, 784) and x_test.shape == (10, 784)
    np.testing.assert_array_equal(x_train, arrays["x_train"].reshape(20, 784) / np.float32(255))
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def test_explicit_folder_path_uses_the_data_set_file_name(tmp_path, loader, write_npz):
    load, fname = loader
    arrays = write_npz(tmp_path / fname, seed=1)
    write_npz(tmp_path / "other.npz", seed=2)  # a decoy that must not be read
    (x_train, _), _ = load(path=str(tmp_path))
    np.testing.assert_array_equal(x_train, arrays["x_train"].reshape(20, 784) / np.float32(255))


def test_folder_without_the_file(tmp_path, loader):
    load, fname = loader
    with pytest.raises(DataError, match=re.escape(fname)):
        load(path=tmp_path)
    with pytest.raises(DataError, match="no such file"):
        load(path=tmp_path / "missing.npz")


def test_env_var_is_honoured_and_explicit_path_wins(tmp_path, loader, write_npz, monkeypatch):
    load, fname = loader
    env_dir, explicit_dir = tmp_path / "env", tmp_path / "explicit"
    env_dir.mkdir()
    explicit_dir.mkdir()
    from_env = write_npz(env_dir / fname, seed=1)
    from_path = write_npz(explicit_dir / fname, seed=2)
    monkeypatch.setenv("AEBOOK_DATA_DIR", str(env_dir))
    (x_env, _), _ = load()
    np.testing.assert_array_equal(x_env, from_env["x_train"].reshape(20, 784) / np.float32(255))
    (x_explicit, _), _ = load(path=explicit_dir)
    np.testing.assert_array_equal(x_explicit,
                                  from_path["x_train"].reshape(20, 784) / np.float32(255))
    assert not np.array_equal(x_env, x_explicit)


def test_env_var_folder_without_the_file_names_the_variable(tmp_path, loader, monkeypatch):
    load, fname = loader
    monkeypatch.setenv("AEBOOK_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as info:
        load()
    message = str(info.value)
    assert "AEBOOK_DATA_DIR" in message and fname in message and str(tmp_path) in message


# ---------------------------------------------------------------- values and layouts


def test_values_dtypes_and_layouts(tmp_path, loader, write_npz):
    load, _ = loader
    arrays = write_npz(tmp_path / "d.npz")
    (x_flat, y), (_, y_test) = load(path=tmp_path / "d.npz", layout="flat")
    assert x_flat.dtype == np.float32 and x_flat.shape == (20, 784)
    assert x_flat.min() >= 0.0 and x_flat.max() <= 1.0
    assert x_flat[0, 0] == 1.0 and x_flat[0, 1] == 0.0  # 255 -> 1.0, 0 -> 0.0
    assert x_flat[0, 2] == np.float32(arrays["x_train"][0, 0, 2]) / np.float32(255)
    assert y.dtype == np.int64 and y_test.dtype == np.int64 and y.shape == (20,)
    (x_image, _), (x_test_image, _) = load(path=tmp_path / "d.npz", layout="image")
    assert x_image.shape == (20, 28, 28, 1) and x_test_image.shape == (10, 28, 28, 1)
    np.testing.assert_array_equal(x_image.reshape(20, -1), x_flat)
    with pytest.raises(ValueError, match="^layout must be"):
        load(path=tmp_path / "d.npz", layout="nchw")


def test_validation_split(tmp_path, loader, write_npz):
    load, _ = loader
    arrays = write_npz(tmp_path / "d.npz")
    splits = load(path=tmp_path / "d.npz", validation_split=0.25, seed=3)
    assert len(splits) == 3
    (x_train, y_train), (x_val, y_val), (x_test, _) = splits
    assert len(x_train) == len(y_train) == 15 and len(x_val) == len(y_val) == 5
    assert len(x_test) == 10
    # images of the train split are distinct (random bytes), so compare rows as sets
    original = {row.tobytes() for row in arrays["x_train"].reshape(20, -1)}
    as_bytes = [{(np.round(r * 255).astype(np.uint8)).tobytes() for r in x} for x in (x_train, x_val)]
    assert as_bytes[0].isdisjoint(as_bytes[1]) and as_bytes[0] | as_bytes[1] == original
    # the same seed gives the same split, another seed another one
    (x_train_again, _), (x_val_again, _), _ = load(path=tmp_path / "d.npz", validation_split=0.25,
                                                   seed=3)
    np.testing.assert_array_equal(x_val_again, x_val)
    np.testing.assert_array_equal(x_train_again, x_train)
    _, (x_val_other, _), _ = load(path=tmp_path / "d.npz", validation_split=0.25, seed=4)
    assert not np.array_equal(x_val_other, x_val)


@pytest.mark.parametrize("split", [0.0, 1.0, 1.5, -0.1, "0.2"])
def test_bad_validation_split(tmp_path, write_npz, split):
    write_npz(tmp_path / "d.npz")
    with pytest.raises(ValueError, match="^validation_split must be"):
        data.load_mnist(path=tmp_path / "d.npz", validation_split=split)


def test_validation_split_leaving_an_empty_split(tmp_path, write_npz):
    write_npz(tmp_path / "d.npz")
    with pytest.raises(ValueError, match="validation_split=0.01"):
        data.load_mnist(path=tmp_path / "d.npz", validation_split=0.01)  # round(0.2) = 0


# ---------------------------------------------------------------- malformed files


MALFORMED = {
    "missing key": ({"drop": ("y_test",)}, r"missing array\(s\) y_test"),
    "wrong shape": ({"x_train": np.zeros((20, 28, 27), np.uint8)},
                    r"x_train has shape \(20, 28, 27\), expected \(N, 28, 28\)"),
    "wrong dtype": ({"x_test": np.zeros((10, 28, 28), np.float32)},
                    r"x_test has dtype float32, expected uint8"),
    "label dtype": ({"y_train": np.zeros(20, np.float64)}, r"y_train has dtype float64"),
    "label out of range": ({"y_test": np.arange(10, dtype=np.uint8) + 1},
                           r"y_test has labels in \[1, 10\], expected 0\.\.9"),
    "count mismatch": ({"y_train": np.zeros(19, np.uint8)},
                       r"x_train has 20 images but y_train 19 labels"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_gives_one_data_error_naming_file_and_problem(tmp_path, write_npz, case):
    kwargs, problem = MALFORMED[case]
    path = tmp_path / "bad.npz"
    write_npz(path, **kwargs)
    with pytest.raises(DataError, match=problem) as info:
        data.load_fashion_mnist(path=path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)  # DataError is a ValueError


@pytest.mark.parametrize("content", [b"this is not a zip file at all", b""])
def test_not_a_zip_file(tmp_path, content):
    path = tmp_path / "mnist.npz"
    path.write_bytes(content)
    with pytest.raises(DataError, match="is not a readable .npz file") as info:
        data.load_mnist(path=tmp_path)
    assert str(path) in str(info.value)


def test_npy_instead_of_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DataError, match=re.escape(str(path))):
        data.load_mnist(path=path)


# ---------------------------------------------------------------- offline


@pytest.fixture
def offline(monkeypatch):
    """Blocks every way out of the machine; records the attempts."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[:2])
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_offline_with_nothing_cached_raises_data_unavailable(tmp_path, loader, offline):
    load, fname = loader
    with pytest.raises(DataUnavailableError) as info:
        load(cache_dir=str(tmp_path))
    message = str(info.value)
    assert offline, "the real download code should have tried to connect"
    assert "AEBOOK_DATA_DIR" in message and fname in message and "path=" in message
    assert "offline" in message
    assert isinstance(info.value, OSError)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # no partial download left


def _write_idx_gz(path, header_size, payload):
    with gzip.open(path, "wb") as f:
        f.write(bytes(header_size) + payload.tobytes())


def test_fashion_mnist_reads_the_keras_cache_offline(tmp_path, offline):
    """Cached idx files (as keras.datasets.fashion_mnist leaves them) are read without
    network: 8-byte label headers, 16-byte image headers, images reshaped to 28x28."""
    folder = tmp_path / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    y_train, y_test = np.array([0, 9, 1, 8, 2, 7], np.uint8), np.array([3, 4, 5, 6], np.uint8)
    _write_idx_gz(folder / "train-labels-idx1-ubyte.gz", 8, y_train)
    _write_idx_gz(folder / "train-images-idx3-ubyte.gz", 16, x_train)
    _write_idx_gz(folder / "t10k-labels-idx1-ubyte.gz", 8, y_test)
    _write_idx_gz(folder / "t10k-images-idx3-ubyte.gz", 16, x_test)
    (xtr, ytr), (xte, yte) = data.load_fashion_mnist(cache_dir=str(tmp_path), layout="image")
    assert offline == []  # nothing was downloaded
    np.testing.assert_array_equal(xtr[..., 0], x_train / np.float32(255))
    np.testing.assert_array_equal(xte[..., 0], x_test / np.float32(255))
    np.testing.assert_array_equal(ytr, y_train)
    np.testing.assert_array_equal(yte, y_test)


# ---------------------------------------------------------------- corrupt()


@pytest.mark.parametrize("noise", data.NOISE_TYPES)
def test_corrupt_is_seeded_clipped_and_shaped(noise, images):
    x = images[:16]
    a = data.corrupt(x, noise, 0.3, seed=1)
    assert a.shape == x.shape and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert np.mean(a != x) > 0.1
    np.testing.assert_array_equal(data.corrupt(x, noise, 0.3, seed=1), a)
    assert not np.array_equal(data.corrupt(x, noise, 0.3, seed=2), a)


@pytest.mark.parametrize("noise", data.NOISE_TYPES)
def test_corrupt_is_identity_at_level_zero(noise, images):
    np.testing.assert_array_equal(data.corrupt(images[:4], noise, 0.0), images[:4])


def test_corrupt_statistics():
    n = 100_000
    grey = np.full(n, 0.5, "float32")
    masked = data.corrupt(np.full(n, 0.7, "float32"), "masking", 0.3, seed=0)
    assert abs(np.mean(masked == 0) - 0.3) < 5 * np.sqrt(0.21 / n)
    sp = data.corrupt(grey, "salt_and_pepper", 0.2, seed=0)
    assert abs(np.mean(sp == 0) - 0.1) < 5 * np.sqrt(0.09 / n)
    assert abs(np.mean(sp == 1) - 0.1) < 5 * np.sqrt(0.09 / n)
    noise = data.corrupt(grey, "gaussian", 0.1, seed=0).astype("float64") - 0.5
    assert abs(noise.std() - 0.1) < 5 * 0.1 / np.sqrt(2 * n)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"noise": "speckle"}, "noise"),
    ({"noise": "gaussian", "level": -1.0}, "level"),
    ({"noise": "masking", "level": 1.5}, "level"),
    ({"noise": "masking", "seed": 0.5}, "seed"),
])
def test_corrupt_bad_arguments(kwargs, name, images):
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        data.corrupt(images[:2], **kwargs)

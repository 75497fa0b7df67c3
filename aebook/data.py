"""MNIST and Fashion-MNIST loaders that work offline, and corruption helpers.

Where the data comes from, in this order:

1. an explicit `path=` (a `.npz` file, or a folder holding `mnist.npz` /
   `fashion_mnist.npz`);
2. the folder named by the environment variable `AEBOOK_DATA_DIR`;
3. `keras.datasets` (download once, then cached in `~/.keras/datasets`).

Files use the layout of `keras.datasets.mnist.load_data()` saved with `numpy.savez`:
arrays `x_train` (N, 28, 28) uint8, `y_train` (N,) uint8, `x_test`, `y_test`.
"""

import os

import numpy as np

from aebook import _validation as v

DATA_DIR_ENV = "AEBOOK_DATA_DIR"
_FILENAMES = {"mnist": "mnist.npz", "fashion_mnist": "fashion_mnist.npz"}
_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DataError(ValueError):
    """A data file is missing, unreadable or not in the expected layout."""


class DataUnavailableError(OSError):
    """The data set is neither on disk nor downloadable (e.g. no internet)."""


def _validate(arrays, source):
    """Checks keys, shapes, dtypes and label range; raises one `DataError`."""
    missing = [k for k in _KEYS if k not in arrays]
    if missing:
        raise DataError(
            f"{source} is not a valid data file: missing array(s) "
            f"{', '.join(missing)} (found: {', '.join(sorted(arrays)) or 'none'}). "
            f"Expected arrays {', '.join(_KEYS)} as in keras.datasets.mnist.load_data()."
        )
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        problems = []
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            problems.append(f"x_{split} has shape {x.shape}, expected (N, 28, 28)")
        if y.ndim != 1:
            problems.append(f"y_{split} has shape {y.shape}, expected (N,)")
        elif x.ndim >= 1 and x.shape[0] != y.shape[0]:
            problems.append(f"x_{split} has {x.shape[0]} images but y_{split} {y.shape[0]} labels")
        if x.dtype != np.uint8:
            problems.append(f"x_{split} has dtype {x.dtype}, expected uint8")
        if not np.issubdtype(y.dtype, np.integer):
            problems.append(f"y_{split} has dtype {y.dtype}, expected an integer type")
        elif y.size and (y.min() < 0 or y.max() > 9):
            problems.append(f"y_{split} has labels in [{y.min()}, {y.max()}], expected 0..9")
        if problems:
            raise DataError(f"{source} is not a valid data file: " + "; ".join(problems) + ".")


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise DataError(f"{path} does not exist.") from None
    except Exception as e:  # zipfile.BadZipFile, ValueError, OSError ...
        raise DataError(f"{path} is not a readable .npz file ({type(e).__name__}: {e}).") from None
    _validate(arrays, path)
    return arrays


_HOW_TO_SUPPLY = (
    "Supply the file yourself: download {fname} (keras layout: x_train, y_train, "
    "x_test, y_test as uint8) on a machine with internet, e.g. with "
    "`keras.datasets.{module}.load_data()` and `numpy.savez_compressed`, then either "
    "pass `path=` or set the environment variable {env} to the folder holding it."
)

_MNIST_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def _download(name, cache_dir):
    """Fetches the data set like `keras.datasets` does, into `cache_dir`."""
    import gzip

    import keras

    kwargs = {"cache_dir": cache_dir} if cache_dir is not None else {}
    try:
        if name == "mnist":
            path = keras.utils.get_file(
                "mnist.npz",
                origin=_MNIST_ORIGIN + "mnist.npz",
                file_hash="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
                **kwargs,
            )
            return _read_npz(path), path
        files = {
            "y_train": ("train-labels-idx1-ubyte.gz", 8),
            "x_train": ("train-images-idx3-ubyte.gz", 16),
            "y_test": ("t10k-labels-idx1-ubyte.gz", 8),
            "x_test": ("t10k-images-idx3-ubyte.gz", 16),
        }
        arrays = {}
        for key, (fname, offset) in files.items():
            path = keras.utils.get_file(
                fname,
                origin=_MNIST_ORIGIN + fname,
                cache_subdir=os.path.join("datasets", "fashion-mnist"),
                **kwargs,
            )
            with gzip.open(path, "rb") as f:
                arrays[key] = np.frombuffer(f.read(), np.uint8, offset=offset)
        arrays["x_train"] = arrays["x_train"].reshape(-1, 28, 28)
        arrays["x_test"] = arrays["x_test"].reshape(-1, 28, 28)
        _validate(arrays, "the downloaded Fashion-MNIST files")
        return arrays, os.path.dirname(path)
    except DataError:
        raise
    except Exception as e:  # URL errors, HTTP errors, timeouts, hash mismatches
        fname = _FILENAMES[name]
        raise DataUnavailableError(
            f"Could not download {name} ({type(e).__name__}: {e}). You may be offline. "
            + _HOW_TO_SUPPLY.format(fname=fname, module=name, env=DATA_DIR_ENV)
        ) from None


def locate(name, path=None):
    """Returns the local file to read for data set `name`, or None to download.

    Args:
        name: `"mnist"` or `"fashion_mnist"`.
        path: an explicit `.npz` file or a folder holding `<name>.npz`, or None.

    Returns:
        The path of the file to read, or None if neither `path` nor
        `AEBOOK_DATA_DIR` is given (then the loader downloads).

    Raises:
        DataError: if `path` or `AEBOOK_DATA_DIR` is given but the file is missing.
    """
    fname = _FILENAMES[v.choice("name", name, tuple(_FILENAMES))]
    if path is not None:
        path = os.fspath(path)
        candidate = os.path.join(path, fname) if os.path.isdir(path) else path
        if not os.path.isfile(candidate):
            raise DataError(f"path={path!r}: no such file {candidate!r}.")
        return candidate
    folder = os.environ.get(DATA_DIR_ENV)
    if folder:
        candidate = os.path.join(folder, fname)
        if not os.path.isfile(candidate):
            raise DataError(
                f"{DATA_DIR_ENV}={folder!r} is set but {candidate!r} does not exist. "
                f"Put {fname} there, or unset {DATA_DIR_ENV} to download it."
            )
        return candidate
    return None


def _prepare(x, layout):
    x = x.astype("float32") / 255.0
    if layout == "flat":
        return x.reshape(len(x), -1)
    return x[..., None]


def _load(name, path, layout, validation_split, seed, cache_dir):
    v.choice("layout", layout, ("flat", "image"))
    if validation_split is not None:
        v.open_unit_float("validation_split", validation_split)
    v.optional_int("seed", seed)
    source = locate(name, path)
    arrays = _read_npz(source) if source is not None else _download(name, cache_dir)[0]
    x_train, y_train = _prepare(arrays["x_train"], layout), arrays["y_train"].astype("int64")
    x_test, y_test = _prepare(arrays["x_test"], layout), arrays["y_test"].astype("int64")
    if validation_split is None:
        return (x_train, y_train), (x_test, y_test)
    order = np.random.default_rng(seed).permutation(len(x_train))
    n_val = int(round(validation_split * len(x_train)))
    if n_val == 0 or n_val == len(x_train):
        raise ValueError(
            f"validation_split leaves an empty split of {len(x_train)} training images. "
            f"Received: validation_split={validation_split!r}"
        )
    val, train = order[:n_val], order[n_val:]
    return (x_train[train], y_train[train]), (x_train[val], y_train[val]), (x_test, y_test)


def load_mnist(path=None, layout="flat", validation_split=None, seed=0, cache_dir=None):
    """Loads MNIST as float32 images in [0, 1] with integer labels.

    Args:
        path: optional `.npz` file or folder holding `mnist.npz`. If None, the folder
            in the environment variable `AEBOOK_DATA_DIR` is used; if that is unset,
            the file is downloaded like `keras.datasets.mnist.load_data()`.
        layout: `"flat"` gives images of shape (784,), `"image"` of shape (28, 28, 1).
        validation_split: None, or a float in (0, 1): the fraction of the training
            set held out (seeded shuffle) as a validation set.
        seed: seed of the validation split.
        cache_dir: where a download is cached (default: Keras's, `~/.keras`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`, or with `validation_split`
        `(x_train, y_train), (x_val, y_val), (x_test, y_test)`. `x_*` are float32
        arrays of shape (N, 784) or (N, 28, 28, 1); `y_*` are int64 of shape (N,).

    Raises:
        ValueError: for a bad argument.
        DataError: if the file is missing or not in the keras layout (the message
            names the file and what is wrong).
        DataUnavailableError: if nothing is on disk and the download fails.
    """
    return _load("mnist", path, layout, validation_split, seed, cache_dir)


def load_fashion_mnist(path=None, layout="flat", validation_split=None, seed=0, cache_dir=None):
    """Loads Fashion-MNIST as float32 images in [0, 1] with integer labels.

    Same arguments, returns and errors as `load_mnist`; the file is
    `fashion_mnist.npz`. Class names are in `FASHION_MNIST_CLASSES`.
    """
    return _load("fashion_mnist", path, layout, validation_split, seed, cache_dir)


FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

# ---------------------------------------------------------------- corruption

NOISE_TYPES = ("gaussian", "salt_and_pepper", "masking")


def corrupt(x, noise="gaussian", level=0.5, seed=0):
    """Returns a corrupted copy of `x`, clipped to [0, 1] (seeded, NumPy).

    The same three corruptions as `aebook.layers.Corruption`, for building
    fixed noisy test sets:

    - `"gaussian"`: add N(0, level^2) noise to every pixel;
    - `"salt_and_pepper"`: set a fraction `level` of pixels to 0 or 1 (half each);
    - `"masking"`: set a fraction `level` of pixels to 0 (Vincent et al. 2008).

    Args:
        x: float array with values in [0, 1], any shape.
        noise: one of `"gaussian"`, `"salt_and_pepper"`, `"masking"`.
        level: standard deviation (gaussian) or fraction of pixels (others).
        seed: int seed; the same seed gives the same corruption.

    Returns:
        float32 array of the shape of `x`.

    Raises:
        ValueError: for an unknown `noise` or a bad `level`.
    """
    v.choice("noise", noise, NOISE_TYPES)
    if noise == "gaussian":
        v.non_negative_float("level", level)
    else:
        v.fraction("level", level)
    v.optional_int("seed", seed)
    x = np.asarray(x, dtype="float32")
    rng = np.random.default_rng(seed)
    if noise == "gaussian":
        out = x + level * rng.standard_normal(x.shape, dtype="float32")
    elif noise == "salt_and_pepper":
        u = rng.random(x.shape, dtype="float32")
        out = np.where(u < level / 2, 0.0, np.where(u < level, 1.0, x))
    else:
        out = np.where(rng.random(x.shape, dtype="float32") < level, 0.0, x)
    return np.clip(out, 0.0, 1.0).astype("float32")

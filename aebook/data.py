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

import keras
import numpy as np

from aebook import validation as v

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
        if x.size == 0 or (x.ndim >= 1 and x.shape[0] == 0):
            problems.append(f"x_{split} is empty (shape {x.shape}), expected (N, 28, 28) "
                            "with N > 0")
        elif x.ndim != 3 or x.shape[1:] != (28, 28):
            problems.append(f"x_{split} has shape {x.shape}, expected (N, 28, 28)")
        if y.size == 0:
            problems.append(f"y_{split} is empty (shape {y.shape}), expected (N,) with N > 0")
        elif y.ndim != 1:
            problems.append(f"y_{split} has shape {y.shape}, expected (N,)")
        elif x.ndim >= 1 and x.size and x.shape[0] != y.shape[0]:
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
        validation_split = v.open_unit_float("validation_split", validation_split)
    seed = v.seed("seed", seed)
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
# Structured corruptions (whole images, NumPy only): `corrupt` accepts them, the
# `Corruption` layer does not.
STRUCTURED_CORRUPTIONS = ("occlusion", "blur")
CORRUPTION_TYPES = NOISE_TYPES + STRUCTURED_CORRUPTIONS


def labelled_subset(y, per_class, seed=0):
    """Indices of `per_class` randomly chosen examples of every class (without replacement).

    The few-labels setting of the feature-extraction and masked-autoencoder chapters:
    `idx = labelled_subset(y_train, 10, seed)` then `x_train[idx], y_train[idx]` keeps
    each image with its label. Classes are taken in sorted order, and the indices of
    each class are drawn with `np.random.default_rng(seed).choice`.

    Args:
        y: integer labels, shape (N,).
        per_class: examples to draw from each class (at most the size of the
            smallest class).
        seed: NumPy seed of the draw.

    Returns:
        int array of shape (per_class * number of classes,): the indices of class
        0's examples first, then class 1's, ...

    Raises:
        ValueError: if `y` is not 1-D, `per_class` is not a positive int, a class
            has fewer than `per_class` examples, or `seed` is bad.

    Example:
        >>> import numpy as np
        >>> from aebook.data import labelled_subset
        >>> y = np.array([0, 1, 0, 1, 0, 1])
        >>> idx = labelled_subset(y, 2, seed=0)
        >>> y[idx].tolist()
        [0, 0, 1, 1]
    """
    per_class = v.positive_int("per_class", per_class)
    seed = v.seed("seed", seed, allow_none=False)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of labels. Received: y with shape {y.shape}")
    classes, counts = np.unique(y, return_counts=True)
    if counts.min(initial=per_class) < per_class:
        v.fail("per_class", f"at most the size of the smallest class ({counts.min()})", per_class)
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                           for c in classes])


def corrupt(x, noise="gaussian", level=0.5, seed=0):
    """Returns a corrupted copy of `x`, clipped to [0, 1] (seeded, NumPy).

    The same three corruptions as `aebook.layers.Corruption`, for building
    fixed noisy test sets:

    - `"gaussian"`: add N(0, level^2) noise to every pixel;
    - `"salt_and_pepper"`: set a fraction `level` of pixels to 0 or 1 (half each);
    - `"masking"`: set a fraction `level` of pixels to 0 (Vincent et al. 2008).

    and two structured corruptions of whole images, which the layer lacks:

    - `"occlusion"`: set one square block per image to 0; its side is
      `round(level * side)` pixels for a square image of `side` x `side` pixels,
      at a uniformly random position inside the image;
    - `"blur"`: Gaussian blur with a standard deviation of `level` pixels
      (`scipy.ndimage.gaussian_filter`, "nearest" edges; deterministic, `seed`
      is ignored; `level=0` returns the images unchanged).

    Args:
        x: float array with values in [0, 1], any shape; for `"occlusion"` and
            `"blur"`, square grayscale images of shape (N, H*W), (N, H, W) or
            (N, H, W, 1) with H = W.
        noise: one of `CORRUPTION_TYPES`: `"gaussian"`, `"salt_and_pepper"`,
            `"masking"`, `"occlusion"`, `"blur"`.
        level: standard deviation (gaussian), fraction of pixels (salt_and_pepper,
            masking), block side as a fraction of the image side (occlusion), or
            blur standard deviation in pixels (blur).
        seed: int seed in [0, 2**31 - 1]; the same seed gives the same corruption.

    Returns:
        float32 array of the shape of `x`.

    Raises:
        ValueError: for an unknown `noise`, a bad `level` or `seed`, `x` with values
            outside [0, 1] (e.g. uint8 pixels in 0-255), or (occlusion, blur)
            inputs that are not square images.
    """
    v.choice("noise", noise, CORRUPTION_TYPES)
    if noise in ("gaussian", "blur"):
        level = v.non_negative_float("level", level)
    else:
        level = v.fraction("level", level)
    seed = v.seed("seed", seed)
    x = v.unit_interval_array("x", x, dtype="float32")
    rng = np.random.default_rng(seed)
    if noise in STRUCTURED_CORRUPTIONS:
        return _corrupt_images(x, noise, level, rng)
    if noise == "gaussian":
        out = x + level * rng.standard_normal(x.shape, dtype="float32")
    elif noise == "salt_and_pepper":
        u = rng.random(x.shape, dtype="float32")
        out = np.where(u < level / 2, 0.0, np.where(u < level, 1.0, x))
    else:
        out = np.where(rng.random(x.shape, dtype="float32") < level, 0.0, x)
    return np.clip(out, 0.0, 1.0).astype("float32")


def _square_images(x):
    """Views `x` as (N, side, side); raises `ValueError` for other shapes."""
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side == x.shape[1]:
            return x.reshape(len(x), side, side)
    elif (x.ndim == 3 or (x.ndim == 4 and x.shape[-1] == 1)) and x.shape[1] == x.shape[2]:
        return x.reshape(x.shape[:3])
    raise ValueError(
        "occlusion and blur need square grayscale images of shape (N, H*W), (N, H, W) or "
        f"(N, H, W, 1). Received: x.shape={x.shape}"
    )


def _corrupt_images(x, noise, level, rng):
    images = _square_images(x)
    if noise == "blur":
        from scipy.ndimage import gaussian_filter

        out = gaussian_filter(images, sigma=(0, level, level), mode="nearest") if level > 0 else images
    else:
        n, side = len(images), images.shape[1]
        block = int(round(level * side))
        out = images.copy()
        rows = rng.integers(0, side - block + 1, size=n)
        cols = rng.integers(0, side - block + 1, size=n)
        for i, (r, c) in enumerate(zip(rows, cols, strict=True)):
            out[i, r:r + block, c:c + block] = 0.0
    return np.clip(out, 0.0, 1.0).astype("float32").reshape(x.shape)


# ---------------------------------------------------------------- dynamic binarization


class DynamicBinarization(keras.utils.PyDataset):
    """Batches of freshly binarized images: a new Bernoulli draw every epoch.

    Dynamically binarized MNIST (Salakhutdinov & Murray 2008, Burda et al. 2016)
    treats each grey level in [0, 1] as the probability that the pixel is on and
    samples a new binary image each time the image is seen, which regularizes a
    VAE far better than one fixed binarization. Each batch is `(b, b)` (input and
    target are the same binary images), so `fit(DynamicBinarization(x))` trains
    an autoencoder on them. The draws depend only on `seed`, the epoch and the
    batch index, so a run is reproducible; the order of the images is reshuffled
    every epoch when `shuffle=True`.

    Args:
        x: float array (N, ...) with values in [0, 1].
        batch_size: images per batch (positive int); the last batch may be smaller.
        shuffle: reshuffle the images every epoch.
        seed: int seed of the shuffling and the Bernoulli draws.
        **kwargs: passed to `keras.utils.PyDataset` (`workers`, ...).

    Raises:
        ValueError: for a bad argument or values outside [0, 1].
    """

    def __init__(self, x, batch_size=128, shuffle=True, seed=0, **kwargs):
        super().__init__(**kwargs)
        shape = np.shape(x)
        if len(shape) < 2 or shape[0] == 0:
            raise ValueError(f"x must be a non-empty array (N, ...). Received: x.shape={shape}")
        self.x = v.unit_interval_array("x", x, dtype="float32", tolerance=0.0)
        self.batch_size = v.positive_int("batch_size", batch_size)
        self.shuffle = bool(shuffle)
        self.seed = v.seed("seed", seed, allow_none=False)
        self.epoch = 0
        self._order = self._permutation()

    def _permutation(self):
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng([self.seed, self.epoch, 0]).permutation(len(self.x))

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range [0, {len(self)})")
        rows = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        probs = self.x[rows]
        rng = np.random.default_rng([self.seed, self.epoch, index + 1])
        batch = (rng.random(probs.shape, dtype="float32") < probs).astype("float32")
        return batch, batch

    def on_epoch_end(self):
        """Moves to the next epoch: new Bernoulli draws and (if shuffling) a new order."""
        self.epoch += 1
        self._order = self._permutation()

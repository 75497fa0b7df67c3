"""Shared fixtures: tiny generated image data, seeding, helpers.

No test reads MNIST or touches the network: the images below are random blobs
and strokes drawn with a fixed NumPy seed. They are structured (smooth, mostly
dark, a few bright regions), so an autoencoder can actually lower its loss on
them, and small enough that the whole suite runs in about a minute on 2 cores.
"""

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")  # before aebook imports matplotlib.pyplot
# One intra-op thread: these models are tiny, and on the 2-core machines two torch
# threads per process (plus a busy neighbour) make the suite ~4x slower. Subprocesses
# inherit it, so fresh-process predictions run the very same kernels.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest

# aebook must come before keras: importing it sets KERAS_BACKEND=torch. Test modules
# import keras freely, because pytest imports this conftest first.
import aebook  # noqa: F401

N_IMAGES = 256
SIDE = 28


def pytest_runtest_setup(item):
    """Skip a test marked `needs_data(*files)` unless AEBOOK_DATA_DIR holds the files."""
    folder = os.environ.get("AEBOOK_DATA_DIR")
    for marker in item.iter_markers("needs_data"):
        missing = [f for f in marker.args if not (folder and (Path(folder) / f).exists())]
        if missing:
            pytest.skip(f"needs AEBOOK_DATA_DIR with {', '.join(missing)}")


def make_images(n=N_IMAGES, seed=0):
    """`n` float32 images (n, 28, 28) in [0, 1]: 1-2 Gaussian blobs plus one stroke."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype("float64")
    out = np.empty((n, SIDE, SIDE), dtype="float32")
    for i in range(n):
        img = np.zeros((SIDE, SIDE))
        for _ in range(rng.integers(1, 3)):
            cy, cx = rng.uniform(6, 22, size=2)
            s = rng.uniform(1.5, 3.5)
            img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        p0, p1 = rng.uniform(4, 24, size=2), rng.uniform(4, 24, size=2)
        d = p1 - p0
        t = np.clip(((yy - p0[0]) * d[0] + (xx - p0[1]) * d[1]) / (d @ d + 1e-9), 0, 1)
        dist2 = (yy - (p0[0] + t * d[0])) ** 2 + (xx - (p0[1] + t * d[1])) ** 2
        img += np.exp(-dist2 / 2.0)
        out[i] = np.clip(img, 0.0, 1.0)
    return out


@pytest.fixture(autouse=True)
def _seed_everything():
    """Seeds Python, NumPy and the backend (torch) before every test."""
    import keras

    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def images():
    """(256, 28, 28) float32 images in [0, 1]."""
    return make_images()


@pytest.fixture(scope="session")
def x_flat(images):
    """(256, 784) float32 in [0, 1]."""
    return images.reshape(len(images), -1)


@pytest.fixture(scope="session")
def x_img(images):
    """(256, 28, 28, 1) float32 in [0, 1]."""
    return images[..., None]


@pytest.fixture(scope="session")
def x_binary(x_flat):
    """(256, 784) binarized float32 (0 or 1), for the Bernoulli VAE."""
    return (x_flat > 0.5).astype("float32")


@pytest.fixture(scope="session")
def batch(x_flat):
    """A fixed batch of 64 flat images."""
    return x_flat[:64]


def _write_npz(path, n_train=20, n_test=10, seed=0, drop=(), **overrides):
    """Writes a small data file in the keras MNIST layout; returns its arrays.

    `drop` omits keys; `overrides` replaces arrays (to make malformed files).
    """
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, size=(n_train, SIDE, SIDE), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, SIDE, SIDE), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }
    arrays["x_train"][0, 0, 0] = 255
    arrays["x_train"][0, 0, 1] = 0
    arrays.update(overrides)
    for key in drop:
        del arrays[key]
    np.savez(path, **arrays)
    return arrays


def _run_python(script, env_update=None, unset=("KERAS_BACKEND",), timeout=300):
    """Runs `script` in a fresh Python process; returns its stdout (asserts exit 0)."""
    env = {k: val for k, val in os.environ.items() if k not in unset}
    env.update(env_update or {})
    env.setdefault("MPLBACKEND", "Agg")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, env=env, timeout=timeout)
    assert proc.returncode == 0, f"subprocess failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="session")
def write_npz():
    """`write_npz(path, n_train=20, n_test=10, drop=(), **overrides)` -> arrays written."""
    return _write_npz


@pytest.fixture(scope="session")
def run_python():
    """`run_python(script, env_update=None, unset=("KERAS_BACKEND",))` -> stdout."""
    return _run_python

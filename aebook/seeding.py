"""One seed for a whole chapter, taken from the environment.

Every chapter of the book calls :func:`set_seed` once, in its setup cell, and derives
every other seed it uses (NumPy generators, scikit-learn's ``random_state``, the
``seed=`` arguments of the builders) from the value it returns, e.g. ``SEED + 1``.
Rerunning a chapter with another seed is then one environment variable::

    AEBOOK_SEED=7 jupyter nbconvert --execute book/first_autoencoder.ipynb

and every random source in it follows.
"""

import os
import random

import numpy as np

ENV_VAR = "AEBOOK_SEED"
MAX_SEED = 2**31 - 1  # torch's and NumPy's legacy global seeds overflow above int32


def get_seed(default=0):
    """The chapter's seed: ``$AEBOOK_SEED`` if it is set, else ``default``.

    Args:
        default: the seed used when ``AEBOOK_SEED`` is unset or empty (an int in
            ``[0, 2**31 - 1 - 1000]``, so that ``seed + k`` for small offsets stays valid).

    Returns:
        int, the seed.

    Raises:
        ValueError: if ``AEBOOK_SEED`` is not a decimal integer, or the seed is negative
            or too large.
    """
    raw = os.environ.get(ENV_VAR, "").strip()
    if raw:
        try:
            seed = int(raw)
        except ValueError:
            raise ValueError(
                f"{ENV_VAR} must be a non-negative integer. Received: {ENV_VAR}={raw!r}"
            ) from None
        name = ENV_VAR
    else:
        if isinstance(default, bool) or not isinstance(default, (int, np.integer)):
            raise ValueError(f"default must be an int. Received: default={default!r}")
        seed = int(default)
        name = "default"
    if not 0 <= seed <= MAX_SEED - 1000:
        raise ValueError(
            f"{name} must be an integer in [0, {MAX_SEED - 1000}]. Received: {name}={seed}"
        )
    return seed


def set_seed(default=0):
    """Seeds Python, NumPy and Keras (hence torch) from ``$AEBOOK_SEED``; returns the seed.

    Calls ``keras.utils.set_random_seed(seed)``, which seeds Python's ``random``,
    NumPy's global generator and the backend's generator. Code that makes its own
    generators (``np.random.default_rng``, ``random_state=``, ``seed=``) should derive
    them from the returned value.

    Args:
        default: the seed when ``AEBOOK_SEED`` is unset (see :func:`get_seed`).

    Returns:
        int, the seed that was set.

    Raises:
        ValueError: see :func:`get_seed`.
    """
    import keras

    seed = get_seed(default)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    return seed

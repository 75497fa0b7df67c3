"""Argument checks shared by every public function (one place, one message style).

Every check raises `ValueError` with a message that names the argument and the
value received, in the Keras style:
`latent_dim must be a positive int. Received: latent_dim=0`.

Every check returns the value as a plain Python number (`int` or `float`), so a
NumPy scalar such as `np.int64(3)` or `np.float32(0.5)` is accepted wherever the
Python number is, and never reaches Keras or torch unconverted. Callers must use
the returned value.
"""

import math
import numbers

import numpy as np

_ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear", "elu", "selu", "gelu", "softplus", "leaky_relu")

MAX_SEED = 2**31 - 1
"""Largest seed accepted: torch's and NumPy's legacy global seeds are 32-bit signed."""

UNIT_TOLERANCE = 1e-5
"""How far outside [0, 1] a value may lie (float32 rounding of computed images)."""


def _fail(name, requirement, value):
    raise ValueError(f"{name} must be {requirement}. Received: {name}={value!r}")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _real(name, value, requirement, ok):
    """Returns float(value) if it is a finite real number with `ok(value)` true."""
    if not _is_real(value):
        _fail(name, requirement, value)
    value = float(value)
    if not math.isfinite(value):
        _fail(name, requirement + " (finite, not inf or nan)", value)
    if not ok(value):
        _fail(name, requirement, value)
    return value


def positive_int(name, value):
    """Returns `value` as an int if it is an int > 0, else raises `ValueError`."""
    if not _is_int(value) or value <= 0:
        _fail(name, "a positive int", value)
    return int(value)


def non_negative_int(name, value):
    """Returns `value` as an int if it is an int >= 0."""
    if not _is_int(value) or value < 0:
        _fail(name, "a non-negative int", value)
    return int(value)


def positive_int_tuple(name, value, allow_empty=False):
    """Returns a tuple of positive ints; a list, tuple or 1-D integer array is accepted."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or (not allow_empty and len(value) == 0):
        req = "a list or tuple of positive ints"
        _fail(name, req if allow_empty else req + " (not empty)", value)
    if not all(_is_int(v) and v > 0 for v in value):
        _fail(name, "a list or tuple of positive ints", value)
    return tuple(int(v) for v in value)


def non_negative_float(name, value):
    """Returns `value` as a float if it is a finite real number >= 0."""
    return _real(name, value, "a non-negative float", lambda x: x >= 0)


def positive_float(name, value):
    """Returns `value` as a float if it is a finite real number > 0."""
    return _real(name, value, "a positive float", lambda x: x > 0)


def open_unit_float(name, value):
    """Returns `value` as a float if 0 < value < 1."""
    return _real(name, value, "a float strictly between 0 and 1", lambda x: 0 < x < 1)


def fraction(name, value):
    """Returns `value` as a float if 0 <= value <= 1."""
    return _real(name, value, "a float in [0, 1]", lambda x: 0 <= x <= 1)


def bounded_float(name, value, low, high):
    """Returns `value` as a float if low <= value <= high."""
    return _real(name, value, f"a number in [{low}, {high}]", lambda x: low <= x <= high)


def choice(name, value, choices):
    """Returns `value` if it is one of `choices`."""
    if isinstance(value, np.generic):
        value = value.item()
    if value not in choices:
        _fail(name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def activation(name, value):
    """Returns the activation name if Keras knows it under one of the usual names."""
    return choice(name, value, _ACTIVATIONS)


def optional_int(name, value):
    """Returns None or an int."""
    if value is not None and not _is_int(value):
        _fail(name, "None or an int", value)
    return None if value is None else int(value)


def seed(name, value, allow_none=True):
    """Returns None (if allowed) or a seed: an int in [0, 2**31 - 1], as a Python int.

    Larger seeds overflow torch's and NumPy's 32-bit seeds deep inside the backend,
    with an error that does not name the argument; negative ones are rejected by
    NumPy's generators.
    """
    if value is None and allow_none:
        return None
    requirement = f"{'None or ' if allow_none else ''}an int in [0, 2**31 - 1 = {MAX_SEED}]"
    if not _is_int(value) or not 0 <= value <= MAX_SEED:
        _fail(name, requirement, value)
    return int(value)


def input_shape(name, value, ndims=(1, 3)):
    """Returns a tuple of positive ints of an allowed length."""
    if _is_int(value):
        value = (value,)
    shape = positive_int_tuple(name, value)
    if len(shape) not in ndims:
        _fail(name, f"a shape with {' or '.join(map(str, ndims))} dimensions", value)
    return shape


def unit_interval_array(name, x, high=1.0, dtype="float64", tolerance=UNIT_TOLERANCE):
    """Returns `x` as a float array if its values lie in [0, `high`] (the pixel range).

    The check is one `min` and one `max` over the array. Values up to
    `tolerance * high` outside the range (float32 rounding) are accepted. The usual
    mistake it catches is raw 0-255 pixels (e.g. the uint8 arrays of
    `keras.datasets.mnist.load_data()`) where [0, 1] floats are expected; the
    message then says to divide by 255. NaN values are rejected too.

    Args:
        name: the argument's name, for the message.
        x: array-like.
        high: upper end of the range (1.0, or a function's `data_range`).
        dtype: float dtype of the returned array; None keeps a float array's dtype
            (and gives float64 for integers).
        tolerance: accepted excess, relative to `high`.

    Returns:
        `np.asarray(x, dtype)` (no copy if `x` already has that dtype).

    Raises:
        ValueError: if `x` is not numeric, or has values outside [0, high] or NaN.
    """
    raw = np.asarray(x)
    if raw.dtype == bool:
        raw = raw.astype(dtype)
    if not (np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)):
        raise ValueError(
            f"{name} must be an array of numbers in [0, {high:g}]. "
            f"Received: {name} with dtype {raw.dtype}"
        )
    if dtype is None:
        dtype = raw.dtype if np.issubdtype(raw.dtype, np.floating) else np.float64
    if raw.size == 0:
        return raw.astype(dtype, copy=False)
    lo, hi = raw.min(), raw.max()
    slack = tolerance * high
    if not (lo >= -slack and hi <= high + slack):  # also false for NaN
        hint = ""
        if high == 1.0 and 1.0 < hi <= 255 and (hi > 2 or np.issubdtype(raw.dtype, np.integer)):
            hint = " (0-255 pixels? Divide by 255, e.g. x.astype('float32') / 255)"
        raise ValueError(
            f"{name} must have values in [0, {high:g}]{hint}. Received: {name} with "
            f"min={lo}, max={hi} (dtype {raw.dtype}, shape {raw.shape})"
        )
    return raw.astype(dtype, copy=False)


def not_pixels_0_255(name, x, high=1.0):
    """Rejects an integer array with values above `high` (0-255 pixels for [0, 1] data).

    For arguments such as reconstructions, which may legitimately over- or undershoot
    the pixel range a little but are never integer images.
    """
    raw = np.asarray(x)
    if np.issubdtype(raw.dtype, np.integer) and raw.size and raw.max() > high:
        raise ValueError(
            f"{name} must be a float array on the scale [0, {high:g}], not integer pixels. "
            f"Received: {name} with dtype {raw.dtype}, max={raw.max()}"
        )
    return raw

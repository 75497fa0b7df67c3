"""Argument checks shared by every public function (one place, one message style).

Every check raises `ValueError` with a message that names the argument and the
value received, in the Keras style:
`latent_dim must be a positive int. Received: latent_dim=0`.

Every check returns the value as a plain Python number (`int` or `float`), so a
NumPy scalar such as `np.int64(3)` or `np.float32(0.5)` is accepted wherever the
Python number is, and never reaches Keras or torch unconverted. Callers must use
the returned value.

Every `aebook` module validates its arguments through this module's public
functions, so a check and its message are written once:

>>> from aebook import validation
>>> validation.positive_int("latent_dim", 8)
8
>>> validation.positive_int("latent_dim", 0)
Traceback (most recent call last):
    ...
ValueError: latent_dim must be a positive int. Received: latent_dim=0
"""

import math
import numbers
import warnings

import numpy as np

__all__ = [
    "MAX_SEED",
    "UNIT_TOLERANCE",
    "activation",
    "bounded_float",
    "choice",
    "fail",
    "flag",
    "fraction",
    "input_shape",
    "is_int",
    "is_real",
    "non_negative_float",
    "non_negative_int",
    "not_pixels_0_255",
    "open_unit_float",
    "optional_int",
    "positive_float",
    "positive_int",
    "positive_int_tuple",
    "renamed_argument",
    "seed",
    "unit_interval_array",
]

MAX_SEED = 2**31 - 1
"""The largest seed accepted (torch's and NumPy's legacy global seeds are 32-bit signed)."""

UNIT_TOLERANCE = 1e-5
"""How far outside [0, 1] a value may lie (float32 rounding of computed images)."""


def fail(name, requirement, value):
    """Raises the house `ValueError`: `{name} must be {requirement}. Received: {name}={value!r}`.

    For a check that no other function here expresses.

    Raises:
        ValueError: always.
    """
    raise ValueError(f"{name} must be {requirement}. Received: {name}={value!r}")


def is_int(value):
    """True for a Python or NumPy integer, False for a bool (which Python counts as an int)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value):
    """True for a Python or NumPy real number, False for a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _real(name, value, requirement, ok):
    """Returns float(value) if it is a finite real number with `ok(value)` true."""
    if not is_real(value):
        fail(name, requirement, value)
    value = float(value)
    if not math.isfinite(value):
        fail(name, requirement + " (finite, not inf or nan)", value)
    if not ok(value):
        fail(name, requirement, value)
    return value


def positive_int(name, value):
    """Returns `value` as an int if it is an int > 0, else raises `ValueError`."""
    if not is_int(value) or value <= 0:
        fail(name, "a positive int", value)
    return int(value)


def non_negative_int(name, value):
    """Returns `value` as an int if it is an int >= 0."""
    if not is_int(value) or value < 0:
        fail(name, "a non-negative int", value)
    return int(value)


def positive_int_tuple(name, value, allow_empty=False):
    """Returns a tuple of positive ints; a list, tuple or 1-D integer array is accepted."""
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or (not allow_empty and len(value) == 0):
        req = "a list or tuple of positive ints"
        fail(name, req if allow_empty else req + " (not empty)", value)
    if not all(is_int(v) and v > 0 for v in value):
        fail(name, "a list or tuple of positive ints", value)
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
        fail(name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def activation(name, value):
    """Returns `value` if Keras resolves it to an activation (`keras.activations.get`).

    Any name Keras knows (`"relu"`, `"swish"`, `"silu"`, `"mish"`, `"gelu"`, ...)
    or a callable is accepted and returned unchanged, so a layer receives the name
    and serializes it as usual. None is rejected: every aebook builder names its
    activations (pass `"linear"` for none).

    Raises:
        ValueError: for anything Keras cannot resolve.
    """
    import keras  # here, not at the top: this module needs no backend until now

    requirement = "a Keras activation: a name such as 'relu' or 'swish', or a callable"
    if callable(value):
        return value
    if not isinstance(value, str):
        fail(name, requirement, value)
    try:
        keras.activations.get(value)
    except (ValueError, TypeError):
        fail(name, requirement, value)
    return value


def flag(name, value, allow_none=False):
    """Returns `value` if it is True or False (or None, if allowed)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        fail(name, ("None, " if allow_none else "") + "True or False", value)
    return bool(value)


def renamed_argument(function, kwargs, old, new, value, default):
    """Resolves an argument renamed from `old` to `new`, keeping the old keyword working.

    `function` takes `new=default` and `**kwargs`; an `old=...` in `kwargs` still
    works, with a `DeprecationWarning` that names the new keyword.

    Args:
        function: the function's name, for messages.
        kwargs: the function's `**kwargs` (may hold `old`, nothing else).
        old: the old keyword.
        new: the new keyword.
        value: the value received for `new`.
        default: `new`'s default.

    Returns:
        `(value, name)`: the value to use, and the keyword it came by (to name in a
        validation message).

    Raises:
        TypeError: for any other keyword in `kwargs` (as Python raises it), or both
            `old` and a non-default `new`.
    """
    unknown = sorted(set(kwargs) - {old})
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")
    if old not in kwargs:
        return value, new
    if value is not default and value != default:
        raise TypeError(f"{function}() got both {new}= and its deprecated old name {old}=; "
                        f"pass {new}= only")
    warnings.warn(f"{function}(): the argument {old}= is deprecated and will be removed; "
                  f"use {new}= (same meaning).", DeprecationWarning, stacklevel=3)
    return kwargs[old], old


def optional_int(name, value):
    """Returns None or an int."""
    if value is not None and not is_int(value):
        fail(name, "None or an int", value)
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
    if not is_int(value) or not 0 <= value <= MAX_SEED:
        fail(name, requirement, value)
    return int(value)


def input_shape(name, value, ndims=(1, 3)):
    """Returns a tuple of positive ints of an allowed length."""
    if is_int(value):
        value = (value,)
    shape = positive_int_tuple(name, value)
    if len(shape) not in ndims:
        fail(name, f"a shape with {' or '.join(map(str, ndims))} dimensions", value)
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

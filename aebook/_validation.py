"""Argument checks shared by every public function (one place, one message style).

Every check raises `ValueError` with a message that names the argument and the
value received, in the Keras style:
`latent_dim must be a positive int. Received: latent_dim=0`.
"""

import numbers

_ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear", "elu", "selu", "gelu", "softplus", "leaky_relu")


def _fail(name, requirement, value):
    raise ValueError(f"{name} must be {requirement}. Received: {name}={value!r}")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(name, value):
    """Returns `value` as an int if it is an int > 0, else raises `ValueError`."""
    if not _is_int(value) or value <= 0:
        _fail(name, "a positive int", value)
    return int(value)


def positive_int_tuple(name, value, allow_empty=False):
    """Returns a tuple of positive ints; a list or tuple is accepted."""
    if not isinstance(value, (list, tuple)) or (not allow_empty and len(value) == 0):
        req = "a list or tuple of positive ints"
        _fail(name, req if allow_empty else req + " (not empty)", value)
    if not all(_is_int(v) and v > 0 for v in value):
        _fail(name, "a list or tuple of positive ints", value)
    return tuple(int(v) for v in value)


def non_negative_float(name, value):
    """Returns `value` as a float if it is a real number >= 0."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value >= 0:
        _fail(name, "a non-negative float", value)
    return float(value)


def positive_float(name, value):
    """Returns `value` as a float if it is a real number > 0."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
        _fail(name, "a positive float", value)
    return float(value)


def open_unit_float(name, value):
    """Returns `value` as a float if 0 < value < 1."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 < value < 1:
        _fail(name, "a float strictly between 0 and 1", value)
    return float(value)


def fraction(name, value):
    """Returns `value` as a float if 0 <= value <= 1."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value <= 1:
        _fail(name, "a float in [0, 1]", value)
    return float(value)


def choice(name, value, choices):
    """Returns `value` if it is one of `choices`."""
    if value not in choices:
        _fail(name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def activation(name, value):
    """Returns the activation name if Keras knows it under one of the usual names."""
    return choice(name, value, _ACTIVATIONS)


def optional_int(name, value):
    """Returns None or an int (seeds)."""
    if value is not None and not _is_int(value):
        _fail(name, "None or an int", value)
    return value


def input_shape(name, value, ndims=(1, 3)):
    """Returns a tuple of positive ints of an allowed length."""
    if _is_int(value):
        value = (value,)
    shape = positive_int_tuple(name, value)
    if len(shape) not in ndims:
        _fail(name, f"a shape with {' or '.join(map(str, ndims))} dimensions", value)
    return shape

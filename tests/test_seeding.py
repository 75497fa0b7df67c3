"""aebook.seeding: one seed per chapter, from $AEBOOK_SEED."""

import aebook  # noqa: F401  (selects the torch backend before keras is imported)
import keras
import numpy as np
import pytest

from aebook.seeding import ENV_VAR, get_seed, set_seed


def test_default_when_unset(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert get_seed(42) == 42
    assert get_seed() == 0


def test_empty_variable_means_default(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "  ")
    assert get_seed(7) == 7


def test_environment_overrides_default(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "1000")
    assert get_seed(42) == 1000
    assert type(get_seed(42)) is int


def test_numpy_integer_default_is_accepted(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    seed = get_seed(np.int64(5))
    assert seed == 5 and type(seed) is int


@pytest.mark.parametrize("raw", ["abc", "1.5", "-1", str(2**31)])
def test_bad_environment_values_raise_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv(ENV_VAR, raw)
    with pytest.raises(ValueError, match=ENV_VAR):
        get_seed(0)


@pytest.mark.parametrize("default", [-1, 2**31, 1.0, "3", True, None])
def test_bad_defaults_raise(monkeypatch, default):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(ValueError, match="default"):
        get_seed(default)


def _draws():
    return (
        np.random.rand(3),
        keras.ops.convert_to_numpy(keras.random.normal((3,))),
    )


def test_set_seed_makes_numpy_and_keras_repeatable(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "123")
    assert set_seed(0) == 123
    first = _draws()
    assert set_seed(0) == 123
    second = _draws()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_other_seed_gives_other_numbers(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "1")
    set_seed(0)
    one = _draws()
    monkeypatch.setenv(ENV_VAR, "2")
    set_seed(0)
    two = _draws()
    assert not np.array_equal(one[0], two[0])
    assert not np.array_equal(one[1], two[1])


def test_exported_from_package():
    assert aebook.set_seed is set_seed and aebook.get_seed is get_seed

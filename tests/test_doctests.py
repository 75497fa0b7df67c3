"""The examples in aebook's docstrings run, and give what they show (doctest)."""

import doctest
import importlib
import pkgutil

import aebook
import pytest

MODULES = sorted(m.name for m in pkgutil.iter_modules(aebook.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"aebook.{name}")
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_there_are_examples():
    attempted = sum(
        doctest.testmod(importlib.import_module(f"aebook.{n}"), verbose=False).attempted
        for n in MODULES
    )
    assert attempted >= 5, attempted

"""Exact pins of the packages whose private parts CI's notebook cache relies on.

CI executes every notebook once, in pytest, and builds the book from the results:

- book/conftest.py (the "nbval -> jupyter-cache bridge") reads the outputs that nbval
  collected from nbval's test items (`IPyNbCell.cell_num`, `.test_outputs`: not a
  documented API) and stores them with jupyter-cache under the key MyST-NB looks up;
- .ci/nb_cache_guard.py (a Sphinx extension of CI's build) replaces MyST-NB's private
  notebook clients (`myst_nb.core.execute.*`) so that the build fails rather than
  execute a notebook a second time.

No supported API gives either (nbval exposes no outputs; MyST-NB has no setting that
turns a cache miss into an error), so both are written against exact versions of nbval,
myst-nb and jupyter-cache, pinned with `==` in requirements.txt, the one source of
truth that CI (`.ci/run`) and README's install both use. This module reads those pins
and checks, at the start of the bridge and of the guard, that the installed versions
equal them and that the private attributes used still exist. A new release then stops
CI with a message that says what to do, instead of executing notebooks twice or not
at all. To move to a new release: install it, check the bridge and the guard against
it (tests/test_ci_pins.py, then `bash .ci/run`), and change the pin.

`python .ci/pins.py` prints the pins and the installed versions, and exits with
status 1 (and the message) if they differ.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"

# The packages whose private parts book/conftest.py and .ci/nb_cache_guard.py use.
PINNED = ("nbval", "myst-nb", "jupyter-cache")

_PIN_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*==\s*([^\s;#]+)")


class PinError(RuntimeError):
    """The installed packages are not the versions CI's notebook cache was written for."""


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name: `Myst_NB` -> `myst-nb`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: str | Path = REQUIREMENTS) -> dict[str, str]:
    """The exact pins (`name==version` lines) of a requirements file.

    Args:
        path: a requirements file (default: the repository's requirements.txt).

    Returns:
        dict mapping each canonical project name pinned with `==` to its version.
        Lines with other specifiers (`>=`, `~=`), options (`-e .`) and comments are
        left out.
    """
    pins = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split(" #", 1)[0].strip()
        match = _PIN_LINE.match(line)
        if match:
            pins[canonical_name(match.group(1))] = match.group(3)
    return pins


def _installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_versions(
    what: str,
    names: Iterable[str] = PINNED,
    *,
    pins: dict[str, str] | None = None,
    installed: Callable[[str], str | None] = _installed_version,
    requirements: str | Path = REQUIREMENTS,
) -> dict[str, str]:
    """Check that each package in `names` is installed at its exact pin.

    Args:
        what: what relies on the pins, for the message (e.g. "the nbval ->
            jupyter-cache bridge (book/conftest.py)").
        names: project names to check.
        pins: name -> pinned version; default: read from `requirements`.
        installed: function name -> installed version (None if not installed);
            default: `importlib.metadata.version`.
        requirements: the requirements file the pins are read from (default:
            the repository's requirements.txt).

    Returns:
        dict mapping each canonical name to its (checked) version.

    Raises:
        PinError: a package is not pinned with `==` in the requirements file, or its
            installed version differs from the pin. The message names every package
            concerned, e.g. `... was written for nbval==0.11.0 (installed: 0.12.0)`.
    """
    if pins is None:
        pins = read_pins(requirements)
    pins = {canonical_name(name): version for name, version in pins.items()}
    names = [canonical_name(name) for name in names]
    unpinned = [name for name in names if name not in pins]
    if unpinned:
        raise PinError(
            f"{what} uses private parts of {', '.join(unpinned)}, so "
            f"{Path(requirements).name} must pin "
            f"{'it' if len(unpinned) == 1 else 'each'} exactly (`name==version`); "
            f"found no such line for: {', '.join(unpinned)}."
        )
    wrong = []
    for name in names:
        have = installed(name)
        if have != pins[name]:
            wrong.append(f"{name}=={pins[name]} (installed: {have or 'none'})")
    if wrong:
        raise PinError(
            f"{what} was written for {', '.join(wrong)}. It uses private parts of "
            "these packages, so another version could make CI execute the notebooks "
            "twice or not at all. Install the pinned versions "
            f"(`pip install -r {Path(requirements).name}`), or, to move to the new "
            "release, check that code against it (tests/test_ci_pins.py, then "
            f"`bash .ci/run`) and change the pin in {Path(requirements).name}."
        )
    return {name: pins[name] for name in names}


def check_attributes(what: str, required: Iterable[tuple[str, object, str]]) -> None:
    """Check that private attributes relied on still exist.

    Args:
        what: what relies on them, for the message.
        required: `(description, owner, attribute)` triples, e.g.
            `("myst_nb.core.execute.cache.NotebookClientCache", NotebookClientCache,
            "start_client")`.

    Raises:
        PinError: listing every missing `description.attribute`.
    """
    missing = [f"{where}.{name}" for where, owner, name in required if not hasattr(owner, name)]
    if missing:
        raise PinError(
            f"{what} relies on {', '.join(missing)}, which the installed version does "
            "not have. Install the versions pinned in requirements.txt "
            "(`pip install -r requirements.txt`), or update it for the new release."
        )


def main(argv: list[str] | None = None) -> int:
    del argv
    pins = read_pins()
    for name in PINNED:
        print(f"{name:15s} pinned {pins.get(name, '<not pinned>'):10s} "
              f"installed {_installed_version(name) or '<none>'}")
    try:
        check_versions("CI's notebook cache (book/conftest.py, .ci/nb_cache_guard.py)")
    except PinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

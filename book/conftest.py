"""pytest plugin for the chapter notebooks in book/ (loaded by pytest, never built).

pytest runs the notebooks with nbval (options in pyproject.toml). This conftest adds
two things to those runs:

1. **Notebook kernels start with matplotlib's inline backend**, as in Jupyter and in
   a Jupyter Book build. ipykernel picks the inline backend only when MPLBACKEND is
   unset, and tests/conftest.py sets MPLBACKEND=Agg for the unit tests; when one
   `pytest` run collects both tests/ and book/, the kernels would inherit Agg and no
   figure would appear in any output (and `plt.show()` would warn on stderr). So
   MPLBACKEND is removed from the environment while a notebook cell is set up (nbval
   starts the kernel in the setup of the first one); cells are recognised by their
   path (`item.path.suffix == ".ipynb"`), not by any nbval attribute.

2. **The nbval -> jupyter-cache bridge** (off unless AEBOOK_NBVAL_CACHE is set).
   With `AEBOOK_NBVAL_CACHE=<folder>`, every notebook whose code cells ALL ran and
   passed in this pytest session is stored, with the outputs nbval collected, in the
   jupyter-cache at <folder> (a relative path is taken from the current directory),
   under the key that MyST-NB's `execute_notebooks: cache` mode looks up. A book build
   with `execute: {execute_notebooks: cache, cache: <folder>}` then renders those
   outputs and executes nothing. `bash .ci/run` uses it so that CI runs the notebooks
   once (in pytest) and still publishes HTML with outputs and figures.

How the key matches. MyST-NB (myst_nb/core/execute/cache.py) reads the page with
`nbformat.reads(text, as_version=4)` and calls jupyter-cache's
`match_cache_notebook(nb)`, whose key (`create_hashed_notebook`) is the MD5 of a
notebook made of the CODE cells only, each with its `source` and ALL of its cell
metadata (outputs, execution counts and cell ids emptied), plus the notebook-level
`kernelspec` metadata, written as nbformat 4.4. Markdown cells, outputs and other
notebook metadata do not enter the key. The bridge stores a copy of the notebook read
as nbval reads it (`nbformat.read(path, as_version=4)`: same sources, metadata and
kernelspec), with the outputs of this run, through jupyter-cache's own
`cache_notebook_bundle`, so the key is computed by the same code, and then checks that
the notebook file as it is on disk now matches the stored record. On a hit MyST-NB
replaces each code cell by the cached one (`merge_match_into_notebook`), so outputs
are stored in nbformat form: `stream` (stdout and stderr coalesced, as nbval does),
`display_data` (figures: image/png + text/plain), `execute_result` and `error`, with
execution counts 1, 2, 3, ... over the code cells (jupyter-cache checks this).

Not stored (and listed in the pytest summary): a notebook with a failed, skipped
(NBVAL_SKIP) or xfailed cell, or one run only in part (e.g. `-k`, `::Cell 3`). nbval
ignores `clear_output` and `update_display_data` messages, so a notebook that relies
on them would show more output in a cache-backed build than in Jupyter.

Pinned versions. nbval has no public API for the outputs it collected, so the bridge
recognises nbval's test items by their class `nbval.plugin.IPyNbCell` and reads two of
their attributes, `cell_num` and `test_outputs`; everything else is the public API of
pytest (`item.path`, `item.parent`, `item.nodeid`, hooks), nbformat and jupyter-cache
(`get_cache`, `cache_notebook_bundle`, `CacheBundleIn`, `match_cache_notebook`). It
is therefore written for the exact versions of nbval, jupyter-cache and myst-nb (whose
lookup it must match) pinned in requirements.txt. When AEBOOK_NBVAL_CACHE is set, pytest stops at once (a usage error,
exit status 4) if the installed versions differ from those pins (.ci/pins.py) or if
nbval's items lack those attributes, and a session fails if nbval returned no output
list for a cell that ran: a new release can not silently store notebooks without
outputs, or store none so that the build executes them again.
"""

import copy
import importlib.util
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

ENV_VAR = "AEBOOK_NBVAL_CACHE"
WHAT = "the nbval -> jupyter-cache bridge (book/conftest.py)"
PINNED = ("nbval", "jupyter-cache", "myst-nb")
ITEM_ATTRIBUTES = ("cell_num", "test_outputs")  # nbval's, on each IPyNbCell
_BRIDGE = pytest.StashKey()


# --------------------------------------------------------------------------------------
# 1. inline matplotlib backend in notebook kernels


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """While a notebook cell is set up (nbval starts the kernel then), unset MPLBACKEND."""
    if item.path.suffix != ".ipynb":
        return (yield)
    saved = os.environ.pop("MPLBACKEND", None)
    try:
        return (yield)
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved


# --------------------------------------------------------------------------------------
# 2. nbval -> jupyter-cache bridge


def load_pins():
    """.ci/pins.py, the pins of requirements.txt and their checks (one module object)."""
    name = "aebook_ci_pins"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / ".ci" / "pins.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def check_installed(**kwargs):
    """Raise pytest.UsageError unless the pinned nbval, jupyter-cache and myst-nb are
    installed, with the nbval and jupyter-cache attributes the bridge uses.

    Keyword arguments go to `pins.check_versions` (tests pass fake versions).
    """
    pins = load_pins()
    try:
        pins.check_versions(WHAT, PINNED, **kwargs)
        import jupyter_cache
        import nbval.plugin
        from jupyter_cache import base

        pins.check_attributes(WHAT, [
            ("nbval.plugin", nbval.plugin, "IPyNbCell"),
            ("jupyter_cache", jupyter_cache, "get_cache"),
            ("jupyter_cache.base", base, "CacheBundleIn"),
            ("jupyter_cache.base.JupyterCacheAbstract", base.JupyterCacheAbstract,
             "cache_notebook_bundle"),
            ("jupyter_cache.base.JupyterCacheAbstract", base.JupyterCacheAbstract,
             "match_cache_notebook"),
        ])
    except pins.PinError as exc:
        raise pytest.UsageError(str(exc)) from None


def check_items(items):
    """Raise pytest.UsageError if a collected nbval item lacks an attribute the bridge reads."""
    pins = load_pins()
    try:
        for item in items:
            pins.check_attributes(
                WHAT, [(f"nbval.plugin.{type(item).__name__}", item, name)
                       for name in ITEM_ATTRIBUTES]
            )
    except pins.PinError as exc:
        raise pytest.UsageError(str(exc)) from None


class _Notebook:
    """What one notebook's cells did in this session."""

    def __init__(self, path, items):
        self.path = Path(path)
        # the notebook as nbval read it (nbval.plugin.IPyNbFile.collect does the same)
        self.nb = nbformat.read(self.path, as_version=4)
        self.items = sorted(items, key=lambda it: it.cell_num)
        self.pending = {it.nodeid for it in items}
        self.problems = []
        self.seconds = 0.0
        n_code = sum(cell.cell_type == "code" for cell in self.nb.cells)
        if [it.cell_num for it in self.items] != list(range(n_code)):
            self.problems.append(f"only {len(items)} of its {n_code} code cells were selected")


def _to_nbformat(out, execution_count):
    """One output collected by nbval (a NotebookNode built from an iopub message)."""
    kind = out["output_type"]
    if kind == "stream":
        return nbformat.v4.new_output("stream", name=out["name"], text=out["text"])
    if kind == "display_data":
        return nbformat.v4.new_output(
            "display_data", data=out["data"], metadata=out.get("metadata", {})
        )
    if kind == "execute_result":
        return nbformat.v4.new_output(
            "execute_result",
            data=out["data"],
            metadata=out.get("metadata", {}),
            execution_count=execution_count,
        )
    if kind == "error":
        return nbformat.v4.new_output(
            "error", ename=out["ename"], evalue=out["evalue"], traceback=out["traceback"]
        )
    raise ValueError(f"unexpected output type from nbval: {kind!r}")


def executed_notebook(notebook):
    """The notebook as nbval read it, with the outputs of this run and counts 1..n."""
    nb = copy.deepcopy(notebook.nb)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for count, (cell, item) in enumerate(zip(code_cells, notebook.items, strict=True), 1):
        if not isinstance(item.test_outputs, list):  # see NbvalCacheBridge.record
            raise RuntimeError(f"nbval recorded no output list for Cell {item.cell_num}")
        cell.execution_count = count
        cell.outputs = [_to_nbformat(out, count) for out in item.test_outputs]
    nbformat.validate(nb)
    return nb


class NbvalCacheBridge:
    def __init__(self, cache_dir):
        self.cache_dir = Path(cache_dir).absolute()
        self.notebooks = {}  # nodeid of a cell -> _Notebook
        self.lines = []  # for the terminal summary
        self.errors = 0

    def collection_finish(self, items):
        from nbval.plugin import IPyNbCell

        by_file = {}
        for item in items:
            if isinstance(item, IPyNbCell):
                by_file.setdefault(item.parent, []).append(item)
        check_items(item for cells in by_file.values() for item in cells)
        for nbfile, cells in by_file.items():
            notebook = _Notebook(nbfile.path, cells)
            for item in cells:
                self.notebooks[item.nodeid] = notebook

    def record(self, item, report):
        notebook = self.notebooks.get(item.nodeid)
        if notebook is None:
            return
        if report.when == "call":
            notebook.seconds += report.duration
            if report.passed and not isinstance(item.test_outputs, list):
                # nbval 0.11 sets a list on every cell it runs: anything else means a
                # release changed how outputs are kept, and the notebook must not be
                # stored without them (the build would show no output)
                self.errors += 1
                self.lines.append(
                    f"ERROR {item.nodeid}: nbval recorded no output list for this cell "
                    f"(test_outputs={item.test_outputs!r}); {WHAT} was written for the "
                    "nbval pinned in requirements.txt"
                )
                notebook.problems.append(f"Cell {item.cell_num}: no outputs from nbval")
        if report.failed or report.skipped:
            what = "xfailed" if hasattr(report, "wasxfail") else report.outcome
            notebook.problems.append(f"Cell {item.cell_num} {what} ({report.when})")
        if report.when == "teardown":
            notebook.pending.discard(item.nodeid)
            if not notebook.pending:
                self.finish(notebook)

    def finish(self, notebook):
        rel = os.path.relpath(notebook.path)
        if notebook.problems:
            self.lines.append(f"not stored: {rel}: " + "; ".join(notebook.problems))
            return
        try:
            record = self.store(notebook)
        except Exception as exc:  # reported, and the session fails (see sessionfinish)
            self.errors += 1
            self.lines.append(f"ERROR storing {rel}: {exc.__class__.__name__}: {exc}")
            return
        self.lines.append(
            f"stored {rel}: ID={record.pk} key={record.hashkey} "
            f"({len(notebook.items)} code cells, {notebook.seconds:.1f} s)"
        )

    def store(self, notebook):
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn

        nb = executed_notebook(notebook)
        cache = get_cache(str(self.cache_dir))
        record = cache.cache_notebook_bundle(
            CacheBundleIn(
                nb,
                str(notebook.path),
                data={"execution_seconds": notebook.seconds, "executed_by": "nbval",
                      "stored": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
            ),
            check_validity=True,  # execution counts 1..n
            overwrite=True,
        )
        # The lookup MyST-NB will do, on the file as it is on disk now.
        on_disk = nbformat.read(notebook.path, as_version=4)
        try:
            found = cache.match_cache_notebook(on_disk)
        except KeyError:
            raise RuntimeError(
                "the notebook on disk no longer matches the executed one "
                "(was it edited during the run?)"
            ) from None
        if found.pk != record.pk:
            raise RuntimeError(f"lookup found record {found.pk}, not {record.pk}")
        return record


def pytest_configure(config):
    cache_dir = os.environ.get(ENV_VAR, "").strip()
    if cache_dir:
        check_installed()
        config.stash[_BRIDGE] = NbvalCacheBridge(cache_dir)


def pytest_collection_finish(session):
    bridge = session.config.stash.get(_BRIDGE, None)
    if bridge is not None:
        bridge.collection_finish(session.items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    bridge = item.config.stash.get(_BRIDGE, None)
    if bridge is not None:
        bridge.record(item, report)  # ignores items that are not notebook cells
    return report


def pytest_sessionfinish(session, exitstatus):
    bridge = session.config.stash.get(_BRIDGE, None)
    if bridge is not None and bridge.errors and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    bridge = terminalreporter.config.stash.get(_BRIDGE, None)
    if bridge is None:
        return
    terminalreporter.section(f"nbval -> jupyter-cache ({ENV_VAR}={bridge.cache_dir})")
    for line in bridge.lines or ["no notebook was run"]:
        terminalreporter.write_line(line)

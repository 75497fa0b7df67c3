"""Sphinx extension for CI's book build: take notebook outputs from the cache, NEVER execute.

`bash .ci/run` executes every notebook once, in pytest (nbval), and book/conftest.py
stores the results in a jupyter-cache (AEBOOK_NBVAL_CACHE). The book is then built
with `execute_notebooks: cache` on that cache and with this extension, which

- fails the build at once, naming the page, if a notebook has no entry in the cache
  (MyST-NB would otherwise execute it: a second, slow execution that CI must not do);
- replaces every way MyST-NB can execute a notebook (cache misses, `auto`/`force`
  mode, `inline` mode) by an error, so nothing can execute by another road;
- logs the page and cache record of every notebook it lets through, and a count at
  the end of the build: "nb_cache_guard: N notebook(s) from the jupyter-cache,
  none executed".

Loaded by the CI copy of _config.yml only (sphinx.local_extensions + extensions).

MyST-NB has no setting that turns a cache miss into an error, so this extension
replaces private parts of MyST-NB (the notebook clients in `myst_nb.core.execute`).
They are written for the exact versions of myst-nb and jupyter-cache pinned in
requirements.txt: `setup` first checks (with .ci/pins.py) that those versions are
installed, that every attribute it replaces still exists, and that MyST-NB has no
notebook client other than the three it knows, and stops the build with a message
if not, rather than let a new release execute notebooks again.
"""

import importlib.util
import sys
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
HITS = {}  # notebook path -> cache record id, for the count at the end
WHAT = "this extension (.ci/nb_cache_guard.py)"
PINNED = ("myst-nb", "jupyter-cache")  # nbval is checked by book/conftest.py


def load_pins():
    """.ci/pins.py, the pins of requirements.txt and their checks (one module object)."""
    name = "aebook_ci_pins"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("pins.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def check_installed(**kwargs):
    """Raise ExtensionError unless the pinned MyST-NB and jupyter-cache are installed.

    Also checks that the attributes `setup` replaces or calls still exist, and that
    MyST-NB's notebook clients are exactly the three that `setup` guards (a new one
    could execute notebooks by a road this extension does not close). Keyword
    arguments go to `pins.check_versions` (tests pass fake versions).
    """
    pins = load_pins()
    try:
        pins.check_versions(WHAT, PINNED, **kwargs)
        import jupyter_cache
        from jupyter_cache.base import JupyterCacheAbstract
        from myst_nb.core import execute
        from myst_nb.core.execute import cache, direct, inline

        pins.check_attributes(WHAT, [
            ("jupyter_cache", jupyter_cache, "get_cache"),
            ("jupyter_cache.base.JupyterCacheAbstract", JupyterCacheAbstract,
             "match_cache_notebook"),
            ("myst_nb.core.execute", execute, "create_client"),
            ("myst_nb.core.execute", execute, "NotebookClientBase"),
            ("myst_nb.core.execute.cache", cache, "NotebookClientCache"),
            ("myst_nb.core.execute.cache", cache, "single_nb_execution"),
            ("myst_nb.core.execute.direct", direct, "NotebookClientDirect"),
            ("myst_nb.core.execute.inline", inline, "NotebookClientInline"),
        ])
        pins.check_attributes(WHAT, [
            (f"myst_nb.core.execute.{cls.__name__}", cls, attr)
            for cls in (cache.NotebookClientCache, direct.NotebookClientDirect,
                        inline.NotebookClientInline)
            for attr in ("start_client", "notebook", "path", "nb_config")
        ])
        known = {cache.NotebookClientCache, direct.NotebookClientDirect,
                 inline.NotebookClientInline}
        others = [cls for cls in execute.NotebookClientBase.__subclasses__()
                  if cls not in known]
        if others:
            raise pins.PinError(
                f"{WHAT} guards MyST-NB's notebook clients NotebookClientCache, "
                "NotebookClientDirect and NotebookClientInline, but the installed "
                "MyST-NB also has "
                + ", ".join(f"{cls.__module__}.{cls.__qualname__}" for cls in others)
                + "; update the extension for it."
            )
    except pins.PinError as exc:
        raise ExtensionError(f"nb_cache_guard: {exc}") from None


def _refuse(what):
    def run(*args, **kwargs):
        raise ExtensionError(
            f"nb_cache_guard: notebook execution is disabled in this build ({what})"
        )

    return run


def _check_mode(app, config):
    if config.nb_execution_mode != "cache":
        raise ExtensionError(
            "nb_cache_guard: execute_notebooks must be 'cache' in this build, "
            f"not {config.nb_execution_mode!r}"
        )


def _report(app, exception):
    if exception is None:
        LOGGER.info(f"nb_cache_guard: {len(HITS)} notebook(s) from the jupyter-cache, "
                    "none executed")


def setup(app):
    check_installed()
    from jupyter_cache import get_cache
    from myst_nb.core.execute import cache as cache_module
    from myst_nb.core.execute import direct, inline

    original_start = cache_module.NotebookClientCache.start_client

    def start_client(self):
        cache = get_cache(self.nb_config.execution_cache_path or ".jupyter_cache")
        try:
            record = cache.match_cache_notebook(self.notebook)
        except KeyError:
            raise ExtensionError(
                f"nb_cache_guard: {self.path}: no executed copy in the jupyter-cache "
                f"{cache.path} (pytest with AEBOOK_NBVAL_CACHE stores one for every "
                "notebook whose cells all passed; see the 'nbval -> jupyter-cache' "
                "section of pytest's output). Refusing to execute it during the build."
            ) from None
        LOGGER.info(f"nb_cache_guard: {self.path}: outputs from cache record {record.pk}")
        HITS[str(self.path)] = record.pk
        original_start(self)

    cache_module.NotebookClientCache.start_client = start_client
    cache_module.single_nb_execution = _refuse("single_nb_execution")
    direct.NotebookClientDirect.start_client = _refuse("execute_notebooks: auto/force")
    inline.NotebookClientInline.start_client = _refuse("execute_notebooks: inline")

    app.connect("config-inited", _check_mode)
    app.connect("build-finished", _report)
    return {"parallel_read_safe": False, "parallel_write_safe": True}

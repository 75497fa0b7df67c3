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
"""

from sphinx.errors import ExtensionError
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
HITS = {}  # notebook path -> cache record id, for the count at the end


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

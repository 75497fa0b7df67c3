"""Sphinx directives that render the Results page from `book/_data/benchmarks.csv`.

Listed in the `extensions` of `_config.yml`; used in `book/results.md`:

- ``benchmarks-table`` (argument: the CSV, relative to the page): the table of
  `aebook.results.markdown_table`, with rendered citations and status badges;
- ``benchmarks-figure`` (same argument; option ``:alt:``): the figure of
  `aebook.results.plot_benchmarks`, embedded in the page as a PNG data URI, so
  nothing is written to the source tree;
- ``benchmarks-notes`` (same argument): the full notes of every row.

It also makes autodoc show a Keras layer's `__init__` signature (`layer_signature`).

The page is rebuilt whenever the CSV changes (it is recorded as a dependency).
Markdown is parsed with the page's parser, so the directives belong in MyST pages.
"""

import base64
import io
import os

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList

from aebook import results


class _BenchmarksDirective(Directive):
    required_arguments = 1
    has_content = False

    def _rows(self):
        env = self.state.document.settings.env
        rel, path = env.relfn2path(self.arguments[0], env.docname)
        env.note_dependency(rel)
        if not os.path.isfile(path):
            raise self.error(f"{self.name}: no such file {path!r}")
        try:
            return results.read_benchmarks(path)
        except ValueError as e:
            raise self.error(f"{self.name}: {e}") from None

    def _markdown(self, text):
        container = nodes.container()
        self.state.nested_parse(StringList(text.splitlines(), source=self.arguments[0]),
                                self.content_offset, container)
        return container.children


class BenchmarksTable(_BenchmarksDirective):
    """The Results table."""

    def run(self):
        return self._markdown(results.markdown_table(self._rows()))


class BenchmarksNotes(_BenchmarksDirective):
    """The notes of every row, as a list."""

    def run(self):
        return self._markdown(results.markdown_notes(self._rows()))


class BenchmarksFigure(_BenchmarksDirective):
    """The figure: our number next to the published one, one panel per row."""

    option_spec = {"alt": directives.unchanged}

    def run(self):
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig = results.plot_benchmarks(self._rows())
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        alt = self.options.get("alt", "Our numbers next to the published ones, one panel per row")
        return [nodes.image(uri=uri, alt=alt, classes=["benchmarks-figure"])]


def layer_signature(app, what, name, obj, options, signature, return_annotation):
    """`autodoc-process-signature` hook: a Keras layer's signature is its `__init__`'s.

    `keras.layers.Layer` defines `__new__(cls, *args, **kwargs)`, which autodoc would
    otherwise show as the signature of every aebook layer.
    """
    import inspect

    import keras

    if what == "class" and isinstance(obj, type) and issubclass(obj, keras.layers.Layer):
        init = inspect.signature(obj.__init__)
        params = list(init.parameters.values())[1:]  # drop self
        return str(init.replace(parameters=params)), return_annotation
    return None


def setup(app):
    """Registers the three directives and the layer-signature hook of autodoc."""
    app.add_directive("benchmarks-table", BenchmarksTable)
    app.add_directive("benchmarks-figure", BenchmarksFigure)
    app.add_directive("benchmarks-notes", BenchmarksNotes)
    app.connect("autodoc-process-signature", layer_signature)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

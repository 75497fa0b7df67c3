""".ci/check_time_asserts.py: absolute wall-clock asserts are found, ratios pass."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "check_time_asserts", ROOT / ".ci" / "check_time_asserts.py"
)
cta = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cta)

ABSOLUTE = [
    "import time\nstart = time.perf_counter()\nx = 1\nseconds = time.perf_counter() - start\n"
    "assert seconds < 2.0",
    "import time\nt0 = time.time()\nelapsed = time.time() - t0\nassert 8 < elapsed < 40",
    # through a function's return value and tuple unpacking
    "import time\n\ndef train():\n    start = time.perf_counter()\n"
    "    return 'model', time.perf_counter() - start\n\n"
    "model, seconds = train()\nassert seconds < 30, seconds",
    # through a dict of times and min()
    "import time\ntimes = {}\nfor k in (1, 2):\n    s = time.perf_counter()\n"
    "    times[k] = time.perf_counter() - s\nassert min(times.values()) > 0.5",
    # per-epoch time is still a time
    "from time import perf_counter\ns = perf_counter()\nepoch = (perf_counter() - s) / 3\n"
    "assert epoch < 1.0",
    # the book's stopwatches: aebook.training.timed_fit and Timer
    "from aebook.training import timed_fit\nhistory, seconds = timed_fit(m, x, x, epochs=2)\n"
    "assert seconds < 60",
    "from aebook.training import timed_fit\nsecs = {}\nfor k in (1, 2):\n"
    "    _, secs[k] = timed_fit(m, x, x)\nassert max(secs.values()) / 2 < 9",
    "from aebook.training import Timer\nwith Timer() as t:\n    pass\npca_seconds = t.seconds\n"
    "assert pca_seconds < 1.0",
    "from aebook.training import step_seconds\nper_step = step_seconds({'a': (m, x)}, batch_size=8)\n"
    "assert per_step['a'] < 0.1",
]
RATIOS = [
    "import time\ns = time.perf_counter()\na = time.perf_counter() - s\n"
    "s = time.perf_counter()\nb = time.perf_counter() - s\nassert 5 * a < b, (a, b)",
    "import time\ns = time.perf_counter()\na = time.perf_counter() - s\nb = 2 * a\n"
    "assert a / b < 0.8",
    "import time\ns = time.perf_counter()\na = time.perf_counter() - s\nb = a + 1\n"
    "per_epoch = {'x': a / 1, 'y': b / 3}\nassert per_epoch['x'] > 5 * per_epoch['y']",
    "from aebook.training import Timer, timed_fit\nwith Timer() as t:\n    pass\n"
    "_, fit_seconds = timed_fit(m, x, x)\nassert 3 * t.seconds < fit_seconds",
    "from aebook.training import step_seconds\nper_step = step_seconds({'a': (m, x)}, batch_size=8)\n"
    "assert per_step['a'] > 3 * per_step['b']",
    # numbers that are not times
    "import numpy as np\nmse = float(np.mean([0.1, 0.2]))\nassert 0.1 < mse < 0.2",
]


def _write(tmp_path, source, name="chapter.ipynb"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T")]
    nb.cells += [nbformat.v4.new_code_cell(part) for part in source.split("\n\n\n")]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("source", ABSOLUTE)
def test_absolute_time_asserts_are_reported(source, tmp_path):
    path = _write(tmp_path, source)
    found = cta.time_asserts(cta.notebook_source(path))
    assert len(found) == 1, found
    assert cta.main([str(path)]) == 1


@pytest.mark.parametrize("source", RATIOS)
def test_ratios_and_other_numbers_pass(source, tmp_path):
    path = _write(tmp_path, source)
    assert cta.time_asserts(cta.notebook_source(path)) == []
    assert cta.main([str(path)]) == 0


def test_times_across_cells_and_magics(tmp_path):
    path = _write(
        tmp_path,
        "%matplotlib inline\nimport time\nstart = time.perf_counter()\n\n\n"
        "seconds = time.perf_counter() - start\n\n\nassert seconds < 10",
    )
    assert len(cta.time_asserts(cta.notebook_source(path))) == 1


def test_the_book_has_no_absolute_time_assert():
    assert cta.main([]) == 0

"""benchmarks/chapter_timings.py: runs notebooks, writes the CSV, enforces the budgets."""

import csv
import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "chapter_timings", ROOT / "benchmarks" / "chapter_timings.py"
)
ct = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ct)


def _notebook(path, *sources, title="Tiny chapter"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nText.")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return str(path)


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs the script twice (a passing and a failing notebook) and keeps the results."""
    tmp = tmp_path_factory.mktemp("timings")
    good = _notebook(tmp / "good.ipynb", "x = [0] * 10**6", "print(len(x))")
    bad = _notebook(tmp / "bad.ipynb", "raise RuntimeError('boom')", title="Bad chapter")
    out = tmp / "t.csv"
    rc_good = ct.main([good, "--csv", str(out)])
    rows_good = _rows(out)
    rc_bad = ct.main([bad, "--csv", str(out), "--update"])
    rows_both = _rows(out)
    return {
        "good": good,
        "rc_good": rc_good,
        "rows_good": rows_good,
        "rc_bad": rc_bad,
        "rows_both": rows_both,
        "csv": out,
    }


def test_passing_notebook_writes_a_row_and_a_total(runs):
    assert runs["rc_good"] == 0
    row, total = runs["rows_good"]
    assert row["chapter"] == "Tiny chapter"
    assert row["status"] == "ok"
    assert 0 < float(row["seconds"]) < 120
    assert float(row["peak_memory_mb"]) > 10  # a Python kernel holding a list of 10**6
    assert total["chapter"] == ct.TOTAL
    assert total["seconds"] == row["seconds"]


def test_failing_notebook_exits_non_zero_and_update_keeps_rows(runs):
    assert runs["rc_bad"] == 1
    rows = runs["rows_both"]
    assert [r["chapter"] for r in rows] == ["Tiny chapter", "Bad chapter", ct.TOTAL]
    assert rows[1]["status"] == "error"
    assert rows[2]["status"] == "error"
    seconds = float(rows[0]["seconds"]) + float(rows[1]["seconds"])
    assert abs(float(rows[2]["seconds"]) - seconds) <= 1


def test_budget_exceeded_exits_non_zero(runs, tmp_path):
    assert ct.main([runs["good"], "--csv", str(tmp_path / "b.csv"), "--budget", "0"]) == 1
    assert ct.main([runs["good"], "--csv", str(tmp_path / "c.csv"), "--total-budget", "0"]) == 1


def test_toc_notebooks_in_reading_order():
    notebooks = ct.toc_notebooks()
    assert notebooks[0] == "book/first_autoencoder.ipynb"
    assert all((ROOT / nb).exists() for nb in notebooks)

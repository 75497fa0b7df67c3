"""benchmarks/robustness.py: runs notebooks per seed and thread count, tabulates failures."""

import csv
import importlib.util
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
_spec = importlib.util.spec_from_file_location("robustness", ROOT / "benchmarks" / "robustness.py")
rb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rb)


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny chapter\n\nText.")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return str(path)


def test_seed_and_threads_reach_the_kernel_and_failures_are_reported(tmp_path):
    path = _notebook(
        tmp_path / "chapter.ipynb",
        "import os\nseed = os.environ.get('AEBOOK_SEED', 'default')\n"
        "threads = os.environ['OMP_NUM_THREADS']",
        "assert seed != '1000', ('seed', seed)",
        "assert threads in ('1', '2')",
    )
    out = tmp_path / "table.csv"
    status = rb.main([path, "--seeds", "default", "1000", "--threads", "1", "2", "--cores", "2",
                      "--csv", str(out)])
    assert status == 1  # the seed-1000 runs fail
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    by_config = {(r["seed"], r["threads"]): r for r in rows}
    assert set(by_config) == {("default", "1"), ("default", "2"), ("1000", "1"), ("1000", "2")}
    for threads in ("1", "2"):
        assert by_config[("default", threads)]["status"] == "pass"
        assert by_config[("default", threads)]["first_failure"] == ""
        failed = by_config[("1000", threads)]
        assert failed["status"] == "FAIL"
        assert "assert seed != '1000'" in failed["first_failure"]
        assert "AssertionError" in failed["first_failure"]
    assert all(r["chapter"] == "Tiny chapter" for r in rows)
    with open(rb.summary_path(out), newline="") as f:
        summary = list(csv.reader(f))
    assert summary[0] == [
        "chapter",
        "default seed, 1 thread",
        "seed 1000, 1 thread",
        "default seed, 2 threads",
        "seed 1000, 2 threads",
    ]
    chapter_row, passing_row, machine_row = summary[1:]
    assert chapter_row[0] == "Tiny chapter"
    assert chapter_row[1].startswith("pass (") and chapter_row[3].startswith("pass (")
    assert chapter_row[2].startswith("FAIL: assert seed != '1000'")
    assert passing_row == ["chapters passing", "1 of 1", "0 of 1", "1 of 1", "0 of 1"]
    assert machine_row[0] == "machine" and "cores" in machine_row[1]


def test_keep_going_reports_every_failing_cell(tmp_path, capsys):
    path = _notebook(tmp_path / "two.ipynb", "assert 1 == 2, 'first'", "x = 1", "assert x == 3, 'second'")
    out = tmp_path / "table.csv"
    assert rb.main([path, "--seeds", "default", "--threads", "1", "--keep-going", "--csv", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "'first'" in printed and "'second'" in printed
    with open(out, newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert "assert 1 == 2" in row["first_failure"]

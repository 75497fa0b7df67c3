"""aebook.results and aebook.sphinxext: the Results page drawn from benchmarks.csv."""

import csv
import re
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from aebook import results

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "book" / "_data" / "benchmarks.csv"


def _row(metric, ours, published):
    return {"metric": metric, "ours": ours, "published": published}


@pytest.mark.parametrize(("row", "status"), [
    (_row("test squared error per image", "3.478", "3"), "misses"),
    (_row("test squared error per image", "2.9", "3"), "beats"),
    (_row("test squared error per image", "13.87", "13.87"), "matches"),
    (_row("test NLL (nats)", "88.57", "89.8"), "beats"),
    (_row("linear-probe test accuracy", "0.95", "0.9"), "beats"),
    (_row("AUROC MNIST vs Fashion-MNIST, AE reconstruction error", "0.9", "0.95"), "misses"),
    (_row("PSNR gain (dB)", "9.7", ""), "no published number"),
])
def test_status_follows_the_better_direction_of_the_metric(row, status):
    assert results.compare(row)["status"] == status


def test_gap_and_ratio():
    out = results.compare(_row("test squared error", "3.478", "3"))
    assert out["gap"] == pytest.approx(0.478) and out["ratio"] == pytest.approx(1.159333, 1e-5)
    assert results.describe_comparison(_row("test squared error", "3.478", "3")) == "+0.478 (×1.159)"
    assert results.describe_comparison(_row("test NLL", "88.57", "89.8")) == "−1.23 (×0.986)"
    assert results.describe_comparison(_row("test NLL", "88.57", "")) == "–"


def test_unknown_direction_is_an_error():
    with pytest.raises(ValueError, match="^metric must name"):
        results.compare(_row("frobnication", "1", "2"))


def test_the_committed_csv_gives_a_table_with_every_row_and_citation():
    rows = results.read_benchmarks(CSV)
    with open(CSV, newline="") as f:
        raw = list(csv.DictReader(f))
    assert len(rows) == len(raw)
    table = results.markdown_table(rows).strip().split("\n")
    assert len(table) == 2 + len(rows)
    assert all(line.count(" | ") == 5 for line in table)  # 6 columns, no stray pipes
    for line, row in zip(table[2:], rows, strict=True):
        assert f"`{row['task']}`" in line and row["ours"] in line
        if row["citation"]:
            assert f"{{cite:p}}`{row['citation']}`" in line
        assert re.search(r"\{bdg-\w+\}`(beats|matches|misses|no published number)`", line)
    statuses = [results.compare(r)["status"] for r in rows]
    assert set(statuses) <= set(results.STATUSES)
    assert "beats" in statuses and "matches" in statuses  # hinton_deep, vae_nll; hinton_pca
    notes = results.markdown_notes(rows)
    assert all(row["notes"] in notes for row in rows)


def test_plot_has_one_panel_per_row():
    rows = results.read_benchmarks(CSV)
    fig = results.plot_benchmarks(rows)
    assert isinstance(fig, Figure)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == len(rows)
    for ax, row in zip(panels, rows, strict=True):
        assert len(ax.patches) == (2 if row["published"] else 1)
        assert row["task"] in ax.get_title(loc="left")


def test_bad_csv_header_is_an_error(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("task,ours\nx,1\n")
    with pytest.raises(ValueError, match="must have the columns"):
        results.read_benchmarks(path)


def test_sphinx_extension_registers_the_directives():
    from aebook import sphinxext

    registered = {}

    class App:
        def add_directive(self, name, cls):
            registered[name] = cls

        def connect(self, event, handler):
            registered[event] = handler

    meta = sphinxext.setup(App())
    assert set(registered) == {"benchmarks-table", "benchmarks-figure", "benchmarks-notes",
                               "autodoc-process-signature"}
    assert meta["parallel_read_safe"]


def test_layer_signature_is_the_init_signature():
    from aebook import layers, sphinxext

    signature, _ = sphinxext.layer_signature(None, "class", "aebook.layers.Corruption",
                                             layers.Corruption, {}, "(*args, **kwargs)", None)
    assert signature == "(noise='gaussian', level=0.5, seed=None, clip=True, **kwargs)"
    assert sphinxext.layer_signature(None, "function", "f", len, {}, "()", None) is None

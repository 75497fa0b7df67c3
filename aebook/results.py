"""The Results appendix: our benchmark numbers next to the published ones.

`benchmarks/reproduce.py` writes `book/_data/benchmarks.csv`, one row per measured
number. This module reads that file and derives what the book's Results page shows:
how each of our numbers compares with the published one (gap and ratio), a status
(beats, matches, misses, or no published number), a Markdown table with rendered
citations, and a figure with one panel per row. The page renders them at build time
with the directives of `aebook.sphinxext`, so the CSV stays the only data.
"""

import csv
import math
import os
import textwrap

COLUMNS = ("task", "metric", "ours", "published", "citation", "cpu_minutes", "epochs",
           "machine", "notes")
"""The columns of `benchmarks.csv`, in order."""

STATUSES = ("beats", "matches", "misses", "no published number")
"""The possible statuses of a row (see `compare`)."""

MATCH_TOLERANCE = 0.005
"""Relative difference within which our number `matches` the published one."""

_LOWER_IS_BETTER = ("error", "mse", "nll", "elbo", "time ratio", "seconds")
_HIGHER_IS_BETTER = ("accuracy", "auroc", "gain", "psnr", "ssim", "speed-up")
_BADGES = {"beats": "bdg-success", "matches": "bdg-info", "misses": "bdg-danger",
           "no published number": "bdg-secondary"}


def read_benchmarks(path):
    """Reads `benchmarks.csv` into a list of dicts, one per row, values as strings.

    Args:
        path: the CSV file (`book/_data/benchmarks.csv`).

    Returns:
        list of dicts with the keys `COLUMNS`.

    Raises:
        ValueError: if the header is not `COLUMNS` or the file has no rows.
    """
    with open(os.fspath(path), newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(
                f"{path} must have the columns {', '.join(COLUMNS)}. "
                f"Received: {', '.join(reader.fieldnames or ())}"
            )
        rows = list(reader)
    if not rows:
        raise ValueError(f"{path} has no rows.")
    return rows


def lower_is_better(metric):
    """Whether a smaller value of `metric` is better, from the words in its name.

    Accuracies, AUROCs, PSNR or SSIM gains and speed-ups are better high (checked
    first, so an AUROC computed from reconstruction errors counts as an AUROC); errors,
    MSE, negative log-likelihoods, ELBOs, time ratios and seconds are better low.

    Args:
        metric: the `metric` cell of a row, e.g. `"test squared error per image"`.

    Returns:
        bool.

    Raises:
        ValueError: if the name says neither.

    Example:
        >>> lower_is_better("test NLL by IWAE bound, k=500 (nats)")
        True
        >>> lower_is_better("linear-probe test accuracy")
        False
    """
    name = metric.lower()
    if any(word in name for word in _HIGHER_IS_BETTER):  # "AUROC ... reconstruction error"
        return False
    if any(word in name for word in _LOWER_IS_BETTER):
        return True
    raise ValueError(f"metric must name a quantity whose better direction is known. "
                     f"Received: metric={metric!r}")


def _number(text):
    text = (text or "").strip()
    return float(text) if text else None


def compare(row):
    """Compares our number with the published one.

    Args:
        row: a dict with at least `metric`, `ours` and `published` (strings, as read
            by `read_benchmarks`; `published` may be empty).

    Returns:
        dict with `gap` (ours - published, float or None), `ratio` (ours /
        published, float or None) and `status`: `"no published number"` if
        `published` is empty, `"matches"` within `MATCH_TOLERANCE` (relative),
        else `"beats"` or `"misses"` according to `lower_is_better`.

    Example:
        >>> compare({"metric": "test squared error", "ours": "3.48", "published": "3"})
        {'gap': 0.48, 'ratio': 1.16, 'status': 'misses'}
    """
    ours, published = _number(row["ours"]), _number(row["published"])
    if published is None:
        return {"gap": None, "ratio": None, "status": "no published number"}
    gap = ours - published
    ratio = ours / published if published else math.inf
    if abs(gap) <= MATCH_TOLERANCE * abs(published):
        status = "matches"
    elif (gap < 0) == lower_is_better(row["metric"]):
        status = "beats"
    else:
        status = "misses"
    return {"gap": round(gap, 10), "ratio": round(ratio, 10), "status": status}


def _fmt(x):
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def describe_comparison(row):
    """The "ours vs published" cell: signed gap and ratio, e.g. `+0.478 (×1.16)`.

    Returns an en dash where there is no published number.
    """
    result = compare(row)
    if result["gap"] is None:
        return "–"
    sign = "+" if result["gap"] > 0 else "−" if result["gap"] < 0 else "±"
    return f"{sign}{_fmt(abs(result['gap']))} (×{result['ratio']:.3f})"


def _citation(key):
    return f"{{cite:p}}`{key}`" if key else "–"


def _cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows):
    """The Results table as MyST Markdown: one line per row of `benchmarks.csv`.

    Columns: task and metric, ours, published, source (a rendered citation),
    ours vs published (`describe_comparison`), status (a coloured badge).

    Args:
        rows: rows as returned by `read_benchmarks`.

    Returns:
        str, a Markdown pipe table.
    """
    lines = ["| Task: metric | Ours | Published | Source | Ours vs published | Status |",
             "| --- | ---: | ---: | --- | ---: | --- |"]
    for row in rows:
        status = compare(row)["status"]
        cells = [f"`{row['task']}`: {row['metric']}", row["ours"], row["published"] or "–",
                 _citation(row["citation"]), describe_comparison(row),
                 f"{{{_BADGES[status]}}}`{status}`"]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_notes(rows):
    """The full notes of every row (recipe, machine, CPU time, epochs) as a Markdown list."""
    items = []
    for row in rows:
        facts = [f"{row['cpu_minutes']} CPU-minutes"] if row["cpu_minutes"] else []
        if row["epochs"]:
            facts.append(f"{row['epochs']} epochs")
        if row["machine"]:
            facts.append(row["machine"])
        items.append(f"- **`{row['task']}`, {row['metric']}** ({'; '.join(facts)}): "
                     f"{row['notes']}")
    return "\n".join(items) + "\n"


_COLOURS = {"ours": "#4c72b0", "beats": "#2e8540", "matches": "#17a2b8", "misses": "#c0392b",
            "no published number": "#8c8c8c"}


def plot_benchmarks(rows, ncols=3):
    """One small panel per row: our number and the published one, as two bars.

    The published bar is coloured by the row's status; a row without a published
    number has a single bar. Each panel has its own scale.

    Args:
        rows: rows as returned by `read_benchmarks`.
        ncols: panels per figure row.

    Returns:
        The matplotlib `Figure`.
    """
    import matplotlib.pyplot as plt

    from aebook import validation as v

    ncols = v.positive_int("ncols", ncols)
    nrows = -(-len(rows) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 1.9 * nrows), squeeze=False)
    for ax in axes.flat[len(rows):]:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows, strict=False):
        result = compare(row)
        labels, values, colours = ["ours"], [_number(row["ours"])], [_COLOURS["ours"]]
        if result["gap"] is not None:
            labels.append("published")
            values.append(_number(row["published"]))
            colours.append(_COLOURS[result["status"]])
        y = list(range(len(values)))[::-1]
        ax.barh(y, values, color=colours, height=0.6)
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlim(0, max(values) * 1.35)
        for yi, value in zip(y, values, strict=True):
            ax.text(value, yi, f" {value:.4g}", va="center", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="y", visible=False)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_ylim(-0.6, 1.6)
        title = "\n".join(textwrap.wrap(f"{row['task']}: {row['metric']}", 40))
        ax.set_title(f"{title}\n[{result['status']}]", fontsize=8, loc="left")
    fig.tight_layout(h_pad=0.6, w_pad=1.0)
    return fig

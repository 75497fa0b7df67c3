"""Execute the book's chapter notebooks and record how long each takes.

Every notebook runs top to bottom in a fresh Jupyter kernel (nbclient), one after the
other, with the working directory `book/` (as in a book build). For each notebook the
script records the wall time and the peak resident memory of the kernel, writes the
results to a CSV file that the book's introduction shows, and prints the slowest cells.

Usage (from the repository root, with AEBOOK_DATA_DIR set):

    python benchmarks/chapter_timings.py                 # every chapter in _toc.yml
    python benchmarks/chapter_timings.py book/vae.ipynb  # some chapters only
    python benchmarks/chapter_timings.py --update book/x.ipynb   # replace x's row, keep others

Exit status: 0 if every notebook ran without error within `--budget` seconds and all the
rows of the CSV add up to at most `--total-budget` seconds; 1 otherwise (the reason is
printed). The kernels inherit the environment, so `OMP_NUM_THREADS=1` measures the
single-threaded configuration that CI uses.

Options `--store` (used while writing a chapter): after a successful run, write the
executed notebook back and keep only the outputs of its contract cells
(`.ci/nb_outputs.py clear`), the book's output policy.
"""

import argparse
import csv
import datetime
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = ROOT / "book" / "_data" / "chapter_timings.csv"
# the columns a reader wants first; the machine description follows
FIELDS = [
    "chapter",
    "seconds",
    "peak_memory_mb",
    "slowest_cell_seconds",
    "status",
    "notebook",
    "threads",
    "cpu",
    "torch",
    "keras",
    "measured_utc",
]
TOTAL = "all chapters"


def toc_notebooks(root=ROOT):
    """The notebooks listed in `_toc.yml`, in reading order (as repository paths)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    return [f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def notebook_title(nb):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


class PeakMemory:
    """Polls the resident memory of this process's children (the kernel) in a thread."""

    def __init__(self, interval=0.2):
        import psutil

        self._psutil = psutil
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = self._psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except self._psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def cell_seconds(cell):
    meta = cell.get("metadata", {}).get("execution", {})
    start, end = meta.get("iopub.execute_input"), meta.get("shell.execute_reply")
    if not (start and end):
        return None

    def parse(s):
        return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))

    return (parse(end) - parse(start)).total_seconds()


def notebook_client(path, timeout=900, **options):
    """Reads a notebook; returns it and an nbclient client that runs it from `book/`."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "book")}},
        **options,
    )
    return nb, client


def run_notebook(path, timeout=900):
    """Executes one notebook; returns (executed notebook, row dict, error or None)."""
    nb, client = notebook_client(path, timeout)
    error = None
    t0 = time.perf_counter()
    with PeakMemory() as memory:
        try:
            client.execute()
        except Exception as exc:  # report any failure, keep going with the others
            error = f"{type(exc).__name__}: {str(exc)[-2000:]}"
    seconds = time.perf_counter() - t0
    cells = [
        (t, i, c.source.splitlines()[0][:70] if c.source else "")
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (t := cell_seconds(c)) is not None
    ]
    cells.sort(reverse=True)
    row = {
        "chapter": notebook_title(nb),
        "notebook": Path(path).as_posix(),
        "seconds": f"{seconds:.0f}",
        "peak_memory_mb": f"{memory.peak / 2**20:.0f}",
        "status": "ok" if error is None else "error",
        "slowest_cell_seconds": f"{cells[0][0]:.0f}" if cells else "",
        "threads": os.environ.get("OMP_NUM_THREADS", "all"),
        "cpu": machine_description(),
        "torch": package_version("torch"),
        "keras": package_version("keras"),
        "measured_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
    }
    return nb, row, error, cells


def package_version(name):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def machine_description():
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def read_rows(path):
    if not Path(path).exists():
        return []
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r["chapter"] != TOTAL]


def total_row(rows):
    seconds = sum(float(r["seconds"]) for r in rows)
    peak = max((float(r["peak_memory_mb"]) for r in rows), default=0)
    return {
        "chapter": TOTAL,
        "notebook": "",
        "seconds": f"{seconds:.0f}",
        "peak_memory_mb": f"{peak:.0f}",
        "status": "ok" if all(r["status"] == "ok" for r in rows) else "error",
        "slowest_cell_seconds": "",
        "threads": "",
        "cpu": "",
        "torch": "",
        "keras": "",
        "measured_utc": "",
    }


def write_rows(path, rows, order):
    rank = {nb: i for i, nb in enumerate(order)}
    rows = sorted(rows, key=lambda r: rank.get(r["notebook"], len(rank)))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows + [total_row(rows)])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="default: every notebook in _toc.yml")
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="output CSV file")
    parser.add_argument("--update", action="store_true", help="keep the CSV's other rows")
    parser.add_argument("--budget", type=float, default=180.0, help="seconds per notebook")
    parser.add_argument("--total-budget", type=float, default=1500.0, help="seconds, all rows")
    parser.add_argument("--top", type=int, default=5, help="slowest cells to print")
    parser.add_argument("--store", action="store_true", help="write contract outputs back")
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    order = toc_notebooks()
    paths = args.notebooks or order
    if not paths:
        parser.error("no notebooks given and none found in _toc.yml")
    rows = {}
    failures = []
    for path in paths:
        full = Path(path).resolve()
        path = full.relative_to(ROOT).as_posix() if full.is_relative_to(ROOT) else str(full)
        print(f"--- {path}", flush=True)
        nb, row, error, cells = run_notebook(path)
        for t, i, first_line in cells[: args.top]:
            print(f"  cell {i:3d} {t:7.1f} s  {first_line}")
        print(
            f"{row['status'].upper()} {path}: {row['seconds']} s, "
            f"peak memory {row['peak_memory_mb']} MB",
            flush=True,
        )
        if error:
            print(f"  {error}")
            failures.append(f"{path} failed")
        elif float(row["seconds"]) > args.budget:
            failures.append(f"{path} took {row['seconds']} s > budget {args.budget:.0f} s")
        rows[path] = row
        if error is None and args.store:
            import nbformat

            nbformat.write(nb, path)
            subprocess.run(
                [sys.executable, str(ROOT / ".ci" / "nb_outputs.py"), "clear", path], check=True
            )
    if args.update:  # merge with the rows on disk now (others may have written meanwhile)
        rows = {**{r["notebook"]: r for r in read_rows(args.csv)}, **rows}
    rows = write_rows(args.csv, list(rows.values()), order)
    total = float(total_row(rows)["seconds"])
    print(f"total of {len(rows)} notebooks in {args.csv}: {total:.0f} s")
    if total > args.total_budget:
        failures.append(f"all notebooks take {total:.0f} s > budget {args.total_budget:.0f} s")
    for failure in failures:
        print("BUDGET/ERROR:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Run every chapter under several seeds and thread counts, and tabulate what passes.

A claim in the book is only a finding if it holds on any machine, at any thread count
and for other seeds. This script executes each chapter notebook in a fresh kernel
(nbclient, working directory `book/`, as in a book build) under every configuration
(seed x threads) and writes one row per run to `book/_data/robustness.csv`, the table
shown in the book's introduction next to "How it is tested":

    chapter, notebook, seed, threads, status, first_failure, seconds, cpu, measured_utc

`seed` is the value of `AEBOOK_SEED` given to the kernel ("default": unset, so each
chapter uses its own default seed); `threads` is `OMP_NUM_THREADS` (and the MKL and
OpenBLAS equivalents). `first_failure` is the first failing line (usually an `assert`)
with the error message, empty when the chapter passed. Beside it, `robustness_summary.csv`
has one row per chapter and one column per configuration ("pass (54 s)" or the failing
line), the form the book shows.

Usage (from the repository root, with AEBOOK_DATA_DIR set):

    python benchmarks/robustness.py                         # every chapter, default grid
    python benchmarks/robustness.py --seeds default 1000 --threads 1
    python benchmarks/robustness.py book/limitations.ipynb --update   # replace its rows

The default grid is seeds {default, 1000, 2000} at 1 thread plus the default seed at
2 threads. Runs are scheduled on `--cores` cores (default: all): a run at t threads
holds t cores, so on a 2-core machine two 1-thread runs go side by side and a 2-thread
run goes alone. Seconds measured side by side are slower than on a quiet machine; the
table says how many cores the machine has and how many ran at once.

Exit status 0 when every run passed, 1 otherwise.
"""

import argparse
import csv
import datetime
import os
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chapter_timings as ct  # noqa: E402

ROOT = ct.ROOT
DEFAULT_CSV = ROOT / "book" / "_data" / "robustness.csv"
FIELDS = [
    "chapter",
    "notebook",
    "seed",
    "threads",
    "status",
    "first_failure",
    "seconds",
    "concurrent_runs",
    "cpu",
    "measured_utc",
]
DEFAULT_GRID = [("default", 1), ("1000", 1), ("2000", 1), ("default", 2)]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ARROW = re.compile(r"^\s*-*>\s*\d*\s(.*)$")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def failures(nb):
    """The failing source line and error of every cell with an error output."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            line = ""
            for tb in out.get("traceback", []):
                for tb_line in _ANSI.sub("", tb).splitlines():
                    arrow = _ARROW.match(tb_line)  # "----> 12 assert ...": the failing line
                    if arrow:
                        line = arrow.group(1).strip()
            message = f"{out.get('ename', '')}: {out.get('evalue', '')}".strip()
            found.append(f"{line} [{message[:300]}]" if line else message[:400])
    return found


def run_one(path, seed, threads, concurrent, timeout=900, save_dir=None, keep_going=False):
    """Executes `path` with the given seed and threads; returns a row of the table."""
    import nbformat

    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    if seed == "default":
        env.pop("AEBOOK_SEED", None)
    else:
        env["AEBOOK_SEED"] = str(seed)
    nb, client = ct.notebook_client(path, timeout, allow_errors=keep_going)
    error = None
    t0 = time.perf_counter()
    try:
        # the kernel inherits the environment passed to its manager
        client.execute(env=env)
    except Exception as exc:  # report any failure, go on with the other runs
        error = f"{type(exc).__name__}: {str(exc)[-300:]}"
    seconds = time.perf_counter() - t0
    found = failures(nb)
    if found and error is None:  # keep_going: cells failed, execution went on
        error = found[0]
    failure = found[0] if found else ""
    if save_dir:  # the executed notebook, for reading its outputs
        out = Path(save_dir) / f"seed{seed}_threads{threads}" / Path(path).name
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    return {
        "chapter": ct.notebook_title(nb),
        "notebook": Path(path).as_posix(),
        "seed": str(seed),
        "threads": str(threads),
        "status": "pass" if error is None else "FAIL",
        "first_failure": (failure or (error or "")).replace("\n", " ")[:400],
        "seconds": f"{seconds:.0f}",
        "concurrent_runs": str(concurrent),
        "cpu": ct.machine_description(),
        "measured_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "all_failures": found,
    }


class CoreBudget:
    """A counting semaphore where a run at t threads takes t cores."""

    def __init__(self, cores):
        self.cores = cores
        self.free = cores
        self.running = 0
        self.cond = threading.Condition()

    def acquire(self, n):
        n = min(n, self.cores)
        with self.cond:
            self.cond.wait_for(lambda: self.free >= n)
            self.free -= n
            self.running += 1
            return n, self.running

    def release(self, n):
        with self.cond:
            self.free += n
            self.running -= 1
            self.cond.notify_all()


def read_rows(path):
    if not Path(path).exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path, rows, order):
    rank = {nb: i for i, nb in enumerate(order)}
    grid_rank = {(s, t): i for i, (s, t) in enumerate(DEFAULT_GRID)}
    rows = sorted(
        rows,
        key=lambda r: (
            rank.get(r["notebook"], len(rank)),
            grid_rank.get((r["seed"], int(r["threads"])), len(grid_rank)),
            r["seed"],
            r["threads"],
        ),
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def summary_path(path):
    """`robustness.csv` -> `robustness_summary.csv`, beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}_summary{path.suffix}")


def config_label(seed, threads):
    seed = "default seed" if seed == "default" else f"seed {seed}"
    return f"{seed}, {threads} thread{'s' if str(threads) != '1' else ''}"


def write_summary(path, rows, order):
    """The table the book shows: one row per chapter, one column per configuration.

    Each cell is "pass (54 s)" or "FAIL: <first failing line>". A last row counts the
    passing chapters per configuration, and one names the machine.
    """
    configs = []
    for r in rows:
        key = (r["seed"], r["threads"])
        if key not in configs:
            configs.append(key)
    grid_rank = {(s, str(t)): i for i, (s, t) in enumerate(DEFAULT_GRID)}
    configs.sort(key=lambda c: (grid_rank.get(c, len(grid_rank)), c))
    by_chapter = {}
    for r in rows:
        by_chapter.setdefault(r["notebook"], {})[(r["seed"], r["threads"])] = r
    rank = {nb: i for i, nb in enumerate(order)}
    chapters = sorted(by_chapter, key=lambda nb: rank.get(nb, len(rank)))
    header = ["chapter"] + [config_label(*c) for c in configs]
    table = []
    for nb in chapters:
        runs = by_chapter[nb]
        title = next(iter(runs.values()))["chapter"]
        cells = []
        for c in configs:
            r = runs.get(c)
            if r is None:
                cells.append("not run")
            elif r["status"] == "pass":
                cells.append(f"pass ({r['seconds']} s)")
            else:
                cells.append(f"FAIL: {r['first_failure'][:120]}")
        table.append([title] + cells)
    passed = [
        sum(by_chapter[nb].get(c, {}).get("status") == "pass" for nb in chapters) for c in configs
    ]
    table.append(["chapters passing"] + [f"{n} of {len(chapters)}" for n in passed])
    machines = []
    for c in configs:
        cpus = sorted({by_chapter[nb][c]["cpu"] for nb in chapters if c in by_chapter[nb]})
        machines.append("; ".join(cpus))
    table.append(["machine"] + machines)
    out = summary_path(path)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(table)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="default: every notebook in _toc.yml")
    parser.add_argument("--seeds", nargs="+", help="'default' or integers")
    parser.add_argument("--threads", nargs="+", type=int, help="thread counts")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--csv", default=str(DEFAULT_CSV), help="output CSV file")
    parser.add_argument("--update", action="store_true", help="keep the CSV's other rows")
    parser.add_argument("--save-dir", help="also write each executed notebook under this folder")
    parser.add_argument(
        "--summarize",
        action="store_true",
        help="run nothing: rewrite the summary table from the CSV",
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="run every cell even after a failure, and print every failing line",
    )
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    order = ct.toc_notebooks()
    if args.summarize:
        rows = read_rows(args.csv)
        print(f"summary of {len(rows)} runs: {write_summary(args.csv, rows, order)}")
        return 0 if all(r["status"] == "pass" for r in rows) else 1
    paths = args.notebooks or order
    paths = [
        Path(p).resolve().relative_to(ROOT).as_posix()
        if Path(p).resolve().is_relative_to(ROOT)
        else p
        for p in paths
    ]
    if args.seeds or args.threads:
        grid = [(s, t) for s in (args.seeds or ["default"]) for t in (args.threads or [1])]
    else:
        grid = DEFAULT_GRID
    # the longest-running kind first would be better; reading order is good enough
    tasks = [(p, s, t) for (s, t) in grid for p in paths]
    budget = CoreBudget(args.cores)
    lock = threading.Lock()
    rows = []

    def worker(task):
        path, seed, threads = task
        taken, running = budget.acquire(threads)
        try:
            row = run_one(
                path,
                seed,
                threads,
                concurrent=running,
                save_dir=args.save_dir,
                keep_going=args.keep_going,
            )
        finally:
            budget.release(taken)
        with lock:
            rows.append(row)
            print(
                f"{row['status']:4s} {path} seed={seed} threads={threads} "
                f"{row['seconds']} s",
                flush=True,
            )
            for failure in row.pop("all_failures"):
                print(f"     {failure}", flush=True)

    pending = list(tasks)
    threads_alive = []
    while pending or threads_alive:
        threads_alive = [t for t in threads_alive if t.is_alive()]
        # start a run whenever the budget has room for it (in order)
        while pending and budget.free >= min(pending[0][2], budget.cores):
            th = threading.Thread(target=worker, args=(pending.pop(0),))
            th.start()
            threads_alive.append(th)
            time.sleep(0.5)  # let it take its cores before looking again
        time.sleep(0.5)

    if args.update:
        done = {(r["notebook"], r["seed"], r["threads"]) for r in rows}
        rows += [
            r for r in read_rows(args.csv) if (r["notebook"], r["seed"], r["threads"]) not in done
        ]
    rows = write_rows(args.csv, rows, order)
    write_summary(args.csv, rows, order)
    failed = [r for r in rows if r["status"] != "pass"]
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed (table: {args.csv})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

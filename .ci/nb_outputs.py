"""Clears or checks the outputs stored in the book's notebooks (the output policy).

Usage:
    python .ci/nb_outputs.py clear [--all] [NOTEBOOK ...]   (default: book/**/*.ipynb)
    python .ci/nb_outputs.py check [NOTEBOOK ...]

Policy (see README.md, "Contributing"): notebooks are committed without outputs, except
"contract" cells, marked with a `# NBVAL_CHECK_OUTPUT` comment line. nbval (run by
`pytest --nbval-lax`) compares a contract cell's new output with the stored one ONLY if
the cell has a stored execution count; a cell whose output was cleared is executed but
not compared. So:

- `clear` empties outputs and execution counts of every code cell, except contract cells
  that have a stored output, which are kept as they are. Run the notebook top to bottom
  first (e.g. "Restart kernel and run all" in Jupyter), then `clear`.
  `clear --all` also clears the contract cells (the same as
  `jupyter nbconvert --clear-output --inplace`).
- `check` fails if a non-contract cell has outputs, if a cell has outputs but no
  execution count (nbval rejects such a cell), or if a code cell calls something with
  `verbose=1` (progress bars flood the logs; use 2 or 0), and if a contract cell has no
  stored output (it would run without being compared: a check that cannot fail).
"""

import re
import sys
from pathlib import Path

import nbformat

MARKER = "NBVAL_CHECK_OUTPUT"
VERBOSE_1 = re.compile(r"\bverbose\s*=\s*1\b")
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled")


def is_contract(cell):
    """Same rule as nbval: a comment line whose text is the marker."""
    for line in cell.source.splitlines():
        line = line.strip()
        if line.startswith("#") and line.lstrip("#").strip() == MARKER:
            return True
    return False


def notebooks(args):
    paths = [Path(a) for a in args] or sorted(
        p for p in Path("book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
    return paths


def clear(paths, everything=False):
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        kept = 0
        for cell in nb.cells:
            for key in VOLATILE_CELL_METADATA:
                cell.metadata.pop(key, None)
            if cell.cell_type != "code":
                continue
            if not everything and is_contract(cell) and cell.outputs and cell.execution_count:
                kept += 1
                continue
            cell.outputs = []
            cell.execution_count = None
        after = nbformat.writes(nb)
        if after != before:
            path.write_text(after + "\n", encoding="utf-8")
            print(f"{path}: cleared (kept {kept} contract output(s))")
        else:
            print(f"{path}: already clean (kept {kept} contract output(s))")
    return 0


def check(paths):
    errors = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        try:
            nbformat.validate(nb)
        except nbformat.ValidationError as e:
            errors.append(f"{path}: invalid notebook: {e.message}")
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            where = f"{path}: cell {i}"
            contract = is_contract(cell)
            if cell.outputs and not contract:
                errors.append(f"{where}: has stored outputs (clear them: python .ci/nb_outputs.py clear)")
            if cell.outputs and cell.execution_count is None:
                errors.append(f"{where}: has outputs but no execution count (nbval rejects it)")
            if contract and not cell.outputs:
                errors.append(
                    f"{where}: # {MARKER} cell has no stored output, so nbval would run it "
                    "without comparing (run the notebook, then python .ci/nb_outputs.py clear)"
                )
            for n, line in enumerate(cell.source.splitlines(), 1):
                if VERBOSE_1.search(line) and not line.lstrip().startswith("#"):
                    errors.append(f"{where}, line {n}: verbose=1 (use verbose=2 or 0)")
    for e in errors:
        print(f"error: {e}")
    print(f"nb_outputs check: {len(paths)} notebook(s), {len(errors)} error(s)")
    return 1 if errors else 0


def main(argv):
    if len(argv) < 2 or argv[1] not in ("clear", "check"):
        print(__doc__)
        return 2
    args = argv[2:]
    everything = "--all" in args
    args = [a for a in args if a != "--all"]
    paths = notebooks(args)
    if argv[1] == "clear":
        return clear(paths, everything)
    return check(paths)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

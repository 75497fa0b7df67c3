"""Fail if a notebook asserts an absolute wall-clock time.

A chapter may *measure* time and assert a **ratio** of two times measured in the same
run ("PCA is at least five times faster than training the autoencoder"), because a
ratio travels between machines. It may never compare a time with a number ("training
takes 8 to 40 s"): that is a check of one machine, and it fails on a faster or a
slower one.

The check is static and works by dimensional analysis over each notebook's code cells
(parsed together, in order, as one module):

* a call of ``time.perf_counter``, ``time.time``, ``time.monotonic``,
  ``time.process_time`` (or their ``_ns`` forms, or ``timeit``) has the dimension of a
  time, T^1; so do the book's own stopwatches: the second element of
  ``aebook.training.timed_fit(...)``'s ``(history, seconds)``, the values of
  ``aebook.training.step_seconds(...)``'s dict, and ``t.seconds`` after
  ``with Timer() as t:``;
* a name, attribute, subscript target or function return value assigned from an
  expression takes that expression's dimension (containers take the dimension of what
  they hold; unpacking a tuple keeps each element's dimension when it can be seen);
* ``+``, ``-``, ``min``, ``max``, ``sum``, ``abs``, ``round``, ``float``,
  ``np.mean`` and the like keep the dimension; ``*`` adds and ``/`` subtracts
  dimensions; a number has dimension 0;
* an ``assert`` that compares an expression of dimension T^1 (or any non-zero power)
  with one of a different dimension, typically a time with a number, is reported.

``python .ci/check_time_asserts.py [notebook ...]`` (default: every ``book/*.ipynb``)
prints each offending line and exits with status 1 if there is any.
"""

import ast
import json
import sys
from pathlib import Path

TIME_FUNCS = {
    "perf_counter",
    "perf_counter_ns",
    "time",
    "time_ns",
    "monotonic",
    "monotonic_ns",
    "process_time",
    "process_time_ns",
    "timeit",
    "default_timer",
}
# aebook's timing helpers: return dimensions of functions, and context managers whose
# `.seconds` attribute is a time
LIBRARY_RETURNS = {"timed_fit": (0, 1), "step_seconds": 1}  # step_seconds: a dict of times
TIMER_CLASSES = {"Timer"}
# functions whose result has the dimension of their (first) argument
KEEP_FUNCS = {
    "min",
    "max",
    "sum",
    "abs",
    "round",
    "float",
    "int",
    "mean",
    "median",
    "sorted",
    "list",
    "tuple",
    "array",
    "asarray",
    "values",
    "items",
    "copy",
    "percentile",
    "quantile",
    "amin",
    "amax",
    "nanmean",
}
UNKNOWN = None


def notebook_source(path):
    """The code cells of a notebook as one module (IPython magics commented out)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    chunks = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = "".join(cell.get("source", []))
        lines = [
            "# " + line if line.lstrip().startswith(("%", "!")) else line
            for line in src.splitlines()
        ]
        chunks.append("\n".join(lines))
    return "\n\n".join(chunks)


class Dimensions(ast.NodeVisitor):
    """Infers the time dimension of names; iterated to a fixed point."""

    def __init__(self):
        self.env = {}  # name -> dimension (int)
        self.returns = dict(LIBRARY_RETURNS)  # function -> dimension or tuple of them
        self.changed = False

    # -- expressions -------------------------------------------------------------------
    def dim(self, node):
        """Dimension of an expression: an int, a tuple of them, or None if unknown/0."""
        if isinstance(node, ast.Constant):
            return 0
        if isinstance(node, ast.Name):
            return self.env.get(node.id, 0)
        if isinstance(node, ast.Attribute):
            key = self.key(node)
            if key in self.env:
                return self.env[key]
            return self.dim(node.value) if self.is_time_container(node.value) else 0
        if isinstance(node, ast.Subscript):
            value = self.dim(node.value)
            if isinstance(value, tuple):
                index = node.slice
                if isinstance(index, ast.Constant) and isinstance(index.value, int):
                    if -len(value) <= index.value < len(value):
                        return value[index.value]
                return self.scalar(value)
            return value
        if isinstance(node, ast.BinOp):
            left, right = self.scalar(self.dim(node.left)), self.scalar(self.dim(node.right))
            if isinstance(node.op, (ast.Add, ast.Sub, ast.Mod)):
                return left if left else right
            if isinstance(node.op, ast.Mult):
                return left + right
            if isinstance(node.op, (ast.Div, ast.FloorDiv)):
                return left - right
            if isinstance(node.op, ast.Pow):
                return left * self.const(node.right) if left else 0
            return 0
        if isinstance(node, ast.UnaryOp):
            return self.dim(node.operand)
        if isinstance(node, ast.Call):
            name = self.func_name(node.func)
            if name in TIME_FUNCS and self.is_time_module_call(node.func):
                return 1
            if name in self.returns:
                return self.returns[name]
            if name in KEEP_FUNCS:
                if isinstance(node.func, ast.Attribute) and name in {"values", "items", "copy"}:
                    return self.scalar(self.dim(node.func.value))
                dims = [self.scalar(self.dim(a)) for a in node.args]
                return next((d for d in dims if d), 0)
            return 0
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return tuple(self.dim(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            dims = [self.scalar(self.dim(v)) for v in node.values if v is not None]
            return next((d for d in dims if d), 0)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            return self.scalar(self.dim(node.elt))
        if isinstance(node, ast.DictComp):
            return self.scalar(self.dim(node.value))
        if isinstance(node, ast.IfExp):
            return self.scalar(self.dim(node.body)) or self.scalar(self.dim(node.orelse))
        if isinstance(node, ast.JoinedStr):
            return 0
        return 0

    @staticmethod
    def scalar(d):
        if isinstance(d, tuple):
            return next((Dimensions.scalar(x) for x in d if Dimensions.scalar(x)), 0)
        return d or 0

    @staticmethod
    def const(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return int(node.value)
        return 1

    @staticmethod
    def func_name(func):
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
        return ""

    @staticmethod
    def is_time_module_call(func):
        # time.perf_counter(), perf_counter() (from time import ...), timeit.default_timer()
        if isinstance(func, ast.Name):
            return True
        return isinstance(func.value, ast.Name) and func.value.id in {"time", "timeit"}

    def is_time_container(self, node):
        return bool(self.scalar(self.dim(node)))

    @staticmethod
    def key(node):
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.append(node.id)
            return ".".join(reversed(parts))
        return None

    # -- statements --------------------------------------------------------------------
    def assign(self, target, d):
        if isinstance(target, ast.Name):
            self.set(target.id, d)
        elif isinstance(target, ast.Attribute):
            key = self.key(target)
            if key:
                self.set(key, d)
        elif isinstance(target, ast.Subscript):
            # container[key] = value: the container holds values of that dimension
            base = target.value
            while isinstance(base, ast.Subscript):
                base = base.value
            if isinstance(base, ast.Name) and self.scalar(d):
                self.set(base.id, self.scalar(d))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for i, elt in enumerate(target.elts):
                if isinstance(d, tuple) and len(d) == len(target.elts):
                    self.assign(elt, d[i])
                else:
                    self.assign(elt, self.scalar(d))
        elif isinstance(target, ast.Starred):
            self.assign(target.value, d)

    def set(self, name, d):
        d = d if isinstance(d, tuple) else (d or 0)
        old = self.env.get(name, 0)
        # keep the strongest evidence of a time dimension seen for this name
        if self.scalar(d) and d != old:
            self.env[name] = d
            self.changed = True
        elif name not in self.env:
            self.env[name] = d

    def visit_Assign(self, node):
        d = self.dim(node.value)
        for target in node.targets:
            self.assign(target, d)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.assign(node.target, self.dim(node.value))
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self.assign(node.target, self.dim(node.value) or self.dim(node.target))
        self.generic_visit(node)

    def visit_NamedExpr(self, node):
        self.assign(node.target, self.dim(node.value))
        self.generic_visit(node)

    def visit_With(self, node):
        for item in node.items:
            call = item.context_expr
            if (isinstance(call, ast.Call) and self.func_name(call.func) in TIMER_CLASSES
                    and isinstance(item.optional_vars, ast.Name)):
                self.set(f"{item.optional_vars.id}.seconds", 1)
        self.generic_visit(node)

    def visit_For(self, node):
        self.assign(node.target, self.scalar(self.dim(node.iter)))
        self.generic_visit(node)

    def visit_comprehension(self, node):
        self.assign(node.target, self.scalar(self.dim(node.iter)))
        self.generic_visit(node)

    def visit_FunctionDef(self, node):
        self.generic_visit(node)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Return) and sub.value is not None:
                d = self.dim(sub.value)
                if self.scalar(d) and self.returns.get(node.name) != d:
                    self.returns[node.name] = d
                    self.changed = True

    visit_AsyncFunctionDef = visit_FunctionDef


def time_asserts(source, filename="<notebook>"):
    """(line number, source line) of every assert comparing a time with a non-time."""
    tree = ast.parse(source, filename=filename)
    dims = Dimensions()
    for _ in range(20):  # fixed point
        dims.changed = False
        dims.visit(tree)
        if not dims.changed:
            break
    lines = source.splitlines()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        for cmp in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
            operands = [cmp.left, *cmp.comparators]
            values = [dims.scalar(dims.dim(o)) for o in operands]
            if any(a != b and (a or b) for a, b in zip(values, values[1:], strict=False)):
                found.append((node.lineno, lines[node.lineno - 1].strip()))
                break
    return found


def main(argv):
    root = Path(__file__).resolve().parent.parent
    paths = [Path(p) for p in argv] or sorted((root / "book").glob("*.ipynb"))
    bad = 0
    for path in paths:
        for lineno, line in time_asserts(notebook_source(path), str(path)):
            print(f"{path}: line {lineno} of its code: asserts an absolute time: {line}")
            bad += 1
    if bad:
        print(
            f"{bad} assert(s) over a wall-clock time: assert a ratio of two times measured "
            "in the same run instead (with at least 2x headroom), or state the time "
            "without an assert"
        )
        return 1
    print(f"no absolute wall-clock assert in {len(paths)} notebook(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

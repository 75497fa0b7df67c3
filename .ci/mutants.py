"""Mutation check: inject realistic bugs into a copy of aebook, one at a time.

Each mutant is one exact text replacement in one file of `aebook/`: a bug of the kind
that changes the book's numbers (an off-by-one in a split, a sign error in a KL, the
IWAE estimator ignoring k, labels split apart from their images, ...). For each one
the script copies `aebook/`, `tests/` and `pyproject.toml` to a temporary folder,
applies the replacement, runs the unit tests that cover that code there (pytest, one
thread, `-x`), and records KILLED (a test failed: the name of the first one) or
SURVIVED (every test passed: the tests miss that bug).

    python .ci/mutants.py                 # every mutant; a table and the kill rate
    python .ci/mutants.py --only M01 M09  # some of them
    python .ci/mutants.py --list          # the mutants, without running anything

It first checks that every mutant's `old` text occurs exactly once in its file (so a
change of the code fails this script loudly instead of silently testing nothing),
that the copy imports its own `aebook`, and that the unmutated copy passes the
selected tests. Exit status: 0 if every mutant was killed, 1 if any survived (or
could not be run), 2 if the setup checks failed.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    description: str
    tests: tuple  # test files (relative to the root) that should kill it


MUTANTS = [
    # ---- metrics: likelihood bounds
    Mutant("M01", "aebook/metrics.py",
           "out[sl] = -(logsumexp(log_w, axis=1) - np.log(k))",
           "out[sl] = -logsumexp(log_w, axis=1)",
           "IWAE drops the log k of the mean: right at k = 1 only (the issue's survivor)",
           ("tests/test_metrics.py", "tests/test_known_answers.py")),
    Mutant("M02", "aebook/metrics.py",
           "out[sl] = -(logsumexp(log_w, axis=1) - np.log(k))",
           "out[sl] = -np.mean(log_w, axis=1)",
           "IWAE averages the log-weights (the ELBO) instead of log-mean-exp",
           ("tests/test_metrics.py", "tests/test_known_answers.py")),
    Mutant("M03", "aebook/metrics.py",
           "+ _log_normal(z, 0.0, np.zeros_like(z)) - _log_normal(z, m, lv))",
           "+ _log_normal(z, m, lv) - _log_normal(z, 0.0, np.zeros_like(z)))",
           "IWAE importance weight uses q/p instead of p/q (prior and posterior swapped)",
           ("tests/test_metrics.py", "tests/test_known_answers.py")),
    Mutant("M04", "aebook/metrics.py",
           "return rec / n_samples + kl",
           "return rec + kl",
           "negative ELBO sums the Monte Carlo samples instead of averaging them",
           ("tests/test_metrics.py", "tests/test_vae_elbo_terms.py",
            "tests/test_known_answers.py")),
    Mutant("M05", "aebook/metrics.py",
           "0.5 * np.sum(z_mean**2 + np.exp(z_log_var) - 1.0 - z_log_var, axis=-1)",
           "0.5 * np.sum(z_mean**2 + np.exp(z_log_var) - 1.0 + z_log_var, axis=-1)",
           "sign error on log-variance in the NumPy Gaussian KL",
           ("tests/test_metrics.py", "tests/test_vae_elbo_terms.py",
            "tests/test_known_answers.py")),
    # ---- metrics: image quality and codes
    Mutant("M06", "aebook/metrics.py",
           "        return 10.0 * np.log10(data_range**2 / mse)",
           "        return 10.0 * np.log(data_range**2 / mse)",
           "PSNR with the natural log instead of log10 (wrong log base)",
           ("tests/test_metrics.py", "tests/test_known_answers.py")),
    Mutant("M07", "aebook/metrics.py",
           "structural_similarity(ai, bi, data_range=data_range)",
           "structural_similarity(ai, bi, data_range=1.0)",
           "SSIM ignores the data_range argument",
           ("tests/test_metrics.py", "tests/test_known_answers.py")),
    Mutant("M08", "aebook/metrics.py",
           "return int(np.sum(z_mean.var(axis=0) > threshold))",
           "return int(np.sum(z_mean.var(axis=0) >= threshold))",
           "active units counted with >= threshold (a collapsed unit counts at threshold 0)",
           ("tests/test_metrics.py", "tests/test_known_answers.py")),
    # ---- data: splits and shuffles
    Mutant("M09", "aebook/data.py",
           "return (x_train[train], y_train[train]), (x_train[val], y_train[val]), (x_test, y_test)",
           "return (x_train[train], y_train[n_val:]), (x_train[val], y_train[:n_val]), "
           "(x_test, y_test)",
           "validation split shuffles the images but splits the labels by position "
           "(the issue's survivor)",
           ("tests/test_data.py", "tests/test_alignment.py")),
    Mutant("M10", "aebook/data.py",
           "val, train = order[:n_val], order[n_val:]",
           "val, train = order[:n_val], order[n_val - 1:]",
           "off-by-one in the validation split: one image in both splits",
           ("tests/test_data.py", "tests/test_alignment.py")),
    Mutant("M11", "aebook/data.py",
           "probs = self.x[rows]",
           "probs = self.x[index * self.batch_size:(index + 1) * self.batch_size]",
           "DynamicBinarization ignores its shuffled order (shuffle=True does nothing)",
           ("tests/test_alignment.py", "tests/test_known_answers.py")),
    # ---- compression
    Mutant("M12", "aebook/compression.py",
           "levels = 2**bits - 1",
           "levels = 2**bits",
           "uniform quantization with 2**bits + 1 levels (off-by-one)",
           ("tests/test_compression.py", "tests/test_known_answers.py")),
    Mutant("M13", "aebook/compression.py",
           "return len(data) - (sos + 2 + header_len) - 2",
           "return len(data) - (sos + 2 + header_len)",
           "JPEG payload size counts the 2-byte EOI marker",
           ("tests/test_compression.py", "tests/test_known_answers.py")),
    # ---- anomaly detection
    Mutant("M14", "aebook/anomaly.py",
           "flagged = scores > float(threshold)",
           "flagged = scores >= float(threshold)",
           "detection flags score >= threshold instead of > threshold",
           ("tests/test_anomaly.py", "tests/test_known_answers.py")),
    Mutant("M15", "aebook/anomaly.py",
           '"max": max_threshold(train_errors),',
           '"max": max_threshold(val_errors),',
           "threshold report fits the max rule on the validation errors (swapped arguments)",
           ("tests/test_anomaly.py", "tests/test_known_answers.py")),
    Mutant("M16", "aebook/anomaly.py",
           "errors.mean() + k * errors.std()",
           "errors.mean() + k * errors.std(ddof=1)",
           "mean + k sigma threshold with the sample (ddof=1) standard deviation",
           ("tests/test_anomaly.py", "tests/test_known_answers.py")),
    # ---- baselines
    Mutant("M17", "aebook/baselines.py",
           "x_hat = (flat - mean) @ axes.T @ axes + mean",
           "x_hat = flat @ axes.T @ axes + mean",
           "PCA projection forgets to centre the data",
           ("tests/test_pca_project.py", "tests/test_known_answers.py")),
    Mutant("M18", "aebook/baselines.py",
           "components = pca.components_[:k]",
           "components = pca.components_[:k - 1]",
           "PCA error sweep uses k - 1 components (off-by-one)",
           ("tests/test_baselines_sweep.py", "tests/test_known_answers.py")),
    # ---- losses
    Mutant("M19", "aebook/losses.py",
           "return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)",
           "return ops.mean(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)",
           "per-sample losses averaged over pixels instead of summed",
           ("tests/test_losses.py", "tests/test_known_answers.py")),
    # ---- seeding
    Mutant("M20", "aebook/seeding.py",
           "    np.random.seed(seed)\n    keras.utils.set_random_seed(seed)\n",
           "    np.random.seed(seed)\n    keras.utils.set_random_seed(default)\n",
           "set_seed seeds Keras (and so NumPy) with the default, not $AEBOOK_SEED",
           ("tests/test_seeding.py", "tests/test_known_answers.py")),
    # ---- plotting
    Mutant("M21", "aebook/plotting.py",
           "c=labels[idx]",
           "c=labels[:len(idx)]",
           "latent scatter subsamples the codes but takes the first labels",
           ("tests/test_plotting.py", "tests/test_alignment.py")),
    # ---- layers and models (at most 3: other work changes these files)
    Mutant("M22", "aebook/layers.py",
           "        if not training:\n            return inputs",
           "        if training:\n            return inputs",
           "Corruption's training flag inverted: noise at inference, none in fit",
           ("tests/test_layers.py", "tests/test_layer_contract.py")),
    Mutant("M23", "aebook/layers.py",
           "ops.mean(gaussian_kl(z_mean, z_log_var))",
           "ops.sum(gaussian_kl(z_mean, z_log_var))",
           "KLDivergence adds the batch sum of the KL instead of its mean",
           ("tests/test_layers.py", "tests/test_layer_contract.py")),
    Mutant("M24", "aebook/models.py",
           "z = np.random.default_rng(seed).standard_normal((n, *decoder.input_shape[1:]))",
           "z = np.random.default_rng().standard_normal((n, *decoder.input_shape[1:]))",
           "sample_prior does not pass its seed on",
           ("tests/test_models.py", "tests/test_known_answers.py")),
    Mutant("M25", "aebook/training.py",
           "callbacks = ([progress_callback()] if progress else []) + list(callbacks or [])",
           "callbacks = [progress_callback()] if progress else []",
           "timed_fit drops the caller's own callbacks",
           ("tests/test_define_once.py",)),
    Mutant("M26", "aebook/models.py",
           "return [n * m + m for n, m in zip(sizes[:-1], sizes[1:], strict=True)]",
           "return [n * m for n, m in zip(sizes[:-1], sizes[1:], strict=True)]",
           "dense_param_counts forgets the biases",
           ("tests/test_define_once.py",)),
    Mutant("M27", "aebook/metrics.py",
           "    if binarize:\n        images = (images > 0.5).astype(\"float32\")",
           "    if binarize:\n        images = (images >= 0.0).astype(\"float32\")",
           "the digit judge binarizes every pixel to 1 (threshold typo)",
           ("tests/test_define_once.py",)),
    Mutant("M28", "aebook/metrics.py",
           "    mse = np.float64(per_sample_mse(x, x_hat).mean())",
           "    mse = np.float64(np.median(per_sample_mse(x, x_hat)))",
           "set-level PSNR from the median instead of the mean squared error",
           ("tests/test_define_once.py", "tests/test_known_answers.py")),
    Mutant("M29", "aebook/training.py",
           "        copies[name] = (copy, x)",
           "        copies[name] = (model, x)",
           "step_seconds times (and trains) the caller's model instead of a copy",
           ("tests/test_define_once.py",)),
]


def _copy_repo(dest):
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "aebook", dest / "aebook", ignore=ignore)
    shutil.copytree(ROOT / "tests", dest / "tests", ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")


def _env(dest):
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": str(dest),  # the copy's aebook, ahead of the editable install
        "PYTHONDONTWRITEBYTECODE": "1",  # no stale .pyc of a mutated module
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "KERAS_BACKEND": "torch",
    })
    env.pop("AEBOOK_SEED", None)
    return env


def _pytest(dest, tests, timeout):
    cmd = [sys.executable, "-m", "pytest", *tests, "-o", "addopts=", "-x", "-q",
           "-p", "no:cacheprovider", "-rf", "--no-header", "-W", "ignore::DeprecationWarning"]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=dest, env=_env(dest), capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", "", time.monotonic() - start
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def _first_failure(output):
    match = re.search(r"^FAILED (\S+)", output, flags=re.MULTILINE)
    if match:
        return match.group(1)
    match = re.search(r"^ERROR (\S+)", output, flags=re.MULTILINE)
    return f"ERROR {match.group(1)}" if match else "?"


def check_mutants(mutants):
    """Every `old` text occurs exactly once in its file; returns a list of problems."""
    problems = []
    ids = [m.id for m in mutants]
    if len(set(ids)) != len(ids):
        problems.append("duplicate mutant ids")
    for m in mutants:
        path = ROOT / m.file
        if not path.is_file():
            problems.append(f"{m.id}: no file {m.file}")
            continue
        count = path.read_text().count(m.old)
        if count != 1:
            problems.append(f"{m.id}: the old text occurs {count} times in {m.file} (must be "
                            f"exactly once): {m.old!r}")
        if m.old == m.new:
            problems.append(f"{m.id}: old and new are the same")
        for test in m.tests:
            if not (ROOT / test).is_file():
                problems.append(f"{m.id}: no test file {test}")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds per pytest run (a timeout counts as not killed)")
    args = parser.parse_args(argv)

    mutants = MUTANTS
    if args.only:
        unknown = set(args.only) - {m.id for m in MUTANTS}
        if unknown:
            parser.error(f"unknown mutant ids: {sorted(unknown)}")
        mutants = [m for m in MUTANTS if m.id in args.only]
    if args.list:
        for m in mutants:
            print(f"{m.id}  {m.file:22}  {m.description}")
        return 0

    problems = check_mutants(mutants)
    if problems:
        print("mutants.py: the mutants no longer match the code:", *problems, sep="\n  ")
        return 2
    modules = sorted({m.file for m in mutants})
    print(f"{len(mutants)} mutants in {len(modules)} modules: {', '.join(modules)}")

    with tempfile.TemporaryDirectory(prefix="aebook-mutants-") as tmp:
        dest = Path(tmp)
        _copy_repo(dest)
        probe = subprocess.run([sys.executable, "-c", "import aebook; print(aebook.__file__)"],
                               cwd=dest, env=_env(dest), capture_output=True, text=True,
                               check=False)
        if not probe.stdout.strip().startswith(str(dest)):
            print(f"mutants.py: the copy does not import its own aebook: {probe.stdout}"
                  f"{probe.stderr}")
            return 2
        all_tests = sorted({t for m in mutants for t in m.tests})
        rc, output, seconds = _pytest(dest, all_tests, args.timeout)
        if rc != 0:
            print(f"mutants.py: the UNMUTATED copy fails its tests (rc={rc}, {seconds:.0f} s):\n"
                  f"{output[-4000:]}")
            return 2
        print(f"unmutated copy: {len(all_tests)} test files pass ({seconds:.0f} s)\n")

        rows = []
        for m in mutants:
            path = dest / m.file
            original = path.read_text()
            path.write_text(original.replace(m.old, m.new, 1))
            try:
                rc, output, seconds = _pytest(dest, list(m.tests), args.timeout)
            finally:
                path.write_text(original)
            if rc == 1:
                status, detail = "KILLED", _first_failure(output)
            elif rc == 0:
                status, detail = "SURVIVED", "every selected test passed"
            else:
                status, detail = "ERROR", f"pytest rc={rc}: {_first_failure(output)}"
            rows.append((m, status, detail, seconds))
            print(f"{m.id} {status:8} {seconds:5.0f} s  {m.file}: {m.description}\n"
                  f"              {detail}", flush=True)

    killed = sum(status == "KILLED" for _, status, _, _ in rows)
    print("\n| id | module | injected bug | result | first failing test |")
    print("| --- | --- | --- | --- | --- |")
    for m, status, detail, _ in rows:
        print(f"| {m.id} | `{m.file}` | {m.description} | {status} | `{detail}` |")
    print(f"\nkill rate: {killed}/{len(rows)} ({100 * killed / len(rows):.0f} %)")
    return 0 if killed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())

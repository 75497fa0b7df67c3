"""Tests of benchmarks/reproduce.py (quick mode, on MNIST) and of DynamicBinarization.

The quick run reads MNIST and Fashion-MNIST through `AEBOOK_DATA_DIR`; it is skipped
when the data are not on disk (the rest of the suite never reads them). The script's
CPU-time budget, `aebook.callbacks.CPUTimeLimit`, is tested in
`test_callbacks_cpu_limit.py`.
"""

import csv
import dataclasses
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aebook.data import DynamicBinarization
from aebook.results import COLUMNS, read_benchmarks

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "reproduce.py"


@pytest.fixture(scope="module")
def script():
    """benchmarks/reproduce.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("reproduce", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# (task, words in the metric, lowest, highest) -- wide ranges: quick mode trains 1 epoch.
# The IWAE NLL appears twice: next to Pythae's number and next to Burda et al.'s; the
# tighter bound on a subset (k=5000 in full mode, 5 x 10 in quick mode) once.
EXPECTED = [
    ("hinton_pca", "PCA-30", 13.82, 13.92),  # PCA is fitted on all data even in quick mode
    ("hinton_deep", "784-1000-500-250-30", 1.0, 80.0),
    ("vae_nll", "negative ELBO", 50.0, 600.0),
    ("vae_nll", "IWAE bound, k=10 (nats)", 50.0, 600.0),
    ("vae_nll", "IWAE bound, k=10 (nats)", 50.0, 600.0),
    ("vae_nll", "IWAE bound, k=50 (nats)", 50.0, 600.0),
    ("seed_model", "seed Keras code", 0.0, 0.2),
    ("seed_model", "aebook.build_deep_autoencoder", 0.0, 0.2),
    ("seed_model", "PCA-32", 0.005, 0.03),
    ("seed_model", "time ratio", 0.1, 10.0),
    ("denoising", "PSNR gain (dB), Gaussian", -10.0, 20.0),
    ("denoising", "SSIM gain, Gaussian", -1.0, 1.0),
    ("denoising", "PSNR gain (dB), salt-and-pepper", -10.0, 20.0),
    ("denoising", "SSIM gain, salt-and-pepper", -1.0, 1.0),
    ("probe", "AE codes", 0.1, 1.0),
    ("probe", "PCA-32", 0.5, 1.0),
    ("ood", "AE reconstruction", 0.0, 1.0),
    ("ood", "PCA-32 reconstruction", 0.5, 1.0),
]


# the tasks trained in reproduce.py's own process; fit_overhead and ddp run their own
# scripts (tested in tests/test_overhead.py and tests/test_distributed.py)
IN_PROCESS_TASKS = ("hinton_pca", "hinton_deep", "vae_nll", "seed_model", "denoising", "probe",
                    "ood")


def test_script_tasks_run_the_scripts_of_benchmarks(script):
    scripts = {name: task.recipe.script for name, task in script.TASKS.items()
               if task.function is script.script_task}
    assert scripts == {"fit_overhead": "overhead.py", "ddp": "ddp.py"}
    assert set(script.TASKS) == set(IN_PROCESS_TASKS) | set(scripts)
    for name in scripts.values():
        assert (ROOT / "benchmarks" / name).is_file()


@pytest.mark.needs_data("mnist.npz", "fashion_mnist.npz")
def test_quick_run_writes_every_row(tmp_path, script):
    out = tmp_path / "bench.csv"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--csv", str(out), "--only",
         ",".join(IN_PROCESS_TASKS)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS
    assert read_benchmarks(out) == rows  # the Results page can read it
    for task, words, low, high in sorted(set(EXPECTED)):
        matches = [r for r in rows if r["task"] == task and words in r["metric"]]
        assert len(matches) == EXPECTED.count((task, words, low, high)), (
            task, words, [r["metric"] for r in rows])
        assert len({r["published"] for r in matches}) == len(matches)  # one reference each
        for r in matches:
            ours = float(r["ours"])
            assert math.isfinite(ours) and low <= ours <= high, (task, words, ours)
            assert math.isfinite(float(r["cpu_minutes"])) and float(r["cpu_minutes"]) >= 0
            assert "torch" in r["machine"] and "keras" in r["machine"]
            assert r["notes"].startswith("QUICK MODE")
    assert len(rows) == len(EXPECTED)
    bib = (ROOT / "book" / "references.bib").read_text()
    published = {(p.value, p.citation) for p in script.PUBLISHED.values()}
    for r in rows:
        if r["citation"]:
            assert "{" + r["citation"] + "," in bib, r["citation"]
        if r["published"]:  # every number comes from the table, with its citation
            assert (float(r["published"]), r["citation"]) in published, r


def test_published_numbers_are_cited(script):
    bib = (ROOT / "book" / "references.bib").read_text()
    for name, p in script.PUBLISHED.items():
        assert "{" + p.citation + "," in bib, (name, p.citation)
        assert p.value is None or (isinstance(p.value, float) and math.isfinite(p.value))
        assert p.what.endswith("."), name


def test_quick_mode_does_not_default_to_the_book_csv(script):
    module = script
    args = module.parse_args(["--quick"])
    assert Path(args.csv) != module.DEFAULT_CSV
    assert Path(module.parse_args([]).csv) == module.DEFAULT_CSV
    with pytest.raises(SystemExit):
        module.parse_args(["--only", "no_such_task"])
    with pytest.raises(SystemExit):
        module.parse_args(["--iwae-k", "10"])
    module.parse_args(["--quick", "--iwae-k", "10"])  # quick mode uses its own small k


def test_command_line_options_are_the_recipes(script):
    """Every recipe option's default is the recipe's; a flag changes that field only."""
    defaults = script.parse_args([])
    for task in script.TASKS.values():
        assert script.recipe_from_args(task.recipe, defaults) == task.recipe
    deep = script.TASKS["hinton_deep"].recipe
    vae = script.TASKS["vae_nll"].recipe
    args = script.parse_args(["--deep-lr", "1e-3", "--deep-finetune-epochs", "0",
                              "--vae-latent-dim", "16", "--iwae-images", "200"])
    assert script.recipe_from_args(deep, args) == dataclasses.replace(
        deep, lr=1e-3, finetune_epochs=0)
    assert script.recipe_from_args(vae, args) == dataclasses.replace(
        vae, latent_dim=16, iwae_images=200)
    # a boolean option is a --flag / --no-flag pair
    assert deep.tied is True
    untied = script.recipe_from_args(deep, script.parse_args(["--no-deep-tied"]))
    assert untied == dataclasses.replace(deep, tied=False)
    assert script.recipe_from_args(untied, script.parse_args(["--deep-tied"])).tied is True
    assert "tied weights" in deep.describe(60, 5) and "tied" not in untied.describe(60, 5)
    for bad in (["--deep-epochs", "0"], ["--deep-noise", "1"], ["--vae-lr", "0"],
                ["--iwae-images", "-1"], ["--deep-loss", "mae"],
                ["--time-limit-minutes", "0"], ["--time-limit-minutes", "inf"]):
        with pytest.raises(SystemExit):
            script.parse_args(bad)


def test_cpu_budget_and_shared_model_bookkeeping(script):
    assert script.Run().cpu_budget(15.0) == 15.0
    assert script.Run(time_limit_minutes=2.0).cpu_budget(15.0) == 2.0
    assert script.Run(quick=True).epochs(20) == 1 and script.Run().epochs(20) == 20
    # a shared model trained at CPU time 5 for 2 s is charged to a task started later
    # (at 6), not to the task whose own clock (started at 5 or before) already counts it
    trained = script.TrainedModel(parts=None, started=5.0, cpu_seconds=2.0, epochs=1)
    assert trained.cpu_seconds_before(6.0) == 2.0
    assert trained.cpu_seconds_before(5.0) == 0.0 and trained.cpu_seconds_before(4.0) == 0.0


def test_dynamic_binarization(images):
    x = images.reshape(len(images), -1)
    data = DynamicBinarization(x, batch_size=100, seed=3)
    assert len(data) == 3
    a, target = data[0]
    assert a.shape == (100, 784) and a.dtype == np.float32 and np.array_equal(a, target)
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert np.array_equal(a, data[0][0])  # same epoch: same draw
    assert data[2][0].shape == (56, 784)
    data.on_epoch_end()
    assert not np.array_equal(a, data[0][0])  # a new epoch: new draws
    # the mean of many draws approaches the grey levels
    full = DynamicBinarization(x, batch_size=len(x), shuffle=False, seed=0)
    draws = []
    for _ in range(200):
        draws.append(full[0][0])
        full.on_epoch_end()
    deviation = np.abs(np.mean(draws, axis=0) - x)  # std of one pixel's mean <= 0.035
    assert deviation.mean() < 0.02 and deviation.max() < 0.25
    with pytest.raises(ValueError, match="batch_size"):
        DynamicBinarization(x, batch_size=0)
    with pytest.raises(ValueError, match="seed"):
        DynamicBinarization(x, seed=-1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        DynamicBinarization(x * 2 + 0.5)
    with pytest.raises(IndexError):
        data[3]

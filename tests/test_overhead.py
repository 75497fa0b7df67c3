"""Tests of `aebook.training.fast_compile_kwargs` and of benchmarks/overhead.py.

No test here times anything or runs `torch.compile` (compiling takes tens of CPU
seconds): `torch.compile` is lazy, so wrapping the train step is checked without
compiling it. The script's rows are checked on a made-up measurement; its quick run
reads MNIST through `AEBOOK_DATA_DIR` and is skipped when the data are not on disk.
"""

import csv
import importlib.util
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

import aebook
from aebook.results import COLUMNS, compare, lower_is_better
from aebook.training import fast_compile_kwargs

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "overhead.py"


@pytest.fixture(scope="module")
def script():
    """benchmarks/overhead.py as a module (a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("overhead", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _compiled(**compile_kwargs):
    model = aebook.build_deep_autoencoder(input_dim=6, hidden_dims=(4,), latent_dim=2).autoencoder
    model.compile(optimizer="adam", loss="mse", **compile_kwargs)
    model.make_train_function()
    return model


def test_fast_compile_kwargs_values():
    assert fast_compile_kwargs() == {"jit_compile": True}
    assert fast_compile_kwargs(enabled=False) == {"jit_compile": False}


def test_fast_compile_kwargs_wraps_the_train_step_in_torch_compile():
    fast = _compiled(**fast_compile_kwargs())
    assert fast.jit_compile is True
    # torch.compile's wrapper of Keras's one-step function (compiled on first call)
    assert hasattr(fast.train_function, "_torchdynamo_orig_callable")
    eager = _compiled(**fast_compile_kwargs(enabled=False))
    assert eager.jit_compile is False
    assert not hasattr(eager.train_function, "_torchdynamo_orig_callable")
    assert not hasattr(_compiled().train_function, "_torchdynamo_orig_callable")


@pytest.mark.parametrize("enabled", ["yes", 1, None])
def test_fast_compile_kwargs_rejects_non_bool(enabled):
    with pytest.raises(ValueError, match="enabled must be True or False"):
        fast_compile_kwargs(enabled=enabled)


def _measurement(threads, jit=True):
    wall = {"fit": [1.4, 1.2, 1.3], "loop": [1.0, 1.1, 0.9], "fit_pydataset": [1.2, 1.1, 1.0]}
    if jit:
        wall["fit_jit"] = [0.9, 1.0, 0.95]
    return {"threads": threads, "images": 60000, "cores": 2, "torch": "2.x", "keras": "3.x",
            "wall": wall, "cpu": {k: [t / 2 for t in v] for k, v in wall.items()},
            "warmup": {k: {"wall": 2.0, "cpu": 1.0} for k in wall}}


def test_rows_are_results_table_rows(script):
    table = script.rows([_measurement(1), _measurement(2, jit=False)])
    assert [r["metric"] for r in table] == [
        "time ratio fit / PyTorch loop per epoch, 1 thread",
        "time ratio fit (PyDataset of torch tensors) / PyTorch loop per epoch, 1 thread",
        "time ratio fit (jit_compile=True) / PyTorch loop per epoch, 1 thread",
        "time ratio fit / PyTorch loop per epoch, 2 threads",
        "time ratio fit (PyDataset of torch tensors) / PyTorch loop per epoch, 2 threads",
    ]
    for r in table:
        assert tuple(r) == COLUMNS
        assert r["task"] == "fit_overhead"
        assert lower_is_better(r["metric"])  # the Results page can rank it
        assert compare({k: str(v) for k, v in r.items()})["status"] == "no published number"
    # median / median, not a mean or the median of the per-round ratios
    assert table[0]["ours"] == pytest.approx(1.3 / 1.0, abs=1e-3)
    assert table[2]["ours"] == pytest.approx(0.95 / 1.0, abs=1e-3)
    assert "per-round ratios 1.09-1.44" in table[0]["notes"]  # 1.2/1.1 .. 1.3/0.9
    assert "Compiling" in table[2]["notes"] and "Compiling" not in table[0]["notes"]
    assert table[0]["epochs"] == 3
    assert table[0]["machine"].startswith("2 cores, 1 thread(s)")


def test_ratio_uses_the_medians(script):
    result = {"wall": {"fit": [3.0, 1.0, 2.0], "loop": [1.0, 2.0, 4.0]}}
    ratio, low, high = script._ratios(result, "fit")
    assert ratio == statistics.median([3.0, 1.0, 2.0]) / statistics.median([1.0, 2.0, 4.0])
    assert (low, high) == (0.5, 3.0)


def test_quick_options(script):
    quick = script.parse_args(["--quick"])
    assert (quick.images, quick.repeats, quick.jit, quick.threads) == (4096, 2, False, [1, 2])
    full = script.parse_args([])
    assert (full.images, full.repeats, full.jit, full.profile_steps) == (60000, 5, True, 200)
    with pytest.raises(SystemExit):
        script.parse_args(["--images", "10"])


@pytest.mark.needs_data("mnist.npz")
def test_tiny_run_writes_rows(tmp_path):
    out = tmp_path / "overhead.csv"
    subprocess.run([sys.executable, str(SCRIPT), "--quick", "--threads", "1", "--repeats",
                    "1", "--images", "512", "--profile-steps", "2", "--csv", str(out)],
                   check=True, cwd=ROOT, capture_output=True, timeout=600)
    with open(out, newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert tuple(table[0]) == COLUMNS
    assert [r["metric"].split(" / ")[0] for r in table] == [
        "time ratio fit", "time ratio fit (PyDataset of torch tensors)"]
    assert all(0.0 < float(r["ours"]) < 100.0 for r in table)

"""Tests of benchmarks/reproduce.py (quick mode, on MNIST) and of DynamicBinarization.

The quick run reads MNIST and Fashion-MNIST through `AEBOOK_DATA_DIR`; it is skipped
when the data are not on disk (the rest of the suite never reads them).
"""

import csv
import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras
from aebook.data import DynamicBinarization

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "reproduce.py"


def _data_available():
    folder = os.environ.get("AEBOOK_DATA_DIR")
    return bool(folder) and all(
        (Path(folder) / f).exists() for f in ("mnist.npz", "fashion_mnist.npz"))


def _load_script():
    spec = importlib.util.spec_from_file_location("reproduce", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# (task, words in the metric, lowest, highest) -- wide ranges: quick mode trains 1 epoch.
# The IWAE NLL appears twice: next to Pythae's number and next to Burda et al.'s.
EXPECTED = [
    ("hinton_pca", "PCA-30", 13.82, 13.92),  # PCA is fitted on all data even in quick mode
    ("hinton_deep", "784-1000-500-250-30", 1.0, 80.0),
    ("vae_nll", "negative ELBO", 50.0, 600.0),
    ("vae_nll", "IWAE", 50.0, 600.0),
    ("vae_nll", "IWAE", 50.0, 600.0),
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


@pytest.mark.skipif(not _data_available(), reason="needs AEBOOK_DATA_DIR with MNIST files")
def test_quick_run_writes_every_row(tmp_path):
    out = tmp_path / "bench.csv"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--csv", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == _load_script().FIELDS
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
    for r in rows:
        if r["citation"]:
            assert "{" + r["citation"] + "," in bib, r["citation"]
        if r["published"]:
            assert math.isfinite(float(r["published"]))


def test_quick_mode_does_not_default_to_the_book_csv():
    module = _load_script()
    args = module.parse_args(["--quick"])
    assert Path(args.csv) != module.DEFAULT_CSV
    assert Path(module.parse_args([]).csv) == module.DEFAULT_CSV
    with pytest.raises(SystemExit):
        module.parse_args(["--only", "no_such_task"])
    with pytest.raises(SystemExit):
        module.parse_args(["--iwae-k", "10"])


def test_cpu_time_limit_stops_training(images):
    module = _load_script()
    with pytest.raises(ValueError, match="minutes"):
        module.CPUTimeLimit(0)
    x = images.reshape(len(images), -1)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(784)])
    model.compile(optimizer="adam", loss="mse")
    limit = module.CPUTimeLimit(1e-9)
    history = model.fit(x, x, epochs=5, batch_size=64, callbacks=[limit], verbose=0)
    assert limit.stopped
    assert len(history.history["loss"]) == 1
    assert 0 < limit.epochs_done <= 1.0


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

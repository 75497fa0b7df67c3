"""Keras `fit` against a plain PyTorch loop: the time per epoch of the same training.

The seed model (784-128-64-32, ReLU, sigmoid output, `aebook.build_deep_autoencoder`),
all 60000 MNIST training images, Adam (learning rate 1e-3), batch 256, MSE, trained for
one epoch at a time by

- `fit`: `model.fit(x, x, batch_size=256, epochs=1, verbose=0)` on NumPy arrays, the
  way the chapters call it (the baseline);
- `loop`: a plain PyTorch loop over the *same* Keras model, which under the torch
  backend is a `torch.nn.Module`: `torch.optim.Adam(model.parameters())`, a
  `torch.randperm` shuffle, slicing, `F.mse_loss`, `backward`, `step`;
- the variants of `fit` that Keras allows: a `keras.utils.PyDataset` that yields torch
  tensors (`fit_pydataset`), and `compile(jit_compile=True)`, i.e. the train step
  wrapped in `torch.compile` (`fit_jit`, `aebook.training.fast_compile_kwargs()`).

Each runs one warm-up epoch (for `fit_jit`, the compilation, with an empty
TorchInductor cache, so its reported cost is that of a first compilation),
then the variants alternate (fit, loop, fit_pydataset, fit_jit, fit, loop, ...) for
`--repeats` rounds, and the medians are compared: `ratio = median(variant) /
median(loop)`, in wall-clock seconds. The spread of the per-round ratios (min-max) is
the noise. Each thread count runs in its own subprocess (`torch.set_num_threads` and
`OMP_NUM_THREADS`). With `--profile-steps`, the 1-thread worker also profiles `fit`
and the loop with cProfile and prints where each spends its time.

Usage (from the repository root, with AEBOOK_DATA_DIR set; a few minutes at full size):

    python benchmarks/overhead.py --csv /tmp/overhead.csv
    python benchmarks/overhead.py --quick           # 4096 images, no torch.compile

Rows (task `fit_overhead`) have the columns of `book/_data/benchmarks.csv`; they go to
`--csv` (a temporary file by default; this script never writes the book's table).
`steps_per_execution > 1` is not offered: the torch backend of Keras raises for it.
"""

import argparse
import cProfile
import csv
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # aebook, when run from a checkout without installing

TASK = "fit_overhead"
BATCH_SIZE = 256
LEARNING_RATE = 1e-3
HIDDEN_DIMS = (128, 64)  # the seed model, benchmarks/reproduce.py SEED_CONFIG
LATENT_DIM = 32
VARIANTS = {
    "fit": "model.fit on NumPy arrays (the chapters' call)",
    "fit_pydataset": "model.fit on a keras.utils.PyDataset of torch tensors",
    "fit_jit": "model.fit after compile(jit_compile=True) (torch.compile)",
}

# cProfile entries summed per cost: (file suffix, function name)
PROFILE_PARTS = {
    "forward (Keras Layer.__call__)": [("keras/src/layers/layer.py", "__call__")],
    "backward (autograd)": [("torch/_tensor.py", "backward")],
    "optimizer update": [("keras/src/optimizers/base_optimizer.py", "apply"),
                         ("torch/optim/adam.py", "step")],
    "loss": [("keras/src/trainers/trainer.py", "_compute_loss"),
             ("torch/nn/functional.py", "mse_loss")],
    "loss tracker and metrics": [("keras/src/trainers/trainer.py", "compute_metrics"),
                                 ("keras/src/metrics/reduction_metrics.py",
                                  "update_state")],
    "zero_grad": [("torch/nn/modules/module.py", "zero_grad"),
                  ("torch/optim/optimizer.py", "zero_grad")],
    "data (Keras epoch iterator)": [("keras/src/trainers/epoch_iterator.py", "__next__")],
    "callbacks": [("keras/src/callbacks/callback_list.py", "on_train_batch_begin"),
                  ("keras/src/callbacks/callback_list.py", "on_train_batch_end")],
}


# ---------------------------------------------------------------- worker (one thread count)


def _worker(args):
    import torch

    torch.set_num_threads(args.worker)
    import aebook  # noqa: F401  (before keras: selects the torch backend)
    import keras
    from aebook.data import load_mnist
    from aebook.training import fast_compile_kwargs

    (x, _), _ = load_mnist()
    x = x.reshape(len(x), -1).astype("float32")[:args.images]
    x_torch = torch.from_numpy(x)

    def build(**compile_kwargs):
        keras.utils.set_random_seed(args.seed)
        model = aebook.build_deep_autoencoder(hidden_dims=HIDDEN_DIMS, latent_dim=LATENT_DIM,
                                              latent_activation="relu").autoencoder
        model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="mse",
                      **compile_kwargs)
        return model

    model = build()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

    def loop(images=x_torch):
        model.train()
        order = torch.randperm(len(images))
        for start in range(0, len(images), BATCH_SIZE):
            batch = images[order[start:start + BATCH_SIZE]]
            loss = torch.nn.functional.mse_loss(model(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    class Batches(keras.utils.PyDataset):
        """Shuffled batches of torch tensors, (x, x), reshuffled every epoch."""

        def __init__(self):
            super().__init__()
            self.order = torch.randperm(len(x_torch))

        def __len__(self):
            return -(-len(x_torch) // BATCH_SIZE)

        def __getitem__(self, i):
            batch = x_torch[self.order[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]]
            return batch, batch

        def on_epoch_end(self):
            self.order = torch.randperm(len(x_torch))

    batches = Batches()
    run = {
        "fit": lambda: model.fit(x, x, batch_size=BATCH_SIZE, epochs=1, verbose=0),
        "loop": loop,
        "fit_pydataset": lambda: model.fit(batches, epochs=1, verbose=0),
    }
    if args.jit:
        jit_model = build(**fast_compile_kwargs())
        run["fit_jit"] = lambda: jit_model.fit(x, x, batch_size=BATCH_SIZE, epochs=1,
                                               verbose=0)

    result = {"threads": torch.get_num_threads(), "images": len(x), "warmup": {},
              "wall": {k: [] for k in run}, "cpu": {k: [] for k in run},
              "torch": torch.__version__, "keras": keras.__version__,
              "cores": os.cpu_count()}
    for name, step in run.items():  # warm-up: first-call costs, torch.compile
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        result["warmup"][name] = {"wall": time.perf_counter() - wall,
                                  "cpu": time.process_time() - cpu}
    for _ in range(args.repeats):  # interleaved rounds
        for name, step in run.items():
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            result["wall"][name].append(time.perf_counter() - wall)
            result["cpu"][name].append(time.process_time() - cpu)

    if args.profile_steps:
        images = x[:args.profile_steps * BATCH_SIZE]
        result["profile"] = {
            "steps": -(-len(images) // BATCH_SIZE),
            "fit": _profile(lambda: model.fit(images, images, batch_size=BATCH_SIZE,
                                              epochs=1, verbose=0)),
            "loop": _profile(lambda: loop(torch.from_numpy(images))),
        }
    Path(args.json).write_text(json.dumps(result))


def _profile(step):
    """CPU seconds of `step()` under cProfile: in total and per `PROFILE_PARTS`."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    step()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    parts = {label: sum(ct for (file, _, name), (_, _, _, ct, _) in stats.items()
                        if any(file.endswith(s) and name == n for s, n in entries))
             for label, entries in PROFILE_PARTS.items()}
    parts["total"] = sum(tt for (_, _, tt, _, _) in stats.values())
    return parts


# ---------------------------------------------------------------- rows


def _ratios(result, name, clock="wall"):
    """Median ratio name / loop, and the min and max of the per-round ratios."""
    times, loop = result[clock][name], result[clock]["loop"]
    rounds = [a / b for a, b in zip(times, loop, strict=True)]
    return statistics.median(times) / statistics.median(loop), min(rounds), max(rounds)


METRIC_NAMES = {"fit": "fit", "fit_pydataset": "fit (PyDataset of torch tensors)",
                "fit_jit": "fit (jit_compile=True)"}


def metric(name, threads):
    """The `metric` cell of a row, e.g. `time ratio fit / PyTorch loop per epoch, ...`."""
    return (f"time ratio {METRIC_NAMES[name]} / PyTorch loop per epoch, "
            f"{threads} thread{'' if threads == 1 else 's'}")


def rows(results):
    out = []
    for result in results:
        machine = (f"{result['cores']} cores, {result['threads']} thread(s), "
                   f"torch {result['torch']}, keras {result['keras']}")
        loop_s = statistics.median(result["wall"]["loop"])
        cpu_minutes = (sum(sum(v) for v in result["cpu"].values())
                       + sum(w["cpu"] for w in result["warmup"].values())) / 60
        for name in VARIANTS:
            if name not in result["wall"]:
                continue
            ratio, low, high = _ratios(result, name)
            cpu_ratio = _ratios(result, name, "cpu")[0]
            note = (f"Seed model 784-128-64-32, {result['images']} MNIST images, Adam lr "
                    f"{LEARNING_RATE:g}, batch {BATCH_SIZE}, MSE. {VARIANTS[name]}: median "
                    f"{statistics.median(result['wall'][name]):.3f} s per epoch against "
                    f"{loop_s:.3f} s for a plain PyTorch loop (torch.optim.Adam) over the "
                    f"same Keras model; median of {len(result['wall'][name])} interleaved "
                    f"epochs after a warm-up epoch; per-round ratios {low:.2f}-{high:.2f}; "
                    f"CPU-time ratio {cpu_ratio:.2f}.")
            if name == "fit_jit":
                warm = result["warmup"]["fit_jit"]
                note += (f" Compiling (the warm-up epoch) took {warm['wall']:.0f} s wall, "
                         f"{warm['cpu']:.0f} s CPU in this process (more in compiler "
                         f"subprocesses).")
            out.append({"task": TASK, "metric": metric(name, result["threads"]),
                        "ours": round(ratio, 3), "published": "", "citation": "",
                        "cpu_minutes": round(cpu_minutes, 3),
                        "epochs": len(result["wall"][name]), "machine": machine,
                        "notes": note})
    return out


def report(results):
    for result in results:
        print(f"\n{result['threads']} thread(s), {result['images']} images, "
              f"seconds per epoch (wall; CPU):")
        for name in result["wall"]:
            wall, cpu = result["wall"][name], result["cpu"][name]
            line = (f"  {name:14s} median {statistics.median(wall):7.3f}  "
                    f"{statistics.median(cpu):7.3f}   rounds "
                    + " ".join(f"{t:.3f}" for t in wall))
            if name != "loop":
                ratio, low, high = _ratios(result, name)
                line += f"   ratio {ratio:.2f} ({low:.2f}-{high:.2f})"
            print(line)
        for name, warm in result["warmup"].items():
            print(f"  warm-up {name:14s} {warm['wall']:7.2f} s wall {warm['cpu']:7.2f} s CPU")
        if "profile" in result:
            profile = result["profile"]
            print(f"  cProfile over {profile['steps']} steps, CPU seconds "
                  f"(fit | loop), inclusive:")
            for label in [*PROFILE_PARTS, "total"]:
                print(f"    {label:34s} {profile['fit'][label]:7.3f} | "
                      f"{profile['loop'][label]:7.3f}")


# ---------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="4096 images, 2 rounds, no torch.compile, 20 profiled steps")
    parser.add_argument("--csv", type=Path, default=None,
                        help="where to write the rows (default: a temporary file)")
    parser.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2")
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved rounds (default 5; 2 with --quick)")
    parser.add_argument("--images", type=int, default=None,
                        help="training images (default 60000; 4096 with --quick)")
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None,
                        help="also time compile(jit_compile=True) (default: on; off "
                             "with --quick)")
    parser.add_argument("--profile-steps", type=int, default=None,
                        help="steps profiled at 1 thread, 0 for none (default 200; 20 "
                             "with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.repeats = args.repeats or (2 if quick else 5)
    args.images = args.images or (4096 if quick else 60000)
    args.jit = (not quick) if args.jit is None else args.jit
    if args.profile_steps is None:
        args.profile_steps = 20 if quick else 200
    args.threads = [int(t) for t in str(args.threads).split(",")]
    if args.repeats < 1 or args.images < BATCH_SIZE or min(args.threads) < 1:
        parser.error("--repeats, --threads must be positive and --images >= 256")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker is not None:
        _worker(args)
        return 0
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for threads in args.threads:
            out = Path(folder) / f"{threads}.json"
            command = [sys.executable, __file__, "--worker", str(threads), "--json",
                       str(out), "--repeats", str(args.repeats), "--images",
                       str(args.images), "--seed", str(args.seed),
                       "--jit" if args.jit else "--no-jit", "--profile-steps",
                       str(args.profile_steps if threads == args.threads[0] else 0)]
            env = {**os.environ, "OMP_NUM_THREADS": str(threads),
                   "MKL_NUM_THREADS": str(threads), "KERAS_BACKEND": "torch",
                   # an empty compile cache: the warm-up times a first compilation
                   "TORCHINDUCTOR_CACHE_DIR": str(Path(folder) / f"inductor{threads}")}
            print(f"{threads} thread(s)...", flush=True)
            subprocess.run(command, env=env, check=True)
            results.append(json.loads(out.read_text()))
    report(results)
    table = rows(results)
    path = args.csv or Path(tempfile.mkstemp(prefix="overhead_", suffix=".csv")[1])
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["task", "metric", "ours", "published",
                                               "citation", "cpu_minutes", "epochs",
                                               "machine", "notes"])
        writer.writeheader()
        writer.writerows(table)
    print()
    for r in table:
        print(f"{r['metric']}: {r['ours']}")
    print(f"\nrows written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Data-parallel training (DDP) on this machine: processes x threads, same global batch.

One run times the same workload, the seed article's model (784-128-64-32, ReLU code,
sigmoid output, MSE, Adam lr 1e-3) on MNIST's 60000 training images with a global
batch of 256 and a fixed seed, in each configuration:

- 1 process x 1 thread, 1 process x 2 threads (plain `python -m aebook.distributed`);
- 2 processes x 1 thread (`torchrun --standalone --nproc_per_node=2`, gloo);
- on a CUDA machine, also 1 GPU and N GPUs (one process per GPU, NCCL), if present.

Each configuration is a fresh launch (`aebook.distributed.launch`), one after the
other, never side by side. It writes rows with the columns of `book/_data/benchmarks.csv`
(task `ddp`): per configuration the final training loss and the training wall seconds
per epoch, then the speed-up of 2 processes x 1 thread over 1 process x 2 threads and
over 1 process x 1 thread. Time the real measurement on a quiet machine; the losses
must agree (same global batch and seed) up to float summation order, and the script
exits with status 1 if they do not (relative difference above `--loss-rtol`).

The tolerance: the runs are the same computation in a different order of float
summation (the all-reduce of DDP; the split of each matrix product across threads), and
over many Adam steps such rounding differences grow. Measured here (5 epochs, 1170
steps): 1 process at 1 and at 2 threads, which differ in nothing but summation order,
end 2.7e-3 apart (relative), and 2 processes 4.1e-3 from 1 process; after one epoch
(234 steps) the differences are below 1e-4. So the default, 1e-2, is what summation
order alone can explain at this length with room to spare, while a real error in the
data-parallel step (processes that see the same shard, or that never synchronize
their gradients) changes the loss by far more.

    OMP_NUM_THREADS=1 python benchmarks/ddp.py --csv /tmp/ddp.csv               # the real run
    python benchmarks/ddp.py --epochs 1 --n-train 6000 --csv /tmp/ddp_quick.csv  # a check

It never writes `book/_data/` unless `--csv` names a file there.
"""

import argparse
import csv
import os
import sys
import tempfile

import aebook  # noqa: F401  (before keras: selects the torch backend)
import keras
import torch

from aebook.distributed import launch
from aebook.results import COLUMNS


def machine(threads):
    """Cores, threads, torch and keras versions (and the GPU, if one is used)."""
    text = (f"{os.cpu_count()} cores, {threads} thread(s) per process, "
            f"torch {torch.__version__}, keras {keras.__version__}")
    if torch.cuda.is_available():
        text += f", {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return text


def configurations(include_cpu=True):
    """(label, processes, threads) for every configuration this machine can run."""
    configs = []
    if include_cpu:
        configs += [("1 process x 1 thread", 1, 1), ("1 process x 2 threads", 1, 2),
                    ("2 processes x 1 thread", 2, 1)]
    if torch.cuda.is_available():
        configs.append(("1 GPU", 1, 1))
        n = torch.cuda.device_count()
        if n > 1:
            configs.append((f"{n} GPUs", n, 1))
    return configs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--global-batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss-rtol", type=float, default=1e-2,
                        help="largest relative difference of final losses accepted (default "
                             "1e-2; see the module docstring)")
    parser.add_argument("--csv", default=None, help="output file (default: a new temporary file)")
    parser.add_argument("--no-cpu", action="store_true", help="only the GPU configurations")
    parser.add_argument("--omp-wait-policy", choices=("ACTIVE", "PASSIVE"), default=None,
                        help="OMP_WAIT_POLICY of every run (default: OpenMP's own; the chapter "
                             "uses PASSIVE, which stops idle threads spinning on a shared machine)")
    args = parser.parse_args(argv)
    out = args.csv or tempfile.mkstemp(prefix="ddp_", suffix=".csv")[1]
    common = ["--n-train", args.n_train, "--epochs", args.epochs,
              "--global-batch-size", args.global_batch_size, "--seed", args.seed, "--quiet"]
    extra_env = {"OMP_WAIT_POLICY": args.omp_wait_policy} if args.omp_wait_policy else None
    results = {}
    for label, processes, threads in configurations(include_cpu=not args.no_cpu):
        env_cuda = "GPU" in label
        saved = os.environ.get("CUDA_VISIBLE_DEVICES")
        if not env_cuda and torch.cuda.is_available():
            os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the CPU rows stay on the CPU
        try:
            r = launch(processes, threads, common, env=extra_env)
        finally:
            if saved is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved
        results[label] = r
        print(f"{label}: final loss {r['losses'][-1]:.6f}, {r['seconds']:.2f} s "
              f"({r['seconds'] / args.epochs:.3f} s/epoch), CPU {r['cpu_seconds']:.1f} s, "
              f"device {r['device']}", flush=True)

    workload = (f"784-128-64-32 (ReLU code, sigmoid output), MSE, torch Adam lr 1e-3, "
                f"global batch {args.global_batch_size}, {args.n_train} MNIST training images, "
                f"seed {args.seed}; aebook.distributed (DDP, DistributedSampler); "
                f"OMP_WAIT_POLICY {args.omp_wait_policy or 'unset'}")
    rows = []
    for label, r in results.items():
        common_cells = dict(task="ddp", published="", citation="li2020pytorch",
                            cpu_minutes=round(r["cpu_seconds"] / 60, 3), epochs=args.epochs,
                            machine=machine(r["threads_per_process"]))
        note = (f"{workload}; {r['world_size']} process(es), backend {r['backend'] or 'none'}, "
                f"device {r['device']}, per-process batch {r['per_process_batch_size']}; "
                f"wall {r['seconds']:.2f} s for {args.epochs} epoch(s) (training loop only), "
                f"CPU time of the whole launch {r['cpu_seconds']:.1f} s")
        rows.append(dict(common_cells, metric=f"final training MSE per pixel, {label}",
                         ours=f"{r['losses'][-1]:.6g}", notes=note))
        rows.append(dict(common_cells, metric=f"training seconds per epoch, {label}",
                         ours=f"{r['seconds'] / args.epochs:.4g}", notes=note))
    for base in ("1 process x 2 threads", "1 process x 1 thread"):
        if base in results and "2 processes x 1 thread" in results:
            two = results["2 processes x 1 thread"]
            rows.append(dict(task="ddp", metric=f"speed-up, 2 processes x 1 thread over {base}",
                             ours=f"{results[base]['seconds'] / two['seconds']:.3g}", published="",
                             citation="li2020pytorch", cpu_minutes="", epochs=args.epochs,
                             machine=machine(1), notes=f"{workload}; ratio of training wall times, "
                             "measured one after the other in the same run"))
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")

    finals = [r["losses"][-1] for r in results.values()]
    spread = (max(finals) - min(finals)) / min(finals)
    print(f"final losses agree within {spread:.2e} (relative)")
    if spread > args.loss_rtol:
        print(f"FAILED: the final losses differ by more than --loss-rtol={args.loss_rtol}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Data-parallel training of aebook's models with PyTorch's own engine, and device helpers.

Under Keras's torch backend a `keras.Model` *is* a `torch.nn.Module`, so PyTorch's
`DistributedDataParallel` (DDP) wraps it unchanged, as in Keras's guide "Multi-GPU
distributed training with PyTorch". This module is that recipe for the book's dense
autoencoders, written once:

- `torchrun` starts one process per worker and sets `RANK`, `LOCAL_RANK`, `WORLD_SIZE`,
  `MASTER_ADDR` and `MASTER_PORT`; `init_distributed` joins the process group from that
  environment (gloo on CPU, NCCL on CUDA). Without those variables the same code runs
  as one ordinary process.
- Every process builds the same model from the same seed; DDP broadcasts rank 0's
  weights anyway, and after each backward pass all-reduces (averages) the gradients, so
  every process takes the same optimizer step.
- A `DistributedSampler` with a fixed seed shuffles the same permutation in every
  process and gives each its share. The *global* batch is fixed: each process takes
  `global_batch_size // world_size` examples per step, so 1, 2 or 8 processes follow
  the same trajectory up to the order of float summation.

Run it from a shell (2 processes on this machine, 1 thread each)::

    torchrun --standalone --nproc_per_node=2 -m aebook.distributed \\
        --epochs 3 --global-batch-size 256 --threads-per-process 1 --json out.json

or as one process, `python -m aebook.distributed --epochs 3 ...`. On several machines
give `torchrun` a rendezvous endpoint instead of `--standalone` (see the chapter
"Scaling up").

Two helpers cover one GPU: `device_report()` says which device Keras puts new tensors
on (under torch: CUDA whenever torch sees a GPU, with no change to the reader's code),
and `mixed_precision_policy()` names the policy to pass to
`keras.mixed_precision.set_global_policy` (`"mixed_float16"` on a GPU,
`"mixed_bfloat16"` on a CPU): the one line that turns mixed precision on.
"""

import argparse
import gc
import json
import os
import sys

import numpy as np

from aebook import validation as v
from aebook.training import Timer

LOSSES = ("mse", "binary_crossentropy")
DATA_SOURCES = ("mnist", "synthetic")

__all__ = [
    "DATA_SOURCES",
    "LOSSES",
    "DistContext",
    "device_report",
    "init_distributed",
    "launch",
    "main",
    "mixed_precision_policy",
    "per_process_batch_size",
    "synthetic_images",
    "train_data_parallel",
]


def device_report():
    """Which backend and device Keras uses in this process, and what torch sees.

    Under the torch backend Keras puts every new variable and tensor on `"cuda"` when
    `torch.cuda.is_available()`, else on the CPU; the reader's code does not change.

    Returns:
        dict with `backend` (str, e.g. `"torch"`), `device` (str, where
        `keras.ops.zeros(())` lands, e.g. `"cpu"` or `"cuda:0"`), `cuda_available`
        (bool), `gpu_count` (int), `gpu_names` (list of str), `torch_threads` (int,
        `torch.get_num_threads()`) and `mixed_precision_policy` (str, see
        `mixed_precision_policy`).

    Example:
        >>> from aebook.distributed import device_report
        >>> device_report()["backend"]
        'torch'
    """
    import keras
    import torch

    cuda = torch.cuda.is_available()
    return {
        "backend": keras.backend.backend(),
        "device": str(getattr(keras.ops.zeros(()), "device", "cpu")),
        "cuda_available": cuda,
        "gpu_count": torch.cuda.device_count() if cuda else 0,
        "gpu_names": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if cuda else [],
        "torch_threads": torch.get_num_threads(),
        "mixed_precision_policy": mixed_precision_policy(cuda),
    }


def mixed_precision_policy(cuda=None):
    """The Keras mixed-precision policy for the device: one line turns it on.

    Pass the result to `keras.mixed_precision.set_global_policy(...)` *before* building
    the model: layers built afterwards compute in 16 bits and keep float32 weights.
    `"mixed_float16"` suits GPUs with float16 tensor cores (Keras then wraps the
    optimizer of `compile` in a `LossScaleOptimizer`, so small gradients do not
    underflow); `"mixed_bfloat16"` suits CPUs and recent GPUs (bfloat16 has float32's
    range, so no loss scaling is needed). Set `"float32"` to switch it off again.

    Args:
        cuda: True for a CUDA device, False for a CPU, None (default) to ask
            `torch.cuda.is_available()`.

    Returns:
        str, `"mixed_float16"` or `"mixed_bfloat16"`.

    Raises:
        ValueError: if `cuda` is not None, True or False.

    Example:
        >>> from aebook.distributed import mixed_precision_policy
        >>> mixed_precision_policy(cuda=False)
        'mixed_bfloat16'
    """
    cuda = v.flag("cuda", cuda, allow_none=True)
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    return "mixed_float16" if cuda else "mixed_bfloat16"


def per_process_batch_size(global_batch_size, world_size):
    """Each process's batch for a fixed global batch: `global_batch_size // world_size`.

    Args:
        global_batch_size: examples per optimizer step, summed over all processes.
        world_size: number of processes.

    Returns:
        int, the per-process batch size.

    Raises:
        ValueError: if either is not a positive int, or `world_size` does not divide
            `global_batch_size` (unequal shares would weight the processes' gradients
            unequally in DDP's average).

    Example:
        >>> from aebook.distributed import per_process_batch_size
        >>> per_process_batch_size(256, 2)
        128
    """
    global_batch_size = v.positive_int("global_batch_size", global_batch_size)
    world_size = v.positive_int("world_size", world_size)
    if global_batch_size % world_size:
        v.fail("global_batch_size", f"a multiple of world_size={world_size}, so that every "
               "process gets an equal share", global_batch_size)
    return global_batch_size // world_size


class DistContext:
    """Where this process stands: rank, world size, device, and whether it joined a group.

    Attributes:
        rank: this process's rank, 0 to `world_size - 1`.
        world_size: number of processes.
        local_rank: rank on this machine (selects the GPU on a multi-GPU machine).
        device: the `torch.device` the model lives on.
        backend: `"gloo"`, `"nccl"`, or None for a single process without a group.
        owns_group: True if `init_distributed` created the process group (and
            `close()` destroys it).
    """

    def __init__(self, rank, world_size, local_rank, device, backend, owns_group):
        self.rank = rank
        self.world_size = world_size
        self.local_rank = local_rank
        self.device = device
        self.backend = backend
        self.owns_group = owns_group

    @property
    def distributed(self):
        """True if a process group is active (DDP is used)."""
        return self.backend is not None

    def close(self):
        """Destroys the process group if this context created it."""
        if self.owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.owns_group = False

    def __repr__(self):
        return (f"DistContext(rank={self.rank}, world_size={self.world_size}, "
                f"local_rank={self.local_rank}, device={str(self.device)!r}, "
                f"backend={self.backend!r})")


def init_distributed(environ=None):
    """Joins the process group that `torchrun` describes, or returns a 1-process context.

    Reads `WORLD_SIZE`, `RANK` and `LOCAL_RANK` (set by `torchrun`). With them, it
    selects the GPU `LOCAL_RANK` if CUDA is available (before any model is built, so
    Keras puts the weights there) and calls `torch.distributed.init_process_group`
    with NCCL on CUDA or gloo on CPU; the rendezvous itself (`MASTER_ADDR`,
    `MASTER_PORT`) comes from the environment too. Without `WORLD_SIZE`, nothing is
    initialized: one process, rank 0.

    Args:
        environ: the environment to read (default `os.environ`).

    Returns:
        `DistContext`.

    Raises:
        ValueError: if `WORLD_SIZE`, `RANK` or `LOCAL_RANK` is not a valid int, or a
            CUDA run asks for more local processes than there are GPUs.
    """
    import torch

    environ = os.environ if environ is None else environ
    cuda = torch.cuda.is_available()
    if "WORLD_SIZE" not in environ:
        return DistContext(0, 1, 0, torch.device("cuda" if cuda else "cpu"), None, False)

    def env_int(name, default):
        raw = environ.get(name, str(default))
        try:
            return int(raw)
        except ValueError:
            v.fail(name, "an int (as torchrun sets it)", raw)

    world_size = v.positive_int("WORLD_SIZE", env_int("WORLD_SIZE", 1))
    rank = v.non_negative_int("RANK", env_int("RANK", 0))
    local_rank = v.non_negative_int("LOCAL_RANK", env_int("LOCAL_RANK", rank))
    if rank >= world_size:
        v.fail("RANK", f"smaller than WORLD_SIZE={world_size}", rank)
    import torch.distributed as dist

    if cuda:
        if local_rank >= torch.cuda.device_count():
            v.fail("LOCAL_RANK", f"smaller than the number of GPUs ({torch.cuda.device_count()}); "
                   "start at most one process per GPU", local_rank)
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend=backend)
    return DistContext(rank, world_size, local_rank, device, backend, owns)


def synthetic_images(n, input_dim=784, seed=0):
    """`n` random images in [0, 1] with low-dimensional structure, for tests and demos.

    Each image is a sigmoid of a random mix of 8 fixed patterns, so an autoencoder has
    something to learn.

    Args:
        n: number of images.
        input_dim: pixels per image.
        seed: seed of the generator.

    Returns:
        float32 array of shape (n, input_dim), values in (0, 1).

    Raises:
        ValueError: for a non-positive `n` or `input_dim`, or an invalid seed.
    """
    n = v.positive_int("n", n)
    input_dim = v.positive_int("input_dim", input_dim)
    rng = np.random.default_rng(v.seed("seed", seed, allow_none=False))
    patterns = rng.normal(size=(8, input_dim))
    codes = rng.normal(size=(n, 8))
    return (1.0 / (1.0 + np.exp(-codes @ patterns / 2.0))).astype("float32")


def _default_model(input_dim, hidden_dims, latent_dim):
    """The seed article's model from an aebook builder: 784-128-64-32, ReLU code, sigmoid out."""
    from aebook.models import build_deep_autoencoder

    return build_deep_autoencoder(input_dim=input_dim, hidden_dims=hidden_dims,
                                  latent_dim=latent_dim, latent_activation="relu").autoencoder


def train_data_parallel(x, *, epochs=1, global_batch_size=256, learning_rate=1e-3, seed=0,
                        hidden_dims=(128, 64), latent_dim=32, loss="mse",
                        threads_per_process=None, build=None, context=None, verbose=True):
    """Trains an autoencoder on `x` with DDP across the processes `torchrun` started.

    The loop of Keras's guide for the torch backend: the Keras model is the
    `torch.nn.Module` that DDP wraps, the optimizer is `torch.optim.Adam`, and a
    `DistributedSampler(seed=seed)` deals out each epoch's permutation. Each optimizer
    step sees one global batch of `global_batch_size` examples, split evenly over the
    processes; the last, incomplete global batch of an epoch is dropped (so every step
    of every run has the same size, whatever the number of processes). Every process
    must call it with the same arguments and data.

    Args:
        x: training inputs, array of shape (N, input_dim), values in [0, 1]; the
            target is `x` itself.
        epochs: passes over `x`.
        global_batch_size: examples per step over all processes; a multiple of the
            number of processes, at most N.
        learning_rate: Adam's learning rate.
        seed: seeds the model's initial weights (`keras.utils.set_random_seed`) and the
            sampler's shuffling.
        hidden_dims: hidden widths of the default model (`build_deep_autoencoder`).
        latent_dim: code size of the default model.
        loss: `"mse"` or `"binary_crossentropy"` (mean over pixels and examples).
        threads_per_process: `torch.set_num_threads` for this process (None: leave it).
        build: optional callable `build(input_dim) -> keras.Model` with outputs of
            `x`'s shape, instead of the default model; called after seeding.
        context: a `DistContext` (default: `init_distributed()`, torchrun's
            environment; the group is destroyed on return if this call created it).
        verbose: print one line per epoch on rank 0.

    Returns:
        dict with `losses` (list of per-epoch mean training losses, averaged over all
        processes by an all-reduce), `seconds` (wall time of the training loop, the
        slowest process's), `world_size`, `rank`, `backend`, `device`,
        `threads_per_process`, `global_batch_size`, `per_process_batch_size`,
        `steps_per_epoch`, `epochs`, `seed` and `model` (the trained, unwrapped
        `keras.Model`; identical in every process).

    Raises:
        ValueError: for a bad argument (house message), e.g. a global batch that the
            number of processes does not divide, or one larger than N.
    """
    import keras
    import torch

    epochs = v.positive_int("epochs", epochs)
    learning_rate = v.positive_float("learning_rate", learning_rate)
    seed = v.seed("seed", seed, allow_none=False)
    hidden_dims = v.positive_int_tuple("hidden_dims", hidden_dims, allow_empty=True)
    latent_dim = v.positive_int("latent_dim", latent_dim)
    loss = v.choice("loss", loss, LOSSES)
    verbose = v.flag("verbose", verbose)
    if threads_per_process is not None:
        threads_per_process = v.positive_int("threads_per_process", threads_per_process)
    if build is not None and not callable(build):
        v.fail("build", "None or a callable build(input_dim) -> keras.Model", build)
    x = np.asarray(x)
    if x.ndim != 2 or len(x) == 0:
        v.fail("x", "a non-empty array of shape (N, input_dim)", getattr(x, "shape", x))
    global_batch_size = v.positive_int("global_batch_size", global_batch_size)
    if global_batch_size > len(x):
        v.fail("global_batch_size", f"at most the number of examples ({len(x)})", global_batch_size)

    own_context = context is None
    context = init_distributed() if own_context else context
    try:
        local_batch = per_process_batch_size(global_batch_size, context.world_size)
        if threads_per_process is not None:
            torch.set_num_threads(threads_per_process)
        keras.utils.set_random_seed(seed)
        model = build(x.shape[1]) if build is not None else _default_model(
            x.shape[1], hidden_dims, latent_dim)
        model.to(context.device)
        losses, seconds, steps = _train_loop(model, x, context, epochs, global_batch_size,
                                             local_batch, learning_rate, seed, loss, verbose)
        # The DDP wrapper (and its gradient reducer) was freed inside `_train_loop`, while
        # the process group is alive. Freed after `destroy_process_group`, the reducer
        # destroys the gloo group itself, holding the GIL while it joins gloo's worker
        # thread, which may be waiting for the GIL: a deadlock seen here once in a few runs.
        gc.collect()
        if context.distributed:
            torch.distributed.barrier()
        return {
            "losses": losses,
            "seconds": seconds,
            "world_size": context.world_size,
            "rank": context.rank,
            "backend": context.backend,
            "device": str(context.device),
            "threads_per_process": torch.get_num_threads(),
            "global_batch_size": global_batch_size,
            "per_process_batch_size": local_batch,
            "steps_per_epoch": steps,
            "epochs": epochs,
            "seed": seed,
            "model": model,
        }
    finally:
        if own_context:
            context.close()


def _train_loop(model, x, context, epochs, global_batch_size, local_batch, learning_rate, seed,
                loss, verbose):
    """The training loop of `train_data_parallel`; returns (losses, seconds, steps)."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data.distributed import DistributedSampler

    if context.distributed:
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [context.local_rank] if context.device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=device_ids)  # broadcasts rank 0's weights
    else:
        net = model
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    loss_fn = F.mse_loss if loss == "mse" else F.binary_cross_entropy
    data = torch.as_tensor(x, dtype=torch.float32, device=context.device)
    sampler = DistributedSampler(range(len(x)), num_replicas=context.world_size,
                                 rank=context.rank, shuffle=True, seed=seed)
    steps = len(x) // global_batch_size  # the last, incomplete global batch is dropped
    totals = torch.zeros(epochs, dtype=torch.float64, device=context.device)
    losses, reduced = [], []
    if context.distributed:
        torch.distributed.barrier()
    with Timer() as timer:
        for epoch in range(epochs):
            sampler.set_epoch(epoch)  # the same permutation in every process
            indices = torch.as_tensor(list(sampler), device=context.device)
            for step in range(steps):
                batch = data[indices[step * local_batch:(step + 1) * local_batch]]
                optimizer.zero_grad(set_to_none=True)
                step_loss = loss_fn(net(batch), batch)
                step_loss.backward()  # DDP all-reduces (averages) the gradients here
                optimizer.step()
                totals[epoch] += step_loss.detach()
            epoch_total = totals[epoch:epoch + 1].clone()
            if context.distributed:
                torch.distributed.all_reduce(epoch_total)  # sum over the processes
            reduced.append(epoch_total)  # kept alive until the group is idle (see above)
            losses.append(float(epoch_total) / (steps * context.world_size))
            if verbose and context.rank == 0:
                print(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.6f}", flush=True)
    seconds = torch.tensor([timer.seconds], dtype=torch.float64, device=context.device)
    if context.distributed:
        torch.distributed.all_reduce(seconds, op=torch.distributed.ReduceOp.MAX)  # the slowest
        torch.distributed.barrier()
    seconds = float(seconds)
    del net, optimizer, reduced
    return losses, seconds, steps


def launch(processes=1, threads_per_process=1, args=(), timeout=None, env=None):
    """Runs `python -m aebook.distributed` in a subprocess; 2 or more processes via torchrun.

    One process is a plain `python -m aebook.distributed ...`; several are
    `python -m torch.distributed.run --standalone --nproc_per_node=P -m aebook.distributed
    ...` (`torchrun`'s module form, gloo on CPU). The children get
    `OMP_NUM_THREADS=threads_per_process` and `--threads-per-process`, and no inherited
    `WORLD_SIZE`/`RANK`. This is how a notebook or a benchmark starts a run.

    Args:
        processes: number of processes (torchrun's `--nproc_per_node`).
        threads_per_process: intra-op threads of each process.
        args: further command-line arguments of `main` (e.g.
            `["--epochs", "3", "--n-train", "20000"]`); not `--json` or
            `--threads-per-process`.
        timeout: seconds before the run is killed (None: no limit).
        env: more environment variables for the children (a dict of str), e.g.
            `{"OMP_WAIT_POLICY": "PASSIVE"}` so that idle OpenMP threads sleep instead
            of spinning, which matters on a machine shared with other jobs.

    Returns:
        the JSON result of rank 0 (see `train_data_parallel`, without `model`), plus
        `processes` and `cpu_seconds` (user + system CPU time of the launch, every
        process it started included, from `resource.getrusage(RUSAGE_CHILDREN)`).

    Raises:
        ValueError: for a bad argument.
        RuntimeError: if the run fails; the message ends with its output.
    """
    import resource
    import subprocess
    import tempfile

    processes = v.positive_int("processes", processes)
    threads_per_process = v.positive_int("threads_per_process", threads_per_process)
    args = [str(a) for a in args]
    if any(a.startswith(("--json", "--threads-per-process")) for a in args):
        v.fail("args", "free of --json and --threads-per-process (launch sets them)", args)
    if timeout is not None:
        timeout = v.positive_float("timeout", timeout)
    if env is not None and not (isinstance(env, dict) and all(
            isinstance(k, str) and isinstance(val, str) for k, val in env.items())):
        v.fail("env", "None or a dict of str to str", env)
    env = {**os.environ, **(env or {}), "OMP_NUM_THREADS": str(threads_per_process)}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    env.setdefault("KERAS_BACKEND", "torch")
    launcher = ([] if processes == 1 else
                ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"])
    with tempfile.TemporaryDirectory(prefix="aebook_ddp_") as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [sys.executable, *launcher, "-m", "aebook.distributed", *args,
               "--threads-per-process", str(threads_per_process), "--json", out]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"{' '.join(cmd)} failed with status {proc.returncode}:\n"
                               f"{(proc.stdout + proc.stderr)[-3000:]}")
        with open(out) as f:
            result = json.load(f)
    result["processes"] = processes
    result["cpu_seconds"] = ((after.ru_utime - before.ru_utime)
                             + (after.ru_stime - before.ru_stime))
    return result


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m aebook.distributed",
        description="Data-parallel training of a dense autoencoder (DDP); run under torchrun "
                    "for several processes, or plainly for one.")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--global-batch-size", type=int, default=256,
                        help="examples per step over all processes (default 256)")
    parser.add_argument("--threads-per-process", type=int, default=None,
                        help="torch.set_num_threads in each process (default: torch's)")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="mnist", help="mnist (aebook.load_mnist) or synthetic")
    parser.add_argument("--n-train", type=int, default=None,
                        help="use the first N training images (default: all)")
    parser.add_argument("--hidden-dims", default="128,64", help="comma-separated (default 128,64)")
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--loss", default="mse", help="mse or binary_crossentropy")
    parser.add_argument("--json", default=None, help="rank 0 writes the result here")
    parser.add_argument("--weights", default=None,
                        help="rank 0 saves the final weights here (.npz, arrays w0, w1, ...)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    return parser


def _hidden_dims(text):
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        v.fail("hidden_dims", "comma-separated positive ints, e.g. 128,64", text)


def main(argv=None):
    """Command line: `[torchrun ... -m] python -m aebook.distributed --epochs ...`.

    Trains with `train_data_parallel` on MNIST (`aebook.load_mnist`, which reads
    `$AEBOOK_DATA_DIR`) or on `synthetic_images`, prints a line per epoch and a summary
    on rank 0, and writes the result (without the model) as JSON with `--json`.

    Args:
        argv: the arguments (default `sys.argv[1:]`).

    Returns:
        the result dict of `train_data_parallel` (without `model`).

    Raises:
        ValueError: for a bad argument (house message).
    """
    args = _parser().parse_args(argv)
    data = v.choice("data", args.data, DATA_SOURCES)
    n_train = None if args.n_train is None else v.positive_int("n_train", args.n_train)
    hidden_dims = _hidden_dims(args.hidden_dims)
    if data == "mnist":
        from aebook.data import load_mnist

        (x, _), _ = load_mnist()
    else:
        x = synthetic_images(n_train or 1024, seed=v.seed("seed", args.seed, allow_none=False))
    x = x[:n_train] if n_train else x
    result = train_data_parallel(
        x, epochs=args.epochs, global_batch_size=args.global_batch_size,
        learning_rate=args.learning_rate, seed=args.seed, hidden_dims=hidden_dims,
        latent_dim=args.latent_dim, loss=args.loss,
        threads_per_process=args.threads_per_process, verbose=not args.quiet)
    model = result.pop("model")
    result.update(data=data, n_train=len(x))
    if result["rank"] == 0:
        print(f"{result['world_size']} process(es) x {result['threads_per_process']} thread(s), "
              f"global batch {result['global_batch_size']}: final loss {result['losses'][-1]:.6f}, "
              f"{result['seconds']:.2f} s", flush=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
        if args.weights:
            np.savez(args.weights, **{f"w{i}": w for i, w in enumerate(model.get_weights())})
    return result


if __name__ == "__main__":
    main(sys.argv[1:])

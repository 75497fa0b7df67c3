"""Train reference configurations on full MNIST and compare them with published numbers.

Each benchmark (a "task") is a recipe, a frozen dataclass holding everything that
defines the run (sizes, epochs, batch size, learning rate, CPU budget), and a function
that trains with it, measures its metrics on the full test set (or a stated subset),
and returns rows for the results table `book/_data/benchmarks.csv`, shown by the
book's "Results" appendix (`book/results.md`). The published numbers the rows are
compared with, and their citations, are in one table, `PUBLISHED`. Columns:
task, metric, ours, published, citation (a key of `book/references.bib`),
cpu_minutes (CPU time of this process for the task), epochs (actually trained),
machine (cores, threads, torch and keras versions) and notes.

Usage (from the repository root, with AEBOOK_DATA_DIR set):

    python benchmarks/reproduce.py                       # every task, full budgets
    python benchmarks/reproduce.py --only hinton_pca,vae_nll   # some tasks (other rows kept)
    python benchmarks/reproduce.py --quick --csv /tmp/b.csv    # same code paths, tiny budgets

`--quick` trains on subsets for one epoch with few importance samples (about a minute
single-threaded) and never writes the book's CSV unless `--csv` names it. The exit
status is 1 if a task raised or produced a non-finite number, else 0.
"""

import argparse
import csv
import dataclasses
import functools
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import aebook  # noqa: F401  (before keras: selects the torch backend)
import keras
from aebook import baselines, layers, losses, metrics, models
from aebook.callbacks import CPUTimeLimit, KLAnnealing
from aebook.data import DynamicBinarization, corrupt, load_fashion_mnist, load_mnist
from aebook.results import COLUMNS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = ROOT / "book" / "_data" / "benchmarks.csv"
FIELDS = list(COLUMNS)  # the columns that `aebook.results.read_benchmarks` expects
PCA_COMPONENTS = 32  # one PCA fit serves every PCA-k with k <= 32
MIN_IWAE_K = 500  # fewer importance samples do not estimate the NLL (except --quick)


# ---------------------------------------------------------------- published numbers


@dataclass(frozen=True)
class Published:
    """A work a row is compared with: its number (None: cited for the method or the
    data only, no number for this setting), its key in `book/references.bib`, and
    what the number is."""

    value: float | None
    citation: str
    what: str


PUBLISHED = {
    "hinton_pca": Published(13.87, "hinton2006reducing",
                            "PCA-30 on MNIST, test squared error per image."),
    "hinton_deep": Published(3.00, "hinton2006reducing",
                             "RBM-pretrained deep autoencoder 784-1000-500-250-30 on MNIST, "
                             "test squared error per image."),
    "vae_nll_pythae": Published(89.8, "chadebec2022pythae",
                                "Pythae's VAE on binarized MNIST, NLL with 200 importance "
                                "samples (89.78, reproducing Rezende and Mohamed's 89.9). "
                                "Target <= 90."),
    "vae_nll_burda": Published(86.76, "burda2016importance",
                               "Burda et al.'s VAE (1 stochastic layer, k=1 training, 3280 "
                               "passes over the data) on dynamically binarized MNIST, NLL with "
                               "k=5000."),
    "pca": Published(None, "pearson1901lines", "PCA, the baseline."),
    "denoising": Published(None, "vincent2008extracting", "Denoising autoencoders, the method."),
    "ssim": Published(None, "wang2004image", "SSIM, the metric."),
    "fashion_mnist": Published(None, "xiao2017fashion", "Fashion-MNIST, the outlier data."),
}
"""Every published number and citation of the table, by name."""


# ---------------------------------------------------------------- recipes


def _option(default, flag, help="", check=None, choices=None):
    """A recipe field that is also the command-line option `flag`."""
    return field(default=default,
                 metadata={"flag": flag, "help": help, "check": check, "choices": choices})


# (test, message) pairs for `_option(check=...)`
POSITIVE_INT = (lambda x: x > 0, "must be a positive int")
NON_NEGATIVE_INT = (lambda x: x >= 0, "must be >= 0")
POSITIVE = (lambda x: x > 0, "must be positive")
NON_NEGATIVE = (lambda x: x >= 0, "must be >= 0")
BELOW_ONE = (lambda x: 0 <= x < 1, "must be in [0, 1)")


@dataclass(frozen=True)
class HintonPCARecipe:
    components: int = 30  # PCA-30, unclipped projection of the full test set


@dataclass(frozen=True)
class HintonDeepRecipe:
    """Deep autoencoder 784-1000-500-250-30 (`build_deep_autoencoder()`'s defaults, tied)."""

    epochs: int = _option(60, "--deep-epochs", check=POSITIVE_INT)
    batch_size: int = _option(128, "--deep-batch-size", check=POSITIVE_INT)
    lr: float = _option(2e-3, "--deep-lr", "peak lr, cosine decay to 0", POSITIVE)
    loss: str = _option("bce", "--deep-loss", choices=("bce", "sse"))
    weight_decay: float = _option(0.1, "--deep-weight-decay", "> 0: AdamW", NON_NEGATIVE)
    tied: bool = _option(True, "--deep-tied",
                         "tie each decoder kernel to its encoder mirror, as the paper's network "
                         "starts (half the weights; --no-deep-tied: untied)")
    noise: float = _option(0.0, "--deep-noise",
                           "fraction of training-input pixels masked to 0 (0: none)", BELOW_ONE)
    finetune_epochs: int = _option(
        5, "--deep-finetune-epochs",
        "epochs of summed-squared-error fine-tuning after the first phase", NON_NEGATIVE_INT)
    finetune_batch_size: int = _option(1024, "--deep-finetune-batch-size", check=POSITIVE_INT)
    finetune_lr: float = _option(3e-4, "--deep-finetune-lr", check=POSITIVE)
    cpu_minutes: float = 30.0  # both phases together
    quick_train: int = 2048
    quick_test: int = 1000
    train_error_images: int = 10000

    def describe(self, epochs, finetune_epochs):
        """The recipe in words, with the epochs actually scheduled."""
        wd = f"W (weight decay {self.weight_decay:g})" if self.weight_decay else ""
        noise = (f", masking noise {self.noise:g} on the training inputs" if self.noise
                 else "")
        tied = "tied weights, " if self.tied else ""
        text = (f"{tied}Adam{wd}{noise}, {epochs} epochs {self.loss.upper()} batch "
                f"{self.batch_size} lr {self.lr:g} (1-epoch warm-up, cosine to 0)")
        if finetune_epochs:
            text += (f" + {finetune_epochs} epochs SSE fine-tuning batch "
                     f"{self.finetune_batch_size} lr {self.finetune_lr:g} cosine to 0")
        return text


@dataclass(frozen=True)
class VAERecipe:
    """VAE with a Bernoulli decoder on dynamically binarized MNIST."""

    epochs: int = _option(300, "--vae-epochs", check=POSITIVE_INT)
    batch_size: int = _option(128, "--vae-batch-size", check=POSITIVE_INT)
    lr: float = _option(1e-3, "--vae-lr", check=POSITIVE)
    latent_dim: int = _option(32, "--vae-latent-dim", check=POSITIVE_INT)
    iwae_k: int = _option(MIN_IWAE_K, "--iwae-k", f"importance samples per image (>= "
                          f"{MIN_IWAE_K})")
    iwae_images: int = _option(0, "--iwae-images", "test images; 0: all 10000",
                               NON_NEGATIVE_INT)
    kl_warmup_epochs: int = _option(
        20, "--vae-kl-warmup-epochs",
        "epochs over which the KL weight rises linearly from 0 to 1 (0: none)", NON_NEGATIVE_INT)
    tight_k: int = _option(5000, "--vae-tight-k",
                           "> 0: also an IWAE row with this k on --vae-tight-images images",
                           NON_NEGATIVE_INT)
    tight_images: int = _option(1000, "--vae-tight-images", check=POSITIVE_INT)
    hidden_dims: tuple = (512, 256)
    cpu_minutes: float = 52.0  # training only; the evaluation (about 4 min) comes on top
    quick_train: int = 2048
    quick_elbo_images: int = 500
    quick_iwae_images: int = 100
    quick_k: int = 10


@dataclass(frozen=True)
class SeedConfigRecipe:
    """The seed article's model (784-128-64-32 ReLU, MSE, Adam, batch 256), shared by
    `seed_model`, `probe` and `ood`."""

    hidden_dims: tuple = (128, 64)
    latent_dim: int = 32
    latent_activation: str = "relu"
    optimizer: str = "adam"
    loss: str = "mse"
    epochs: int = 20
    batch_size: int = 256
    quick_train: int = 4096
    quick_test: int = 1000  # also the validation data of its training


SEED_CONFIG = SeedConfigRecipe()


@dataclass(frozen=True)
class DenoisingRecipe:
    noises: tuple = (("gaussian", 0.5, "Gaussian sigma=0.5"),
                     ("salt_and_pepper", 0.2, "salt-and-pepper 0.2"))  # (noise, level, label)
    hidden_dims: tuple = (256,)
    latent_dim: int = 64
    optimizer: str = "adam"
    loss: str = "binary_crossentropy"
    epochs: int = 20
    batch_size: int = 128
    cpu_minutes: float = 5.0  # per model
    quick_train: int = 2048
    quick_test: int = 300


@dataclass(frozen=True)
class ProbeRecipe:
    autoencoder: SeedConfigRecipe = SEED_CONFIG
    max_iter: int = 1000
    quick_max_iter: int = 200
    quick_train: int = 2048
    quick_test: int = 1000


@dataclass(frozen=True)
class OODRecipe:
    autoencoder: SeedConfigRecipe = SEED_CONFIG
    quick_test: int = 1000  # as many Fashion-MNIST as MNIST test images


def _options(recipe):
    """The fields of `recipe` that are command-line options."""
    return [f for f in dataclasses.fields(recipe) if "flag" in f.metadata]


def _dest(f):
    return f.metadata["flag"].lstrip("-").replace("-", "_")


def recipe_from_args(recipe, args):
    """`recipe` with the values of its command-line options in `args`."""
    return dataclasses.replace(recipe, **{f.name: getattr(args, _dest(f))
                                          for f in _options(recipe)})


# ---------------------------------------------------------------- run, data, CPU time


@dataclass(frozen=True)
class Run:
    """The options shared by every task: quick mode, seed, CPU-budget override."""

    quick: bool = False
    seed: int = 0
    time_limit_minutes: float | None = None

    def epochs(self, full):
        return 1 if self.quick else full

    def cpu_budget(self, recipe_minutes):
        """CPU minutes of one training: `--time-limit-minutes`, or the recipe's."""
        return self.time_limit_minutes or recipe_minutes


@functools.cache
def mnist():
    return load_mnist()


@functools.cache
def fashion_mnist():
    return load_fashion_mnist()


@functools.cache
def pca():
    """PCA fitted on all 60000 training images (also in quick mode: it takes seconds);
    its first k axes are PCA-k for every k <= `PCA_COMPONENTS`."""
    return baselines.fit_pca(mnist()[0][0], PCA_COMPONENTS)


def mnist_train(run, n_quick):
    """MNIST training images and labels; the first `n_quick` in quick mode."""
    x, y = mnist()[0]
    return (x[:n_quick], y[:n_quick]) if run.quick else (x, y)


def mnist_test(run, n_quick):
    """MNIST test images and labels; the first `n_quick` in quick mode."""
    x, y = mnist()[1]
    return (x[:n_quick], y[:n_quick]) if run.quick else (x, y)


def cpu_minutes_since(start, extra_seconds=0.0):
    return (time.process_time() - start + extra_seconds) / 60.0


@dataclass(frozen=True)
class TrainedModel:
    parts: aebook.AutoencoderParts
    started: float  # `time.process_time()` when its training began
    cpu_seconds: float
    epochs: int

    def cpu_seconds_before(self, start):
        """Its training CPU seconds if it was trained before `start` (by an earlier
        task), else 0 (then the caller's own clock, started at `start`, counts them)."""
        return self.cpu_seconds if self.started < start else 0.0


@functools.cache
def seed_config_autoencoder(run, recipe=SEED_CONFIG):
    """aebook's copy of the seed model, trained once per run, shared by several tasks."""
    x, _ = mnist_train(run, recipe.quick_train)
    x_test, _ = mnist_test(run, recipe.quick_test)
    keras.utils.set_random_seed(run.seed)
    parts = aebook.build_deep_autoencoder(hidden_dims=recipe.hidden_dims,
                                          latent_dim=recipe.latent_dim,
                                          latent_activation=recipe.latent_activation)
    parts.autoencoder.compile(optimizer=recipe.optimizer, loss=recipe.loss)
    start = time.process_time()
    history = parts.autoencoder.fit(x, x, epochs=run.epochs(recipe.epochs),
                                    batch_size=recipe.batch_size, shuffle=True,
                                    validation_data=(x_test, x_test), verbose=0)
    return TrainedModel(parts, start, time.process_time() - start,
                        len(history.history["loss"]))


def cosine(lr, steps, warmup_steps=0):
    """Cosine decay from `lr` to 0 over `steps` steps, after a linear warm-up."""
    if warmup_steps:
        return keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(1, steps - warmup_steps), warmup_target=lr,
            warmup_steps=warmup_steps)
    return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps))


def _predict(model, x, batch_size=1000):
    return model.predict(x, batch_size=batch_size, verbose=0)


def _dims(hidden_dims, latent_dim):
    """`784-512-256-32` for hidden_dims (512, 256) and latent_dim 32."""
    return "-".join(map(str, (784, *hidden_dims, latent_dim)))


def machine():
    """Cores, threads, torch and keras versions, e.g. `2 cores, 1 thread, torch 2.13.0`."""
    import torch

    return (f"{os.cpu_count()} cores, {torch.get_num_threads()} thread(s), "
            f"torch {torch.__version__}, keras {keras.__version__}")


def row(task, metric, ours, source=None, cpu_minutes=None, epochs="", notes=""):
    """One row of the table; `source` is an entry of `PUBLISHED` (or None)."""
    published = "" if source is None or source.value is None else source.value
    return {"task": task, "metric": metric, "ours": ours, "published": published,
            "citation": source.citation if source else "", "cpu_minutes": cpu_minutes,
            "epochs": epochs, "notes": notes}


# ---------------------------------------------------------------- tasks


def hinton_pca(run, recipe):
    """PCA-30 test squared error per image (summed over pixels), as Hinton & Salakhutdinov
    (2006) report it: the raw linear projection, not clipped to [0, 1]."""
    x_test = mnist()[1][0]  # always the full test set: it costs nothing
    x_hat = baselines.pca_project(pca(), x_test, n_components=recipe.components, clip=False)
    error = metrics.per_sample_squared_error(x_test, x_hat).mean()
    return [row("hinton_pca", f"test squared error per image, PCA-{recipe.components}", error,
                PUBLISHED["hinton_pca"],
                notes="PCA fitted on all 60000 training images, unclipped projection of all "
                      "10000 test images.")]


def hinton_deep(run, recipe):
    """Deep autoencoder 784-1000-500-250-30 (ReLU, linear code, sigmoid output, tied weights
    unless `--no-deep-tied`) trained with Adam(W) and a cosine schedule, optionally
    fine-tuned on the summed squared error."""
    r = recipe
    x, _ = mnist_train(run, r.quick_train)
    x_test, _ = mnist_test(run, r.quick_test)
    keras.utils.set_random_seed(run.seed)
    parts = aebook.build_deep_autoencoder(tied=r.tied)
    models.init_output_bias(parts.decoder, x)
    # the model that is trained: optional masking noise in front (a denoising regularizer,
    # the identity at test time); it shares every weight with `parts.autoencoder`
    trained = parts.autoencoder
    if r.noise:
        inputs = keras.Input(shape=(x.shape[1],))
        noisy = layers.Corruption("masking", r.noise, seed=run.seed)(inputs)
        trained = keras.Model(inputs, parts.autoencoder(noisy), name="denoising_trainer")
    # phases: (epochs, loss, peak lr, batch size)
    phases = [(run.epochs(r.epochs), r.loss, r.lr, r.batch_size)]
    if r.finetune_epochs:
        phases.append((run.epochs(r.finetune_epochs), "sse", r.finetune_lr,
                       r.finetune_batch_size))
    loss_fn = {"bce": "binary_crossentropy", "sse": losses.sum_squared_error}
    total_minutes = run.cpu_budget(r.cpu_minutes)
    done, stopped = 0.0, False
    start = time.process_time()
    for i, (epochs, loss, lr, batch_size) in enumerate(phases):
        remaining = total_minutes - cpu_minutes_since(start)
        share = epochs / sum(p[0] for p in phases[i:])
        if remaining <= 0:  # a phase cut short by its share still leaves the next its own
            break
        steps = math.ceil(len(x) / batch_size)
        schedule = cosine(lr, epochs * steps, warmup_steps=steps if i == 0 else 0)
        optimizer = (keras.optimizers.AdamW(schedule, weight_decay=r.weight_decay)
                     if r.weight_decay else keras.optimizers.Adam(schedule))
        trained.compile(optimizer=optimizer, loss=loss_fn[loss])
        limit = CPUTimeLimit(max(remaining * share, 1e-3) if i < len(phases) - 1 else remaining)
        trained.fit(x, x, epochs=epochs, batch_size=batch_size, shuffle=True,
                    callbacks=[limit], verbose=0)
        done += limit.epochs_done
        stopped = stopped or limit.stopped
    cpu = cpu_minutes_since(start)
    test_err = metrics.per_sample_squared_error(
        x_test, _predict(parts.autoencoder, x_test)).mean()
    x_tr = x[:r.train_error_images]
    train_err = metrics.per_sample_squared_error(x_tr, _predict(parts.autoencoder, x_tr)).mean()
    description = r.describe(phases[0][0], phases[1][0] if len(phases) > 1 else 0)
    notes = (f"{description}; CPU budget {total_minutes:g} min"
             f"{' (hit: training stopped early)' if stopped else ''}; train squared error "
             f"{train_err:.2f} (first {len(x_tr)} training images); no pretraining (the paper "
             f"pretrains with RBMs).")
    return [row("hinton_deep", "test squared error per image, 784-1000-500-250-30", test_err,
                PUBLISHED["hinton_deep"], cpu, f"{done:.1f}", notes)]


def vae_nll(run, recipe):
    """VAE on dynamically binarized MNIST: test negative ELBO and IWAE NLL (k >= 500)."""
    r = recipe
    x, _ = mnist_train(run, r.quick_train)
    x_test_full = mnist()[1][0]
    n_all = len(x_test_full)
    n_elbo = r.quick_elbo_images if run.quick else n_all
    n_iwae = r.quick_iwae_images if run.quick else min(r.iwae_images or n_all, n_all)
    k = r.quick_k if run.quick else r.iwae_k
    # one fixed (seeded) binarization of the test set, as in Burda et al.
    rng = np.random.default_rng(run.seed)
    x_test = (rng.random(x_test_full.shape, dtype="float32") < x_test_full).astype("float32")
    keras.utils.set_random_seed(run.seed)
    parts = aebook.build_vae(hidden_dims=r.hidden_dims, latent_dim=r.latent_dim, seed=run.seed)
    epochs = run.epochs(r.epochs)
    data = DynamicBinarization(x, batch_size=r.batch_size, seed=run.seed)
    parts.autoencoder.compile(
        optimizer=keras.optimizers.Adam(cosine(r.lr, epochs * len(data))),
        loss=losses.sum_binary_crossentropy)
    limit = CPUTimeLimit(run.cpu_budget(r.cpu_minutes))
    callbacks = [limit]
    if r.kl_warmup_epochs:
        callbacks.append(KLAnnealing(warmup_epochs=run.epochs(r.kl_warmup_epochs)))
    start = time.process_time()
    parts.autoencoder.fit(data, epochs=epochs, callbacks=callbacks, verbose=0)
    elbo = metrics.vae_negative_elbo(parts.encoder, parts.decoder, x_test[:n_elbo],
                                     seed=run.seed).mean()
    nll = metrics.iwae_negative_log_likelihood(parts.encoder, parts.decoder, x_test[:n_iwae],
                                               k=k, seed=run.seed).mean()
    tight = None
    if r.tight_k:
        n_tight = min(r.quick_iwae_images if run.quick else r.tight_images, n_all)
        k_tight = 5 * r.quick_k if run.quick else r.tight_k
        tight = (n_tight, k_tight, metrics.iwae_negative_log_likelihood(
            parts.encoder, parts.decoder, x_test[:n_tight], k=k_tight, seed=run.seed).mean(),
            nll if n_tight == n_iwae else None)
        if tight[3] is None:  # the main estimate on the same images, for comparison
            tight = (*tight[:3], metrics.iwae_negative_log_likelihood(
                parts.encoder, parts.decoder, x_test[:n_tight], k=k, seed=run.seed).mean())
    cpu = cpu_minutes_since(start)
    warmup = (f", KL weight warmed up linearly from 0 to 1 over the first "
              f"{r.kl_warmup_epochs} epochs" if r.kl_warmup_epochs else "")
    arch = (f"VAE {_dims(r.hidden_dims, r.latent_dim)} (ReLU, Bernoulli decoder), Adam lr "
            f"{r.lr:g} cosine, batch {r.batch_size}{warmup}, dynamic binarization of the "
            f"training set each epoch; test set binarized once (seed {run.seed})")
    subset = "" if n_iwae == n_all else f" on the first {n_iwae} test images"
    epochs_done = f"{limit.epochs_done:.1f}"
    nll_metric = f"test NLL by IWAE bound, k={k} (nats), {n_iwae} images"
    nll_notes = (f"Importance-sampled -log p(x) with k={k} samples per image"
                 f"{subset or ' on all test images'}.")
    return [
        row("vae_nll", f"test negative ELBO (nats), {n_elbo} images", elbo, None, cpu,
            epochs_done, f"{arch}. The training objective, an upper bound on the NLL below; "
            "no published number on this exact setting."),
        *(row("vae_nll", nll_metric, nll, PUBLISHED[key], cpu, epochs_done,
              f"{nll_notes} Published: {PUBLISHED[key].what}")
          for key in ("vae_nll_pythae", "vae_nll_burda")),
        *([] if tight is None else [row(
            "vae_nll", f"test NLL by IWAE bound, k={tight[1]} (nats), {tight[0]} images",
            tight[2], PUBLISHED["vae_nll_burda"], cpu, epochs_done,
            f"A tighter bound on a subset: k={tight[1]} samples per image on the first "
            f"{tight[0]} test images (k={k} on the same images: {tight[3]:.2f}). Published: "
            f"{PUBLISHED['vae_nll_burda'].what}")]),
    ]


def _seed_code_autoencoder():
    """The seed article's Keras model, as written there (plain functional API)."""
    input_img = keras.Input(shape=(784,))
    encoded = keras.layers.Dense(128, activation="relu")(input_img)
    encoded = keras.layers.Dense(64, activation="relu")(encoded)
    encoded = keras.layers.Dense(32, activation="relu")(encoded)
    decoded = keras.layers.Dense(64, activation="relu")(encoded)
    decoded = keras.layers.Dense(128, activation="relu")(decoded)
    decoded = keras.layers.Dense(784, activation="sigmoid")(decoded)
    autoencoder = keras.Model(input_img, decoded)
    autoencoder.compile(optimizer="adam", loss="mse")
    return autoencoder


def seed_model(run, recipe):
    """The seed's model (784-128-64-32, MSE, Adam, 20 epochs, batch 256) vs PCA-32, and the
    seed's own Keras code vs `aebook.build_deep_autoencoder`, trained in one process."""
    x, _ = mnist_train(run, recipe.quick_train)
    x_test, _ = mnist_test(run, recipe.quick_test)
    start = time.process_time()
    keras.utils.set_random_seed(run.seed)
    seed_ae = _seed_code_autoencoder()
    t0 = time.process_time()
    history = seed_ae.fit(x, x, epochs=run.epochs(recipe.epochs), batch_size=recipe.batch_size,
                          shuffle=True, validation_data=(x_test, x_test), verbose=0)
    seed_seconds = time.process_time() - t0
    ours = seed_config_autoencoder(run, recipe)
    mse_seed = metrics.per_sample_mse(x_test, _predict(seed_ae, x_test, None)).mean()
    mse_ours = metrics.per_sample_mse(x_test, _predict(ours.parts.autoencoder, x_test,
                                                       None)).mean()
    mse_pca = metrics.per_sample_mse(
        x_test, baselines.pca_project(pca(), x_test, recipe.latent_dim, clip=True)).mean()
    cpu = cpu_minutes_since(start, ours.cpu_seconds_before(start))
    epochs = len(history.history["loss"])
    return [
        row("seed_model", "test MSE per pixel, seed Keras code", mse_seed, None, cpu, epochs,
            "Plain keras.Model copy of the seed article's code: 784-128-64-32 ReLU, mirrored "
            "decoder, sigmoid output, MSE, Adam, batch 256."),
        row("seed_model", "test MSE per pixel, aebook.build_deep_autoencoder", mse_ours, None,
            cpu, ours.epochs,
            f"build_deep_autoencoder(hidden_dims={recipe.hidden_dims}, "
            f"latent_dim={recipe.latent_dim}, latent_activation="
            f"{recipe.latent_activation!r}), same recipe and seed."),
        row("seed_model", f"test MSE per pixel, PCA-{recipe.latent_dim}", mse_pca,
            PUBLISHED["pca"], cpu, "",
            "PCA fitted on all training images, projection clipped to [0, 1]."),
        row("seed_model", "CPU time ratio aebook / seed code", ours.cpu_seconds / seed_seconds,
            None, cpu, epochs, f"Training CPU time: seed code {seed_seconds:.0f} s, aebook "
            f"{ours.cpu_seconds:.0f} s (same process, one after the other)."),
    ]


def denoising(run, recipe):
    """Denoising autoencoders (Gaussian sigma=0.5; salt-and-pepper 0.2): PSNR and SSIM gain
    of the denoised test images over the noisy ones."""
    r = recipe
    x, _ = mnist_train(run, r.quick_train)
    x_test, _ = mnist_test(run, r.quick_test)
    rows = []
    for noise, level, label in r.noises:
        start = time.process_time()
        keras.utils.set_random_seed(run.seed)
        parts = aebook.build_denoising_autoencoder(latent_dim=r.latent_dim,
                                                   hidden_dims=r.hidden_dims, noise=noise,
                                                   level=level, seed=run.seed)
        models.init_output_bias(parts.decoder, x)
        parts.autoencoder.compile(optimizer=r.optimizer, loss=r.loss)
        limit = CPUTimeLimit(run.cpu_budget(r.cpu_minutes))
        parts.autoencoder.fit(x, x, epochs=run.epochs(r.epochs), batch_size=r.batch_size,
                              shuffle=True, callbacks=[limit], verbose=0)
        noisy = corrupt(x_test, noise, level, seed=run.seed + 1)
        clean = _predict(parts.autoencoder, noisy)
        psnr_noisy, psnr_clean = metrics.psnr(x_test, noisy).mean(), metrics.psnr(x_test, clean).mean()
        ssim_noisy, ssim_clean = metrics.ssim(x_test, noisy).mean(), metrics.ssim(x_test, clean).mean()
        cpu = cpu_minutes_since(start)
        arch = (f"Dense {_dims(r.hidden_dims, r.latent_dim)} denoising AE, BCE, Adam, batch "
                f"{r.batch_size}; {len(x_test)} test images")
        epochs = f"{limit.epochs_done:.1f}"
        rows += [
            row("denoising", f"PSNR gain (dB), {label}", psnr_clean - psnr_noisy,
                PUBLISHED["denoising"], cpu, epochs,
                f"{arch}; PSNR noisy {psnr_noisy:.2f} dB -> denoised {psnr_clean:.2f} dB."),
            row("denoising", f"SSIM gain, {label}", ssim_clean - ssim_noisy,
                PUBLISHED["ssim"], cpu, epochs,
                f"{arch}; SSIM noisy {ssim_noisy:.3f} -> denoised {ssim_clean:.3f}."),
        ]
    return rows


def probe(run, recipe):
    """Linear probe: logistic-regression accuracy of the 32-d codes vs PCA-32 codes."""
    x, y = mnist_train(run, recipe.quick_train)
    x_test, y_test = mnist_test(run, recipe.quick_test)
    start = time.process_time()
    ae = seed_config_autoencoder(run, recipe.autoencoder)
    max_iter = recipe.quick_max_iter if run.quick else recipe.max_iter
    d = recipe.autoencoder.latent_dim
    acc_ae = metrics.linear_probe_accuracy(_predict(ae.parts.encoder, x), y,
                                           _predict(ae.parts.encoder, x_test), y_test,
                                           max_iter=max_iter)
    acc_pca = metrics.linear_probe_accuracy(pca().transform(x)[:, :d], y,
                                            pca().transform(x_test)[:, :d], y_test,
                                            max_iter=max_iter)
    cpu = cpu_minutes_since(start, ae.cpu_seconds_before(start))
    note = (f"Standardized codes, scikit-learn LogisticRegression (max_iter={max_iter}), "
            f"trained on {len(x)} training images, {len(x_test)} test images")
    return [
        row("probe", f"linear-probe test accuracy, AE codes ({d}-d)", acc_ae, None, cpu,
            ae.epochs, f"{note}; encoder of the seed-config autoencoder (ReLU code)."),
        row("probe", f"linear-probe test accuracy, PCA-{d} codes", acc_pca, PUBLISHED["pca"],
            cpu, "", note + "."),
    ]


def ood(run, recipe):
    """Out-of-distribution detection: AUROC of MNIST (in) vs Fashion-MNIST (out) test
    images scored by reconstruction error, for the autoencoder and for PCA-32."""
    from sklearn.metrics import roc_auc_score

    x_in, _ = mnist_test(run, recipe.quick_test)
    x_out = fashion_mnist()[1][0][:len(x_in)]
    start = time.process_time()
    ae = seed_config_autoencoder(run, recipe.autoencoder)
    d = recipe.autoencoder.latent_dim
    both = np.concatenate([x_in, x_out])
    is_out = np.r_[np.zeros(len(x_in)), np.ones(len(x_out))]
    err_ae = metrics.per_sample_mse(both, _predict(ae.parts.autoencoder, both))
    err_pca = metrics.per_sample_mse(both, baselines.pca_project(pca(), both, d))
    cpu = cpu_minutes_since(start, ae.cpu_seconds_before(start))
    note = (f"{len(x_in)} MNIST vs {len(x_out)} Fashion-MNIST test images, score = "
            f"reconstruction MSE")
    return [
        row("ood", "AUROC MNIST vs Fashion-MNIST, AE reconstruction error",
            roc_auc_score(is_out, err_ae), PUBLISHED["fashion_mnist"], cpu, ae.epochs,
            f"{note}; seed-config autoencoder trained on MNIST."),
        row("ood", f"AUROC MNIST vs Fashion-MNIST, PCA-{d} reconstruction error",
            roc_auc_score(is_out, err_pca), PUBLISHED["fashion_mnist"], cpu, "", note + "."),
    ]


@dataclass(frozen=True)
class ScriptRecipe:
    """A task measured by its own script in `benchmarks/` (run in a subprocess, so that it
    sets its own threads), which writes rows with the columns of the table to `--csv`."""

    script: str
    args: tuple = ()
    quick_args: tuple = ()


def script_task(run, recipe):
    """Runs `benchmarks/<script>` and returns its rows (`--quick`: its quick options)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "rows.csv"
        command = [sys.executable, str(ROOT / "benchmarks" / recipe.script),
                   *(recipe.quick_args if run.quick else recipe.args), "--csv", str(out)]
        subprocess.run(command, check=True)
        rows = read_rows(out)
    if not rows:
        raise RuntimeError(f"{recipe.script} wrote no rows")
    return rows


@dataclass(frozen=True)
class Task:
    """A task: its `function(run, recipe) -> rows` and its default recipe."""

    function: Callable
    recipe: object


TASKS = {
    "hinton_pca": Task(hinton_pca, HintonPCARecipe()),
    "hinton_deep": Task(hinton_deep, HintonDeepRecipe()),
    "vae_nll": Task(vae_nll, VAERecipe()),
    "seed_model": Task(seed_model, SEED_CONFIG),
    "denoising": Task(denoising, DenoisingRecipe()),
    "probe": Task(probe, ProbeRecipe()),
    "ood": Task(ood, OODRecipe()),
    # Keras fit against a plain PyTorch loop, at 1 and 2 threads (benchmarks/overhead.py)
    "fit_overhead": Task(script_task, ScriptRecipe("overhead.py", quick_args=("--quick",))),
    # data-parallel training, 1 process x 1 or 2 threads and 2 processes x 1 thread
    "ddp": Task(script_task, ScriptRecipe(
        "ddp.py", quick_args=("--epochs", "1", "--n-train", "4096"))),
}


# ---------------------------------------------------------------- CSV and main


def _format(value, digits=4):
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}g}" if abs(value) < 1e4 else f"{float(value):.0f}"
    return "" if value is None else str(value)


def read_rows(path):
    if not Path(path).exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path, rows):
    order = {name: i for i, name in enumerate(TASKS)}
    rows = sorted(rows, key=lambda r: order.get(r["task"], len(order)))  # stable within a task
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="", help=f"comma-separated tasks out of {', '.join(TASKS)}")
    p.add_argument("--quick", action="store_true", help="tiny budgets (subsets, 1 epoch, small k)")
    p.add_argument("--csv", default=None,
                   help=f"output CSV (default {DEFAULT_CSV.relative_to(ROOT)}; with --quick a "
                        f"file in the temporary folder)")
    p.add_argument("--seed", type=int, default=0)
    budgets = ", ".join(f"{name} {task.recipe.cpu_minutes:g}" for name, task in TASKS.items()
                        if hasattr(task.recipe, "cpu_minutes"))
    p.add_argument("--time-limit-minutes", type=float, default=None,
                   help=f"CPU-time budget of each training (default per task: {budgets}; "
                        f"denoising's is per model)")
    for name, task in TASKS.items():
        if not _options(task.recipe):
            continue
        group = p.add_argument_group(f"{name} recipe")
        for f in _options(task.recipe):
            help_text = f"{f.metadata['help']} (default {f.default})".lstrip()
            if isinstance(f.default, bool):  # --flag / --no-flag
                group.add_argument(f.metadata["flag"], action=argparse.BooleanOptionalAction,
                                   default=f.default, help=help_text)
                continue
            group.add_argument(f.metadata["flag"], type=type(f.default), default=f.default,
                               choices=f.metadata["choices"], help=help_text)
    args = p.parse_args(argv)
    only = [t.strip() for t in args.only.split(",") if t.strip()]
    unknown = [t for t in only if t not in TASKS]
    if unknown:
        p.error(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    args.only = only or list(TASKS)
    for task in TASKS.values():
        for f in _options(task.recipe):
            if f.metadata["check"] is not None:
                ok, message = f.metadata["check"]
                if not ok(getattr(args, _dest(f))):
                    p.error(f"{f.metadata['flag']} {message}")
    if args.iwae_k < MIN_IWAE_K and not args.quick:
        p.error(f"--iwae-k must be at least {MIN_IWAE_K} (the IWAE estimate of the NLL)")
    if args.time_limit_minutes is not None and not 0 < args.time_limit_minutes < math.inf:
        p.error("--time-limit-minutes must be positive (and finite)")
    if args.csv is None:
        args.csv = (Path(tempfile.gettempdir()) / "aebook_benchmarks_quick.csv" if args.quick
                    else DEFAULT_CSV)
    return args


def main(argv=None):
    args = parse_args(argv)
    run = Run(quick=args.quick, seed=args.seed, time_limit_minutes=args.time_limit_minutes)
    seed_config_autoencoder.cache_clear()  # trained anew, and timed, by each call of main
    where = machine()
    rows, failures = [], []
    wall = time.perf_counter()
    for name in args.only:
        print(f"--- {name}", flush=True)
        start = time.process_time()
        task = TASKS[name]
        try:
            new = task.function(run, recipe_from_args(task.recipe, args))
        except Exception:  # report, keep going with the other tasks
            traceback.print_exc()
            failures.append(f"{name} raised")
            continue
        for r in new:
            if r["cpu_minutes"] is None:
                r["cpu_minutes"] = cpu_minutes_since(start)
            if not math.isfinite(float(r["ours"])):
                failures.append(f"{name}: {r['metric']} is {r['ours']}")
            r["notes"] = ("QUICK MODE (subsets, 1 epoch): not a result. " if args.quick
                          else "") + r["notes"]
            r.update({k: _format(r[k], 3 if k == "cpu_minutes" else 4)
                      for k in ("ours", "published", "cpu_minutes")}, machine=where)
            print(f"  {r['metric']}: {r['ours']} (published {r['published'] or '-'}), "
                  f"{r['cpu_minutes']} CPU min, epochs {r['epochs'] or '-'}", flush=True)
        rows += new
    done = {r["task"] for r in rows}
    kept = [r for r in read_rows(args.csv) if r.get("task") not in done and r.get("task") in TASKS]
    write_rows(args.csv, kept + rows)
    print(f"wrote {len(rows)} rows ({len(kept)} kept) to {args.csv} in "
          f"{time.perf_counter() - wall:.0f} s")
    for failure in failures:
        print("FAILED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Train reference configurations on full MNIST and compare them with published numbers.

Each benchmark (a "task") is one function below; it trains with a longer budget than
a chapter can afford, measures its metrics on the full test set (or a stated subset),
and returns rows for the results table `book/_data/benchmarks.csv`, shown by the
book's "Results" appendix (`book/results.md`). Columns: task, metric, ours, published,
citation (a key of `book/references.bib`), cpu_minutes (CPU time of this process for
the task), epochs (actually trained), machine (cores, threads, torch and keras
versions) and notes.

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
import math
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

import aebook  # noqa: F401  (before keras: selects the torch backend)
import keras
from aebook import baselines, layers, losses, metrics, models
from aebook.data import DynamicBinarization, corrupt, load_fashion_mnist, load_mnist

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = ROOT / "book" / "_data" / "benchmarks.csv"
FIELDS = ["task", "metric", "ours", "published", "citation", "cpu_minutes", "epochs",
          "machine", "notes"]


# ---------------------------------------------------------------- helpers


class CPUTimeLimit(keras.callbacks.Callback):
    """Stops training once the process has used a budget of CPU time.

    CPU time (`time.process_time()`, all threads of this process) is counted from
    the start of `fit`. At the end of each epoch, training stops if the next epoch
    (assumed as long as the last one) would overrun the budget; within an epoch it
    stops after the batch that crosses the budget. `epochs_done` is the number of
    epochs trained, fractional when an epoch was cut short.

    Args:
        minutes: CPU-time budget in minutes (positive float).

    Raises:
        ValueError: for a bad `minutes`.
    """

    def __init__(self, minutes):
        super().__init__()
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes > 0:
            raise ValueError(f"minutes must be a positive float. Received: minutes={minutes!r}")
        self.minutes = float(minutes)
        self.epochs_done = 0.0
        self.stopped = False

    def _used(self):
        return time.process_time() - self._start

    def on_train_begin(self, logs=None):
        self._start = time.process_time()
        self.epochs_done, self.stopped, self._steps = 0.0, False, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start, self._steps = self._used(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        if self._used() > 60.0 * self.minutes:
            self.model.stop_training = self.stopped = True

    def on_epoch_end(self, epoch, logs=None):
        steps = self.params.get("steps") or self._steps
        self.epochs_done += min(1.0, self._steps / max(1, steps))
        used = self._used()
        last = epoch + 1 >= self.params.get("epochs", math.inf)  # nothing left to stop
        if not last and used + (used - self._epoch_start) > 60.0 * self.minutes:
            self.model.stop_training = self.stopped = True


def machine():
    """Cores, threads, torch and keras versions, e.g. `2 cores, 1 thread, torch 2.13.0`."""
    import torch

    return (f"{os.cpu_count()} cores, {torch.get_num_threads()} thread(s), "
            f"torch {torch.__version__}, keras {keras.__version__}")


def cosine(lr, steps, warmup_steps=0):
    """Cosine decay from `lr` to 0 over `steps` steps, after a linear warm-up."""
    if warmup_steps:
        return keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(1, steps - warmup_steps), warmup_target=lr,
            warmup_steps=warmup_steps)
    return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps))


class Context:
    """Shared state of one run: data (loaded once), budgets, a PCA and cached models."""

    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.seed = args.seed
        self._cache = {}

    def cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def mnist(self):
        return self.cached("mnist", load_mnist)

    def fashion(self):
        return self.cached("fashion", load_fashion_mnist)

    def train(self, n_quick=2048):
        """MNIST training images and labels; the first `n_quick` in quick mode."""
        (x, y), _ = self.mnist()
        return (x[:n_quick], y[:n_quick]) if self.quick else (x, y)

    def test(self, n_quick=1000):
        _, (x, y) = self.mnist()
        return (x[:n_quick], y[:n_quick]) if self.quick else (x, y)

    def pca(self):
        """PCA with 32 components fitted on all 60000 training images (also in quick mode:
        it takes seconds); its first k axes are PCA-k for every k <= 32."""
        return self.cached("pca", lambda: baselines.fit_pca(self.mnist()[0][0], 32))

    def epochs(self, full):
        return 1 if self.quick else full

    def limit(self, default_minutes):
        return self.args.time_limit_minutes or default_minutes

    def seed_config_autoencoder(self):
        """aebook's copy of the seed model (784-128-64-32, MSE, Adam, batch 256), trained
        once and shared by `seed_model`, `probe` and `ood`. Returns (parts, seconds, epochs)."""
        def make():
            x, _ = self.train(4096)
            x_test, _ = self.test()
            keras.utils.set_random_seed(self.seed)
            parts = aebook.build_deep_autoencoder(hidden_dims=(128, 64), latent_dim=32,
                                                  latent_activation="relu")
            parts.autoencoder.compile(optimizer="adam", loss="mse")
            start = time.process_time()
            self._cache["seed_ae_at"] = time.process_time()
            history = parts.autoencoder.fit(x, x, epochs=self.epochs(20), batch_size=256,
                                            shuffle=True, validation_data=(x_test, x_test),
                                            verbose=0)
            return parts, time.process_time() - start, len(history.history["loss"])
        return self.cached("seed_ae", make)

    def seed_config_cpu_seconds(self, call_start):
        """CPU seconds to add for the shared autoencoder when it was trained by an earlier
        task (a task that trained it itself already counts it since `call_start`)."""
        parts, seconds, epochs = self.seed_config_autoencoder()
        return seconds if self._trained_before(call_start) else 0.0

    def _trained_before(self, call_start):
        return self._cache.get("seed_ae_at", call_start) < call_start


def row(task, metric, ours, published="", citation="", cpu_minutes=None, epochs="",
        notes=""):
    return {"task": task, "metric": metric, "ours": ours, "published": published,
            "citation": citation, "cpu_minutes": cpu_minutes, "epochs": epochs, "notes": notes}


# ---------------------------------------------------------------- tasks


def hinton_pca(ctx):
    """PCA-30 test squared error per image (summed over pixels), as Hinton & Salakhutdinov
    (2006) report it: the raw linear projection, not clipped to [0, 1]."""
    x_test = ctx.mnist()[1][0]  # always the full test set: it costs nothing
    x_hat = baselines.pca_project(ctx.pca(), x_test, n_components=30, clip=False)
    error = metrics.per_sample_squared_error(x_test, x_hat).mean()
    return [row("hinton_pca", "test squared error per image, PCA-30", error, 13.87,
                "hinton2006reducing", epochs="",
                notes="PCA fitted on all 60000 training images, unclipped projection of all "
                      "10000 test images.")]


def hinton_deep(ctx):
    """Deep autoencoder 784-1000-500-250-30 (ReLU, linear code, sigmoid output) trained with
    Adam and a cosine schedule, optionally fine-tuned on the summed squared error."""
    a = ctx.args
    x, _ = ctx.train(2048)
    x_test, _ = ctx.test()
    keras.utils.set_random_seed(ctx.seed)
    parts = aebook.build_deep_autoencoder()
    models.init_output_bias(parts.decoder, x)
    epochs, ft_epochs = ctx.epochs(a.deep_epochs), ctx.epochs(a.deep_finetune_epochs)
    if a.deep_finetune_epochs == 0:
        ft_epochs = 0
    loss_fn = {"bce": "binary_crossentropy", "sse": losses.sum_squared_error}
    # the model that is trained: optional masking noise in front (a denoising regularizer,
    # the identity at test time); it shares every weight with `parts.autoencoder`
    trained = parts.autoencoder
    if a.deep_noise:
        inputs = keras.Input(shape=(x.shape[1],))
        noisy = layers.Corruption("masking", a.deep_noise, seed=ctx.seed)(inputs)
        trained = keras.Model(inputs, parts.autoencoder(noisy), name="denoising_trainer")
    total_minutes = ctx.limit(15.0)
    steps = math.ceil(len(x) / a.deep_batch_size)
    done, stopped = 0.0, False
    phases = [(epochs, a.deep_loss, a.deep_lr, a.deep_batch_size, steps)]
    if ft_epochs:
        phases.append((ft_epochs, "sse", a.deep_finetune_lr, a.deep_finetune_batch_size,
                       math.ceil(len(x) / a.deep_finetune_batch_size)))
    start = time.process_time()
    for i, (n_epochs, loss, lr, batch_size, n_steps) in enumerate(phases):
        remaining = total_minutes - (time.process_time() - start) / 60.0
        share = n_epochs / sum(p[0] for p in phases[i:])
        if remaining <= 0:  # a phase cut short by its share still leaves the next its own
            break
        schedule = cosine(lr, n_epochs * n_steps, warmup_steps=n_steps if i == 0 else 0)
        optimizer = (keras.optimizers.AdamW(schedule, weight_decay=a.deep_weight_decay)
                     if a.deep_weight_decay else keras.optimizers.Adam(schedule))
        trained.compile(optimizer=optimizer, loss=loss_fn[loss])
        limit = CPUTimeLimit(max(remaining * share, 1e-3) if i < len(phases) - 1 else remaining)
        trained.fit(x, x, epochs=n_epochs, batch_size=batch_size, shuffle=True,
                    callbacks=[limit], verbose=0)
        done += limit.epochs_done
        stopped = stopped or limit.stopped
    cpu = (time.process_time() - start) / 60.0
    test_err = metrics.per_sample_squared_error(
        x_test, parts.autoencoder.predict(x_test, batch_size=1000, verbose=0)).mean()
    x_tr = x[:10000]
    train_err = metrics.per_sample_squared_error(
        x_tr, parts.autoencoder.predict(x_tr, batch_size=1000, verbose=0)).mean()
    wd = f"W (weight decay {a.deep_weight_decay:g})" if a.deep_weight_decay else ""
    extras = f", masking noise {a.deep_noise:g} on the training inputs" if a.deep_noise else ""
    recipe = (f"Adam{wd}{extras}, "
              f"{epochs} epochs {a.deep_loss.upper()} batch {a.deep_batch_size} lr {a.deep_lr:g} "
              f"(1-epoch warm-up, cosine to 0)")
    if ft_epochs:
        recipe += (f" + {ft_epochs} epochs SSE fine-tuning batch {a.deep_finetune_batch_size} "
                   f"lr {a.deep_finetune_lr:g} cosine to 0")
    notes = (f"{recipe}; CPU budget {total_minutes:g} min"
             f"{' (hit: training stopped early)' if stopped else ''}; train squared error "
             f"{train_err:.2f} (first {len(x_tr)} training images); no pretraining (the paper "
             f"pretrains with RBMs).")
    return [row("hinton_deep", "test squared error per image, 784-1000-500-250-30", test_err,
                3.00, "hinton2006reducing", cpu, f"{done:.1f}", notes)]


def vae_nll(ctx):
    """VAE on dynamically binarized MNIST: test negative ELBO and IWAE NLL (k >= 500)."""
    a = ctx.args
    x, _ = ctx.train(2048)
    x_test_full = ctx.mnist()[1][0]
    n_elbo = 500 if ctx.quick else len(x_test_full)
    n_iwae = 100 if ctx.quick else min(a.iwae_images or len(x_test_full), len(x_test_full))
    k = 10 if ctx.quick else a.iwae_k
    # one fixed (seeded) binarization of the test set, as in Burda et al.
    rng = np.random.default_rng(ctx.seed)
    x_test = (rng.random(x_test_full.shape, dtype="float32") < x_test_full).astype("float32")
    keras.utils.set_random_seed(ctx.seed)
    parts = aebook.build_vae(hidden_dims=(512, 256), latent_dim=a.vae_latent_dim, seed=ctx.seed)
    epochs = ctx.epochs(a.vae_epochs)
    data = DynamicBinarization(x, batch_size=a.vae_batch_size, seed=ctx.seed)
    parts.autoencoder.compile(
        optimizer=keras.optimizers.Adam(cosine(a.vae_lr, epochs * len(data))),
        loss=losses.sum_binary_crossentropy)
    limit = CPUTimeLimit(ctx.limit(45.0))
    start = time.process_time()
    parts.autoencoder.fit(data, epochs=epochs, callbacks=[limit], verbose=0)
    elbo = metrics.vae_negative_elbo(parts.encoder, parts.decoder, x_test[:n_elbo],
                                     seed=ctx.seed).mean()
    nll = metrics.iwae_negative_log_likelihood(parts.encoder, parts.decoder, x_test[:n_iwae],
                                               k=k, seed=ctx.seed).mean()
    cpu = (time.process_time() - start) / 60.0
    arch = (f"VAE 784-512-256-{a.vae_latent_dim} (ReLU, Bernoulli decoder), Adam lr "
            f"{a.vae_lr:g} cosine, batch {a.vae_batch_size}, dynamic binarization of the "
            f"training set each epoch; test set binarized once (seed {ctx.seed})")
    subset = "" if n_iwae == len(x_test_full) else f" on the first {n_iwae} test images"
    epochs_done = f"{limit.epochs_done:.1f}"
    nll_metric = f"test NLL by IWAE bound, k={k} (nats), {n_iwae} images"
    nll_notes = (f"Importance-sampled -log p(x) with k={k} samples per image"
                 f"{subset or ' on all test images'}.")
    return [
        row("vae_nll", f"test negative ELBO (nats), {n_elbo} images", elbo, "", "", cpu,
            epochs_done, f"{arch}. The training objective, an upper bound on the NLL below; "
            "no published number on this exact setting."),
        row("vae_nll", nll_metric, nll, 89.8, "chadebec2022pythae", cpu, epochs_done,
            f"{nll_notes} Published: Pythae's VAE on binarized MNIST, NLL with 200 "
            "importance samples (89.78, reproducing Rezende and Mohamed's 89.9). Target <= 90."),
        row("vae_nll", nll_metric, nll, 86.76, "burda2016importance", cpu, epochs_done,
            f"{nll_notes} Published: Burda et al.'s VAE (1 stochastic layer, k=1 training, "
            "3280 passes over the data) on dynamically binarized MNIST, NLL with k=5000."),
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


def seed_model(ctx):
    """The seed's model (784-128-64-32, MSE, Adam, 20 epochs, batch 256) vs PCA-32, and the
    seed's own Keras code vs `aebook.build_deep_autoencoder`, trained in one process."""
    x, _ = ctx.train(4096)
    x_test, _ = ctx.test()
    start = time.process_time()
    keras.utils.set_random_seed(ctx.seed)
    seed_ae = _seed_code_autoencoder()
    t0 = time.process_time()
    history = seed_ae.fit(x, x, epochs=ctx.epochs(20), batch_size=256, shuffle=True,
                          validation_data=(x_test, x_test), verbose=0)
    seed_seconds = time.process_time() - t0
    parts, ours_seconds, ours_epochs = ctx.seed_config_autoencoder()
    mse_seed = metrics.per_sample_mse(x_test, seed_ae.predict(x_test, verbose=0)).mean()
    mse_ours = metrics.per_sample_mse(
        x_test, parts.autoencoder.predict(x_test, verbose=0)).mean()
    mse_pca = metrics.per_sample_mse(
        x_test, baselines.pca_project(ctx.pca(), x_test, 32, clip=True)).mean()
    cpu = (time.process_time() - start + ctx.seed_config_cpu_seconds(start)) / 60.0
    epochs = len(history.history["loss"])
    return [
        row("seed_model", "test MSE per pixel, seed Keras code", mse_seed, "", "", cpu, epochs,
            "Plain keras.Model copy of the seed article's code: 784-128-64-32 ReLU, mirrored "
            "decoder, sigmoid output, MSE, Adam, batch 256."),
        row("seed_model", "test MSE per pixel, aebook.build_deep_autoencoder", mse_ours, "", "",
            cpu, ours_epochs,
            "build_deep_autoencoder(hidden_dims=(128, 64), latent_dim=32, "
            "latent_activation='relu'), same recipe and seed."),
        row("seed_model", "test MSE per pixel, PCA-32", mse_pca, "", "pearson1901lines", cpu, "",
            "PCA fitted on all training images, projection clipped to [0, 1]."),
        row("seed_model", "CPU time ratio aebook / seed code", ours_seconds / seed_seconds, "", "",
            cpu, epochs, f"Training CPU time: seed code {seed_seconds:.0f} s, aebook "
            f"{ours_seconds:.0f} s (same process, one after the other)."),
    ]


def denoising(ctx):
    """Denoising autoencoders (Gaussian sigma=0.5; salt-and-pepper 0.2): PSNR and SSIM gain
    of the denoised test images over the noisy ones."""
    x, _ = ctx.train(2048)
    x_test, _ = ctx.test(300)
    rows = []
    for noise, level, label in [("gaussian", 0.5, "Gaussian sigma=0.5"),
                                ("salt_and_pepper", 0.2, "salt-and-pepper 0.2")]:
        start = time.process_time()
        keras.utils.set_random_seed(ctx.seed)
        parts = aebook.build_denoising_autoencoder(latent_dim=64, hidden_dims=(256,),
                                                   noise=noise, noise_level=level, seed=ctx.seed)
        models.init_output_bias(parts.decoder, x)
        parts.autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
        limit = CPUTimeLimit(ctx.limit(5.0))
        parts.autoencoder.fit(x, x, epochs=ctx.epochs(20), batch_size=128, shuffle=True,
                              callbacks=[limit], verbose=0)
        noisy = corrupt(x_test, noise, level, seed=ctx.seed + 1)
        clean = parts.autoencoder.predict(noisy, batch_size=1000, verbose=0)
        psnr_noisy, psnr_clean = metrics.psnr(x_test, noisy).mean(), metrics.psnr(x_test, clean).mean()
        ssim_noisy, ssim_clean = metrics.ssim(x_test, noisy).mean(), metrics.ssim(x_test, clean).mean()
        cpu = (time.process_time() - start) / 60.0
        arch = (f"Dense 784-256-64 denoising AE, BCE, Adam, batch 128; {len(x_test)} test "
                f"images")
        rows += [
            row("denoising", f"PSNR gain (dB), {label}", psnr_clean - psnr_noisy, "",
                "vincent2008extracting", cpu, f"{limit.epochs_done:.1f}",
                f"{arch}; PSNR noisy {psnr_noisy:.2f} dB -> denoised {psnr_clean:.2f} dB."),
            row("denoising", f"SSIM gain, {label}", ssim_clean - ssim_noisy, "",
                "wang2004image", cpu, f"{limit.epochs_done:.1f}",
                f"{arch}; SSIM noisy {ssim_noisy:.3f} -> denoised {ssim_clean:.3f}."),
        ]
    return rows


def _probe_accuracy(z_train, y_train, z_test, y_test, max_iter):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    clf.fit(z_train, y_train)
    return float(clf.score(z_test, y_test))


def probe(ctx):
    """Linear probe: logistic-regression accuracy of the 32-d codes vs PCA-32 codes."""
    x, y = ctx.train(2048)
    x_test, y_test = ctx.test()
    start = time.process_time()
    parts, seconds, epochs = ctx.seed_config_autoencoder()
    max_iter = 200 if ctx.quick else 1000
    enc = lambda data: parts.encoder.predict(data, batch_size=1000, verbose=0)  # noqa: E731
    acc_ae = _probe_accuracy(enc(x), y, enc(x_test), y_test, max_iter)
    pca = ctx.pca()
    acc_pca = _probe_accuracy(pca.transform(x)[:, :32], y, pca.transform(x_test)[:, :32],
                              y_test, max_iter)
    cpu = (time.process_time() - start + ctx.seed_config_cpu_seconds(start)) / 60.0
    note = (f"Standardized codes, scikit-learn LogisticRegression (max_iter={max_iter}), "
            f"trained on {len(x)} training images, {len(x_test)} test images")
    return [
        row("probe", "linear-probe test accuracy, AE codes (32-d)", acc_ae, "", "", cpu, epochs,
            f"{note}; encoder of the seed-config autoencoder (ReLU code)."),
        row("probe", "linear-probe test accuracy, PCA-32 codes", acc_pca, "", "pearson1901lines",
            cpu, "", note + "."),
    ]


def ood(ctx):
    """Out-of-distribution detection: AUROC of MNIST (in) vs Fashion-MNIST (out) test
    images scored by reconstruction error, for the autoencoder and for PCA-32."""
    from sklearn.metrics import roc_auc_score

    x_in, _ = ctx.test()
    x_out = ctx.fashion()[1][0][:len(x_in)]
    start = time.process_time()
    parts, seconds, epochs = ctx.seed_config_autoencoder()
    both = np.concatenate([x_in, x_out])
    is_out = np.r_[np.zeros(len(x_in)), np.ones(len(x_out))]
    err_ae = metrics.per_sample_mse(both, parts.autoencoder.predict(both, batch_size=1000,
                                                                    verbose=0))
    err_pca = metrics.per_sample_mse(both, baselines.pca_project(ctx.pca(), both, 32))
    cpu = (time.process_time() - start + ctx.seed_config_cpu_seconds(start)) / 60.0
    note = (f"{len(x_in)} MNIST vs {len(x_out)} Fashion-MNIST test images, score = "
            f"reconstruction MSE")
    return [
        row("ood", "AUROC MNIST vs Fashion-MNIST, AE reconstruction error",
            roc_auc_score(is_out, err_ae), "", "xiao2017fashion", cpu, epochs,
            f"{note}; seed-config autoencoder trained on MNIST."),
        row("ood", "AUROC MNIST vs Fashion-MNIST, PCA-32 reconstruction error",
            roc_auc_score(is_out, err_pca), "", "xiao2017fashion", cpu, "", note + "."),
    ]


TASKS = {f.__name__: f for f in
         [hinton_pca, hinton_deep, vae_nll, seed_model, denoising, probe, ood]}


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
    p.add_argument("--time-limit-minutes", type=float, default=None,
                   help="CPU-time budget of each training (default per task: hinton_deep 15, "
                        "vae_nll 25, denoising 5 per model)")
    g = p.add_argument_group("hinton_deep recipe")
    g.add_argument("--deep-epochs", type=int, default=14)
    g.add_argument("--deep-batch-size", type=int, default=128)
    g.add_argument("--deep-lr", type=float, default=2e-3, help="peak lr, cosine decay to 0")
    g.add_argument("--deep-loss", choices=("bce", "sse"), default="bce")
    g.add_argument("--deep-weight-decay", type=float, default=0.0, help="> 0: AdamW")
    g.add_argument("--deep-noise", type=float, default=0.0,
                   help="fraction of training-input pixels masked to 0 (0: none)")
    g.add_argument("--deep-finetune-epochs", type=int, default=3,
                   help="epochs of summed-squared-error fine-tuning after the first phase")
    g.add_argument("--deep-finetune-batch-size", type=int, default=1024)
    g.add_argument("--deep-finetune-lr", type=float, default=3e-4)
    g = p.add_argument_group("vae_nll")
    g.add_argument("--vae-epochs", type=int, default=80)
    g.add_argument("--vae-batch-size", type=int, default=128)
    g.add_argument("--vae-lr", type=float, default=1e-3)
    g.add_argument("--vae-latent-dim", type=int, default=32)
    g.add_argument("--iwae-k", type=int, default=500)
    g.add_argument("--iwae-images", type=int, default=0, help="test images; 0: all 10000")
    args = p.parse_args(argv)
    only = [t.strip() for t in args.only.split(",") if t.strip()]
    unknown = [t for t in only if t not in TASKS]
    if unknown:
        p.error(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    args.only = only or list(TASKS)
    for name in ("deep_epochs", "deep_batch_size", "deep_finetune_batch_size", "vae_epochs",
                 "vae_batch_size", "vae_latent_dim"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be a positive int")
    if args.deep_finetune_epochs < 0 or args.iwae_images < 0:
        p.error("--deep-finetune-epochs and --iwae-images must be >= 0")
    if args.iwae_k < 500 and not args.quick:
        p.error("--iwae-k must be at least 500 (the IWAE estimate of the NLL)")
    for name in ("deep_lr", "deep_finetune_lr", "vae_lr"):
        if not getattr(args, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.deep_weight_decay < 0:
        p.error("--deep-weight-decay must be >= 0")
    if not 0 <= args.deep_noise < 1:
        p.error("--deep-noise must be in [0, 1)")
    if args.time_limit_minutes is not None and not args.time_limit_minutes > 0:
        p.error("--time-limit-minutes must be positive")
    if args.csv is None:
        args.csv = (Path(tempfile.gettempdir()) / "aebook_benchmarks_quick.csv" if args.quick
                    else DEFAULT_CSV)
    return args


def main(argv=None):
    args = parse_args(argv)
    ctx = Context(args)
    where = machine()
    rows, failures = [], []
    wall = time.perf_counter()
    for name in args.only:
        print(f"--- {name}", flush=True)
        start = time.process_time()
        try:
            new = TASKS[name](ctx)
        except Exception:  # report, keep going with the other tasks
            traceback.print_exc()
            failures.append(f"{name} raised")
            continue
        for r in new:
            if r["cpu_minutes"] is None:
                r["cpu_minutes"] = (time.process_time() - start) / 60.0
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

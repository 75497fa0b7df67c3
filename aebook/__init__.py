"""aebook: Keras 3 autoencoder builders, data loaders, metrics and plots.

Importing `aebook` selects the PyTorch backend for Keras (`KERAS_BACKEND=torch`)
unless a backend was already chosen, because Keras defaults to TensorFlow, which
this project neither needs nor installs. Set `KERAS_BACKEND` before the first
`import keras` to use another backend.

If Keras was already imported with another backend, `import aebook` warns (a
`UserWarning`): the backend cannot change once Keras is loaded, and aebook is
written and tested for torch.
"""

import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")


def _warn_if_keras_has_another_backend():
    keras = sys.modules.get("keras")
    backend = getattr(getattr(keras, "backend", None), "backend", None)
    if not callable(backend) or backend() == "torch":
        return
    warnings.warn(
        f"Keras was imported before aebook, with the {backend()!r} backend; aebook is "
        "written and tested for the 'torch' backend, and may fail or give other numbers "
        "with another. The backend cannot change once Keras is imported: in a fresh "
        "Python process, import aebook before keras (it selects torch), or set the "
        "environment variable KERAS_BACKEND=torch before starting Python.",
        UserWarning,
        stacklevel=3,
    )


_warn_if_keras_has_another_backend()

from aebook import anomaly  # noqa: E402
from aebook import baselines  # noqa: E402
from aebook import callbacks  # noqa: E402
from aebook import compression  # noqa: E402
from aebook import data  # noqa: E402
from aebook import generation  # noqa: E402
from aebook import interpretability  # noqa: E402
from aebook import layers  # noqa: E402
from aebook import losses  # noqa: E402
from aebook import masked  # noqa: E402
from aebook import metrics  # noqa: E402
from aebook import models  # noqa: E402
from aebook import plotting  # noqa: E402
from aebook import retrieval  # noqa: E402
from aebook import score  # noqa: E402
from aebook import sequence  # noqa: E402
from aebook import sprites  # noqa: E402
from aebook import training  # noqa: E402
from aebook import validation  # noqa: E402
from aebook import vq  # noqa: E402
from aebook.data import load_fashion_mnist  # noqa: E402
from aebook.data import load_mnist  # noqa: E402
from aebook.interpretability import build_sae  # noqa: E402
from aebook.masked import build_masked_autoencoder  # noqa: E402
from aebook.models import AutoencoderParts  # noqa: E402
from aebook.models import build_conditional_vae  # noqa: E402
from aebook.models import build_contractive_autoencoder  # noqa: E402
from aebook.models import build_conv_autoencoder  # noqa: E402
from aebook.models import build_conv_vae  # noqa: E402
from aebook.models import build_deep_autoencoder  # noqa: E402
from aebook.models import build_denoising_autoencoder  # noqa: E402
from aebook.models import build_sparse_autoencoder  # noqa: E402
from aebook.models import build_vae  # noqa: E402
from aebook.models import build_vanilla_autoencoder  # noqa: E402
from aebook.models import compose_vae  # noqa: E402
from aebook.sequence import build_conv1d_autoencoder  # noqa: E402
from aebook.sequence import build_lstm_autoencoder  # noqa: E402
from aebook.seeding import get_seed  # noqa: E402
from aebook.seeding import set_seed  # noqa: E402
from aebook.vq import build_vq_vae  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "AutoencoderParts",
    "anomaly",
    "baselines",
    "build_conditional_vae",
    "build_conv1d_autoencoder",
    "build_contractive_autoencoder",
    "build_conv_autoencoder",
    "build_conv_vae",
    "build_deep_autoencoder",
    "build_lstm_autoencoder",
    "build_denoising_autoencoder",
    "build_masked_autoencoder",
    "build_sae",
    "build_sparse_autoencoder",
    "build_vae",
    "build_vanilla_autoencoder",
    "build_vq_vae",
    "callbacks",
    "compose_vae",
    "compression",
    "data",
    "generation",
    "interpretability",
    "layers",
    "load_fashion_mnist",
    "load_mnist",
    "losses",
    "masked",
    "metrics",
    "models",
    "plotting",
    "retrieval",
    "score",
    "sequence",
    "sprites",
    "training",
    "validation",
    "vq",
    "get_seed",
    "set_seed",
]

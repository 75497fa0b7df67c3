"""Generation in a latent space, and one sample-quality score for every generator.

Latent diffusion (Rombach et al. 2022) generates in two stages: an autoencoder
compresses images to small codes, then a generative model is fitted to the codes,
and its samples are decoded. This module holds the second stage in miniature, a
Gaussian mixture fitted to codes (`fit_code_gmm`, `sample_gmm`), and the score
every generative chapter uses to compare generators (`sample_quality`):

- **confidence**: the digit judge's mean top-class probability
  (`aebook.metrics.digit_likeness`): do the samples look like *some* digit?
- **class entropy**: the entropy, in bits, of the histogram of the judge's
  predicted classes, and its power of two, the **effective number of classes**
  (10 for ten equally frequent digits, 1 if every sample is the same digit): are
  all the digits there?
- **Fréchet distance** (optional): the distance between Gaussians fitted to the
  judge's hidden features of the samples and of real reference images
  (Heusel et al. 2017's FID, with the book's small judge in place of Inception):
  do the samples, as a set, look like the data?

The judge is the classifier of `aebook.metrics.train_digit_judge`.
"""

from typing import NamedTuple

import numpy as np

from aebook import validation as v
from aebook.metrics import judge_probabilities

__all__ = [
    "SampleQuality",
    "class_entropy",
    "fit_code_gmm",
    "frechet_distance",
    "gaussian_frechet_distance",
    "judge_features",
    "sample_gmm",
    "sample_quality",
]


class SampleQuality(NamedTuple):
    """The score of a set of samples (see `sample_quality`).

    Attributes:
        confidence: mean over images of the judge's top-class probability, in
            [0.1, 1] for a 10-class judge.
        class_entropy: entropy of the predicted-class histogram, in bits, in
            [0, log2(10) = 3.32].
        effective_classes: `2 ** class_entropy`, in [1, 10].
        frechet: Fréchet distance to the reference images in the judge's feature
            space (>= 0, lower is better), or None if no reference was given.
    """

    confidence: float
    class_entropy: float
    effective_classes: float
    frechet: float | None


def _flat_images(name, images):
    images = v.unit_interval_array(name, images, dtype="float32")
    if images.ndim < 2 or len(images) == 0:
        raise ValueError(f"{name} must be a non-empty batch of images (N, ...). "
                         f"Received: {name}.shape={images.shape}")
    return images.reshape(len(images), -1)


def _check_judge(judge):
    import keras

    if not isinstance(judge, keras.Model) or len(judge.layers) < 2:
        v.fail("judge", "a keras.Model with a hidden layer before its output layer "
                        "(e.g. from aebook.metrics.train_digit_judge)", judge)
    return judge


def judge_features(judge, images, binarize=True):
    """The judge's hidden features of each image: the input of its output layer.

    For the judge of `aebook.metrics.train_digit_judge` these are the 128 ReLU
    activations of its hidden layer. The Fréchet distance compares sets of images
    through these features, as FID does through Inception's.

    Args:
        judge: a `keras.Model` whose last layer is the classifier's output layer
            (e.g. from `aebook.metrics.train_digit_judge`).
        images: images with values in [0, 1], shape (N, 784) or (N, 28, 28, 1)
            (flattened to the judge's input).
        binarize: threshold the images at 0.5 first, as `judge_probabilities` does.

    Returns:
        float32 array of shape (N, hidden_units).

    Raises:
        ValueError: for a judge without a hidden layer, or images outside [0, 1].
    """
    import keras

    judge = _check_judge(judge)
    binarize = v.flag("binarize", binarize)
    images = _flat_images("images", images)
    if binarize:
        images = (images > 0.5).astype("float32")
    hidden = keras.Model(judge.inputs, judge.layers[-2].output, name="judge_features")
    return np.asarray(hidden.predict(images, batch_size=1000, verbose=0), dtype="float32")


def class_entropy(probabilities):
    """Entropy, in bits, of the histogram of predicted classes (argmax of each row).

    Args:
        probabilities: class probabilities, shape (N, num_classes).

    Returns:
        float in [0, log2(num_classes)]: 0 if every row predicts the same class,
        log2(num_classes) if every class is predicted equally often.

    Raises:
        ValueError: if `probabilities` is not a non-empty 2-D array.

    Example:
        >>> import numpy as np
        >>> from aebook.generation import class_entropy
        >>> class_entropy(np.eye(4))  # four classes, once each: log2(4)
        2.0
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.size == 0:
        raise ValueError("probabilities must be a non-empty 2-D array (N, num_classes). "
                         f"Received: probabilities.shape={probabilities.shape}")
    counts = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1])
    share = counts[counts > 0] / len(probabilities)
    return float(max(-np.sum(share * np.log2(share)), 0.0))


def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b):
    """Fréchet (2-Wasserstein squared) distance between two Gaussians.

    ``d = ||mean_a - mean_b||^2 + tr(cov_a + cov_b - 2 (cov_a^(1/2) cov_b cov_a^(1/2))^(1/2))``,

    which equals the FID formula's tr(cov_a + cov_b - 2 (cov_a cov_b)^(1/2)). The
    symmetric form is computed with eigendecompositions, so it stays real and
    non-negative for singular covariances (rounding below 0 is clipped to 0).

    Args:
        mean_a, mean_b: means, shape (d,).
        cov_a, cov_b: symmetric positive semi-definite covariances, shape (d, d).

    Returns:
        float >= 0; 0 for identical Gaussians.

    Raises:
        ValueError: if the shapes do not fit together.

    Example:
        >>> import numpy as np
        >>> from aebook.generation import gaussian_frechet_distance
        >>> # 1-D: (m_a - m_b)^2 + (s_a - s_b)^2 = 1 + (2 - 1)^2
        >>> gaussian_frechet_distance(np.array([1.0]), np.array([[4.0]]),
        ...                           np.array([0.0]), np.array([[1.0]]))
        2.0
    """
    mean_a, mean_b = (np.asarray(m, dtype="float64") for m in (mean_a, mean_b))
    cov_a, cov_b = (np.asarray(c, dtype="float64") for c in (cov_a, cov_b))
    d = mean_a.shape[0] if mean_a.ndim == 1 else -1
    if (d < 1 or mean_b.shape != (d,) or cov_a.shape != (d, d) or cov_b.shape != (d, d)):
        raise ValueError(
            "mean_a and mean_b must have shape (d,) and cov_a and cov_b shape (d, d). "
            f"Received: mean_a.shape={mean_a.shape}, cov_a.shape={cov_a.shape}, "
            f"mean_b.shape={mean_b.shape}, cov_b.shape={cov_b.shape}"
        )
    root_a = _psd_sqrt((cov_a + cov_a.T) / 2)
    cross = root_a @ cov_b @ root_a
    trace_root = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((cross + cross.T) / 2), 0.0, None)))
    diff = mean_a - mean_b
    distance = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root
    return float(max(distance, 0.0))


def frechet_distance(features_a, features_b):
    """Fréchet distance between two sets of feature vectors (FID's formula).

    Fits a Gaussian (sample mean, sample covariance with N - 1) to each set and
    returns `gaussian_frechet_distance` between them. With features from a
    classifier's hidden layer (`judge_features`) this is the Fréchet Inception
    Distance of Heusel et al. (2017) with a smaller network. Like FID it is biased
    upwards for finite sets: two samples of the same distribution score above 0,
    so compare generators at equal set sizes, and report the distance between two
    real sets as the floor.

    Args:
        features_a: shape (N_a, d), N_a >= 2.
        features_b: shape (N_b, d), N_b >= 2.

    Returns:
        float >= 0 (0 for identical sets).

    Raises:
        ValueError: if a set is not 2-D, has fewer than 2 rows, or the feature
            sizes differ.

    Example:
        >>> import numpy as np
        >>> from aebook.generation import frechet_distance
        >>> a = np.random.default_rng(0).normal(size=(500, 3))
        >>> round(frechet_distance(a, a), 9)
        0.0
        >>> round(frechet_distance(a, a + 2.0), 6)  # a shift by (2, 2, 2): 3 * 2^2
        12.0
    """
    stats = []
    for name, features in (("features_a", features_a), ("features_b", features_b)):
        features = np.asarray(features, dtype="float64")
        if features.ndim != 2 or len(features) < 2:
            raise ValueError(f"{name} must be a 2-D array (N, d) with N >= 2. "
                             f"Received: {name}.shape={features.shape}")
        stats.append((features.mean(axis=0), np.cov(features, rowvar=False).reshape(
            features.shape[1], features.shape[1])))
    (mean_a, cov_a), (mean_b, cov_b) = stats
    if mean_a.shape != mean_b.shape:
        raise ValueError("features_a and features_b must have the same number of features. "
                         f"Received: features_a with {mean_a.shape[0]}, "
                         f"features_b with {mean_b.shape[0]}")
    return gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b)


def sample_quality(judge, images, reference=None, binarize=True):
    """The book's one score of a generator's samples: confidence, class diversity, FD.

    Args:
        judge: the digit judge (`aebook.metrics.train_digit_judge`).
        images: generated images with values in [0, 1], shape (N, 784) or
            (N, 28, 28, 1).
        reference: None, or real images (same layout rules) for the Fréchet
            distance; use a set of the same size as `images`, since the distance
            depends on the set sizes.
        binarize: threshold images (and reference) at 0.5 before the judge sees them,
            as `aebook.metrics.judge_probabilities` does.

    Returns:
        `SampleQuality(confidence, class_entropy, effective_classes, frechet)`;
        `frechet` is None without a reference.

    Raises:
        ValueError: for a bad judge, images outside [0, 1], or feature sizes that
            differ between images and reference.

    Example:
        >>> q = sample_quality(judge, samples, reference=x_test[:2000])  # doctest: +SKIP
        >>> q.confidence, q.effective_classes, q.frechet  # doctest: +SKIP
    """
    judge = _check_judge(judge)
    binarize = v.flag("binarize", binarize)
    images = _flat_images("images", images)
    probabilities = judge_probabilities(judge, images, binarize)
    entropy = class_entropy(probabilities)
    frechet = None
    if reference is not None:
        reference = _flat_images("reference", reference)
        frechet = frechet_distance(judge_features(judge, images, binarize),
                                   judge_features(judge, reference, binarize))
    return SampleQuality(confidence=float(probabilities.max(axis=1).mean()), class_entropy=entropy,
                         effective_classes=float(2.0**entropy), frechet=frechet)


def fit_code_gmm(codes, n_components=10, covariance_type="full", seed=0, reg_covar=1e-6):
    """Fits a Gaussian mixture to codes: a density to sample new codes from.

    The second stage of latent generation in miniature: the autoencoder is trained
    first and fixed, then a density is fitted to the codes of its training images
    (Ghosh et al. 2020 call this ex-post density estimation). `n_components=1` is
    a single Gaussian with a full covariance.

    Args:
        codes: codes of the training images, shape (N, latent_dim), N >= n_components.
        n_components: number of mixture components.
        covariance_type: `"full"`, `"diag"`, `"tied"` or `"spherical"`
            (scikit-learn's).
        seed: `random_state` of the k-means initialization.
        reg_covar: added to the covariances' diagonals, for stability.

    Returns:
        A fitted `sklearn.mixture.GaussianMixture`; draw from it with `sample_gmm`.

    Raises:
        ValueError: for a bad argument, or fewer codes than components.
    """
    from sklearn.mixture import GaussianMixture

    n_components = v.positive_int("n_components", n_components)
    v.choice("covariance_type", covariance_type, ("full", "diag", "tied", "spherical"))
    seed = v.seed("seed", seed, allow_none=False)
    reg_covar = v.positive_float("reg_covar", reg_covar)
    codes = np.asarray(codes, dtype="float64")
    if codes.ndim != 2 or len(codes) < n_components or not np.all(np.isfinite(codes)):
        raise ValueError(
            f"codes must be a finite 2-D array (N, latent_dim) with N >= n_components="
            f"{n_components}. Received: codes.shape={codes.shape}"
        )
    gmm = GaussianMixture(n_components=n_components, covariance_type=covariance_type,
                          reg_covar=reg_covar, random_state=seed)
    return gmm.fit(codes)


def sample_gmm(gmm, n, seed=0):
    """Draws `n` codes from a fitted Gaussian mixture with a NumPy generator.

    Unlike `GaussianMixture.sample`, which draws from the state of its
    `random_state`, the draw depends only on `seed`: the same seed gives the same
    codes however often the mixture has been sampled before.

    Args:
        gmm: a fitted `sklearn.mixture.GaussianMixture` (e.g. from `fit_code_gmm`).
        n: number of codes.
        seed: NumPy seed.

    Returns:
        float32 array of shape (n, latent_dim); decode it with `decoder.predict`.

    Raises:
        ValueError: for a bad `n` or `seed`, or a mixture that is not fitted.
    """
    n = v.positive_int("n", n)
    seed = v.seed("seed", seed, allow_none=False)
    if not hasattr(gmm, "means_") or not hasattr(gmm, "covariances_"):
        v.fail("gmm", "a fitted sklearn.mixture.GaussianMixture", gmm)
    k, d = gmm.means_.shape
    rng = np.random.default_rng(seed)
    component = rng.choice(k, size=n, p=gmm.weights_ / gmm.weights_.sum())
    covariances = {
        "full": lambda: gmm.covariances_,
        "tied": lambda: np.broadcast_to(gmm.covariances_, (k, d, d)),
        "diag": lambda: np.stack([np.diag(c) for c in gmm.covariances_]),
        "spherical": lambda: np.stack([c * np.eye(d) for c in gmm.covariances_]),
    }[gmm.covariance_type]()
    factors = np.linalg.cholesky(covariances)
    eps = rng.standard_normal((n, d))
    z = gmm.means_[component] + np.einsum("nij,nj->ni", factors[component], eps)
    return z.astype("float32")

"""`aebook.generation`: the shared sample-quality score (confidence, class entropy,
Fréchet distance) with known answers, and the Gaussian mixture over codes."""

import re

import keras
import numpy as np
import pytest
import scipy.linalg

from aebook import generation as G
from aebook.metrics import digit_likeness, judge_probabilities

# ------------------------------------------------------------------ a judge by hand


def hand_judge(gain=20.0):
    """A 10-pixel "image" classifier with known weights: class k <=> pixel k is on.

    Hidden layer: 10 ReLU units, identity weights, zero bias (features = pixels).
    Output: softmax(gain * hidden), so a one-hot image e_k has top-class probability
    e^gain / (e^gain + 9) and a blank image 0.1 for every class.
    """
    judge = keras.Sequential([keras.Input(shape=(10,)),
                              keras.layers.Dense(10, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")], name="digit_judge")
    judge.layers[0].set_weights([np.eye(10, dtype="float32"), np.zeros(10, "float32")])
    judge.layers[1].set_weights([gain * np.eye(10, dtype="float32"), np.zeros(10, "float32")])
    return judge


def one_hot_images(classes):
    return np.eye(10, dtype="float32")[np.asarray(classes)]


def test_hand_judge_has_the_parameter_count_worked_out_by_hand():
    # two Dense(10 -> 10) layers: 10 * 10 weights + 10 biases each
    assert hand_judge().count_params() == 2 * (10 * 10 + 10)


def test_sample_quality_known_answers_for_the_hand_judge():
    judge = hand_judge()
    images = one_hot_images(np.repeat([0, 1, 2, 3], 25))  # four classes, 25 images each
    q = G.sample_quality(judge, images)
    top = np.exp(20.0) / (np.exp(20.0) + 9.0)
    assert q.confidence == pytest.approx(top, rel=1e-5)
    assert q.confidence == pytest.approx(digit_likeness(judge, images), rel=1e-6)
    assert q.class_entropy == pytest.approx(2.0)  # log2(4)
    assert q.effective_classes == pytest.approx(4.0)
    assert q.frechet is None
    # the images against themselves: Fréchet distance 0
    assert G.sample_quality(judge, images, reference=images).frechet == pytest.approx(0.0, abs=1e-9)


def test_sample_quality_sees_a_missing_class_and_blank_images():
    judge = hand_judge()
    all_ten = one_hot_images(np.repeat(np.arange(10), 10))
    one_class = one_hot_images(np.zeros(100, dtype=int))
    blank = np.zeros((100, 10), dtype="float32")
    q_all = G.sample_quality(judge, all_ten, reference=all_ten)
    q_one = G.sample_quality(judge, one_class, reference=all_ten)
    q_blank = G.sample_quality(judge, blank)
    assert q_all.effective_classes == pytest.approx(10.0)
    assert q_one.class_entropy == 0.0 and q_one.effective_classes == 1.0
    assert q_blank.confidence == pytest.approx(0.1, rel=1e-5)
    # features = pixels here: every one_class image is e_0, a point mass at e_0;
    # all_ten has mean 0.1 * 1 and covariance (0.1 I - 0.01 J) * 100 / 99.
    cov = (0.1 * np.eye(10) - 0.01) * 100 / 99
    expected = G.gaussian_frechet_distance(np.eye(10)[0], np.zeros((10, 10)), np.full(10, 0.1), cov)
    assert q_one.frechet == pytest.approx(expected, rel=1e-6)
    assert q_one.frechet > 0.5


def test_sample_quality_binarizes_like_judge_probabilities():
    judge = hand_judge()
    grey = 0.6 * one_hot_images(np.arange(10))  # above 0.5: binarized to one-hot
    q = G.sample_quality(judge, grey)
    np.testing.assert_allclose(judge_probabilities(judge, grey).max(axis=1).mean(), q.confidence)
    assert q.confidence > 0.99
    assert G.sample_quality(judge, grey, binarize=False).confidence < q.confidence


def test_judge_features_are_the_hidden_activations():
    judge = hand_judge()
    images = np.random.default_rng(0).uniform(size=(7, 10)).astype("float32")
    np.testing.assert_allclose(G.judge_features(judge, images, binarize=False), images, rtol=1e-6)
    np.testing.assert_array_equal(G.judge_features(judge, images), (images > 0.5).astype("float32"))
    assert G.judge_features(judge, images).shape == (7, 10)


def test_images_may_be_given_as_image_tensors():
    judge = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    images = np.random.default_rng(1).uniform(size=(20, 2, 2, 1)).astype("float32")
    a = G.sample_quality(judge, images, reference=images[::-1])
    b = G.sample_quality(judge, images.reshape(20, 4), reference=images[::-1].reshape(20, 4))
    assert a == b
    assert G.judge_features(judge, images).shape == (20, 3)


# ------------------------------------------------------------------- Fréchet distance


def test_frechet_of_identical_sets_is_zero_and_of_a_shift_is_its_squared_length():
    a = np.random.default_rng(0).normal(size=(300, 5))
    assert G.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([1.0, -2.0, 0.0, 0.5, 3.0])
    assert G.frechet_distance(a, a + shift) == pytest.approx(shift @ shift, rel=1e-9)
    # symmetric, and blind to the order of the rows
    b = np.random.default_rng(1).normal(1.0, 2.0, size=(200, 5))
    assert G.frechet_distance(a, b) == pytest.approx(G.frechet_distance(b, a), rel=1e-9)
    assert G.frechet_distance(a[::-1], b) == pytest.approx(G.frechet_distance(a, b), rel=1e-9)


def test_gaussian_frechet_closed_forms():
    # 1-D: (m_a - m_b)^2 + (s_a - s_b)^2
    assert G.gaussian_frechet_distance([1.0], [[9.0]], [-1.0], [[1.0]]) == pytest.approx(4 + 4)
    # diagonal covariances: |m_a - m_b|^2 + sum (sqrt(a_i) - sqrt(b_i))^2
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = 3.0 + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = G.gaussian_frechet_distance(np.ones(3), np.diag(var_a), np.zeros(3), np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-12)
    # a full covariance and a scaled copy: tr(C) (1 - c)^2
    m = np.random.default_rng(2).normal(size=(4, 4))
    cov = m @ m.T + 0.1 * np.eye(4)
    assert G.gaussian_frechet_distance(np.zeros(4), cov, np.zeros(4), 9.0 * cov) == pytest.approx(
        np.trace(cov) * (1 - 3) ** 2, rel=1e-9)


def test_gaussian_frechet_matches_the_fid_formula_for_non_commuting_covariances():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 6, 6))
    cov_a, cov_b = a @ a.T, b @ b.T
    assert not np.allclose(cov_a @ cov_b, cov_b @ cov_a)
    mean_a, mean_b = rng.normal(size=(2, 6))
    fid = (np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
           - 2 * np.trace(scipy.linalg.sqrtm(cov_a @ cov_b)).real)
    assert G.gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b) == pytest.approx(fid, rel=1e-8)


def _with_moments(z, mean, cov):
    """Rows with exactly the given sample mean and sample covariance (N - 1)."""
    z = z - z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    return z @ np.linalg.cholesky(cov).T + mean


def test_frechet_distance_of_samples_is_that_of_their_gaussians():
    rng = np.random.default_rng(4)
    cov_a, cov_b = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([[1.0, -0.3], [-0.3, 0.5]])
    a = _with_moments(rng.normal(size=(50, 2)), np.array([0.0, 1.0]), cov_a)
    b = _with_moments(rng.normal(size=(80, 2)), np.array([2.0, -1.0]), cov_b)
    expected = G.gaussian_frechet_distance([0.0, 1.0], cov_a, [2.0, -1.0], cov_b)
    assert G.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_frechet_handles_singular_covariances():
    a = np.zeros((10, 3))
    a[:, 0] = np.arange(10)  # rank-1 covariance
    assert G.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert G.frechet_distance(a, np.zeros((10, 3))) == pytest.approx(
        np.sum(a.mean(axis=0) ** 2) + a[:, 0].var(ddof=1), rel=1e-9)


def test_class_entropy_known_answers():
    assert G.class_entropy(np.eye(10)) == pytest.approx(np.log2(10))
    assert G.class_entropy(np.eye(3)[[0, 0, 0, 0]]) == 0.0
    assert G.class_entropy(np.eye(2)[[0, 0, 0, 1]]) == pytest.approx(
        -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25)))


# ---------------------------------------------------------------- codes and mixtures


def two_clusters(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(-5.0, 0.5, size=(n // 3, 2)),
                           rng.normal(5.0, 1.0, size=(n - n // 3, 2))])


def test_gmm_recovers_two_clusters_and_samples_their_weights():
    gmm = G.fit_code_gmm(two_clusters(), n_components=2, seed=0)
    order = np.argsort(gmm.means_[:, 0])
    np.testing.assert_allclose(gmm.means_[order], [[-5, -5], [5, 5]], atol=0.2)
    np.testing.assert_allclose(gmm.weights_[order], [1 / 3, 2 / 3], atol=0.01)
    z = G.sample_gmm(gmm, 6000, seed=1)
    assert z.shape == (6000, 2) and z.dtype == np.float32
    assert np.mean(z[:, 0] < 0) == pytest.approx(1 / 3, abs=0.02)
    np.testing.assert_allclose(z[z[:, 0] > 0].std(axis=0), [1.0, 1.0], atol=0.08)


def test_one_component_is_the_fitted_gaussian():
    rng = np.random.default_rng(5)
    cov = np.array([[4.0, 1.5], [1.5, 1.0]])
    codes = rng.multivariate_normal([3.0, -1.0], cov, size=4000)
    gmm = G.fit_code_gmm(codes, n_components=1)
    np.testing.assert_allclose(gmm.means_[0], codes.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(gmm.covariances_[0], np.cov(codes.T, ddof=0), atol=1e-5)
    z = G.sample_gmm(gmm, 20000, seed=2)
    np.testing.assert_allclose(np.cov(z.T), cov, atol=0.15)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied", "spherical"])
def test_sample_gmm_is_seeded_for_every_covariance_type(covariance_type):
    gmm = G.fit_code_gmm(two_clusters(), n_components=2, covariance_type=covariance_type, seed=0)
    a, b = G.sample_gmm(gmm, 500, seed=3), G.sample_gmm(gmm, 500, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, G.sample_gmm(gmm, 500, seed=4))
    assert np.mean(a[:, 0] < 0) == pytest.approx(1 / 3, abs=0.07)


def test_decoded_gmm_samples_have_the_decoder_shape():
    from aebook import build_conv_autoencoder

    encoder, decoder, _ = build_conv_autoencoder(input_shape=(8, 8, 1), filters=(4,), latent_dim=3)
    codes = encoder.predict(np.random.default_rng(0).uniform(size=(40, 8, 8, 1)), verbose=0)
    z = G.sample_gmm(G.fit_code_gmm(codes, n_components=2), 5, seed=0)
    assert decoder.predict(z, verbose=0).shape == (5, 8, 8, 1)


# --------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("call, message", [
    (lambda: G.fit_code_gmm(np.zeros((5, 2)), n_components=0),
     "n_components must be a positive int. Received: n_components=0"),
    (lambda: G.fit_code_gmm(np.zeros((5, 2)), covariance_type="full_rank"),
     "covariance_type must be one of"),
    (lambda: G.fit_code_gmm(np.zeros((5, 2)), seed=-1), "seed must be an int in"),
    (lambda: G.fit_code_gmm(np.zeros((3, 2)), n_components=4), "N >= n_components=4"),
    (lambda: G.fit_code_gmm(np.zeros(5)), "codes must be a finite 2-D array"),
    (lambda: G.sample_gmm("not a mixture", 5), "gmm must be a fitted"),
    (lambda: G.sample_gmm(G.fit_code_gmm(two_clusters(), n_components=1), 0),
     "n must be a positive int. Received: n=0"),
    (lambda: G.frechet_distance(np.zeros((5, 2)), np.zeros((5, 3))), "same number of features"),
    (lambda: G.frechet_distance(np.zeros((1, 2)), np.zeros((5, 2))), "N >= 2"),
    (lambda: G.frechet_distance(np.zeros(5), np.zeros((5, 1))), "features_a must be a 2-D"),
    (lambda: G.gaussian_frechet_distance([0.0], [[1.0]], [0.0, 0.0], np.eye(2)), "shape (d,)"),
    (lambda: G.class_entropy(np.zeros(3)), "probabilities must be a non-empty 2-D"),
    (lambda: G.sample_quality("judge", np.zeros((2, 10))), "judge must be a keras.Model"),
    (lambda: G.sample_quality(hand_judge(), np.full((2, 10), 255.0)), "Divide by 255"),
    (lambda: G.sample_quality(hand_judge(), np.zeros((2, 10)), reference=np.full((2, 10), 2.0)),
     "reference must have values in [0, 1]"),
    (lambda: G.sample_quality(hand_judge(), np.zeros((2, 10)), binarize="yes"), "binarize must be"),
])
def test_bad_arguments_raise_the_house_message(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()

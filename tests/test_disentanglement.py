"""aebook.metrics.mutual_information_gap on synthetic codes whose answer is known."""

import math

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from aebook.metrics import code_factor_mutual_information, mutual_information_gap
from aebook.sprites import make_sprites

N = 20_000


@pytest.fixture(scope="module")
def factors():
    """Independent discrete factors on grids of 3, 6, 10, 10 and 10 values (the sprites')."""
    return make_sprites(N, image_size=16, seed=0)[1]


def _symmetric_factors(n=N, k=4, seed=0):
    """k independent factors, each uniform on {-1.5, -0.5, 0.5, 1.5} (symmetric about 0)."""
    return np.random.default_rng(seed).integers(0, 4, size=(n, k)) - 1.5


def test_codes_equal_to_the_factors_give_one(factors):
    perm = [3, 0, 4, 1, 2]
    codes = 2.5 * factors[:, perm].astype("float64") - 7.0  # permuted, rescaled, shifted
    mig, gaps = mutual_information_gap(codes, factors, per_factor=True)
    # each factor fills its own code dimension (<= 10 values in 20 bins, one value per
    # bin); the runner-up is an independent factor, with only the estimator's bias
    assert mig > 0.99 and np.all(gaps > 0.99), gaps
    assert mig <= 1.0 + 1e-12


def test_equally_mixed_codes_give_zero():
    f = _symmetric_factors()
    hadamard = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], float)
    codes = f @ hadamard.T  # every code dimension holds every factor with weight +-1
    mig, gaps = mutual_information_gap(codes, f, per_factor=True)
    assert mig < 0.02 and np.all(gaps < 0.04), gaps
    # the information is there, only spread out: each code dimension holds a lot of it
    mi = code_factor_mutual_information(codes, f)
    assert mi.min() > 0.05


def test_rotated_code_by_45_degrees_gives_zero():
    f = _symmetric_factors(k=2)
    codes = f @ np.array([[1.0, 1.0], [-1.0, 1.0]]) / np.sqrt(2)
    assert mutual_information_gap(codes, f) < 0.02


def test_duplicated_code_has_zero_gap_for_its_factor():
    f = _symmetric_factors(k=2)
    codes = np.stack([f[:, 0], f[:, 0], f[:, 1]], axis=1)
    mig, gaps = mutual_information_gap(codes, f, per_factor=True)
    assert gaps[0] == 0.0  # two dimensions carry factor 0 equally
    assert gaps[1] > 0.99
    assert mig == pytest.approx(gaps.mean())


def test_independent_noise_codes_give_zero(factors):
    codes = np.random.default_rng(1).standard_normal((N, 6))
    mig = mutual_information_gap(codes, factors)
    assert 0.0 <= mig < 0.01
    # each MI is the estimator's bias, about (n_bins - 1)(classes - 1) / (2 N) nats
    mi = code_factor_mutual_information(codes, factors)
    classes = np.array([3, 6, 10, 10, 10])
    bias = 19 * (classes - 1) / (2 * N)
    assert np.all(mi < 3 * bias), (mi, bias)


def test_half_a_factor_gives_half_a_gap():
    """A code that holds 1 bit of a 2-bit factor: gap = ln 2 / ln 4 = 0.5."""
    f = np.tile(np.arange(4), 500)
    codes = np.stack([f // 2, np.zeros_like(f)], axis=1)
    assert mutual_information_gap(codes, f) == pytest.approx(0.5, abs=1e-12)


def test_mutual_information_matches_scikit_learn():
    rng = np.random.default_rng(2)
    f = rng.integers(0, 5, size=(3000, 2))
    codes = np.stack([f[:, 0] + rng.normal(0, 1.0, 3000), rng.normal(size=3000)], axis=1)
    mi = code_factor_mutual_information(codes, f, n_bins=7)
    for j in range(2):
        edges = np.histogram_bin_edges(codes[:, j], bins=7)
        binned = np.digitize(codes[:, j], edges[1:-1])
        assert binned.min() == 0 and binned.max() == 6
        for k in range(2):
            assert mi[j, k] == pytest.approx(mutual_info_score(binned, f[:, k]), abs=1e-12)


def test_invariant_to_permuting_code_dimensions(factors):
    rng = np.random.default_rng(3)
    codes = factors @ rng.normal(size=(5, 7)) + rng.normal(size=(N, 7))
    perm = rng.permutation(7)
    mig, gaps = mutual_information_gap(codes, factors, per_factor=True)
    mig_p, gaps_p = mutual_information_gap(codes[:, perm], factors, per_factor=True)
    assert mig_p == pytest.approx(mig, abs=1e-12)
    np.testing.assert_allclose(gaps_p, gaps, atol=1e-12)
    assert 0.0 < mig < 1.0
    # permuting the factors permutes the gaps
    _, gaps_f = mutual_information_gap(codes, factors[:, ::-1], per_factor=True)
    np.testing.assert_allclose(gaps_f, gaps[::-1], atol=1e-12)


def test_factor_values_are_labels_and_a_1d_factor_works():
    f = np.tile(np.array([0.1, 7.0, -3.0]), 100)
    codes = np.stack([f, np.zeros_like(f)], axis=1)
    assert mutual_information_gap(codes, f) == pytest.approx(1.0, abs=1e-12)
    assert mutual_information_gap(codes, f.astype(str)) == pytest.approx(1.0, abs=1e-12)
    # entropy normalization: a factor with 3 equally likely values has H = ln 3
    assert code_factor_mutual_information(codes, f)[0, 0] == pytest.approx(math.log(3))


def test_bad_arguments_raise_with_the_house_message():
    f = np.array([0, 1, 0, 1])
    codes = np.stack([f, f], axis=1)
    with pytest.raises(ValueError, match=r"^n_bins must be an int >= 2\. Received: n_bins=1"):
        mutual_information_gap(codes, f, n_bins=1)
    with pytest.raises(ValueError, match=r"^n_bins must be a positive int\. Received: n_bins=2\.5"):
        mutual_information_gap(codes, f, n_bins=2.5)
    with pytest.raises(ValueError, match=r"^codes must be a 2-D numeric array .* shape \(4,\)"):
        mutual_information_gap(f, f)
    with pytest.raises(ValueError, match=r"^codes must have at least 2 columns .* shape \(4, 1\)"):
        mutual_information_gap(codes[:, :1], f)
    with_nan = codes.astype("float64")
    with_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^codes must be finite .* 1 non-finite"):
        mutual_information_gap(with_nan, f)
    with pytest.raises(ValueError, match=r"^factors must be a 1-D or 2-D array with one row per row"):
        mutual_information_gap(codes, f[:3])
    with pytest.raises(ValueError, match=r"^factors\[:, 1\] must take at least two values"):
        mutual_information_gap(codes, np.stack([f, np.ones(4)], axis=1))
    with pytest.raises(ValueError, match=r"^per_factor must be True or False\. Received: per_factor=1"):
        mutual_information_gap(codes, f, per_factor=1)

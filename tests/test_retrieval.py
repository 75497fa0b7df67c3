"""aebook.retrieval (nearest neighbours by code, precision@k) and plotting.plot_neighbours."""

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from aebook import plotting
from aebook.retrieval import (
    METRICS,
    RetrievalReport,
    nearest_neighbours,
    precision_at_k,
    retrieval_report,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _clusters(n_per=6, seed=0):
    """Two tight, far-apart clusters in 3-D, labelled 0 and 1."""
    rng = np.random.default_rng(seed)
    codes = np.concatenate([rng.normal(0.0, 0.1, (n_per, 3)), rng.normal(10.0, 0.1, (n_per, 3))])
    return codes, np.repeat([0, 1], n_per)


def _brute_force(database, queries, k, metric):
    """k nearest database rows of every query by a full NumPy distance matrix."""
    diff = queries[:, None, :] - database[None, :, :]
    if metric == "euclidean":
        dist = np.sqrt((diff**2).sum(-1))
    elif metric == "manhattan":
        dist = np.abs(diff).sum(-1)
    else:
        unit_q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        unit_d = database / np.linalg.norm(database, axis=1, keepdims=True)
        dist = 1.0 - unit_q @ unit_d.T
    return np.argsort(dist, axis=1, kind="stable")[:, :k]


# ---------------------------------------------------------------- known answers


def test_separated_clusters_give_precision_one():
    codes, labels = _clusters()
    for k in range(1, 6):  # 5 other members in each cluster of 6
        assert precision_at_k(nearest_neighbours(codes, k=k), labels, labels) == 1.0
    # the 6th neighbour of a leave-one-out query is in the other cluster: 5/6 same label
    assert precision_at_k(nearest_neighbours(codes, k=6), labels, labels) == pytest.approx(5 / 6)


def test_constructed_case_gives_exactly_one_half():
    database = np.array([[0.0], [0.1], [10.0], [10.1]])
    database_labels = np.array([0, 1, 1, 0])
    queries = np.array([[0.04], [10.04]])
    query_labels = np.array([0, 1])
    neighbours = nearest_neighbours(database, queries, k=4)
    np.testing.assert_array_equal(neighbours, [[0, 1, 2, 3], [2, 3, 1, 0]])
    assert precision_at_k(neighbours, database_labels, query_labels, k=1) == 1.0
    assert precision_at_k(neighbours, database_labels, query_labels, k=2) == 0.5
    # k=3: query 0 hits 1 of 3 (labels 0, 1, 1), query 1 hits 2 of 3 (1, 0, 1)
    assert precision_at_k(neighbours, database_labels, query_labels, k=3) == pytest.approx(0.5)
    assert precision_at_k(neighbours, database_labels, query_labels) == 0.5  # k=None: all 4


def test_precision_counts_per_query_and_averages():
    # query 0: 2 of 3 hits, query 1: 0 of 3 -> (2/3 + 0) / 2 = 1/3
    neighbours = np.array([[0, 1, 2], [0, 1, 3]])
    assert precision_at_k(neighbours, [7, 7, 8, 7], [7, 9]) == pytest.approx(1 / 3)
    assert precision_at_k(neighbours, [7, 7, 8, 7], [7, 9], k=2) == 0.5


def test_labels_may_be_strings():
    neighbours = np.array([[1, 0]])
    assert precision_at_k(neighbours, ["cat", "dog"], ["dog"], k=1) == 1.0


# ---------------------------------------------------------------- leave one out


def test_a_query_is_never_its_own_neighbour():
    codes, _ = _clusters(n_per=10)
    neighbours = nearest_neighbours(codes, k=7)
    assert neighbours.shape == (20, 7)
    assert not (neighbours == np.arange(20)[:, None]).any()
    assert all(len(set(row)) == 7 for row in neighbours.tolist())


def test_leave_one_out_equals_searching_the_database_without_the_query():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(40, 4))
    neighbours = nearest_neighbours(codes, k=5)
    for i in range(len(codes)):
        rest = np.delete(np.arange(len(codes)), i)
        expected = rest[nearest_neighbours(codes[rest], codes[i:i + 1], k=5)[0]]
        np.testing.assert_array_equal(neighbours[i], expected)


def test_exact_duplicates_are_neighbours_but_the_query_itself_is_not():
    database = np.array([[0.0], [0.0], [5.0], [5.5]])
    np.testing.assert_array_equal(nearest_neighbours(database, k=1), [[1], [0], [3], [2]])
    same = np.zeros((5, 2))  # every item at distance 0 from every other
    neighbours = nearest_neighbours(same, k=2)
    assert not (neighbours == np.arange(5)[:, None]).any()
    assert all(len(set(row)) == 2 for row in neighbours.tolist())


# ---------------------------------------------------------------- brute force


@pytest.mark.parametrize("metric", METRICS)
def test_agrees_with_a_numpy_brute_force_search(metric):
    rng = np.random.default_rng(2)
    database, queries = rng.normal(size=(200, 5)), rng.normal(size=(30, 5))
    neighbours = nearest_neighbours(database, queries, k=8, metric=metric)
    np.testing.assert_array_equal(neighbours, _brute_force(database, queries, 8, metric))


def test_precision_agrees_with_a_loop_over_queries():
    rng = np.random.default_rng(3)
    database, queries = rng.normal(size=(300, 6)), rng.normal(size=(50, 6))
    database_labels, query_labels = rng.integers(0, 3, 300), rng.integers(0, 3, 50)
    neighbours = nearest_neighbours(database, queries, k=10)
    expected = np.mean([np.mean(database_labels[row] == label)
                        for row, label in zip(neighbours, query_labels, strict=True)])
    assert precision_at_k(neighbours, database_labels, query_labels) == pytest.approx(expected)


def test_report_matches_the_parts_and_times_the_search():
    rng = np.random.default_rng(4)
    database, queries = rng.normal(size=(120, 4)), rng.normal(size=(25, 4))
    database_labels, query_labels = rng.integers(0, 2, 120), rng.integers(0, 2, 25)
    report = retrieval_report(database, database_labels, queries, query_labels, ks=(1, 3, 9),
                              repeats=2)
    assert isinstance(report, RetrievalReport)
    neighbours = nearest_neighbours(database, queries, k=9)
    np.testing.assert_array_equal(report.neighbours, neighbours)
    assert report.precision == {
        k: precision_at_k(neighbours, database_labels, query_labels, k=k) for k in (1, 3, 9)}
    assert report.index_seconds >= 0 and report.query_seconds > 0


def test_cosine_ignores_the_length_of_a_code():
    database = np.array([[1.0, 1.0], [5.0, 0.0]])
    queries = np.array([[10.0, 10.0]])  # same direction as item 0, nearer to item 1
    np.testing.assert_array_equal(nearest_neighbours(database, queries, 1, "cosine"), [[0]])
    np.testing.assert_array_equal(nearest_neighbours(database, queries, 1), [[1]])


# ---------------------------------------------------------------- bad arguments


def _raises(message, function, *args, **kwargs):
    with pytest.raises(ValueError, match=re.escape(message)):
        function(*args, **kwargs)


def test_nearest_neighbours_rejects_bad_arguments():
    codes = np.zeros((4, 2))
    _raises("k must be a positive int. Received: k=0", nearest_neighbours, codes, k=0)
    _raises("k must be at most the number of database items - 1 (no query is its own "
            "neighbour) = 3. Received: k=4", nearest_neighbours, codes, k=4)
    _raises("k must be at most the number of database items = 4. Received: k=5",
            nearest_neighbours, codes, np.zeros((1, 2)), k=5)
    _raises("metric must be one of 'euclidean', 'cosine', 'manhattan'. Received: "
            "metric='hamming'", nearest_neighbours, codes, k=1, metric="hamming")
    _raises("query_codes.shape must be (Q, 2), the code size of database_codes. Received: "
            "query_codes.shape=(1, 3)", nearest_neighbours, codes, np.zeros((1, 3)), k=1)
    _raises("database_codes.shape must be (N, D)", nearest_neighbours, np.zeros(4), k=1)
    _raises("database_codes.shape must be (N, D)", nearest_neighbours, np.zeros((0, 2)), k=1)
    _raises("database_codes must be finite", nearest_neighbours, np.array([[0.0], [np.nan]]), k=1)
    _raises("database_codes must be a 2-D array of numbers", nearest_neighbours,
            np.array([["a"], ["b"]]), k=1)


def test_precision_at_k_rejects_bad_arguments():
    neighbours = np.array([[0, 1], [1, 0]])
    _raises("k must be at most the number of neighbours given, 2. Received: k=3",
            precision_at_k, neighbours, [0, 1], [0, 1], k=3)
    _raises("k must be a positive int. Received: k=0", precision_at_k, neighbours, [0, 1], [0, 1],
            k=0)
    _raises("query_labels.shape must be (2,), one label per item. Received: "
            "query_labels.shape=(3,)", precision_at_k, neighbours, [0, 1], [0, 1, 1])
    _raises("neighbours must be indices in [0, 0]", precision_at_k, neighbours, [0], [0, 1])
    _raises("neighbours must be an array of int indices", precision_at_k,
            neighbours.astype(float), [0, 1], [0, 1])
    _raises("neighbours.shape must be (Q, K)", precision_at_k, np.array([0, 1]), [0, 1], [0])


def test_retrieval_report_rejects_bad_arguments():
    codes, labels = np.zeros((4, 2)), np.zeros(4)
    _raises("repeats must be a positive int. Received: repeats=0", retrieval_report,
            codes, labels, codes, labels, repeats=0)
    _raises("ks must be ints of at most the number of database items, 4. Received: ks=(1, 5)",
            retrieval_report, codes, labels, codes, labels, ks=(1, 5))
    _raises("ks must be a list or tuple of positive ints", retrieval_report, codes, labels, codes,
            labels, ks=(0,))
    _raises("database_labels.shape must be (4,), one label per item", retrieval_report,
            codes, labels[:3], codes, labels)


# ---------------------------------------------------------------- plot


def test_plot_neighbours_shows_query_then_neighbours_and_frames_mistakes(x_flat):
    database = x_flat[:6]
    neighbours = np.array([[1, 2, 3], [5, 4, 0]])
    fig = plotting.plot_neighbours(x_flat[[0, 3]], database, neighbours, n=3,
                                   row_labels=["AE", "PCA"], query_labels=[1, 2],
                                   database_labels=[1, 1, 2, 2, 2, 1])
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 4
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), x_flat[0].reshape(28, 28))
    np.testing.assert_array_equal(fig.axes[5].images[0].get_array(), database[5].reshape(28, 28))
    assert fig.axes[4].get_ylabel() == "PCA"
    red = [ax.spines["left"].get_visible() for ax in fig.axes]
    # row 0 (label 1): neighbours labelled 1, 2, 2; row 1 (label 2): 1, 2, 1
    assert red == [True, False, True, True, True, True, False, True]


def test_plot_neighbours_rejects_bad_arguments(x_flat):
    neighbours = np.array([[1, 2]])
    _raises("n must be at most the number of neighbours given, 2. Received: n=3",
            plotting.plot_neighbours, x_flat[:1], x_flat[:4], neighbours, n=3)
    _raises("neighbours must be indices in [0, 3]", plotting.plot_neighbours, x_flat[:1],
            x_flat[:4], np.array([[1, 9]]), n=2)
    _raises("neighbours must be an int array (R, K) with R = 2 rows", plotting.plot_neighbours,
            x_flat[:2], x_flat[:4], neighbours, n=2)
    _raises("query_labels must be given together with database_labels", plotting.plot_neighbours,
            x_flat[:1], x_flat[:4], neighbours, n=2, query_labels=[0])
    _raises("row_labels must be a list of 1 titles", plotting.plot_neighbours, x_flat[:1],
            x_flat[:4], neighbours, n=2, row_labels=["a", "b"])

"""Retrieval by codes: nearest neighbours in a code space, and precision@k.

Content-based retrieval answers "show me the items most like this one" by
comparing representations: the query is encoded, and the database items whose
codes lie nearest are returned. An autoencoder's codes, a VAE's means, PCA
coordinates and the raw inputs are all candidate representations; precision@k
(the fraction of the k items returned that share the query's label) measures how
well each one puts similar items together.

The search is scikit-learn's `NearestNeighbors` with exact, brute-force
distances, so the time it takes depends on the number of items and the code
size, and never on how well a tree index happens to suit the data.

Example:
    >>> import numpy as np
    >>> from aebook.retrieval import nearest_neighbours, precision_at_k
    >>> database = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> labels = np.array([0, 0, 1, 1])
    >>> nearest_neighbours(database, np.array([[0.02], [5.2]]), k=2)
    array([[0, 1],
           [3, 2]])
    >>> nearest_neighbours(database, k=1)  # each item's nearest *other* item
    array([[1],
           [0],
           [3],
           [2]])
    >>> precision_at_k(nearest_neighbours(database, k=3), labels, labels)
    0.3333333333333333
"""

from typing import NamedTuple

import numpy as np
from sklearn.neighbors import NearestNeighbors

from aebook import validation as v
from aebook.training import Timer

__all__ = [
    "METRICS",
    "RetrievalReport",
    "nearest_neighbours",
    "precision_at_k",
    "retrieval_report",
]

METRICS = ("euclidean", "cosine", "manhattan")
"""Distances `nearest_neighbours` accepts (scikit-learn's names)."""


def _codes(name, codes):
    """Returns `codes` as a finite 2-D float array (N, D) with N >= 1."""
    x = np.asarray(codes)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        v.fail(name, "a 2-D array of numbers (N, D)", f"array with dtype {x.dtype}")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        v.fail(f"{name}.shape", "(N, D) with N >= 1 and D >= 1", x.shape)
    x = x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)
    if not np.all(np.isfinite(x)):
        v.fail(name, "finite (no nan or inf)", f"array with {int(np.sum(~np.isfinite(x)))} "
                                                   "non-finite values")
    return x


def _labels(name, labels, n):
    """Returns `labels` as a 1-D array of length `n`."""
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != n:
        v.fail(f"{name}.shape", f"({n},), one label per item", y.shape)
    return y


def nearest_neighbours(database_codes, query_codes=None, k=10, metric="euclidean"):
    """Indices of the `k` database items nearest to each query, nearest first.

    Exact search with scikit-learn's `NearestNeighbors(algorithm="brute")`.

    Args:
        database_codes: array (N, D): one code per database item.
        query_codes: array (Q, D), or None to use every database item as a query;
            each item is then left out of its own neighbours (the "leave one out"
            retrieval of a collection against itself), even when another item
            is an exact duplicate at distance 0.
        k: number of neighbours per query (at most N, or N - 1 when
            `query_codes` is None).
        metric: one of `METRICS`: `"euclidean"`, `"cosine"` (1 - cosine
            similarity) or `"manhattan"`.

    Returns:
        int array (Q, k) (or (N, k)) of row indices into `database_codes`,
        ordered by increasing distance.

    Raises:
        ValueError: for codes that are not finite 2-D numbers, query and database
            codes of different sizes D, a bad `k` or an unknown `metric`.
    """
    database = _codes("database_codes", database_codes)
    k = v.positive_int("k", k)
    metric = v.choice("metric", metric, METRICS)
    leave_one_out = query_codes is None
    available = len(database) - leave_one_out
    if k > available:
        within = "the number of database items" + (" - 1 (no query is its own neighbour)"
                                                     if leave_one_out else "")
        v.fail("k", f"at most {within} = {available}", k)
    if leave_one_out:
        queries = database
    else:
        queries = _codes("query_codes", query_codes)
        if queries.shape[1] != database.shape[1]:
            v.fail("query_codes.shape", f"(Q, {database.shape[1]}), the code size of database_codes",
                   queries.shape)
    index = NearestNeighbors(n_neighbors=k + leave_one_out, metric=metric, algorithm="brute")
    index.fit(database)
    neighbours = index.kneighbors(queries, return_distance=False)
    if not leave_one_out:
        return neighbours
    # Drop each query's own index; where a duplicate pushed it out of the k + 1, drop the last.
    own = neighbours == np.arange(len(queries))[:, None]
    own[~own.any(axis=1), -1] = True
    return neighbours[~own].reshape(len(queries), k)


def precision_at_k(neighbours, database_labels, query_labels, k=None):
    """Mean fraction of each query's first `k` neighbours that share its label.

    In symbols, `precision@k = (1 / Q) * sum_q (1 / k) * #{j <= k : y[n[q, j]] == y[q]}`
    for Q queries q with labels `y[q]` and neighbours `n[q, j]`.

    Args:
        neighbours: int array (Q, K) of database indices, nearest first (the
            output of `nearest_neighbours`).
        database_labels: array (N,): the label of each database item.
        query_labels: array (Q,): the label of each query.
        k: how many neighbours to count (1 <= k <= K); None counts all K, so that
            one search with the largest k gives the whole precision@k curve.

    Returns:
        float in [0, 1].

    Raises:
        ValueError: for neighbours that are not a non-empty 2-D int array of valid
            indices, labels of the wrong length, or a bad `k`.
    """
    n = np.asarray(neighbours)
    if n.ndim != 2 or n.size == 0:
        v.fail("neighbours.shape", "(Q, K) with Q >= 1 and K >= 1", n.shape)
    if not np.issubdtype(n.dtype, np.integer):
        v.fail("neighbours", "an array of int indices", f"array with dtype {n.dtype}")
    database_labels = np.asarray(database_labels)
    if database_labels.ndim != 1:
        v.fail("database_labels.shape", "(N,), one label per database item", database_labels.shape)
    if n.min() < 0 or n.max() >= len(database_labels):
        v.fail("neighbours", f"indices in [0, {len(database_labels) - 1}] (rows of the database)",
               f"indices in [{n.min()}, {n.max()}]")
    query_labels = _labels("query_labels", query_labels, len(n))
    k = n.shape[1] if k is None else v.positive_int("k", k)
    if k > n.shape[1]:
        v.fail("k", f"at most the number of neighbours given, {n.shape[1]}", k)
    hits = database_labels[n[:, :k]] == query_labels[:, None]
    return float(hits.mean())


class RetrievalReport(NamedTuple):
    """What `retrieval_report` measured for one representation.

    Attributes:
        precision: dict k -> precision@k.
        neighbours: int array (Q, max k) of database indices, nearest first.
        index_seconds: wall time to build the index (`NearestNeighbors.fit`).
        query_seconds: wall time to find the neighbours of all Q queries (the
            fastest of `repeats` searches).
    """

    precision: dict
    neighbours: np.ndarray
    index_seconds: float
    query_seconds: float


def retrieval_report(database_codes, database_labels, query_codes, query_labels, ks=(1, 5, 10),
                     metric="euclidean", repeats=1):
    """Retrieves the nearest database items of every query, timed, and scores them.

    One exact search for the largest k in `ks` (scikit-learn's `NearestNeighbors`,
    brute force), then precision@k for every k in `ks`. The times are wall-clock
    (`aebook.training.Timer`): compare them only with times measured in the same
    run. With `repeats` > 1 the search runs that many times and the fastest is
    reported, which filters out moments when other programs held the CPU.

    Args:
        database_codes: array (N, D).
        database_labels: array (N,).
        query_codes: array (Q, D) (the queries are not in the database).
        query_labels: array (Q,).
        ks: positive ints, each at most N.
        metric: one of `METRICS`.
        repeats: number of timed searches (positive int); the fastest counts.

    Returns:
        `RetrievalReport(precision, neighbours, index_seconds, query_seconds)`.

    Raises:
        ValueError: for a bad argument (see `nearest_neighbours`).

    Example:
        >>> import numpy as np
        >>> codes = np.array([[0.0, 0.0], [0.0, 1.0], [9.0, 9.0], [9.0, 8.0]])
        >>> report = retrieval_report(codes, [0, 0, 1, 1], codes[[0, 3]] + 0.1, [0, 1], ks=(1, 2))
        >>> report.precision
        {1: 1.0, 2: 1.0}
    """
    ks = v.positive_int_tuple("ks", ks)
    database = _codes("database_codes", database_codes)
    queries = _codes("query_codes", query_codes)
    database_labels = _labels("database_labels", database_labels, len(database))
    query_labels = _labels("query_labels", query_labels, len(queries))
    metric = v.choice("metric", metric, METRICS)
    repeats = v.positive_int("repeats", repeats)
    k_max = max(ks)
    if k_max > len(database):
        v.fail("ks", f"ints of at most the number of database items, {len(database)}", ks)
    if queries.shape[1] != database.shape[1]:
        v.fail("query_codes.shape", f"(Q, {database.shape[1]}), the code size of database_codes",
               queries.shape)
    index = NearestNeighbors(n_neighbors=k_max, metric=metric, algorithm="brute")
    with Timer() as index_timer:
        index.fit(database)
    query_seconds = []
    for _ in range(repeats):
        with Timer() as query_timer:
            neighbours = index.kneighbors(queries, return_distance=False)
        query_seconds.append(query_timer.seconds)
    precision = {k: precision_at_k(neighbours, database_labels, query_labels, k=k) for k in ks}
    return RetrievalReport(precision, neighbours, index_timer.seconds, min(query_seconds))

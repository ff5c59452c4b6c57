"""Agreement between models' neighbour lists: mean Jaccard index and a permutation test."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import scipy.sparse as sp

from ..embedding import Neighbours
from ..seeds import derive_seed

#: Items sampled for each pair's permutation test (the reported mean uses every item).
PAIR_TEST_ITEMS = 2000
#: Largest overlap table (sampled items x items) a pair test builds.
MAX_TABLE_CELLS = 1 << 27


def check_lists(nb: Neighbours) -> np.ndarray:
    """The ``(n, k)`` int64 indices of ``nb``, after checking every row lists distinct items
    other than the row's own item (what the null model's exact distribution assumes)."""
    idx = np.asarray(nb.indices, dtype=np.int64)
    n = len(nb.item_ids)
    if idx.ndim != 2 or idx.shape[0] != n:
        raise ValueError(f"{nb.model}: neighbour indices of shape {idx.shape} for {n} items")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{nb.model}: neighbour index out of range")
    s = np.sort(idx, axis=1)
    if np.any(s[:, 1:] == s[:, :-1]):
        raise ValueError(f"{nb.model}: a neighbour list repeats an item")
    if np.any(idx == np.arange(n)[:, None]):
        raise ValueError(f"{nb.model}: an item is listed as its own neighbour")
    return idx


def jaccard_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Jaccard index of two lists-of-sets.

    Parameters
    ----------
    a, b:
        ``(r, ka)`` and ``(r, kb)`` integer arrays; each row holds distinct values.

    Returns
    -------
    numpy.ndarray
        ``(r,)`` float64, ``|a_i ∩ b_i| / |a_i ∪ b_i|``.
    """
    ka, kb = a.shape[1], b.shape[1]
    both = np.sort(np.concatenate([a, b], axis=1), axis=1)
    inter = np.count_nonzero(both[:, 1:] == both[:, :-1], axis=1)
    return inter / (ka + kb - inter)


def jaccard_matrix(neighbours: Mapping[str, Neighbours]):
    """Mean Jaccard index of every pair of models' neighbour lists.

    Returns
    -------
    names:
        The model names, in the mapping's order.
    mean:
        ``(m, m)`` float64, symmetric, diagonal 1: mean over items of the per-item Jaccard.
    per_item:
        ``{(a, b): (n,) float64}`` for every pair ``a`` before ``b`` in ``names``.
    """
    names = list(neighbours)
    lists = {name: check_lists(nb) for name, nb in neighbours.items()}
    _check_aligned(neighbours)
    m = len(names)
    mean = np.eye(m)
    per_item: dict[tuple[str, str], np.ndarray] = {}
    for x in range(m):
        for y in range(x + 1, m):
            j = jaccard_rows(lists[names[x]], lists[names[y]])
            per_item[(names[x], names[y])] = j
            mean[x, y] = mean[y, x] = float(j.mean())
    return names, mean, per_item


def _check_aligned(neighbours: Mapping[str, Neighbours]) -> None:
    ids = None
    for name, nb in neighbours.items():
        if ids is None:
            ids = tuple(nb.item_ids)
        elif tuple(nb.item_ids) != ids:
            raise ValueError(f"{name}: neighbour lists are not over the same items as the others")


def _incidence(lists: np.ndarray, n: int) -> sp.csr_matrix:
    r, k = lists.shape
    return sp.csr_matrix((np.ones(r * k, dtype=np.float32), lists.ravel(), np.arange(0, r * k + 1, k)),
                         shape=(r, n))


def test_items(n: int, items: int = PAIR_TEST_ITEMS) -> int:
    """Items sampled by :func:`pair_p_value` for ``n`` items (its overlap table stays <= 128 MB)."""
    return max(1, min(items, n, MAX_TABLE_CELLS // max(n, 1)))


def pair_p_value(a: np.ndarray, b: np.ndarray, permutations: int, seed: int,
                 items: int = PAIR_TEST_ITEMS, b_transposed: sp.csr_matrix | None = None
                 ) -> tuple[float, float, float]:
    """Permutation test of "model B's lists are unrelated to model A's".

    The statistic is the mean Jaccard over a fixed random sample ``S`` of items
    (:func:`test_items`; all items when there are few); each permutation gives item ``i`` the
    list B holds for another item (B's rows shuffled across items), which keeps B's hubs and
    list structure but breaks the item correspondence. p = (1 + #{T_perm >= T_obs}) /
    (1 + permutations). Sampling items keeps the test fast and exact: the observed statistic is
    one of the exchangeable draws under the null.

    The overlaps ``|A_i ∩ B_j|`` for ``i`` in ``S`` and every ``j`` come from one sparse product
    (incidence of A_S times incidence of B transposed) laid out as a small dense table, so a
    permutation costs one lookup per sampled item. ``b_transposed`` (``_incidence(b, n).T`` as
    csr) can be passed to reuse it across pairs.

    Returns
    -------
    (p_value, null_mean, null_sd) of the sampled statistic.
    """
    n, ka = a.shape
    kb = b.shape[1]
    g = np.random.default_rng(seed)
    s = np.sort(g.choice(n, size=test_items(n, items), replace=False))
    bt = b_transposed if b_transposed is not None else _incidence(b, n).T.tocsr()
    overlap = (_incidence(a[s], n) @ bt).tocoo()
    table = np.zeros((len(s), n), dtype=np.uint8 if min(ka, kb) < 256 else np.uint16)
    table[overlap.row, overlap.col] = overlap.data  # a sparse product has no duplicate entries
    jac = (np.arange(min(ka, kb) + 1) / (ka + kb - np.arange(min(ka, kb) + 1)))
    rows = np.arange(len(s))
    observed = float(jac[table[rows, s]].mean())
    cols = np.stack([g.choice(n, size=len(s), replace=False) for _ in range(permutations)])
    stats = jac[table[rows[None, :], cols]].mean(axis=1)
    p = (1 + np.count_nonzero(stats >= observed - 1e-12)) / (1 + permutations)
    return float(p), float(stats.mean()), float(stats.std(ddof=1)) if permutations > 1 else 0.0


def pair_tests(names: list[str], lists: Mapping[str, np.ndarray], permutations: int,
               seed: int) -> np.ndarray:
    """``(m, m)`` symmetric matrix of :func:`pair_p_value` p-values (diagonal: a model vs
    itself, i.e. the smallest attainable p)."""
    m = len(names)
    out = np.zeros((m, m))
    n = next(iter(lists.values())).shape[0] if lists else 0
    transposed = {name: _incidence(lists[name], n).T.tocsr() for name in names}
    for x in range(m):
        for y in range(x, m):
            sd = derive_seed(seed, "jaccard-test", names[x], names[y])
            out[x, y] = out[y, x] = pair_p_value(lists[names[x]], lists[names[y]], permutations, sd,
                                                 b_transposed=transposed[names[y]])[0]
    return out

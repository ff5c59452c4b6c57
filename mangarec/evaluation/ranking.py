"""Top-k ranking metrics on held-out positives, with bootstrap intervals over users.

A *scorer* maps a block of user rows to their ``(rows, n_items)`` scores; :func:`top_k` ranks
every evaluated user's unseen items (training ratings excluded; ties by ``Catalog.tie_order``,
most popular first) and :func:`score` gives P@k, R@k, nDCG@k per user and catalogue coverage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: List length of every figure.
K = 10
#: Bootstrap resamples of the users for each interval.
BOOTSTRAP = 1000
#: Users scored per block (bounds the dense score block to BLOCK × n_items float64).
BLOCK = 256

#: ``scorer(user rows (b,) int64) -> (b, n_items) float64`` scores.
Scorer = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Interval:
    """A mean over users and its bootstrap 95 % interval."""

    mean: float
    lo: float
    hi: float


@dataclass(frozen=True)
class Metrics:
    """One method's figures on one split.

    ``precision``/``recall``/``ndcg`` are @:data:`K` with intervals; ``coverage`` is the share
    of the catalogue that appears in some user's list; ``users`` how many users were scored.
    """

    precision: Interval
    recall: Interval
    ndcg: Interval
    coverage: float
    users: int


def top_k(scorer: Scorer, exclude: sp.csr_matrix, users: np.ndarray, tie_order: np.ndarray, k: int = K) -> np.ndarray:
    """Each user's ``k`` best items not in its ``exclude`` row.

    Parameters
    ----------
    exclude:
        ``(all users, n_items)`` csr: stored entries are never recommended.
    users:
        ``(u,)`` int64 rows to rank.
    tie_order:
        ``(n_items,)`` rank per item; equal scores go to the lower rank.

    Returns
    -------
    numpy.ndarray
        ``(u, k)`` int64 item positions, best first.
    """
    n = exclude.shape[1]
    k = min(k, n)
    out = np.zeros((len(users), k), dtype=np.int64)
    tie = np.asarray(tie_order)
    for a in range(0, len(users), BLOCK):
        u = users[a : a + BLOCK]
        S = np.array(scorer(u), dtype=np.float64, copy=True)
        ex = exclude[u].tocoo()
        S[ex.row, ex.col] = -np.inf
        kth = -np.partition(-S, k - 1, axis=1)[:, k - 1]
        for r in range(len(u)):
            cand = np.flatnonzero(S[r] >= kth[r])  # every item tied with the k-th is a candidate
            out[a + r] = cand[np.lexsort((tie[cand], -S[r, cand]))][:k]
    return out


def per_user(lists: np.ndarray, heldout: sp.csr_matrix, users: np.ndarray) -> dict[str, np.ndarray]:
    """``{"precision", "recall", "ndcg"}``: ``(u,)`` float64 per user, for ``lists`` ``(u, k)``."""
    k = lists.shape[1]
    H = sp.csr_matrix(heldout)[users]
    hits = np.zeros(lists.shape, dtype=bool)
    for r in range(len(users)):
        row = H.indices[H.indptr[r] : H.indptr[r + 1]]
        hits[r] = np.isin(lists[r], row)
    n_rel = np.diff(H.indptr)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    idcg = np.cumsum(disc)[np.clip(np.minimum(n_rel, k) - 1, 0, None)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "precision": hits.sum(axis=1) / k,
            "recall": np.where(n_rel > 0, hits.sum(axis=1) / np.maximum(np.minimum(n_rel, k), 1), 0.0),
            "ndcg": np.where(n_rel > 0, (hits * disc).sum(axis=1) / idcg, 0.0),
        }


def bootstrap(values: np.ndarray, rng: np.random.Generator, resamples: int = BOOTSTRAP) -> Interval:
    """The mean of ``values`` and its percentile bootstrap 95 % interval (users resampled)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return Interval(0.0, 0.0, 0.0)
    idx = rng.integers(0, v.size, size=(resamples, v.size))
    means = v[idx].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return Interval(float(v.mean()), float(lo), float(hi))


def score(lists: np.ndarray, heldout: sp.csr_matrix, users: np.ndarray, n_items: int, seed: int) -> Metrics:
    """:class:`Metrics` of ``lists`` against ``heldout`` (intervals from one seeded bootstrap;
    the same ``seed`` resamples the same users for every method, so intervals are comparable)."""
    pu = per_user(lists, heldout, users)
    out = {}
    for name, vals in pu.items():
        out[name] = bootstrap(vals, np.random.default_rng(seed))
    cov = len(np.unique(lists)) / max(n_items, 1) if lists.size else 0.0
    return Metrics(
        precision=out["precision"], recall=out["recall"], ndcg=out["ndcg"], coverage=float(cov), users=int(len(users))
    )


def evaluate_scorer(
    scorer: Scorer,
    exclude: sp.csr_matrix,
    heldout: sp.csr_matrix,
    users: np.ndarray,
    tie_order: np.ndarray,
    seed: int,
    k: int = K,
) -> Metrics:
    """:func:`top_k` then :func:`score`."""
    lists = top_k(scorer, exclude, users, tie_order, k)
    return score(lists, heldout, users, exclude.shape[1], seed)

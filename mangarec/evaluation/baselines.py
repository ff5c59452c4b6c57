"""Scorers for the ranking evaluation: the baselines and the strong reference.

Each ``*_scorer`` is fitted on a binary like matrix ``X`` (``(users, n_items)`` csr float64, the
training side of a split) and returns a :data:`~.ranking.Scorer`.

* ``random``: seeded uniform scores (the floor);
* ``popularity``: the number of training likes of each item;
* ``item-knn``: co-like item-kNN, cosine similarity of the items' like columns, the user's
  score of ``j`` the sum of its similarities to the user's likes (top :data:`KNN` per item);
* ``ease``: :mod:`mangarec.models.ease` (the strong reference, λ tuned on validation).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..cooccurrence import top_k_of_product
from ..models.ease import fit_ease
from .ranking import Scorer

#: The ranking table's baselines and reference: their method names (the rows' ``method``) and
#: their names on the pages, declared once.
LABELS: dict[str, str] = {
    "ease": "EASE (strong reference)",
    "item-knn": "Co-like item-kNN (baseline)",
    "popularity": "Popularity (baseline)",
    "random": "Random (baseline)",
}

#: Neighbours kept per item by the item-kNN baseline.
KNN = 100
#: EASE λ candidates tried on validation (multiples of the mean item like count).
EASE_LAMBDAS: tuple[float, ...] = (0.5, 2.0, 8.0, 32.0)


def random_scorer(n_items: int, seed: int) -> Scorer:
    """Uniform random scores, reproducible per block of users (``seed`` and the rows)."""

    def score(users: np.ndarray) -> np.ndarray:
        g = np.random.default_rng([seed, int(users[0]) if len(users) else 0, len(users)])
        return g.random((len(users), n_items))

    return score


def popularity_scorer(X: sp.csr_matrix) -> Scorer:
    """Every user gets the items' training like counts."""
    pop = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
    return lambda users: np.broadcast_to(pop, (len(users), len(pop)))


def cosine_knn(X: sp.csr_matrix, k: int = KNN) -> sp.csr_matrix:
    """``(n_items, n_items)`` csr: each item's ``k`` most co-liked items by cosine similarity
    (self excluded; rows of items with no like are empty)."""
    X = sp.csr_matrix(X, dtype=np.float64)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel())
    inv = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-300), 0.0)
    return top_k_of_product(X, X, k, row_scale=inv, col_scale=inv)


def knn_scorer(X: sp.csr_matrix, k: int = KNN, counted: sp.csr_matrix | None = None) -> Scorer:
    """Co-like item-kNN (see the module docstring): users' rows of ``X`` scored against the
    similarities of ``counted``'s likes (``(n_counted, n_items)``, default ``X`` itself; the
    evaluation passes a fixed-seed sample of users when there are more than
    ``evaluation.colike_users``, since the similarities cost ``Σ n_u²`` over the counted users)."""
    S = cosine_knn(X if counted is None else counted, k)
    return lambda users: np.asarray((X[users] @ S).todense())


def ease_scorer(X: sp.csr_matrix, lam: float, max_items: int | None = None) -> Scorer:
    """EASE fitted on ``X`` with penalty ``lam`` over at most ``max_items`` most liked items."""
    model = fit_ease(X, lam, max_items=max_items)
    return lambda users: model.scores(X[users])


def ease_lambdas(X: sp.csr_matrix) -> list[float]:
    """The λ grid for ``X``: :data:`EASE_LAMBDAS` times the mean like count of a liked item
    (λ is in units of the Gram matrix's diagonal, so it scales with the data)."""
    counts = np.asarray((X != 0).sum(axis=0)).ravel()
    mean = float(counts[counts > 0].mean()) if np.any(counts > 0) else 1.0
    return [round(f * mean, 3) for f in EASE_LAMBDAS]

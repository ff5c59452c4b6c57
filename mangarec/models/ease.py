"""EASE: the closed-form item-item model of Steck (2019), "Embarrassingly Shallow Autoencoders".

Given the binary user × item like matrix ``X``, EASE solves

    min_B ‖X − X B‖²_F + λ ‖B‖²_F   subject to diag(B) = 0

in closed form: with ``P = (XᵀX + λI)⁻¹``, ``B_ij = −P_ij / P_jj`` (``i ≠ j``), ``B_jj = 0``.
A user's scores are ``x_u B``. It is the evaluation's strong reference (a few lines of numpy,
one dense ``m × m`` inverse over the ``m`` items with a like: ~7k items on anime-recdb take
seconds) and, as sparse top-k rows per title, an item-item option for visitors.

This module has no ``SPEC``: EASE gives item-item weights, not an embedding, so it is not one of
the registry's models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import InputError

#: Largest item count EASE inverts (``m × m`` float32: 20k items = 1.6 GB).
MAX_ITEMS = 20_000
#: Items with fewer training likes are left out of ``B`` (they score 0): they are almost never
#: recommended and they make the inverse larger (anime-recdb: 4,988 liked items, 3,3xx kept).
MIN_LIKES = 3


@dataclass(frozen=True, eq=False)
class Ease:
    """A fitted EASE model.

    ``items`` ``(m,)`` int64 are the catalog positions with at least :data:`MIN_LIKES` likes in
    training; ``B`` is ``(m, m)`` float32 over them (zero diagonal); ``lam`` is λ.
    """

    items: np.ndarray
    B: np.ndarray
    lam: float
    n_items: int

    def scores(self, X: sp.csr_matrix) -> np.ndarray:
        """``(rows, n_items)`` float64 scores for the like rows ``X`` (``(rows, n_items)`` csr).

        Items that had no like in training score 0.
        """
        out = np.zeros((X.shape[0], self.n_items))
        out[:, self.items] = sp.csr_matrix(X, dtype=np.float32)[:, self.items] @ self.B
        return out

    def top_k(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Each item's ``k`` largest weights ``B_ij`` (item ``i`` liked → ``j`` recommended).

        Returns ``(indices, weights)``, both ``(m, k)`` over the catalog positions (rows in
        :attr:`items` order, best first, ties by position).
        """
        k = min(k, max(len(self.items) - 1, 0))
        B = self.B.copy()
        np.fill_diagonal(B, -np.inf)
        part = np.argpartition(-B, k - 1, axis=1)[:, :k] if k else np.zeros((len(B), 0), dtype=np.int64)
        w = np.take_along_axis(B, part, 1)
        order = np.lexsort((part, -w), axis=1) if k else part
        part = np.take_along_axis(part, order, 1)
        return self.items[part], np.take_along_axis(B, part, 1)


def item_item(model: Ease, k: int) -> sp.csr_matrix:
    """``(n_items, n_items)`` csr float32: each liked title's ``k`` largest EASE weights (row
    ``i``: the titles a like of ``i`` pushes up), what per-title shards would serve."""
    idx, w = model.top_k(k)
    m, kk = idx.shape
    rows = np.repeat(model.items, kk)
    return sp.csr_matrix((w.ravel().astype(np.float32), (rows, idx.ravel())), shape=(model.n_items, model.n_items))


def spd_inverse(G: np.ndarray) -> np.ndarray:
    """The inverse of the symmetric positive definite ``G`` (``(m, m)`` float32), float32.

    ``numpy.linalg.inv`` (LU): measured on this machine for m = 3,700 it takes 7.3 s against
    28.7 s for LAPACK's Cholesky ``potrf`` + ``potri`` (unblocked in the OpenBLAS build) and
    8.3 s for ``cho_factor`` + ``cho_solve`` on the identity.
    """
    return np.linalg.inv(G)


def most_liked(counts: np.ndarray, min_likes: int, max_items: int | None) -> np.ndarray:
    """``(m,)`` int64 ascending positions of the items with at least ``min_likes`` likes
    (``counts`` ``(n_items,)``), at most ``max_items`` of them: the most liked (ties by position)."""
    items = np.flatnonzero(counts >= max(int(min_likes), 1)).astype(np.int64)
    if max_items is not None and len(items) > max_items:
        order = np.lexsort((items, -counts[items]))[: max(int(max_items), 0)]
        items = np.sort(items[order])
    return items


def fit_ease(X: sp.csr_matrix, lam: float, min_likes: int = MIN_LIKES, max_items: int | None = None) -> Ease:
    """Fit EASE on the binary like matrix ``X`` (``(users, n_items)`` csr) with penalty ``lam``,
    over the items with at least ``min_likes`` likes, the ``max_items`` most liked of them when
    there are more (the others score 0; the inverse costs ``O(m³)`` time and ``m²`` memory).

    Raises :class:`InputError` beyond :data:`MAX_ITEMS` such items (the dense inverse would not
    fit one machine's memory comfortably).
    """
    X = sp.csr_matrix(X, dtype=np.float32)
    counts = np.asarray((X != 0).sum(axis=0)).ravel()
    items = most_liked(counts, min_likes, max_items)
    if len(items) > MAX_ITEMS:
        raise InputError(f"EASE: {len(items)} liked items, more than the {MAX_ITEMS} it can invert")
    Xs = X[:, items]
    G = np.asarray((Xs.T @ Xs).toarray(), dtype=np.float32)
    G[np.diag_indices_from(G)] += np.float32(lam)
    P = spd_inverse(G)
    B = P / (-np.diag(P))[None, :]
    np.fill_diagonal(B, 0.0)
    return Ease(items=items, B=B, lam=float(lam), n_items=X.shape[1])

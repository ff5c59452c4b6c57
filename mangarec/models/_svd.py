"""Deterministic truncated SVD of a sparse matrix, with a fixed sign convention.

Small problems (the smaller side at most :data:`GRAM_MAX`, e.g. ~80 tags) are solved exactly
from the dense Gram matrix ``MᵀM`` (or ``MMᵀ``) with ``numpy.linalg.eigh`` in float64; larger
ones with sklearn's ``randomized_svd`` (float32, 7 power iterations) and a fixed
``random_state``. The sign of every
component is fixed so that the largest-magnitude entry of its right singular vector (the
term/feature side) is positive (first such entry on ties).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: Largest smaller side solved exactly through the Gram matrix.
GRAM_MAX = 2048


@dataclass(frozen=True, eq=False)
class SVD:
    """``M ≈ U diag(s) Vᵀ`` truncated to ``k`` components, ``s`` non-increasing.

    ``U`` is ``(n, k)``, ``s`` is ``(k,)``, ``V`` is ``(T, k)``; all float64. Columns of ``U``
    whose singular value is (numerically) zero are zero.
    """

    U: np.ndarray
    s: np.ndarray
    V: np.ndarray
    method: str


def _flip(U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(U, V)`` with each singular pair's sign fixed: the largest-|value| entry of each column of
    ``V`` positive (:func:`sklearn.utils.extmath.svd_flip` on the rows of ``Vᵀ``); copies."""
    from sklearn.utils.extmath import svd_flip

    U2, Vt = svd_flip(U.copy(), V.T.copy(), u_based_decision=False)
    return U2, Vt.T


def truncated_svd(m: sp.spmatrix, k: int, seed: int, deflate: np.ndarray | None = None) -> SVD:
    """Top-``k`` singular triplets of a sparse matrix, deterministically.

    Parameters
    ----------
    m:
        Sparse ``(n, T)`` matrix (any float dtype; computed in float64).
    k:
        Components wanted; clamped to ``min(n, T)`` (exact path) or ``min(n, T) − 1``
        (randomized/ARPACK path, or when deflating).
    seed:
        Random state of the randomized solver (unused on the exact path).
    deflate:
        Optional unit ``(T,)`` vector ``v0``: decompose ``M (I − v0 v0ᵀ)`` instead of ``M``
        (removes one known right singular direction, e.g. the trivial eigenvector of a graph).

    Returns
    -------
    SVD
    """
    m = sp.csr_matrix(m, dtype=np.float64)
    n, T = m.shape
    small = min(n, T)
    if small == 0 or k <= 0:
        return SVD(np.zeros((n, 0)), np.zeros(0), np.zeros((T, 0)), "empty")
    if small <= GRAM_MAX:
        k = min(k, small - (deflate is not None))
        if T <= n or deflate is not None:
            G = (m.T @ m).toarray()
            if deflate is not None:
                P = np.eye(T) - np.outer(deflate, deflate)
                G = P @ G @ P
            w, V = np.linalg.eigh((G + G.T) / 2)
            order = np.argsort(-w, kind="stable")[:k]
            s = np.sqrt(np.clip(w[order], 0.0, None))
            V = V[:, order]
            V = _flip(np.empty((0, V.shape[1])), V)[1]
            if deflate is not None:
                V = V - np.outer(deflate, deflate @ V)
            MV = np.asarray(m @ V)
            tol = s.max(initial=0.0) * max(n, T) * np.finfo(np.float64).eps * 10
            inv = np.where(s > tol, 1.0 / np.where(s > tol, s, 1.0), 0.0)
            U = MV * inv
            return SVD(U, s, V, "gram-eigh")
        G = (m @ m.T).toarray()
        w, U = np.linalg.eigh((G + G.T) / 2)
        order = np.argsort(-w, kind="stable")[:k]
        s = np.sqrt(np.clip(w[order], 0.0, None))
        U = U[:, order]
        MtU = np.asarray(m.T @ U)
        tol = s.max(initial=0.0) * max(n, T) * np.finfo(np.float64).eps * 10
        inv = np.where(s > tol, 1.0 / np.where(s > tol, s, 1.0), 0.0)
        V = MtU * inv
        U, V = _flip(U, V)
        return SVD(U, s, V, "gram-eigh")
    k = min(k, small - 1)
    if deflate is not None:
        from scipy.sparse.linalg import LinearOperator, svds

        v0 = np.asarray(deflate, dtype=np.float64)
        op = LinearOperator(
            (n, T),
            dtype=np.float64,
            matvec=lambda x: m @ (np.ravel(x) - v0 * (v0 @ np.ravel(x))),
            rmatvec=lambda y: (lambda z: z - v0 * (v0 @ z))(np.asarray(m.T @ np.ravel(y))),
        )
        start = np.random.default_rng(int(seed) % (2**32)).standard_normal(min(n, T))
        U, s, Vt = svds(op, k=k, v0=start, solver="arpack")
        order = np.argsort(-s, kind="stable")
        U, s, V = U[:, order], s[order], Vt[order].T
        U, V = _flip(U, V)
        return SVD(U, s, V, "arpack")
    from sklearn.utils.extmath import randomized_svd

    U, s, Vt = randomized_svd(  # float32: twice as fast, ample for an embedding
        m.astype(np.float32),
        k,
        n_oversamples=20,
        n_iter=7,
        random_state=int(seed) % (2**32),
        flip_sign=False,
    )
    U, s, V = U.astype(np.float64), s.astype(np.float64), Vt.T.astype(np.float64)
    U, V = _flip(U, V)
    return SVD(U, s, V, "randomized")

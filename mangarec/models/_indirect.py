"""Removing indirect effects from a network: network deconvolution and global silencing.

Both take a symmetric network ``G`` and return the "direct" one (the MangaDex study's toy
functions, made exact and scalable):

* **network deconvolution** (Feizi et al., Nat. Biotechnol. 2013): ``G_dir = G (I + G)⁻¹``;
  with ``G = V Λ Vᵀ`` this is ``V diag(λ / (1 + λ)) Vᵀ``.
* **global silencing** (Barzel & Barabási, Nat. Biotechnol. 2013):
  ``S = (G − I + D((G − I) G)) G⁻¹`` with ``D`` keeping only the diagonal and ``G⁻¹`` the
  (pseudo-)inverse.

Then, as in the study, the diagonal is set to 0, negative values to 0 and the result divided by
its maximum (:func:`finish`).

For the item network ``G = B Bᵀ`` (``B`` the ``n × T`` item-tag matrix) neither needs the
``n × n`` matrix: with the thin SVD ``B = U Σ Wᵀ`` (``U`` is ``n × r``, ``r ≤ T``), ``G = U Λ Uᵀ``
with ``Λ = Σ²``, so

* ``G_dir = U diag(λ / (c + λ)) Uᵀ`` (``c = 1`` is the formula; ``c`` rescales ``G`` first, see
  :func:`deconvolution_scale`), a bilinear score of rank ``r``;
* ``S_ij = u_i (I + (δ_i − 1) Λ⁻¹) u_jᵀ`` off the diagonal, with
  ``δ_i = Σ_k u_ik² (λ_k² − λ_k)`` the diagonal of ``(G − I) G``: a rank-``r`` score with one
  per-row correction.

Both are :class:`~mangarec.similarity.Bilinear` scorers: a block of rows costs one
``(rows × r) @ (r × n)`` product, so the whole catalog takes seconds where the dense
eigendecomposition of the 64k × 64k matrix ran for 8 hours.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Singular values below this fraction of the largest are treated as zero.
RANK_TOL = 1e-10


def deconvolve(G: np.ndarray) -> np.ndarray:
    """Network deconvolution of a small dense symmetric ``G`` (``(m, m)`` float64), finished.

    Eigenvalues at the pole ``λ = −1`` (no convergent direct network produces them) are left
    out of the reconstruction.
    """
    G = np.asarray(G, dtype=np.float64)
    lam, V = np.linalg.eigh((G + G.T) / 2)
    ok = np.abs(1.0 + lam) > 1e-9 * max(1.0, float(np.abs(lam).max(initial=0.0)))
    d = np.zeros_like(lam)
    d[ok] = lam[ok] / (1.0 + lam[ok])
    return finish((V * d) @ V.T)


def silence(G: np.ndarray) -> np.ndarray:
    """Global silencing of a small dense symmetric ``G`` (``(m, m)`` float64), finished."""
    G = np.asarray(G, dtype=np.float64)
    eye = np.eye(G.shape[0])
    S = (G - eye + np.diag(np.diag((G - eye) @ G))) @ np.linalg.pinv(G, hermitian=True)
    return finish(S)


def finish(M: np.ndarray) -> np.ndarray:
    """The study's post-processing: zero diagonal, negatives to 0, divided by the maximum."""
    M = np.array(M, dtype=np.float64, copy=True)
    np.fill_diagonal(M, 0.0)
    np.maximum(M, 0.0, out=M)
    top = M.max(initial=0.0)
    return M / top if top > 0 else M


def spectrum(b: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """``(U, λ)`` of ``G = B Bᵀ`` from the thin SVD of ``B``: ``(n, r)`` and ``(r,)``, ``λ > 0``.

    Computed from the ``T × T`` Gram matrix ``BᵀB`` (small dense work); the sign of each column
    of ``U`` is irrelevant here (every score is quadratic in it).
    """
    U, lam, _ = spectrum_basis(b)
    return U, lam


def spectrum_basis(b: sp.spmatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`spectrum` plus ``W`` ``(T, r)``, the right singular vectors of ``B``: a row of
    ``U`` is ``b_i W / √λ`` (:func:`project_rows`)."""
    b = sp.csr_matrix(b, dtype=np.float64)
    n, T = b.shape
    if n == 0 or T == 0:
        return np.zeros((n, 0)), np.zeros(0), np.zeros((T, 0))
    gram = (b.T @ b).toarray()
    lam, W = np.linalg.eigh((gram + gram.T) / 2)
    keep = lam > RANK_TOL * max(float(lam.max(initial=0.0)), 1e-300)
    lam, W = lam[keep][::-1], W[:, keep][:, ::-1]
    return project_rows(b, W, lam), lam, W


def project_rows(b: sp.spmatrix, W: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Rows of ``U`` ``(m, r)`` of the tag rows ``b`` ``(m, T)`` in a fitted basis: ``b W / √λ``."""
    return np.asarray(sp.csr_matrix(b, dtype=np.float64) @ W) / np.sqrt(lam)[None, :]


def deconvolution_scale(lam: np.ndarray, beta: float | None) -> float:
    """``c`` of ``λ / (c + λ)``: 1 (the formula as written) when ``beta`` is None, else the
    rescaling of Feizi et al. that makes the largest direct eigenvalue ``beta``:
    ``c = λ_max (1 − β) / β``."""
    if beta is None or lam.size == 0:
        return 1.0
    return float(lam.max() * (1.0 - beta) / beta)


def silencing_weights(U: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(a, b, c)`` of the silencing score ``Σ_k U_ik (a_k + c_i b_k) U_jk``."""
    delta = (U**2) @ (lam**2 - lam)
    return np.ones_like(lam), 1.0 / lam, delta - 1.0

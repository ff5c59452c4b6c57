"""Conjugate-gradient row updates for ALS, vectorised across rows (numpy and scipy only).

Every row ``u`` of an ALS half-sweep solves ``A_u x_u = b_u`` with::

    A_u = G + μ_u I + Σ_i w_ui f_i f_iᵀ        b_u = Σ_i t_ui f_i

over the stored entries ``i`` of row ``u`` and the fixed factors ``F`` (rows ``f_i``):

* implicit (Hu, Koren & Volinsky 2008): ``G = FᵀF``, ``μ_u = λ`` (or frequency-scaled, see
  :func:`implicit_penalty`), ``w = c − 1 = alpha·|v|``,
  ``t = c·p`` (``p = 1`` for ``v >= 0``);
* explicit (ALS-WR): ``G = 0``, ``μ_u = λ·n_u`` (or ``λ``), ``w = 1``, ``t = v``.

Instead of forming the ``d×d`` matrices, :func:`cg_rows` runs a few conjugate-gradient steps
per row warm-started from the previous factors (Takács, Pilászy & Tikk 2011; the ``implicit``
library's ``_als_cg``), for all rows of a block at once. One product ``A P`` for a block is::

    s    = rowwise (p_u · f_i) over the stored entries   (np.take + einsum, nnz·d)
    A P  = P G + μ ∘ P + csr(w ∘ s) @ F                  (one sparse × dense product)

so a step costs ``O(nnz·d)`` instead of the exact solver's ``O(nnz·d²)`` for the normal
matrices. The heavy products are float32, the CG recurrences float64. Each CG step never
increases the row's objective (``xᵀAx − 2bᵀx``), so the training loss does not increase.

Rows are processed in fixed blocks of :data:`CG_BLOCK` rows, each block on its own (no
reduction crosses a block), so the result does not depend on how many threads run them. A block
holding more than :data:`CG_NNZ` stored entries is cut further (at row boundaries, by the data
alone), so a block's ``(nnz_block, d)`` temporaries stay bounded when a few rows (the popular
items of a large catalog) hold most of the entries; no real dataset here reaches the cut
(anime-recdb's whole like matrix holds fewer entries), so their fits are unchanged.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from ._solve import implicit_penalty

#: Rows per CG block (fixed: the result must not depend on the thread count).
CG_BLOCK = 1024
#: Most stored entries per CG block (a row with more is a block of its own): bounds the
#: ``(nnz_block, d)`` float32 temporaries to ~CG_NNZ·d·4 bytes each (512 MB at d = 256).
CG_NNZ = 1 << 19


def blocks(indptr: np.ndarray, rows: int, size: int | None = None, nnz: int | None = None) -> list[tuple[int, int]]:
    """The ``(start, stop)`` row ranges of the CG blocks: ``size`` rows each (default
    :data:`CG_BLOCK`), a range cut further (greedily, at row boundaries) where it would hold more
    than ``nnz`` (default :data:`CG_NNZ`) stored entries."""
    size = CG_BLOCK if size is None else int(size)
    nnz = CG_NNZ if nnz is None else int(nnz)
    out = []
    for a in range(0, rows, size):
        b = min(a + size, rows)
        if indptr[b] - indptr[a] <= nnz:
            out.append((a, b))
            continue
        while a < b:
            # the last row whose end stays within the budget (at least one row)
            c = int(np.searchsorted(indptr[a + 1 : b + 1], indptr[a] + nnz, side="right")) + a
            c = min(max(c, a + 1), b)
            out.append((a, c))
            a = c
    return out


def system_terms(
    V: sp.csr_matrix, lam: float, *, implicit: bool, alpha: float, weighted: bool = True, nu: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """The per-entry weights ``w``, targets ``t``, per-row ``μ`` and whether ``G = FᵀF``.

    Returns ``(w, t, mu, gram)``: ``(nnz,)`` float32, ``(nnz,)`` float64, ``(rows,)`` float64
    and a flag (see the module docstring). ``nu``: implicit only, see :func:`implicit_penalty`.
    """
    counts = np.diff(V.indptr)
    if implicit:
        c = 1.0 + alpha * np.abs(V.data)
        return (c - 1.0).astype(np.float32), c * (V.data >= 0), implicit_penalty(V, lam, alpha, nu), True
    mu = lam * counts.astype(np.float64) if weighted else np.full(V.shape[0], float(lam))
    return np.ones(V.nnz, dtype=np.float32), np.asarray(V.data, dtype=np.float64), mu, False


def cg_rows(
    V: sp.csr_matrix,
    F: np.ndarray,
    X0: np.ndarray,
    lam: float,
    *,
    implicit: bool,
    alpha: float,
    steps: int = 3,
    weighted: bool = True,
    threads: int = 1,
    nu: float = 0.0,
) -> np.ndarray:
    """``steps`` CG iterations on every row's system against the fixed factors ``F``.

    Parameters
    ----------
    V:
        ``(rows, cols)`` csr float64 of model-scale values, sorted indices.
    F:
        ``(cols, d)`` float64 fixed factors.
    X0:
        ``(rows, d)`` float64 starting point (the previous factors; zeros at the start).
    steps:
        CG steps per row (``implicit`` uses 3); more steps converge to the exact solve.
    weighted:
        Explicit mode only: penalty ``λ·n_u`` (default) or plain ``λ``.
    threads:
        Threads running the blocks (the result is the same for any value).
    nu:
        Implicit only: frequency scaling of λ (:func:`implicit_penalty`; 0 = plain λ).

    Returns
    -------
    numpy.ndarray
        ``(rows, d)`` float64; rows with no stored value get the zero vector (their exact
        solution).
    """
    rows = V.shape[0]
    d = F.shape[1]
    w, t, mu, gram = system_terms(V, lam, implicit=implicit, alpha=alpha, weighted=weighted, nu=nu)
    F64 = np.asarray(F, dtype=np.float64)
    F32 = F64.astype(np.float32)
    G = F64.T @ F64 if gram else np.zeros((d, d))
    out = np.zeros((rows, d))

    def work(ab: tuple[int, int]) -> None:
        a, b = ab
        lo, hi = V.indptr[a], V.indptr[b]
        indptr = V.indptr[a : b + 1] - lo
        indices = V.indices[lo:hi]
        counts = np.diff(indptr)
        live = counts > 0
        if not live.any():
            return
        Fg = np.take(F32, indices, axis=0)  # (nnz_block, d) float32, once per half-sweep
        wb = w[lo:hi]
        S = sp.csr_matrix((wb.copy(), indices, indptr), shape=(b - a, F.shape[0]))
        mub = mu[a:b, None]
        local = np.repeat(np.arange(b - a), counts)  # block row of each stored entry

        def rowdot(P: np.ndarray) -> np.ndarray:  # (nnz_block,) p_u · f_i on the stored entries
            return np.einsum("ij,ij->i", np.take(P.astype(np.float32), local, axis=0), Fg)

        def amul(P: np.ndarray) -> np.ndarray:
            S.data = wb * rowdot(P)
            return P @ G + mub * P + S @ F32

        X = np.where(live[:, None], X0[a:b], 0.0)
        # r = b − A x in one sparse product: Σ_i (t_ui − w_ui x_u·f_i) f_i − (G + μ) x
        S.data = (t[lo:hi] - wb * rowdot(X)).astype(np.float32)
        r = S @ F32 - X @ G - mub * X
        p = r.copy()
        rs = np.einsum("ij,ij->i", r, r)
        for _ in range(steps):
            Ap = amul(p)
            pAp = np.einsum("ij,ij->i", p, Ap)
            ok = pAp > 0
            step = np.where(ok, rs / np.where(ok, pAp, 1.0), 0.0)
            X += step[:, None] * p
            r -= step[:, None] * Ap
            rn = np.einsum("ij,ij->i", r, r)
            beta = np.where(rs > 0, rn / np.where(rs > 0, rs, 1.0), 0.0)
            p = r + beta[:, None] * p
            rs = rn
        X[~live] = 0.0
        out[a:b] = X

    ranges = blocks(V.indptr, rows)
    if threads > 1 and len(ranges) > 1:
        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(work, ranges))
    else:
        for ab in ranges:
            work(ab)
    return out


def loss(
    V: sp.csr_matrix,
    X: np.ndarray,
    Y: np.ndarray,
    lam: float,
    *,
    implicit: bool,
    alpha: float,
    nu: float = 0.0,
    Vt: sp.csr_matrix | None = None,
) -> float:
    """The training objective (see the module docstring) at ``(X, Y)`` (``Vt``: ``V.T`` as
    csr, if the caller has it)."""
    coo = V.tocoo()
    s = np.empty(V.nnz)
    for a in range(0, V.nnz, 1 << 18):  # blocks bound the (block, d) temporaries
        b = a + (1 << 18)
        s[a:b] = np.einsum("ij,ij->i", X[coo.row[a:b]], Y[coo.col[a:b]])
    if not implicit:
        nu = np.diff(V.indptr)
        ni = np.bincount(coo.col, minlength=Y.shape[0])
        err = np.sum((coo.data - s) ** 2)
        return err + lam * (nu @ np.sum(X * X, axis=1) + ni @ np.sum(Y * Y, axis=1))
    c = 1.0 + alpha * np.abs(coo.data)
    p = (coo.data >= 0).astype(np.float64)
    stored = np.sum(c * (p - s) ** 2 - s**2)
    everything = float(np.sum((X.T @ X) * (Y.T @ Y)))
    mu_x = implicit_penalty(V, lam, alpha, nu)
    mu_y = implicit_penalty(V.T.tocsr() if Vt is None else Vt, lam, alpha, nu)
    return stored + everything + float(mu_x @ np.sum(X * X, axis=1) + mu_y @ np.sum(Y * Y, axis=1))

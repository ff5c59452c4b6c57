"""The exact "solve these users" shared by the models trained on ratings and their fold-in.

A user's factors against fixed item vectors ``F`` solve one regularised least-squares system
(implicit: Hu, Koren & Volinsky 2008, with λ optionally frequency-scaled; explicit: ALS-WR's
``λ·n``). :func:`solve_rows` solves every row's ``d×d`` system in closed form, all at once: the
stacked matrices ``A_u = Σ_i w_ui f_i f_iᵀ`` are one sparse-times-dense product ``W @ Z`` where
row ``i`` of ``Z`` is ``f_i f_iᵀ`` flattened (float32), then batched ``numpy.linalg.solve`` on
the stack (blocks of rows bound the memory; two threads). This is exactly the per-user solve of
:mod:`mangarec.foldin` (the visitor's, in the client and ``taste.js``).

:func:`solve_users` is that solve as a spec's ``solve`` (:attr:`~mangarec.models.base.ModelSpec.solve`):
the evaluation folds the training users of a held-out fit in with it. ALS
(:mod:`mangarec.models.als`, whose exact half-sweep is :func:`solve_rows`) and the co-like model
(:mod:`mangarec.models.colike`) declare it; neither imports the other.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from ..embedding import Embedding

#: Rows solved per block (bounds memory to ~BLOCK·d²·4 bytes per thread).
BLOCK = 512

#: Threads solving blocks at once (capped by the CPU count).
THREADS = 2

#: Largest outer-product table ``Z`` (bytes) :func:`solve_rows` builds whole; beyond it, when
#: the rows are fewer than the columns they use (their own normal matrices are smaller than
#: ``Z``), those are accumulated a slice of ``Z`` of at most this size at a time (the same sums
#: in the same order: the same bytes).
Z_BYTES = 1 << 28


def single_threaded_blas():
    """A context limiting BLAS to one thread (we parallelise over blocks ourselves).

    On this 2-core machine a multi-threaded OpenBLAS spin-waits: a 11k×32 Gram matrix took
    0.35 s of CPU with its thread pool and 0.5 ms without. ``threadpoolctl`` comes with
    scikit-learn; without it this is a no-op.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, "blas")


def threads() -> int:
    """Threads solving blocks at once: :data:`THREADS`, capped by the CPU count."""
    return max(1, min(THREADS, os.cpu_count() or 1))


def implicit_penalty(V: sp.csr_matrix, lam: float, alpha: float, nu: float = 0.0) -> np.ndarray:
    """Per-row ridge penalty of the implicit model, ``(rows,)`` float64.

    ``μ_u = λ · ((n_cols + alpha·Σ_i |v_ui|) / n_cols) ** nu``: the row's total confidence
    (every column weighs 1, a stored entry ``1 + alpha·|v|``) relative to an empty row's, to
    the power ``nu`` (Rendle et al. 2022, "Revisiting the performance of iALS": frequency-scaled
    regularisation). ``nu = 0`` is plain λ; ``nu = 1`` penalises heavy rows (popular items)
    in proportion to their weight.
    """
    if nu == 0.0:
        return np.full(V.shape[0], float(lam))
    n_cols = max(V.shape[1], 1)
    row = np.repeat(np.arange(V.shape[0]), np.diff(V.indptr))
    absum = np.bincount(row, weights=np.abs(V.data), minlength=V.shape[0])
    return float(lam) * ((n_cols + alpha * absum) / n_cols) ** float(nu)


def solve_rows(
    V: sp.csr_matrix, F: np.ndarray, lam: float, *, implicit: bool, alpha: float, weighted: bool = True, nu: float = 0.0
) -> np.ndarray:
    """Solve every row's regularised least squares against the fixed factors ``F``.

    The stacked normal matrices are accumulated in float32 (``W @ Z`` with ``Z`` the flattened
    outer products ``f fᵀ``) and solved per block of :data:`BLOCK` rows with batched
    ``numpy.linalg.solve``; blocks run on :data:`THREADS` threads (scipy's sparse product and
    LAPACK release the GIL). Each block writes its own rows, so the result does not depend on
    the thread count.

    Parameters
    ----------
    V:
        ``(rows, cols)`` csr float64 of model-scale values (see :mod:`mangarec.foldin`).
    F:
        ``(cols, d)`` float64 fixed factors.
    weighted:
        Explicit mode only: penalty ``λ·n`` (ALS-WR, the default and what fold-in assumes) or
        plain ``λ`` (kept for the benchmark's comparison).
    nu:
        Implicit mode only: frequency scaling of λ (see :func:`implicit_penalty`; 0 = plain λ).

    Returns
    -------
    numpy.ndarray
        ``(rows, d)`` float64; rows with no stored value get the zero vector (the exact
        solution in both modes: their right-hand side is zero).
    """
    rows, _ = V.shape
    d = F.shape[1]
    F32 = F.astype(np.float32)
    counts = np.diff(V.indptr)
    if implicit:
        c = 1.0 + alpha * np.abs(V.data)
        Wa = sp.csr_matrix(((c - 1.0).astype(np.float32), V.indices, V.indptr), shape=V.shape)
        Wb = sp.csr_matrix((c * (V.data >= 0), V.indices, V.indptr), shape=V.shape)
        base = (F.T @ F).astype(np.float32)
        mu_rows = implicit_penalty(V, lam, alpha, nu).astype(np.float32)
    else:
        Wa = sp.csr_matrix((np.ones(V.nnz, dtype=np.float32), V.indices, V.indptr), shape=V.shape)
        Wb = V
        base = None
    b_all = (Wb @ F).astype(np.float32)
    out = np.zeros((rows, d))

    todo = np.flatnonzero(counts > 0)  # rows with no entry keep x = 0 (their exact solution)
    normal = normal_matrices(Wa, F32, todo) if len(todo) and F.shape[0] * d * d * 4 > Z_BYTES else None
    Z = None if normal is not None else (F32[:, :, None] * F32[:, None, :]).reshape(F.shape[0], d * d)

    def work(start: int) -> None:
        rws = todo[start : start + BLOCK]
        k = len(rws)
        if normal is not None:
            A = normal[start : start + k]
        else:
            A = np.asarray(Wa[rws] @ Z).reshape(k, d, d)
        if implicit:
            A += base
            A.reshape(k, d * d)[:, :: d + 1] += mu_rows[rws][:, None]
        else:
            pen = lam * counts[rws].astype(np.float32) if weighted else np.full(k, lam, dtype=np.float32)
            A.reshape(k, d * d)[:, :: d + 1] += pen[:, None]
        out[rws] = np.linalg.solve(A, b_all[rws, :, None])[:, :, 0]

    starts = range(0, len(todo), BLOCK)
    if threads() > 1 and len(todo) > BLOCK:
        with ThreadPoolExecutor(threads()) as ex:
            list(ex.map(work, starts))
    else:
        for start in starts:
            work(start)
    return out


def normal_matrices(W: sp.csr_matrix, F32: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
    """``Σ_i w_ui f_i f_iᵀ`` for each of ``rows``, ``(len(rows), d, d)`` float32, or ``None`` when
    there are at least as many rows as columns they use (the whole table is then no larger).

    The table ``Z`` (row ``i`` the flattened ``f_i f_iᵀ``, ``cols × d²``) is built a slice of at
    most :data:`Z_BYTES` at a time over the columns the rows use: each entry of ``W[rows] @ Z`` is
    the same sum in the same order as with the whole table, so the bytes are the same; memory is
    the rows' matrices plus one slice (a fold-in of 2,000 users against 20,000 × 256 factors:
    1.2 GB peak where the whole table took 5.9 GB).
    """
    d = F32.shape[1]
    Wr = sp.csr_matrix(W[rows])
    used = np.unique(Wr.indices)
    if len(rows) >= len(used):
        return None
    Wr = sp.csr_matrix((Wr.data, np.searchsorted(used, Wr.indices), Wr.indptr), shape=(len(rows), len(used)))
    Fu = F32[used]
    out = np.empty((len(rows), d, d), dtype=np.float32)
    step = max(1, min(d, Z_BYTES // max(len(used) * d * 4, 1)))  # rows of f fᵀ per slice
    for a in range(0, d, step):
        b = min(a + step, d)
        Zs = (Fu[:, a:b, None] * Fu[:, None, :]).reshape(len(used), (b - a) * d)
        out[:, a:b, :] = np.asarray(Wr @ Zs).reshape(len(rows), b - a, d)
    return out


def solve_users(emb: Embedding, values: sp.csr_matrix) -> np.ndarray:
    """ "Solve these users" (:attr:`~mangarec.models.base.ModelSpec.solve`): the ``(users, dim)`` float64 factors of the
    rows of ``values`` (model-scale, ``(users, items)`` csr) folded in exactly against
    ``emb.vectors`` with training's λ, α and λ's scaling (``emb.foldin``), as a training half-sweep
    solves them (:func:`solve_rows`)."""
    f = emb.foldin
    Y = np.asarray(emb.vectors, dtype=np.float64)
    return solve_rows(values, Y, f.fit_reg, implicit=f.implicit, alpha=f.fit_alpha, nu=f.reg_exponent)

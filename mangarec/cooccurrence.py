"""Co-occurrence products: each title's ``k`` largest entries of ``AᵀB`` for ``(users, n)`` matrices.

The co-like model learns from them (:func:`mangarec.models.colike.co_liked_truth`), and the
evaluation's item-kNN baseline and co-liked truths are built from them
(:mod:`mangarec.evaluation.baselines`, :mod:`mangarec.evaluation.truths`). It sits apart from
both so that each imports it at module level: its code is then in both stages' cache keys
(:func:`mangarec.cache.module_digest` follows module-level imports only).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def top_k_of_product(
    A: sp.csr_matrix,
    B: sp.csr_matrix,
    k: int,
    *,
    row_scale: np.ndarray | None = None,
    col_scale: np.ndarray | None = None,
    min_value: float = 0.0,
    block: int = 1024,
    rows: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Each row's ``k`` largest entries of ``diag(row_scale) · (Aᵀ B) · diag(col_scale)``.

    ``A``, ``B`` are ``(users, n)`` csr; entries of ``AᵀB`` below ``min_value`` (before scaling)
    and the diagonal are dropped (ties at the k-th value: deterministic, not by column). Computed in blocks of ``block``
    rows (a dense ``block × n`` slab at a time), so memory stays bounded even when ``AᵀB`` is
    nearly dense. ``rows`` (sorted positions): only those rows are computed (each row's answer
    is the same as without it), the others are left empty. Returns ``(n, n)`` csr float64.
    """
    n = A.shape[1]
    At = sp.csr_matrix(A.T, dtype=np.float64)
    B = sp.csr_matrix(B, dtype=np.float64)  # csr: the block products need no conversion of B
    rs = np.ones(n) if row_scale is None else np.asarray(row_scale, dtype=np.float64)
    cs = np.ones(n) if col_scale is None else np.asarray(col_scale, dtype=np.float64)
    which = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    out_r, out_c, out_v = [], [], []
    for a in range(0, len(which), block):
        pos = which[a : a + block]
        S = np.asarray((At[pos] @ B).todense())
        S[S < max(min_value, 1e-12)] = 0.0
        S *= rs[pos, None] * cs[None, :]
        S[np.arange(len(pos)), pos] = 0.0
        kk = min(k, n - 1)
        part = np.argpartition(-S, kk - 1, axis=1)[:, :kk]
        v = np.take_along_axis(S, part, 1)
        rr, cc = np.nonzero(v > 0)
        out_r.append(pos[rr])
        out_c.append(part[rr, cc])
        out_v.append(v[rr, cc])
    if not out_r:
        return sp.csr_matrix((n, n))
    out = sp.csr_matrix((np.concatenate(out_v), (np.concatenate(out_r), np.concatenate(out_c))), shape=(n, n))
    out.sort_indices()
    return out

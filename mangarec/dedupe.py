"""Distinct rows of a matrix, so that models fit once per distinct tag set.

On MangaDex, 37.5k SFW titles have only 19.6k distinct tag sets. Tag models that are linear
in the rows (LSI, the tag network) fit on the distinct rows, each weighted by its
multiplicity, and map the result back with ``inverse``: the answer is the same as fitting on
every row (see :func:`unique_rows`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def unique_rows(m: sp.spmatrix) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """The distinct rows of a sparse matrix, in order of first occurrence.

    Parameters
    ----------
    m:
        Sparse matrix, shape ``(n, T)``.

    Returns
    -------
    unique:
        ``scipy.sparse.csr_matrix`` of shape ``(u, T)``, same dtype as ``m``: the distinct rows.
    inverse:
        ``(n,)`` int64: ``unique[inverse[i]]`` equals row ``i`` of ``m``.
    counts:
        ``(u,)`` int64: how many rows of ``m`` equal each distinct row.
    """
    m = sp.csr_matrix(m, copy=True)
    m.sum_duplicates()
    m.sort_indices()
    m.eliminate_zeros()
    if m.shape[1] <= 4096 and m.nnz and bool(np.all(m.data == 1)):
        return _unique_binary(m)
    seen: dict[tuple[bytes, bytes], int] = {}
    inverse = np.empty(m.shape[0], dtype=np.int64)
    first: list[int] = []
    ind, dat, ptr = m.indices, m.data, m.indptr
    for i in range(m.shape[0]):
        a, b = ptr[i], ptr[i + 1]
        key = (ind[a:b].tobytes(), dat[a:b].tobytes())
        k = seen.get(key)
        if k is None:
            k = seen[key] = len(first)
            first.append(i)
        inverse[i] = k
    unique = m[np.asarray(first, dtype=np.int64)].tocsr()
    counts = np.bincount(inverse, minlength=len(first)).astype(np.int64)
    return unique, inverse, counts


def _unique_binary(m: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """:func:`unique_rows` for 0/1 matrices: rows packed to bits, then ``numpy.unique``."""
    n, T = m.shape
    packed = np.zeros((n, (T + 7) // 8), dtype=np.uint8)
    rows = np.repeat(np.arange(n), np.diff(m.indptr))
    np.bitwise_or.at(packed, (rows, m.indices // 8), (1 << (7 - m.indices % 8)).astype(np.uint8))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # distinct rows in order of first occurrence
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    inverse = rank[np.ravel(inv)].astype(np.int64)
    unique = m[first[order]].tocsr()
    counts = np.bincount(inverse, minlength=order.size).astype(np.int64)
    return unique, inverse, counts


def unique_dense_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a dense 2-D array (exact byte equality), in order of first occurrence.

    Parameters
    ----------
    x:
        ``(n, d)`` array.

    Returns
    -------
    unique:
        ``(u, d)`` array, same dtype.
    inverse:
        ``(n,)`` int64 with ``unique[inverse] == x``.
    """
    x = np.ascontiguousarray(x)
    seen: dict[bytes, int] = {}
    inverse = np.empty(x.shape[0], dtype=np.int64)
    first: list[int] = []
    for i in range(x.shape[0]):
        key = x[i].tobytes()
        k = seen.get(key)
        if k is None:
            k = seen[key] = len(first)
            first.append(i)
        inverse[i] = k
    return x[np.asarray(first, dtype=np.int64)], inverse

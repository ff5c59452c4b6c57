"""Neighbour lists: validity checks and the per-title Jaccard index of two models' lists."""

from __future__ import annotations

import numpy as np

from ..embedding import Neighbours


def check_lists(nb: Neighbours) -> np.ndarray:
    """The ``(n, k)`` int64 indices of ``nb``, after checking every row lists distinct items
    other than the row's own item (what the null models assume)."""
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

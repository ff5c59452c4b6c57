"""Dot products of chosen pairs of rows of a sparse matrix, with the bits of scipy's product.

scipy's csr product ``A @ B`` sums row ``i``'s products in the order of ``i``'s stored columns
(:func:`scipy.sparse` ``csr_matmat``: ``sums[k] += A[i, j] * B[j, k]``, ``j`` ascending in a
sorted row). So ``(X @ X.T)[i, k]`` and ``(X @ X.T)[k, i]`` are one sum, and one pair's value
can be had without the row's other ``n - 1``: :func:`pair_dots`. The night's screen
(:mod:`mangarec.neighbours_screen`) and the series model's warm members
(:mod:`mangarec.models._series_warm`) compare such values with a ranking's or a threshold's, so
they must be the product's bits, not the same sum in another order.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def pair_dots(x: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``(x @ x.T)[rows[e], cols[e]]`` for each ``e``, in ``x``'s dtype, summed as scipy's
    product sums them: products of the two rows added in ascending column order (``x`` with
    sorted indices)."""
    prod = sp.csr_matrix(x[rows].multiply(x[cols]), dtype=x.dtype)
    prod.sort_indices()
    lens = np.diff(prod.indptr)
    acc = np.zeros(len(rows), dtype=x.dtype)
    for t in range(int(lens.max(initial=0))):
        sel = np.flatnonzero(lens > t)
        acc[sel] += prod.data[prod.indptr[sel] + t]
    return acc

"""The scorer interface of :mod:`mangarec.similarity` and the helpers its kinds share.

:class:`Similarity` is what :func:`mangarec.topk.exact_topk` ranks by: blocks of rows of scores.
Its kinds live in :mod:`mangarec.similarity` (sparse text, dense vectors, stored pairs, weighted
sums) and :mod:`mangarec.tag_scorers` (tag sets, low-rank factors); every name is importable
from :mod:`mangarec.similarity`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

#: From this share of stored pairs on, a sparse block is added densely (:func:`_add_sparse`).
DENSE_ADD_SHARE = 0.1


def _add_sparse(out: np.ndarray, p: sp.csr_matrix, weight: float) -> None:
    """``out += weight · p`` for a csr ``p`` of ``out``'s shape (no duplicate entries: a sparse
    product or a row slice of a canonical matrix; their order does not matter)."""
    scaled = weight * p.data.astype(np.float64)
    if p.nnz > DENSE_ADD_SHARE * out.size:
        # dense enough: spread to a dense block in C and add it (absent pairs add +0.0, which
        # changes no sum: ``out`` starts at +0.0 and never holds -0.0)
        out += sp.csr_matrix((scaled, p.indices, p.indptr), shape=out.shape).toarray()
        return
    flat = out.reshape(-1)
    pos = np.repeat(np.arange(p.shape[0], dtype=np.int64) * out.shape[1], np.diff(p.indptr)) + p.indices
    flat[pos] += scaled


def _csr_parts(prefix: str, m: sp.csr_matrix) -> dict[str, np.ndarray]:
    m = sp.csr_matrix(m)
    return {
        f"{prefix}data": m.data,
        f"{prefix}indices": m.indices.astype(np.int64),
        f"{prefix}indptr": m.indptr.astype(np.int64),
        f"{prefix}shape": np.asarray(m.shape, dtype=np.int64),
    }


def _csr_from(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(v) for v in arrays[f"{prefix}shape"])
    return sp.csr_matrix((arrays[f"{prefix}data"], arrays[f"{prefix}indices"], arrays[f"{prefix}indptr"]), shape=shape)


class Similarity:
    """A pairwise score over ``n`` items, computed a block of rows at a time."""

    kind: ClassVar[str] = ""

    @property
    def n(self) -> int:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    #: ``block`` is only a float32 screen: exact scores of candidates come from :meth:`exact`.
    screens: ClassVar[bool] = False

    def block(self, rows: np.ndarray) -> np.ndarray:
        """Scores of the items ``rows`` ((r,) int64) against all items: ``(r, n)`` float32/64.

        The diagonal holds the item's score with itself under the same formula.
        """
        raise NotImplementedError  # pragma: no cover

    def block64(self, rows: np.ndarray) -> np.ndarray:
        """:meth:`block` with exact float64 scores (for sums of scorers)."""
        return np.asarray(self.block(rows), dtype=np.float64)

    def exact(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Exact float64 scores of the pairs ``(rows[e], cols[e])`` (scorers that screen)."""
        raise NotImplementedError  # pragma: no cover

    def screen_error(self, rows: np.ndarray) -> np.ndarray | None:
        """``(len(rows),)`` float64 bound of ``|block(rows) - exact|`` on each row, or ``None``
        when the scorer states none (a screen then keeps :data:`mangarec.topk_dense.MARGIN`).
        Exact scorers: zeros."""
        return None if self.screens else np.zeros(len(rows))

    def column_groups(self) -> np.ndarray | None:
        """``(n,)`` int64 labels ``0..m-1`` such that items with equal labels have identical
        score *columns*, whose scores are grid values float32 holds (in [0, 1]); the search
        then ranks the ``m`` groups (:meth:`group_block`) and expands them. Or ``None``."""
        return None

    def group_block(self, rows: np.ndarray) -> np.ndarray:
        """Exact scores of the items ``rows`` against each column group: ``(r, m)``."""
        raise NotImplementedError  # pragma: no cover

    def row_groups(self) -> np.ndarray | None:
        """``(n,)`` int64 labels such that items with equal labels have identical score rows
        (each is then ranked once), or ``None``."""
        return None

    def add_into(self, out: np.ndarray, rows: np.ndarray, weight: float) -> None:
        """``out += weight · block(rows)`` (exact float64), without a dense copy where sparse."""
        out += weight * (self.block64(rows) if self.screens else np.asarray(self.block(rows), dtype=np.float64))

    def parts(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(JSON-able meta, arrays)`` that :func:`from_parts` turns back into this scorer."""
        raise NotImplementedError  # pragma: no cover

"""Every title's score against the night's changed titles: the engine's own scores, by columns.

:mod:`mangarec.neighbours_update` needs, for each changed title ``c``, the score ``s(r, c)`` that
the top-k engine (:mod:`mangarec.topk`) gives every row ``r``: on the score grid (the engine
rounds to multiples of 2⁻²⁴ before ranking), exactly, to tell whether ``c`` enters ``r``'s list,
stays in it or leaves it. A row of the engine is ``n`` columns; the changed titles are few, so
the scores are computed as **columns**, one ``(n, len(cols))`` block for a batch of changed
titles (:func:`column_block`), with a bound of their distance to the engine's values before
rounding (``err``):

* ``err = 0`` where the column is the engine's value bit for bit: a sparse cosine's product is
  summed in ascending column order of float32 products, the same sum for ``(r, c)`` and
  ``(c, r)`` (scipy's csr product), so the block of the rows ``cols``, turned, is the engine's
  columns; a tag overlap with integer weights is exact in float32; stored pairs are read as
  stored; a :class:`~mangarec.similarity.Weighted` sum adds its terms, its bias (the column's)
  and its excluded pairs in the engine's order;
* a bound of float64 rounding where a product is summed by BLAS in another order (dense
  cosines, :class:`~mangarec.similarity.Bilinear` factors, tag overlaps with real weights).

A pair whose grid value the bound leaves open (it straddles a rounding boundary) is scored by the
engine's own pair function where the engine has one (:func:`exact_pairs`: the dense search's
cosine, a bilinear scorer's ``exact``), else the caller ranks the row with the engine.
``tests/test_neighbours_screen.py`` checks every kind's columns against the engine's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from .pair_dots import pair_dots
from .similarity import EXCLUDED, Bilinear, DenseCosine, PairScores, Similarity, SparseCosine, TagJaccard, Weighted
from .tag_scorers import TagSum
from .topk_dense import round_cosines, round_scores

EPS = float(np.finfo(np.float64).eps)


def _unit(sim: Similarity | None, vectors: np.ndarray) -> np.ndarray:
    """The unit rows the dense search ranks: a :class:`DenseCosine`'s own, else ``vectors``'."""
    cos = sim if isinstance(sim, DenseCosine) else DenseCosine(vectors)
    return cos._unit  # type: ignore[attr-defined]


def _left(sim: Bilinear) -> np.ndarray:
    """Every row's left factor, as :meth:`Bilinear.block` computes a block's."""
    return sim._left(np.arange(sim.n))


def _bilinear(sim: Bilinear, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    left = _left(sim)
    out = left @ sim.U[cols].T
    if sim.clip:
        np.maximum(out, 0.0, out=out)
    norms = np.linalg.norm(left, axis=1).max(initial=0.0) * np.linalg.norm(sim.U[cols], axis=1)
    return out, 4 * (sim.U.shape[1] + 2) * EPS * norms


def _dense(sim: Similarity | None, vectors: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u = _unit(sim, vectors)
    return u @ u[cols].T, np.full(len(cols), 4 * (u.shape[1] + 2) * EPS)


def _stored(m: sp.csr_matrix) -> sp.csr_matrix:
    """1 at every stored entry of ``m`` (the pairs :meth:`Weighted.block` excludes)."""
    return sp.csr_matrix((np.ones(m.nnz), m.indices, m.indptr), shape=m.shape)


def _magnitude(sim: Similarity, cols: np.ndarray) -> np.ndarray:
    """``(len(cols),)`` bounds of ``|s(·, c)|`` (for the rounding of a sum)."""
    if isinstance(sim, PairScores):
        return np.full(len(cols), float(np.abs(sim.matrix.data).max(initial=0.0)))
    if isinstance(sim, Bilinear):
        left = np.linalg.norm(_left(sim), axis=1).max(initial=0.0)
        return left * np.linalg.norm(sim.U[cols], axis=1)
    if isinstance(sim, Weighted):
        out = np.zeros(len(cols))
        for w, term in sim.terms:
            out += abs(w) * _magnitude(term, cols)
        if sim.bias is not None:
            out += np.abs(sim.bias).max(initial=0.0)
        return out
    return np.ones(len(cols))  # cosines and overlaps


def column_block(sim: Similarity | None, vectors: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(raw, err)``: ``raw`` ``(n, len(cols))`` float64, every item's score against the items
    ``cols`` as the engine computes it before rounding, within ``err`` ``(len(cols),)`` of it
    (0: bit for bit); ``None`` for a kind this module does not know. ``sim = None`` is the dense
    search of ``vectors``."""
    cols = np.asarray(cols, dtype=np.int64)
    if sim is None or isinstance(sim, DenseCosine):
        return _dense(sim, vectors, cols)
    if isinstance(sim, (SparseCosine, TagJaccard)):  # symmetric, summed in the same order: turned
        raw = np.asarray(sim.block(cols), dtype=np.float64).T
        exact = isinstance(sim, SparseCosine) or sim._dtype == np.float32  # type: ignore[attr-defined]
        err = 0.0 if exact else 4 * (sim.tags.shape[1] + 2) * EPS  # type: ignore[union-attr]
        return raw, np.full(len(cols), err)
    if isinstance(sim, PairScores):
        return np.asarray(sim.matrix[:, cols].toarray(), dtype=np.float64), np.zeros(len(cols))
    if isinstance(sim, Bilinear):
        return _bilinear(sim, cols)
    if isinstance(sim, Weighted):
        return _weighted(sim, vectors, cols)
    if isinstance(sim, TagSum):
        return _tag_sum([(w, column_block(t, vectors, cols)) for w, t in sim.terms])
    return None


def _tag_sum(parts: list[tuple[float, tuple[np.ndarray, np.ndarray] | None]]) -> tuple[np.ndarray, np.ndarray] | None:
    """:meth:`TagSum.add_into`'s arithmetic on its terms' scores (each ``(raw, err)``): scaled by
    their weight unless it is 1, summed in order from the first; errors add, weighted."""
    total: np.ndarray | None = None
    err: np.ndarray | None = None
    for w, part in parts:
        if part is None:
            return None
        raw, e = part
        blk = raw if w == 1.0 else raw * w
        total = blk if total is None else total + blk
        err = abs(w) * e if err is None else err + abs(w) * e
    return (total, err) if total is not None and err is not None else None


def _weighted(sim: Weighted, vectors: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """:meth:`Weighted.block`'s sum, turned: each term's columns (a sparse product's and a tag
    overlap's as the engine's :meth:`add_into` scales them), then the columns' bias and the
    excluded pairs."""
    out = np.zeros((sim.n, len(cols)))
    err = np.zeros(len(cols))
    plan: tuple[tuple[float, Any], ...] = sim._plan  # type: ignore[attr-defined]
    for w, term in plan:  # add_into of each term: its float64 scores times w, added
        part = column_block(term, vectors, cols)
        if part is None:
            return None
        raw, e = part
        out += w * raw
        err += abs(w) * e
    if sim.bias is not None:
        out += sim.bias[cols][None, :]
    if np.any(err):  # a term off by err moves the later sums' rounding too
        err = err * (1 + 1e-9) + 4 * (len(plan) + 2) * EPS * _magnitude(sim, cols)
    if sim.exclude is not None:  # stored pairs, whatever their value
        ex = sp.csr_matrix(_stored(sim.exclude).T)[cols].tocoo()
        out[ex.col, ex.row] = EXCLUDED
    return out, err


def exact_pairs(sim: Similarity | None, vectors: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
    """The engine's grid scores (float64) of the pairs ``(rows[e], cols[e])`` where the engine
    scores a pair on its own (the dense search, a bilinear scorer); ``None`` for the other kinds
    (:func:`column_block` is exact there, or the row is ranked by the engine)."""
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    if sim is None or isinstance(sim, DenseCosine):  # as topk_dense.rank_distinct
        u = _unit(sim, vectors)
        out = round_cosines(np.einsum("ij,ij->i", u[rows], u[cols])).astype(np.float64)
        same = np.all(u[rows] == u[cols], axis=1) & np.any(u[cols] != 0, axis=1)
        out[same] = 1.0
        return out
    if isinstance(sim, Bilinear):
        return round_scores(sim.exact(rows, cols))
    return None


def to_grid(sim: Similarity | None) -> Callable[[np.ndarray], np.ndarray]:
    """The engine's rounding of raw scores to its grid, as float64: the dense search's
    (:func:`~mangarec.topk_dense.round_cosines`, clipped to [-1, 1]) for ``sim = None`` or a
    dense cosine, :func:`~mangarec.topk_dense.round_scores` for the others. Monotone."""
    if sim is None or isinstance(sim, DenseCosine):
        return lambda raw: round_cosines(raw).astype(np.float64)
    return round_scores


def _tag_pairs(sim: TagJaccard, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """:meth:`TagJaccard._distinct_block`'s arithmetic on pairs (in its dtype)."""
    dt = sim._dtype  # type: ignore[attr-defined]
    inter = np.asarray(sim.tags[rows].multiply(sim.tags[cols]) @ sim.weights).ravel().astype(dt)
    tr, tc = sim._total[rows], sim._total[cols]  # type: ignore[attr-defined]
    den = (tr + tc) - inter if sim.norm == "jaccard" else np.maximum(tr, tc)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = inter / den
    out[(tr == 0) & (tc == 0)] = 0.0
    return out.astype(np.float64)


def pair_block(
    sim: Similarity | None, vectors: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(raw, err)`` of the pairs ``(rows[e], cols[e])``, as :func:`column_block` for columns:
    the engine's raw scores within ``err`` (0: bit for bit); ``None`` for an unknown kind."""
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    m = len(rows)
    if sim is None or isinstance(sim, DenseCosine):
        u = _unit(sim, vectors)
        return np.einsum("ij,ij->i", u[rows], u[cols]), np.full(m, 4 * (u.shape[1] + 2) * EPS)
    if isinstance(sim, SparseCosine):
        return pair_dots(sim.matrix, rows, cols).astype(np.float64), np.zeros(m)
    if isinstance(sim, TagJaccard):
        exact = sim._dtype == np.float32  # type: ignore[attr-defined]
        return _tag_pairs(sim, rows, cols), np.full(m, 0.0 if exact else 4 * (sim.tags.shape[1] + 2) * EPS)
    if isinstance(sim, PairScores):
        return np.asarray(sim.matrix[rows, cols], dtype=np.float64).ravel(), np.zeros(m)
    if isinstance(sim, Bilinear):
        out = np.einsum("ij,ij->i", _left(sim)[rows], sim.U[cols])
        if sim.clip:
            np.maximum(out, 0.0, out=out)
        norms = np.linalg.norm(_left(sim)[rows], axis=1) * np.linalg.norm(sim.U[cols], axis=1)
        return out, 4 * (sim.U.shape[1] + 2) * EPS * norms
    if isinstance(sim, Weighted):
        out, err = np.zeros(m), np.zeros(m)
        plan: tuple[tuple[float, Any], ...] = sim._plan  # type: ignore[attr-defined]
        for w, term in plan:
            part = pair_block(term, vectors, rows, cols)
            if part is None:
                return None
            out += w * part[0]
            err += abs(w) * part[1]
        if sim.bias is not None:
            out += sim.bias[cols]
        if np.any(err):
            err = err * (1 + 1e-9) + 4 * (len(plan) + 2) * EPS * _magnitude(sim, cols)
        if sim.exclude is not None:  # stored pairs, whatever their value
            out[np.asarray(_stored(sim.exclude)[rows, cols]).ravel() != 0] = EXCLUDED
        return out, err
    if isinstance(sim, TagSum):
        return _tag_sum([(w, pair_block(t, vectors, rows, cols)) for w, t in sim.terms])
    return None

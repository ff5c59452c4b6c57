"""Exact blocked top-k over any :class:`~mangarec.similarity.Similarity`.

The answer follows the same rule as the dense search of :mod:`mangarec.neighbours`: for item
``i`` the neighbours are the other items ``j`` ranked by ``(-score(i, j), tie_order[j])``, with
scores in float64 **rounded to the grid of multiples of 2**-24 before ranking** (summation noise
then never decides an order; equal scores go to the more popular item, then the smaller id).

How a block of rows is ranked without sorting all ``n`` columns of every row:

1. the scorer computes the block, in float32 where that is exact or only a screen
   (:meth:`Similarity.block`);
2. a lower bound of each row's (k+1)-th best score comes from a fixed subsample of the columns
   (one in :data:`SUBSAMPLE_STEP`), lowered by twice the scorer's bound of its screen's error
   (:meth:`Similarity.screen_error`: 0 for exact scores) and two grid steps: a column below it
   can neither belong to the top k nor tie with it;
3. only the columns at or above the bound are kept; their exact float64 scores come from the
   scorer (:meth:`Similarity.exact`, when the block was a screen), are rounded, and sorted by
   ``(row, -score, tie order)``;
4. a row where too many columns reach the bound (a sea of equal scores, e.g. an item similar to
   nothing) is ranked by a scan in tie order instead: columns permuted into tie order, the k-th
   best value from one ``numpy.partition``, the columns above it and as many equal to it as
   still needed, leftmost first.

Items whose score rows are identical (equal tag sets under a tag scorer:
:meth:`Similarity.row_groups`) are ranked once, with one extra neighbour; each item then drops
itself from its group's list. Memory per block is bounded by :data:`BLOCK_ELEMENTS`.

The dense path (distinct vectors against distinct columns) and the primitives both paths share
(the score grid, the subsample bound, dropping an item from its group's list) are in
:mod:`mangarec.topk_dense`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import numpy as np
from threadpoolctl import threadpool_limits

from .similarity import DenseCosine, Similarity
from .topk_dense import (
    BLAS_THREADS,
    MARGIN,
    SCORE_GRID,
    SUBSAMPLE_MIN_COLUMNS,
    DistinctVectors,
    ItemGroups,
    dense_topk,
    drop_self,
    expand_groups,
    kth_largest,
    lower_bound,
    rank_distinct,
    round_cosines,
    round_scores,
    subsample,
)
from .workers import fork_pool

#: Score-matrix elements per block: rows per block = this // columns (float64: 8 MB, about a
#: core's share of the cache; the block is passed over several times: summed terms, the bound,
#: the candidates). On MangaDex (37,285 columns: 28 rows) the series and hybrid searches took
#: about half the CPU time of blocks of 1 << 23 (225 rows, 64 MB), the text search 0.85
#: (``benchmarks/bench_neighbours.py --stages``).
BLOCK_ELEMENTS = 1 << 20
#: A row with more candidates than this is ranked by the tie-order scan.
MAX_CANDIDATES = 4096
#: Forked workers for a large search (rows split between them; each row's answer is the same
#: whoever computes it, so the output does not depend on this).
WORKERS = min(2, os.cpu_count() or 1)
#: Below this many score cells (rows x columns) the search stays in this process.
PARALLEL_MIN_CELLS = 1 << 28

Exact = Callable[[np.ndarray, np.ndarray], np.ndarray]


#: Tie-order prefix searched first for the columns that tie with a row's k-th best (x k).
TIE_PREFIX = 64


def _select_ties(scores: np.ndarray, selfcol: np.ndarray, by_tie: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` of rows with many equal scores (``selfcol``: column to skip per row, or -1).

    The columns above the row's k-th best value are few; the ones equal to it are taken in tie
    order, searched in the ``TIE_PREFIX · k`` most popular items first (a sea of equal scores
    almost always has enough of them there), in the whole row otherwise.
    """
    r, n = scores.shape
    s = round_scores(scores)
    has = np.flatnonzero(selfcol >= 0)
    s[has, selfcol[has]] = np.inf  # out of the minimum
    low = s.min(axis=1)
    s[has, selfcol[has]] = -np.inf
    # a sea at the bottom (an item similar to few others): fewer than k columns above the row's
    # lowest score make that the k-th best, without partitioning the row
    floor = np.count_nonzero(s > low[:, None], axis=1) < k
    kth = low
    if not floor.all():
        deep = np.flatnonzero(~floor)
        kth[deep] = kth_largest(s[deep], k)
    ar, ac = np.nonzero(s > kth[:, None])
    need = k - np.bincount(ar, minlength=r)
    eqm = s == kth[:, None]
    n_eq = eqm.sum(axis=1)
    few = n_eq <= MAX_CANDIDATES
    er_list, ec_list = [], []
    f = np.flatnonzero(few)
    if len(f):  # few columns tie with the k-th best: rank them all
        fr, fc = np.nonzero(eqm[f])
        er_list.append(f[fr])
        ec_list.append(fc)
    many = np.flatnonzero(~few)
    if len(many):  # a sea of ties: the most popular first, in a prefix of the tie order
        m = min(n, TIE_PREFIX * k)
        pref = eqm[many][:, by_tie[:m]]
        csum = np.cumsum(pref, axis=1)
        ok = csum[:, -1] >= need[many]
        pr, pp = np.nonzero(pref & (csum <= need[many][:, None]) & ok[:, None])
        er_list.append(many[pr])
        ec_list.append(by_tie[pp])
        short = many[~ok]
        if len(short):  # the whole row, in tie order
            full = eqm[short][:, by_tie]
            fr, fp = np.nonzero(full & (np.cumsum(full, axis=1) <= need[short][:, None]))
            er_list.append(short[fr])
            ec_list.append(by_tie[fp])
    rr = np.concatenate([ar, *er_list])
    cc = np.concatenate([ac, *ec_list])
    vals = s[rr, cc]
    rank = np.empty(n, dtype=np.int64)
    rank[by_tie] = np.arange(n)
    order = np.lexsort((rank[cc], -vals, rr))
    rr, cc, vals = rr[order], cc[order], vals[order]
    first = np.searchsorted(rr, np.arange(r))
    take = (np.arange(len(rr)) - first[rr]) < k
    return cc[take].reshape(r, k), vals[take].reshape(r, k)


def select_block(
    scores: np.ndarray,
    selfcol: np.ndarray,
    by_tie: np.ndarray,
    k: int,
    exact: Exact | None = None,
    exact_rows: Callable[[np.ndarray], np.ndarray] | None = None,
    error: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` columns of each row of a score block, ties by tie order.

    Why the bound keeps every column that matters: let ``b`` be a row's (k+1)-th best screen
    value over the subsample and ``e`` its screen error. At least k + 1 subsample columns (one
    may be the row's own) have exact scores ``>= b - e``, so the row's k-th best rounded score
    ``T >= b - e - g/2`` (``g`` the grid step); a column whose rounded exact score reaches ``T``
    has an exact score ``>= b - e - g`` and a screen value ``>= b - 2e - g``: at or above
    :func:`lower_bound`.

    Parameters
    ----------
    scores:
        ``(r, n)`` float32 or float64 scores (a screen when ``exact`` is given).
    selfcol:
        ``(r,)`` int64: the column each row may not choose (its own item), or -1 for none.
    by_tie:
        ``(n,)`` int64 item positions sorted by tie order (``argsort(tie_order)``).
    k:
        Columns per row, ``1 <= k <= n - (selfcol >= 0)``.
    exact:
        ``exact(block_rows, cols)``: exact float64 scores of candidate pairs; ``None`` when
        ``scores`` are exact already.
    exact_rows:
        ``exact_rows(block_rows)``: exact float64 scores of whole rows (``(len, n)``), for the
        rows ranked by the tie-order scan; required with ``exact``.
    error:
        ``(r,)`` bound of each row's ``|scores - exact|`` (:meth:`Similarity.screen_error`), or
        ``None``: the bound is lowered by :data:`MARGIN` instead.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(r, k)`` int64 columns and ``(r, k)`` float64 rounded scores, best first.
    """
    r, n = scores.shape
    sub = subsample(n, k + 1)
    lb = lower_bound(scores if sub is None else scores[:, sub], k + 1, error)
    mask = scores >= lb[:, None].astype(scores.dtype)
    counts = mask.sum(axis=1)
    out_i = np.empty((r, k), dtype=np.int64)
    out_s = np.empty((r, k), dtype=np.float64)
    wide = counts > MAX_CANDIDATES
    if wide.any():
        w = np.flatnonzero(wide)
        block = scores[w] if exact_rows is None else exact_rows(w)
        out_i[w], out_s[w] = _select_ties(block, selfcol[w], by_tie, k)
    narrow = np.flatnonzero(~wide)
    if len(narrow):
        rr, cc = np.nonzero(mask if len(narrow) == r else mask[narrow])  # no copy of a block without wide rows
        brow = narrow[rr]
        raw = scores[brow, cc] if exact is None else exact(brow, cc)
        vals = round_scores(raw)
        vals[cc == selfcol[brow]] = -np.inf
        rank = np.empty(n, dtype=np.int64)
        rank[by_tie] = np.arange(n)
        order = np.lexsort((rank[cc], -vals, rr))
        rr, cc, vals = rr[order], cc[order], vals[order]
        first = np.searchsorted(rr, np.arange(len(narrow)))
        take = (np.arange(len(rr)) - first[rr]) < k
        if np.count_nonzero(take) != len(narrow) * k:  # pragma: no cover - guarded by the bound
            raise AssertionError("top-k screening kept too few candidates")
        out_i[narrow] = cc[take].reshape(len(narrow), k)
        out_s[narrow] = vals[take].reshape(len(narrow), k)
    return out_i, out_s


def exact_topk(sim: Similarity, k: int, tie_order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` of every item under ``sim`` (self excluded).

    Parameters
    ----------
    sim:
        The scorer over ``n`` items.
    k:
        Neighbours per item, ``1 <= k <= n - 1``.
    tie_order:
        ``(n,)`` int64 rank per item, lower wins ties (``Catalog.tie_order``).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(n, k)`` int32 positions and ``(n, k)`` float32 scores, non-increasing per row.
    """
    n = sim.n
    tie = np.asarray(tie_order, dtype=np.int64)
    if tie.shape != (n,):
        raise ValueError(f"tie_order has shape {tie.shape}, expected ({n},)")
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be between 1 and n - 1 = {n - 1}, got {k}")
    if isinstance(sim, DenseCosine):  # distinct vectors against distinct columns
        return dense_topk(sim.vectors, k, tie)[:2]
    by_tie = np.argsort(tie, kind="stable").astype(np.int64)
    groups = sim.row_groups()
    if groups is None:
        reps, inverse, kk = np.arange(n, dtype=np.int64), None, k
    else:  # identical score rows: rank each distinct row once, self included, one more neighbour
        inverse = np.asarray(groups, dtype=np.int64)
        _, first, inverse = np.unique(inverse, return_index=True, return_inverse=True)
        reps, kk = first.astype(np.int64), min(k + 1, n)
    columns = sim.column_groups()
    if columns is not None and inverse is not None:  # distinct rows against distinct columns
        top_i, top_s = _rank_groups(sim, reps, kk, tie, columns)
    else:
        top_i, top_s = _rank(sim, reps, kk, by_tie, None if inverse is None else -1)
    if inverse is None:
        return top_i.astype(np.int32), top_s.astype(np.float32)
    return drop_self(top_i, top_s, inverse, np.arange(n, dtype=np.int64), k)


def _blocks(
    sim: Similarity, rows: np.ndarray, width: int, score: Callable[[np.ndarray], np.ndarray]
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(start, block rows, score(block rows))`` for blocks of :data:`BLOCK_ELEMENTS` // ``width``
    rows of ``rows``, scores checked finite, the products on :data:`BLAS_THREADS` threads."""
    step = max(1, min(len(rows), BLOCK_ELEMENTS // max(width, 1)))
    with threadpool_limits(BLAS_THREADS, "blas"):
        for b0 in range(0, len(rows), step):
            r = rows[b0 : b0 + step]
            block = score(r)
            if not np.all(np.isfinite(block)):
                raise ValueError(f"{type(sim).__name__}: non-finite scores")
            yield b0, r, block


def _rank_serial(
    sim: Similarity, rows: np.ndarray, k: int, by_tie: np.ndarray, selfcol: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` of the items ``rows`` (self excluded, or with ``selfcol = -1`` included)."""
    out_i = np.empty((len(rows), k), dtype=np.int64)
    out_s = np.empty((len(rows), k), dtype=np.float64)
    for b0, r, block in _blocks(sim, rows, sim.n, sim.block):
        own = r if selfcol is None else np.full(len(r), selfcol, dtype=np.int64)

        def exact(brow: np.ndarray, cols: np.ndarray, r: np.ndarray = r) -> np.ndarray:
            return sim.exact(r[brow], cols)

        def exact_rows(brow: np.ndarray, r: np.ndarray = r) -> np.ndarray:
            return sim.block64(r[brow])

        error = sim.screen_error(r)
        if sim.screens:
            got = select_block(block, own, by_tie, k, exact, exact_rows, error)
        else:
            got = select_block(block, own, by_tie, k, None, None, error)
        out_i[b0 : b0 + len(r)], out_s[b0 : b0 + len(r)] = got
    return out_i, out_s


def _rank_groups(
    sim: Similarity, rows: np.ndarray, need: int, tie: np.ndarray, columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``need`` items of ``rows`` (each row's own item included) from the scores against
    the column groups (:meth:`Similarity.group_block`): the groups at or above the subsample's
    bound, expanded to their members in tie order (:func:`expand_groups`, as the dense path).
    Tag-set Jaccard and the co-like model's scorer: 19,052 groups of 37,285 titles on MangaDex."""
    groups = ItemGroups(columns, tie, need)
    m = len(groups.counts)
    out_i = np.empty((len(rows), need), dtype=np.int64)
    out_s = np.empty((len(rows), need), dtype=np.float32)
    sub = subsample(m, need)
    for b0, r, s in _blocks(sim, rows, m, sim.group_block):
        lb = lower_bound(s if sub is None else s[:, sub], need, np.zeros(len(r)))
        rr, cc = np.nonzero(s >= lb[:, None].astype(s.dtype))
        score = round_scores(s[rr, cc]).astype(np.float32)
        got = expand_groups(groups, rr.astype(np.int64), cc.astype(np.int64), score, len(r))
        out_i[b0 : b0 + len(r)], out_s[b0 : b0 + len(r)] = got
    return out_i, out_s


#: The search a forked worker runs (set before the fork: workers inherit it, nothing is pickled).
_JOB: dict = {}


def _worker(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    j = _JOB
    return _rank_serial(j["sim"], j["rows"][lo:hi], j["k"], j["by_tie"], j["selfcol"])


def _rank(
    sim: Similarity, rows: np.ndarray, k: int, by_tie: np.ndarray, selfcol: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_rank_serial`, split over :data:`WORKERS` forked processes when the search is large."""
    if WORKERS < 2 or len(rows) * sim.n < PARALLEL_MIN_CELLS or _JOB:
        return _rank_serial(sim, rows, k, by_tie, selfcol)
    chunks = np.linspace(0, len(rows), 4 * WORKERS + 1).astype(int)
    _JOB.update(sim=sim, rows=rows, k=k, by_tie=by_tie, selfcol=selfcol)
    try:
        with fork_pool(WORKERS) as pool:
            parts = list(pool.map(_worker, chunks[:-1], chunks[1:]))
    except (OSError, RuntimeError):  # no way to fork here: one process
        return _rank_serial(sim, rows, k, by_tie, selfcol)
    finally:
        _JOB.clear()
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def topk_rows(sim: Similarity, rows: np.ndarray, k: int, tie_order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` (self excluded) of the items ``rows`` only: ``(len(rows), k)`` int64, float64.

    The same answer as the rows of :func:`exact_topk`, for evaluations on a sample of items.
    """
    if isinstance(sim, DenseCosine):
        idx, sc, _ = dense_topk(sim.vectors, k, tie_order, rows)
        return idx.astype(np.int64), sc.astype(np.float64)  # grid values: float32 holds them exactly
    by_tie = np.argsort(np.asarray(tie_order, dtype=np.int64), kind="stable").astype(np.int64)
    return _rank(sim, np.asarray(rows, dtype=np.int64), k, by_tie, None)


__all__ = [
    "BLAS_THREADS",
    "MARGIN",
    "SCORE_GRID",
    "SUBSAMPLE_MIN_COLUMNS",
    "DistinctVectors",
    "dense_topk",
    "drop_self",
    "exact_topk",
    "expand_groups",
    "rank_distinct",
    "round_cosines",
    "round_scores",
    "select_block",
    "topk_rows",
]

"""Exact blocked top-k over any :class:`~mangarec.similarity.Similarity`.

The answer follows the same rule as the dense search of :mod:`mangarec.neighbours`: for item
``i`` the neighbours are the other items ``j`` ranked by ``(-score(i, j), tie_order[j])``, with
scores in float64 **rounded to the grid of multiples of 2**-24 before ranking** (summation noise
then never decides an order; equal scores go to the more popular item, then the smaller id).

How a block of rows is ranked without sorting all ``n`` columns of every row:

1. the scorer computes the block, in float32 where that is exact or only a screen
   (:meth:`Similarity.block`);
2. a lower bound of each row's (k+1)-th best score comes from a fixed subsample of the columns
   (one in :data:`SUBSAMPLE_STEP`), lowered by :data:`MARGIN` (more than float32 error and two
   grid steps: a column below it can neither belong to the top k nor tie with it);
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

Dense vectors (:class:`~mangarec.similarity.DenseCosine`, and :func:`mangarec.neighbours.exact`)
go further (:func:`dense_topk`): the *columns* are grouped too. Distinct unit vectors are scored
against distinct vectors only (the same subsample bound, :func:`_lower_bound`), and each
candidate group expands to its members in tie order, at most ``k + 1`` of them
(:func:`expand_groups`). On MangaDex's 37.3k titles (about half duplicates) this measured 3.2x
faster than scoring every column (``benchmarks/bench_neighbours.py``), with the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from .similarity import DenseCosine, Similarity
from .workers import fork_pool

#: Score-matrix elements per block (float32: 32 MB).
BLOCK_ELEMENTS = 1 << 23
#: Scores are multiples of 1 / SCORE_GRID: the one grid of every exact search (the cosine search
#: of :mod:`mangarec.neighbours` rounds with :func:`round_scores` too).
SCORE_GRID = float(2**24)
#: BLAS threads for the block products, here and in :mod:`mangarec.neighbours`: with 16-d
#: vectors a product is bound by memory writes, and one thread measured 3x faster than two on the
#: shared 2-core machine (bench_neighbours.py).
BLAS_THREADS = 1
#: How far below the subsample's bound candidates are kept, relative to the scores' magnitude.
MARGIN = 1e-4
#: A row with more candidates than this is ranked by the tie-order scan.
MAX_CANDIDATES = 4096
#: Below this many columns the bound comes from the whole row.
SUBSAMPLE_MIN_COLUMNS = 2048
#: One column in this many is in the subsample.
SUBSAMPLE_STEP = 8
#: Forked workers for a large search (rows split between them; each row's answer is the same
#: whoever computes it, so the output does not depend on this).
WORKERS = min(2, os.cpu_count() or 1)
#: Below this many score cells (rows x columns) the search stays in this process.
PARALLEL_MIN_CELLS = 1 << 28

Exact = Callable[[np.ndarray, np.ndarray], np.ndarray]


def round_scores(s: np.ndarray) -> np.ndarray:
    """Scores as float64 rounded to the grid of multiples of 2**-24 (a new array)."""
    out = np.asarray(s, dtype=np.float64) * SCORE_GRID
    np.rint(out, out=out)
    out /= SCORE_GRID
    return out


def _subsample(n: int, need: int) -> slice | None:
    """The columns of the bound's subsample (one in :data:`SUBSAMPLE_STEP`), or ``None``: all."""
    if n >= SUBSAMPLE_MIN_COLUMNS and n // SUBSAMPLE_STEP >= need:
        return slice(None, None, SUBSAMPLE_STEP)
    return None


def _lower_bound(sub: np.ndarray, need: int) -> np.ndarray:
    """``(r,)`` float64 bound of each row's ``need``-th best score from the columns ``sub``
    (a subset's ``need``-th best is lower), lowered by :data:`MARGIN`; ``-inf`` when too few."""
    m = sub.shape[1]
    if m < need:
        return np.full(sub.shape[0], -np.inf)
    bound = np.partition(sub, m - need, axis=1)[:, m - need].astype(np.float64)
    return bound - MARGIN * np.maximum(1.0, np.abs(bound))


def drop_self(
    top_i: np.ndarray, top_s: np.ndarray, inverse: np.ndarray, items: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's list from its group's ``k + 1`` (``top_*[inverse]``, own group included)
    with the item itself removed (when absent, ``k + 1`` tied longer: the last dropped).
    ``(len(items), k)`` int32 and float32."""
    li, ls = top_i[inverse], top_s[inverse]
    keep = li != items[:, None]
    keep[keep.all(axis=1), k] = False
    n = len(items)
    return li[keep].reshape(n, k).astype(np.int32), ls[keep].reshape(n, k).astype(np.float32)


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
    has = selfcol >= 0
    s[np.flatnonzero(has), selfcol[has]] = -np.inf
    kth = np.partition(s, n - k, axis=1)[:, n - k]
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
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` columns of each row of a score block, ties by tie order.

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

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(r, k)`` int64 columns and ``(r, k)`` float64 rounded scores, best first.
    """
    r, n = scores.shape
    sub = _subsample(n, k + 1)
    lb = _lower_bound(scores if sub is None else scores[:, sub], k + 1)
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
        rr, cc = np.nonzero(mask[narrow])
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
    top_i, top_s = _rank(sim, reps, kk, by_tie, None if inverse is None else -1)
    if inverse is None:
        return top_i.astype(np.int32), top_s.astype(np.float32)
    return drop_self(top_i, top_s, inverse, np.arange(n, dtype=np.int64), k)


def _rank_serial(
    sim: Similarity, rows: np.ndarray, k: int, by_tie: np.ndarray, selfcol: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` of the items ``rows`` (self excluded, or with ``selfcol = -1`` included)."""
    n = sim.n
    out_i = np.empty((len(rows), k), dtype=np.int64)
    out_s = np.empty((len(rows), k), dtype=np.float64)
    step = max(1, min(len(rows), BLOCK_ELEMENTS // max(n, 1)))
    with threadpool_limits(BLAS_THREADS, "blas"):
        for b0 in range(0, len(rows), step):
            r = rows[b0 : b0 + step]
            block = sim.block(r)
            if not np.all(np.isfinite(block)):
                raise ValueError(f"{type(sim).__name__}: non-finite scores")
            own = r if selfcol is None else np.full(len(r), selfcol, dtype=np.int64)

            def exact(brow: np.ndarray, cols: np.ndarray, r: np.ndarray = r) -> np.ndarray:
                return sim.exact(r[brow], cols)

            def exact_rows(brow: np.ndarray, r: np.ndarray = r) -> np.ndarray:
                return sim.block64(r[brow])

            extra = (exact, exact_rows) if sim.screens else (None, None)
            out_i[b0 : b0 + len(r)], out_s[b0 : b0 + len(r)] = select_block(block, own, by_tie, k, *extra)
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


# --------------------------------------------------------------------------------------------
# dense vectors: distinct rows against distinct columns

#: Score-matrix elements per block of the dense path (float32: 8 MB; small blocks stay in cache).
DENSE_BLOCK_ELEMENTS = 1 << 21


def round_cosines(cosines: np.ndarray) -> np.ndarray:
    """float64 cosines -> float32 on the score grid (:func:`round_scores`), clipped to [-1, 1].

    The grid is absolute: float64 noise of 1e-17 around 0 (two summation orders of one cosine)
    would survive a plain float32 rounding, which is relative.
    """
    out = round_scores(cosines).astype(np.float32)
    np.clip(out, -1.0, 1.0, out=out)
    return out


class DistinctVectors:
    """Distinct unit vectors of ``(n, d)`` vectors and the items behind each (the dense path).

    Attributes: ``unit`` (m, d) float64 distinct unit rows (zero rows stay zero), ``inverse``
    (n,) int64 item -> distinct row, ``members`` (n,) int64 items grouped by distinct row and
    sorted by tie order within a group, ``starts`` / ``counts`` (m,) int64, ``cap`` (m,) counts
    capped at ``need`` (only that many members of a group can be in any top list), ``zero`` (m,)
    bool. Errors name ``model``.
    """

    def __init__(self, vectors: np.ndarray, tie_order: np.ndarray, need: int, model: str = "vectors"):
        v = np.asarray(vectors)
        if v.ndim != 2:
            raise ValueError(f"{model}: vectors must be 2-D, got shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{model}: vectors contain NaN or infinite values")
        tie = np.asarray(tie_order, dtype=np.int64)
        if tie.shape != (v.shape[0],):
            raise ValueError(f"{model}: tie_order has shape {tie.shape}, expected ({v.shape[0]},)")
        v64 = v.astype(np.float64)
        norms = np.linalg.norm(v64, axis=1)
        unit = np.divide(v64, norms[:, None], out=np.zeros_like(v64), where=norms[:, None] > 0)
        self.unit, inverse, counts = np.unique(unit, axis=0, return_inverse=True, return_counts=True)
        self.inverse = np.asarray(inverse, dtype=np.int64).reshape(-1)
        self.counts = counts.astype(np.int64)
        self.members = np.lexsort((tie, self.inverse)).astype(np.int64)
        self.starts = np.concatenate(([0], np.cumsum(self.counts)[:-1])).astype(np.int64)
        self.cap = np.minimum(self.counts, need)
        self.zero = ~np.any(self.unit != 0, axis=1)
        self.tie = tie
        self.need = need

    @property
    def m(self) -> int:
        return int(self.unit.shape[0])


def _desc_key(scores: np.ndarray) -> np.ndarray:
    """uint32 keys that sort float32 ``scores`` in *descending* order (as int64)."""
    bits = np.ascontiguousarray(scores, dtype=np.float32).view(np.uint32)
    neg = (bits >> 31).astype(bool)
    asc = np.where(neg, ~bits, bits | np.uint32(0x80000000))
    return (np.uint32(0xFFFFFFFF) - asc).astype(np.int64)


def expand_groups(
    dv: DistinctVectors, row: np.ndarray, group: np.ndarray, score: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``need`` items of each row from group-level candidates.

    Parameters
    ----------
    row, group, score:
        (E,) candidate triples: row position in ``[0, n_rows)`` (int64), distinct-vector index
        (int64), float32 score. Every row's candidates must include every group that can hold
        one of its top ``need`` items (e.g. all groups at or above its (need)-th best group score).

    Returns
    -------
    (n_rows, need) int64 item positions and (n_rows, need) float32 scores, best first.
    """
    need = dv.need
    key = (row << 32) | _desc_key(score)
    order = np.argsort(key, kind="stable")
    row, group, score, key = row[order], group[order], score[order], key[order]
    c = dv.cap[group]
    cum = np.cumsum(c)
    first = np.searchsorted(row, np.arange(n_rows))
    base = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0)
    keep = cum - c - base[row] < need
    # Groups tying with a row's last needed group are candidates too (keep is a prefix per row).
    nkept = np.bincount(row[keep], minlength=n_rows)
    has = nkept > 0
    boundary = np.full(n_rows, -1, dtype=np.int64)
    boundary[has] = key[first[has] + nkept[has] - 1]
    keep |= key == boundary[row]
    row, group, score, key = row[keep], group[keep], score[keep], key[keep]
    c = dv.cap[group]
    rep = np.repeat(np.arange(len(group)), c)
    offset = np.arange(len(rep)) - np.repeat(np.cumsum(c) - c, c)
    items = dv.members[dv.starts[group][rep] + offset]
    erow = row[rep]
    order = np.lexsort((dv.tie[items], key[rep], erow))
    items, erow, escore = items[order], erow[order], score[rep][order]
    first = np.searchsorted(erow, np.arange(n_rows))
    take = np.arange(len(erow)) - first[erow] < need
    if np.count_nonzero(take) != n_rows * need:
        raise AssertionError("neighbour expansion found too few candidates")
    return items[take].reshape(n_rows, need), escore[take].reshape(n_rows, need)


def rank_distinct(dv: DistinctVectors, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top ``need`` items of the distinct rows ``rows`` (int64), own group included.

    A float32 product of distinct rows with distinct columns is the screen (half the memory
    traffic of float64); the bound of :func:`_lower_bound` keeps the candidate groups, whose
    float64 cosines are rounded (:func:`round_cosines`) and expanded to items
    (:func:`expand_groups`). Identical non-zero vectors score exactly 1.0.
    """
    need, m = dv.need, dv.m
    out_i = np.empty((len(rows), need), dtype=np.int64)
    out_s = np.empty((len(rows), need), dtype=np.float32)
    block = max(1, min(len(rows), DENSE_BLOCK_ELEMENTS // max(m, 1)))
    sub = _subsample(m, need)
    unit32 = dv.unit.astype(np.float32)
    unit32_t = np.ascontiguousarray(unit32.T)
    sub_t = None if sub is None else np.ascontiguousarray(unit32[sub].T)
    buf = np.empty((block, m), dtype=np.float32)  # reused: fresh pages per block cost time
    with threadpool_limits(BLAS_THREADS, "blas"):
        for b0 in range(0, len(rows), block):
            r = rows[b0 : b0 + block]
            s = buf[: len(r)]
            np.matmul(unit32[r], unit32_t, out=s)
            selfrow = np.flatnonzero(~dv.zero[r])
            s[selfrow, r[selfrow]] = 1.0
            # the subsample's own small product is cheaper than gathering its columns from s
            # (a self column there is ~1.0: still a valid bound)
            lb = _lower_bound(s if sub_t is None else unit32[r] @ sub_t, need)
            rr, cc = np.divmod(np.flatnonzero(s >= lb[:, None].astype(np.float32)), m)
            qi = r[rr]
            exact_s = round_cosines(np.einsum("ij,ij->i", dv.unit[qi], dv.unit[cc]))
            exact_s[(qi == cc) & ~dv.zero[cc]] = 1.0
            items, sc = expand_groups(dv, rr.astype(np.int64), cc.astype(np.int64), exact_s, len(r))
            out_i[b0 : b0 + len(r)] = items
            out_s[b0 : b0 + len(r)] = sc
    return out_i, out_s


def dense_topk(
    vectors: np.ndarray, k: int, tie_order: np.ndarray, rows: np.ndarray | None = None, model: str = "vectors"
) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact cosine top-``k`` (self excluded) of every item, or of the items ``rows``.

    Each distinct unit vector is ranked once against the distinct vectors, with ``k + 1``
    neighbours (its own group included); each item then drops itself (:func:`drop_self`).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, int)
        ``(len(rows), k)`` int32 positions, ``(len(rows), k)`` float32 scores and the number of
        distinct vectors.
    """
    dv = DistinctVectors(vectors, tie_order, k + 1, model)
    n = len(dv.inverse)
    if not 1 <= k <= n - 1:
        raise ValueError(f"{model}: k must be between 1 and n - 1 = {n - 1}, got {k}")
    items = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    groups, inverse = np.unique(dv.inverse[items], return_inverse=True)
    top_i, top_s = rank_distinct(dv, groups)
    idx, sc = drop_self(top_i, top_s, np.asarray(inverse, dtype=np.int64).reshape(-1), items, k)
    return idx, sc, dv.m

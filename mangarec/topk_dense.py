"""The top-k engine's dense path, and the primitives both of its paths share.

Every exact search ranks item ``i``'s neighbours ``j`` by ``(-score(i, j), tie_order[j])`` with
scores rounded to the grid of multiples of 2**-24 (:func:`round_scores`); the bound of a row's
(k+1)-th best score comes from a fixed subsample of its columns (:func:`subsample`,
:func:`lower_bound`); items of one group (identical score rows) share their group's list minus
themselves (:func:`drop_self`). :mod:`mangarec.topk` ranks any scorer with them.

Dense vectors (:class:`~mangarec.similarity.DenseCosine`, and :func:`mangarec.neighbours.exact`)
go further (:func:`dense_topk`, here): the *columns* are grouped too. Distinct unit vectors are scored
against distinct vectors only (the same subsample bound, :func:`lower_bound`), and each
candidate group expands to its members in tie order, at most ``k + 1`` of them
(:func:`expand_groups`). On MangaDex's 37.3k titles (about half duplicates) this measured 3.2x
faster than scoring every column (``benchmarks/bench_neighbours.py``), with the same bytes.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

#: Scores are multiples of 1 / SCORE_GRID: the one grid of every exact search (the cosine search
#: of :mod:`mangarec.neighbours` rounds with :func:`round_scores` too).
SCORE_GRID = float(2**24)
#: BLAS threads for the block products, here and in :mod:`mangarec.neighbours`: with 16-d
#: vectors a product is bound by memory writes, and one thread measured 3x faster than two on the
#: shared 2-core machine (bench_neighbours.py).
BLAS_THREADS = 1
#: How far below the subsample's bound candidates are kept, relative to the scores' magnitude.
MARGIN = 1e-4
#: Below this many columns the bound comes from the whole row.
SUBSAMPLE_MIN_COLUMNS = 2048
#: One column in this many is in the subsample.
SUBSAMPLE_STEP = 8


def round_scores(s: np.ndarray) -> np.ndarray:
    """Scores as float64 rounded to the grid of multiples of 2**-24 (a new array)."""
    out = np.asarray(s, dtype=np.float64) * SCORE_GRID
    np.rint(out, out=out)
    out /= SCORE_GRID
    return out


def subsample(n: int, need: int) -> slice | None:
    """The columns of the bound's subsample (one in :data:`SUBSAMPLE_STEP`), or ``None``: all."""
    if n >= SUBSAMPLE_MIN_COLUMNS and n // SUBSAMPLE_STEP >= need:
        return slice(None, None, SUBSAMPLE_STEP)
    return None


def kth_largest(a: np.ndarray, k: int) -> np.ndarray:
    """``(r,)`` the ``k``-th largest value of each row of ``a`` (``1 <= k <= a.shape[1]``).

    numpy's introselect slows down tenfold on a row where most values are equal and the k-th
    largest is above them (a sparse score row: mostly zeros, 0.35 ms instead of 0.03 for 4,660
    columns); such rows (half the values equal the middle column's, at least ``k`` above it) are
    partitioned negated, where it is fast. The same values either way.
    """
    r, m = a.shape
    mid = a[:, m // 2 : m // 2 + 1]
    sea = (np.count_nonzero(a == mid, axis=1) * 2 > m) & (np.count_nonzero(a > mid, axis=1) >= k)
    if not sea.any():
        return np.partition(a, m - k, axis=1)[:, m - k]
    out = np.empty(r, dtype=a.dtype)
    out[sea] = -np.partition(-a[sea], k - 1, axis=1)[:, k - 1]
    rest = np.flatnonzero(~sea)
    if len(rest):
        out[rest] = np.partition(a[rest], m - k, axis=1)[:, m - k]
    return out


def lower_bound(sub: np.ndarray, need: int, error: np.ndarray | None = None) -> np.ndarray:
    """``(r,)`` float64 bound of each row's ``need``-th best score from the columns ``sub``
    (a subset's ``need``-th best is lower); ``-inf`` when too few.

    ``error``: ``(r,)`` bound of each row's ``|screen - exact|`` (0 for exact scores): the bound
    is lowered by twice it, two grid steps and the float32 rounding of the bound itself (a column
    whose rounded exact score reaches the row's k-th best is kept, proof in
    :func:`mangarec.topk.select_block`). Without it, by :data:`MARGIN` (relative to the scores'
    magnitude, at least 1e-4: a cosine screen's error is far smaller).
    """
    m = sub.shape[1]
    if m < need:
        return np.full(sub.shape[0], -np.inf)
    bound = kth_largest(sub, need).astype(np.float64)
    if error is None:
        return bound - MARGIN * np.maximum(1.0, np.abs(bound))
    return bound - (2.0 * np.asarray(error, dtype=np.float64) + 2.0 / SCORE_GRID + np.abs(bound) * 2.0**-21)


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


class ItemGroups:
    """Items in groups whose score columns are identical (``inverse``: item -> group), what
    :func:`expand_groups` expands: ``members`` (n,) int64 items grouped and sorted by tie order
    within a group, ``starts`` / ``counts`` (m,) int64, ``cap`` (m,) counts capped at ``need``
    (only that many members of a group can be in any top list)."""

    def __init__(self, inverse: np.ndarray, tie_order: np.ndarray, need: int):
        self.inverse = np.asarray(inverse, dtype=np.int64).reshape(-1)
        self.counts = np.bincount(self.inverse).astype(np.int64)
        self.tie = np.asarray(tie_order, dtype=np.int64)
        self.members = np.lexsort((self.tie, self.inverse)).astype(np.int64)
        self.starts = np.concatenate(([0], np.cumsum(self.counts)[:-1])).astype(np.int64)
        self.cap = np.minimum(self.counts, need)
        self.need = need


class DistinctVectors(ItemGroups):
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
        self.unit, inverse = np.unique(unit, axis=0, return_inverse=True)
        super().__init__(inverse, tie, need)
        self.zero = ~np.any(self.unit != 0, axis=1)

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
    dv: ItemGroups, row: np.ndarray, group: np.ndarray, score: np.ndarray, n_rows: int
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
    traffic of float64); the bound of :func:`lower_bound` keeps the candidate groups, whose
    float64 cosines are rounded (:func:`round_cosines`) and expanded to items
    (:func:`expand_groups`). Identical non-zero vectors score exactly 1.0.
    """
    need, m = dv.need, dv.m
    out_i = np.empty((len(rows), need), dtype=np.int64)
    out_s = np.empty((len(rows), need), dtype=np.float32)
    block = max(1, min(len(rows), DENSE_BLOCK_ELEMENTS // max(m, 1)))
    sub = subsample(m, need)
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
            lb = lower_bound(s if sub_t is None else unit32[r] @ sub_t, need)
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

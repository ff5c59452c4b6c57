"""Top-k cosine neighbours of every item: exact blocked search or NN-descent.

(An embedding with its own ``similarity`` — sparse text, tag-set Jaccard, a low-rank score with a
correction, a weighted hybrid — is ranked by :func:`scored`, i.e. :mod:`mangarec.topk`, under
the same tie rule.)

Both searches share one definition of the answer. For item ``i`` the neighbours are the other
items ``j`` ranked by ``(-score(i, j), tie_order[j])`` where ``score`` is the cosine similarity
computed in float64 and **rounded before ranking** to the nearest multiple of 2**-24 (a float32
value): items whose tag sets are equal (or whose cosines are equal up to float64 rounding noise,
which differs between BLAS kernels and summation orders) then tie exactly on every platform, and
the tie goes to the more popular item (then the smaller id, see ``Catalog.tie_order``).

Conventions:

* Identical vectors have cosine exactly 1.0 (an item's duplicates are its best neighbours).
* A zero vector has cosine 0.0 with everything, itself included (an item a model knows nothing
  about is similar to nothing; its "neighbours" are then simply the most popular items).
* ``k`` is capped at ``n - 1``; the cap is recorded in ``info``.

The exact search works on the *distinct* vectors (MangaDex: 37.5k titles, 19.6k distinct tag
sets), computes scores block by block (bounded memory) and avoids a full per-row selection: a
lower bound for each row's (k+1)-th best score comes from a fixed column subsample, and only the
columns at or above it are sorted. See ``benchmarks/bench_neighbours.py`` for the figures.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from .embedding import Embedding, Neighbours
from .seeds import derive_seed
from .topk import BLAS_THREADS, MARGIN, SUBSAMPLE_MIN_COLUMNS, SUBSAMPLE_STEP, exact_topk, round_scores

if TYPE_CHECKING:
    from .config import NeighboursSection

#: Score-matrix elements per block (float32: 8 MB; small blocks stay in cache).
BLOCK_ELEMENTS = 1 << 21
#: How far below the float32 threshold candidates are kept (float32 product error is ~1e-6):
#: the engine's margin, absolute here since unit-vector cosines are at most 1.
SCREEN_MARGIN = np.float32(MARGIN)
# BLAS threads for the block products and the score grid are the top-k engine's
# (mangarec.topk.BLAS_THREADS, mangarec.topk.round_scores): one definition of the answer.


# --------------------------------------------------------------------------------------------
# shared preparation


class _Prepared:
    """Distinct unit vectors of an embedding and the items behind each.

    Attributes: ``unit`` (m, d) float64 distinct unit rows (zero rows stay zero), ``inverse``
    (n,) int64 item -> distinct row, ``members`` (n,) int64 items grouped by distinct row and
    sorted by tie order within a group, ``starts`` / ``counts`` (m,) int64, ``cap`` (m,) counts
    capped at ``need`` (only that many members of a group can be in any top list), ``zero`` (m,)
    bool.
    """

    def __init__(self, vectors: np.ndarray, tie_order: np.ndarray, need: int, model: str):
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
        self.unit, inverse, self.counts = np.unique(unit, axis=0, return_inverse=True, return_counts=True)
        self.inverse = np.asarray(inverse, dtype=np.int64).reshape(-1)
        self.counts = self.counts.astype(np.int64)
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


def _round_scores(cosines: np.ndarray) -> np.ndarray:
    """float64 cosines -> float32 on the grid of multiples of 2**-24, clipped to [-1, 1].

    This is the rounding that makes ties real: plain float32 rounding is relative, so noise of
    1e-17 around 0 (two float64 summation orders of the same cosine) would survive it; an
    absolute grid of 2**-24 (~6e-8, exactly representable in float32) absorbs float64 noise
    everywhere in [-1, 1].
    """
    out = round_scores(cosines).astype(np.float32)
    np.clip(out, -1.0, 1.0, out=out)
    return out


def _expand(prep: _Prepared, row: np.ndarray, group: np.ndarray, score: np.ndarray, n_rows: int):
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
    need = prep.need
    key = (row << 32) | _desc_key(score)
    order = np.argsort(key, kind="stable")
    row, group, score, key = row[order], group[order], score[order], key[order]
    c = prep.cap[group]
    cum = np.cumsum(c)
    first = np.searchsorted(row, np.arange(n_rows))
    base = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0)
    before = cum - c - base[row]
    keep = before < need
    # Groups tying with a row's last needed group are candidates too (keep is a prefix per row).
    nkept = np.bincount(row[keep], minlength=n_rows)
    has = nkept > 0
    boundary = np.full(n_rows, -1, dtype=np.int64)
    boundary[has] = key[first[has] + nkept[has] - 1]
    keep |= key == boundary[row]
    row, group, score, key = row[keep], group[keep], score[keep], key[keep]
    c = prep.cap[group]
    rep = np.repeat(np.arange(len(group)), c)
    offset = np.arange(len(rep)) - np.repeat(np.cumsum(c) - c, c)
    items = prep.members[prep.starts[group][rep] + offset]
    erow = row[rep]
    order = np.lexsort((prep.tie[items], key[rep], erow))
    items, erow, escore = items[order], erow[order], score[rep][order]
    first = np.searchsorted(erow, np.arange(n_rows))
    pos = np.arange(len(erow)) - first[erow]
    take = pos < need
    if np.count_nonzero(take) != n_rows * need:
        raise AssertionError("neighbour expansion found too few candidates")
    return items[take].reshape(n_rows, need), escore[take].reshape(n_rows, need)


def _exact_rows(prep: _Prepared, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top ``need`` items for the distinct rows ``rows`` (int64), self group included."""
    need, m = prep.need, prep.m
    out_i = np.empty((len(rows), need), dtype=np.int64)
    out_s = np.empty((len(rows), need), dtype=np.float32)
    block = max(1, min(len(rows), BLOCK_ELEMENTS // max(m, 1)))
    sub = None
    if m >= SUBSAMPLE_MIN_COLUMNS:
        sub = np.arange(0, m, SUBSAMPLE_STEP)
        if len(sub) < need:
            sub = None
    # Candidates come from a float32 product (half the memory traffic of float64) with a
    # threshold lowered by SCREEN_MARGIN, far above float32 product error for unit vectors;
    # their scores are then recomputed in float64 and rounded, so results match a float64 search.
    unit32 = prep.unit.astype(np.float32)
    unit32_t = np.ascontiguousarray(unit32.T)
    buf = np.empty((block, m), dtype=np.float32)  # reused: fresh pages per block cost time
    if sub is not None:
        sub_t = np.ascontiguousarray(unit32[sub].T)
    for b0 in range(0, len(rows), block):
        r = rows[b0 : b0 + block]
        s = buf[: len(r)]
        np.matmul(unit32[r], unit32_t, out=s)
        selfrow = np.flatnonzero(~prep.zero[r])
        s[selfrow, r[selfrow]] = 1.0
        # Lower bound of each row's need-th best group score (a subset's need-th best is <=);
        # the subsample's own small product is cheaper than gathering its columns from s.
        if sub is None:
            cols = s.copy()
        else:
            cols = unit32[r] @ sub_t  # (a self column here is ~1.0: still a valid bound)
        kth = cols.shape[1] - need
        if kth < 0:  # fewer distinct vectors than needed: every group is a candidate
            lb = np.full(len(r), -np.inf, dtype=np.float32)
        else:
            cols.partition(kth, axis=1)
            lb = cols[:, kth] - SCREEN_MARGIN
        flat = np.flatnonzero(s >= lb[:, None])
        rr, cc = np.divmod(flat, m)
        qi = r[rr]
        exact_s = _round_scores(np.einsum("ij,ij->i", prep.unit[qi], prep.unit[cc]))
        exact_s[(qi == cc) & ~prep.zero[cc]] = 1.0
        items, sc = _expand(prep, rr.astype(np.int64), cc.astype(np.int64), exact_s, len(r))
        out_i[b0 : b0 + len(r)] = items
        out_s[b0 : b0 + len(r)] = sc
    return out_i, out_s


def _per_item(prep: _Prepared, top_i: np.ndarray, top_s: np.ndarray, k: int):
    """Each item's list: its distinct row's top ``k + 1`` items with the item itself removed."""
    n = len(prep.inverse)
    li = top_i[prep.inverse]
    ls = top_s[prep.inverse]
    keep = li != np.arange(n)[:, None]
    full = keep.all(axis=1)
    keep[full, k] = False
    return li[keep].reshape(n, k).astype(np.int32), ls[keep].reshape(n, k).astype(np.float32)


def _effective_k(k: int, n: int, model: str) -> int:
    if k < 1:
        raise ValueError(f"{model}: k must be >= 1, got {k}")
    if n < 2:
        raise ValueError(f"{model}: need at least 2 items for neighbours, got {n}")
    return min(k, n - 1)


# --------------------------------------------------------------------------------------------
# public API


def scored(emb: Embedding, k: int, tie_order: np.ndarray) -> Neighbours:
    """Exact top-k under the embedding's own ``similarity`` (:func:`mangarec.topk.exact_topk`)."""
    if emb.similarity is None:
        raise ValueError(f"{emb.model}: the embedding has no similarity of its own")
    t0 = time.perf_counter()
    kk = _effective_k(k, len(emb.item_ids), emb.model)
    idx, sc = exact_topk(emb.similarity, kk, tie_order)
    info = {
        "method": "exact",
        "k": kk,
        "similarity": emb.similarity.kind,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if kk != k:
        info["k_capped_from"] = k
    return Neighbours(emb.model, tuple(emb.item_ids), idx, sc, "exact", info)


def exact(emb: Embedding, k: int, tie_order: np.ndarray) -> Neighbours:
    """Exact cosine top-k of every item (self excluded, ties by ``tie_order``).

    An embedding with its own ``similarity`` is ranked by it instead (:func:`scored`).

    Parameters
    ----------
    emb:
        Item vectors ``(n, d)``.
    k:
        Neighbours per item (capped at ``n - 1``).
    tie_order:
        ``(n,)`` int64 rank per item, lower wins ties (``Catalog.tie_order``).

    Returns
    -------
    Neighbours
        ``indices`` ``(n, k)`` int32, ``scores`` ``(n, k)`` float32 non-increasing per row.
    """
    if emb.similarity is not None:
        return scored(emb, k, tie_order)
    t0 = time.perf_counter()
    n = len(emb.item_ids)
    kk = _effective_k(k, n, emb.model)
    prep = _Prepared(emb.vectors, tie_order, kk + 1, emb.model)
    with threadpool_limits(BLAS_THREADS, "blas"):
        top_i, top_s = _exact_rows(prep, np.arange(prep.m, dtype=np.int64))
    idx, sc = _per_item(prep, top_i, top_s, kk)
    info = {"method": "exact", "k": kk, "distinct_vectors": prep.m, "seconds": round(time.perf_counter() - t0, 3)}
    if kk != k:
        info["k_capped_from"] = k
    return Neighbours(emb.model, tuple(emb.item_ids), idx, sc, "exact", info)


def approximate(emb: Embedding, k: int, tie_order: np.ndarray, seed: int, n_neighbors: int | None = None) -> Neighbours:
    """Approximate cosine top-k via pynndescent's NN-descent graph on the distinct vectors.

    The graph only proposes candidate groups; their scores are recomputed exactly, rounded to
    the score grid and ranked like :func:`exact` (duplicates first, ties by ``tie_order``). Rows
    whose candidates cannot fill ``k`` (or whose vector is zero) are searched exactly, and so is
    every row of a set with at most ``4 * n_neighbors`` distinct non-zero vectors.

    Parameters
    ----------
    n_neighbors:
        Graph degree asked of NN-descent (distinct vectors per row, self included); default
        ``k + 2``.
    """
    t0 = time.perf_counter()
    n = len(emb.item_ids)
    kk = _effective_k(k, n, emb.model)
    prep = _Prepared(emb.vectors, tie_order, kk + 1, emb.model)
    m = prep.m
    nz = np.flatnonzero(~prep.zero)
    degree = n_neighbors or kk + 2
    rows_list, groups_list = [], []
    if len(nz) > 4 * degree:  # smaller sets: every row goes to the exact search below
        from pynndescent import NNDescent  # heavy import (numba); only when needed

        index = NNDescent(
            prep.unit[nz],
            metric="cosine",
            n_neighbors=degree,
            random_state=derive_seed(seed, "nndescent"),
            n_jobs=1,
            low_memory=True,
            compressed=False,
            verbose=False,
        )
        graph, _ = index.neighbor_graph
        valid = graph >= 0
        rows_list.append(np.repeat(nz, valid.sum(axis=1)))
        groups_list.append(nz[graph[valid]])
    rows_list.append(nz)
    groups_list.append(nz)  # self group, always a candidate
    row = np.concatenate(rows_list).astype(np.int64)
    group = np.concatenate(groups_list).astype(np.int64)
    pair = np.unique(row * m + group)
    row, group = pair // m, pair % m
    score = _round_scores(np.einsum("ij,ij->i", prep.unit[row], prep.unit[group]))
    score[row == group] = 1.0
    # Rows with too few candidate items (or zero vectors) go to the exact search.
    filled = np.bincount(row, weights=prep.cap[group], minlength=m)
    short = (filled < prep.need) | prep.zero | (not rows_list[:-1])  # no graph: all exact
    ok = ~short[row]
    top_i = np.empty((m, prep.need), dtype=np.int64)
    top_s = np.empty((m, prep.need), dtype=np.float32)
    good = np.flatnonzero(~short)
    if len(good):
        remap = np.full(m, -1, dtype=np.int64)
        remap[good] = np.arange(len(good))
        gi, gs = _expand(prep, remap[row[ok]], group[ok], score[ok], len(good))
        top_i[good], top_s[good] = gi, gs
    bad = np.flatnonzero(short)
    if len(bad):
        with threadpool_limits(BLAS_THREADS, "blas"):
            top_i[bad], top_s[bad] = _exact_rows(prep, bad)
    idx, sc = _per_item(prep, top_i, top_s, kk)
    info = {
        "method": "nndescent",
        "k": kk,
        "distinct_vectors": m,
        "graph_degree": int(degree),
        "exact_fallback_rows": int(len(bad)),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if kk != k:
        info["k_capped_from"] = k
    return Neighbours(emb.model, tuple(emb.item_ids), idx, sc, "nndescent", info)


def recall(approx: Neighbours, exact_emb: Embedding, sample: int, seed: int) -> float:
    """Recall@k of ``approx`` against exact search, on ``sample`` random items.

    A listed neighbour counts as found when its exact cosine (on the score grid) is at least the
    item's exact k-th best score among the other items: with ties, any of the tied items is a
    correct answer, so the figure does not depend on how ties were broken.

    Returns
    -------
    float
        Mean over the sampled items of (found / k), in [0, 1].
    """
    n, k = approx.indices.shape
    if len(exact_emb.item_ids) != n:
        raise ValueError(f"{approx.model}: neighbours for {n} items, embedding has {len(exact_emb.item_ids)}")
    v = exact_emb.vectors.astype(np.float64)
    norms = np.linalg.norm(v, axis=1)
    unit = np.divide(v, norms[:, None], out=np.zeros_like(v), where=norms[:, None] > 0)
    distinct, inverse = np.unique(unit, axis=0, return_inverse=True)
    inverse = np.asarray(inverse, dtype=np.int64).reshape(-1)
    nonzero = np.any(distinct != 0, axis=1)
    pick = np.sort(np.random.default_rng(derive_seed(seed, "recall")).choice(n, size=min(sample, n), replace=False))
    found = 0
    for b0 in range(0, len(pick), 256):
        p = pick[b0 : b0 + 256]
        g = inverse[p]
        sg = _round_scores(distinct[g] @ distinct.T)
        sg[np.flatnonzero(nonzero[g]), g[nonzero[g]]] = 1.0  # identical vectors: exactly 1.0
        s = sg[:, inverse]
        got = np.take_along_axis(s, approx.indices[p].astype(np.int64), axis=1)
        s[np.arange(len(p)), p] = -np.inf
        kth = np.partition(s, n - k, axis=1)[:, n - k]
        found += int(np.count_nonzero(got >= kth[:, None]))
    return found / (len(pick) * k)


def method_for(emb: Embedding, config: NeighboursSection) -> tuple[str, str]:
    """``(method, reason)``: the search :func:`compute` runs for ``emb`` (``"exact"`` or
    ``"nndescent"``) and why."""
    n = len(emb.item_ids)
    if emb.similarity is not None:
        return "exact", f"the model ranks by its own similarity ({emb.similarity.kind}): exact blocked search"
    if config.method == "exact":
        return "exact", "method = 'exact' in the configuration"
    if config.method == "nndescent":
        return "nndescent", "method = 'nndescent' in the configuration"
    if n <= config.exact_max_items:
        return "exact", f"auto: {n} items <= exact_max_items = {config.exact_max_items}"
    return "nndescent", f"auto: {n} items > exact_max_items = {config.exact_max_items}"


def compute(emb: Embedding, config: NeighboursSection, tie_order: np.ndarray, seed: int) -> Neighbours:
    """Neighbours of one model with the configured (or automatically chosen) method.

    ``info`` records ``method``, ``k``, ``seconds``, ``recall`` (``None`` for exact; measured on
    ``config.recall_sample`` items for NN-descent) and ``reason`` (why the method was chosen).
    A work's other formats are not removed from the lists: the title page shows them apart
    ("also in other formats", from ``Catalog.work_of``).
    """
    method, reason = method_for(emb, config)
    t0 = time.perf_counter()
    if method == "exact":
        nb = exact(emb, config.k, tie_order)
        rec = None
    else:
        nb = approximate(emb, config.k, tie_order, derive_seed(seed, "neighbours", emb.model))
        rec = round(recall(nb, emb, config.recall_sample, derive_seed(seed, "recall", emb.model)), 6)
    info: dict[str, Any] = dict(nb.info)
    info.update(method=method, seconds=round(time.perf_counter() - t0, 3), recall=rec, reason=reason)
    return Neighbours(nb.model, nb.item_ids, nb.indices, nb.scores, method, info)

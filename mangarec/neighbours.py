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

The exact search is the top-k engine's dense path (:func:`mangarec.topk.dense_topk`): it works
on the *distinct* vectors (MangaDex: 37.5k titles, 19.6k distinct tag sets), scores them
against the distinct columns block by block (bounded memory) with the engine's subsample bound,
and expands each group of identical vectors to its items. NN-descent proposes candidate groups
to the same expansion. This module keeps the method choice (:func:`method_for`) and the recall
check. See ``benchmarks/bench_neighbours.py`` for the figures.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .embedding import Embedding, Neighbours
from .seeds import derive_seed
from .topk import exact_topk
from .topk_dense import DistinctVectors, dense_topk, drop_self, expand_groups, rank_distinct, round_cosines

if TYPE_CHECKING:
    from .config import NeighboursSection


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
    idx, sc, m = dense_topk(emb.vectors, kk, tie_order, model=emb.model)
    info = {"method": "exact", "k": kk, "distinct_vectors": m, "seconds": round(time.perf_counter() - t0, 3)}
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
    prep = DistinctVectors(emb.vectors, tie_order, kk + 1, emb.model)
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
    score = round_cosines(np.einsum("ij,ij->i", prep.unit[row], prep.unit[group]))
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
        gi, gs = expand_groups(prep, remap[row[ok]], group[ok], score[ok], len(good))
        top_i[good], top_s[good] = gi, gs
    bad = np.flatnonzero(short)
    if len(bad):
        top_i[bad], top_s[bad] = rank_distinct(prep, bad)
    idx, sc = drop_self(top_i, top_s, prep.inverse, np.arange(n, dtype=np.int64), kk)
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
    dv = DistinctVectors(exact_emb.vectors, np.zeros(n, dtype=np.int64), 1, exact_emb.model)
    distinct, inverse, nonzero = dv.unit, dv.inverse, ~dv.zero
    pick = np.sort(np.random.default_rng(derive_seed(seed, "recall")).choice(n, size=min(sample, n), replace=False))
    found = 0
    for b0 in range(0, len(pick), 256):
        p = pick[b0 : b0 + 256]
        g = inverse[p]
        sg = round_cosines(distinct[g] @ distinct.T)
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

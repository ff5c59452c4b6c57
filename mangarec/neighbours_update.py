"""The night's neighbour lists from last night's: exact, recomputing only the rows that can change.

On top of the top-k engine (:func:`mangarec.topk.topk_rows`), never beside it: the answer is
the one :func:`mangarec.neighbours.compute` gives on the new embedding (the same indices, the
same scores, the same tie rule), obtained with less work when few titles changed.

Which items changed (the set ``C``): new titles, titles whose *score row representation* differs
from last night's (:func:`row_digests`: the embedding's row, or each row of the similarity's
parts; pairwise parts compared by item id, not position), and titles whose place in the tie
order moved among the titles both nights hold. When a part shared by all rows changed (tag
weights, a model's rank, the vocabulary's size) every row may have changed: no update.

Why the rest is exact: the score ``s(i, j)`` of the engine is a function of the digests of
``i`` and ``j`` (and of the shared parts). A row ``r`` outside ``C`` whose list holds no changed
or removed title kept its ``k`` scores, and every unchanged title outside its list still ranks
below them; so its new list is last night's unless a changed title now reaches its ``k``-th
score. A screen of ``s(r, c)`` for every ``c`` in ``C`` (:func:`column_scores`, in float64)
finds those rows: ``c`` may enter row ``r`` only if its screened score is within
a bound of its error against the engine's scores (:func:`screen_error`) and of the grid the
engine rounds to and the float32 the lists store (:func:`screen_tolerance`) of the row's
``k``-th: about 10⁻⁷ for spectral scores of about 10⁻⁴, where a fixed margin of 10⁻⁴ let a
changed title into thousands of lists (and made the update give up on deconvolution). They,
the rows of ``C`` and the rows that listed a changed or removed title are ranked again by the
engine. The other rows keep their lists (positions remapped). ``tests/test_neighbours_update.py``
compares the result with a cold search after random changes.
"""

from __future__ import annotations

import bisect
import hashlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .embedding import Embedding, Neighbours
from .similarity import Bilinear, DenseCosine, PairScores, Similarity, SparseCosine, TagJaccard, Weighted
from .topk import SCORE_GRID, topk_rows

#: Above this share of changed titles the night recomputes every list (the screen alone would
#: then cost about as much as the search).
MAX_CHANGED_SHARE = 0.1
#: Above this share of rows to rank again, the whole search is as cheap: recompute everything.
MAX_RANKED_SHARE = 0.6
#: Columns of the screen computed at once (``n`` float64 rows each).
SCREEN_COLUMNS = 256


# --------------------------------------------------------------------------------------------
# which rows changed


def _csr_rows(m: sp.csr_matrix, ids: Sequence[str] | None = None) -> list[bytes]:
    """Each row's stored columns and values as bytes (columns as item ids when ``ids`` is given:
    an ``(n, n)`` matrix over items, whose positions move when titles come and go)."""
    m = sp.csr_matrix(m)
    m.sort_indices()
    out = []
    data, ind, ptr = m.data, m.indices, m.indptr
    for i in range(m.shape[0]):
        a, b = ptr[i], ptr[i + 1]
        cols = ind[a:b]
        head = "\0".join(ids[c] for c in cols).encode() if ids is not None else cols.astype(np.int64).tobytes()
        out.append(head + b"|" + np.asarray(data[a:b], dtype=np.float64).tobytes())
    return out


def _dense_rows(a: np.ndarray) -> list[bytes]:
    a = np.ascontiguousarray(a)
    return [a[i].tobytes() for i in range(a.shape[0])]


def _parts(sim: Similarity | None, vectors: np.ndarray, ids: Sequence[str]) -> tuple[list[list[bytes]], list[Any]]:
    """``(per-row byte strings (one list per part), shared parts)`` of a scorer, or ``None``
    for a kind this module does not know (then nothing is updated)."""
    if sim is None or isinstance(sim, DenseCosine):
        v = np.asarray(vectors if sim is None else sim.vectors)
        return [_dense_rows(v)], ["dense", str(v.dtype), v.shape[1]]
    if isinstance(sim, SparseCosine):
        return [_csr_rows(sim.matrix)], ["sparse", sim.matrix.shape[1]]
    if isinstance(sim, TagJaccard):
        return [_csr_rows(sim.tags)], ["jaccard", sim.norm, sim.tags.shape[1], sim.weights.tobytes()]
    if isinstance(sim, Bilinear):
        left = _dense_rows(np.hstack([sim.U, sim.c[:, None]]))
        return [left], ["bilinear", bool(sim.clip), sim.U.shape[1], sim.a.tobytes(), sim.b.tobytes()]
    if isinstance(sim, PairScores):
        return [_csr_rows(sim.matrix, ids)], ["pairs"]
    if isinstance(sim, Weighted):
        rows: list[list[bytes]] = []
        shared: list[Any] = ["weighted", list(sim.labels)]
        for w, term in sim.terms:
            r, s = _parts(term, vectors, ids)
            rows += r
            shared += [float(w), s]
        if sim.bias is not None:
            rows.append(_dense_rows(sim.bias[:, None]))
        if sim.exclude is not None:
            rows.append(_csr_rows(sim.exclude, ids))
        shared += [sim.bias is not None, sim.exclude is not None]
        return rows, shared
    raise TypeError(type(sim).__name__)


def row_digests(emb: Embedding) -> tuple[list[bytes], str] | None:
    """``(one digest per item, digest of the shared parts)`` of what the engine scores: two
    items with unchanged digests (and unchanged shared parts) score the same; ``None`` for a
    similarity this module does not know."""
    try:
        rows, shared = _parts(emb.similarity, np.asarray(emb.vectors), emb.item_ids)
    except TypeError:
        return None
    digests = []
    for parts in zip(*rows):
        h = hashlib.blake2b(digest_size=16)
        for p in parts:
            h.update(len(p).to_bytes(8, "little") + p)
        digests.append(h.digest())
    shared_key = hashlib.sha256(repr(shared).encode()).hexdigest()
    return digests, shared_key


def moved_in_tie_order(old_rank: np.ndarray, new_rank: np.ndarray) -> np.ndarray:
    """Boolean ``(m,)``: the items (both nights' ranks given in one order) whose place among the
    others changed: those outside a longest run that keeps its relative order."""
    m = len(old_rank)
    if m == 0:
        return np.zeros(0, dtype=bool)
    seq = np.asarray(new_rank)[np.argsort(old_rank, kind="stable")]
    # longest increasing subsequence (patience sorting), with back-pointers
    tails: list[int] = []
    tails_at: list[int] = []
    back = np.full(m, -1, dtype=np.int64)
    for i, v in enumerate(seq.tolist()):
        j = bisect.bisect_left(tails, v)
        if j:
            back[i] = tails_at[j - 1]
        if j == len(tails):
            tails.append(v)
            tails_at.append(i)
        else:
            tails[j], tails_at[j] = v, i
    keep = np.zeros(m, dtype=bool)
    i = tails_at[-1] if tails_at else -1
    while i >= 0:
        keep[i] = True
        i = int(back[i])
    moved = np.zeros(m, dtype=bool)
    moved[np.argsort(old_rank, kind="stable")[~keep]] = True
    return moved


# --------------------------------------------------------------------------------------------
# the screen


def column_scores(sim: Similarity | None, vectors: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
    """``(n, len(cols))`` float64: ``s(i, c)`` of every item ``i`` against the items ``cols``,
    within float32 error of the engine's scores (a screen, never ranked); ``None`` for a kind
    this module does not know. Weighted terms' excluded pairs are not lowered (the screen may
    only overestimate)."""
    if sim is None or isinstance(sim, DenseCosine):
        v = np.asarray(vectors if sim is None else sim.vectors, dtype=np.float64)
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        u = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
        return u @ u[cols].T
    if isinstance(sim, (SparseCosine, TagJaccard)):  # symmetric scores: the rows of cols, turned
        return np.asarray(sim.block(cols), dtype=np.float64).T
    if isinstance(sim, PairScores):
        return sim.matrix[:, cols].toarray()
    if isinstance(sim, Bilinear):
        left = sim.U * (sim.a[None, :] + sim.c[:, None] * sim.b[None, :])
        out = left @ sim.U[cols].T
        return np.maximum(out, 0.0) if sim.clip else out
    if isinstance(sim, Weighted):
        out = np.zeros((sim.n, len(cols)))
        for w, term in sim.terms:
            if w:
                part = column_scores(term, vectors, cols)
                if part is None:
                    return None
                out += w * part
        if sim.bias is not None:
            out += sim.bias[cols][None, :]
        return out
    return None


def screen_error(
    sim: Similarity | None, vectors: np.ndarray, cols: np.ndarray, products: np.ndarray | None = None
) -> np.ndarray | None:
    """``(len(cols),)``: a bound of ``|column_scores - the engine's float64 score|`` in each
    column (``None`` for a kind :func:`column_scores` does not know). A dot product of unit rows
    summed over ``m`` products, in any order, is within ``m · eps`` of the exact value (``eps``
    of float64, or of float32 for sparse cosines and tag overlaps with integer weights); a pair
    has at most as many products as the changed title's row has entries. Taken 4 times over.
    ``products``: the products a sparse cosine is summed with in each column (:class:`Weighted`
    merges its sparse terms into one product)."""
    eps = float(np.finfo(np.float64).eps)
    ones = np.ones(len(cols))
    if sim is None or isinstance(sim, DenseCosine):  # unit vectors
        d = np.asarray(vectors if sim is None else sim.vectors).shape[1]
        return 4 * (d + 2) * eps * ones
    if isinstance(sim, SparseCosine):  # float32 dot products of unit rows, summed in another order
        m = _row_entries(sim, cols) if products is None else products
        return 4 * (m + 2) * float(np.finfo(np.float32).eps)
    if isinstance(sim, TagJaccard):  # a ratio of overlaps: float32 (exact sums) or float64
        dt = sim._dtype  # type: ignore[attr-defined]
        return 4 * (sim.tags.shape[1] + 2) * float(np.finfo(dt).eps) * ones
    if isinstance(sim, PairScores):  # the stored values themselves
        return 0.0 * ones
    if isinstance(sim, Bilinear):
        left = sim.U * (sim.a[None, :] + sim.c[:, None] * sim.b[None, :])
        norms = np.linalg.norm(left, axis=1).max(initial=0.0) * np.linalg.norm(sim.U[cols], axis=1)
        return 4 * (sim.U.shape[1] + 2) * eps * norms
    if isinstance(sim, Weighted):  # the terms' errors, weighted, and the sum's own rounding
        merged = sum((_row_entries(t, cols) for w, t in sim.terms if w and isinstance(t, SparseCosine)), 0.0 * ones)
        total = 0.0 * ones
        for w, term in sim.terms:
            if w:
                e = screen_error(term, vectors, cols, merged)
                if e is None:
                    return None
                total += abs(w) * (e + 4 * eps * max(1.0, _magnitude(term)))
        return total
    return None


def _row_entries(sim: SparseCosine, cols: np.ndarray) -> np.ndarray:
    return np.diff(sim.matrix.indptr)[cols].astype(np.float64)


def _magnitude(sim: Similarity) -> float:
    """A bound of ``|s(i, j)|`` of a term (for the rounding of a weighted sum)."""
    if isinstance(sim, PairScores):
        return float(np.abs(sim.matrix.data).max(initial=0.0))
    if isinstance(sim, Bilinear):
        left = sim.U * (sim.a[None, :] + sim.c[:, None] * sim.b[None, :])
        return float(np.linalg.norm(left, axis=1).max(initial=0.0) * np.linalg.norm(sim.U, axis=1).max(initial=0.0))
    return 1.0  # cosines and overlaps


def screen_tolerance(kth: np.ndarray) -> np.ndarray:
    """How far below a row's stored ``k``-th score (``kth``, float32 values) a screened score
    still counts as reaching it, apart from the screen's own error (:func:`screen_error`): a step
    of the score grid (the engine rounds to it) and the float32 rounding of the stored score (a
    relative 2⁻²⁴), each doubled."""
    return 2.0 * (1.0 / SCORE_GRID + np.abs(kth) * 2.0**-23)


# --------------------------------------------------------------------------------------------
# the update


def update(
    previous: Embedding,
    previous_nb: Neighbours,
    previous_ties: np.ndarray,
    emb: Embedding,
    tie_order: np.ndarray,
    k: int,
    *,
    max_changed: float = MAX_CHANGED_SHARE,
) -> Neighbours | None:
    """Tonight's exact top-``k`` lists of ``emb`` from last night's, or ``None`` when a full
    search is the better (or the only) way: too many titles changed, a shared part changed, an
    unknown similarity, lists of another length.

    Parameters
    ----------
    previous, previous_nb, previous_ties:
        Last night's embedding of the same model, its lists (exact) and its tie order ``(n₀,)``.
    emb, tie_order:
        Tonight's embedding and tie order ``(n,)`` (``Catalog.tie_order``).
    k:
        Neighbours per item, already capped at ``n - 1`` (the lists' length).

    Returns
    -------
    Neighbours
        ``indices`` ``(n, k)`` int32 and ``scores`` ``(n, k)`` float32, as the cold search;
        ``info["incremental"]`` says how many rows were ranked again.
    """
    t0 = time.perf_counter()
    n = len(emb.item_ids)
    if previous_nb.method != "exact" or previous_nb.indices.shape[1] != k or n < 2 or k > n - 1:
        return None
    if tuple(previous_nb.item_ids) != tuple(previous.item_ids) or len(previous_ties) != len(previous.item_ids):
        return None
    old, new = row_digests(previous), row_digests(emb)
    if old is None or new is None or old[1] != new[1]:
        return None
    old_pos = {iid: p for p, iid in enumerate(previous.item_ids)}
    n0 = len(previous.item_ids)
    to_new = np.full(n0, -1, dtype=np.int64)  # old position -> new position (-1: removed)
    from_old = np.full(n, -1, dtype=np.int64)
    for p, iid in enumerate(emb.item_ids):
        q = old_pos.get(iid, -1)
        from_old[p] = q
        if q >= 0:
            to_new[q] = p
    changed = from_old < 0
    kept = np.flatnonzero(~changed)
    changed[kept] |= np.array([new[0][p] != old[0][from_old[p]] for p in kept], dtype=bool)
    ties = np.asarray(tie_order, dtype=np.int64)
    changed[kept] |= moved_in_tie_order(np.asarray(previous_ties)[from_old[kept]], ties[kept])
    c_rows = np.flatnonzero(changed)
    if len(c_rows) > max_changed * n:
        return None
    # rows whose old list held a changed or removed title
    old_changed = np.zeros(n0, dtype=bool)
    old_changed[to_new < 0] = True
    old_changed[from_old[c_rows[from_old[c_rows] >= 0]]] = True
    listed = old_changed[previous_nb.indices].any(axis=1)
    redo = changed.copy()
    redo[to_new[np.flatnonzero(listed & (to_new >= 0))]] = True
    # rows a changed title may enter: its screened score reaches the row's k-th
    kth_new = np.full(n, np.inf)
    kth_new[to_new[to_new >= 0]] = previous_nb.scores[to_new >= 0, k - 1]
    listed_rows = np.isfinite(kth_new)  # the others (new titles) are ranked again anyway
    vectors = np.asarray(emb.vectors)
    floor = kth_new - np.where(listed_rows, screen_tolerance(np.where(listed_rows, kth_new, 0.0)), 0.0)
    for b0 in range(0, len(c_rows), SCREEN_COLUMNS):
        cols = c_rows[b0 : b0 + SCREEN_COLUMNS]
        s = column_scores(emb.similarity, vectors, cols)
        error = screen_error(emb.similarity, vectors, cols)
        if s is None or error is None:
            return None
        s += 2.0 * error[None, :]  # the screen's error, doubled
        s[cols, np.arange(len(cols))] = -np.inf  # an item is not its own neighbour
        redo |= (s >= floor[:, None]).any(axis=1)
    rows = np.flatnonzero(redo)
    if len(rows) > MAX_RANKED_SHARE * n:
        return None
    indices = np.empty((n, k), dtype=np.int32)
    scores = np.empty((n, k), dtype=np.float32)
    same = np.flatnonzero(~redo)
    indices[same] = to_new[previous_nb.indices[from_old[same]]]
    scores[same] = previous_nb.scores[from_old[same]]
    if len(rows):
        sim = emb.similarity if emb.similarity is not None else DenseCosine(vectors)
        idx, sc = topk_rows(sim, rows, k, ties)
        indices[rows], scores[rows] = idx, sc
    info = {
        "method": "exact",
        "k": k,
        "seconds": round(time.perf_counter() - t0, 3),
        "incremental": {"changed": int(len(c_rows)), "ranked": int(len(rows)), "kept": int(len(same))},
    }
    if emb.similarity is not None:
        info["similarity"] = emb.similarity.kind
    return Neighbours(emb.model, tuple(emb.item_ids), indices, scores, "exact", info)

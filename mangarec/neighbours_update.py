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
``i`` and ``j`` (and of the shared parts), so a pair of unchanged titles kept its score and its
order. Take a row ``r`` outside ``C`` and ``T``, the last unchanged title of its list: every
unchanged title outside the list ranks after ``T``. The night scores every changed title ``c``
against every row, exactly as the engine does (:func:`mangarec.neighbours_screen.column_block`:
one ``(n, |C|)`` block of columns instead of ``|C|`` rows of ``n``), and keeps the pairs where
``c`` may rank before ``T``. Then row ``r``

* keeps its list when it held no changed or removed title and no changed title reaches ``T``;
* is **merged** when at least ``k`` titles rank before or at ``T``: its unchanged members (their
  stored scores, their order) and the changed titles that reach ``T`` (their exact scores), the
  best ``k`` of them; no other title can be among them (:func:`_merge`);
* is **ranked again** by the engine otherwise (it lost a member to a title it did not list, or
  an order is undecided: a float32 above 1 holds several grid scores), and so are the rows of
  ``C``.

``tests/test_neighbours_update.py`` compares the result with a cold search after random changes
(and fails when a changed title is left out of the screen).
"""

from __future__ import annotations

import bisect
import hashlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import neighbours_screen as ns
from .embedding import Embedding, Neighbours
from .similarity import Bilinear, DenseCosine, PairScores, Similarity, SparseCosine, TagJaccard, Weighted
from .topk import topk_rows

#: Above this share of changed titles the night recomputes every list (the screen alone would
#: then cost about as much as the search).
MAX_CHANGED_SHARE = 0.1
#: Above this share of rows to rank again, the whole search is as cheap: recompute everything.
MAX_RANKED_SHARE = 0.6
#: Changed titles scored at once (``n`` float64 scores each).
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
# the update


def _lower(stored: np.ndarray) -> np.ndarray:
    """A lower bound of the grid scores (float64) whose float32 is ``stored``: the value itself
    below 1 in magnitude (every grid value there is a float32), one float32 step below else."""
    s = np.asarray(stored, dtype=np.float32)
    exact = np.abs(s) < 1.0
    return np.where(exact, s.astype(np.float64), s.astype(np.float64) - np.abs(np.spacing(s)).astype(np.float64))


def _before(y: np.ndarray, tie_c: np.ndarray, x: np.ndarray, tie_j: np.ndarray, exact: bool) -> np.ndarray:
    """Whether changed titles of grid score ``y`` (float64) rank before unchanged ones whose
    score is ``x`` (broadcast): 1 before, 0 after, -1 undecided. ``exact``: ``x`` are grid
    scores; else the stored float32 scores, which float32 rounding (monotone) orders against
    ``f32(y)`` except when both round to one float32 above 1 in magnitude (it holds several
    grid scores; below 1 every grid score is a float32)."""
    if exact:
        return ((y > x) | ((y == x) & (tie_c < tie_j))).astype(int)
    f = np.asarray(y, dtype=np.float64).astype(np.float32)
    out = np.where(f > x, 1, np.where(f < x, 0, -1))
    tie = (f == x) & (np.abs(x) < 1.0)
    return np.where(tie, (tie_c < tie_j).astype(int), out)


#: :func:`_merge`'s answers besides a list.
LOST, UNDECIDED = "lost", "undecided"


def _merge(
    members: np.ndarray,
    stored: np.ndarray,
    cands: np.ndarray,
    y: np.ndarray,
    ties: np.ndarray,
    k: int,
    exact: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray] | str:
    """Row ``r``'s new list from its unchanged members (``members`` in last night's order,
    their ``stored`` float32 scores, or their grid scores ``exact``; the last one is ``T``) and
    the changed titles that may rank before ``T`` (``cands``, grid scores ``y``): every
    unchanged title outside the list ranks after ``T``, so when at least ``k`` titles rank
    before or at ``T`` the list is the best ``k`` of them. :data:`LOST` when fewer do (the row
    lost a member to a title it did not list), :data:`UNDECIDED` when an order is
    (:func:`_before`)."""
    x = stored if exact is None else exact
    vs = _before(y[:, None], ties[cands][:, None], x[None, :], ties[members][None, :], exact is not None)
    if (vs < 0).any():
        return UNDECIDED
    enter = vs[:, -1] == 1  # before T
    if len(members) + int(enter.sum()) < k:
        return LOST
    cands, y, vs = cands[enter], y[enter], vs[enter]
    order = np.lexsort((ties[cands], -y))  # the entering titles' own order: exact scores
    cands, y, vs = cands[order], y[order], vs[order]
    # a changed title's place: the members before it, plus the changed titles before it
    at = (vs == 0).sum(axis=1) + np.arange(len(cands))
    items = np.empty(len(members) + len(cands), dtype=np.int64)
    scores = np.empty(len(items), dtype=np.float32)
    slot = np.ones(len(items), dtype=bool)
    slot[at] = False
    items[at], scores[at] = cands, y.astype(np.float32)
    items[slot], scores[slot] = members, stored
    return items[:k], scores[:k]


def _member_scores(emb: Embedding, rows: np.ndarray, lists: np.ndarray, member: np.ndarray) -> np.ndarray | None:
    """``(len(rows), k)`` grid scores of the rows' unchanged members (NaN elsewhere, and where
    the pair's grid score stays open: :func:`mangarec.neighbours_screen.pair_block`)."""
    rr, at = np.nonzero(member[rows])
    got = ns.pair_block(emb.similarity, np.asarray(emb.vectors), rows[rr], lists[rows[rr], at])
    if got is None:
        return None
    raw, err = got
    rounding = ns.to_grid(emb.similarity)
    hi, lo = rounding(raw + err), rounding(raw - err)
    out = np.full((len(rows), lists.shape[1]), np.nan)
    out[rr, at] = np.where(hi == lo, hi, np.nan)
    return out


def _screen(
    emb: Embedding, c_rows: np.ndarray, floor: np.ndarray, full: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(rows, cols, grid scores)`` of the pairs where a changed title (``c_rows``) may reach
    a row's ``floor`` (rows in ``full`` aside), every score the engine's
    (:func:`mangarec.neighbours_screen.column_block`); a row where one stays undecided is added
    to ``full``. ``None`` for a kind the screen does not know."""
    vectors = np.asarray(emb.vectors)
    rounding = ns.to_grid(emb.similarity)
    out_r, out_c, out_y = [], [], []
    for b0 in range(0, len(c_rows), SCREEN_COLUMNS):
        cols = c_rows[b0 : b0 + SCREEN_COLUMNS]
        got = ns.column_block(emb.similarity, vectors, cols)
        if got is None:
            return None
        raw, err = got
        hi = rounding(raw + err[None, :])
        reach = hi >= floor[:, None]
        reach[full] = False
        rr, cc = np.nonzero(reach)
        y = hi[rr, cc]
        if np.any(err):
            lo = rounding(raw[rr, cc] - err[cc])
            open_ = lo != y
            if open_.any():
                ex = ns.exact_pairs(emb.similarity, vectors, rr[open_], cols[cc[open_]])
                if ex is None:
                    full[rr[open_]] = True
                else:
                    y[open_] = ex
        out_r.append(rr)
        out_c.append(cols[cc])
        out_y.append(y)
    cat = np.concatenate
    if not out_r:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    rows, cols, y = cat(out_r).astype(np.int64), cat(out_c).astype(np.int64), cat(out_y)
    keep = ~full[rows]
    return rows[keep], cols[keep], y[keep]


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
        ``info["incremental"]`` counts the changed titles and the lists ranked again by the
        engine, merged with the changed titles' scores, and kept.
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
    # last night's lists in tonight's positions (-1: removed); T = each list's last unchanged member
    lists = np.full((n, k), -1, dtype=np.int64)
    stored = np.zeros((n, k), dtype=np.float32)
    lists[kept] = to_new[previous_nb.indices[from_old[kept]]]
    stored[kept] = previous_nb.scores[from_old[kept]]
    member = (lists >= 0) & ~changed[np.maximum(lists, 0)]
    touched = ~member.all(axis=1)  # held a changed or removed title
    full = changed | ~member.any(axis=1)  # ranked by the engine
    t_at = k - 1 - np.argmax(member[:, ::-1], axis=1)
    floor = np.where(full, np.inf, _lower(stored[np.arange(n), t_at]))
    screened = _screen(emb, c_rows, floor, full)
    if screened is None:
        return None
    s_rows, s_cols, s_y = screened
    order = np.argsort(s_rows, kind="stable")
    s_rows, s_cols, s_y = s_rows[order], s_cols[order], s_y[order]
    todo = np.flatnonzero(~full & (touched | np.isin(np.arange(n), s_rows)))
    indices = np.empty((n, k), dtype=np.int32)
    scores = np.empty((n, k), dtype=np.float32)
    indices[kept], scores[kept] = lists[kept], stored[kept]
    starts = np.searchsorted(s_rows, todo, side="left")
    ends = np.searchsorted(s_rows, todo, side="right")
    merged, undecided = 0, []
    for r, a, b in zip(todo.tolist(), starts.tolist(), ends.tolist()):
        got = _merge(lists[r][member[r]], stored[r][member[r]], s_cols[a:b], s_y[a:b], ties, k)
        if got == UNDECIDED:
            undecided.append((r, a, b))
        elif isinstance(got, str):
            full[r] = True
        else:
            indices[r], scores[r] = got
            merged += 1
    if undecided:  # float32 scores above 1 holding several grid scores: the members' own
        exact = _member_scores(emb, np.array([u[0] for u in undecided]), lists, member)
        for j, (r, a, b) in enumerate(undecided):
            x = None if exact is None else exact[j][member[r]]
            got = (
                LOST
                if x is None or np.isnan(x).any()
                else _merge(lists[r][member[r]], stored[r][member[r]], s_cols[a:b], s_y[a:b], ties, k, x)
            )
            if isinstance(got, str):
                full[r] = True
            else:
                indices[r], scores[r] = got
                merged += 1
    rows = np.flatnonzero(full)
    if len(rows) > MAX_RANKED_SHARE * n:
        return None
    if len(rows):
        vectors = np.asarray(emb.vectors)
        sim = emb.similarity if emb.similarity is not None else DenseCosine(vectors)
        idx, sc = topk_rows(sim, rows, k, ties)
        indices[rows], scores[rows] = idx, sc
    info = {
        "method": "exact",
        "k": k,
        "seconds": round(time.perf_counter() - t0, 3),
        "incremental": {
            "changed": int(len(c_rows)),
            "ranked": int(len(rows)),
            "merged": merged,
            "kept": int(n - len(rows) - merged),
        },
    }
    if emb.similarity is not None:
        info["similarity"] = emb.similarity.kind
    return Neighbours(emb.model, tuple(emb.item_ids), indices, scores, "exact", info)

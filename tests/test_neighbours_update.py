"""The night's neighbour lists (:mod:`mangarec.neighbours_update`) equal a cold search.

Every model of the registry that runs on the bundled catalog is fitted on the catalog and on a
night of it (descriptions, tags, popularity edited, titles added and removed); the update from
last night's lists must give exactly (indices and scores) what :func:`mangarec.neighbours.compute`
gives on the night's embedding. A scorer whose shared parts changed, or too many changed
titles, give ``None`` (the build then searches cold).
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec import neighbours as nb
from mangarec import neighbours_update as nu
from mangarec.config import Config
from mangarec.embedding import Embedding
from mangarec.loaders import load_catalog
from mangarec.models import available, fit_model
from mangarec.paths import DEFAULT_CATALOG
from mangarec.seeds import rng

CONFIG = Config()


def _night(tmp_path, share: float, seed: int, *, popularity: bool = True, churn: bool = True):
    """The bundled catalog and a night of it: ``share`` of the titles edited (descriptions and
    tags alternately, a few popularities), one title removed and one added (``churn``)."""
    rows = DEFAULT_CATALOG.read_text(encoding="utf-8").rstrip("\n").split("\n")
    g = rng(seed, "test-neighbours-update")
    picked = g.choice(len(rows), size=max(2, round(share * len(rows))), replace=False).tolist()
    night = list(rows)
    for j, k in enumerate(picked):
        r = json.loads(night[k])
        if j % 3 == 0:
            r["description"] = (r.get("description") or "") + " Tonight a pirate crew sails to the hidden island."
        elif j % 3 == 1:
            tags = dict(r.get("tags") or {})
            genre = list(tags.get("genre", []))  # a tag the catalog has: the vocabulary stays
            tags["genre"] = genre[1:] if "Drama" in genre else sorted({*genre, "Drama"})
            r["tags"] = tags
        elif popularity and "popularity" in r:
            r["popularity"] = float(r["popularity"]) * 3 + 1
        night[k] = json.dumps(r)
    if churn:
        extra = json.loads(rows[5])
        extra["id"] = "night-new-title"
        extra["title"] = extra["title"] + " Returns"
        night = night[:3] + night[4:] + [json.dumps(extra)]
    a, b = tmp_path / "day.jsonl", tmp_path / "night.jsonl"
    a.write_text("\n".join(rows) + "\n", encoding="utf-8")
    b.write_text("\n".join(night) + "\n", encoding="utf-8")
    return load_catalog([f"generic:{a}"]), load_catalog([f"generic:{b}"])


def _fits(catalog):
    names, _ = available(catalog, CONFIG.site.models)
    out = {}
    for name in names:
        out[name] = fit_model(name, catalog, CONFIG, CONFIG.seed, out)
    return {n: out[n] for n in names}


def _cold(emb, catalog):
    return nb.compute(emb, CONFIG.neighbours, catalog.tie_order, 0)


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    day, nxt = _night(tmp_path_factory.mktemp("night"), 0.02, 1)
    return day, nxt, _fits(day), _fits(nxt)


@pytest.mark.slow  # every model fitted twice on the bundled catalog
def test_every_model_updated_equals_the_cold_search(night):
    day, nxt, before, after = night
    updated = 0
    for name, emb in after.items():
        prev = before[name]
        prev_nb = _cold(prev, day)
        cold = _cold(emb, nxt)
        got = nu.update(prev, prev_nb, day.tie_order, emb, nxt.tie_order, cold.k)
        if got is None:
            continue
        updated += 1
        np.testing.assert_array_equal(got.indices, cold.indices, err_msg=name)
        np.testing.assert_array_equal(got.scores, cold.scores, err_msg=name)
        assert got.info["incremental"]["kept"] > 0, name
    assert updated >= 2  # the tag-set models at least (jaccard, colike) are row-local


@pytest.mark.slow  # every model fitted twice on the bundled catalog
def test_dense_rows_from_the_engine_equal_the_dense_search(night):
    """The update ranks a dense embedding's rows with the engine (DenseCosine): the same answer
    as the dense search, duplicates and zero rows included."""
    _, nxt, _, after = night
    v = np.asarray(after["lsi"].vectors).copy()
    v[10] = 0.0
    v[11] = v[12]
    emb = Embedding("dense", after["lsi"].item_ids, v)
    prev = Embedding("dense", emb.item_ids, v.copy())
    prev_nb = _cold(prev, nxt)
    v2 = v.copy()
    v2[[20, 30, 40]] = v[[41, 10, 12]]
    emb2 = Embedding("dense", emb.item_ids, v2)
    got = nu.update(prev, prev_nb, nxt.tie_order, emb2, nxt.tie_order, prev_nb.k)
    cold = _cold(emb2, nxt)
    assert got is not None and got.info["incremental"]["changed"] == 3
    np.testing.assert_array_equal(got.indices, cold.indices)
    np.testing.assert_array_equal(got.scores, cold.scores)


@pytest.fixture(scope="module")
def jaccard_day(night):
    """The day's catalog, its jaccard embedding and lists."""
    day, _, before, _ = night
    return day, before["jaccard"], _cold(before["jaccard"], day)


@pytest.mark.slow  # every model fitted twice on the bundled catalog
def test_nothing_changed_keeps_every_list(jaccard_day):
    day, emb, prev_nb = jaccard_day
    got = nu.update(emb, prev_nb, day.tie_order, emb, day.tie_order, prev_nb.k)
    assert got is not None and got.info["incremental"] == {"changed": 0, "ranked": 0, "merged": 0, "kept": len(day)}
    np.testing.assert_array_equal(got.indices, prev_nb.indices)


@pytest.mark.slow  # every model fitted twice on the bundled catalog
def test_a_changed_shared_part_or_too_many_changes_search_cold(jaccard_day):
    day, emb, prev_nb = jaccard_day
    sim = emb.similarity
    heavier = replace(emb, similarity=type(sim)(sim.tags, sim.weights * 2.0))  # every row's score moves
    assert nu.update(emb, prev_nb, day.tie_order, heavier, day.tie_order, prev_nb.k) is None
    shuffled = np.asarray(day.tie_order)[::-1].copy()  # every title moved in the tie order
    assert nu.update(emb, prev_nb, day.tie_order, emb, shuffled, prev_nb.k) is None


def test_moved_in_tie_order_is_the_complement_of_a_longest_kept_order():
    old = np.arange(8)
    new = np.array([0, 1, 7, 2, 3, 4, 5, 6])  # item 2 moved to the end
    assert np.flatnonzero(nu.moved_in_tie_order(old, new)).tolist() == [2]
    assert not nu.moved_in_tie_order(old, old + 5).any()


def _scorer(tags, lp, pairs):
    """A scorer of every kind the update knows: weighted tag overlap, a rank-1 bilinear term, a
    popularity bias, precomputed pairs and excluded pairs (as colike, series and hybrid build)."""
    from mangarec.similarity import Bilinear, PairScores, TagJaccard, Weighted

    n = tags.shape[0]
    bil = Bilinear(lp[:, None], np.ones(1), np.zeros(1), np.zeros(n), clip=False)
    terms = (
        (1.0, TagJaccard(tags, np.arange(1, tags.shape[1] + 1, dtype=float))),
        (0.3, bil),
        (0.5, PairScores(pairs)),
    )
    return Weighted(terms, bias=0.01 * lp, exclude=pairs.multiply(pairs > 0.9))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_nights_of_a_synthetic_scorer_equal_the_cold_search(seed, monkeypatch):
    """Random tag sets (many duplicates: ties), a bias and pairs; a few rows edited, a title
    removed and one added; the update equals the engine's cold search (however many rows it
    ranks again: the share above which the build searches cold instead is lifted)."""
    import scipy.sparse as sp

    from mangarec.topk import exact_topk

    monkeypatch.setattr(nu, "MAX_RANKED_SHARE", 1.0)
    g = np.random.default_rng(seed)
    n, t, k = 300, 8, 10
    tags = sp.csr_matrix((g.random((n, t)) < 0.3).astype(float))
    lp = np.round(g.normal(size=n), 1)
    a = g.integers(0, n, 60)
    b = g.integers(0, n, 60)
    pairs = sp.csr_matrix((np.round(g.random(60), 1), (a, b)), shape=(n, n))
    pairs = sp.csr_matrix(pairs.maximum(pairs.T))
    ids = tuple(f"t{i}" for i in range(n))
    ties = g.permutation(n)
    day = Embedding("x", ids, np.zeros((n, 1), np.float32), similarity=_scorer(tags, lp, pairs))
    idx, sc = exact_topk(day.similarity, k, ties)
    prev_nb = nb.Neighbours("x", ids, idx, sc, "exact", {})
    # the night: 6 rows' tags redrawn, one popularity moved, title 0 removed, a new title appended
    tags2 = tags.tolil()
    for r in g.choice(n, 6, replace=False):
        tags2[r] = (g.random(t) < 0.3).astype(float)
    lp2 = lp.copy()
    lp2[g.integers(1, n)] += 0.2
    keep = np.arange(1, n)
    new_tags = sp.vstack([sp.csr_matrix(tags2)[keep], sp.csr_matrix((g.random((1, t)) < 0.3).astype(float))]).tocsr()
    new_lp = np.append(lp2[keep], 0.3)
    new_pairs = sp.csr_matrix(sp.bmat([[pairs[keep][:, keep], None], [None, sp.csr_matrix((1, 1))]]))
    new_ids = tuple(ids[i] for i in keep) + ("t-new",)
    new_ties = np.append(ties[keep], n + 5).argsort(kind="stable").argsort()
    night = Embedding("x", new_ids, np.zeros((n, 1), np.float32), similarity=_scorer(new_tags, new_lp, new_pairs))
    got = nu.update(day, prev_nb, ties, night, new_ties, k)
    want_i, want_s = exact_topk(night.similarity, k, new_ties)
    assert got is not None and got.info["incremental"]["kept"] > 0
    np.testing.assert_array_equal(got.indices, want_i)
    np.testing.assert_array_equal(got.scores, want_s)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1e-4, 1e-2, 1.0, 30.0]),
    clip=st.booleans(),
    dense=st.booleans(),
    duplicates=st.integers(0, 20),
    changed=st.integers(1, 12),
)
def test_the_screen_never_misses_a_list_a_changed_title_enters(seed, scale, clip, dense, duplicates, changed):
    """The screen's tolerance is a few grid steps, not a fixed 1e-4 (spectral scores are ~1e-4):
    whatever the scores' scale, ties (duplicated rows) and clipping, the update equals a cold
    search of the night."""
    from mangarec.similarity import Bilinear, DenseCosine
    from mangarec.topk import exact_topk

    g = np.random.default_rng(seed)
    n, r, k = 120, 5, 8
    U = np.round(g.normal(size=(n, r)), 2) * scale
    c = np.round(g.normal(size=n), 1)
    dup = g.integers(0, n, size=(duplicates, 2))
    U[dup[:, 0]], c[dup[:, 0]] = U[dup[:, 1]], c[dup[:, 1]]
    a, b = g.normal(size=r), 0.1 * g.normal(size=r)
    ids = tuple(f"t{i}" for i in range(n))
    ties = g.permutation(n)

    def embedding(U, c):
        sim = DenseCosine(U) if dense else Bilinear(U, a, b, c, clip=clip)
        return Embedding("x", ids, U.astype(np.float32), similarity=sim)

    day = embedding(U, c)
    idx, sc = exact_topk(day.similarity, k, ties)
    prev_nb = nb.Neighbours("x", ids, idx, sc, "exact", {})
    rows = g.choice(n, changed, replace=False)
    U2, c2 = U.copy(), c.copy()
    U2[rows] = U[g.integers(0, n, changed)] * (1 + (g.random((changed, 1)) < 0.5) * 1e-6)  # near-copies: near-ties
    c2[rows] = c[g.integers(0, n, changed)]
    night = embedding(U2, c2)
    share, nu.MAX_RANKED_SHARE = nu.MAX_RANKED_SHARE, 1.0  # however many rows it ranks again
    try:
        got = nu.update(day, prev_nb, ties, night, ties, k, max_changed=1.0)
    finally:
        nu.MAX_RANKED_SHARE = share
    want_i, want_s = exact_topk(night.similarity, k, ties)
    assert got is not None
    np.testing.assert_array_equal(got.indices, want_i)
    np.testing.assert_array_equal(got.scores, want_s)


# --- the exact screen and the merged lists ---------------------------------------------------


def _text_rows(g, n, v=25):
    x = g.random((n, v)) ** 3 * (g.random((n, v)) < 0.2)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _catalog_scorer(tags, text, pairs, bias, real):
    """A scorer shaped like the hybrid and the series: integer tag overlap, description cosine,
    a nested co-like-like sum (real tag weights, a rank-1 popularity term), stored pairs (a
    member bonus: scores far above 1, where a float32 holds several grid scores), a bias and
    excluded pairs."""
    import scipy.sparse as sp

    from mangarec.similarity import Bilinear, PairScores, SparseCosine, TagJaccard, Weighted

    n, t = tags.shape
    inner = Weighted(
        (
            (1.0, TagJaccard(sp.csr_matrix(tags), real)),
            (0.2, Bilinear(bias[:, None], np.ones(1), np.zeros(1), np.zeros(n), clip=False)),
        )
    )
    p = sp.csr_matrix(pairs)
    return Weighted(
        (
            (1.0, TagJaccard(sp.csr_matrix(tags), np.arange(1.0, t + 1), "max")),
            (0.05, SparseCosine(sp.csr_matrix(text))),
            (2.0, inner),
            (10.0, PairScores(p)),
        ),
        bias=0.4 * np.minimum(1.0, bias),
        exclude=sp.csr_matrix(p > 0.95),
    )


def _scorer_night(seed, n, changed, dups):
    """A day and a night of :func:`_catalog_scorer`: ``changed`` titles edited (tags, text, a
    pair, popularity, alternately), title 0 removed and a title appended; ``dups`` titles copy
    another's tags and popularity (equal scores: ties)."""
    g = np.random.default_rng(seed)
    t = 7
    tags = (g.random((n, t)) < 0.35).astype(float)
    bias = np.round(g.random(n) * 2, 1)
    src, dst = g.integers(0, n, dups), g.integers(0, n, dups)
    tags[dst], bias[dst] = tags[src], bias[src]
    text = _text_rows(g, n)
    pairs = np.zeros((n, n))
    a, b = g.integers(0, n, n // 3), g.integers(0, n, n // 3)
    pairs[a, b] = pairs[b, a] = np.round(g.random(len(a)), 1)
    np.fill_diagonal(pairs, 0)
    real = np.round(g.random(t) + 0.5, 3)
    day = (tags.copy(), text.copy(), pairs.copy(), bias.copy())
    for j, r in enumerate(g.choice(np.arange(1, n), changed, replace=False)):
        if j % 4 == 0:
            tags[r] = tags[g.integers(0, n)] if g.random() < 0.5 else (g.random(t) < 0.35)
        elif j % 4 == 1:
            text[r] = _text_rows(g, 1)[0]
        elif j % 4 == 2:
            q = g.integers(0, n)
            if q != r:
                pairs[r, q] = pairs[q, r] = np.round(g.random(), 1)
        else:
            bias[r] = bias[g.integers(0, n)]
    keep = np.arange(1, n)
    night = (
        np.vstack([tags[keep], tags[[2]]]),
        np.vstack([text[keep], _text_rows(g, 1)]),
        np.pad(pairs[np.ix_(keep, keep)], ((0, 1), (0, 1))),
        np.append(bias[keep], 1.0),
    )
    return day, night, real


def _update_and_cold(seed, n=160, changed=6, dups=30, k=8):
    from mangarec.topk import exact_topk

    (day, night, real), ids = _scorer_night(seed, n, changed, dups), tuple(f"t{i}" for i in range(n))
    g = np.random.default_rng(seed + 1)
    ties = g.permutation(n)
    prev = Embedding("x", ids, np.zeros((n, 1), np.float32), similarity=_catalog_scorer(*day, real))
    idx, sc = exact_topk(prev.similarity, k, ties)
    prev_nb = nb.Neighbours("x", ids, idx, sc, "exact", {})
    new_ids = ids[1:] + ("t-new",)
    new_ties = np.append(ties[1:], n + 5).argsort(kind="stable").argsort()
    emb = Embedding("x", new_ids, np.zeros((n, 1), np.float32), similarity=_catalog_scorer(*night, real))
    share, nu.MAX_RANKED_SHARE = nu.MAX_RANKED_SHARE, 1.0  # however many rows it ranks again
    try:
        got = nu.update(prev, prev_nb, ties, emb, new_ties, k, max_changed=1.0)
    finally:
        nu.MAX_RANKED_SHARE = share
    return got, exact_topk(emb.similarity, k, new_ties)


def _same(got, want):
    return got is not None and np.array_equal(got.indices, want[0]) and np.array_equal(got.scores, want[1])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), changed=st.integers(1, 10), dups=st.sampled_from([0, 40, 100]))
def test_merged_and_ranked_lists_equal_the_cold_search(seed, changed, dups):
    """Tag overlaps, text, nested sums, stored pairs far above 1, a bias and excluded pairs; a
    night of edits, a removed and a new title: the update (lists kept, merged, ranked again)
    equals the engine's cold search."""
    got, want = _update_and_cold(seed, changed=changed, dups=dups)
    assert _same(got, want)


def test_most_touched_lists_are_merged_not_ranked_again():
    merged = ranked = 0
    for seed in range(4):
        got, want = _update_and_cold(seed, n=400, changed=4)
        assert _same(got, want)
        merged += got.info["incremental"]["merged"]
        ranked += got.info["incremental"]["ranked"]
    assert merged > ranked > 0


def test_a_screen_that_misses_a_changed_title_is_caught(monkeypatch):
    """Drop one changed title from the screen (its column scored -inf): some list it enters
    keeps last night's, and the comparison with the cold search fails."""
    from mangarec import neighbours_screen as ns

    column_block = ns.column_block

    def missing_one(sim, vectors, cols):
        raw, err = column_block(sim, vectors, cols)
        raw[:, -1] = -np.inf
        return raw, err

    monkeypatch.setattr(ns, "column_block", missing_one)
    assert not all(_same(*_update_and_cold(seed, changed=8)) for seed in range(6))


def test_a_merge_that_breaks_ties_the_wrong_way_is_caught(monkeypatch):
    """Equal scores go to the lower tie order: a merge that puts a changed title after an
    unchanged one of the same score gives another list (many ties: duplicated tag sets)."""
    before = nu._before

    def after_on_ties(y, tie_c, x, tie_j, exact):
        return before(y, tie_c + 10**9, x, tie_j, exact)

    monkeypatch.setattr(nu, "_before", after_on_ties)
    assert not all(_same(*_update_and_cold(seed, changed=8, dups=100)) for seed in range(6))


def test_a_float32_holding_several_grid_scores_is_not_taken_for_a_tie():
    """Above 1 a float32 holds several grid scores: a member scored 2 + 2⁻²⁴ (stored as 2.0)
    stays before a changed title now scored 2.0 with a lower tie order; taking the stored score
    for the grid score would swap them."""
    import scipy.sparse as sp

    from mangarec.similarity import PairScores, Weighted
    from mangarec.topk import exact_topk

    n, k = 40, 2
    m = np.zeros((n, n))
    m[0, 1] = m[1, 0] = 2.0 + 2.0**-24  # an unchanged member of row 0
    m[0, 2] = m[2, 0] = 3.0
    m[0, 5] = m[5, 0] = 1.0
    ids = tuple(f"t{i}" for i in range(n))
    ties = np.arange(n)[::-1].copy()  # the higher the item, the lower its tie order: 5 before 1

    def embedding(bias5):
        bias = np.zeros(n)
        bias[5] = bias5  # only title 5's row changes (a bias is the column's)
        sim = Weighted(((1.0, PairScores(sp.csr_matrix(m))),), bias=bias)
        return Embedding("x", ids, np.zeros((n, 1), np.float32), similarity=sim)

    prev, emb = embedding(0.0), embedding(1.0)
    idx, sc = exact_topk(prev.similarity, k, ties)
    assert idx[0].tolist() == [2, 1] and sc[0, 1] == np.float32(2.0)
    got = nu.update(prev, nb.Neighbours("x", ids, idx, sc, "exact", {}), ties, emb, ties, k, max_changed=1.0)
    want = exact_topk(emb.similarity, k, ties)
    assert want[0][0].tolist() == [2, 1] and want[1][0].tolist() == [3.0, 2.0]
    assert _same(got, want) and got.info["incremental"]["changed"] == 1

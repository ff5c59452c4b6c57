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

"""LSI: hand-worked tf-idf, the SVD, folding-in, tag vectors and itemsets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec import dedupe as _dedupe
from mangarec.catalog import Catalog, Item, make_tags
from mangarec.models import lsi
from mangarec.models.lsi import Params as LSIParams


def toy(tag_sets: list[list[str]]) -> Catalog:
    return Catalog(
        items=tuple(
            Item(id=f"d{k}", title=f"doc {k}", kind="manga", tags=make_tags({"genre": tags}))
            for k, tags in enumerate(tag_sets)
        )
    )


#: d0 = {A, B}, d1 = {A, C}, d2 = {B, C, D}, d3 = {A}; df: A 3, B 2, C 2, D 1; |D| = 4.
TOY = [["A", "B"], ["A", "C"], ["B", "C", "D"], ["A"]]
L = math.log
HAND = np.array(
    [
        #  A                  B                  C                  D
        [(1 / 2) * L(4 / 3), (1 / 2) * L(4 / 2), 0.0, 0.0],
        [(1 / 2) * L(4 / 3), 0.0, (1 / 2) * L(4 / 2), 0.0],
        [0.0, (1 / 3) * L(4 / 2), (1 / 3) * L(4 / 2), (1 / 3) * L(4 / 1)],
        [(1 / 1) * L(4 / 3), 0.0, 0.0, 0.0],
    ]
)


def test_tfidf_by_hand():
    cat = toy(TOY)
    assert cat.tag_vocabulary == ("A", "B", "C", "D")
    w, idf = lsi.tfidf(cat.tag_matrix)
    np.testing.assert_allclose(idf, [L(4 / 3), L(4 / 2), L(4 / 2), L(4 / 1)], rtol=1e-12)
    np.testing.assert_allclose(w.toarray(), HAND, rtol=1e-12, atol=1e-15)


def test_tfidf_weighted_distinct_rows_equal_full_corpus():
    cat = toy(TOY + [["A", "B"], ["A", "B"], ["A"]])
    full, idf_full = lsi.tfidf(cat.tag_matrix)
    bu, inverse, counts = _dedupe.unique_rows(cat.tag_matrix)
    wu, idf_u = lsi.tfidf(bu, counts)
    np.testing.assert_allclose(idf_u, idf_full, rtol=1e-12)
    np.testing.assert_allclose(wu.toarray()[inverse], full.toarray(), rtol=1e-12)
    # e.g. A is now in 6 of 7 documents
    assert idf_full[0] == pytest.approx(L(7 / 6))


def test_fit_is_svd_of_the_hand_matrix():
    fit = lsi.fit_basis(toy(TOY), LSIParams(weighting="tfidf", dim=16), 0)
    assert fit.s.shape == (4,)  # clamped to the rank bound
    assert np.all(np.diff(fit.s) <= 1e-12)
    np.testing.assert_allclose(fit.V.T @ fit.V, np.eye(4), atol=1e-10)
    # item vectors are rows of U_k Σ_k = W V_k; with k = rank they reconstruct W
    np.testing.assert_allclose(fit.vectors, HAND @ fit.V, atol=1e-12)
    np.testing.assert_allclose(fit.vectors @ fit.V.T, HAND, atol=1e-12)
    # singular values match numpy's dense SVD of the hand matrix
    np.testing.assert_allclose(fit.s, np.linalg.svd(HAND, compute_uv=False), rtol=1e-9)
    # sign convention: the largest-|value| loading of each component is positive
    for j in range(fit.V.shape[1]):
        assert fit.V[np.argmax(np.abs(fit.V[:, j])), j] > 0


def test_truncated_fit_keeps_the_top_components():
    fit = lsi.fit_basis(toy(TOY), LSIParams(weighting="tfidf", dim=2), 0)
    full = np.linalg.svd(HAND, compute_uv=False)
    np.testing.assert_allclose(fit.s, full[:2], rtol=1e-9)
    assert fit.vectors.shape == (4, 2)


def test_projecting_a_training_document_gives_its_own_row():
    fit = lsi.fit_basis(toy(TOY), LSIParams(weighting="tfidf", dim=3), 0)
    U = fit.vectors / fit.s  # rows of U_k
    for i in range(4):
        qk = lsi.project(HAND[i], fit.V, fit.s)  # q_k = Σ_k⁻¹ V_kᵀ q
        np.testing.assert_allclose(qk, U[i], atol=1e-12)
        np.testing.assert_allclose(lsi.to_item_space(qk, fit.s), fit.vectors[i], atol=1e-12)
    np.testing.assert_allclose(lsi.project(sp.csr_matrix(HAND), fit.V, fit.s), U, atol=1e-12)
    np.testing.assert_allclose(lsi.project(HAND, fit.V, fit.s), U, atol=1e-12)


def test_tag_vectors_are_one_term_queries():
    cat = toy(TOY)
    emb = lsi.fit(cat, LSIParams(weighting="tfidf", dim=3), 0)
    fit = lsi.fit_basis(cat, LSIParams(weighting="tfidf", dim=3), 0)
    for t in range(len(cat.tag_vocabulary)):
        q = np.zeros(4)
        q[t] = 1.0 * fit.idf[t]  # a document holding only this tag: tf = 1
        expect = lsi.to_item_space(lsi.project(q, fit.V, fit.s), fit.s)
        np.testing.assert_allclose(emb.tag_vectors[t], expect, rtol=1e-5, atol=1e-6)
    assert emb.tag_ids == cat.tag_vocabulary


def test_tag_vectors_sit_near_their_items(two_clusters):
    emb = lsi.fit(two_clusters, LSIParams(weighting="tfidf"), 1)
    v = emb.vectors / np.linalg.norm(emb.vectors, axis=1, keepdims=True)
    for tag, prefix in (("Sports", "s"), ("Horror", "h")):
        t = emb.tag_vectors[emb.tag_ids.index(tag)]
        sims = v @ (t / np.linalg.norm(t))
        best = [two_clusters.ids[k] for k in np.argsort(-sims, kind="stable")[:5]]
        assert all(b.startswith(prefix) for b in best), best


def test_dedupe_gives_the_same_vectors_as_every_row(monkeypatch):
    cat = toy(TOY + [["A", "B"], ["B", "C", "D"], ["A", "B"], ["C", "D"]])
    fast = lsi.fit_basis(cat, LSIParams(weighting="tfidf", dim=3), 0)
    assert fast.info["distinct_rows"] == 5

    def every_row(m):
        m = sp.csr_matrix(m)
        return m, np.arange(m.shape[0]), np.ones(m.shape[0], dtype=np.int64)

    monkeypatch.setattr(lsi, "unique_rows", every_row)
    slow = lsi.fit_basis(cat, LSIParams(weighting="tfidf", dim=3), 0)
    assert slow.info["distinct_rows"] == len(cat)
    np.testing.assert_allclose(fast.s, slow.s, rtol=1e-9)
    np.testing.assert_allclose(fast.vectors, slow.vectors, atol=1e-10)


def test_items_without_tags_are_zero():
    cat = Catalog(items=toy(TOY).items + (Item(id="empty", title="e", kind="manga"),))
    emb = lsi.fit(cat, LSIParams(weighting="tfidf", dim=2), 0)
    assert np.all(emb.vectors[-1] == 0) and np.isfinite(emb.vectors).all()
    # |D| counts the tagless document too
    _, idf = lsi.tfidf(cat.tag_matrix)
    assert idf[0] == pytest.approx(L(5 / 3))


# itemsets: {A,B} in 3 items, {A,B,C} in 2, {A,C} in 2, {B,C} in 2, {C,D} in 1
ITEMSET_TOY = [["A", "B"], ["A", "B", "C"], ["A", "B", "C"], ["C", "D"], ["D"]]


def test_frequent_pairs_and_triples():
    cat = toy(ITEMSET_TOY)
    b = cat.tag_matrix
    ones = np.ones(b.shape[0])
    assert lsi.frequent_itemsets(b, ones, 2, 2) == [(0, 1), (0, 2), (1, 2)]
    assert lsi.frequent_itemsets(b, ones, 3, 2) == [(0, 1)]
    assert lsi.frequent_itemsets(b, ones, 2, 3) == [(0, 1), (0, 2), (1, 2), (0, 1, 2)]
    assert lsi.frequent_itemsets(b, ones, 3, 3) == [(0, 1)]
    # support counts multiplicities of distinct rows
    bu, _, counts = _dedupe.unique_rows(b)
    assert lsi.frequent_itemsets(bu, counts, 2, 3) == [(0, 1), (0, 2), (1, 2), (0, 1, 2)]


def test_itemset_terms_enter_tf_idf_by_hand():
    cat = toy(ITEMSET_TOY)
    fit = lsi.fit_basis(cat, LSIParams(weighting="tfidf", dim=16, itemsets=True, min_support=3, max_itemset=2), 0)
    assert fit.terms == ("A", "B", "C", "D", "A + B")
    assert fit.itemsets == ((0, 1),)
    f = lsi.term_matrix(cat.tag_matrix, [(0, 1)])
    assert f.toarray()[:, 4].tolist() == [1, 1, 1, 0, 0]
    w, idf = lsi.tfidf(f)
    # d1 = {A, B, C} + "A + B": four terms, so tf = 1/4 each
    np.testing.assert_allclose(
        w.toarray()[1], [(1 / 4) * L(5 / 3), (1 / 4) * L(5 / 3), (1 / 4) * L(5 / 3), 0.0, (1 / 4) * L(5 / 3)]
    )
    assert idf[3] == pytest.approx(L(5 / 2))
    np.testing.assert_allclose(fit.idf, idf)
    np.testing.assert_allclose(fit.vectors, w.toarray() @ fit.V, atol=1e-12)


def test_itemsets_on_the_two_cluster_catalog(two_clusters):
    plain = lsi.fit(two_clusters, LSIParams(weighting="tfidf"), 3)
    rich = lsi.fit(two_clusters, LSIParams(weighting="tfidf", itemsets=True, min_support=3, max_itemset=3), 3)
    assert rich.info["itemsets"] > 0 and rich.info["terms"] == plain.info["terms"] + rich.info["itemsets"]
    assert rich.tag_vectors.shape[0] == len(two_clusters.tag_vocabulary)
    assert not np.allclose(np.abs(plain.vectors[:, :2]), np.abs(rich.vectors[:, :2]))


def test_binary_weighting_is_the_cosine_of_tag_sets():
    """The default: unit tag rows, full rank; item cosines equal the tag sets' cosines."""
    cat = toy(TOY)
    emb = lsi.fit(cat, LSIParams(), 0)
    assert emb.info["weighting"] == "binary" and emb.dim == len(cat.tag_vocabulary)
    b = cat.tag_matrix.toarray().astype(np.float64)
    u = b / np.linalg.norm(b, axis=1, keepdims=True)
    v = emb.vectors.astype(np.float64)
    np.testing.assert_allclose(v @ v.T, u @ u.T, atol=1e-6)

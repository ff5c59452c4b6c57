"""Scorers: their formulas, their arrays round trip (cache), their checks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec import similarity
from mangarec.cache import Cache
from mangarec.embedding import Embedding
from mangarec.similarity import (
    EXCLUDED,
    Bilinear,
    DenseCosine,
    PairScores,
    SparseCosine,
    TagJaccard,
    Weighted,
    from_parts,
)


def sets_matrix(sets, T):
    rows = [[1.0 if t in s else 0.0 for t in range(T)] for s in sets]
    return sp.csr_matrix(np.array(rows))


def test_jaccard_and_max_overlap_formulas():
    B = sets_matrix([{0, 1, 2}, {1, 2, 3}, set(), {0}], 4)
    j = TagJaccard(B, np.ones(4)).block64(np.arange(4))
    assert j[0, 1] == pytest.approx(2 / 4) and j[0, 3] == pytest.approx(1 / 3)
    assert (j[2] == 0).all() and (j[:, 2] == 0).all()  # no tags: similar to nothing
    w = np.array([8.0, 1.0, 1.0, 2.0])
    m = TagJaccard(B, w, "max").block64(np.arange(4))
    assert m[0, 1] == pytest.approx(2 / max(10, 4)) and m[0, 3] == pytest.approx(8 / 10)
    r = TagJaccard(B, np.array([0.5, 0.25, 0.1, 3.0])).block64(np.arange(4))  # float64 path
    assert r[0, 1] == pytest.approx(0.35 / (0.85 + 3.35 - 0.35))


def test_bilinear_formula_and_clip():
    g = np.random.default_rng(0)
    U, a, b, c = g.normal(size=(6, 3)), g.random(3), g.random(3), g.normal(size=6)
    full = np.einsum("ik,k,jk->ij", U, a, U) + c[:, None] * np.einsum("ik,k,jk->ij", U, b, U)
    s = Bilinear(U, a, b, c, clip=False)
    np.testing.assert_allclose(s.block64(np.arange(6)), full)
    np.testing.assert_allclose(s.block(np.arange(6)), full, rtol=1e-5, atol=1e-5)
    rr, cc = np.array([0, 3, 5]), np.array([1, 1, 4])
    np.testing.assert_allclose(s.exact(rr, cc), full[rr, cc])
    np.testing.assert_allclose(Bilinear(U, a, b, c).block64(np.arange(6)), np.maximum(full, 0))


def test_weighted_sum_bias_and_exclusion():
    g = np.random.default_rng(1)
    x = sp.csr_matrix(g.random((5, 4)))
    d = DenseCosine(g.normal(size=(5, 2)))
    ex = sp.csr_matrix(([1.0], ([0], [2])), shape=(5, 5))
    bias = np.arange(5) / 10
    w = Weighted(((0.5, SparseCosine(x)), (2.0, d), (0.0, d)), bias=bias, exclude=ex)
    expect = 0.5 * (x @ x.T).toarray() + 2.0 * d.block64(np.arange(5)) + bias[None, :]
    got = w.block(np.arange(5))
    expect[0, 2] = EXCLUDED
    np.testing.assert_allclose(got, expect, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda g: SparseCosine(sp.csr_matrix(g.random((6, 5)) * (g.random((6, 5)) < 0.5))),
        lambda g: DenseCosine(g.normal(size=(6, 3))),
        lambda g: TagJaccard(
            sp.csr_matrix((g.random((6, 4)) < 0.5).astype(float)), g.integers(1, 4, 4).astype(float), "max"
        ),
        lambda g: Bilinear(g.normal(size=(6, 2)), g.random(2), g.random(2), g.random(6), clip=False),
        lambda g: PairScores(sp.csr_matrix(g.random((6, 6)) * (g.random((6, 6)) < 0.3))),
        lambda g: Weighted(
            (
                (1.0, DenseCosine(g.normal(size=(6, 3)))),
                (0.5, PairScores(sp.csr_matrix(g.random((6, 6)) * (g.random((6, 6)) < 0.3)))),
            ),
            bias=g.random(6),
            exclude=sp.csr_matrix(np.eye(6)[::-1]),
            labels=("a", "b"),
        ),
    ],
)
def test_parts_round_trip(make, tmp_path):
    sim = make(np.random.default_rng(2))
    meta, arrays = sim.parts("p.")
    back = from_parts(meta, arrays, "p.")
    assert type(back) is type(sim)
    np.testing.assert_array_equal(back.block64(np.arange(6)), sim.block64(np.arange(6)))
    # and through the cache, inside an Embedding
    cache = Cache(tmp_path)
    emb = Embedding("m", tuple("abcdef"), np.ones((6, 2), np.float32), similarity=sim, info={"x": 1})
    cache.put("k" * 64, emb)
    got = cache.get("k" * 64)
    np.testing.assert_array_equal(got.similarity.block64(np.arange(6)), sim.block64(np.arange(6)))
    assert got.similarity.kind == sim.kind


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown similarity kind"):
        from_parts({"kind": "nope"}, {})


def test_checks():
    B = sp.csr_matrix(np.eye(3))
    with pytest.raises(ValueError, match="norm"):
        TagJaccard(B, np.ones(3), "cosine")
    with pytest.raises(ValueError, match="weights"):
        TagJaccard(B, -np.ones(3))
    with pytest.raises(ValueError, match="non-finite"):
        Bilinear(np.full((3, 1), np.nan), np.ones(1), np.ones(1), np.ones(3))
    with pytest.raises(ValueError, match="different numbers"):
        Weighted(((1.0, DenseCosine(np.eye(3))), (1.0, DenseCosine(np.eye(2)))))
    with pytest.raises(ValueError, match="similarity scores 3 items"):
        Embedding("m", ("a", "b"), np.ones((2, 1), np.float32), similarity=DenseCosine(np.eye(3)))


def _per_item_tag_scores(B: sp.csr_matrix, w: np.ndarray, norm: str, rows: np.ndarray) -> np.ndarray:
    """TagJaccard's scores computed item by item, every column on its own (the reference)."""
    dense = B.toarray()
    dt = np.float32 if np.all(w == np.rint(w)) else np.float64
    inter = (dense[rows].astype(dt) * w.astype(dt)) @ dense.T.astype(dt)
    tot = (dense @ w).astype(dt)
    den = tot[rows][:, None] + tot[None, :] - inter if norm == "jaccard" else np.maximum(tot[rows][:, None], tot)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = inter / den
    out[np.ix_(tot[rows] == 0, tot == 0)] = 0.0
    return out


@pytest.mark.parametrize("norm", ["jaccard", "max"])
@pytest.mark.parametrize("weights", ["integral", "fractional"])
def test_tag_scores_once_per_distinct_tag_set_are_the_per_item_scores(norm, weights):
    """Columns are scored once per distinct tag set and spread to their items: the same bits
    as scoring every item's column, in block, block64 and a weighted sum."""
    g = np.random.default_rng(3)
    T = 6
    sets = [set(np.flatnonzero(g.random(T) < 0.4)) for _ in range(12)]
    sets = sets + sets[:7] + [set(), set()]  # duplicates and tagless items
    B = sets_matrix(sets, T)
    w = g.integers(1, 9, T).astype(float) if weights == "integral" else g.random(T) + 0.1
    s = TagJaccard(B, w, norm)
    rows = np.arange(len(sets))
    ref = _per_item_tag_scores(B, w, norm, rows)
    assert s.block(rows).dtype == ref.dtype and np.array_equal(s.block(rows), ref)
    out = np.zeros((len(rows), len(sets)))
    s.add_into(out, rows, 0.3)
    assert np.array_equal(out, 0.3 * ref.astype(np.float64))
    groups = s.row_groups()
    assert len(np.unique(groups)) == len({frozenset(x) for x in sets})
    assert np.array_equal(s.block(rows[groups == groups[0]])[0], s.block(rows[:1])[0])


@pytest.mark.parametrize("density", [0.02, 0.6])
def test_sparse_adds_dense_or_indexed_give_the_same_bits(density, monkeypatch):
    """A sparse block is added densely or by index (by its share of stored pairs): the same sums."""
    import mangarec.scorer_base as S

    g = np.random.default_rng(4)
    p = sp.random(9, 40, density=density, random_state=5, format="csr", dtype=np.float32)
    base = g.normal(size=(9, 40))
    got = []
    for share in (0.0, 2.0):  # always dense, never dense
        monkeypatch.setattr(S, "DENSE_ADD_SHARE", share)
        out = base.copy()
        S._add_sparse(out, p, 0.7)
        got.append(out)
    assert np.array_equal(got[0], got[1])
    np.testing.assert_array_equal(got[0][p.toarray() == 0], base[p.toarray() == 0])
    np.testing.assert_allclose(got[0], base + 0.7 * p.toarray().astype(np.float64), rtol=0, atol=1e-15)


def test_the_hybrids_tag_terms_are_summed_once_per_tag_set_with_the_same_bits(monkeypatch):
    """The hybrid: group-weighted tags, the co-like model's scorer (a weighted sum of one tag
    term), a text term, a prior and its series left out: the co-like term joins the tag terms,
    which are summed per distinct tag set and spread once, and every score keeps its bits."""
    g = np.random.default_rng(5)
    n, T = 120, 9
    B = sp.csr_matrix((g.random((n, T)) < 0.3).astype(float))
    B = sp.csr_matrix(B.toarray()[g.integers(0, 40, n)])  # repeated tag sets
    colike = Weighted(((1.0, TagJaccard(B, g.random(T) * 3)),), labels=("tags",))
    text = SparseCosine(sp.csr_matrix(g.random((n, 30)) * (g.random((n, 30)) < 0.1)))
    pairs = PairScores(sp.csr_matrix(g.random((n, n)) * (g.random((n, n)) < 0.05)))
    terms = ((1.0, TagJaccard(B, g.integers(1, 9, T).astype(float), "max")), (0.05, text), (2.0, colike))
    exclude = sp.csr_matrix((g.random((n, n)) < 0.02).astype(float))
    hybrid = Weighted(terms, bias=g.random(n) * 0.4, exclude=exclude)
    later = Weighted(((1.0, pairs), *terms))  # not at the start: nothing fused
    assert [type(t).__name__ for _, t in hybrid._plan] == ["TagSum", "SparseCosine"]
    assert "TagSum" not in [type(t).__name__ for _, t in later._plan]
    rows = np.arange(n)
    got = [hybrid.block(rows), later.block(rows)]
    monkeypatch.setattr(similarity, "_fuse_tags", lambda plan: plan)  # each term on its own, as before
    monkeypatch.setattr(similarity, "_tag_term", lambda term: term)
    before = [Weighted(terms, bias=hybrid.bias, exclude=exclude), Weighted(((1.0, pairs), *terms))]
    want = [w.block(rows) for w in before]
    assert [b.tobytes() for b in got] == [b.tobytes() for b in want]


def test_a_weighted_sum_of_tag_terms_groups_its_rows_by_tag_set():
    """The co-like model's scorer ranks each distinct tag set once, as tag-set Jaccard does;
    a text term or excluded pairs make every row its own."""
    B = sets_matrix([{0, 1}, {2}, {0, 1}, {2}, {1}], 3)
    colike = Weighted(((1.0, TagJaccard(B, np.array([0.5, 2.0, 1.5]))),), bias=np.arange(5.0))
    labels = colike.row_groups()
    assert labels is not None and labels[0] == labels[2] and labels[1] == labels[3] and len(set(labels)) == 3
    text = SparseCosine(sp.csr_matrix(np.eye(5)))
    assert Weighted(((1.0, TagJaccard(B, np.ones(3))), (0.5, text))).row_groups() is None
    assert Weighted(((1.0, TagJaccard(B, np.ones(3))),), exclude=sp.csr_matrix(np.eye(5))).row_groups() is None

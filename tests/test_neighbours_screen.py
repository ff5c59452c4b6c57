"""The night's screen (:mod:`mangarec.neighbours_screen`): every title's score against a few
titles, as columns (and as pairs), is the engine's score: bit for bit where it says ``err = 0``,
within ``err`` elsewhere. The update's exactness rests on it (``test_neighbours_update.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec import neighbours_screen as ns
from mangarec.similarity import Bilinear, DenseCosine, PairScores, SparseCosine, TagJaccard, Weighted
from mangarec.tag_scorers import TagSum


def _text(g: np.random.Generator, n: int, v: int = 40) -> sp.csr_matrix:
    x = sp.random(n, v, density=0.15, random_state=np.random.RandomState(int(g.integers(2**31))), format="csr")
    x.data = x.data.astype(np.float64) ** 3
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(np.divide(1.0, norms, out=np.zeros(n), where=norms > 0)) @ x)


def _scorers(seed: int) -> dict[str, object]:
    """One scorer of every kind, on 150 items (some rows empty or duplicated: ties)."""
    g = np.random.default_rng(seed)
    n, t = 150, 9
    dense_tags = (g.random((n, t)) < 0.35).astype(float)
    dense_tags[3] = 0
    tags = sp.csr_matrix(dense_tags)
    text = _text(g, n).tolil()
    text[7] = text[8]
    text = sp.csr_matrix(text)
    a, b = g.integers(0, n, 80), g.integers(0, n, 80)
    pairs = sp.csr_matrix((np.round(g.random(80), 2) + 0.1, (a, b)), shape=(n, n))
    U = g.normal(size=(n, 4))
    bil = Bilinear(U, g.normal(size=4), 0.1 * g.normal(size=4), g.normal(size=n), clip=True)
    int_tags = TagJaccard(tags, np.arange(1.0, t + 1), "max")
    real_tags = TagJaccard(tags, g.random(t) + 0.5)
    inner = Weighted(((1.0, real_tags), (0.7, Bilinear(U[:, :1], np.ones(1), np.zeros(1), np.zeros(n), clip=False))))
    weighted = Weighted(
        (
            (1.0, int_tags),
            (0.05, SparseCosine(text)),
            (0.3, SparseCosine(_text(g, n))),
            (2.0, inner),
            (0.5, PairScores(pairs)),
        ),
        bias=np.round(g.random(n), 1) * 0.4,
        exclude=sp.csr_matrix(pairs > 0.8),
    )
    return {
        "sparse": SparseCosine(text),
        "int tags": int_tags,
        "real tags": real_tags,
        "pairs": PairScores(pairs),
        "bilinear": bil,
        "dense": DenseCosine(U),
        "weighted": weighted,
        "weighted, bitwise terms": Weighted(((1.0, int_tags), (0.05, SparseCosine(text))), bias=g.random(n)),
        # the hybrid's shape: tag terms over one tag matrix open the sum, fused into one TagSum
        "fused tags": Weighted(
            ((0.6, int_tags), (0.4, TagJaccard(tags, np.ones(t))), (0.05, SparseCosine(text))), bias=g.random(n)
        ),
        "fused tags, real weights": Weighted(((0.6, real_tags), (0.4, TagJaccard(tags, g.random(t) + 0.5)))),
    }


def _engine(sim, rows):
    """The engine's raw scores of ``rows`` against every item (an exact row where it screens)."""
    return np.asarray(sim.block64(rows) if sim.screens else sim.block(rows), dtype=np.float64)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "kind",
    [
        "sparse",
        "int tags",
        "real tags",
        "pairs",
        "bilinear",
        "dense",
        "weighted",
        "weighted, bitwise terms",
        "fused tags",
        "fused tags, real weights",
    ],
)
def test_columns_and_pairs_are_the_engines_scores_within_their_bound(kind, seed):
    sim = _scorers(seed)[kind]
    n = sim.n
    cols = np.array([0, 3, 7, 8, 42, 149])
    vectors = np.zeros((n, 1))
    raw, err = ns.column_block(sim, vectors, cols)
    want = _engine(sim, np.arange(n))[:, cols]
    assert raw.shape == (n, len(cols)) and err.shape == (len(cols),)
    assert np.all(np.abs(raw - want) <= err[None, :])
    rows = np.repeat(np.arange(n), 2)
    pcols = np.tile([5, 7], n)
    praw, perr = ns.pair_block(sim, vectors, rows, pcols)
    assert np.all(np.abs(praw - _engine(sim, np.arange(n))[rows, pcols]) <= perr)
    if kind.startswith("fused"):  # the screen knows the fused term (a full search each night otherwise)
        assert isinstance(sim._plan[0][1], TagSum)
    if kind in ("sparse", "int tags", "pairs", "weighted, bitwise terms", "fused tags"):
        assert not err.any() and not perr.any()  # bit for bit: ties decided by the scores' bits


def test_a_sparse_dot_product_summed_in_another_order_is_caught():
    """The bitwise claim is a real one: the pairs' float32 products summed in reverse word order
    differ from the engine's scores in some pairs of a dense enough random matrix, the order
    :func:`pair_block` sums them in never does (so the test above could fail)."""
    g = np.random.default_rng(5)
    x = sp.csr_matrix(g.random((200, 30)) * (g.random((200, 30)) < 0.6))
    x = sp.csr_matrix(sp.diags(1.0 / np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())) @ x)
    sim = SparseCosine(x)
    rows, cols = np.arange(sim.n), np.full(sim.n, 7)
    prod = sp.csr_matrix(sim.matrix[rows].multiply(sim.matrix[cols]), dtype=np.float32)
    prod.sort_indices()
    reverse = np.zeros(sim.n, dtype=np.float32)
    for i, (a, b) in enumerate(zip(prod.indptr, prod.indptr[1:])):
        for v in prod.data[a:b][::-1]:
            reverse[i] += v
    engine = _engine(sim, rows)[:, 7]
    assert np.any(reverse.astype(np.float64) != engine)
    np.testing.assert_array_equal(ns.pair_block(sim, np.zeros((sim.n, 1)), rows, cols)[0], engine)
    np.testing.assert_array_equal(ns.column_block(sim, np.zeros((sim.n, 1)), np.array([7]))[0][:, 0], engine)


def test_exact_pairs_are_the_dense_search_and_the_bilinear_exact_scores():
    from mangarec.topk_dense import dense_topk, round_scores

    s = _scorers(3)
    U = s["dense"].vectors.copy()
    U[5] = U[9] * 2.0  # same direction: the dense search scores it exactly 1
    idx, sc, _ = dense_topk(U, 20, np.arange(len(U)))
    rows = np.repeat(np.arange(len(U)), 20)
    got = ns.exact_pairs(None, U, rows, idx.reshape(-1).astype(np.int64))
    np.testing.assert_array_equal(got, sc.reshape(-1).astype(np.float64))
    bil = s["bilinear"]
    cols = np.arange(bil.n)[::-1].copy()
    np.testing.assert_array_equal(
        ns.exact_pairs(bil, U, np.arange(bil.n), cols), round_scores(bil.exact(np.arange(bil.n), cols))
    )
    assert ns.exact_pairs(s["weighted"], U, np.arange(3), np.arange(3)) is None

"""The exact blocked top-k over any scorer: same answer and tie rule as a brute-force sort."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec import topk
from mangarec.similarity import Bilinear, DenseCosine, PairScores, SparseCosine, TagJaccard, Weighted


def brute(sim, tie, k):
    """Every row sorted by (-rounded score, tie order), self left out."""
    return brute_rows(sim, np.arange(sim.n), tie, k)


def scorers(g, n, T):
    B = sp.csr_matrix((g.random((n, T)) < 0.35).astype(float))
    U = B.toarray() @ g.normal(size=(T, T))
    text = sp.csr_matrix(g.random((n, 40)) * (g.random((n, 40)) < 0.08))
    jac = TagJaccard(B, np.ones(T))
    bil = Bilinear(U, g.random(T), g.random(T) * 0.1, g.random(n))
    out = {
        "jaccard": jac,
        "weighted-max": TagJaccard(B, g.integers(1, 5, T).astype(float), "max"),
        "real-weights": TagJaccard(B, g.random(T)),
        "bilinear": bil,
        # the co-like model's scorer: one tag term of weight 1, ranked by distinct tag sets
        "colike": Weighted(((1.0, TagJaccard(B, g.random(T) * 3)),)),
        # network deconvolution's scale (scores ~1e-3, most clipped to 0): the bound keeps a
        # margin of the screen's own error, not MARGIN's 1e-4
        "bilinear-small": Bilinear(U * 0.02, g.random(T), np.zeros(T), np.zeros(n)),
        "sparse": SparseCosine(text),
        "dense": DenseCosine(g.normal(size=(n, 4))),
        "pairs": PairScores(sp.csr_matrix(g.random((n, n)) * (g.random((n, n)) < 0.05))),
    }
    out["weighted"] = Weighted(
        ((1.0, jac), (0.3, out["sparse"]), (0.5, bil)),
        bias=g.random(n) * 0.1,
        exclude=sp.csr_matrix((g.random((n, n)) < 0.03).astype(float)),
    )
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**20), n=st.integers(3, 160), k=st.integers(1, 12))
def test_matches_brute_force_for_every_scorer(seed, n, k):
    g = np.random.default_rng(seed)
    k = min(k, n - 1)
    tie = g.permutation(n)
    for name, sim in scorers(g, n, int(g.integers(2, 9))).items():
        idx, sc = topk.exact_topk(sim, k, tie)
        assert idx.dtype == np.int32 and sc.dtype == np.float32 and idx.shape == (n, k)
        np.testing.assert_array_equal(idx, brute(sim, tie, k), err_msg=name)
        assert (np.diff(sc, axis=1) <= 0).all(), name
        assert not (idx == np.arange(n)[:, None]).any(), name


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**20), r=st.integers(1, 120), scale=st.sampled_from([1e-4, 1e-2, 1.0, 30.0]))
def test_a_screens_error_bound_holds(seed, r, scale):
    """Bilinear's float32 block is within its stated error of the float64 scores, on every row."""
    g = np.random.default_rng(seed)
    n = 50
    sim = Bilinear(g.normal(size=(n, r)) * scale, g.normal(size=r), g.normal(size=r), g.normal(size=n), clip=False)
    rows = np.arange(n)
    gap = np.abs(sim.block(rows).astype(np.float64) - sim.block64(rows)).max(axis=1)
    assert (gap <= sim.screen_error(rows)).all()
    assert (sim.screen_error(rows) < 1e-3 * scale**2 * r).all()  # and it is small: no MARGIN


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**20),
    m=st.integers(1, 300),
    k=st.integers(1, 40),
    bulk=st.sampled_from([0.0, 0.3, 0.9, 1.0]),
    at=st.sampled_from([-1.0, 0.0, 0.5, 2.0]),
)
def test_kth_largest_is_a_partitions_value_whatever_the_ties(seed, m, k, bulk, at):
    """Rows mostly equal to one value (below, inside or above the k-th largest: a sparse score
    row's sea of zeros, a sea of ones) take another partition, with the same answer."""
    from mangarec.topk_dense import kth_largest

    g = np.random.default_rng(seed)
    k = min(k, m)
    a = np.where(g.random((7, m)) < bulk, at, g.integers(-3, 4, (7, m)) * 0.25).astype(np.float32)
    np.testing.assert_array_equal(kth_largest(a, k), np.partition(a, m - k, axis=1)[:, m - k])


def test_exact_scorers_state_no_screen_error():
    g = np.random.default_rng(2)
    for name, sim in scorers(g, 30, 4).items():
        err = sim.screen_error(np.arange(5))
        if sim.screens:
            assert err is None or err.shape == (5,), name
        else:
            assert err.tolist() == [0.0] * 5, name


def test_every_path_of_the_selection(monkeypatch):
    """Force the tie-order scan (seas of ties) and its fallbacks on a catalog with many equal rows."""
    g = np.random.default_rng(3)
    monkeypatch.setattr(topk, "MAX_CANDIDATES", 3)
    monkeypatch.setattr(topk, "TIE_PREFIX", 1)
    for seed in range(6):
        g = np.random.default_rng(seed)
        n = 300
        tie = g.permutation(n)
        for name, sim in scorers(g, n, 3).items():
            np.testing.assert_array_equal(topk.exact_topk(sim, 7, tie)[0], brute(sim, tie, 7), err_msg=name)


def test_subsample_bound_on_a_large_block():
    g = np.random.default_rng(0)
    n = 5000  # above SUBSAMPLE_MIN_COLUMNS: the bound comes from one column in eight
    x = sp.csr_matrix(g.random((n, 300)) * (g.random((n, 300)) < 0.02))
    sim = SparseCosine(x)
    tie = g.permutation(n)
    rows = g.choice(n, 40, replace=False)
    idx, _ = topk.topk_rows(sim, rows, 10, tie)
    full = brute_rows(sim, rows, tie, 10)
    np.testing.assert_array_equal(idx, full)


def brute_rows(sim, rows, tie, k):
    """Each of ``rows`` sorted whole by (-rounded score, tie order), self left out (``np.lexsort``:
    its last key first)."""
    s = topk.round_scores(sim.block64(rows))
    tie = np.asarray(tie)
    out = []
    for r, i in enumerate(rows):
        cols = np.delete(np.arange(sim.n), i)
        out.append(cols[np.lexsort((tie[cols], -s[r, cols]))][:k])
    return np.array(out)


def test_ties_go_to_the_more_popular_item():
    B = sp.csr_matrix(np.array([[1, 0], [1, 0], [1, 0], [1, 0], [0, 1]], dtype=float))
    sim = TagJaccard(B, np.ones(2))
    tie = np.array([4, 3, 0, 1, 2])  # item 2 is the most popular
    idx, sc = topk.exact_topk(sim, 2, tie)
    assert idx[0].tolist() == [2, 3] and idx[2].tolist() == [3, 1]
    assert sc[0].tolist() == [1.0, 1.0]


def test_identical_rows_are_ranked_once_and_each_drops_itself():
    B = sp.csr_matrix(np.repeat(np.eye(3), [4, 1, 2], axis=0))
    sim = TagJaccard(B, np.ones(3))
    assert len(np.unique(sim.row_groups())) == 3
    tie = np.arange(7)
    idx, _ = topk.exact_topk(sim, 3, tie)
    assert idx[0].tolist() == [1, 2, 3] and idx[3].tolist() == [0, 1, 2] and idx[5].tolist() == [6, 0, 1]


def test_excluded_pairs_come_last():
    g = np.random.default_rng(1)
    n = 30
    dense = DenseCosine(g.normal(size=(n, 3)))
    ex = sp.csr_matrix((np.ones(n - 2), (np.zeros(n - 2, int), np.arange(2, n))), shape=(n, n))
    idx, _ = topk.exact_topk(Weighted(((1.0, dense),), exclude=ex), 3, np.arange(n))
    assert set(idx[0, :1].tolist()) == {1}  # the only item not excluded for row 0 comes first


@pytest.mark.parametrize("k", [0, 5])
def test_k_out_of_range(k):
    with pytest.raises(ValueError, match="k must be"):
        topk.exact_topk(DenseCosine(np.eye(5)), k, np.arange(5))


def test_non_finite_scores_are_refused():
    bad = PairScores(sp.csr_matrix(np.array([[0, np.inf], [1, 0]])))
    with pytest.raises(ValueError, match="non-finite"):
        topk.exact_topk(bad, 1, np.arange(2))


def test_forked_workers_give_the_same_answer(monkeypatch):
    g = np.random.default_rng(8)
    n = 400
    tie = g.permutation(n)
    sims = scorers(g, n, 5)
    serial = {name: topk.exact_topk(sim, 9, tie) for name, sim in sims.items()}
    monkeypatch.setattr(topk, "WORKERS", 2)
    monkeypatch.setattr(topk, "PARALLEL_MIN_CELLS", 0)
    for name, sim in sims.items():
        i, s = topk.exact_topk(sim, 9, tie)
        np.testing.assert_array_equal(i, serial[name][0], err_msg=name)
        np.testing.assert_array_equal(s, serial[name][1], err_msg=name)
    assert not topk._JOB  # the job is cleared after the pool


def dense_with_duplicates(g, n, d, distinct):
    """``(n, d)`` vectors drawn from ``distinct`` rows (small integers: many exact ties), some
    scaled copies (the same unit vector) and zero rows."""
    base = g.integers(-2, 3, size=(distinct, d)).astype(np.float64)
    v = base[g.integers(0, distinct, size=n)] * g.choice([1.0, 1.0, 2.5], size=n)[:, None]
    v[g.random(n) < 0.1] = 0.0
    return v


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**20),
    n=st.integers(3, 120),
    d=st.integers(1, 5),
    distinct=st.integers(1, 30),
    k=st.integers(1, 12),
)
def test_dense_engine_equals_brute_force_with_duplicate_vectors(seed, n, d, distinct, k):
    """The dense path (distinct vectors against distinct columns, groups expanded) gives the
    brute-force order: rounded cosine descending, then tie order; duplicates, scaled copies and
    zero vectors (cosine 0 with everything, itself included) present. topk_rows agrees row by row."""
    from mangarec.embedding import Embedding
    from mangarec.neighbours import exact

    g = np.random.default_rng(seed)
    k = min(k, n - 1)
    v = dense_with_duplicates(g, n, d, distinct)
    tie = g.permutation(n)
    sim = DenseCosine(v)
    want = brute(sim, tie, k)
    idx, sc = topk.exact_topk(sim, k, tie)
    np.testing.assert_array_equal(idx, want)
    assert idx.dtype == np.int32 and sc.dtype == np.float32
    s = topk.round_scores(sim.block64(np.arange(n)))
    np.testing.assert_array_equal(sc, np.take_along_axis(s, want, axis=1).astype(np.float32))
    rows = g.choice(n, size=min(n, 7), replace=False)
    ri, rs = topk.topk_rows(sim, rows, k, tie)
    assert ri.dtype == np.int64 and rs.dtype == np.float64
    np.testing.assert_array_equal(ri, want[rows])
    np.testing.assert_array_equal(rs, sc[rows].astype(np.float64))
    nb = exact(Embedding("m", tuple(map(str, range(n))), v.astype(np.float32)), k, tie)
    np.testing.assert_array_equal(nb.indices, want)


def test_dense_engine_subsample_bound_with_duplicates():
    """Above SUBSAMPLE_MIN_COLUMNS distinct vectors the bound comes from one in eight."""
    g = np.random.default_rng(5)
    n = 3000
    v = g.normal(size=(2600, 3))[np.concatenate([np.arange(2600), g.integers(0, 2600, size=n - 2600)])]
    sim = DenseCosine(v)
    tie = g.permutation(n)
    rows = g.choice(n, 50, replace=False)
    idx, sc, m = topk.dense_topk(v, 10, tie, rows)
    assert m >= topk.SUBSAMPLE_MIN_COLUMNS
    np.testing.assert_array_equal(idx, brute_rows(sim, rows, tie, 10))

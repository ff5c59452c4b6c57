"""Network deconvolution and global silencing: the study's toy networks, and the SVD shortcut."""

from __future__ import annotations

import numpy as np
import pytest

from mangarec.catalog import Catalog, Item, make_tags
from mangarec.models import deconvolution, silencing
from mangarec.models._indirect import deconvolve, finish, silence, silencing_weights, spectrum


def ring(m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The study's toy: a ring of direct edges (weight 1) plus weaker indirect chords
    (nodes 2 and 3 apart, weight U(0, 1) / distance): a weighted clique."""
    g = np.random.default_rng(seed)
    G = np.zeros((m, m))
    direct = np.zeros((m, m), dtype=bool)
    for i in range(m):
        j = (i + 1) % m
        G[i, j] = G[j, i] = 1.0
        direct[i, j] = direct[j, i] = True
    for i in range(m):
        for d in (2, 3):
            j = (i + d) % m
            if G[i, j] == 0:
                G[i, j] = G[j, i] = g.uniform() / d
    return G, direct


@pytest.mark.parametrize("seed", range(8))
def test_ring_deconvolution_removes_the_direct_edges_silencing_keeps_them(seed):
    G, direct = ring(5, seed)
    chords = ~direct & ~np.eye(5, dtype=bool)
    d, s = deconvolve(G), silence(G)
    # the study's qualitative result on its ring / clique figure: deconvolution keeps the
    # edges between nodes that share neighbours (the chords) and removes the ring; silencing
    # removes the weak chords and keeps the ring (every node keeps a ring edge; S is not
    # symmetric, so some ring edges survive in one direction only)
    assert (d[direct] == 0).all() and (d[chords] > 0).all()
    assert (s[chords] == 0).all()
    assert ((s * direct).max(axis=1) > 0).all() and (s[direct] > 0).mean() >= 0.5


def test_bipartite_projection_silencing_keeps_the_structure():
    """The study's second toy: manga i has the first (i mod 3) + 1 of 3 tags; project, silence."""
    n, k = 5, 3
    A = np.zeros((n, k))
    for i in range(n):
        for j in range(i % k + 1):
            A[i, j] = i + 1 / (j + 1)
    P = A @ A.T
    np.fill_diagonal(P, 0)
    d, s = deconvolve(P), silence(P)
    assert np.count_nonzero(s) > np.count_nonzero(d)  # deconvolution removes most paths
    assert set(zip(*np.nonzero(s))) <= set(zip(*np.nonzero(P)))  # silencing adds no edge
    assert (d >= 0).all() and d.max() == 1.0 and s.max() == 1.0


def test_finish_is_the_studys_post_processing():
    M = np.array([[5.0, -1.0, 2.0], [3.0, 7.0, 4.0], [0.0, 1.0, 9.0]])
    np.testing.assert_allclose(finish(M), [[0, 0, 0.5], [0.75, 0, 1.0], [0, 0.25, 0]])
    assert not finish(-np.ones((2, 2))).any()


def tag_catalog(g, n=60, T=7):
    B = (g.random((n, T)) < 0.4).astype(float)
    B[B.sum(axis=1) == 0, 0] = 1.0
    names = [f"T{t}" for t in range(T)]
    items = tuple(
        Item(
            id=f"i{i}",
            title=f"t{i}",
            kind="manga",
            tags=make_tags({"genre": [names[t] for t in np.flatnonzero(B[i])]}),
            popularity=float(n - i),
        )
        for i in range(n)
    )
    return Catalog(items=items), B


@pytest.mark.parametrize("seed", range(3))
def test_the_svd_gives_the_dense_formulas_off_the_diagonal(seed):
    g = np.random.default_rng(seed)
    cat, _ = tag_catalog(g)
    B = cat.tag_matrix.toarray().astype(float)
    G = B @ B.T
    n = len(cat)
    off = ~np.eye(n, dtype=bool)
    dec = deconvolution.fit(cat, deconvolution.Params(beta=1.0), 0, {})
    dense_dec = G @ np.linalg.inv(np.eye(n) + G)
    np.testing.assert_allclose(dec.similarity.block64(np.arange(n))[off], np.maximum(dense_dec, 0)[off], atol=1e-9)
    sil = silencing.fit(cat, silencing.Params(scale=1.0), 0, {})
    eye = np.eye(n)
    dense_sil = (G - eye + np.diag(np.diag((G - eye) @ G))) @ np.linalg.pinv(G, hermitian=True)
    np.testing.assert_allclose(sil.similarity.block64(np.arange(n))[off], np.maximum(dense_sil, 0)[off], atol=1e-7)


def test_beta_rescales_as_feizi():
    g = np.random.default_rng(4)
    cat, _ = tag_catalog(g)
    U, lam = spectrum(cat.tag_matrix)
    e = deconvolution.fit(cat, deconvolution.Params(beta=0.5), 0, {})
    f = np.asarray(e.similarity.a)
    assert f.max() == pytest.approx(0.5)  # the largest direct eigenvalue is beta
    np.testing.assert_allclose(f, lam / (lam.max() + lam))
    B = cat.tag_matrix.toarray()
    np.testing.assert_allclose((U * lam) @ U.T, B @ B.T, atol=1e-9)
    a, b, c = silencing_weights(U, lam)
    assert a.shape == b.shape == lam.shape and c.shape == (len(cat),)


def test_no_tags_gives_no_scorer():
    cat = Catalog(items=(Item(id="a", title="a", kind="manga"), Item(id="b", title="b", kind="manga")))
    e = deconvolution.fit(cat, deconvolution.Params(), 0, {})
    assert e.similarity is None and e.vectors.shape == (2, 1)


@pytest.mark.parametrize("m", [4, 5, 6])
def test_equal_weight_clique_is_at_the_pole(m):
    """On an equal-weight clique ``I + G`` is singular (every eigenvalue but one is -1): the
    study's plain eigendecomposition returns NaN or rounding noise there (its "deconvolution
    removes every edge of a clique"). We leave the pole out: every edge stays, equal, as
    silencing keeps them."""
    G = np.ones((m, m)) - np.eye(m)
    lam = np.linalg.eigvalsh(G)
    assert np.isclose(lam, -1).sum() == m - 1
    d, s = deconvolve(G), silence(G)
    off = ~np.eye(m, dtype=bool)
    np.testing.assert_allclose(d[off], 1.0)
    np.testing.assert_allclose(s[off], 1.0)


def test_silencing_scale_multiplies_g_first():
    g = np.random.default_rng(9)
    cat, _ = tag_catalog(g, n=40)
    B = cat.tag_matrix.toarray().astype(float)
    G = 0.01 * (B @ B.T)
    eye = np.eye(40)
    dense = (G - eye + np.diag(np.diag((G - eye) @ G))) @ np.linalg.pinv(G, hermitian=True)
    off = ~np.eye(40, dtype=bool)
    got = silencing.fit(cat, silencing.Params(scale=0.01), 0, {}).similarity.block64(np.arange(40))
    np.testing.assert_allclose(got[off], np.maximum(dense, 0)[off], atol=1e-7)

"""ALS: planted low-rank structure, clusters, determinism, implicit mode, tag placement."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec.catalog import Catalog, Item, Ratings, make_tags
from mangarec.errors import InputError
from mangarec.models import _solve, als, als_solvers
from mangarec.models.als import Params as ALSParams

NOISE = 0.3


def planted_catalog(
    n_users: int = 300,
    n_items: int = 400,
    density: float = 0.15,
    seed: int = 0,
    rank: int = 2,
    unrated: int = 0,
    implicit: bool = False,
) -> tuple[Catalog, dict]:
    """A catalog whose ratings come from a known rank-``rank`` model plus N(0, NOISE²) noise.

    Items alternate between two clusters ("a": sports tags, "b": horror tags) whose true factors
    point in opposite directions along the first axis; the last ``unrated`` items get no rating.
    Returns the catalog and the truth (user/item factors, the held-out entries).
    """
    g = np.random.default_rng(seed)
    cluster = np.arange(n_items) % 2
    V = g.normal(0, 0.3, (n_items, rank))
    V[:, 0] += np.where(cluster == 0, 1.0, -1.0)
    U = g.normal(0, 1.0, (n_users, rank))
    bias = g.normal(6.0, 0.5, n_users)
    mask = g.random((n_users, n_items)) < density
    if unrated:
        mask[:, n_items - unrated :] = False
    full = bias[:, None] + U @ V.T + g.normal(0, NOISE, (n_users, n_items))
    held = mask & (g.random((n_users, n_items)) < 0.1)
    train = mask & ~held
    if implicit:  # an interaction means the (noise-free) preference is positive
        train &= (U @ V.T) > 0
    rows, cols = np.nonzero(train)
    vals = np.ones(len(rows)) if implicit else full[rows, cols]
    M = sp.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=(n_users, n_items))
    sports = ["Sports", "School Life", "Comedy", "Drama"]
    horror = ["Horror", "Supernatural", "Mystery", "Gore"]
    items = []
    for k in range(n_items):
        tags = sports if cluster[k] == 0 else horror
        chosen = [t for j, t in enumerate(tags) if (k // 2 + j) % 3 != 0] or tags[:2]
        items.append(
            Item(
                id=f"{'a' if cluster[k] == 0 else 'b'}{k}",
                title=f"Title <{k}>",
                kind="anime",
                tags=make_tags({"genre": chosen}),
                popularity=float(M[:, k].nnz) + (n_items - k) * 1e-3,
            )
        )
    ratings = Ratings(matrix=M, user_ids=tuple(f"p{u}" for u in range(n_users)), implicit=implicit, source="planted")
    truth = {"U": U, "V": V, "bias": bias, "full": full, "held": np.nonzero(held), "cluster": cluster}
    return Catalog(items=tuple(items), ratings=ratings, sources=("planted",)), truth


def _predict_heldout(catalog: Catalog, emb, lam: float, truth: dict) -> tuple[np.ndarray, np.ndarray]:
    """Fold each user back in against the trained items and predict the held-out ratings."""
    R = sp.csr_matrix(catalog.ratings.matrix, dtype=np.float64)
    V = als.centred(R)
    X = als.solve_rows(V, emb.vectors.astype(np.float64), lam, implicit=False, alpha=0.0)
    counts = np.diff(R.indptr)
    mean = np.add.reduceat(R.data, R.indptr[:-1]) / np.maximum(counts, 1)
    u, i = truth["held"]
    pred = mean[u] + np.einsum("ij,ij->i", X[u], emb.vectors[i].astype(np.float64))
    return pred, truth["full"][u, i]


def test_recovers_planted_rank2_structure():
    catalog, truth = planted_catalog()
    params = ALSParams(factors=2, regularization=0.05, iterations=12, feedback="explicit")
    emb = als.fit(catalog, params, seed=1)
    pred, actual = _predict_heldout(catalog, emb, 0.05, truth)
    rmse = float(np.sqrt(np.mean((pred - actual) ** 2)))
    # The user-mean baseline is far worse than ALS; ALS gets close to the noise level.
    R = catalog.ratings.matrix
    mean = np.asarray(R.sum(axis=1)).ravel() / np.diff(R.indptr)
    base = float(np.sqrt(np.mean((mean[truth["held"][0]] - actual) ** 2)))
    assert rmse < 1.6 * NOISE, (rmse, base)
    assert base > 2.5 * rmse
    assert emb.vectors.shape == (400, 2) and emb.vectors.dtype == np.float32
    assert emb.info["users"] == 300 and emb.info["mode"] == "explicit"
    losses = emb.info["loss"]
    assert len(losses) == 12 and all(b <= a * (1 + 1e-6) for a, b in zip(losses, losses[1:]))


def test_two_clusters_neighbours_stay_in_cluster():
    catalog, truth = planted_catalog(rank=2)
    emb = als.fit(catalog, ALSParams(factors=4, regularization=0.1, iterations=8, feedback="explicit"), seed=3)
    Y = emb.vectors / np.linalg.norm(emb.vectors, axis=1, keepdims=True)
    S = Y @ Y.T
    np.fill_diagonal(S, -np.inf)
    nn = np.argsort(-S, axis=1)[:, :5]
    same = truth["cluster"][nn] == truth["cluster"][:, None]
    assert same.mean() > 0.95


def test_deterministic_and_seed_dependent():
    catalog, _ = planted_catalog(n_users=120, n_items=80, density=0.3)
    p = ALSParams(factors=3, regularization=0.1, iterations=4, feedback="explicit")
    a = als.fit(catalog, p, seed=7)
    b = als.fit(catalog, p, seed=7)
    c = als.fit(catalog, replace(p, iterations=1), seed=8)
    assert a.vectors.tobytes() == b.vectors.tobytes()
    assert a.tag_vectors.tobytes() == b.tag_vectors.tobytes()
    assert a.vectors.tobytes() != c.vectors.tobytes()


def test_threads_do_not_change_result(monkeypatch):
    catalog, _ = planted_catalog(n_users=700, n_items=60, density=0.3)
    p = ALSParams(factors=3, regularization=0.1, iterations=2, feedback="explicit")
    monkeypatch.setattr(_solve, "BLOCK", 64)
    a = als.fit(catalog, p, seed=2)
    monkeypatch.setattr(_solve, "THREADS", 1)
    b = als.fit(catalog, p, seed=2)
    assert a.vectors.tobytes() == b.vectors.tobytes()


def test_solve_rows_matches_direct_solve():
    g = np.random.default_rng(5)
    R = sp.random(30, 25, density=0.3, random_state=6, format="csr") * 10
    F = g.normal(size=(25, 4))
    for implicit in (False, True):
        X = als.solve_rows(R, F, 0.2, implicit=implicit, alpha=3.0)
        for u in range(30):
            idx = R.indices[R.indptr[u] : R.indptr[u + 1]]
            v = R.data[R.indptr[u] : R.indptr[u + 1]]
            Fs = F[idx]
            if implicit:
                c = 1 + 3.0 * v
                A = F.T @ F + (Fs.T * (c - 1)) @ Fs + 0.2 * np.eye(4)
                b = Fs.T @ c
            else:
                A = Fs.T @ Fs + 0.2 * max(len(idx), 1) * np.eye(4)
                b = Fs.T @ v
            np.testing.assert_allclose(X[u], np.linalg.solve(A, b), rtol=1e-4, atol=1e-5)


def test_implicit_mode_neighbours_stay_in_cluster():
    catalog, truth = planted_catalog(implicit=True, density=0.3)
    emb = als.fit(catalog, ALSParams(factors=4, regularization=0.1, iterations=8, feedback="raw", alpha=5.0), seed=0)
    assert emb.info["mode"] == "implicit" and emb.info["alpha"] == 5.0
    losses = emb.info["loss"]
    assert all(b <= a * (1 + 1e-6) for a, b in zip(losses, losses[1:]))
    Y = emb.vectors / np.linalg.norm(emb.vectors, axis=1, keepdims=True)
    S = Y @ Y.T
    np.fill_diagonal(S, -np.inf)
    nn = np.argsort(-S, axis=1)[:, :5]
    assert (truth["cluster"][nn] == truth["cluster"][:, None]).mean() > 0.9


def test_unrated_items_placed_from_tags():
    catalog, truth = planted_catalog(unrated=20)
    emb = als.fit(catalog, ALSParams(factors=2, regularization=0.05, iterations=8, feedback="explicit"), seed=1)
    assert emb.info["items_placed_from_tags"] == 20
    assert emb.tag_ids == catalog.tag_vocabulary and emb.tag_vectors.shape == (8, 2)
    B = catalog.tag_matrix
    placed = B[-20:] @ emb.tag_vectors.astype(np.float64)
    np.testing.assert_allclose(emb.vectors[-20:], placed, rtol=1e-5, atol=1e-6)
    # a placed title lands nearer the centroid of its own cluster than of the other one
    Y = emb.vectors.astype(np.float64)
    cl = truth["cluster"]
    rated = np.arange(380)
    c0, c1 = Y[rated][cl[rated] == 0].mean(0), Y[rated][cl[rated] == 1].mean(0)
    for k in range(380, 400):
        own, other = (c0, c1) if cl[k] == 0 else (c1, c0)
        assert np.linalg.norm(Y[k] - own) < np.linalg.norm(Y[k] - other)


def test_no_ratings_is_a_clear_error(two_clusters):
    with pytest.raises(InputError, match="model 'als' needs ratings"):
        als.fit(two_clusters, ALSParams(feedback="explicit"), seed=0)
    empty = Ratings(matrix=sp.csr_matrix((3, len(two_clusters)), dtype=np.float32), user_ids=("a", "b", "c"))
    cat = Catalog(items=two_clusters.items, ratings=empty, sources=("x.csv",))
    with pytest.raises(InputError, match=r"^x\.csv: model 'als'"):
        als.fit(cat, ALSParams(feedback="explicit"), seed=0)


def test_pseudonymous_ratings_train_the_same():
    """Output of the private collection is just another Ratings: user ids do not matter."""
    catalog, _ = planted_catalog(n_users=100, n_items=60, density=0.3)
    r = catalog.ratings
    pseud = replace(r, user_ids=tuple(f"pseud-{k:04x}" for k in range(r.n_users)), source="collection")
    other = Catalog(items=catalog.items, ratings=pseud, sources=("collection",))
    p = ALSParams(factors=3, iterations=3, feedback="explicit")
    assert als.fit(catalog, p, 4).vectors.tobytes() == als.fit(other, p, 4).vectors.tobytes()


# ---- conjugate-gradient solver (mangarec.models.als_solvers)


def _row_systems(R: sp.csr_matrix, F: np.ndarray, lam: float, implicit: bool, alpha: float):
    """The exact ``(A_u, b_u)`` of every row, built the slow, obvious way."""
    d = F.shape[1]
    out = []
    for u in range(R.shape[0]):
        idx = R.indices[R.indptr[u] : R.indptr[u + 1]]
        v = R.data[R.indptr[u] : R.indptr[u + 1]]
        Fs = F[idx]
        if implicit:
            c = 1 + alpha * np.abs(v)
            A = F.T @ F + (Fs.T * (c - 1)) @ Fs + lam * np.eye(d)
            b = Fs.T @ (c * (v >= 0))
        else:
            A = Fs.T @ Fs + lam * max(len(idx), 1) * np.eye(d)
            b = Fs.T @ v
        out.append((A, b))
    return out


@pytest.mark.parametrize("implicit", [True, False])
def test_cg_rows_converges_to_exact_solve(implicit):
    g = np.random.default_rng(8)
    R = sp.random(40, 30, density=0.3, random_state=9, format="csr") * 10
    R.data -= 4.0  # some negative values: dislikes in implicit mode
    F = g.normal(size=(30, 5))
    exact = als.solve_rows(R, F, 0.3, implicit=implicit, alpha=2.0)
    X0 = g.normal(size=(40, 5))
    errs = []
    for steps in (1, 2, 5, 12):
        X = als_solvers.cg_rows(R, F, X0, 0.3, implicit=implicit, alpha=2.0, steps=steps)
        errs.append(np.linalg.norm(X - exact) / np.linalg.norm(exact))
    assert errs[-1] < 1e-4, errs  # d = 5: CG is exact after 5 steps up to float32 products
    assert errs[0] > 1e-3  # one step from a random start is not (the test can tell)
    assert all(b <= a * 1.0001 + 1e-6 for a, b in zip(errs, errs[1:])), errs


@pytest.mark.parametrize("implicit", [True, False])
def test_each_cg_step_lowers_every_row_objective(implicit):
    g = np.random.default_rng(3)
    R = sp.random(25, 20, density=0.4, random_state=4, format="csr") * 5
    F = g.normal(size=(20, 4))
    X0 = g.normal(size=(25, 4))
    systems = _row_systems(R, F, 0.2, implicit, 3.0)

    def objective(X):  # x_uᵀ A_u x_u − 2 b_uᵀ x_u: the loss in x_u up to a constant
        return np.array([x @ A @ x - 2 * b @ x for x, (A, b) in zip(X, systems)])

    prev = objective(np.where(np.diff(R.indptr)[:, None] > 0, X0, 0.0))
    for steps in (1, 2, 3):
        cur = objective(als_solvers.cg_rows(R, F, X0, 0.2, implicit=implicit, alpha=3.0, steps=steps))
        assert np.all(cur <= prev + 1e-6 * np.abs(prev) + 1e-9)
        prev = cur
    assert np.any(cur < objective(X0) - 1e-3)


@pytest.mark.parametrize("implicit", [True, False])
def test_cg_fit_matches_exact_fit(implicit):
    catalog, _ = planted_catalog(implicit=implicit, density=0.3)
    p = ALSParams(factors=4, regularization=0.1, iterations=15, feedback="raw" if implicit else "explicit", alpha=5.0)
    cg = als.fit(catalog, p, seed=0, solver="cg")
    ex = als.fit(catalog, p, seed=0, solver="exact")
    assert cg.info["solver"] == "cg" and cg.info["cg_steps"] == 3 and ex.info["solver"] == "exact"
    lc, le = cg.info["loss"], ex.info["loss"]
    assert all(b <= a * (1 + 1e-6) for a, b in zip(lc, lc[1:])), lc
    assert abs(lc[-1] - le[-1]) / le[-1] < 1e-3, (lc[-1], le[-1])
    # same model up to solver noise: item-item similarities agree
    Sc, Se = cg.vectors @ cg.vectors.T, ex.vectors @ ex.vectors.T
    assert np.corrcoef(Sc.ravel(), Se.ravel())[0, 1] > 0.99
    # and the first iterations differ (the CG solver really is in use)
    assert cg.vectors.tobytes() != ex.vectors.tobytes()


def test_default_solver_per_mode():
    catalog, _ = planted_catalog(n_users=60, n_items=40, density=0.3, implicit=True)
    assert als.fit(catalog, ALSParams(factors=2, iterations=1, feedback="raw"), 0).info["solver"] == "cg"
    assert als.fit(catalog, ALSParams(factors=2, iterations=1, feedback="explicit"), 0).info["solver"] == "cg"
    assert als.fit(catalog, ALSParams(factors=2, iterations=1), 0, solver="exact").info["cg_steps"] is None
    with pytest.raises(ValueError, match="solver must be 'cg' or 'exact'"):
        als.fit(catalog, ALSParams(factors=2, iterations=1), 0, solver="lu")
    with pytest.raises(ValueError, match="cg_steps"):
        als.fit(catalog, ALSParams(factors=2, iterations=1), 0, cg_steps=0)


@pytest.mark.parametrize("implicit", [True, False])
def test_cg_deterministic_whatever_the_threads_and_blocks(monkeypatch, implicit):
    catalog, _ = planted_catalog(n_users=700, n_items=90, density=0.3, implicit=implicit)
    p = ALSParams(factors=5, regularization=0.1, iterations=3, feedback="raw" if implicit else "explicit", alpha=4.0)
    monkeypatch.setattr(als_solvers, "CG_BLOCK", 64)
    a = als.fit(catalog, p, seed=2, solver="cg")
    b = als.fit(catalog, p, seed=2, solver="cg")
    monkeypatch.setattr(_solve, "THREADS", 1)
    c = als.fit(catalog, p, seed=2, solver="cg")
    monkeypatch.setattr(als_solvers, "CG_BLOCK", 1000)  # one block for the users
    d = als.fit(catalog, p, seed=2, solver="cg")
    assert a.vectors.tobytes() == b.vectors.tobytes() == c.vectors.tobytes()
    np.testing.assert_allclose(d.vectors, a.vectors, rtol=1e-5, atol=1e-6)


def test_cg_blocks_cut_heavy_blocks_at_row_boundaries():
    counts = np.array([5, 1, 1, 9, 2, 2, 2, 0, 30, 1, 1])
    indptr = np.r_[0, np.cumsum(counts)]
    ranges = als_solvers.blocks(indptr, len(counts), size=4, nnz=6)
    assert ranges == [(0, 2), (2, 3), (3, 4), (4, 8), (8, 9), (9, 11)]
    assert all(b - a <= 4 for a, b in ranges)
    # within the entry budget, or a single row holding more alone
    assert all(indptr[b] - indptr[a] <= 6 or b - a == 1 for a, b in ranges)
    assert als_solvers.blocks(indptr, len(counts), size=4, nnz=100) == [(0, 4), (4, 8), (8, 11)]


def test_cg_with_cut_blocks_fits_the_same(monkeypatch):
    catalog, _ = planted_catalog(n_users=300, n_items=60, density=0.3, implicit=True)
    p = ALSParams(factors=5, regularization=0.1, iterations=3, feedback="raw", alpha=4.0)
    a = als.fit(catalog, p, seed=2, solver="cg")
    calls = []
    real = als_solvers.blocks
    monkeypatch.setattr(als_solvers, "CG_NNZ", 50)  # every block cut (the items' rows hold ~90 entries)
    monkeypatch.setattr(als_solvers, "blocks", lambda *x, **k: calls.append(r := real(*x, **k)) or r)
    b = als.fit(catalog, p, seed=2, solver="cg")
    assert len(calls[0]) > 1 and len(calls[1]) == 60  # users cut into many blocks, one item per block
    np.testing.assert_allclose(b.vectors, a.vectors, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("implicit", [True, False])
def test_exact_solves_from_slices_of_the_outer_product_table_are_the_same_bytes(monkeypatch, implicit):
    g = np.random.default_rng(4)
    V = sp.random(40, 300, density=0.05, format="csr", random_state=5)
    V.data = g.integers(1, 3, V.nnz).astype(np.float64)
    V.sort_indices()
    F = g.standard_normal((300, 8))
    whole = als.solve_rows(V, F, 0.5, implicit=implicit, alpha=3.0)
    table = 300 * 8 * 8 * 4
    monkeypatch.setattr(_solve, "Z_BYTES", table // 5)  # the whole table is over the cap: slices of it
    assert _solve.normal_matrices(V, F.astype(np.float32), np.arange(10)) is not None
    sliced = als.solve_rows(V[:10], F, 0.5, implicit=implicit, alpha=3.0)
    assert sliced.tobytes() == whole[:10].tobytes()
    assert als.solve_rows(V, F, 0.5, implicit=implicit, alpha=3.0).tobytes() == whole.tobytes()
    # more rows than the columns they use: the whole table is no larger, and it is what is built
    Vt = V.T.tocsr()
    assert _solve.normal_matrices(Vt, F[:40].astype(np.float32), np.arange(300)) is None


def test_visitor_fold_in_settings_are_published_and_fall_back_to_training():
    catalog, _ = planted_catalog(implicit=True, density=0.3)
    p = ALSParams(factors=3, regularization=0.1, iterations=2, feedback="likes", alpha=5.0)
    tuned = replace(p, visitor_alpha=50.0, visitor_regularization=2.0)
    emb = als.fit(catalog, tuned, seed=0)
    assert (emb.foldin.alpha, emb.foldin.reg) == (50.0, 2.0)
    assert (emb.foldin.fit_alpha, emb.foldin.fit_reg) == (5.0, 0.1)  # what training users are solved with
    plain = replace(p, visitor_alpha=0.0, visitor_regularization=0.0)  # 0 = the training values
    emb0 = als.fit(catalog, plain, seed=0)
    assert (emb0.foldin.alpha, emb0.foldin.reg) == (5.0, 0.1)
    # training itself does not see the visitor settings
    np.testing.assert_array_equal(emb.vectors, emb0.vectors)

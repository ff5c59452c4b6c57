"""Fold-in maths: direct solves, training users, value mapping, ranking tie-breaks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec.errors import InputError
from mangarec.foldin import Schedule, cholesky_solve, fold_in, rank, to_values
from mangarec.models import als
from mangarec.models.als import Params as ALSParams
from tests.test_als import planted_catalog


def test_explicit_matches_direct_solve():
    g = np.random.default_rng(0)
    Y = g.normal(size=(50, 6))
    idx = np.array([3, 7, 11, 40])
    v = np.array([1.0, -1.0, 0.5, 2.0])
    x = fold_in(Y, idx, v, 0.3, "explicit")
    Ys = Y[idx]
    np.testing.assert_allclose(x, np.linalg.solve(Ys.T @ Ys + 0.3 * 4 * np.eye(6), Ys.T @ v), rtol=1e-10)


def test_implicit_matches_direct_solve_including_dislikes():
    g = np.random.default_rng(1)
    Y = g.normal(size=(60, 5))
    idx = np.array([0, 9, 30, 59])
    v = np.array([1.0, -1.0, 3.0, 0.0])
    alpha = 4.0
    x = fold_in(Y, idx, v, 0.2, "implicit", alpha=alpha)
    c = np.ones(60)
    p = np.zeros(60)
    c[idx] = 1 + alpha * np.abs(v)
    p[idx] = (v >= 0).astype(float)
    A = Y.T @ (c[:, None] * Y) + 0.2 * np.eye(5)
    np.testing.assert_allclose(x, np.linalg.solve(A, Y.T @ (c * p)), rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(0, 10_000))
def test_cholesky_solve_agrees_with_numpy(d, seed):
    g = np.random.default_rng(seed)
    M = g.normal(size=(d + 3, d))
    A = M.T @ M + 0.1 * np.eye(d)
    b = g.normal(size=d)
    np.testing.assert_allclose(cholesky_solve(A, b), np.linalg.solve(A, b), rtol=1e-7, atol=1e-9)


def test_cholesky_rejects_indefinite():
    with pytest.raises(ValueError, match="positive definite"):
        cholesky_solve(np.array([[1.0, 2.0], [2.0, 1.0]]), np.ones(2))


@pytest.mark.parametrize("implicit", [False, True])
def test_training_user_folds_in_to_its_factor(implicit):
    catalog, _ = planted_catalog(n_users=150, n_items=120, density=0.3, implicit=implicit)
    lam, alpha = 0.1, 5.0
    emb = als.fit(
        catalog,
        ALSParams(
            factors=3, regularization=lam, iterations=15, feedback="raw" if implicit else "explicit", alpha=alpha
        ),
        seed=0,
    )
    Y = emb.vectors.astype(np.float64)
    R = sp.csr_matrix(catalog.ratings.matrix, dtype=np.float64)
    V = R if implicit else als.centred(R)
    X = als.solve_rows(V, Y, lam, implicit=implicit, alpha=alpha)  # the trained users' factors
    mode = "implicit" if implicit else "explicit"
    for u in (0, 17, 99):
        idx = V.indices[V.indptr[u] : V.indptr[u + 1]]
        vals = V.data[V.indptr[u] : V.indptr[u + 1]]
        x = fold_in(Y, idx, vals, lam, mode, alpha=alpha)
        np.testing.assert_allclose(x, X[u], rtol=2e-3, atol=2e-4)


def test_to_values_mapping():
    index = {"a": 0, "b": 1, "c": 2, "d": 3}
    idx, vals = to_values({"d": 8, "a": "like", "b": "dislike", "c": 6, "gone": 10}, index)
    assert idx.tolist() == [0, 1, 2, 3]
    # numbers are centred on the mean of the known numbers (8 and 6 -> 7); unknown ids ignored
    assert vals.tolist() == [1.0, -1.0, -1.0, 1.0]
    assert to_values({}, index)[0].size == 0
    with pytest.raises(InputError, match="'a'"):
        to_values({"a": "love"}, index)
    with pytest.raises(InputError, match="finite"):
        to_values({"a": float("nan")}, index)
    with pytest.raises(InputError):
        to_values({"a": True}, index)


def test_no_ratings_gives_zero_taste():
    assert not fold_in(np.ones((4, 3)), [], [], 0.1, "explicit").any()
    with pytest.raises(InputError, match="mode"):
        fold_in(np.ones((4, 3)), [0], [1.0], 0.1, "bogus")


def test_rank_orders_and_breaks_ties():
    Y = np.array([[1.0, 0.0], [2.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    rows, scores = rank(Y, np.array([1.0, 0.0]))
    assert rows.tolist() == [1, 4, 0, 2, 3]  # ties -> lower row
    assert scores.tolist() == [2.0, 2.0, 1.0, 1.0, 0.0]
    rows, _ = rank(Y, np.array([1.0, 0.0]), tie_order=np.array([4, 3, 2, 1, 0]))
    assert rows.tolist() == [4, 1, 2, 0, 3]
    rows, _ = rank(Y, np.array([1.0, 0.0]), exclude=[1], n=2)
    assert rows.tolist() == [4, 0]


def test_likes_pull_towards_liked_items():
    g = np.random.default_rng(3)
    Y = np.vstack([g.normal([3, 0], 0.3, (20, 2)), g.normal([-3, 0], 0.3, (20, 2))])
    for mode in ("explicit", "implicit"):
        idx, vals = to_values({"0": "like", "1": "like", "25": "dislike"}, {str(k): k for k in range(40)})
        x = fold_in(Y, idx, vals, 0.1, mode, alpha=2.0)
        rows, scores = rank(Y, x, exclude=idx)
        liked_side = scores[rows < 20].mean()
        assert liked_side > 0 > scores[rows >= 20].mean(), mode
        if mode == "explicit":
            assert (rows[:10] < 20).all()


def test_schedule_known_answers():
    s = Schedule(few=10, many=40, alpha_many=10.0, reg_many=50.0)
    assert s.at(1, 1000.0, 800.0) == (1000.0, 800.0) and s.at(10, 1000.0, 800.0) == (1000.0, 800.0)
    assert s.at(40, 1000.0, 800.0) == (10.0, 50.0) and s.at(500, 1000.0, 800.0) == (10.0, 50.0)
    a, r = s.at(20, 1000.0, 800.0)  # halfway in log m: the geometric means
    assert a == pytest.approx(100.0, rel=1e-12) and r == pytest.approx(200.0, rel=1e-12)
    assert Schedule().at(30, 3.0, 4.0) == (3.0, 4.0)  # inert
    assert Schedule(few=5, many=5, alpha_many=1, reg_many=1).at(30, 3.0, 4.0) == (3.0, 4.0)
    assert Schedule(few=1, many=3, alpha_many=2.0, reg_many=1.0).at(2, 0.0, 1.0)[0] == pytest.approx(
        2.0 * np.log(2) / np.log(3)
    )  # a zero alpha: linear


@settings(max_examples=60, deadline=None)
@given(
    few=st.integers(1, 50),
    span=st.integers(1, 200),
    a=st.floats(0.01, 1e4),
    b=st.floats(0.01, 1e4),
    m=st.integers(0, 400),
)
def test_schedule_is_monotone_between_its_ends(few, span, a, b, m):
    s = Schedule(few=few, many=few + span, alpha_many=b, reg_many=b)
    x, y = s.at(m, a, a)
    assert x == y and min(a, b) * (1 - 1e-9) <= x <= max(a, b) * (1 + 1e-9)
    x2, _ = s.at(m + 1, a, a)
    assert (x2 - x) * (b - a) >= -1e-9 * max(a, b)  # moves from a towards b, never back

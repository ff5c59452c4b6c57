"""What a rating means: scale detection, the like threshold, the training values, and the
visitor's fold-in treating ratings exactly as training did."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec.feedback import Scale, detect_scale, like_threshold, model_values, named_scale
from mangarec.foldin import ValueMap, fold_in, implicit_reg, to_values
from mangarec.models.als import solve_rows
from mangarec.models.als_solvers import implicit_penalty


def _m(rows):
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


@pytest.mark.parametrize(
    "values,name,threshold",
    [
        ([1, 4, 7, 8, 10], "1-10", 8.0),  # MyAnimeList
        ([0.5, 2.5, 3.5, 4.0, 5.0], "0.5-5", 4.0),  # MovieLens half stars
        ([1, 2, 3, 5], "1-5", 4.0),
        ([3, 9], "1-10", 8.0),  # a subset of the usual 1-10 values
        ([1, 1, 1], "implicit", 0.0),  # one value: nothing to threshold
    ],
)
def test_detect_scale_and_threshold(values, name, threshold):
    s = detect_scale(_m([values]))
    assert s.name == name and like_threshold(s) == threshold


def test_implicit_flag_and_absolute_threshold():
    assert detect_scale(_m([[1, 5, 9]]), implicit=True).implicit
    assert like_threshold(named_scale("1-10"), absolute=9.0) == 9.0
    assert like_threshold(named_scale("0.5-5"), fraction=0.5) == 3.0  # 0.5 + 2.25 rounded up to a half star
    assert named_scale("implicit").implicit


def test_model_values_mappings():
    R = sp.csr_matrix(_m([[10, 8, 5, 1], [0, 9, 0, 7]]), dtype=np.float64)
    s, t = Scale(False, 1, 10, 1), 8.0
    assert model_values(R, "likes", s, t).toarray().tolist() == [[1, 1, 0, 0], [0, 1, 0, 0]]
    assert model_values(R, "graded", s, t).toarray().tolist() == [[3, 1, 0, 0], [0, 2, 0, 0]]
    np.testing.assert_allclose(
        model_values(R, "likes-dislikes", s, t, 0.25).toarray(), [[1, 1, -0.25, -0.25], [0, 1, 0, -0.25]]
    )
    assert (model_values(R, "raw", s, t) != R).nnz == 0
    e = model_values(R, "explicit", s, t)
    np.testing.assert_allclose(e.toarray()[0], [4, 2, -1, -5])
    with pytest.raises(ValueError, match="feedback"):
        model_values(R, "bogus", s, t)


@pytest.mark.parametrize("feedback", ["likes", "graded", "likes-dislikes", "raw"])
def test_visitor_numbers_map_like_training(feedback):
    """A visitor who types a training user's numbers gets that user's training values."""
    scale, t = Scale(False, 1, 10, 1), 8.0
    ratings = [10, 9, 8, 7, 3, 1]
    R = sp.csr_matrix(np.array([ratings], dtype=np.float64))
    train = model_values(R, feedback, scale, t, 0.3)
    vm = ValueMap(feedback=feedback, threshold=t, step=1.0, dislike=-0.3 if feedback == "likes-dislikes" else None)
    idx, vals = to_values({f"i{j}": float(r) for j, r in enumerate(ratings)}, {f"i{j}": j for j in range(6)}, vm)
    assert idx.tolist() == train.indices.tolist()
    np.testing.assert_allclose(vals, train.data)


def test_buttons_map_like_training_likes():
    vm = ValueMap(feedback="likes", threshold=8.0, dislike=None)
    idx, vals = to_values({"a": "like", "b": "dislike", "c": 9, "d": 4}, {"a": 0, "b": 1, "c": 2, "d": 3}, vm)
    assert idx.tolist() == [0, 2] and vals.tolist() == [1.0, 1.0]  # dislikes and low numbers left out
    legacy = to_values({"a": "like", "b": "dislike", "c": 9, "d": 5}, {"a": 0, "b": 1, "c": 2, "d": 3})
    assert legacy[1].tolist() == [1.0, -1.0, 2.0, -2.0]  # version 1: numbers centred on their mean


@pytest.mark.parametrize("nu", [0.0, 0.5, 1.0])
def test_fold_in_penalty_is_trainings(nu):
    """Folding a training user in gives the per-row solve training does, scaled λ included."""
    g = np.random.default_rng(0)
    Y = g.normal(size=(50, 4))
    V = sp.csr_matrix((g.random((6, 50)) < 0.2).astype(np.float64))
    lam, alpha = 0.7, 3.0
    X = solve_rows(V, Y, lam, implicit=True, alpha=alpha, nu=nu)
    mu = implicit_penalty(V, lam, alpha, nu)
    for u in range(6):
        idx = V.indices[V.indptr[u] : V.indptr[u + 1]]
        vals = V.data[V.indptr[u] : V.indptr[u + 1]]
        assert implicit_reg(lam, vals, alpha, nu, 50) == pytest.approx(mu[u])
        x = fold_in(Y, idx, vals, lam, "implicit", alpha=alpha, nu=nu, reg_cols=50)
        np.testing.assert_allclose(x, X[u], rtol=2e-4, atol=1e-5)
    if nu > 0:  # heavier rows get more penalty
        assert mu.max() > mu.min()

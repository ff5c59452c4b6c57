"""Co-like agreement (mangarec.evaluation.colikes): known answers, and the lifts checked both ways."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from test_evaluate import _tag_neighbours, cluster_catalog

from mangarec.config import EvaluationSection
from mangarec.evaluation import run_evaluation
from mangarec.evaluation.colikes import agreement, cold_titles, hide_titles, series_out
from mangarec.models.colike import co_liked_truth, own_likes


def _shuffled(lists: np.ndarray, seed: int) -> np.ndarray:
    return lists[np.random.default_rng(seed).permutation(len(lists))]


@pytest.fixture(scope="module")
def clusters():
    cat = cluster_catalog(clusters=10, per=12, users_per_cluster=12)
    likes = own_likes(cat, 0.7)
    return cat, likes, co_liked_truth(likes, 10)


def test_known_answer_on_a_tiny_truth():
    T = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=bool))
    lists = np.array([[1, 3], [2, 3], [0, 1], [0, 1]])
    a = agreement(lists, T, "m", "p", 0, resamples=50)
    assert a.titles == 2 and a.k == 2
    assert a.agreement.mean == pytest.approx((1 / 2 + 0 / 1) / 2)
    # random: k |T_i| / (n - 1) = 2*2/3 + 2*1/3 = 2 expected hits over both titles; observed 1
    assert a.lift_random.mean == pytest.approx(1 / 2)


def test_real_lists_lift_both_nulls_shuffled_lists_do_not(clusters):
    cat, _, T = clusters
    lists = _tag_neighbours(cat, 10, "lsi").indices.astype(np.int64)
    real = agreement(lists, T, "lsi", "held-out likes", 1, resamples=200)
    assert real.agreement.mean > 0.5
    assert real.lift_random.lo > 3 and real.lift_popularity.lo > 3
    lifts = [agreement(_shuffled(lists, s), T, "x", "p", s, resamples=200).lift_popularity for s in range(20)]
    assert 0.7 < np.mean([iv.mean for iv in lifts]) < 1.3
    assert np.mean([iv.lo <= 1.0 <= iv.hi for iv in lifts]) >= 0.8  # intervals hold the null's 1


def test_series_pairs_never_count():
    T = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]], dtype=bool))
    S = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool))
    assert series_out(T, S).toarray().tolist() == [[False, False, True], [False, False, False], [True, False, False]]


def test_cold_titles_lose_every_rating_and_nothing_else(clusters):
    cat, likes, _ = clusters
    cold = cold_titles(likes, 3)
    assert 0.3 < cold.mean() < 0.7
    hidden = hide_titles(cat, cold)
    m = sp.csr_matrix(hidden.ratings.matrix)
    per_title = np.asarray((m != 0).sum(axis=0)).ravel()
    before = np.asarray((sp.csr_matrix(cat.ratings.matrix) != 0).sum(axis=0)).ravel()
    assert np.all(per_title[cold] == 0) and np.array_equal(per_title[~cold], before[~cold])


def test_the_evaluation_reports_both_protocols(clusters):
    cat, _, _ = clusters
    nb = _tag_neighbours(cat, 10, "lsi")
    ev = run_evaluation(cat, {"lsi": nb}, EvaluationSection(min_likes=5, max_users=200), 4)
    by = {(c.model, c.protocol): c for c in ev.colikes}
    assert set(by) == {("lsi", "held-out likes"), ("lsi", "cold start")}
    for c in by.values():
        assert c.titles > 10 and c.lift_random.mean > 3 and c.agreement.lo <= c.agreement.mean <= c.agreement.hi

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


def test_top_k_rows_are_the_full_products_rows(clusters):
    from mangarec.cooccurrence import top_k_of_product

    _, likes, _ = clusters
    full = top_k_of_product(likes, likes, 5, min_value=2)
    rows = np.array([0, 3, 4, 50, 119])
    part = top_k_of_product(likes, likes, 5, min_value=2, rows=rows, block=2)
    assert np.diff(part.indptr)[np.setdiff1d(np.arange(likes.shape[1]), rows)].sum() == 0
    assert (part[rows] != full[rows]).nnz == 0 and part.nnz > 0


def test_cold_truth_where_the_user_bound_does_not_bind_is_the_unbounded_truth(clusters):
    cat, likes, _ = clusters
    from mangarec.evaluation.colikes import cold_truth
    from mangarec.models.series import Params, members

    series = members(cat, Params())
    cold = cold_titles(likes, 3)
    before = sp.csr_matrix(sp.diags(cold.astype(np.float64)) @ co_liked_truth(likes, 10, series), dtype=bool)
    for bound in (None, likes.shape[0], 10 * likes.shape[0]):
        T = cold_truth(likes, cold, series, 10, bound, seed=5)
        assert T.nnz == before.nnz > 0 and (T != before).nnz == 0


def test_cold_truth_user_bound_bounds_the_work(monkeypatch, clusters):
    from mangarec.evaluation.colikes import cold_truth, truth_users
    from mangarec.models import colike

    _, likes, _ = clusters
    cold = cold_titles(likes, 3)
    seen = []
    real = colike.top_k_of_product

    def spy(A, B, k, **kw):
        seen.append((A.shape[0], int((np.diff(A.indptr) ** 2).sum()), len(kw["rows"])))
        return real(A, B, k, **kw)

    monkeypatch.setattr(colike, "top_k_of_product", spy)
    bound = 40  # of 120 users
    T = cold_truth(likes, cold, None, 10, bound, seed=5)
    (users, work, rows), *_ = seen
    assert users == bound and rows == cold.sum()
    assert work < (np.diff(sp.csr_matrix(likes).indptr) ** 2).sum() * 0.6  # the sample's Σ n_u², not everyone's
    sample = truth_users(likes, bound, 5)
    assert sample.shape[0] == bound and (truth_users(likes, bound, 5) != sample).nnz == 0  # seeded
    monkeypatch.setattr(colike, "top_k_of_product", real)
    expect = sp.csr_matrix(sp.diags(cold.astype(np.float64)) @ co_liked_truth(sample, 10), dtype=bool)
    assert T.nnz > 0 and (T != expect).nnz == 0
    assert np.diff(T.indptr)[~cold].sum() == 0


def test_the_evaluation_says_when_the_user_bound_binds(clusters):
    cat, _, _ = clusters
    nb = _tag_neighbours(cat, 10, "lsi")
    cfg = EvaluationSection(min_likes=5, max_users=200, colike_users=100)  # 120 users
    ev = run_evaluation(cat, {"lsi": nb}, cfg, 4)
    assert any("fixed-seed sample of 100 of the 120 users" in n for n in ev.notes)
    assert {c.protocol for c in ev.colikes} == {"held-out likes", "cold start"}
    ev = run_evaluation(cat, {"lsi": nb}, EvaluationSection(min_likes=5, max_users=200), 4)
    assert not any("colike_users" in n for n in ev.notes)


def test_item_knn_baseline_counts_its_similarities_over_the_bounded_sample(monkeypatch, clusters):
    """The item-kNN baseline's similarities cost Σ n_u² over the users counted: beyond
    evaluation.colike_users they are the seeded sample's (the row says so), below it everyone's."""
    from mangarec.evaluation import baselines

    cat, _, _ = clusters
    nb = _tag_neighbours(cat, 10, "lsi")
    counted = []
    real = baselines.cosine_knn
    monkeypatch.setattr(baselines, "cosine_knn", lambda X, k=baselines.KNN: counted.append(X.shape[0]) or real(X, k))
    ev = run_evaluation(cat, {"lsi": nb}, EvaluationSection(min_likes=5, max_users=200, colike_users=100), 4)
    (row,) = [r for r in ev.ranking if r.method == "item-knn"]
    assert counted == [100] and "fixed-seed sample of 100 of the 120 training users" in row.note
    counted.clear()
    ev = run_evaluation(cat, {"lsi": nb}, EvaluationSection(min_likes=5, max_users=200), 4)
    (row,) = [r for r in ev.ranking if r.method == "item-knn"]
    assert counted == [120] and "sample" not in row.note

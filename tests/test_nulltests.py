"""Null-model tests that can fail: a real model rejects both nulls, shuffled lists do not."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from test_evaluate import _tag_neighbours, cluster_catalog

from mangarec.catalog import Catalog, Item, Related, make_tags
from mangarec.config import EvaluationSection
from mangarec.evaluation import make_split
from mangarec.evaluation.nulltests import agreement, expected_hits, hits, null_test
from mangarec.evaluation.truths import TRUTHS, co_liked, register, related, truths_of


def _shuffled(lists: np.ndarray, seed: int) -> np.ndarray:
    """The same lists assigned to the wrong titles."""
    return lists[np.random.default_rng(seed).permutation(len(lists))]


@pytest.fixture(scope="module")
def rated():
    cat = cluster_catalog(clusters=10, per=12, users_per_cluster=12)
    split = make_split(cat.ratings, EvaluationSection(min_likes=5), 4)
    return cat, split


def test_co_liked_truth_is_held_out_pairs(rated):
    cat, split = rated
    T = co_liked(cat, split)
    assert T is not None and T.shape == (len(cat), len(cat)) and T.diagonal().sum() == 0
    rows, cols = T.nonzero()
    assert np.mean(rows // 12 == cols // 12) > 0.9  # users like within their cluster
    # a pair counts only when one title is a training like and the other a test like of one user
    tr, te = split.likes("train"), split.test
    cross = ((tr.T @ te) + (te.T @ tr)).toarray()
    assert np.all(cross[rows, cols] >= 2)


def test_real_model_rejects_both_nulls_shuffled_does_not(rated):
    cat, split = rated
    T = co_liked(cat, split)
    lists = _tag_neighbours(cat, 10, "lsi").indices.astype(np.int64)
    for null in ("random", "popularity"):
        t = null_test(lists, T, null, "co-liked")
        assert t.p_value < 0.01 and t.lift > 3 and t.observed > t.expected
    ps = [null_test(_shuffled(lists, s), T, "popularity", "co-liked").p_value for s in range(40)]
    assert np.mean(np.array(ps) < 0.05) <= 0.15 and np.mean(ps) > 0.3  # calibrated: about uniform
    assert null_test(_shuffled(lists, 0), T, "popularity").p_value > 0.05


def test_popularity_null_catches_hub_lists_random_null_does_not():
    """Lists of popular titles drawn independently of the truth beat the uniform null on a
    popularity-biased truth, but not the popularity-matched null."""
    n, k = 300, 10
    g = np.random.default_rng(1)
    w = 1.0 / np.arange(1, n + 1)

    def popular_list(i):
        p = w.copy()
        p[i] = 0
        return g.choice(n, size=k, replace=False, p=p / p.sum())

    lists = np.array([popular_list(i) for i in range(n)])
    # the truth: each title's partners are mostly popular titles, drawn independently of the lists
    rows, cols = [], []
    for i in range(n):
        partners = g.choice(n, size=8, replace=False, p=w / w.sum())
        partners = partners[partners != i]
        rows += [i] * len(partners)
        cols += partners.tolist()
    T = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(n, n))
    assert null_test(lists, T, "random").p_value < 0.01
    assert null_test(lists, T, "popularity").p_value > 0.05
    np.testing.assert_allclose(
        expected_hits(lists, T, "popularity").mean(),
        np.mean([hits(_shuffled(lists, s), T).mean() for s in range(200)]),
        rtol=0.05,
    )


def test_related_truth_and_registry():
    items = []
    for f in range(30):  # 30 franchises of 3 titles, linked in a chain
        for j in range(3):
            rel = (Related(id=f"f{f}-{j + 1}", type="sequel"),) if j < 2 else ()
            items.append(
                Item(
                    id=f"f{f}-{j}",
                    title="t",
                    kind="manga",
                    tags=make_tags({"genre": [f"G{f % 5}"]}),
                    related=rel + (Related(id="gone", type="prequel"),),
                )
            )
    cat = Catalog(items=tuple(items))
    T = related(cat)
    assert T.nnz == 30 * 2 * 2 and (T != T.T).nnz == 0  # symmetric; the unknown id is dropped
    n = len(cat)
    same = np.array(
        [[3 * (i // 3) + (i % 3 + d) % 3 for d in (1, 2)] + [(i + 3 * d) % n for d in range(1, 4)] for i in range(n)]
    )
    t = null_test(same, T, "popularity", "related")
    assert t.p_value < 0.01 and t.recall > 0.7
    assert null_test(_shuffled(same, 3), T, "popularity").p_value > 0.05
    assert set(truths_of(cat, None)) == {"related"}
    try:
        register("even", lambda c, s: sp.csr_matrix(np.eye(len(c), k=1, dtype=bool)))
        assert set(truths_of(cat, None)) == {"related", "even"}
    finally:
        TRUTHS.pop("even")


def test_agreement_interval():
    a = np.array([[1, 2], [0, 2], [0, 1], [0, 1]])
    b = np.array([[1, 2], [0, 3], [3, 1], [2, 3]])
    ag = agreement({"x": a, "y": b}, seed=0, resamples=100)
    assert ag.models == ("x", "y") and ag.mean[0][0] == 1.0
    j = np.array([1.0, 1 / 3, 1 / 3, 0.0])
    assert ag.mean[0][1] == pytest.approx(j.mean()) and ag.lo[0][1] <= j.mean() <= ag.hi[0][1]

"""Evaluation: Jaccard agreement, the null model and its tests, hit rate on held-out likes."""
from __future__ import annotations

import json
from math import comb

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec.catalog import Catalog, Item, Ratings, make_tags
from mangarec.config import EvaluationSection
from mangarec.embedding import Embedding, Neighbours
from mangarec.evaluate import (
    evaluate,
    evaluation_split,
    expected_jaccard,
    hit_rate,
    jaccard_matrix,
    jaccard_rows,
    null_means,
    null_test,
    random_lists,
    split_ratings,
)
from mangarec.evaluation.jaccard import check_lists, pair_p_value
from mangarec.neighbours import exact


def _nb(model: str, lists, ids=None) -> Neighbours:
    idx = np.asarray(lists, dtype=np.int32)
    ids = ids or tuple(f"i{j}" for j in range(idx.shape[0]))
    scores = np.tile(np.linspace(1, 0.5, idx.shape[1], dtype=np.float32), (idx.shape[0], 1))
    return Neighbours(model, ids, idx, scores, "exact")


# ---------------------------------------------------------------- Jaccard


def test_jaccard_rows_known_answers():
    a = np.array([[1, 2, 3], [1, 2, 3], [5, 6, 7]])
    b = np.array([[2, 3, 4], [3, 2, 1], [8, 9, 0]])
    np.testing.assert_allclose(jaccard_rows(a, b), [2 / 4, 1.0, 0.0])
    np.testing.assert_allclose(jaccard_rows(a[:, :2], b), [1 / 4, 2 / 3, 0.0])  # unequal lengths


def test_jaccard_matrix_hand_made():
    # 4 items, k = 2
    a = [[1, 2], [0, 2], [0, 1], [0, 1]]
    b = [[1, 3], [2, 0], [3, 0], [2, 1]]  # J per item: 1/3, 1, 1/3, 1/3
    c = [[2, 3], [3, 2], [1, 3], [1, 2]]  # vs a: 1/3, 1/3, 1/3, 1/3 ; vs b: 1/3, 1/3, 1/3, 1
    names, mean, per_item = jaccard_matrix({"a": _nb("a", a), "b": _nb("b", b), "c": _nb("c", c)})
    assert names == ["a", "b", "c"]
    np.testing.assert_allclose(per_item[("a", "b")], [1 / 3, 1, 1 / 3, 1 / 3])
    np.testing.assert_allclose(mean[0, 1], 0.5)
    np.testing.assert_allclose(mean[0, 2], 1 / 3)
    np.testing.assert_allclose(mean[1, 2], 0.5)
    np.testing.assert_array_equal(mean, mean.T)
    np.testing.assert_array_equal(np.diag(mean), 1.0)


def test_check_lists_rejects_repeats_self_and_misaligned():
    with pytest.raises(ValueError, match="repeats"):
        check_lists(_nb("x", [[1, 1], [0, 2], [0, 1]]))
    with pytest.raises(ValueError, match="own neighbour"):
        check_lists(_nb("x", [[0, 1], [0, 2], [0, 1]]))
    with pytest.raises(ValueError, match="same items"):
        jaccard_matrix({"a": _nb("a", [[1], [0]]), "b": _nb("b", [[1], [0]], ids=("x", "y"))})


# ---------------------------------------------------------------- null model


@pytest.mark.parametrize("n,k", [(500, 10), (12, 8)])  # sparse and dense drawing regimes
def test_random_lists_distinct_exclude_self_uniform(n, k):
    rng = np.random.default_rng(0)
    draws = np.concatenate([random_lists(n, k, rng) for _ in range(40)])
    rows = np.tile(np.arange(n), 40)
    assert draws.shape == (40 * n, k)
    assert not np.any(draws == rows[:, None])
    s = np.sort(draws, axis=1)
    assert not np.any(s[:, 1:] == s[:, :-1])
    assert draws.min() >= 0 and draws.max() < n
    counts = np.bincount(draws.ravel(), minlength=n)
    expected = draws.size / n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < n - 1 + 6 * np.sqrt(2 * (n - 1))  # far inside a uniform chi-square's range


def test_expected_jaccard_matches_formula_and_simulation():
    n, k = 60, 6
    # hand formula: X ~ hypergeometric (k draws from n - 1, k successes), J = X / (2k - X)
    pmf = [comb(k, x) * comb(n - 1 - k, k - x) / comb(n - 1, k) for x in range(k + 1)]
    mean = sum(p * x / (2 * k - x) for x, p in enumerate(pmf))
    sd = np.sqrt(sum(p * (x / (2 * k - x)) ** 2 for x, p in enumerate(pmf)) - mean**2)
    e_mean, e_sd = expected_jaccard(n, k)
    assert e_mean == pytest.approx(mean, rel=1e-12) and e_sd == pytest.approx(sd, rel=1e-10)
    # simulated with real random lists against a fixed model list set
    rng = np.random.default_rng(1)
    model = random_lists(n, k, np.random.default_rng(99))
    sims = np.array([jaccard_rows(model, random_lists(n, k, rng)).mean() for _ in range(3000)])
    se = e_sd / np.sqrt(n) / np.sqrt(len(sims))
    assert abs(sims.mean() - e_mean) < 4 * se
    assert sims.std() == pytest.approx(e_sd / np.sqrt(n), rel=0.1)
    # the multinomial shortcut gives the same distribution
    fast = null_means(n, k, k, 3000, np.random.default_rng(2))
    assert abs(fast.mean() - e_mean) < 4 * se
    assert fast.std() == pytest.approx(sims.std(), rel=0.1)


def test_null_test_p_values_uniform_and_mean_near_expected():
    n, k = 400, 10
    model = random_lists(n, k, np.random.default_rng(1000))  # not one of the test's seeds
    ps, zs = [], []
    for s in range(60):
        res = null_test(model, 99, np.random.default_rng(s))
        ps.append(res["p_value"])
        zs.append(res["model_vs_null"])
        assert res["null_mean"] == pytest.approx(res["expected"], abs=4 * res["expected_sd"] / np.sqrt(99) + 1e-9)
        assert res["null_sd"] == pytest.approx(res["expected_sd"], rel=0.35)
    ps = np.array(ps)
    assert 0.35 < ps.mean() < 0.65
    assert np.mean(ps <= 0.1) < 0.25
    assert abs(np.mean(zs)) < 0.5


def test_pair_test_small_p_for_related_lists_uniform_for_independent():
    n, k, perms = 600, 10, 99
    a = random_lists(n, k, np.random.default_rng(1))
    # a perturbed copy: 3 of 10 entries replaced
    b = a.copy()
    rep = random_lists(n, k, np.random.default_rng(2))
    for i in range(n):
        fresh = [x for x in rep[i] if x not in a[i]][:3]
        b[i, -len(fresh):] = fresh
    p, mu, sd = pair_p_value(a, b, perms, seed=3)
    assert p == 1 / (perms + 1)
    assert mu < 0.05
    ps = [pair_p_value(a, random_lists(n, k, np.random.default_rng(100 + s)), perms, seed=s)[0]
          for s in range(50)]
    assert 0.35 < np.mean(ps) < 0.65
    assert np.mean(np.array(ps) <= 0.1) < 0.25


def test_pair_test_uses_item_sample_when_large():
    n, k = 3000, 5
    a = random_lists(n, k, np.random.default_rng(1))
    p, _, _ = pair_p_value(a, a, 19, seed=0, items=200)
    assert p == 1 / 20


# ---------------------------------------------------------------- hit rate


def cluster_catalog(clusters: int = 10, per: int = 12, users_per_cluster: int = 8, likes: int = 6,
                    implicit: bool = False, seed: int = 0) -> Catalog:
    """``clusters`` groups of items with disjoint tag vocabularies (each group's items share its
    tag ``C<c>``); each user likes items of one group only (ratings 9), and rates a few items of
    other groups low (3) unless ``implicit``."""
    rng = np.random.default_rng(seed)
    items = []
    for c in range(clusters):
        vocab = [f"T{c}-{t}" for t in range(4)]
        for i in range(per):
            tags = [f"C{c}"] + [vocab[t] for t in range(4) if (i >> t) & 1]
            items.append(Item(id=f"c{c}x{i}", title=f"t{c}{i}", kind="manga",
                              tags=make_tags({"genre": tags}), popularity=float(rng.integers(1, 1000))))
    n = len(items)
    rows, cols, vals = [], [], []
    u = 0
    for c in range(clusters):
        for _ in range(users_per_cluster):
            liked = c * per + rng.choice(per, size=likes, replace=False)
            other = rng.choice(np.setdiff1d(np.arange(n), np.arange(c * per, (c + 1) * per)), 3, replace=False)
            for j in liked:
                rows.append(u), cols.append(j), vals.append(9.0)
            for j in other[: 0 if implicit else 3]:  # implicit feedback has no low ratings
                rows.append(u), cols.append(j), vals.append(3.0)
            u += 1
    m = sp.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(u, n))
    ratings = Ratings(m, tuple(f"u{j}" for j in range(u)), implicit=implicit, source="synthetic")
    return Catalog(items=tuple(items), ratings=ratings, sources=("synthetic",))


def test_split_ratings_holds_out_likes_only():
    cat = cluster_catalog()
    r = cat.ratings
    train, held = split_ratings(r, 0.34, 8.0, seed=5)
    assert train.matrix.shape == r.matrix.shape and train.user_ids == r.user_ids
    assert len(held) == r.n_users  # every user has 6 likes
    full = r.matrix.toarray()
    t = train.matrix.toarray()
    for u, items in held.items():
        assert len(items) == 2  # round(0.34 * 6)
        assert np.all(full[u, items] >= 8.0)
        assert np.all(t[u, items] == 0)
    assert train.nnz + sum(len(v) for v in held.values()) == r.nnz
    mask = t != 0
    np.testing.assert_array_equal(t[mask], full[mask])
    again, held2 = split_ratings(r, 0.34, 8.0, seed=5)
    assert (again.matrix != train.matrix).nnz == 0
    assert all(np.array_equal(held[u], held2[u]) for u in held)
    _, held3 = split_ratings(r, 0.34, 8.0, seed=6)
    assert any(not np.array_equal(held[u], held3[u]) for u in held)
    _, few = split_ratings(r, 0.34, 8.0, seed=5, max_users=7)
    assert len(few) == 7


def test_split_ratings_skips_users_with_fewer_than_two_likes():
    m = sp.csr_matrix(np.array([[9, 0, 2, 0], [9, 9, 0, 0], [0, 0, 0, 10]], dtype=np.float32))
    train, held = split_ratings(Ratings(m, ("a", "b", "c")), 0.2, 8.0, seed=0)
    assert set(held) == {1} and len(held[1]) == 1
    assert train.nnz == m.nnz - 1


def _tag_neighbours(cat: Catalog, k: int, name: str = "tags") -> Neighbours:
    nb = exact(Embedding(name, cat.ids, cat.tag_matrix.toarray()), k, cat.tie_order)
    return Neighbours(name, nb.item_ids, nb.indices, nb.scores, nb.method, nb.info)


@pytest.mark.parametrize("implicit", [False, True])
def test_hit_rate_cluster_model_beats_popularity_and_random(implicit):
    cat = cluster_catalog(implicit=implicit)
    n = len(cat)
    cfg = EvaluationSection(holdout=0.2, like_threshold=8.0, max_users=1000)
    good = _tag_neighbours(cat, 15)
    noise = _nb("noise", random_lists(n, 15, np.random.default_rng(0)), ids=cat.ids)
    res = hit_rate(cat, {"tags": good, "noise": noise}, cfg, seed=1)
    s = res["scores"]
    assert res["k"] == 10 and res["users"] == 80 and res["implicit"] is implicit
    # the cluster model ranks all of a user's unseen cluster items (<= 6) in its top 10
    assert s["tags"] == 1.0
    assert s["tags"] > s["popularity"] + 0.5 and s["tags"] > s["random"] + 0.5
    assert s["noise"] < 0.5
    # random: exact expectation of 10 picks among the unseen items with 1 held-out like
    seen = 5 if implicit else 8
    assert s["random"] == pytest.approx(10 / (n - seen), rel=1e-6)


def test_hit_rate_notes_rating_models_and_none_without_ratings(two_clusters):
    cat = cluster_catalog()
    cfg = EvaluationSection(max_users=30)
    als = _tag_neighbours(cat, 10, name="als")
    res = hit_rate(cat, {"als": als}, cfg, seed=1)
    assert res["users"] == 30
    assert any("optimistic" in note for note in res["notes"])
    res2 = hit_rate(cat, {"als": als}, cfg, seed=1, fitted_on_train=("als",))
    assert any("training split only" in note for note in res2["notes"])
    assert hit_rate(two_clusters, {"als": _tag_neighbours(two_clusters, 5)}, cfg, seed=1) is None
    train, held = evaluation_split(cat.ratings, cfg, seed=1)
    assert len(held) == 30 and train.nnz == cat.ratings.nnz - sum(len(v) for v in held.values())


# ---------------------------------------------------------------- the report part


def test_evaluate_report_shape_deterministic_and_meaningful(two_clusters):
    cat = two_clusters
    n = len(cat)
    tags = _tag_neighbours(cat, 5, "lsi")
    tags2 = _tag_neighbours(cat, 5, "network")
    rnd = _nb("word2vec", random_lists(n, 5, np.random.default_rng(3)), ids=cat.ids)
    nbs = {"lsi": tags, "network": tags2, "word2vec": rnd}
    cfg = EvaluationSection(permutations=99)
    out = evaluate(cat, nbs, cfg, seed=42)
    again = evaluate(cat, nbs, cfg, seed=42)
    text = json.dumps(out, sort_keys=True)
    assert text == json.dumps(again, sort_keys=True)
    assert set(out) == {"jaccard", "null", "hit_rate"}
    j = out["jaccard"]
    assert j["models"] == ["lsi", "network", "word2vec"] and j["k"] == 5
    mean, p = np.array(j["mean"]), np.array(j["p_value"])
    np.testing.assert_array_equal(mean, mean.T)
    np.testing.assert_array_equal(p, p.T)
    assert mean[0, 0] == 1.0 and mean[0, 1] == 1.0  # same lists under two names
    assert p[0, 1] == round(1 / 100, 6)
    assert p[0, 2] > 0.01
    for name in nbs:
        entry = out["null"][name]
        assert set(entry) >= {"mean_jaccard", "model_vs_null", "null_mean", "null_sd", "p_value",
                              "permutations"}
        assert entry["permutations"] == 99 and 0 < entry["p_value"] <= 1
        assert entry["expected"] == round(expected_jaccard(n, 5)[0], 6)
    assert out["hit_rate"] is None

    def floats(o):
        if isinstance(o, dict):
            for v in o.values():
                yield from floats(v)
        elif isinstance(o, list):
            for v in o:
                yield from floats(v)
        elif isinstance(o, float):
            yield o

    assert all(round(x, 6) == x for x in floats(out))


def test_evaluate_with_ratings_and_override():
    cat = cluster_catalog()
    cfg = EvaluationSection(permutations=19, max_users=40)
    lsi = _tag_neighbours(cat, 10, "lsi")
    als = _tag_neighbours(cat, 10, "als")
    out = evaluate(cat, {"lsi": lsi, "als": als}, cfg, seed=3, hit_rate_neighbours={"als": als})
    hr = out["hit_rate"]
    assert hr["users"] == 40 and set(hr["scores"]) == {"lsi", "als", "popularity", "random"}
    assert any("training split only" in note for note in hr["notes"])
    with pytest.raises(ValueError, match="catalog"):
        evaluate(cat, {"x": _nb("x", [[1], [0]])}, cfg, seed=3)

"""Evaluation: the protocol (scale, likes, splits), ranking metrics, baselines, EASE, the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec.catalog import Catalog, Item, Ratings, make_tags
from mangarec.config import EvaluationSection
from mangarec.embedding import Embedding, Neighbours
from mangarec.evaluation import evaluate, evaluation_split, jaccard_rows, make_split, run_evaluation
from mangarec.evaluation.baselines import cosine_knn, ease_lambdas, knn_scorer, popularity_scorer, random_scorer
from mangarec.evaluation.jaccard import check_lists
from mangarec.evaluation.ranking import bootstrap, evaluate_scorer, per_user, top_k
from mangarec.models import als
from mangarec.models.ease import fit_ease
from mangarec.neighbours import exact


def _nb(model: str, lists, ids=None) -> Neighbours:
    idx = np.asarray(lists, dtype=np.int32)
    ids = ids or tuple(f"i{j}" for j in range(idx.shape[0]))
    scores = np.tile(np.linspace(1, 0.5, idx.shape[1], dtype=np.float32), (idx.shape[0], 1))
    return Neighbours(model, ids, idx, scores, "exact")


def test_jaccard_rows_known_answers():
    a = np.array([[1, 2, 3], [1, 2, 3]])
    b = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_allclose(jaccard_rows(a, b), [1.0, 0.0])
    np.testing.assert_allclose(jaccard_rows(np.array([[1, 2]]), np.array([[2, 3]])), [1 / 3])


def test_check_lists_rejects_repeats_and_self():
    with pytest.raises(ValueError, match="repeats"):
        check_lists(_nb("m", [[1, 1], [0, 2], [0, 1]]))
    with pytest.raises(ValueError, match="own neighbour"):
        check_lists(_nb("m", [[0, 1], [0, 2], [0, 1]]))


# ---------------------------------------------------------------- the protocol


def anime_fixture_args(shared: Path) -> list[str]:
    """``--data`` options of the anime-recdb fixture (400 titles and their ratings)."""
    d = shared / "anime-recdb"
    return ["--data", f"mal:{d / 'fixture_anime.csv'}", "--data", f"ratings:{d / 'fixture_ratings.csv'}"]


def cluster_catalog(
    clusters: int = 10, per: int = 12, users_per_cluster: int = 8, likes: int = 6, implicit: bool = False, seed: int = 0
) -> Catalog:
    """``clusters`` groups of items with disjoint tag vocabularies (each group's items share its
    tag ``C<c>``); each user likes items of one group only (ratings 9), and rates a few items of
    other groups low (3) unless ``implicit``."""
    rng = np.random.default_rng(seed)
    items = []
    for c in range(clusters):
        vocab = [f"T{c}-{t}" for t in range(4)]
        for i in range(per):
            tags = [f"C{c}"] + [vocab[t] for t in range(4) if (i >> t) & 1]
            items.append(
                Item(
                    id=f"c{c}x{i}",
                    title=f"t{c}{i}",
                    kind="manga",
                    tags=make_tags({"genre": tags}),
                    popularity=float(rng.integers(1, 1000)),
                )
            )
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


def test_split_holds_out_likes_only_and_validation_inside_train():
    cat = cluster_catalog()
    r = cat.ratings
    cfg = EvaluationSection(holdout=0.34, min_likes=5, max_users=1000)
    s = make_split(r, cfg, seed=5)
    full = r.matrix.toarray()
    train, fit, test, val = (s.train.matrix.toarray(), s.fit.matrix.toarray(), s.test.toarray(), s.validation.toarray())
    assert s.positives.threshold == 8.0 and s.positives.scale.name == "1-10"
    assert len(s.users) == r.n_users  # every user has 6 likes
    assert np.all(test.sum(axis=1)[s.users] == 2)  # round(0.34 * 6)
    assert np.all(full[test > 0] >= 8) and np.all(train[test > 0] == 0)  # held-out likes leave train
    assert np.all(val.sum(axis=1)[s.users] == 1)  # round(0.34 * 4), inside what train kept
    assert np.all(train[val > 0] >= 8) and np.all(fit[val > 0] == 0)
    assert np.count_nonzero(train) + test.sum() == r.nnz
    mask = train != 0
    np.testing.assert_array_equal(train[mask], full[mask])
    assert np.all(full[(full > 0) & (full < 8)] == train[(full > 0) & (full < 8)])  # dislikes stay in train
    again = make_split(r, cfg, seed=5)
    assert (again.test != s.test).nnz == 0 and (again.validation != s.validation).nnz == 0
    assert (make_split(r, cfg, seed=6).test != s.test).nnz > 0
    assert len(make_split(r, EvaluationSection(holdout=0.34, max_users=7), seed=5).users) == 7
    tr, te = evaluation_split(r, cfg, 5)
    assert (te != s.test).nnz == 0 and (tr.matrix != s.train.matrix).nnz == 0


def test_scale_relative_threshold_movielens_stars():
    """0.5-5 stars: the relative threshold is 4 stars and the split is not empty (an absolute
    threshold of 8 would leave it empty: the report then says so, loudly)."""
    g = np.random.default_rng(0)
    m = sp.random(60, 80, density=0.3, random_state=1, format="csr", dtype=np.float32)
    m.data = g.choice(np.arange(1, 11) / 2, size=m.nnz).astype(np.float32)
    r = Ratings(m, tuple(f"u{i}" for i in range(60)))
    s = make_split(r, EvaluationSection(), 1)
    assert s.positives.scale.name == "0.5-5" and s.positives.threshold == 4.0
    assert not s.empty and np.all(m.toarray()[s.test.toarray() > 0] >= 4.0)
    bad = make_split(r, EvaluationSection(like_threshold=8.0), 1)
    assert bad.empty and any("NO EVALUATION" in n for n in bad.describe())
    items = tuple(Item(id=f"i{j}", title="t", kind="anime", tags=make_tags({"genre": ["A"]})) for j in range(80))
    cat = Catalog(items=items, ratings=r)
    nb = _nb("lsi", [[(j + 1) % 80, (j + 2) % 80] for j in range(80)], ids=cat.ids)
    ev = run_evaluation(cat, {"lsi": nb}, EvaluationSection(like_threshold=8.0), 1)
    assert ev.ranking is None and ev.protocol.empty and any("NO EVALUATION" in n for n in ev.notes)


def test_per_user_threshold_narrows_likes():
    m = sp.csr_matrix(np.array([[10, 9, 8, 8, 8, 9], [8, 8, 8, 8, 8, 8]], dtype=np.float32))
    r = Ratings(m, ("a", "b"))
    loose = make_split(r, EvaluationSection(min_likes=2), 0).positives
    strict = make_split(r, EvaluationSection(min_likes=2, like_per_user=True), 0).positives
    R = sp.csr_matrix(m, dtype=np.float64)
    assert loose.mask(R).sum() == 12
    assert strict.mask(R).sum() == 3 + 6  # user a: only the 10 and the two 9s reach their mean 8.67


# ---------------------------------------------------------------- metrics and baselines


def test_top_k_excludes_training_and_breaks_ties_by_popularity():
    scores = np.array([[0.5, 0.9, 0.9, 0.1, 0.9]])
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0, 0]]))
    tie = np.array([4, 0, 3, 1, 2])
    lists = top_k(lambda u: np.repeat(scores, len(u), 0), exclude, np.array([0]), tie, k=3)
    assert lists.tolist() == [[4, 2, 0]]  # 1 excluded; 4 and 2 tie at 0.9, 4 is more popular


def test_metrics_known_values_and_bootstrap():
    lists = np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]])
    held = sp.csr_matrix((np.ones(3), ([0, 0, 1], [0, 5, 30])), shape=(2, 40))
    pu = per_user(lists, held, np.array([0, 1]))
    np.testing.assert_allclose(pu["precision"], [0.2, 0.0])
    np.testing.assert_allclose(pu["recall"], [1.0, 0.0])
    disc = 1 / np.log2(np.arange(2, 12))
    np.testing.assert_allclose(pu["ndcg"], [(disc[0] + disc[5]) / (disc[0] + disc[1]), 0.0])
    iv = bootstrap(np.r_[np.zeros(50), np.ones(50)], np.random.default_rng(0))
    assert iv.mean == 0.5 and 0.38 < iv.lo < 0.5 < iv.hi < 0.62


def test_ease_closed_form_matches_direct_solution():
    g = np.random.default_rng(3)
    X = sp.csr_matrix((g.random((40, 12)) < 0.4).astype(np.float64))
    model = fit_ease(X, 5.0, min_likes=1)
    G = (X.T @ X).toarray()
    items = model.items
    # each column j minimises |X_j - X B_j|^2 + λ|B_j|^2 with B_jj = 0: a ridge regression on the others
    for j_pos, j in enumerate(items):
        others = [p for p in range(len(items)) if p != j_pos]
        Go = G[np.ix_(items[others], items[others])] + 5.0 * np.eye(len(others))
        b = np.linalg.solve(Go, G[items[others], j])
        np.testing.assert_allclose(model.B[others, j_pos], b, rtol=2e-3, atol=2e-4)
        assert model.B[j_pos, j_pos] == 0
    idx, w = model.top_k(3)
    assert idx.shape == (len(items), 3) and np.all(np.diff(w, axis=1) <= 0)
    assert ease_lambdas(X)[1] == pytest.approx(2 * X.sum() / np.count_nonzero(X.sum(axis=0)), rel=1e-3)


def test_ease_reference_is_bounded_to_the_most_liked_items():
    """evaluation.ease_items bounds the dense inverse (issue 21: 20k items ran 26 min at 10 GB):
    the most liked items with at least min_likes likes, ties by position; the rest score 0."""
    from mangarec.models.ease import most_liked

    counts = np.array([5, 3, 9, 3, 0, 7, 3])
    assert most_liked(counts, 3, None).tolist() == [0, 1, 2, 3, 5, 6]
    assert most_liked(counts, 3, 3).tolist() == [0, 2, 5]
    assert most_liked(counts, 3, 4).tolist() == [0, 1, 2, 5]  # a tie at 3 likes: the first
    g = np.random.default_rng(5)
    X = sp.csr_matrix((g.random((60, 10)) < np.linspace(0.9, 0.1, 10)).astype(np.float64))
    full, cut = fit_ease(X, 2.0, min_likes=1), fit_ease(X, 2.0, min_likes=1, max_items=4)
    liked = np.asarray(X.sum(axis=0)).ravel()
    assert len(full.items) == 10 and cut.items.tolist() == sorted(np.argsort(-liked, kind="stable")[:4].tolist())
    scores = cut.scores(X[:5])
    assert np.all(scores[:, np.setdiff1d(np.arange(10), cut.items)] == 0) and np.any(scores[:, cut.items] != 0)
    # the evaluation's reference row says what it covers, and the bound is a config key
    items = tuple(Item(id=f"i{j}", title="t", kind="anime", tags=make_tags({"genre": ["A"]})) for j in range(40))
    R = sp.csr_matrix((g.random((300, 40)) < 0.25) * g.integers(6, 11, (300, 40)), dtype=np.float32)
    cat = Catalog(items=items, ratings=Ratings(R, tuple(f"u{i}" for i in range(300))))
    nb = _nb("lsi", [[(j + 1) % 40, (j + 2) % 40] for j in range(40)], ids=cat.ids)
    rows = {
        r.method: r
        for r in run_evaluation(cat, {"lsi": nb}, EvaluationSection(ease_items=100, permutations=5), 1).ranking
    }
    assert "over the 40 most liked titles (at most 100" in rows["ease"].note
    with pytest.raises(Exception, match="ease_items"):
        from mangarec import schema

        schema.build(EvaluationSection, {"ease_items": 10}, "evaluation", "site.toml")


def test_cosine_knn_and_baselines_rank_sensibly():
    cat = cluster_catalog()
    s = make_split(cat.ratings, EvaluationSection(min_likes=5), 2)
    likes = s.likes("train")
    C = cosine_knn(likes, 5)
    assert C.shape == (len(cat), len(cat)) and np.all(np.diff(C.indptr) <= 5) and C.diagonal().sum() == 0
    run = lambda sc: evaluate_scorer(sc, sp.csr_matrix(s.train.matrix), s.test, s.users, cat.tie_order, 0)  # noqa: E731
    knn, pop, rnd = run(knn_scorer(likes)), run(popularity_scorer(likes)), run(random_scorer(len(cat), 1))
    assert knn.precision.mean > pop.precision.mean + 0.05 > rnd.precision.mean
    assert knn.precision.lo <= knn.precision.mean <= knn.precision.hi


def _tag_neighbours(cat: Catalog, k: int, name: str = "tags") -> Neighbours:
    nb = exact(Embedding(name, cat.ids, cat.tag_matrix.toarray()), k, cat.tie_order)
    return Neighbours(name, nb.item_ids, nb.indices, nb.scores, nb.method, nb.info)


# ---------------------------------------------------------------- the report part


def _floats(o):
    if isinstance(o, dict):
        for v in o.values():
            yield from _floats(v)
    elif isinstance(o, list):
        for v in o:
            yield from _floats(v)
    elif isinstance(o, float):
        yield o


def test_evaluate_without_ratings(two_clusters):
    cat = two_clusters
    nbs = {"lsi": _tag_neighbours(cat, 5, "lsi"), "network": _tag_neighbours(cat, 5, "network")}
    out = evaluate(cat, nbs, EvaluationSection(permutations=50), seed=42)
    again = evaluate(cat, nbs, EvaluationSection(permutations=50), seed=42)
    assert json.dumps(out, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert out["protocol"] is None and out["ranking"] is None and out["visitor"] == []
    a = out["agreement"]
    assert a["models"] == ["lsi", "network"] and a["mean"][0][1] == 1.0 and a["k"] == 5
    assert all(round(x, 6) == x for x in _floats(out))
    with pytest.raises(ValueError, match="catalog"):
        evaluate(cat, {"x": _nb("x", [[1], [0]])}, EvaluationSection(), seed=3)


def test_evaluate_with_ratings_full_report():
    """A clustered catalog: ALS (refitted on train) and the tag model beat popularity and random;
    EASE is the reference; the visitor path and the null tests are filled in."""
    cat = cluster_catalog(clusters=8, per=12, users_per_cluster=12)
    cfg = EvaluationSection(min_likes=5, visitor_likes=[3])
    s = make_split(cat.ratings, cfg, 9)
    from dataclasses import replace

    p = als.Params(factors=8, regularization=1.0, iterations=8)
    emb = als.fit(replace(cat, ratings=s.train), p, 0)
    tags = _tag_neighbours(cat, 10, "lsi")
    out = evaluate(
        cat, {"lsi": tags}, cfg, 9, heldout_embeddings={"als": emb}, picks=list(np.argsort(cat.tie_order)[:12])
    )
    rows = {r["method"]: r["metrics"] for r in out["ranking"]}
    assert set(rows) == {"als", "lsi neighbours", "ease", "item-knn", "popularity", "random"}
    P = {k: v["recall"]["mean"] for k, v in rows.items()}  # one held-out like per user: P@10 <= 0.1
    assert P["als"] > P["popularity"] + 0.5 and P["lsi neighbours"] > P["popularity"] + 0.5
    assert P["ease"] > P["popularity"] + 0.5 and P["random"] < 0.5
    for m in rows.values():
        assert m["precision"]["lo"] <= m["precision"]["mean"] <= m["precision"]["hi"]
    assert float(out["choices"]["ease_lambda"]) in [float(x) for x in out["choices"]["ease_validation_ndcg"]]
    (v,) = out["visitor"]
    assert set(v["likes"]) == {"3 likes", "all likes"} and set(v["onboarding"]) == {
        "onboarding picks",
        "random popular picks",
    }
    assert v["likes"]["all likes"]["recall"]["mean"] > P["popularity"] + 0.5
    assert out["protocol"]["like_threshold"] == 8.0 and out["protocol"]["users"] == len(s.users)
    tests = {(t["truth"], t["null"]): t for t in out["null"]["lsi"]}
    assert set(tests) == {("co-liked", "random"), ("co-liked", "popularity")}
    assert tests[("co-liked", "popularity")]["p_value"] < 0.01
    _check_typed(out)


def _check_typed(out):
    """The typed result the report and the models page read is exactly report.json's part: each
    row says which model it is about (no label split on a suffix), baselines have one label each."""
    from mangarec.evaluation import Evaluation, evaluation_of
    from mangarec.evaluation.baselines import LABELS
    from mangarec.report import jsonable
    from mangarec.site.context import label
    from mangarec.site.evaluation_view import evaluation_view

    ev = evaluation_of(json.loads(json.dumps(out)))
    assert isinstance(ev, Evaluation) and jsonable(ev) == out
    assert (
        ev.visitor[0].likes["all likes"].precision.mean == out["visitor"][0]["likes"]["all likes"]["precision"]["mean"]
    )
    by = {r.method: r for r in ev.ranking}
    assert by["lsi neighbours"].model == "lsi" and by["als"].model == "als" and by["ease"].model == ""
    baselines = {r.method for r in ev.ranking if r.kind in ("baseline", "reference")}
    assert baselines == set(LABELS)
    view = evaluation_view(ev, label)
    shown = [r["label"] for r in view["ranking"]["rows"]]
    assert shown[:2] == ["ALS (ratings)", "LSI (tags): neighbour lists"]
    assert set(shown[2:]) == set(LABELS.values())
    assert view["visitor"][0]["label"] == "ALS (ratings)" and view["null"][0]["label"] == "LSI (tags)"


def test_visitor_rows_compare_the_same_visitors_and_profiles():
    """Each count's profiles depend on the seed and the count only, so two calls that ask for
    different counts (or fold in differently) score the same visitors with the same likes."""
    from dataclasses import replace

    from mangarec.evaluation.visitor import evaluate_visitor
    from mangarec.foldin import Schedule

    cat = cluster_catalog(clusters=6, per=10, users_per_cluster=10)
    s = make_split(cat.ratings, EvaluationSection(min_likes=5), 4)
    emb = als.fit(replace(cat, ratings=s.train), als.Params(factors=4, regularization=0.1, iterations=4), 0)
    kw = dict(reg=0.1, mode="implicit", alpha=10.0, seed=7)
    a = evaluate_visitor(cat, s, emb, like_counts=[2, 4], **kw)
    b = evaluate_visitor(cat, s, emb, like_counts=[4], **kw)
    assert a.likes["4 likes"] == b.likes["4 likes"] and a.likes["all likes"] == b.likes["all likes"]
    # a schedule that starts above every profile's size changes nothing; one that ends below it
    # is the "many" values exactly
    inert = evaluate_visitor(cat, s, emb, like_counts=[4], schedule=Schedule(50, 100, 1.0, 5.0), **kw)
    assert inert.likes == b.likes
    ends = evaluate_visitor(cat, s, emb, like_counts=[4], schedule=Schedule(1, 2, 3.0, 0.5), **kw)
    kw_many = dict(kw, reg=0.5, alpha=3.0)
    assert ends.likes["4 likes"] == evaluate_visitor(cat, s, emb, like_counts=[4], **kw_many).likes["4 likes"]


def test_foldin_of_the_evaluated_users_only_scores_as_the_full_foldin():
    """The ranking folds in only the evaluated users (its cost follows ``max_users``, not the
    catalog's user count); each row's solution is its own, so their scores are the same."""
    from mangarec.evaluation.runner import foldin_scorer, training_values

    R = sp.random(60, 30, density=0.2, random_state=3, format="csr", dtype=np.float64)
    R.data = np.ceil(R.data * 10)
    items = tuple(
        Item(id=f"i{j}", title=f"t{j}", kind="manga", tags=make_tags({"genre": [f"G{j % 3}"]}), popularity=30.0 - j)
        for j in range(30)
    )
    cat = Catalog(items=items, ratings=Ratings(sp.csr_matrix(R, dtype=np.float32), tuple(f"u{u}" for u in range(60))))
    emb = als.fit(cat, als.Params(factors=4, iterations=2), 0)
    V = training_values(emb, R)
    users = np.array([3, 10, 11, 40, 59])
    part = foldin_scorer(emb, V, users)
    np.testing.assert_array_equal(part(users), foldin_scorer(emb, V)(users))
    np.testing.assert_array_equal(part(users[2:4]), foldin_scorer(emb, V)(users[2:4]))

"""Tags learned from co-likes: known answers on tiny catalogs, the shipped file, the fit's gain."""

from __future__ import annotations

import runpy

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec.catalog import Catalog, Item, Ratings, make_tags
from mangarec.config import Config
from mangarec.models import colike, fit_model
from mangarec.similarity import TagJaccard


def noisy_clusters(clusters: int = 4, per: int = 15, users: int = 12, seed: int = 0) -> Catalog:
    """Clusters marked by one tag ``C<c>`` each, drowned in shared noise tags ``N0..N5`` (three per
    title, drawn at random): tag-set Jaccard is misled by the noise, the co-likes follow the
    clusters (each user likes 6 titles of one cluster)."""
    g = np.random.default_rng(seed)
    items = []
    for c in range(clusters):
        for i in range(per):
            noise = [f"N{t}" for t in g.choice(6, size=3, replace=False)]
            items.append(
                Item(
                    id=f"c{c}x{i}",
                    title=f"title{c * per + i}",
                    kind="manga",
                    tags=make_tags({"genre": [f"C{c}", *noise]}),
                    popularity=100.0,
                )
            )
    rows, cols = [], []
    u = 0
    for c in range(clusters):
        for _ in range(users):
            for j in c * per + g.choice(per, size=6, replace=False):
                rows.append(u), cols.append(int(j))
            u += 1
    m = sp.csr_matrix((np.full(len(rows), 9.0, np.float32), (rows, cols)), shape=(u, len(items)))
    return Catalog(items=tuple(items), ratings=Ratings(m, tuple(f"u{k}" for k in range(u)), False, "synthetic"))


def test_unit_weights_and_no_coefficients_are_jaccard():
    cat = noisy_clusters()
    lp = colike.standard_log_popularity(cat.popularity)
    s = colike.scorer(cat.tag_matrix, np.ones(len(cat.tag_vocabulary)), lp, 0.0, 0.0)
    rows = np.arange(len(cat))
    np.testing.assert_allclose(
        s.block(rows), TagJaccard(cat.tag_matrix, np.ones(len(cat.tag_vocabulary))).block64(rows), atol=1e-12
    )


def test_affinity_term_is_minus_squared_distance_up_to_a_row_constant():
    cat = noisy_clusters()
    lp = np.linspace(-2, 2, len(cat))
    w = np.ones(len(cat.tag_vocabulary))
    base = colike.scorer(cat.tag_matrix, w, lp, 0.0, 0.0).block64(np.arange(len(cat)))
    got = colike.scorer(cat.tag_matrix, w, lp, 0.3, 0.0).block64(np.arange(len(cat)))
    want = base - 0.3 * (lp[:, None] - lp[None, :]) ** 2
    diff = got - want
    np.testing.assert_allclose(diff, np.repeat(diff[:, :1], len(cat), axis=1), atol=1e-9)


def test_co_liked_truth_known_answer_and_series_left_out():
    # users 0-2 like titles 0 and 1; users 3-4 like 0 and 2; user 5 likes 2 and 3 (one user: too few)
    likes = sp.csr_matrix(
        np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0], [0, 0, 1, 1]], float)
    )
    T = colike.co_liked_truth(likes, k=1)
    assert T.toarray().tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    series = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], float))
    T2 = colike.co_liked_truth(likes, k=1, exclude=series)
    assert T2.toarray().tolist() == [[0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]


def test_fit_finds_the_cluster_tags_and_beats_jaccard():
    cat = noisy_clusters()
    likes = colike.own_likes(cat, 0.7)
    lp = colike.standard_log_popularity(cat.popularity)
    f = colike.fit_weights(cat.tag_matrix, cat.tag_vocabulary, lp, likes, 3, titles=60, sweeps=2)
    w = dict(zip(f.tags, f.weights))
    assert min(w[f"C{c}"] for c in range(4)) > max(w[f"N{t}"] for t in range(6))
    jac = colike.fit_weights(cat.tag_matrix, cat.tag_vocabulary, lp, likes, 3, titles=60, sweeps=0)
    assert f.agreement is not None and jac.agreement is not None
    assert f.agreement > jac.agreement + 0.1


def test_model_uses_own_ratings_else_the_shipped_weights():
    cat = noisy_clusters()
    own = fit_model("colike", cat, Config(), 1)
    assert own.info["source"] == "the catalog's own likes"
    shipped = fit_model("colike", Catalog(items=cat.items), Config(), 1)
    assert shipped.info["source"].startswith("shipped")
    want = colike.weights_for(cat.tag_vocabulary, colike.shipped_fit())
    assert [shipped.info["tag_weights"][t] for t in cat.tag_vocabulary] == want.tolist()


def test_unknown_tags_keep_jaccards_weight():
    f = colike.Fitted(("Action", "Drama"), np.array([2.0, 0.5]), 0.1, 0.2)
    assert colike.weights_for(("Drama", "Isekai", "Action"), f).tolist() == [0.5, 1.0, 2.0]


def test_shipped_file_round_trips_and_is_deterministic(tmp_path):
    f = colike.Fitted(("B", "A"), np.array([0.5, 2.0]), 0.05, 0.2, 0.3)
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    colike.write_shipped(f, a, "Fitted on test data.")
    colike.write_shipped(f, b, "Fitted on test data.")
    assert a.read_bytes() == b.read_bytes()
    ns = runpy.run_path(str(a))
    assert ns["TAG_WEIGHTS"] == {"A": 2.0, "B": 0.5} and ns["AFFINITY"] == 0.05 and ns["PRIOR"] == 0.2


def test_the_committed_weights_are_a_fit_not_rows_of_data():
    f = colike.shipped_fit()
    assert 20 <= len(f.tags) <= 200, "one weight per canonical tag"
    assert np.all(np.isfinite(f.weights)) and np.all(f.weights >= 0)
    from mangarec.tags import CANONICAL

    canonical = {t for ts in CANONICAL.values() for t in ts}
    assert len(set(f.tags) & canonical) >= 25, "keyed by the canonical tags MangaDex shares"


def test_source_ratings_without_ratings_is_an_input_error():
    from dataclasses import replace

    from mangarec.errors import InputError

    cat = noisy_clusters()
    cfg = Config()
    cfg = replace(cfg, models=replace(cfg.models, colike=replace(cfg.models.colike, source="ratings")))
    with pytest.raises(InputError, match="models.colike.source"):
        fit_model("colike", Catalog(items=cat.items), cfg, 1)


def test_only_the_tag_weights_are_carried_unless_asked():
    from dataclasses import replace

    cat = Catalog(items=noisy_clusters().items)
    plain = fit_model("colike", cat, Config(), 1)
    assert plain.info["affinity"] == 0.0 and plain.info["prior"] == 0.0
    cfg = Config()
    cfg = replace(cfg, models=replace(cfg.models, colike=replace(cfg.models.colike, carry_popularity=True)))
    carried = fit_model("colike", cat, cfg, 1)
    f = colike.shipped_fit()
    assert (carried.info["affinity"], carried.info["prior"]) == (f.affinity, f.prior)

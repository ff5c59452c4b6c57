"""Similar titles (hybrid): its score, its prior, the series left out, its published profile."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mangarec import neighbours
from mangarec.catalog import Catalog, Item, Related, make_tags
from mangarec.config import Config
from mangarec.models import available, fit_model, hybrid, series
from mangarec.models.hybrid import Params


def item(i, title, groups, desc="", pop=1.0, related=()):
    return Item(
        id=i,
        title=title,
        kind="manga",
        tags=make_tags(groups),
        description=desc,
        popularity=pop,
        related=tuple(Related(id=r, type="Sequel") for r in related),
    )


def catalog():
    return Catalog(
        items=(
            item(
                "a",
                "Red Sky",
                {"demographic": ["Shounen"], "genre": ["Action", "Drama"]},
                "pilots in a red sky",
                9,
                ["b"],
            ),
            item(
                "b", "Red Sky 2", {"demographic": ["Shounen"], "genre": ["Action", "Drama"]}, "pilots again", 8, ["a"]
            ),
            item("c", "Iron Lake", {"demographic": ["Shounen"], "genre": ["Action"]}, "a lake of iron", 7),
            item("d", "Quiet Tea", {"demographic": ["Josei"], "genre": ["Action", "Drama"]}, "tea and pilots", 6),
            item("e", "Unread", {"demographic": ["Shounen"], "genre": ["Action", "Drama"]}, "nobody reads this", 0),
        )
    )


def fitted(c, p=Params()):
    return hybrid.fit(c, p, 0, {"series": series.fit(c, series.Params(), 0, {})})


def test_score_is_group_weighted_overlap_plus_text_plus_prior():
    c = catalog()
    p = Params(text_weight=0.0, prior_weight=0.0, leave_out_series=False)
    s = fitted(c, p).similarity.block64(np.arange(5))
    # a and d share Action, Drama (1 + 1) but not the demographic (weight 2): 2 / max(4, 4)
    assert s[0, 3] == pytest.approx(2 / 4)
    assert s[0, 2] == pytest.approx(3 / 4)  # Shounen + Action over max(4, 3)
    q = replace(p, text_weight=0.5, prior_weight=0.3)
    s2 = fitted(c, q).similarity.block64(np.arange(5))
    prior = hybrid.prior(c.popularity, q.prior_quantile)
    from mangarec.models.text import description_matrix

    d = description_matrix(c, max_df=1.0)
    np.testing.assert_allclose(s2, s + 0.5 * (d @ d.T).toarray() + 0.3 * prior[None, :], atol=1e-6)


def test_prior_holds_back_the_unread_and_saturates():
    p = hybrid.prior(np.array([0.0, 0.0, 1.0, 2.0, 3.0, 50.0, 60.0, 70.0, 80.0, 90.0]), 0.3)
    assert p[0] == p[1] == 0.0
    assert p[2] == pytest.approx(0.2 / 0.3) and (p[3:] == 1.0).all()
    assert (hybrid.prior(np.arange(5.0), 0.0) == 1.0).all()


def test_the_series_is_left_out():
    c = catalog()
    e = fitted(c)
    nb = neighbours.exact(e, 3, c.tie_order)
    members = series.members(c, series.Params()).toarray().astype(bool)
    for i, row in enumerate(nb.indices[:, :2]):
        assert not members[i, row].any()
    assert c.ids[nb.indices[0, 0]] != "b"
    kept = neighbours.exact(fitted(c, replace(Params(), leave_out_series=False)), 3, c.tie_order)
    assert c.ids[kept.indices[0, 0]] == "b"


def test_published_profile_is_the_dense_part():
    c = catalog()
    p = Params()
    e = fitted(c, p)
    assert hybrid.SPEC.published_as_fitted  # published as fitted: these are the vectors a visitor folds into
    y = e.vectors.astype(np.float64)
    g = hybrid.group_weights(c, p)
    w = c.tag_matrix.toarray() * g
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    prior = hybrid.prior(c.popularity, p.prior_quantile)
    np.testing.assert_allclose(y @ y.T, unit @ unit.T + p.prior_weight * np.outer(prior, prior), atol=1e-6)


def test_group_weights_follow_the_tag_groups():
    c = catalog()
    g = dict(zip(c.tag_vocabulary, hybrid.group_weights(c, Params(demographic_weight=3.0, genre_weight=0.5))))
    assert g["Shounen"] == 3.0 and g["Josei"] == 3.0 and g["Action"] == 0.5


def test_runs_without_descriptions_on_its_tag_terms(two_clusters):
    no_text = Catalog(items=tuple(replace(i, description="") for i in two_clusters.items))
    kept, _ = available(no_text, ["hybrid", "series", "jaccard"])
    assert kept == ["hybrid", "series", "jaccard"]
    e = fit_model("hybrid", no_text, Config(), 1)
    assert "description" not in e.info["terms"] and "co-likes" in e.info["terms"]


def test_colike_term_adds_the_colike_similarity():
    from mangarec.models import colike

    c = catalog()
    p = Params(text_weight=0.0, prior_weight=0.0, leave_out_series=False)
    deps = {"series": series.fit(c, series.Params(), 0, {})}
    base = hybrid.fit(c, replace(p, colike_weight=0.0), 0, deps).similarity.block64(np.arange(5))
    cl = colike.fit(c, colike.Params(), 0, deps)
    got = hybrid.fit(c, replace(p, colike_weight=0.7), 0, {**deps, "colike": cl}).similarity.block64(np.arange(5))
    np.testing.assert_allclose(got, base + 0.7 * cl.similarity.block64(np.arange(5)), atol=1e-9)


def test_fit_model_passes_the_series_rule(two_clusters):
    config = Config()
    config = replace(config, models=replace(config.models, series=replace(config.models.series, title_threshold=0.2)))
    e = fit_model("hybrid", two_clusters, config, 1)
    loose = e.info["left_out_pairs"]
    assert loose > fit_model("hybrid", two_clusters, Config(), 1).info["left_out_pairs"]

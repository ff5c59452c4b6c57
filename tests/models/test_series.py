"""Same series: related links first, then titles; members are what "similar titles" leaves out."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mangarec import neighbours
from mangarec.catalog import Catalog, Item, Related, make_tags
from mangarec.embedding import Membership
from mangarec.models import series
from mangarec.models._series_rule import SeriesRule, series_rule
from mangarec.models.series import Params


def item(i, title, related=(), kind="manga", pop=None, tags=("Action",), alt=()):
    return Item(
        id=i,
        title=title,
        kind=kind,
        tags=make_tags({"genre": list(tags)}),
        alt_titles=tuple(alt),
        related=tuple(Related(id=r, type=t) for r, t in related),
        popularity=pop if pop is not None else 1.0,
    )


def catalog():
    return Catalog(
        items=(
            item("a", "Blade of the North", [("b", "Sequel")], pop=50),
            item("b", "Winter Crown", [("a", "Prequel"), ("c", "Spin-off")], pop=40),
            item("c", "Little Crown Stories", [("b", "Main story")], pop=30),
            item("d", "Ocean Diary", pop=20, tags=("Romance",)),
            item("e", "Ocean Diary 2", pop=10, tags=("Romance",)),
            item("f", "Kitchen Days", pop=5, tags=("Romance",)),
            item("g", "Ocean Diary", kind="anime", pop=60, tags=("Romance",)),
        )
    )


def test_link_graph_and_hops():
    c = catalog()
    g = series.link_graph(c)
    assert (g != g.T).nnz == 0 and g[0, 1] == 1 and g[1, 2] == 1 and g[0, 2] == 0
    h = series.hop_scores(g, 6).toarray()
    assert h[0, 1] == 1.0 and h[0, 2] == 0.5 and h[0, 3] == 0 and h[0, 0] == 0
    assert series.hop_scores(g, 1).toarray()[0, 2] == 0


def test_members_are_links_same_work_and_near_equal_titles():
    c = catalog()
    m = series.members(c, Params()).toarray().astype(bool)
    assert m[0, 2] and m[2, 0]  # two hops over related links
    assert m[3, 6] and m[6, 3]  # the same work as anime and as manga
    assert not m[3, 5] and not m[0, 3]
    assert not m.diagonal().any() and (m == m.T).all()
    assert m[3, 4] == (Params().title_threshold <= _title_cos(c, 3, 4))


def _title_cos(c, i, j):
    from mangarec.models.text import title_matrix

    t = title_matrix(c)
    return float((t[i] @ t[j].T).toarray()[0, 0])


def test_members_come_first_and_carry_the_member_score():
    c = catalog()
    e = series.fit(c, Params(), 0, {})
    nb = neighbours.exact(e, 3, c.tie_order)
    first = {c.ids[i]: [c.ids[j] for j in row] for i, row in enumerate(nb.indices)}
    assert set(first["a"][:2]) == {"b", "c"} and first["a"][0] == "b"  # one hop before two
    assert first["d"][0] == "g"  # the other format of the work
    assert e.membership == Membership(title_threshold=0.7, max_hops=6, member_score=Params().member_bonus)
    floor = e.membership.member_score
    assert (nb.scores[0, :2] >= floor).all() and nb.scores[0, 2] < floor


def test_without_links_titles_still_make_a_series():
    c = Catalog(items=tuple(item(i.id, i.title, (), i.kind, i.popularity, i.tag_list) for i in catalog().items))
    e = series.fit(c, Params(), 0, {})
    nb = neighbours.exact(e, 1, c.tie_order)
    assert c.ids[nb.indices[c.index["e"], 0]] in {"d", "g"}


def test_deterministic(two_clusters):
    a = series.fit(two_clusters, Params(), 0, {})
    b = series.fit(two_clusters, Params(), 0, {})
    np.testing.assert_array_equal(a.similarity.block64(np.arange(24)), b.similarity.block64(np.arange(24)))


def test_the_series_rule_crosses_to_the_models_that_leave_the_series_out():
    """The co-like model and the hybrid leave out the series under the rule of this build's series
    model: its typed ``membership`` (the defaults without a series model; an error, not the
    defaults, if the series fit stopped setting it)."""
    c = catalog()
    e = series.fit(c, Params(title_threshold=0.4, max_hops=2, member_bonus=0.0), 0, {})
    assert e.membership == Membership(title_threshold=0.4, max_hops=2, member_score=None)
    assert series_rule({"series": e}) == e.membership
    assert series_rule({}) == SeriesRule()
    with pytest.raises(ValueError, match="membership"):
        series_rule({"series": replace(e, membership=None)})

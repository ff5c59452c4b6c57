"""The series model's warm night (:mod:`mangarec.models._series_warm`): its hop scores and members,
updated from last night's, equal a full computation on tonight's catalog and title rows, after
random nights of edited titles and links, removed and new titles."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec.catalog import Catalog, Item, Related, make_tags
from mangarec.config import Config
from mangarec.models import _series_warm, params_of, series
from mangarec.models._series_rule import hop_scores, link_graph, members
from mangarec.models._warm import term
from mangarec.night import changed_titles, item_digests

WORDS = ("blade", "crown", "ocean", "diary", "north", "winter", "kitchen", "days", "star", "moon")
CONFIG = Config()


def _item(g: np.random.Generator, k: int, n: int) -> Item:
    words = g.choice(WORDS, size=int(g.integers(1, 4)), replace=False)
    links = g.choice(n, size=int(g.integers(0, 3)), replace=False)
    return Item(
        id=f"t{k}",
        title=" ".join(words),
        kind="anime" if g.random() < 0.3 else "manga",
        tags=make_tags({"genre": list(g.choice(["Action", "Drama", "Romance"], size=2, replace=False))}),
        related=tuple(Related(id=f"t{j}", type="Sequel") for j in links if j != k),
        description=" ".join(g.choice(WORDS, size=6)),
        popularity=float(g.integers(1, 100)),
    )


def _night(seed: int, n: int, edits: int) -> tuple[Catalog, Catalog]:
    g = np.random.default_rng(seed)
    day = [_item(g, k, n) for k in range(n)]
    night = list(day)
    for k in g.choice(np.arange(1, n), size=edits, replace=False):
        fresh = _item(g, int(k), n)
        what = g.integers(0, 3)
        if what == 0:  # a new title (maybe a work across formats), links kept
            night[k] = Item(**{**day[k].__dict__, "title": fresh.title, "kind": fresh.kind})
        elif what == 1:  # links gained and lost
            night[k] = Item(**{**day[k].__dict__, "related": fresh.related})
        else:
            night[k] = Item(**{**day[k].__dict__, "description": fresh.description})
    night = night[1:] + [_item(g, n + 1, n)]  # the first title removed, one added
    return Catalog(items=tuple(day)), Catalog(items=tuple(night))


def _warm(day: Catalog, night: Catalog):
    params = params_of(CONFIG, "series")
    prev = series.fit(day, params, 0)
    fields = series.SPEC.fields
    changed, _ = changed_titles(item_digests(day, fields), item_digests(night, fields), night.ids)
    emb = series.update(prev, night, params, 0, {}, changed)
    assert emb is not None
    titles = sp.csr_matrix(term(emb.similarity, "title").matrix, dtype=np.float64)
    titles.sort_indices()
    hops = hop_scores(link_graph(night), params.max_hops)
    return emb, hops, members(night, params, hops, titles)


def _equal(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    a.sort_indices()
    b.sort_indices()
    return (
        np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data)
    )


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), edits=st.integers(1, 12))
def test_warm_hops_and_members_equal_a_full_computation(seed, edits):
    day, night = _night(seed, 60, edits)
    emb, hops, mem = _warm(day, night)
    assert _equal(term(emb.similarity, "links").matrix, hops)
    assert _equal(term(emb.similarity, "member").matrix, mem)


def _caught(monkeypatch_target: str, replacement, monkeypatch) -> bool:
    """Whether some random night's warm series differs from the full computation once
    ``_series_warm.<monkeypatch_target>`` is replaced."""
    monkeypatch.setattr(_series_warm, monkeypatch_target, replacement)
    for seed in range(12):
        emb, hops, mem = _warm(*_night(seed, 60, 10))
        if not (
            _equal(term(emb.similarity, "links").matrix, hops) and _equal(term(emb.similarity, "member").matrix, mem)
        ):
            return True
    return False


def test_hops_of_components_left_unwalked_are_caught(monkeypatch):
    n = lambda graph, max_hops, only=None: sp.csr_matrix(graph.shape)  # noqa: E731
    assert _caught("hop_scores", n, monkeypatch)


def test_last_nights_members_kept_without_their_title_check_are_caught(monkeypatch):
    assert _caught("pair_dots", lambda t, rows, cols: np.ones(len(rows)), monkeypatch)

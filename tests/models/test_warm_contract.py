"""Contract of the warm update (:attr:`mangarec.models.base.ModelSpec.update`), for every model
that has one: an unchanged catalog gives last night's embedding back; after an edit, every
unchanged title's row is bit-identical to last night's and the changed title's row is what last
night's global state gives its new fields (the row of the title whose fields it took)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mangarec.catalog import Catalog
from mangarec.embedding import Embedding
from mangarec.models import REGISTRY, fit_model, params_of
from mangarec.models._warm import term
from mangarec.neighbours_update import row_digests
from mangarec.seeds import derive_seed

from .test_contract import CONFIG, _same_fit, contract_catalog

WARM = [n for n, s in REGISTRY.items() if s.update is not None]
#: Models whose vectors read the tags alone: the changed row equals the donor's row.
TAG_ONLY = [n for n in WARM if REGISTRY[n].fields <= {"ids", "tags"}]


@pytest.fixture
def catalog(two_clusters: Catalog) -> Catalog:
    return contract_catalog(two_clusters)


def _update(name: str, prev: Embedding, catalog: Catalog, deps: dict, changed: list[int]) -> Embedding | None:
    s = REGISTRY[name]
    assert s.update is not None
    seed = derive_seed(42, "model", name)
    return s.update(prev, catalog, params_of(CONFIG, name), seed, deps, np.array(changed, dtype=np.int64))


def _took(catalog: Catalog, x: int, y: int, titles: bool) -> Catalog:
    """``catalog`` with title ``x`` given the tags and description (and titles) of title ``y``."""
    donor = catalog.items[y]
    extra = {"title": donor.title, "alt_titles": donor.alt_titles} if titles else {}
    item = replace(catalog.items[x], tags=donor.tags, description=donor.description, **extra)
    items = tuple(item if k == x else it for k, it in enumerate(catalog.items))
    return Catalog(items=items, ratings=catalog.ratings, sources=catalog.sources)


def test_the_models_fitted_globally_have_a_warm_update():
    assert {"lsi", "word2vec", "network", "text", "series", "hybrid", "deconvolution", "silencing"} <= set(WARM)


@pytest.mark.parametrize("name", WARM)
def test_an_unchanged_catalog_gives_the_previous_embedding(name, catalog):
    deps = {d: fit_model(d, catalog, CONFIG, 42) for d in REGISTRY[name].depends}
    prev = fit_model(name, catalog, CONFIG, 42, deps)
    got = _update(name, prev, catalog, deps, [])
    assert got is not None and got.item_ids == prev.item_ids
    _same_fit(got, prev)
    assert row_digests(got) == row_digests(prev)


@pytest.mark.parametrize("name", WARM)
def test_unchanged_rows_stay_bit_identical_and_the_changed_row_follows_the_previous_state(name, catalog):
    x, y = catalog.ids.index("s1"), catalog.ids.index("h3")
    text = name == "text"  # its rows read the titles too (the series' members would move with them)
    night = _took(catalog, x, y, titles=text)
    deps = {d: fit_model(d, catalog, CONFIG, 42) for d in REGISTRY[name].depends}
    prev = fit_model(name, catalog, CONFIG, 42, deps)
    got = _update(name, prev, night, deps, [x])
    assert got is not None and got.item_ids == night.ids
    old, new = row_digests(prev), row_digests(got)
    assert old is not None and new is not None and old[1] == new[1]
    assert [p for p in range(len(night)) if old[0][p] != new[0][p]] == [x]
    keep = np.arange(len(night)) != x
    assert got.vectors[keep].tobytes() == prev.vectors[keep].tobytes()
    if name in TAG_ONLY or text:
        np.testing.assert_allclose(got.vectors[x], prev.vectors[y], rtol=1e-5, atol=1e-6)
    if name == "text" or term(prev.similarity, "description") is not None:
        part = got.similarity if name == "text" else term(got.similarity, "description")
        before = prev.similarity if name == "text" else term(prev.similarity, "description")
        assert (part.matrix[x] != before.matrix[y]).nnz == 0


@pytest.mark.parametrize("name", TAG_ONLY)
def test_a_new_tag_needs_a_cold_fit(name, catalog):
    prev = fit_model(name, catalog, CONFIG, 42)
    item = catalog.items[0]
    tags = dict(item.tag_groups)
    tags["genre"] = (*tags.get("genre", ()), "Isekai")
    from mangarec.catalog import make_tags

    items = (replace(item, tags=make_tags(tags)), *catalog.items[1:])
    night = Catalog(items=items, ratings=catalog.ratings, sources=catalog.sources)
    assert _update(name, prev, night, {}, [0]) is None


@pytest.mark.parametrize("name", WARM)
def test_removed_and_new_titles(name, catalog):
    """A removed title's row is dropped; a new title's row is computed; the rest are last night's."""
    deps = {d: fit_model(d, catalog, CONFIG, 42) for d in REGISTRY[name].depends}
    prev = fit_model(name, catalog, CONFIG, 42, deps)
    gone = catalog.ids.index("h2")
    new_item = replace(catalog.items[catalog.ids.index("h4")], id="h-new")
    items = tuple(it for k, it in enumerate(catalog.items) if k != gone) + (new_item,)
    night = Catalog(items=items, sources=catalog.sources)
    ndeps = {d: fit_model(d, night, CONFIG, 42) for d in REGISTRY[name].depends} if deps else {}
    got = _update(name, prev, night, ndeps, [])
    assert got is not None and got.item_ids == night.ids and "h2" not in got.item_ids
    before = {iid: prev.vectors[p].tobytes() for p, iid in enumerate(prev.item_ids)}
    assert all(got.vectors[p].tobytes() == before[iid] for p, iid in enumerate(night.ids) if iid != "h-new")
    if name in TAG_ONLY:
        np.testing.assert_allclose(got.vectors[-1], prev.vectors[prev.item_ids.index("h4")], rtol=1e-5, atol=1e-6)


def test_a_changed_popularity_moves_only_its_titles_prior(catalog):
    """The hybrid's prior is a quantile over the catalog: cold, one title's new popularity moves
    others' quantiles; warm, only that title's prior changes (its quantile among last night's)."""
    deps = {d: fit_model(d, catalog, CONFIG, 42) for d in REGISTRY["hybrid"].depends}
    prev = fit_model("hybrid", catalog, CONFIG, 42, deps)
    x = catalog.ids.index("s11")  # the least popular title (with h11) becomes the most popular
    items = tuple(replace(it, popularity=1000.0) if k == x else it for k, it in enumerate(catalog.items))
    night = Catalog(items=items, ratings=catalog.ratings, sources=catalog.sources)
    got = _update("hybrid", prev, night, deps, [x])
    assert got is not None and got.similarity.bias is not None and prev.similarity.bias is not None
    moved = np.flatnonzero(got.similarity.bias != prev.similarity.bias)
    assert moved.tolist() == [x] and got.similarity.bias[x] == max(got.similarity.bias)
    cold = fit_model("hybrid", night, CONFIG, 42, deps)
    assert np.count_nonzero(cold.similarity.bias != prev.similarity.bias) > 1

"""Contract suite: every model in the registry honours the same promises."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from mangarec.catalog import Catalog, Ratings
from mangarec.config import Config
from mangarec.embedding import Embedding, WarmUpdate
from mangarec.models import REGISTRY, available, fit_model
from mangarec.seeds import rng

# The contract catalog is a 24-item, rank-2 problem: ALS gets 2 factors (its default 32 would
# overfit 24 items, see docs/models.md); every other model runs with its defaults.
# Its titles differ only by a number ("Sports title 3"), so by the series rule each cluster is one
# series, which "similar titles" leaves out: the contract checks the hybrid with its series kept.
CONFIG = replace(
    Config(),
    models=replace(
        Config().models,
        als=replace(Config().models.als, factors=2),
        hybrid=replace(Config().models.hybrid, leave_out_series=False),
    ),
)


def contract_catalog(base: Catalog) -> Catalog:
    """The two-cluster catalog plus ratings: group 0 loves sports titles, group 1 horror ones.

    40 users (even = group 0, odd = group 1); each rates 8 random titles of their own cluster
    7-10 (explicit, 1-10) and nothing else, so that the clusters are obvious under implicit
    feedback (any rating is a "watched") as well as explicit.
    """
    g = rng(7, "contract-ratings")
    sports = [k for k, i in enumerate(base.items) if i.id.startswith("s")]
    horror = [k for k, i in enumerate(base.items) if i.id.startswith("h")]
    rows, cols, vals = [], [], []
    for u in range(40):
        own = sports if u % 2 == 0 else horror
        for k in g.choice(own, size=8, replace=False):
            rows.append(u), cols.append(int(k)), vals.append(float(g.integers(7, 11)))
    m = sp.csr_matrix((np.array(vals, np.float32), (rows, cols)), shape=(40, len(base)), dtype=np.float32)
    ratings = Ratings(matrix=m, user_ids=tuple(f"u{u}" for u in range(40)), implicit=False, source="contract")
    return Catalog(items=base.items, ratings=ratings, sources=base.sources)


@pytest.fixture
def catalog(two_clusters: Catalog) -> Catalog:
    return contract_catalog(two_clusters)


def _cosine(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float64)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    s = v @ v.T
    np.fill_diagonal(s, -np.inf)
    return s


def _model_modules() -> set[str]:
    """Every module of mangarec/models that is not private, base or a helper without a SPEC."""
    import pkgutil

    import mangarec.models as pkg

    return {m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_") and m.name != "base"}


def test_registry_holds_every_model_module_with_a_spec():
    import importlib

    with_spec = {m for m in _model_modules() if hasattr(importlib.import_module(f"mangarec.models.{m}"), "SPEC")}
    assert set(REGISTRY) == with_spec
    assert {
        "lsi",
        "word2vec",
        "network",
        "text",
        "hybrid",
        "colike",
        "als",
        "jaccard",
        "series",
        "deconvolution",
        "silencing",
    } <= set(REGISTRY)
    assert list(REGISTRY) == sorted(REGISTRY, key=lambda n: (REGISTRY[n].order, n))


@pytest.mark.parametrize("name", list(REGISTRY))
def test_spec_is_complete(name):
    s = REGISTRY[name]
    assert s.name == name and s.label and s.summary
    assert dataclasses.is_dataclass(s.params) and s.params.__dataclass_params__.frozen
    for f in dataclasses.fields(s.params):
        assert f.metadata.get("doc"), f"models.{name}.{f.name} has no doc"
        if f.type in ("int", int):
            assert f.metadata.get("check") is not None, f"models.{name}.{f.name}: a size key needs a bound"
    assert set(s.needs) <= {"tags", "descriptions", "ratings"}
    assert all(d in REGISTRY for d in s.depends)
    assert s.solve is not None or not s.trained_on_ratings  # a rating-trained model solves its users


def test_config_sections_come_from_the_registry():
    assert tuple(f.name for f in dataclasses.fields(Config().models)) == tuple(REGISTRY)
    for name, s in REGISTRY.items():
        assert isinstance(getattr(Config().models, name), s.params)


def test_fit_model_rejects_unknown_name(catalog):
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        fit_model("nope", catalog, Config(), 1)


def test_available_leaves_out_models_without_their_input(two_clusters):
    no_text = Catalog(items=tuple(replace(i, description="") for i in two_clusters.items))
    kept, why = available(no_text, list(REGISTRY))
    assert "text" not in kept and "als" not in kept
    assert "hybrid" in kept  # its tag terms need no text
    assert why["text"] == "the catalog has no descriptions" and "ratings" in why["als"]
    assert "lsi" in kept


@pytest.mark.parametrize("name", list(REGISTRY))
def test_shape_ids_dtype_finite(name, catalog):
    emb = fit_model(name, catalog, CONFIG, 42)
    assert isinstance(emb, Embedding)
    assert emb.model == name
    assert tuple(emb.item_ids) == catalog.ids
    assert emb.vectors.dtype == np.float32
    assert emb.vectors.ndim == 2 and emb.vectors.shape[0] == len(catalog) and emb.vectors.shape[1] >= 1
    assert np.isfinite(emb.vectors).all()
    assert (np.linalg.norm(emb.vectors, axis=1) > 0).all(), "every item has tags and text: no zero rows"
    if emb.tag_vectors is not None:
        assert emb.tag_vectors.dtype == np.float32
        assert emb.tag_vectors.shape == (len(emb.tag_ids), emb.dim)
        assert np.isfinite(emb.tag_vectors).all()
        assert set(emb.tag_ids) <= set(catalog.tag_vocabulary)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_deterministic(name, catalog):
    a = fit_model(name, catalog, CONFIG, 42)
    b = fit_model(name, catalog, CONFIG, 42)
    _same_fit(a, b)


def _same_fit(a: Embedding, b: Embedding) -> None:
    """``a`` and ``b`` hold the same bytes: vectors, tag vectors, the similarity's scores."""
    assert a.vectors.dtype == b.vectors.dtype and a.vectors.tobytes() == b.vectors.tobytes()
    assert a.tag_ids == b.tag_ids and (a.tag_vectors is None) == (b.tag_vectors is None)
    if a.tag_vectors is not None:
        assert a.tag_vectors.tobytes() == b.tag_vectors.tobytes()
    assert (a.similarity is None) == (b.similarity is None)
    if a.similarity is not None:
        rows = np.arange(len(a.item_ids))
        assert a.similarity.block64(rows).tobytes() == b.similarity.block64(rows).tobytes()


@pytest.mark.parametrize("name", list(REGISTRY))
def test_direct_fit_matches_fit_model(name, catalog):
    from mangarec.seeds import derive_seed

    config = CONFIG
    deps = {d: fit_model(d, catalog, config, 5) for d in REGISTRY[name].depends}
    direct = REGISTRY[name].fit(catalog, getattr(config.models, name), derive_seed(5, "model", name), deps)
    assert direct.vectors.tobytes() == fit_model(name, catalog, config, 5).vectors.tobytes()


@pytest.mark.parametrize("name", list(REGISTRY))
def test_two_clusters_are_separated(name, catalog):
    """Under the model's own ranking: cosine of its vectors, or its similarity when it has one."""
    from mangarec import neighbours

    emb = fit_model(name, catalog, CONFIG, 42)
    nb = neighbours.exact(emb, 5, catalog.tie_order)
    cluster = np.array([i.id[0] for i in catalog.items])
    for i in range(len(catalog)):
        top = nb.indices[i]
        assert (cluster[top] == cluster[i]).all(), (
            f"{name}: neighbours of {catalog.ids[i]} are {[catalog.ids[j] for j in top]}"
        )


@pytest.mark.parametrize("name", ["lsi", "network"])
def test_exact_tag_models_do_not_depend_on_catalog_order(name, catalog):
    base = fit_model(name, catalog, CONFIG, 42)
    order = np.arange(len(catalog))[::-1]
    rev = fit_model(name, catalog.subset(order), CONFIG, 42)
    pos = {iid: k for k, iid in enumerate(rev.item_ids)}
    back = rev.vectors[[pos[i] for i in base.item_ids]]
    np.testing.assert_allclose(_cosine(back), _cosine(base.vectors), atol=1e-5)


@pytest.mark.parametrize("name", ["word2vec", "als"])
def test_seed_is_used(name, catalog):
    """Models with a random component: the seed reaches it."""
    a = fit_model(name, catalog, CONFIG, 1)
    b = fit_model(name, catalog, CONFIG, 2)
    assert a.vectors.tobytes() != b.vectors.tobytes()


@pytest.mark.parametrize("name", [n for n, s in REGISTRY.items() if not s.trained_on_ratings])
def test_dense_coordinates_exist_for_the_maps(name, catalog):
    """A model ranked by its own similarity still gives dense vectors (maps, published JSON)."""
    emb = fit_model(name, catalog, CONFIG, 42)
    assert emb.vectors.shape[1] >= 1 and np.isfinite(emb.vectors).all()
    if emb.similarity is not None:
        assert emb.similarity.n == len(catalog)


def _other_fields_changed(catalog: Catalog, kept: frozenset[str]) -> Catalog:
    """``catalog`` with every field of :data:`~mangarec.catalog.FIELDS` outside ``kept`` changed
    (ids and their order stay)."""
    from mangarec.catalog import Related, make_tags

    items = []
    n = len(catalog.items)
    for k, it in enumerate(catalog.items):
        ch: dict = {}
        if "titles" not in kept:
            ch.update(title=f"Renamed {k % 3} {it.title[::-1]}", alt_titles=("Zeta",), kind="anime", type="Movie")
        if "tags" not in kept:
            ch.update(tags=make_tags({"genre": [*it.tag_list[1:], "Extra", f"Odd {k % 2}"]}))
        if "descriptions" not in kept:
            ch.update(description=f"Another text entirely, about chapter {k % 4} and a zebra.")
        if "popularity" not in kept:
            ch.update(popularity=float(k), score=5.0 + k % 3)
        if "links" not in kept:
            ch.update(related=(Related(id=catalog.items[(k + 1) % n].id, type="sequel"),))
        if "details" not in kept:
            ch.update(year=1990 + k, date="2001-02-03", url="https://example.org/x", external=(("mal", str(k)),))
        if "matches" not in kept:
            ch.update(matches=(catalog.items[(k + 2) % n].id,))
        items.append(replace(it, **ch))
    return Catalog(items=tuple(items), ratings=catalog.ratings if "ratings" in kept else None, sources=catalog.sources)


def _parts(emb: Embedding) -> tuple:
    from mangarec.cache import _to_parts

    meta, arrays = _to_parts(emb)
    meta["info"] = {k: v for k, v in meta["info"].items() if "seconds" not in k}
    return meta, {k: v.tobytes() for k, v in arrays.items()}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_a_model_reads_no_field_outside_its_declaration(name, catalog):
    """The cache keys a model by the fingerprints of ``spec.fields`` only: a change to any other
    field of the catalog must leave its embedding (vectors, similarity, info) unchanged."""
    s = REGISTRY[name]
    changed = _other_fields_changed(catalog, s.fields)
    assert changed.fields_fingerprint(s.fields) == catalog.fields_fingerprint(s.fields)
    assert changed.fingerprint != catalog.fingerprint
    deps = {d: fit_model(d, catalog, CONFIG, 42) for d in s.depends}
    assert _parts(fit_model(name, changed, CONFIG, 42, deps)) == _parts(fit_model(name, catalog, CONFIG, 42, deps))


@pytest.mark.parametrize("name", list(REGISTRY))
def test_cache_round_trip(name, catalog, tmp_path):
    """What the stage cache stores comes back as it was: vectors, tags, info, similarity, fold-in,
    the series membership and (a warm night's copy) the warm update."""
    from mangarec.cache import Cache

    emb = fit_model(name, catalog, CONFIG, 42)
    warm = replace(emb, warm=WarmUpdate(rows_updated=3, state_from="2026-12-01"))
    Cache(tmp_path).put("k", emb)
    Cache(tmp_path).put("w", warm)
    back = Cache(tmp_path).get("k")
    assert isinstance(back, Embedding) and back.model == emb.model and back.item_ids == emb.item_ids
    _same_fit(back, emb)
    assert json.loads(json.dumps(back.info)) == json.loads(json.dumps(emb.info))
    assert back.foldin == emb.foldin
    assert back.membership == emb.membership and back.warm is None
    assert Cache(tmp_path).get("w").warm == warm.warm


@pytest.mark.parametrize("name", list(REGISTRY))
def test_a_list_shown_apart_carries_its_membership(name, catalog):
    """A list shown apart ("Same series", ``spec.apart``) shows only its members, and the models
    leaving the series out apply its rule: both read ``Embedding.membership``, which the fit of
    every such model sets, and no other model's does."""
    emb = fit_model(name, catalog, CONFIG, 42)
    assert (emb.membership is not None) == REGISTRY[name].apart, name


@pytest.mark.parametrize("name", list(REGISTRY))
def test_fold_in_puts_a_visitor_in_their_cluster(name, catalog):
    """The embedding's fold-in, published and read by the client as a visitor's browser reads it:
    three sports likes bring sports titles first (and three horror likes, horror titles)."""
    from mangarec import client, publish
    from mangarec.foldin import MODES, Foldin

    emb = fit_model(name, catalog, CONFIG, 42)
    fold = emb.foldin
    assert isinstance(fold, Foldin) and fold.mode in MODES and fold.reg > 0
    doc = publish.build_payload(
        catalog, emb, reg=fold.reg, mode=fold.mode, alpha=fold.alpha, schedule=fold.schedule, build_date="contract"
    )
    model = client.parse(doc)
    for prefix in ("s", "h"):
        own = [i for i in catalog.ids if i.startswith(prefix)]
        recs = model.recommend({i: "like" for i in own[:3]}, n=5)
        assert [r[0][0] for r in recs] == [prefix] * 5, f"{name}: {own[:3]} liked, {recs} recommended"


@pytest.mark.parametrize("name", [n for n, s in REGISTRY.items() if s.trained_on_ratings])
def test_solve_is_the_exact_fold_in_of_training_users(name, catalog):
    """A rating-trained model's own "solve these users" (what the evaluation scores its held-out
    fit with) gives each user the taste vector the per-user exact fold-in (:func:`foldin.fold_in`,
    the client's and taste.js's maths) gives with training's settings from ``emb.foldin``."""
    from mangarec.evaluation.protocol import canonical
    from mangarec.foldin import fold_in

    emb = fit_model(name, catalog, CONFIG, 42)
    f = emb.foldin
    V = f.training_values(canonical(catalog.ratings.matrix))
    X = REGISTRY[name].solve(emb, V)
    assert X.shape == (V.shape[0], emb.dim) and np.isfinite(X).all() and np.abs(X).max() > 0
    Y = emb.vectors.astype(np.float64)
    for u in range(0, V.shape[0], 7):
        idx, vals = V.indices[V.indptr[u] : V.indptr[u + 1]], V.data[V.indptr[u] : V.indptr[u + 1]]
        x = fold_in(Y, idx, vals, f.fit_reg, f.mode, alpha=f.fit_alpha, nu=f.reg_exponent, reg_cols=V.shape[1])
        np.testing.assert_allclose(X[u], x, rtol=2e-3, atol=2e-4 * max(1.0, np.abs(x).max()))

"""The published embeddings JSON: schema, round trip, size, determinism, quantisation quality."""

from __future__ import annotations

import gzip
import json

import jsonschema
import numpy as np
import pytest
import scipy.sparse as sp

from mangarec import publish
from mangarec.client import parse
from mangarec.embedding import Embedding
from mangarec.errors import InputError
from mangarec.foldin import to_values
from mangarec.models import als
from mangarec.models.als import Params as ALSParams
from tests.schema_check import validate
from tests.test_als import planted_catalog

DATE = "2026-11-23T00:00:00Z"


@pytest.fixture(scope="module")
def fitted():
    """A 400-title catalog (10 without ratings) and its 32-factor ALS embedding."""
    catalog, _ = planted_catalog(n_users=300, n_items=400, density=0.15, unrated=10, rank=4)
    emb = als.fit(catalog, ALSParams(factors=32, regularization=0.1, iterations=6, feedback="explicit"), seed=11)
    return catalog, emb


def _schema() -> dict:
    return json.loads(publish.SCHEMA_FILE.read_text())


def test_payload_validates_against_the_json_schema(fitted):
    catalog, emb = fitted
    validator = jsonschema.Draft202012Validator(_schema())
    jsonschema.Draft202012Validator.check_schema(_schema())
    from mangarec.foldin import Schedule

    sched = Schedule(few=12, many=48, alpha_many=10.0, reg_many=50.0)
    for kw in ({}, {"top_n": 50}, {"titles": True}, {"encoding": "int-list"}, {"schedule": sched}):
        payload = publish.build_payload(catalog, emb, reg=0.1, mode="explicit", build_date=DATE, **kw)
        validator.validate(json.loads(publish.dumps(payload)))
    bad = publish.build_payload(catalog, emb, reg=0.1, mode="explicit", build_date=DATE)
    bad["fold_in"]["mode"] = "sideways"
    assert not validator.is_valid(bad)
    bad = publish.build_payload(catalog, emb, reg=0.1, mode="explicit", build_date=DATE, encoding="int-list")
    bad["items"]["vectors"][0] = 128
    assert not validator.is_valid(bad)


def test_payload_fields(fitted):
    catalog, emb = fitted
    p = publish.build_payload(catalog, emb, reg=0.25, mode="implicit", alpha=5.0, build_date=DATE)
    assert p["schema"] == "mangarec-embeddings" and p["version"] == 3 and p["model"] == "als"
    assert p["dim"] == 32 and p["count"] == 400 and p["subset"] is None
    assert p["catalog_hash"] == catalog.fingerprint and p["build_date"] == DATE
    # an explicit fit: the legacy value mapping (likes +1, dislikes -1, numbers centred)
    assert p["fold_in"] == {
        "mode": "implicit",
        "reg": 0.25,
        "alpha": 5.0,
        "like": 1.0,
        "dislike": -1.0,
        "feedback": "explicit",
        "threshold": 0.0,
        "step": 1.0,
        "reg_exponent": 0.0,
        "reg_cols": 400,
        "schedule": None,
    }
    # rows are most popular first, so a score tie goes to the more popular title
    expect = [catalog.ids[k] for k in np.argsort(catalog.tie_order)]
    assert p["items"]["ids"] == expect
    assert p["tags"]["ids"] == list(catalog.tag_vocabulary)
    assert "titles" not in p["items"]
    top = publish.build_payload(catalog, emb, reg=0.25, mode="implicit", build_date=DATE, top_n=50)
    assert top["items"]["ids"] == expect[:50] and top["subset"] == {"top_n": 50, "of": 400}
    with pytest.raises(InputError, match="mode"):
        publish.build_payload(catalog, emb, reg=0.1, mode="bogus", build_date=DATE)


def test_quantisation_round_trip(fitted):
    catalog, emb = fitted
    p = json.loads(publish.dumps(publish.build_payload(catalog, emb, reg=0.1, mode="explicit", build_date=DATE)))
    model = parse(p)
    order = np.argsort(catalog.tie_order)
    V = emb.vectors.astype(np.float64)[order]
    scale = np.asarray(p["items"]["scale"])
    err = np.abs(model.vectors - V)
    assert (err <= scale[None, :] * 0.5 + 1e-9).all()
    # the largest entry of every dimension maps to +-127
    q = np.frombuffer(__import__("base64").b64decode(p["items"]["vectors"]), dtype=np.int8).reshape(400, 32)
    assert (np.abs(q).max(axis=0) == 127).all()
    listed = parse(
        json.loads(
            publish.dumps(
                publish.build_payload(catalog, emb, reg=0.1, mode="explicit", build_date=DATE, encoding="int-list")
            )
        )
    )
    assert np.array_equal(listed.vectors, model.vectors)
    np.testing.assert_allclose(model.tag_vectors, emb.tag_vectors, atol=float(max(p["tags"]["scale"])))


def test_quantise_edge_cases():
    q, s = publish.quantise(np.zeros((3, 2)))
    assert not q.any() and not s.any()
    q, s = publish.quantise(np.array([[1.0, -2.0], [-0.6, 1.0]]))
    assert q.tolist() == [[127, -127], [-76, 64]]
    assert s.tolist() == [0.007874016, 0.01574803]
    with pytest.raises(ValueError):
        publish.quantise(np.array([[np.nan]]))


def test_size_of_a_400_title_catalog_is_under_100_kb(fitted):
    catalog, emb = fitted
    p = publish.build_payload(catalog, emb, reg=0.1, mode="explicit", build_date=DATE)
    gz = publish.gzip_bytes(publish.dumps(p))
    assert len(gz) <= 100_000, len(gz)
    # base64 int8 (the default) gzips smaller than a list of ints
    listed = publish.build_payload(catalog, emb, reg=0.1, mode="explicit", build_date=DATE, encoding="int-list")
    assert len(gz) < len(publish.gzip_bytes(publish.dumps(listed)))


def test_bytes_are_deterministic(fitted, tmp_path):
    catalog, emb = fitted
    a = publish.write_embeddings(tmp_path / "a", catalog, emb, reg=0.1, mode="explicit", build_date=DATE, top_n=100)
    emb2 = als.fit(catalog, ALSParams(factors=32, regularization=0.1, iterations=6, feedback="explicit"), seed=11)
    b = publish.write_embeddings(tmp_path / "b", catalog, emb2, reg=0.1, mode="explicit", build_date=DATE, top_n=100)
    assert a == b
    assert set(a) == {
        "data/embeddings.json",
        "data/embeddings.json.gz",
        "data/embeddings-top.json",
        "data/embeddings-top.json.gz",
        "data/embeddings-titles.json",
        "data/embeddings-titles.json.gz",
        "data/embeddings.schema.json",
    }
    for rel, size in a.items():
        da, db = (tmp_path / "a" / rel).read_bytes(), (tmp_path / "b" / rel).read_bytes()
        assert da == db and len(da) == size
    raw = (tmp_path / "a/data/embeddings.json").read_bytes()
    assert gzip.decompress((tmp_path / "a/data/embeddings.json.gz").read_bytes()) == raw
    assert (
        raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    )
    assert (tmp_path / "a/data/embeddings.schema.json").read_bytes() == publish.SCHEMA_FILE.read_bytes()
    top = json.loads((tmp_path / "a/data/embeddings-top.json").read_text())
    assert top["count"] == 100
    titles = json.loads((tmp_path / "a/data/embeddings-titles.json").read_text())
    assert titles["ids"] == json.loads(raw)["items"]["ids"] and titles["titles"][0].startswith("Title <")
    # no stray temporary files
    assert sorted(p.name for p in (tmp_path / "a/data").iterdir()) == sorted(r.split("/")[1] for r in a)


def test_quantised_fold_in_agrees_with_full_precision(fitted):
    catalog, emb = fitted
    model = parse(
        json.loads(publish.dumps(publish.build_payload(catalog, emb, reg=0.1, mode="explicit", build_date=DATE)))
    )
    order = np.argsort(catalog.tie_order)
    full = emb.vectors.astype(np.float64)[order]
    R = sp.csr_matrix(catalog.ratings.matrix)[:, order].tocsr()
    g = np.random.default_rng(0)
    profiles = []
    for u in g.choice(R.shape[0], 60, replace=False):
        cols = R.indices[R.indptr[u] : R.indptr[u + 1]]
        vals = R.data[R.indptr[u] : R.indptr[u + 1]]
        keep = g.permutation(len(cols))[:12]
        ratings = {model.ids[c]: float(v) for c, v in zip(cols[keep], vals[keep])}
        profiles.append(to_values(ratings, model.index))
    agree = publish.top_overlap(full, model.vectors, profiles, reg=0.1, mode="explicit")
    assert agree >= 0.8, agree
    agree_i = publish.top_overlap(full, model.vectors, profiles, reg=0.1, mode="implicit", alpha=5.0)
    assert agree_i >= 0.8, agree_i
    # and an unrelated random matrix does not agree: the measure can fail
    rnd = np.random.default_rng(1).normal(size=full.shape)
    assert publish.top_overlap(full, rnd, profiles, reg=0.1, mode="explicit") < 0.3


def test_embedding_must_follow_catalog_order(fitted):
    catalog, emb = fitted
    wrong = Embedding(model="als", item_ids=tuple(reversed(emb.item_ids)), vectors=emb.vectors)
    with pytest.raises(ValueError, match="catalog"):
        publish.build_payload(catalog, wrong, reg=0.1, mode="explicit", build_date=DATE)
    no_tags = Embedding(model="lsi", item_ids=emb.item_ids, vectors=emb.vectors)
    p = publish.build_payload(catalog, no_tags, reg=0.1, mode="explicit", build_date=DATE)
    assert p["tags"] is None and p["model"] == "lsi"
    validate(json.loads(publish.dumps(p)), _schema())


def test_alpha_defaults_to_the_embeddings_training_alpha(fitted):
    from mangarec.foldin import Foldin

    catalog, emb = fitted
    fold = Foldin(mode="implicit", fit_alpha=4.0)
    imp = Embedding(model="als", item_ids=emb.item_ids, vectors=emb.vectors, info={"alpha": 9.0}, foldin=fold)
    p = publish.build_payload(catalog, imp, reg=0.1, mode="implicit", build_date=DATE)
    assert p["fold_in"]["alpha"] == 4.0
    p = publish.build_payload(catalog, imp, reg=0.1, mode="implicit", build_date=DATE, alpha=2.0)
    assert p["fold_in"]["alpha"] == 2.0
    assert publish.build_payload(catalog, emb, reg=0.1, mode="explicit", build_date=DATE)["fold_in"]["alpha"] == 1.0


def _fixture_catalog(root):
    """anime-recdb's 400-title fixture (real MAL titles and 22,564 real ratings)."""
    import csv
    import html

    from mangarec.catalog import Catalog, Item, Ratings, make_tags

    with open(root / "fixture_anime.csv", encoding="utf-8", newline="") as f:
        items = [
            Item(
                id=r["anime_id"],
                title=html.unescape(r["name"]),
                kind="anime",
                tags=make_tags({"genre": [g.strip() for g in r["genre"].split(",") if g.strip()]}),
                popularity=float(r["members"]),
            )
            for r in csv.DictReader(f)
        ]
    index = {it.id: k for k, it in enumerate(items)}
    with open(root / "fixture_ratings.csv", encoding="utf-8", newline="") as f:
        rows = [(r["user_id"], index[r["anime_id"]], float(r["rating"])) for r in csv.DictReader(f)]
    users = sorted({u for u, _, _ in rows}, key=int)
    upos = {u: k for k, u in enumerate(users)}
    M = sp.csr_matrix(
        ([v for _, _, v in rows], ([upos[u] for u, _, _ in rows], [c for _, c, _ in rows])),
        shape=(len(users), len(items)),
        dtype=np.float32,
    )
    return Catalog(
        items=tuple(items),
        ratings=Ratings(matrix=M, user_ids=tuple(users), source="fixture"),
        sources=("anime-recdb fixture",),
    )


def test_real_400_title_fixture_fits_the_budget(shared_data, tmp_path):
    catalog = _fixture_catalog(shared_data / "anime-recdb")
    assert len(catalog) == 400 and catalog.ratings.nnz == 22_564
    emb = als.fit(catalog, ALSParams(factors=32, regularization=0.1, iterations=10, feedback="explicit"), seed=42)
    sizes = publish.write_embeddings(tmp_path, catalog, emb, reg=0.1, mode="explicit", build_date=DATE, top_n=200)
    assert sizes["data/embeddings.json.gz"] <= 100_000
    model = parse(json.loads((tmp_path / "data/embeddings.json").read_text()))
    order = np.argsort(catalog.tie_order)
    R = catalog.ratings.matrix[:, order].tocsr()
    profiles = [
        to_values(
            {
                model.ids[c]: float(v)
                for c, v in zip(
                    R.indices[R.indptr[u] : R.indptr[u + 1]][:15], R.data[R.indptr[u] : R.indptr[u + 1]][:15]
                )
            },
            model.index,
        )
        for u in range(0, 300, 5)
    ]
    assert (
        publish.top_overlap(emb.vectors.astype(np.float64)[order], model.vectors, profiles, reg=0.1, mode="explicit")
        >= 0.8
    )


# --------------------------------------------------------------------------------------------
# content models: unit rows (a visitor's fold-in ranks by cosine), one work in several formats


def _content_catalog():
    from mangarec.catalog import Catalog, Item, make_tags

    items = (
        Item(
            id="a1", title="Death Note", kind="anime", tags=make_tags({"genre": ["Mystery", "Thriller"]}), popularity=9
        ),
        Item(
            id="m1", title="Death Note", kind="manga", tags=make_tags({"genre": ["Mystery", "Thriller"]}), popularity=8
        ),
        Item(id="m2", title="One Tag", kind="manga", tags=make_tags({"genre": ["Mystery"]}), popularity=1),
        Item(id="m3", title="Other", kind="manga", tags=make_tags({"genre": ["Thriller", "Drama"]}), popularity=5),
    )
    return Catalog(items=items)


def test_content_vectors_are_published_unit_length():
    from mangarec.models import lsi

    cat = _content_catalog()
    emb = lsi.fit(cat, lsi.Params(weighting="tfidf", dim=2), 0)
    assert not np.allclose(np.linalg.norm(emb.vectors, axis=1), 1.0)  # LSI rows are U Σ: not unit
    model = parse(publish.build_payload(cat, emb, reg=0.1, mode="explicit", build_date="d"))
    np.testing.assert_allclose(np.linalg.norm(model.vectors, axis=1), 1.0, atol=0.02)


def test_a_visitor_who_likes_one_title_gets_the_cosine_ranking():
    """The first release folded a like into LSI rows of any norm: titles with one tag and a large
    norm won. On unit rows one like ranks by cosine (any of equally similar titles is right)."""
    from mangarec.catalog import Catalog, Item, make_tags
    from mangarec.foldin import fold_in, rank
    from mangarec.models import lsi

    g = np.random.default_rng(0)
    names = [f"T{t}" for t in range(12)]
    items = tuple(
        Item(
            id=f"i{k}",
            title=f"t{k}",
            kind="manga",
            popularity=float(g.integers(0, 50)),
            tags=make_tags({"genre": list(g.choice(names, size=int(g.integers(1, 6)), replace=False))}),
        )
        for k in range(200)
    )
    cat = Catalog(items=items)
    b = cat.tag_matrix.toarray().astype(np.float64)
    u = b / np.linalg.norm(b, axis=1, keepdims=True)
    cos = u @ u.T

    def precision(Y, rows):
        hits = []
        for i in rows:
            top = rank(Y, fold_in(Y, [i], [1.0], 0.1, "explicit"), exclude=[i], n=10)[0]
            others = np.delete(cos[i], i)
            kth = np.sort(others)[::-1][9]
            hits.append(np.mean(cos[i, top] >= kth - 1e-6))
        return float(np.mean(hits))

    rows = range(0, 200, 5)
    model = parse(publish.build_payload(cat, lsi.fit(cat, lsi.Params(), 0), reg=0.1, mode="explicit", build_date="d"))
    published = model.vectors[[model.index[i] for i in cat.ids]]
    old = lsi.fit(cat, lsi.Params(weighting="tfidf", dim=6), 0).vectors.astype(np.float64)
    assert precision(published, rows) > 0.97
    assert precision(old, rows) < 0.8  # the first release's vectors as published then


def test_profile_vectors_are_published_as_the_spec_declares(monkeypatch):
    """``ModelSpec.published_as_fitted`` decides (the hybrid's profile vectors), not a string
    in ``Embedding.info`` (issue 21: nothing parses the fit's record): a renamed copy of the
    hybrid's spec publishes as fitted, the same copy without the declaration as unit rows."""
    from dataclasses import replace

    from mangarec.models import REGISTRY

    cat = _content_catalog()
    v = np.array([[0.6, 0.8, 0.7], [0.6, 0.8, 0.7], [1.0, 0.0, 0.0], [0.0, 1.0, 0.7]], dtype=np.float32)
    assert REGISTRY["hybrid"].published_as_fitted
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    for fitted, want in ((True, v), (False, unit)):
        monkeypatch.setitem(
            REGISTRY, "toyprofile", replace(REGISTRY["hybrid"], name="toyprofile", published_as_fitted=fitted)
        )  # type: ignore[index]
        emb = Embedding("toyprofile", cat.ids, v, info={"published_vectors": "profile"})
        model = parse(publish.build_payload(cat, emb, reg=0.1, mode="explicit", build_date="d"))
        pos = [model.index[i] for i in cat.ids]
        np.testing.assert_allclose(model.vectors[pos], want, atol=0.01)


def test_works_are_published_and_never_recommended_back():
    cat = _content_catalog()
    emb = Embedding("lsi", cat.ids, cat.tag_matrix.toarray().astype(np.float32))
    doc = publish.build_payload(cat, emb, reg=0.1, mode="explicit", build_date="d")
    assert doc["works"] == [["a1", "m1"]]
    validate(doc, json.loads(publish.SCHEMA_FILE.read_text()))
    model = parse(doc)
    got = [r for r, _ in model.recommend({"a1": "like"}, n=3)]
    assert "m1" not in got and "a1" not in got
    assert [r for r, _ in model.recommend({"a1": "like"}, n=3, exclude_rated=False)][0] in ("a1", "m1")
    top = publish.build_payload(cat, emb, reg=0.1, mode="explicit", build_date="d", top_n=1)
    assert "works" not in top  # a group needs two of its members in the file

"""The compact published model (version 4): rotation, b-bit codes, shards, readers, bounds."""

from __future__ import annotations

import base64
import json

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec import client, compact, publish, published
from mangarec.errors import InputError
from mangarec.foldin import Schedule
from mangarec.models import als
from mangarec.models.als import Params as ALSParams
from tests.schema_check import validate
from tests.test_als import planted_catalog

DATE = "2026-11-23"
SCHEDULE = Schedule(few=2, many=8, alpha_many=4.0, reg_many=0.5)


@pytest.fixture(scope="module")
def fitted():
    catalog, _ = planted_catalog(n_users=250, n_items=200, density=0.15, unrated=6, rank=4)
    params = ALSParams(factors=16, regularization=0.1, iterations=5, feedback="likes", scale="1-10", like_threshold=7.0)
    return catalog, als.fit(catalog, params, seed=4)


def _compact(fitted, **kw):
    catalog, emb = fitted
    opts = dict(dims=0, bits=8, recommend_n=60, shard_size=8)
    opts.update(kw)
    return compact.build_compact(
        catalog, emb, reg=2.0, mode="implicit", alpha=20.0, schedule=SCHEDULE, build_date=DATE, **opts
    )


def _likes(catalog, rows):
    order = np.argsort(catalog.tie_order, kind="stable")
    return {catalog.ids[order[r]]: "like" for r in rows}


def test_rotation_keeps_dot_products_and_orders_energy():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((300, 6)) @ np.diag([5, 3, 2, 1, 0.5, 0.1])
    w, V = compact.principal_basis(Y)
    assert np.all(np.diff(w) <= 1e-9) and np.allclose(V.T @ V, np.eye(6))
    R = Y @ V
    assert np.allclose(R @ R.T, Y @ Y.T)  # a rotation: every dot product kept
    assert np.allclose(R.T @ R, np.diag(w), atol=1e-8)  # the published Gram is diagonal
    c = compact.compact(Y, dims=2, bits=8)
    assert c.codes.shape == (300, 2) and 0.8 < c.energy < 1.0
    # signs do not depend on the input's sign convention
    assert np.allclose(compact.principal_basis(-Y)[1], V)


@given(bits=st.integers(2, 8), shared=st.booleans(), seed=st.integers(0, 2**16))
@settings(max_examples=40, deadline=None)
def test_codes_stay_within_their_bits(bits, shared, seed):
    V = np.random.default_rng(seed).standard_normal((50, 5)) * np.array([4, 2, 1, 0.5, 0.0])
    q, scale = compact.quantise_bits(V, bits, shared=shared)
    m = compact.qmax(bits)
    assert q.dtype == np.int8 and np.abs(q).max() <= m
    if shared:
        assert len(set(scale.tolist())) == 1  # one step for every direction
    else:
        assert scale[-1] == 0 and not q[:, -1].any()
    inside = np.abs(V) <= m * scale[None, :]
    err = np.abs(q * scale[None, :] - V)
    assert np.all(err[inside] <= scale[None, :].repeat(len(V), 0)[inside] / 2 + 1e-12)


def test_document_and_shards_validate_and_round_trip(fitted):
    catalog, emb = fitted
    doc, shards = _compact(fitted)
    schema = json.loads(publish.SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validate(json.loads(publish.dumps(doc)), schema)
    shard_schema = dict(schema["$defs"]["shard"], **{"$defs": schema["$defs"]})
    for sh in shards.values():
        validate(json.loads(publish.dumps(sh)), shard_schema)
    v3 = publish.build_payload(catalog, emb, reg=2.0, mode="implicit", alpha=20.0, build_date=DATE, top_n=None)
    validate(json.loads(publish.dumps(v3)), schema)  # version 3 still validates
    assert doc["version"] == 4 and doc["count"] == 60 and doc["subset"] == {"top_n": 60, "of": len(catalog)}
    assert sum(len(s["ids"]) for s in shards.values()) == len(catalog) - 60 == doc["shards"]["items"]
    # every title is up front or in the shard its hash names, exactly once
    ids = list(doc["items"]["ids"]) + [i for s in shards.values() for i in s["ids"]]
    assert sorted(ids) == sorted(catalog.ids)
    for k, s in shards.items():
        assert all(compact.shard_of(i, doc["shards"]["count"]) == k for i in s["ids"])
    m = client.parse(doc, "x", shards.values())
    assert m.n_recommendable == 60 and len(m.ids) == len(catalog)
    # 8 bits, every direction: the same picks as the full version-3 file
    full = client.parse(v3)
    likes = _likes(catalog, [0, 3, 7, 90, 120])  # two rated titles are in shards only
    fresh = {i for i, _ in full.recommend(likes, n=200)}
    got = m.recommend(likes, n=10)
    assert all(i in m.ids[:60] for i, _ in got)
    want = [i for i, _ in full.recommend(likes, n=200) if i in set(m.ids[:60])][:10]
    assert len({i for i, _ in got} & set(want)) >= 8 and {i for i, _ in got} <= fresh


def test_a_rated_title_in_a_shard_moves_the_taste(fitted):
    catalog, _ = fitted
    doc, shards = _compact(fitted)
    likes = _likes(catalog, [0, 150])
    front = client.parse(doc, "x")  # no shard: row 150 is unknown
    every = client.parse(doc, "x", shards.values())
    assert not np.allclose(front.fit(likes), every.fit(likes))
    assert np.allclose(front.fit(_likes(catalog, [0])), every.fit(_likes(catalog, [0])))


def _write(fitted, out):
    catalog, emb = fitted
    opts = compact.CompactOptions(titles=60, dims=8, bits=5, shard_size=8)
    kw = dict(reg=2.0, mode="implicit", alpha=20.0, build_date=DATE, top_n=40)
    return published.write_published(out, catalog, emb, compact=opts, **kw)


def test_written_files_load_from_disk_and_shards_only_when_asked(fitted, tmp_path):
    catalog, emb = fitted
    sizes = _write(fitted, tmp_path)
    data = tmp_path / "data"
    assert sizes["data/embeddings-compact.bin"] == 60 * 8
    doc = json.loads((data / "embeddings-compact.json").read_text())
    assert doc["items"]["encoding"] == "int8-file" and doc["items"]["vectors"] == "embeddings-compact.bin"
    assert doc["dim"] == 8 and doc["items"]["bits"] == 5 and len(doc["fold_in"]["gram"]) == 8
    m = client.load(str(data / "embeddings-compact.json"))
    shallow = client.load(str(data / "embeddings-compact.json.gz"), shards=False)
    assert len(m.ids) == len(catalog) and len(shallow.ids) == 60
    assert np.array_equal(m.vectors[:60], shallow.vectors)
    likes = _likes(catalog, [1, 2, 5])
    assert m.recommend(likes) == shallow.recommend(likes)
    # the build writes the same bytes twice (determinism)
    again = tmp_path / "again"
    _write(fitted, again)
    for p in data.rglob("*"):
        if p.is_file():
            assert (again / "data" / p.relative_to(data)).read_bytes() == p.read_bytes(), p


def _bad(doc, shards, change):
    doc = json.loads(json.dumps(doc))
    shards = [json.loads(json.dumps(s)) for s in shards.values()]
    change(doc, shards)
    return doc, shards


def _codes_over(doc, _):
    q = np.frombuffer(base64.b64decode(doc["items"]["vectors"]), dtype=np.int8).copy()
    q[0] = 127
    doc["items"]["vectors"] = base64.b64encode(q.tobytes()).decode()


@pytest.mark.parametrize(
    "change, words",
    [
        (_codes_over, "exceeds"),
        (lambda d, s: d["items"].update(bits=9), "bits"),
        (lambda d, s: d["fold_in"].update(gram=[1.0]), "gram"),
        (lambda d, s: d["fold_in"].update(gram=[-1.0] * d["dim"]), "gram"),
        (lambda d, s: s[0].update(catalog_hash="0" * 64), "another catalog"),
        (lambda d, s: s[1].update(shard=0), "another shard"),
        (lambda d, s: s[0].update(schema="x"), "shard"),
        (lambda d, s: d["items"].update(encoding="int8-file"), "not read"),
        (lambda d, s: d["items"].update(encoding="int-list"), "int8"),
    ],
)
def test_bad_documents_are_one_line_errors(fitted, change, words):
    doc, shards = _bad(*_compact(fitted, bits=4), change)
    with pytest.raises(InputError) as e:
        client.parse(doc, "bad.json", shards)
    msg = str(e.value)
    assert "\n" not in msg and "bad.json" in msg and words in msg, msg


def test_load_refuses_paths_outside_the_site(fitted, tmp_path):
    doc, _ = _compact(fitted)
    for change in (
        lambda d: d["items"].update(encoding="int8-file", vectors="../secret.bin"),
        lambda d: d["shards"].update(path="/etc/{}.json"),
        lambda d: d["shards"].update(path="../{}.json"),
        lambda d: d["shards"].update(count=10**9),
    ):
        bad = json.loads(json.dumps(doc))
        change(bad)
        p = tmp_path / "e.json"
        p.write_bytes(publish.dumps(bad))
        with pytest.raises(InputError) as e:
            client.load(str(p))
        assert "\n" not in str(e.value)

"""The Python client: loading (file, gzip, HTTP), fitting, ranking, explaining, tags."""

from __future__ import annotations

import functools
import http.server
import json
import threading

import numpy as np
import pytest

from mangarec import client, publish
from mangarec.errors import InputError
from mangarec.foldin import fold_in, rank, to_values
from mangarec.models import als
from mangarec.models.als import Params as ALSParams
from tests.test_als import planted_catalog

DATE = "2026-11-23"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    catalog, _ = planted_catalog(n_users=200, n_items=150, density=0.2, unrated=5, rank=3)
    emb = als.fit(catalog, ALSParams(factors=8, regularization=0.1, iterations=5, feedback="explicit"), seed=3)
    out = tmp_path_factory.mktemp("site")
    publish.write_embeddings(out, catalog, emb, reg=0.1, mode="explicit", build_date=DATE, top_n=40)
    return catalog, emb, out


@pytest.fixture
def server(published):
    _, _, out = published

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(out)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


RATINGS = {"a0": "like", "b1": "dislike", "a2": 9, "b3": 2, "a10": 7, "zz-gone": "like"}


def test_load_file_gzip_and_url_agree(published, server):
    _, _, out = published
    a = client.load(str(out / "data/embeddings.json"))
    b = client.load(str(out / "data/embeddings.json.gz"))
    c = client.load(server + "/data/embeddings.json.gz")
    d = client.load(server + "/data/embeddings.json")
    for m in (b, c, d):
        assert m.ids == a.ids and np.array_equal(m.vectors, a.vectors)
        assert m.recommend(RATINGS) == a.recommend(RATINGS)
    assert a.mode == "explicit" and a.reg == 0.1 and a.dim == 8 and len(a.ids) == 150
    top = client.load(str(out / "data/embeddings-top.json"))
    assert top.ids == a.ids[:40] and top.meta["subset"] == {"top_n": 40, "of": 150}


def test_fit_and_recommend_follow_foldin(published):
    _, _, out = published
    m = client.load(str(out / "data/embeddings.json"))
    idx, vals = to_values(RATINGS, m.index)
    assert len(idx) == 5  # the unknown id is ignored
    x = m.fit(RATINGS)
    np.testing.assert_allclose(x, fold_in(m.vectors, idx, vals, 0.1, "explicit"), rtol=1e-12)
    rec = m.recommend(RATINGS, n=20)
    rows, scores = rank(m.vectors, x, exclude=idx, n=20)
    assert rec == [(m.ids[r], float(s)) for r, s in zip(rows, scores)]
    assert not {i for i, _ in rec} & set(RATINGS)
    with_rated = [i for i, _ in m.recommend(RATINGS, n=len(m.ids), exclude_rated=False)]
    assert len(with_rated) == len(m.ids)
    assert [s for _, s in rec] == sorted((s for _, s in rec), reverse=True)
    # liking a title ranks titles like it above titles unlike it
    like_a = m.recommend({"a0": "like", "a2": "like", "a4": "like"}, n=10)
    assert sum(i.startswith("a") for i, _ in like_a) >= 9
    assert not m.fit({}).any() and m.recommend({}, n=3) == [(m.ids[0], 0.0), (m.ids[1], 0.0), (m.ids[2], 0.0)]


def test_explain_decomposes_the_score(published):
    _, _, out = published
    m = client.load(str(out / "data/embeddings.json"))
    target, score = m.recommend(RATINGS, n=1)[0]
    parts = m.explain(RATINGS, target, n=10)
    assert len(parts) == 5 and {i for i, _ in parts} <= set(RATINGS)
    assert sum(c for _, c in parts) == pytest.approx(score, rel=1e-9)
    assert [c for _, c in parts] == sorted((c for _, c in parts), reverse=True)
    assert m.explain(RATINGS, "nope") == [] and m.explain({}, target) == []


def test_place_from_tags(published):
    catalog, emb, out = published
    m = client.load(str(out / "data/embeddings.json"))
    tags = catalog.items[-1].tag_list  # an unrated title
    v = m.place_from_tags(list(tags) + ["Not A Tag"])
    pos = {t: k for k, t in enumerate(m.tag_ids)}
    np.testing.assert_allclose(v, sum(m.tag_vectors[pos[t]] for t in tags))
    # close to the title's own published (quantised) vector
    own = m.vectors[m.index[catalog.ids[-1]]]
    assert np.linalg.norm(v - own) < 0.05 * np.linalg.norm(own) + 8 * max(
        json.loads((out / "data/embeddings.json").read_text())["items"]["scale"]
    )
    assert not m.place_from_tags([]).any()


def test_bad_inputs_are_one_line_errors(tmp_path, published, server):
    _, _, out = published
    with pytest.raises(InputError, match="cannot read"):
        client.load(str(tmp_path / "missing.json"))
    (tmp_path / "junk.json").write_text("{nope")
    with pytest.raises(InputError, match=r"junk\.json: not valid JSON"):
        client.load(str(tmp_path / "junk.json"))
    doc = json.loads((out / "data/embeddings.json").read_text())
    for change, msg in (
        ({"schema": "other"}, "not a mangarec-embeddings"),
        ({"version": 8}, "unsupported version"),
        ({"version": 5}, "malformed"),  # nor a version-5 one (no titles block)
        ({"version": 4}, "malformed"),  # a version-3 body is not a version-4 document
        (
            {"fold_in": doc["fold_in"] | {"schedule": {"few": 5, "many": 5, "alpha_many": 1, "reg_many": 1}}},
            "few < many",
        ),
        ({"fold_in": doc["fold_in"] | {"schedule": {"few": 5}}}, "malformed"),
        ({"dim": 9}, "expected"),
    ):
        (tmp_path / "x.json").write_text(json.dumps(doc | change))
        with pytest.raises(InputError, match=msg):
            client.load(str(tmp_path / "x.json"))
    with pytest.raises(InputError, match="cannot fetch embeddings: HTTP 404"):
        client.load(server + "/data/none.json")
    # a gzip bomb (a few KB that inflate past the bound) stops at the bound, in memory and in time
    import gzip as gz

    (tmp_path / "bomb.json.gz").write_bytes(gz.compress(b" " * (client.MAX_BYTES + 10), compresslevel=9))
    assert (tmp_path / "bomb.json.gz").stat().st_size < client.MAX_BYTES // 100
    with pytest.raises(InputError, match="larger than"):
        client.load(str(tmp_path / "bomb.json.gz"))
    (tmp_path / "bad.json.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with pytest.raises(InputError, match="bad gzip data"):
        client.load(str(tmp_path / "bad.json.gz"))
    m = client.load(str(out / "data/embeddings.json"))
    with pytest.raises(InputError, match="'a0'"):
        m.fit({"a0": "meh"})


def test_fit_many_equals_fit(tmp_path):
    from mangarec import publish
    from mangarec.models import als
    from tests.test_als import planted_catalog

    catalog, _ = planted_catalog(n_users=80, n_items=60, density=0.3)
    for params, mode in (
        (
            als.Params(
                factors=6,
                iterations=3,
                feedback="likes",
                scale="1-10",
                like_threshold=6.0,
                reg_exponent=0.5,
                regularization=0.5,
            ),
            "implicit",
        ),
        (als.Params(factors=6, iterations=3, feedback="explicit", regularization=0.1), "explicit"),
    ):
        emb = als.fit(catalog, params, 0)
        m = client.parse(
            publish.build_payload(
                catalog, emb, reg=params.regularization, mode=mode, alpha=params.alpha, build_date="d"
            )
        )
        profiles = [
            {m.ids[0]: "like", m.ids[3]: 7.5, m.ids[9]: 2.0},
            {},
            {m.ids[5]: "dislike"},
            {i: "like" for i in m.ids[10:25]},
        ]
        many = m.fit_many(profiles, block=3)
        for p, row in zip(profiles, many):
            np.testing.assert_allclose(row, m.fit(p), rtol=1e-9, atol=1e-12)


def test_schedule_moves_alpha_and_lambda_with_the_count_of_likes():
    """Published with a schedule, a fit of m likes uses the schedule's (alpha, λ) for m, in
    fit, fit_many and explain alike; a version-2 document (no schedule) reads as before."""
    from mangarec.foldin import Schedule

    catalog, _ = planted_catalog(n_users=80, n_items=60, density=0.3)
    params = als.Params(factors=6, iterations=3, feedback="likes", scale="1-10", like_threshold=6.0)
    emb = als.fit(catalog, params, 0)
    sched = Schedule(few=3, many=12, alpha_many=2.0, reg_many=0.5)
    doc = publish.build_payload(catalog, emb, reg=8.0, mode="implicit", alpha=300.0, build_date="d", schedule=sched)
    assert doc["version"] == 3 and doc["fold_in"]["schedule"] == {
        "few": 3,
        "many": 12,
        "alpha_many": 2.0,
        "reg_many": 0.5,
    }
    m = client.parse(doc)
    assert m.schedule == sched
    for n in (2, 3, 6, 12, 20):
        prof = {i: "like" for i in m.ids[:n]}
        idx, vals = to_values(prof, m.index, m.values)
        alpha, reg = sched.at(n, 300.0, 8.0)
        assert m.settings(n) == (alpha, reg)
        want = fold_in(m.vectors, idx, vals, reg, "implicit", alpha=alpha, YtY=m.vectors.T @ m.vectors)
        np.testing.assert_allclose(m.fit(prof), want, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(m.fit_many([prof])[0], want, rtol=1e-9, atol=1e-12)
        target, score = m.recommend(prof, n=1)[0]
        assert sum(c for _, c in m.explain(prof, target, n=n)) == pytest.approx(score, rel=1e-9)
    # more likes than `many` fit as training does; at most `few`, as the unscheduled visitor values
    plain = client.parse(publish.build_payload(catalog, emb, reg=0.5, mode="implicit", alpha=2.0, build_date="d"))
    big = {i: "like" for i in m.ids[:20]}
    np.testing.assert_allclose(m.fit(big), plain.fit(big), rtol=1e-9)
    v2 = doc | {"version": 2, "fold_in": {k: v for k, v in doc["fold_in"].items() if k != "schedule"}}
    assert client.parse(v2).schedule is None and client.parse(v2).settings(20) == (300.0, 8.0)

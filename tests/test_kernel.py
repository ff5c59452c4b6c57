"""Embeddings versions 5 and 6 (per-title files with candidate lists): the algebra, the readers, bounds."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec import client, compact, kernel, publish
from mangarec.errors import InputError
from tests import test_compact
from tests.schema_check import validate
from tests.test_compact import DATE, SCHEDULE

fitted = test_compact.fitted  # the planted ALS fixture, shared


def _v5(fitted, mode="implicit", candidates=199, schedule=None, **kw):
    catalog, emb = fitted
    return kernel.build_titles(
        catalog, emb, reg=2.0, mode=mode, alpha=20.0, schedule=schedule, build_date=DATE, candidates=candidates, **kw
    )


def _v4(fitted, mode="implicit", schedule=None):
    catalog, emb = fitted
    doc, shards = compact.build_compact(
        catalog, emb, reg=2.0, mode=mode, alpha=20.0, schedule=schedule, build_date=DATE,
        dims=0, bits=8, recommend_n=0, shard_size=8, clip=kernel.CLIP,
    )  # fmt: skip
    return client.parse(doc, "v4", shards.values())


def _popular(catalog, rows):
    order = np.argsort(catalog.tie_order, kind="stable")
    return [catalog.ids[order[r]] for r in rows]


PROFILES = ([3, 10, 50], [1], [5, 6, 7, 8, 9, 10, 11, 12, 13, 40])


@pytest.mark.parametrize("mode", ["explicit", "implicit"])
def test_full_lists_give_the_exact_fold_in(fitted, mode):
    """Every other title in each list, μ₀ the fold-in's λ (no schedule): the kernel sums are the
    fold-in's scores (the Woodbury / push-through identities), to the kernel's 12-bit steps."""
    doc, files = _v5(fitted, mode)
    v5 = client.parse(doc, "v5", title_files=files.values())
    v4 = _v4(fitted, mode)
    for rows in PROFILES:
        r = {i: "like" for i in _popular(fitted[0], rows)}
        a, b = v4.recommend(r, n=10), v5.recommend(r, n=10)
        assert [i for i, _ in a][:5] == [i for i, _ in b][:5]
        assert np.allclose([s for _, s in a], [s for _, s in b], rtol=2e-3, atol=1e-6)
        # the contributions sum to the score
        assert sum(c for _, c in v5.explain(r, b[0][0], n=99)) == pytest.approx(b[0][1], rel=1e-9)


def test_explicit_is_exact_with_a_schedule_and_dislikes(fitted):
    doc, files = _v5(fitted, "explicit", schedule=SCHEDULE)
    v5 = client.parse(doc, "v5", title_files=files.values())
    v4 = _v4(fitted, "explicit", SCHEDULE)
    ids = _popular(fitted[0], range(30))
    r = {ids[0]: "like", ids[3]: "dislike", ids[7]: "like", ids[12]: "like", ids[20]: "dislike"}
    assert [i for i, _ in v4.recommend(r, n=8)] == [i for i, _ in v5.recommend(r, n=8)]


def test_implicit_anchors_follow_the_schedule(fitted):
    """λ moves with the count of ratings (``SCHEDULE``): the files hold the kernel at both ends
    of the schedule, so a visitor at either end gets the fold-in's scores and one between an
    interpolation close to them."""
    doc, files = _v5(fitted, "implicit", schedule=SCHEDULE)
    assert doc["fold_in"]["kernel_reg"] == [2.0, 0.5]
    v5 = client.parse(doc, "v5", title_files=files.values())
    v4 = _v4(fitted, "implicit", SCHEDULE)
    for rows, tol in ((PROFILES[1], 2e-3), (PROFILES[2], 2e-3), (PROFILES[0], 2e-2)):
        r = {i: "like" for i in _popular(fitted[0], rows)}
        a, b = dict(v4.recommend(r, n=200)), dict(v5.recommend(r, n=200))
        common = sorted(a)
        assert set(common) == set(b)
        assert np.allclose([a[i] for i in common], [b[i] for i in common], rtol=tol, atol=tol * max(a.values()))
    one = client.parse(dict(doc, fold_in=dict(doc["fold_in"], kernel_reg=[2.0])), "one", title_files=[])
    assert one.kernel_regs == (2.0,)


@settings(max_examples=30, deadline=None)
@given(mu=st.floats(0.5, 2.0), seed=st.integers(0, 2**16))
def test_anchor_weights_are_exact_at_anchors_and_fit_between(mu, seed):
    g = np.sort(np.random.default_rng(seed).uniform(0.01, 5.0, 16))
    anchors = [2.0, 0.5]
    assert np.allclose(kernel.anchor_weights(g, anchors, 2.0), [1.0, 0.0])
    assert np.allclose(kernel.anchor_weights(g, anchors, 0.5), [0.0, 1.0])
    beta = kernel.anchor_weights(g, anchors, mu)
    fit = beta[0] / (g + 2.0) + beta[1] / (g + 0.5)
    h = 1.0 / (g + mu)
    assert np.linalg.norm(fit - h) <= min(np.linalg.norm(h - c / (g + a)) for a in anchors for c in (1.0,)) + 1e-12


def test_short_lists_recommend_only_listed_candidates(fitted):
    doc, files = _v5(fitted, candidates=5)
    v5 = client.parse(doc, "v5", title_files=files.values())
    liked = _popular(fitted[0], [2, 9, 30])
    union = {c for i in liked for c in files[i]["near"]["ids"]} - set(liked)
    got = [i for i, _ in v5.recommend({i: "like" for i in liked}, n=50)]
    assert got and set(got) <= union and len(got) == len(union)
    assert doc["titles"]["candidates"] == 5 and all(len(f["near"]["ids"]) == 5 for f in files.values())


def test_reader_needs_only_the_rated_titles_files(fitted, tmp_path):
    doc, files = _v5(fitted, candidates=40)
    sizes = kernel.write_titles(tmp_path, doc, files)
    first = tmp_path / "data/taste" / f"{next(iter(files))}.json"
    assert sizes["data/taste/*.json"] > 0 and first.is_file() and not first.with_name(first.name + ".gz").exists()
    liked = _popular(fitted[0], [0, 4, 11])
    path = str(tmp_path / "data" / compact.DOC_NAME)
    few = client.load(path, rated=[*liked, "not-a-title"])
    assert set(few.ids) == set(liked)
    everything = client.load(path)
    assert len(everything.ids) == len(files)
    r = {i: "like" for i in liked}
    assert few.recommend(r, n=10) == everything.recommend(r, n=10)
    doc_on_disk = json.loads((tmp_path / "data" / compact.DOC_NAME).read_text())
    assert "ids" not in doc_on_disk["items"] and doc_on_disk["version"] == 6


def test_documents_validate_against_the_schema(fitted):
    schema = json.loads(publish.SCHEMA_FILE.read_text())
    for mode in ("explicit", "implicit"):
        doc, files = _v5(fitted, mode, candidates=7)
        validate(doc, schema)
        for f in list(files.values())[:20]:
            validate(f, dict(schema["$defs"]["title"], **{"$defs": schema["$defs"]}))
        with pytest.raises(jsonschema.ValidationError):  # a version-6 document names its title files
            validate({k: v for k, v in doc.items() if k != "titles"}, schema)
        title = dict(schema["$defs"]["title"], **{"$defs": schema["$defs"]})
        old_doc, old = _as_v5(doc, files)
        validate(old_doc, schema)
        validate(next(iter(old.values())), title)  # version 5: no floor
        f = next(iter(files.values()))
        for bad in (dict(f, near={k: v for k, v in f["near"].items() if k != "floor"}), dict(f, version=5)):
            with pytest.raises(jsonschema.ValidationError):
                validate(bad, title)
    v3 = publish.build_payload(fitted[0], fitted[1], reg=2.0, mode="implicit", build_date=DATE)
    validate(v3, schema)
    with pytest.raises(jsonschema.ValidationError):
        validate(dict(v3, titles=doc["titles"]), schema)


def _bad(files, iid, **change):
    f = json.loads(json.dumps(files[iid]))
    for k, v in change.items():
        if k == "k":
            f["near"]["k"] = v
        else:
            f[k] = v
    return f


def test_bad_title_files_are_one_line(fitted):
    doc, files = _v5(fitted, candidates=6)
    iid = next(iter(files))
    n = len(files[iid]["near"]["ids"])
    import base64

    for change in (
        {"catalog_hash": "0" * 64},
        {"version": 4},
        {"vector": base64.b64encode(bytes([0x80] * 16)).decode()},  # -128 is beyond ±127
        {"vector": base64.b64encode(bytes(3)).decode()},
        {"k": [[4096] * n]},
        {"k": [[1] * (n - 1)]},
        {"k": [[1] * n, [1] * n]},  # one anchor published, two lists
    ):
        with pytest.raises(InputError) as e:
            client.parse(doc, "x.json", title_files=[_bad(files, iid, **change)])
        assert "\n" not in str(e.value) and "x.json" in str(e.value)
    with pytest.raises(InputError):
        client.parse(doc, "x.json", title_files=[files[iid], files[iid]])


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_weights_z_solves_the_candidate_system(m, seed):
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((m + 3, m))
    K = U.T @ U
    gamma = rng.uniform(0, 50, m)
    w = rng.uniform(-1, 2, m)
    z = kernel.weights_z(K, gamma, w)
    assert np.allclose((np.eye(m) + gamma[:, None] * K) @ z, w, atol=1e-8)


def test_candidate_lists_are_the_largest_kernel_values():
    rng = np.random.default_rng(1)
    V = rng.standard_normal((50, 4))
    wts = np.array([1.0, 0.5, 0.25, 0.1])
    rows, q, steps, floors = kernel.candidate_lists(V, [wts], 6, block=7)
    K = (V * wts) @ V.T
    for j in range(50):
        assert j not in rows[j]
        order = np.argsort(-np.where(np.arange(50) == j, -np.inf, K[j]), kind="stable")
        assert list(rows[j]) == list(order[:6])
        assert np.allclose(q[0, j] * steps[0, j], K[j, rows[j]], atol=steps[0, j])
        # the floor: the largest value left out (the seventh best)
        assert abs(floors[0, j] * steps[0, j] - K[j, order[6]]) <= steps[0, j] / 2 + 1e-12
    # two anchors: every anchor's best three are among the six, interleaved
    other = np.ones(4)
    rows2, q2, _, f2 = kernel.candidate_lists(V, [wts, other], 6, block=7)
    K2 = V @ V.T
    for j in range(50):
        for M in (K, K2):
            top3 = np.argsort(-np.where(np.arange(50) == j, -np.inf, M[j]), kind="stable")[:3]
            assert set(top3) <= set(rows2[j])
    assert q2.shape == (2, 50, 6) and f2.shape == (2, 50)
    # a list of every other title leaves nothing out: its floor is 0
    assert not kernel.candidate_lists(V, [wts], 49)[3].any()


def _as_v5(doc, files):
    """The same lists as a version-5 publication (no floor: a title left out counts 0)."""
    old = {i: dict(f, version=5, near={k: v for k, v in f["near"].items() if k != "floor"}) for i, f in files.items()}
    return dict(doc, version=5), old


def test_a_title_left_out_of_a_list_counts_its_floor(fitted):
    """Version 6: a candidate missing from a rated title's list counts that list's floor there,
    so the score is the floors' sum plus each list's excess; the contributions (one per rated
    title) still sum to it. Version 5's files (no floor) still read, with 0 for a missing title."""
    doc, files = _v5(fitted, candidates=8)
    v6 = client.parse(doc, "v6", title_files=files.values())
    liked = _popular(fitted[0], [2, 9, 30, 41])
    r = {i: "like" for i in liked}
    got = v6.recommend(r, n=99)
    rows, z, scale, beta = v6._kernel(r)
    for cid, score in got[:10]:
        want = 0.0
        for row, zj in zip(rows, z):
            k = kernel.combined(row, beta)
            want += scale * zj * (k[row.near.index(cid)] if cid in row.near else kernel.floor_of(row, beta))
        assert score == pytest.approx(want, rel=1e-9)
        parts = v6.explain(r, cid, n=99)
        assert len(parts) == len(liked) and sum(c for _, c in parts) == pytest.approx(score, rel=1e-9)
    assert any(row.floor is not None and row.floor.any() for row in rows)
    old = client.parse(*_as_v5(doc, files)[:1], "v5", title_files=_as_v5(doc, files)[1].values())
    assert old.meta["count"] == doc["count"]
    old_scores = dict(old.recommend(r, n=99))
    assert set(old_scores) == {c for c, _ in got} and old_scores != dict(got)
    for cid, score in old.recommend(r, n=5):  # version 5: only the lists holding it count
        assert score == pytest.approx(sum(c for _, c in old.explain(r, cid, n=99)), rel=1e-9)


def test_version_6_files_need_their_floor(fitted):
    doc, files = _v5(fitted, candidates=6)
    iid = next(iter(files))
    f = json.loads(json.dumps(files[iid]))
    for floor in (None, [1, 2], [4096], [1.5]):
        if floor is None:
            del f["near"]["floor"]
        else:
            f["near"]["floor"] = floor
        with pytest.raises(InputError) as e:
            client.parse(doc, "x.json", title_files=[f])
        assert "\n" not in str(e.value) and "x.json" in str(e.value)
    v5doc, v5files = _as_v5(doc, files)
    with pytest.raises(InputError):  # a version-6 file under a version-5 document, and back
        client.parse(v5doc, "x.json", title_files=[files[iid]])
    with pytest.raises(InputError):
        client.parse(doc, "x.json", title_files=[v5files[iid]])

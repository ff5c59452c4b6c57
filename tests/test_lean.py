"""Embeddings version 7 (``mangarec.lean``): the version-6 lists in a lean form, names in blocks."""

from __future__ import annotations

import base64
import json
import os

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec import client, compact, kernel, lean, publish
from mangarec.errors import InputError
from tests import test_compact
from tests.schema_check import validate
from tests.test_compact import DATE, SCHEDULE

fitted = test_compact.fitted  # the planted ALS fixture, shared


def _kw(mode="implicit", candidates=40, schedule=SCHEDULE):
    return dict(reg=2.0, mode=mode, alpha=20.0, schedule=schedule, build_date=DATE, candidates=candidates)


def _both(fitted, **kw):
    catalog, emb = fitted
    v6 = kernel.build_titles(catalog, emb, **_kw(**kw))
    v7 = lean.build_lean(catalog, emb, **_kw(**kw))
    return v6, v7


def _popular(catalog, rows):
    order = np.argsort(catalog.tie_order, kind="stable")
    return [catalog.ids[order[r]] for r in rows]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, lean.MAX_ROWS - 1), max_size=40))
def test_varints_round_trip(values):
    assert lean.unvarints(lean.varints(values)) == values


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-2048, 2047), max_size=41))
def test_twelve_bit_packing_round_trips(values):
    packed = lean.pack12(values)
    assert len(packed) == 3 * ((len(values) + 1) // 2)
    assert lean.unpack12(packed, len(values)) == values


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-127, 127), min_size=1, max_size=300))
def test_codes_round_trip_dense_or_sparse(codes):
    q = np.array(codes, dtype=np.int8)
    f = lean.code_fields(q)
    assert len(f) == 1 and np.array_equal(lean.codes_of(f, len(q)), q)
    dense = len(base64.b64encode(q.tobytes()))
    assert len(next(iter(f.values()))) <= dense  # the shorter form


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, lean.MAX_ROWS - 1), min_size=3, max_size=3), max_size=30), st.data())
def test_the_row_encoders_equal_the_one_row_ones(rows, data):
    """:func:`lean.leb128_rows` and :func:`lean.pack12_rows` (every title at once) give each
    row's :func:`lean.varints` and :func:`lean.pack12` bytes."""
    v = np.array(rows, dtype=np.int64).reshape(-1, 3)
    counts = np.array([data.draw(st.integers(0, 3)) for _ in range(len(v))], dtype=np.int64)
    assert lean.leb128_rows(v) == [lean.varints(r) for r in v.tolist()]
    assert lean.leb128_rows(v, counts) == [lean.varints(r[:c]) for r, c in zip(v.tolist(), counts)]
    k = (v % 4096 - 2048)[:, :3]
    assert lean.pack12_rows(k) == b"".join(lean.pack12(r) for r in k.tolist())


def test_code_rows_round_trip_a_matrix():
    rng = np.random.default_rng(4)
    q = (rng.integers(-127, 128, (50, 200)) * (rng.random((50, 200)) < rng.random((50, 1)))).astype(np.int8)
    q[3] = 0
    got = lean.code_rows(q)
    assert {next(iter(f)) for f in got} == {"sparse", "vector"}
    for f, row in zip(got, q):
        assert np.array_equal(lean.codes_of(f, 200), row)


def test_sparse_codes_are_chosen_for_sparse_rows_and_bounded():
    q = np.zeros(64, dtype=np.int8)
    q[[3, 40]] = [90, -7]
    f = lean.code_fields(q)
    assert "sparse" in f and np.array_equal(lean.codes_of(f, 64), q)
    for bad in ({"sparse": f["sparse"], "vector": "AA=="}, {}, {"sparse": base64.b64encode(b"\x80").decode()}):
        with pytest.raises(ValueError):
            lean.codes_of(bad, 64)
    with pytest.raises(ValueError):  # beyond the dimension
        lean.codes_of(f, 20)


@pytest.mark.parametrize("mode", ["explicit", "implicit"])
def test_version_7_ranks_as_version_6(fitted, mode):
    """The same lists, floors and codes: the same scores; ties go to the lower row (the more
    popular title), and the contributions still sum to the score."""
    (doc6, files6), (doc7, files7, blocks) = _both(fitted, mode=mode)
    v6 = client.parse(doc6, "v6", title_files=files6.values())
    v7 = client.parse(doc7, "v7", title_files=files7.values(), names=blocks.values())
    for rows in ([3, 10, 50], [1], [5, 6, 7, 8, 9, 10, 11, 12, 13, 40], list(range(0, 120, 7))):
        r = {i: "like" for i in _popular(fitted[0], rows)}
        a, b = dict(v6.recommend(r, n=500)), v7.recommend(r, n=500)
        assert set(a) == {i for i, _ in b}
        assert all(a[i] == pytest.approx(s, rel=1e-12, abs=1e-15) for i, s in b)
        order = {i: k for k, i in enumerate(_popular(fitted[0], range(len(fitted[0]))))}
        for (i, s), (j, t) in zip(b, b[1:]):
            assert s > t or (s == t and order[i] < order[j])
        assert sum(c for _, c in v7.explain(r, b[0][0], n=99)) == pytest.approx(b[0][1], rel=1e-9)
        assert v7.explain(r, b[0][0], n=3) == v6.explain(r, b[0][0], n=3)


def test_a_title_file_is_a_fraction_of_version_6s(fitted):
    (_, files6), (doc, files7, blocks) = _both(fitted, mode="explicit", candidates=60)
    raw6 = sum(len(publish.dumps(f)) for f in files6.values())
    raw7 = sum(len(publish.dumps(f)) for f in files7.values()) + sum(len(publish.dumps(b)) for b in blocks.values())
    assert raw7 < raw6 / 2.5, (raw6, raw7)
    f = next(iter(files7.values()))
    assert "titles" not in f["near"] and "ids" not in f["near"] and len(f["catalog_hash"]) == lean.HASH_HEX
    assert doc["titles"] == {"path": kernel.TITLE_PATH, "candidates": 60, "names": lean.NAMES_PATH, "block": lean.BLOCK}


def test_works_are_left_out_by_row(fitted):
    catalog, emb = fitted
    doc, files, blocks = lean.build_lean(catalog, emb, **_kw())
    ids = _popular(catalog, range(len(catalog)))
    a, b = ids[2], ids[5]
    files[a]["works"], files[b]["works"] = [5], [2]  # one work in two formats
    m = client.parse(doc, "v7", title_files=files.values(), names=blocks.values())
    liked = {ids[k]: "like" for k in (0, 1, 3)}
    got = [i for i, _ in m.recommend(liked, n=300)]
    assert a in got and b in got
    got = [i for i, _ in m.recommend(liked | {a: "like"}, n=300)]
    assert a not in got and b not in got


def test_the_reader_reads_only_the_name_blocks_of_the_picks(fitted, tmp_path):
    catalog, emb = fitted
    doc, files, blocks = lean.build_lean(catalog, emb, **_kw(candidates=20))
    sizes = lean.write_lean(tmp_path, doc, files, blocks)
    assert sizes["data/taste/names/*.json"] > 0 and sizes["data/taste/*.json"] > 0
    liked = _popular(catalog, [0, 4, 11])
    path = str(tmp_path / "data" / compact.DOC_NAME)
    m = client.load(path, rated=liked)
    assert set(m.ids) == set(liked) and not m.names.loaded
    top = m.recommend({i: "like" for i in liked}, n=5)
    want = {ids_row // lean.BLOCK for ids_row in (m.names.row_of(i) for i, _ in top)}
    assert m.names.loaded == want and len(top) == 5
    whole = client.parse(doc, "all", title_files=files.values(), names=blocks.values())
    assert whole.recommend({i: "like" for i in liked}, n=5) == top


def test_documents_validate_against_the_schema(fitted):
    schema = json.loads(publish.SCHEMA_FILE.read_text())
    defs = {"$defs": schema["$defs"]}
    for mode in ("explicit", "implicit"):
        doc, files, blocks = lean.build_lean(*fitted, **_kw(mode=mode, candidates=7))
        validate(doc, schema)
        for f in list(files.values())[:20]:
            validate(f, dict(schema["$defs"]["title7"], **defs))
        for b in blocks.values():
            validate(b, dict(schema["$defs"]["names"], **defs))
        f = next(iter(files.values()))
        for bad in (dict(f, catalog_hash="0" * 64), {k: v for k, v in f.items() if k != "row"}, dict(f, version=6)):
            with pytest.raises(jsonschema.ValidationError):
                validate(bad, dict(schema["$defs"]["title7"], **defs))
        with pytest.raises(jsonschema.ValidationError):  # version 7 names its name blocks
            validate(dict(doc, titles={"path": "taste/{}.json", "candidates": 7}), schema)
        with pytest.raises(jsonschema.ValidationError):  # a version-6 document has the whole hash
            validate(dict(doc, version=6), schema)


def _changed(f, **change):
    f = json.loads(json.dumps(f))
    for k, v in change.items():
        if k.startswith("near_"):
            f["near"][k[5:]] = v
        elif v is None:
            f.pop(k, None)
        else:
            f[k] = v
    return f


def test_bad_title_files_and_name_blocks_are_one_line(fitted, tmp_path):
    """Refused, in one line naming the source: another schema, version, id or catalog; a row out
    of range; codes beyond the bits; kernel lists of the wrong length; a name block of another
    build, block or length."""
    doc, files, blocks = lean.build_lean(*fitted, **_kw(candidates=6))
    iid = next(iter(files))
    f = files[iid]
    n = len(lean.unvarints(base64.b64decode(f["near"]["rows"])))
    for change in (
        {"schema": "mangarec-embeddings-shard"},
        {"version": 6},
        {"catalog_hash": "0" * lean.HASH_HEX},
        {"row": doc["count"]},
        {"row": True},
        {"vector": base64.b64encode(bytes([0x80] * doc["dim"])).decode(), "sparse": None},
        {"near_k": base64.b64encode(lean.pack12([1] * (n - 1))).decode()},
        {"near_rows": base64.b64encode(lean.varints([1, 0])).decode()},
        {"near_floor": [1, 2, 3]},
        {"near_step": [-1.0, 1.0]},
        {"works": [doc["count"]]},
    ):
        with pytest.raises(InputError) as e:
            client.parse(doc, "x.json", title_files=[_changed(f, **change)], names=blocks.values())
        assert "\n" not in str(e.value) and "x.json" in str(e.value)
    with pytest.raises(InputError, match="another title"):  # the file of another title at this one's path
        files = dict(files, **{iid: _changed(f, id=list(files)[1])})
        lean.write_lean(tmp_path, doc, files, blocks)
        client.load(str(tmp_path / "data" / compact.DOC_NAME), rated=[iid])
    lean.write_lean(tmp_path, doc, dict(files, **{iid: f}), blocks)
    path = tmp_path / "data" / lean.NAMES_PATH.format(0)
    good = path.read_bytes()
    for change in ({"catalog_hash": "1" * lean.HASH_HEX}, {"block": 1}, {"ids": blocks[0]["ids"][:-1]}, {"version": 6}):
        path.write_text(json.dumps(_changed(blocks[0], **change)))
        m = client.load(str(tmp_path / "data" / compact.DOC_NAME), rated=[iid])
        with pytest.raises(InputError) as e:
            m.names.lookup([0])  # what a pick in block 0 reads
        assert "\n" not in str(e.value) and "names/0.json" in str(e.value)
    path.write_bytes(good)
    assert client.load(str(tmp_path / "data" / compact.DOC_NAME), rated=[iid]).recommend({iid: "like"})


def test_the_default_count_of_candidates_is_the_published_models_declaration():
    """``[publish] compact_candidates = -1`` (the default): the published model's declared count
    (``ModelSpec.candidates``): 200 for ALS (anime-recdb's 12-like P@10 needs 150–200), 50 for a
    content model; 0: version 4; a positive value overrides."""
    from dataclasses import replace

    from mangarec.config import Config
    from mangarec.models import REGISTRY, spec

    section = Config().publish
    assert section.compact_candidates == -1
    assert compact.CompactOptions.of(section, "als").candidates == 200
    assert compact.CompactOptions.of(section, "hybrid").candidates == 50
    assert compact.CompactOptions.of(section, None).candidates == 0
    assert compact.CompactOptions.of(replace(section, compact_candidates=0), "als").candidates == 0
    assert compact.CompactOptions.of(replace(section, compact_candidates=80), "hybrid").candidates == 80
    assert all(spec(name).candidates >= 1 for name in REGISTRY)


def test_a_renamed_title_changes_its_own_file_only(fitted):
    """The files' ``catalog_hash`` is a digest of what they mean (the rows' ids in order, the
    codes' steps, the kernel's weights, the counts), not of the whole catalog: a title renamed
    overnight changes its own file and its name block, and every other file keeps its bytes (so
    a night can link it from the previous site). A new popularity order changes every file."""
    from dataclasses import replace

    from mangarec.catalog import Catalog

    catalog, emb = fitted
    a = lean.build_lean(catalog, emb, **_kw(candidates=20))
    items = list(catalog.items)
    items[7] = replace(items[7], title=items[7].title + " (new edition)")
    b = lean.build_lean(Catalog(tuple(items), catalog.ratings), emb, **_kw(candidates=20))
    assert catalog.fingerprint != Catalog(tuple(items), catalog.ratings).fingerprint
    assert a[0]["catalog_hash"] == b[0]["catalog_hash"]
    differ = [i for i in a[1] if publish.dumps(a[1][i]) != publish.dumps(b[1][i])]
    assert differ == [catalog.ids[7]]
    items[7] = replace(items[7], popularity=10 * max(it.popularity for it in items))  # now row 0
    c = lean.build_lean(Catalog(tuple(items), catalog.ratings), emb, **_kw(candidates=20))
    assert c[0]["catalog_hash"] != a[0]["catalog_hash"]


def test_unchanged_files_are_linked_from_the_previous_site(fitted, tmp_path):
    """A title file whose bytes are the previous site's is a hard link to it (read, never written:
    the previous file keeps its bytes); a changed one, or one whose previous file is a symbolic
    link, is written; a previous site of another ``catalog_hash`` is not read."""
    doc, files, blocks = lean.build_lean(*fitted, **_kw(candidates=20))
    old = tmp_path / "old"
    first = lean.write_lean(old, doc, files, blocks)
    assert first.linked == 0
    ids = sorted(files)
    changed = dict(files, **{ids[0]: dict(files[ids[0]], title="Renamed")})
    target = old / "data" / kernel.TITLE_PATH.format(ids[1])
    elsewhere = tmp_path / "elsewhere.json"  # the same bytes, outside the previous site
    elsewhere.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(elsewhere)
    before = {p: p.read_bytes() for p in (old / "data" / "taste").glob("*.json")}
    new = lean.write_lean(tmp_path / "new", doc, changed, blocks, previous=old)
    assert new.linked == len(files) + len(blocks) - 2
    path = kernel.TITLE_PATH.format
    for k, iid in enumerate(ids[:4]):
        a, b = old / "data" / path(iid), tmp_path / "new" / "data" / path(iid)
        assert (os.stat(a, follow_symlinks=False).st_ino == b.stat().st_ino) == (k >= 2)
        assert not b.is_symlink()
    assert {p: p.read_bytes() for p in before} == before
    other = lean.write_lean(tmp_path / "other", dict(doc, catalog_hash="0" * lean.HASH_HEX), files, blocks, old)
    assert other.linked == 0

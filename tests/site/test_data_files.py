from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mangarec.site.data_files import (
    MISSING,
    decode_positions,
    encode_positions,
    encode_rows,
    map_file,
    map_tags,
    map_titles,
    neighbour_shards,
    position_width,
    quantise,
)
from mangarec.site.prepare import NB_SHOW, Prepared, fnv1a


def test_fnv1a_known_answers():
    # FNV-1a 32-bit reference values (also what site.js computes)
    assert fnv1a("") == 0x811C9DC5
    assert fnv1a("a") == 0xE40C292C
    assert fnv1a("foobar") == 0xBF9CF968


def test_neighbour_shards_cover_every_item(result):
    prep = Prepared(result)
    shards = neighbour_shards(prep)
    assert len(shards) == prep.nb_shards
    seen = {}
    for s, content in shards.items():
        for iid in content["items"]:
            assert fnv1a(iid) % prep.nb_shards == s
            seen[iid] = content
    assert set(seen) == set(result.catalog.ids)
    sh = seen["s1"]
    assert sh["models"] == list(prep.models)
    codes, deltas = sh["items"]["s1"][4][sh["models"].index("lsi")]
    positions = decode_positions(codes, sh["w"])
    assert len(positions) == len(deltas) == NB_SHOW
    p = result.catalog.index["s1"]
    nb = result.neighbours["lsi"]
    # neighbours are positions into the shared dictionaries (titles.json, tags.json)
    names, tags = map_titles(prep), map_tags(prep)
    assert [names["ids"][q] for q in positions] == [result.catalog.ids[j] for j in nb.indices[p, :NB_SHOW]]
    assert np.cumsum([deltas[0]] + [-d for d in deltas[1:]]).tolist() == [
        round(float(x) * 1000) for x in nb.scores[p, :NB_SHOW]
    ]
    for q in positions:
        nid = names["ids"][q]
        assert names["t"][q] == result.catalog[nid].title
        assert names["kinds"][names["k"][q]] == prep.kind_labels[result.catalog.index[nid]]
        assert [prep.tags[t] for t in tags["g"][q]] == list(result.catalog[nid].tag_list)
    assert sh["items"]["s1"][:4] == ["Sports title 1", list(prep.item_tags[p]), 2001, "manga"]
    assert set(sh) == {"models", "w", "items"} and sh["w"] == 1  # each id once per shard; 24 titles
    json.dumps(shards, allow_nan=False)


@pytest.mark.parametrize(("n", "width"), [(1, 1), (64, 1), (65, 2), (4096, 2), (4097, 3), (262_144, 3), (262_145, 4)])
def test_position_width(n, width):
    assert position_width(n) == width
    assert decode_positions(encode_positions([0, n - 1], width), width) == [0, n - 1]
    assert len(encode_positions([n - 1], width)) == width


@given(st.lists(st.integers(0, 64**3 - 1), max_size=12))
def test_positions_round_trip(positions):
    text = encode_positions(positions, 3)
    assert len(text) == 3 * len(positions) and re.fullmatch(r"[A-Za-z0-9_-]*", text)
    assert decode_positions(text, 3) == positions


@given(
    st.integers(1, 4).flatmap(
        lambda w: st.tuples(
            st.just(w),
            st.lists(st.lists(st.integers(-1, 64**w - 1), min_size=4, max_size=4), max_size=8),
        )
    )
)
def test_encode_rows_is_encode_positions_of_each_row(case):
    width, rows = case
    # a -1 anywhere in a row is left out, the others keep their order (as the shards write them)
    expected = [encode_positions([q for q in row if q >= 0], width) for row in rows]
    assert encode_rows(np.array(rows, dtype=np.int64).reshape(len(rows), 4), width) == expected


def test_score_deltas_decode_to_the_scores_of_every_prefix(result):
    prep = Prepared(result)
    for m, (_, sc) in prep.neighbours.items():
        milli = np.rint(sc * 1000).astype(np.int64)
        for p, d in enumerate(prep.score_deltas[m]):
            for j in (0, 1, 3, len(d)):  # a shard keeps a row's first j (its shown neighbours)
                assert np.cumsum([-x if i else x for i, x in enumerate(d[:j])]).tolist() == milli[p, :j].tolist()


def test_shared_tags_from_masks(result):
    prep = Prepared(result)
    a, b = result.catalog.index["s1"], result.catalog.index["s2"]
    expected = sorted(set(result.catalog["s1"].tag_list) & set(result.catalog["s2"].tag_list))
    assert [prep.tags[t] for t in prep.shared(a, b)] == expected
    assert prep.shared_mask(0) == ((), "")


def test_map_files_aligned_and_quantised(result):
    prep = Prepared(result)
    titles = map_titles(prep)
    assert titles["ids"] == list(result.catalog.ids)
    assert map_tags(prep)["g"] == [list(t) for t in prep.item_tags]
    header, data = map_file(prep, "lsi")
    n = len(titles["ids"])
    assert header["n"] == n and len(data) == 4 * n
    q = np.frombuffer(data, dtype="<u2")
    xy = result.maps["lsi"].xy.astype(np.float64)
    for axis, codes in ((0, q[:n]), (1, q[n:])):
        lo, hi = header["xy"[axis]]
        decoded = lo + codes / 65534 * (hi - lo)
        assert np.abs(decoded - xy[:, axis]).max() <= (hi - lo) / 65534  # within a step
    assert header["tags"]["t"] == list(result.maps["lsi"].tag_ids)
    assert header["tags"]["n"] == [prep.tag_counts[t] for t in result.maps["lsi"].tag_ids]
    assert map_file(prep, "als") is None


def test_quantise_missing_and_constant():
    span, codes = quantise(np.array([1.0, np.nan, 3.0]))
    assert span == [1.0, 3.0] and codes.tolist() == [0, MISSING, 65534]
    assert quantise(np.array([2.0, 2.0]))[1].tolist() == [0, 0]
    assert quantise(np.array([np.nan]))[1].tolist() == [MISSING]

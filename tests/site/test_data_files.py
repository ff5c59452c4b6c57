from __future__ import annotations

import json

from mangarec.site.data_files import map_file, neighbour_shards, points
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
    refs, milli = sh["nb"]["s1"]["lsi"]
    assert len(refs) == len(milli) == NB_SHOW
    p = result.catalog.index["s1"]
    nb = result.neighbours["lsi"]
    assert [sh["ref"][r][0] for r in refs] == [result.catalog.ids[j] for j in nb.indices[p, :NB_SHOW]]
    assert milli == [round(float(x) * 1000) for x in nb.scores[p, :NB_SHOW]]
    for r in refs:
        nid, title, tags, form = sh["ref"][r]
        assert title == result.catalog[nid].title
        assert form == ""  # one kind, no type: nothing more to say
        assert [prep.tags[t] for t in tags] == list(result.catalog[nid].tag_list)
    assert sh["items"]["s1"] == ["Sports title 1", list(prep.item_tags[p]), 2001, "manga"]
    json.dumps(shards, allow_nan=False)


def test_shared_tags_from_masks(result):
    prep = Prepared(result)
    a, b = result.catalog.index["s1"], result.catalog.index["s2"]
    expected = sorted(set(result.catalog["s1"].tag_list) & set(result.catalog["s2"].tag_list))
    assert [prep.tags[t] for t in prep.shared(a, b)] == expected
    assert prep.shared_mask(0) == ((), "")


def test_points_and_maps_aligned(result):
    prep = Prepared(result)
    pts = points(prep)
    assert pts["ids"] == list(result.catalog.ids)
    m = map_file(prep, "lsi")
    assert len(m["x"]) == len(m["y"]) == len(pts["ids"])
    assert abs(m["x"][3] - float(result.maps["lsi"].xy[3, 0])) < 1e-3
    assert m["tags"]["t"] == list(result.maps["lsi"].tag_ids)
    assert map_file(prep, "als") is None

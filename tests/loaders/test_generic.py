"""The generic catalog format (JSONL and CSV) and its validation."""

from __future__ import annotations

import json

import pytest
from _loader_helpers import jsonl, write

from mangarec.catalog import Catalog, item_record
from mangarec.errors import InputError
from mangarec.loaders import load_catalog


def rec(id="a1", **kw):
    r = {"id": id, "title": f"Title {id}", "kind": "anime", "tags": {"genre": ["Action", "Yaoi"]}}
    r.update(kw)
    return r


def test_round_trip_of_item_record(tmp_path, two_clusters: Catalog):
    p = write(tmp_path / "cat.jsonl", "".join(json.dumps(item_record(i)) + "\n" for i in two_clusters))
    cat = load_catalog([str(p)])
    assert cat.items == two_clusters.items
    assert cat.fingerprint == Catalog(items=two_clusters.items).fingerprint


def test_full_record(tmp_path):
    r = rec(
        "m11",
        kind="manga",
        alt_titles=["Alt"],
        type="Manga",
        date="2001-04-05",
        description="Text",
        popularity=12,
        score=8.1,
        external={"mal": 11, "al": "x"},
        related=[{"id": "a1", "type": "Adaptation"}, {"id": "zz", "type": "Sequel"}],
        adult=False,
        url="https://example.org/m11",
        tags={"genre": ["Romance"], "theme": ["School"]},
    )
    p = write(tmp_path / "c.jsonl", jsonl([r, rec("a1")]), "gzip")
    cat = load_catalog([str(p)])
    m = cat["m11"]
    assert m.year == 2001 and m.date == "2001-04-05" and m.alt_titles == ("Alt",)
    assert m.tag_groups == {"genre": ("Romance",), "theme": ("School Life",)}
    assert dict(m.external) == {"al": "x", "mal": "11"}
    assert [r.id for r in m.related] == ["a1"]  # zz is not in the catalog
    assert cat["a1"].tag_list == ("Action", "Boys' Love")


def test_tags_as_plain_list(tmp_path):
    p = write(tmp_path / "c.jsonl", jsonl([rec(tags=["Comedy"])]))
    assert load_catalog([str(p)]).items[0].tags == (("genre", ("Comedy",)),)


def test_adult_field_and_tag(tmp_path):
    p = write(tmp_path / "c.jsonl", jsonl([rec("a"), rec("b", adult=True), rec("c", tags={"genre": ["Hentai"]})]))
    assert load_catalog([str(p)]).ids == ("a",)
    assert [i.adult for i in load_catalog([str(p)], include_adult=True)] == [False, True, True]


@pytest.mark.parametrize(
    "change,match",
    [
        ({"title": ""}, "empty title"),
        ({"title": None}, "missing title"),
        ({"kind": "movie"}, "field 'kind' must be one of anime, manga"),
        ({"kind": None}, "missing field 'kind'"),
        ({"id": None}, "missing field 'id'"),
        ({"id": ["x"]}, "field 'id' must be an integer or a string"),
        ({"tags": "Action"}, "field 'tags' must be an object"),
        ({"tags": {"genre": "Action"}}, "field 'tags.genre' must be a list of strings"),
        ({"tags": {"genre": [1]}}, "field 'tags.genre' must be a list of strings"),
        ({"year": "1999"}, "field 'year' must be an integer"),
        ({"date": "5 May"}, "field 'date' must be YYYY"),
        ({"popularity": "many"}, "field 'popularity' must be a number"),
        ({"score": True}, "field 'score' must be a number"),
        ({"alt_titles": "x"}, "field 'alt_titles' must be a list of strings"),
        ({"external": {"mal": [1]}}, "field external.mal must be a string or an integer"),
        ({"related": [{"type": "Sequel"}]}, "missing field 'id'"),
        ({"related": {"id": "x"}}, "field 'related' must be a list"),
        ({"adult": "yes"}, "field 'adult' must be true or false"),
        ({"description": 5}, "field 'description' must be a string"),
    ],
)
def test_bad_fields_name_the_field(tmp_path, expect_error, change, match):
    bad = rec("b2")
    bad.update(change)
    p = write(tmp_path / "c.jsonl", jsonl([rec("b1"), bad]))
    expect_error(lambda: load_catalog([f"generic:{p}"]), file=p, line=2, match=match)


def test_csv_variant(tmp_path):
    text = (
        "id,title,kind,type,year,tags,description,popularity,score\n"
        'a1,"Cowboy Bebop",anime,TV,1998,"genre:Action|genre:Sci-Fi|theme:Space","Bounty hunters, in space.",100,8.8\n'
        "m2,Yotsuba&!,manga,,,Comedy|demographic:Seinen,,,\n"
    )
    p = write(tmp_path / "c.csv", text)
    cat = load_catalog([str(p)])
    a, m = cat.items
    assert a.title == "Cowboy Bebop" and a.year == 1998 and a.type == "TV" and a.score == 8.8
    assert a.tag_groups == {"genre": ("Action", "Sci-Fi"), "theme": ("Space",)}
    assert a.description == "Bounty hunters, in space." and a.popularity == 100
    assert m.title == "Yotsuba&!" and m.tag_groups == {"demographic": ("Seinen",), "genre": ("Comedy",)}
    assert m.year is None and m.score is None


@pytest.mark.parametrize(
    "row,match",
    [
        ("x1,T,anime,TV,199x,genre:A,,,", "column 'year' must be an integer"),
        ("x1,T,anime,TV,1999,genre:A,,lots,", "column 'popularity' must be a number"),
        ("x1,,anime,TV,1999,genre:A,,,", "empty title"),
        ("x1,T,film,TV,1999,genre:A,,,", "field 'kind'"),
    ],
)
def test_csv_bad_rows(tmp_path, expect_error, row, match):
    p = write(tmp_path / "c.csv", "id,title,kind,type,year,tags,description,popularity,score\n" + row + "\n")
    expect_error(lambda: load_catalog([str(p)]), file=p, line=2, match=match)


def test_csv_missing_columns(tmp_path, expect_error):
    p = write(tmp_path / "c.csv", "id,title,type\n1,A,TV\n")
    expect_error(lambda: load_catalog([f"generic:{p}"]), file=p, line=1, match="missing columns: kind")


def test_updated_round_trips_and_is_checked(tmp_path, two_clusters: Catalog):
    import dataclasses

    items = [
        dataclasses.replace(it, updated="2026-12-07T21:00:00Z") if k % 2 else it for k, it in enumerate(two_clusters)
    ]
    p = write(tmp_path / "cat.jsonl", "".join(json.dumps(item_record(i)) + "\n" for i in items))
    assert load_catalog([str(p)]).items == tuple(items)
    bad = write(tmp_path / "bad.jsonl", json.dumps(rec("a1", updated="2026-12-07 21:00")) + "\n")
    with pytest.raises(InputError, match="updated"):
        load_catalog([str(bad)])

"""load_catalog: specs, format detection, merging, limits and the spec-level errors."""

from __future__ import annotations

import json

import pytest
from _loader_helpers import jsonl, v3_record, write

from mangarec.errors import InputError
from mangarec.loaders import load_catalog
from mangarec.loaders.detect import detect_format, parse_spec

MAL = "anime_id,name,genre,type,episodes,rating,members\n1,One,Action,TV,1,7.0,10\n2,Two,Comedy,TV,1,7.5,20\n"


def generic(id, kind="anime", tags=("Action",)):
    return {"id": id, "title": f"T{id}", "kind": kind, "tags": {"genre": list(tags)}}


@pytest.mark.parametrize(
    "name,text,compression,expected",
    [
        ("m.jsonl.xz", jsonl([v3_record(1)]), "xz", "mangadex-v3"),
        ("m.json", jsonl([v3_record(1)]), None, "mangadex-v3"),
        ("anime.csv.gz", MAL, "gzip", "mal"),
        ("r.csv", "user_id,anime_id,rating\n1,2,3\n", None, "ratings"),
        ("h.csv.bz2", "user_id,anime_id\n1,2\n", "bz2", "ratings"),
        ("p.csv", "pseudonym,item_id,rating\nab,2,3\n", None, "ratings"),
        ("ml.csv", "userId,movieId,rating,timestamp\n1,2,3,4\n", None, "ratings"),
        ("g.jsonl", jsonl([generic("a1")]), None, "generic"),
        ("g.csv", "id,title,kind,tags\na1,T,anime,Action\n", None, "generic"),
        ("v5.jsonl", json.dumps({"result": "ok", "response": "collection", "data": []}) + "\n", None, "mangadex-v5"),
        ("noext", MAL, None, "mal"),
    ],
)
def test_detection(tmp_path, name, text, compression, expected):
    assert detect_format(write(tmp_path / name, text, compression)) == expected


@pytest.mark.parametrize(
    "name,text,match",
    [
        ("x.csv", "a,b,c\n1,2,3\n", "unrecognised CSV header"),
        ("x.jsonl", '{"foo": 1}\n', "unrecognised keys foo"),
        ("x.jsonl", "[1, 2]\n", "not a JSON object"),
    ],
)
def test_ambiguous_asks_for_format(tmp_path, expect_error, name, text, match):
    p = write(tmp_path / name, text)
    msg = expect_error(lambda: load_catalog([str(p)]), file=p, match=match)
    assert "FORMAT:PATH" in msg


def test_directory_without_known_files(tmp_path, expect_error):
    expect_error(lambda: load_catalog([str(tmp_path)]), file=tmp_path, match="FORMAT:PATH")


def test_spec_parsing(tmp_path):
    assert parse_spec("mal:/x/y.csv").format == "mal"
    assert parse_spec("MANGADEX-V3:a.jsonl").format == "mangadex-v3"
    assert parse_spec("/x/y.csv").format is None
    odd = write(tmp_path / "generic:odd.jsonl", jsonl([generic("a1")]))  # an existing path with a colon
    assert parse_spec(str(odd)).format is None
    assert len(load_catalog([str(odd)])) == 1
    assert len(load_catalog([odd])) == 1  # a Path works too


def test_unknown_format_and_missing_file(tmp_path, expect_error):
    expect_error(lambda: load_catalog([f"csvx:{tmp_path}/a.csv"]), match="unknown format 'csvx' \\(known: mangadex-v3")
    expect_error(
        lambda: load_catalog([str(tmp_path / "none.jsonl")]), file=tmp_path / "none.jsonl", match="file not found"
    )
    expect_error(lambda: load_catalog([f"mal:{tmp_path / 'none.csv'}"]), match="file not found")
    expect_error(lambda: load_catalog([]), match="no data given")


def test_wrong_forced_format(tmp_path, expect_error):
    p = write(tmp_path / "anime.csv", MAL)
    expect_error(lambda: load_catalog([f"mangadex-v3:{p}"]), file=p, line=1, match="invalid JSON")


def test_merge_keeps_order_and_sources(tmp_path):
    a = write(tmp_path / "anime.csv", MAL)
    g = write(tmp_path / "g.jsonl", jsonl([generic("m1", "manga"), generic("m2", "manga", tags=("Yuri",))]))
    cat = load_catalog([str(a), str(g)])
    assert cat.ids == ("1", "2", "m1", "m2") and cat.sources == (str(a), str(g))
    assert cat["m2"].tag_list == ("Girls' Love",)
    assert [i.kind for i in cat] == ["anime", "anime", "manga", "manga"]


def test_duplicate_across_formats(tmp_path, expect_error):
    a = write(tmp_path / "anime.csv", MAL)
    g = write(tmp_path / "g.jsonl", jsonl([generic("m1"), generic("2")]))
    expect_error(
        lambda: load_catalog([str(a), str(g)]), file=g, line=2, match=f"duplicate item id '2' \\(first at {a}:3\\)"
    )


def test_limit_across_specs(tmp_path):
    a = write(tmp_path / "anime.csv", MAL)
    g = write(tmp_path / "g.jsonl", jsonl([generic("m1"), generic("m2"), generic("m3")]))
    assert load_catalog([str(a), str(g)], limit=3).ids == ("1", "2", "m1")
    assert load_catalog([str(a), str(g)], limit=2).sources == (str(a),)  # g was never read
    with pytest.raises(InputError, match="limit must be a positive integer"):
        load_catalog([str(a), str(g)], limit=0)


def test_mal_directory_prefers_ratings_over_history(tmp_path):
    write(tmp_path / "anime.csv.gz", MAL, "gzip")
    write(tmp_path / "history.csv", "user_id,anime_id\n1,1\n1,2\n")
    assert load_catalog([str(tmp_path)]).ratings.implicit
    write(tmp_path / "ratings.csv", "user_id,anime_id,rating\n1,1,5\n")
    cat = load_catalog([str(tmp_path)])
    assert not cat.ratings.implicit and cat.ratings.nnz == 1
    hist = load_catalog([f"mal-history:{tmp_path}"])
    assert hist.ratings.implicit and hist.ratings.nnz == 2


def test_history_spec_forces_implicit(tmp_path):
    a = write(tmp_path / "anime.csv", MAL)
    r = write(tmp_path / "r.csv", "user_id,anime_id,rating\n1,1,5\n2,2,9\n")
    cat = load_catalog([str(a), f"history:{r}"])
    assert cat.ratings.implicit and cat.ratings.matrix.toarray().tolist() == [[1, 0], [0, 1]]


def test_empty_file(tmp_path, expect_error):
    p = write(tmp_path / "anime.csv", "")
    expect_error(lambda: load_catalog([f"mal:{p}"]), file=p, match="empty file")
    q = write(tmp_path / "e.jsonl", "")
    expect_error(lambda: load_catalog([f"mangadex-v3:{q}"]), file=q, match="empty file")


def test_deterministic(tmp_path, shared_data):
    spec = [str(shared_data / "mangadex-v3" / "fixture_manga.jsonl.gz")]
    assert load_catalog(spec).fingerprint == load_catalog(spec).fingerprint


# -- issue 21, broken promise 7: ratings of another catalog are one line ---------------------------


def test_ratings_that_name_no_title_of_the_catalog_are_one_line(tmp_path, expect_error):
    cat = tmp_path / "anime.csv"
    cat.write_text(
        "anime_id,name,genre,type,episodes,rating,members\n1,One,Action,TV,1,7.0,10\n2,Two,Drama,TV,1,7.0,9\n"
    )
    r = tmp_path / "rating.csv"
    r.write_text("user_id,anime_id,rating\n1,901,8\n1,902,7\n2,901,9\n")
    msg = expect_error(lambda: load_catalog([str(cat), str(r)]), file=r, line=2, match="names a title of the catalog")
    assert "3 rating" in msg and "901" in msg


def test_some_unknown_ratings_are_still_dropped_and_counted(tmp_path):
    cat = tmp_path / "anime.csv"
    cat.write_text(
        "anime_id,name,genre,type,episodes,rating,members\n1,One,Action,TV,1,7.0,10\n2,Two,Drama,TV,1,7.0,9\n"
    )
    r = tmp_path / "rating.csv"
    r.write_text("user_id,anime_id,rating\n1,901,8\n1,2,7\n2,1,9\n")
    c = load_catalog([str(cat), str(r)])
    assert c.ratings is not None and c.ratings.nnz == 2
    assert c.skipped["ratings: unknown item"] == 1

"""MangaDex v5 API responses: the recorded-format fixture pages and bad responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _loader_helpers import write

from mangarec.loaders import load_catalog
from mangarec.loaders.detect import detect_format

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mangadex_v5"


def pages():
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob("*.json"))]


def by_title(cat):
    return {i.title: i for i in cat}


def test_directory_of_pages():
    assert detect_format(FIXTURES) == "mangadex-v5"
    cat = load_catalog([str(FIXTURES)])
    assert [i.title for i in cat] == ["Yotsuba&!", "Blue Period", "Given", "A Webtoon Title"]
    assert cat.skipped == {"adult": 2, "no tags": 1}
    assert len(cat.sources) == 1


def test_entity_mapping():
    cat = load_catalog([str(FIXTURES)], include_adult=True, min_tags=0)
    t = by_title(cat)
    y = t["Yotsuba&!"]
    assert y.id == "96e0ecdc-2b96-5f3a-ad89-5b16d9bf4a2a"
    assert y.url == f"https://mangadex.org/title/{y.id}"
    assert y.alt_titles == ("よつばと！", "Yotsuba to!")
    assert y.tag_groups == {"demographic": ("Seinen",), "genre": ("Comedy", "Slice of Life")}
    assert y.year == 2003 and y.date == "2018-01-20" and y.type == "Manga"
    assert dict(y.external) == {"al": "30104", "mal": "104", "mu": "3"}  # shop links dropped
    assert "**" not in y.description and "](" not in y.description and "---" not in y.description
    assert y.description.startswith("Yotsuba is a strange little girl")
    assert "boundless joy" in y.description
    assert "Official site" not in y.description and "Links" not in y.description  # a link list says nothing
    assert y.score is None and y.popularity > t["Given"].popularity  # 5 languages vs 1
    bp = t["Blue Period"]
    assert "grades & feels" in bp.description and "\r" not in bp.description
    assert bp.related == ()  # its spin-off is not in the catalog
    assert t["Given"].tag_groups["genre"] == ("Boys' Love", "Drama", "Romance")
    assert t["Given"].description == "Mafuyu and Ritsuka form a band."
    w = t["A Webtoon Title"]  # no English title: the English alternative title
    assert w.alt_titles == ("웹툰 제목",) and w.type == "Manhwa"
    assert [(r.id, r.type) for r in w.related] == [(bp.id, "Based on")]
    assert t["An Adult Romance"].adult and t["Explicit Title"].adult and t["Explicit Title"].type == "Manhua"
    assert not y.adult
    assert t["Tagu Nashi"].tags == () and t["Tagu Nashi"].description == ""


def test_jsonl_of_responses(tmp_path):
    text = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pages())
    p = write(tmp_path / "manga.jsonl.xz", text, "xz")
    assert detect_format(p) == "mangadex-v5"
    a = load_catalog([str(p)])
    b = load_catalog([str(FIXTURES)])
    assert a.items == b.items


def test_jsonl_of_entities(tmp_path):
    ents = [e for p in pages() for e in p["data"]]
    p = write(tmp_path / "ents.jsonl", "".join(json.dumps(e) + "\n" for e in ents))
    assert load_catalog([str(p)]).items == load_catalog([str(FIXTURES)]).items


def _page_with(change):
    page = pages()[0]
    change(page)
    return json.dumps(page) + "\n"


@pytest.mark.parametrize(
    "change,match",
    [
        (
            lambda p: p.update(result="error", errors=[{"status": 400, "title": "Bad Request", "detail": "x"}]),
            "the API returned an error: 400 Bad Request",
        ),
        (lambda p: p.update(result="ko"), "not a MangaDex v5 response"),
        (lambda p: p.update(data={"id": "x"}), "field 'data' must be a list"),
        (lambda p: p["data"][1]["attributes"].update(title={}), "missing title"),
        (lambda p: p["data"][1]["attributes"].update(title={"en": "  "}), "empty title"),
        (lambda p: p["data"][1]["attributes"].update(title="Blue"), "field 'attributes.title' must be an object"),
        (lambda p: p["data"][1]["attributes"].update(tags={"a": 1}), "field 'tags' must be a list"),
        (lambda p: p["data"][1]["attributes"].update(tags=[5]), "attributes.tags\\[0\\]"),
        (lambda p: p["data"][1]["attributes"].update(year="2017"), "field 'year' must be an integer"),
        (lambda p: p["data"][1].update(id=42.0), "field 'id' must be an integer or a string"),
        (lambda p: p["data"][1].update(attributes=None), "field 'attributes' must be an object"),
        (lambda p: p["data"][2].update(id=p["data"][0]["id"]), "duplicate item id"),
    ],
)
def test_bad_responses(tmp_path, expect_error, change, match):
    p = write(tmp_path / "r.jsonl", json.dumps(pages()[1]) + "\n" + _page_with(change))
    expect_error(lambda: load_catalog([f"mangadex-v5:{p}"]), file=p, line=2, match=match)


def test_bad_page_in_a_directory(tmp_path, expect_error):
    d = tmp_path / "pages"
    d.mkdir()
    (d / "page-000-00000.json").write_text(json.dumps(pages()[0]))
    (d / "page-000-00003.json").write_text('{"result": "ok", "data": [')
    expect_error(lambda: load_catalog([str(d)]), file=d / "page-000-00003.json", line=1, match="invalid JSON")


def test_duplicate_across_files(tmp_path, expect_error):
    text = json.dumps(pages()[0]) + "\n"
    a = write(tmp_path / "a.jsonl", text)
    b = write(tmp_path / "b.jsonl", text)
    msg = expect_error(lambda: load_catalog([str(a), str(b)]), file=b, line=1, match="duplicate item id")
    assert f"{a}:1" in msg

"""Text cleaning at load (issue 8, items 10, 11, 14, 15): control characters, lone surrogates,
bidi overrides, invisible titles, ids with a newline, absurd ratings."""

from __future__ import annotations

import json

import pytest
from _loader_helpers import jsonl, v3_record, write
from hypothesis import given
from hypothesis import strategies as st

from mangarec.bbcode import to_plain_text
from mangarec.catalog import Item, item_record
from mangarec.loaders import iter_spec_items, load_catalog
from mangarec.loaders.clean import clean_item
from mangarec.tags import canonical_tag
from mangarec.textclean import clean_line, clean_text, has_visible

DIRTY = "\x00\x01\x07\x1b\x7f\u202e\u2066\u200b\ufeff\u2060\u00ad\ud800\udfff\U000e0041"


def generic(id="a1", title="T", **kw):
    rec = {"id": id, "title": title, "kind": "anime", "tags": {"genre": ["Action"]}}
    rec.update(kw)
    return rec


def jsonl_escaped(records) -> str:
    """JSON lines with every non-ASCII character escaped (lone surrogates become \\udXXX)."""
    return "".join(json.dumps(r, ensure_ascii=True) + "\n" for r in records)


# -- the rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("Tom\x00 & Jerry", "Tom & Jerry"),
        ("  A\tB\nC\r\n D  ", "A B C D"),
        ("evil\u202eexe.txt", "evilexe.txt"),
        ("\u2067isolated\u2069", "isolated"),
        ("My Boyfriend\u200b is a\u200b Vampire", "My Boyfriend is a Vampire"),
        ("Broken \ud800surrogate\udfff", "Broken surrogate"),
        ("it\x92s \x93quoted\x94\x85", "it’s “quoted”…"),  # Windows-1252 mojibake
        ("bad\x81\x8d\x8f\x90\x9d", "bad"),  # C1 bytes Windows-1252 leaves undefined
        ("می\u200cخواهم", "می\u200cخواهم"),  # ZWNJ is spelling in Persian: kept
        ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),  # ZWJ emoji sequence: kept
        ("\u200fשלום\u200e", "\u200fשלום\u200e"),  # direction marks: kept
        ("non\xa0breaking\u3000ideographic", "non breaking ideographic"),
        ("tag\U000e0041\U000e0042s", "tags"),
    ],
)
def test_clean_line_rules(raw, expected):
    assert clean_line(raw) == expected
    assert clean_line(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "\u200b\u200b",
        "\u3164",
        "\u2800\u2800",
        "\u115f\u1160",
        "\u0301\u0302",
        "\ufe0f",
        DIRTY,
        "\u200d\u200c",
        "\x00\n\t",
    ],
)
def test_invisible_strings_are_empty(raw):
    assert clean_line(raw) == "" and clean_text(raw) == "" and not has_visible(clean_line(raw))


def test_clean_text_keeps_paragraphs():
    raw = "First\x00 line\u2028second   line\r\n\r\n\r\n\u2029Para\u202e two\x85\n\n  "
    assert clean_text(raw) == "First line\nsecond line\n\nPara two…"


@given(st.text(max_size=40))
def test_property_cleaned_text_has_nothing_dangerous_and_is_stable(text):
    for out in (clean_line(text), clean_text(text)):
        assert not any(c in DIRTY or 0x80 <= ord(c) <= 0x9F for c in out)
        assert not any(ord(c) < 0x20 and c != "\n" for c in out)
        assert out == "" or has_visible(out)
        out.encode("utf-8")  # no lone surrogate left
    assert clean_line(clean_line(text)) == clean_line(text)
    assert clean_text(clean_text(text)) == clean_text(text)
    assert "\n" not in clean_line(text)


def test_descriptions_follow_the_same_rules():
    assert to_plain_text("[b]Bold\u202e[/b] it\x92s\x00 fine\u200b") == "Bold it’s fine"
    assert to_plain_text("[spoiler]x[/spoiler]\u3164\u200b") == ""


def test_tag_names_are_cleaned_then_canonical():
    assert canonical_tag("Sho\u200bunen\x00 Ai") == "Boys' Love"
    assert canonical_tag("\u202eAction") == "Action"
    assert canonical_tag("\u200b\u3164") == ""


# -- item 11: every loader writes clean text ----------------------------------------------------


def test_generic_jsonl_titles_tags_alt_titles_and_more(tmp_path):
    rec = generic(
        title="Ti\x00tle\u202e",
        alt_titles=["\u200b", "Alt\x07 one", "Title", "alt\u2066 one"],
        tags={"genre": ["Act\x00ion", "\u200b\u3164", "Com\u202eedy"], "the\x00me": ["Magic"]},
        description="Line\x00 one\u2028two",
        type="T\x1bV",
        url="https://x.example/\x00a",
        external={"mal\x00": "1\u202e", "al": "\u200b"},
        related=[{"id": "b2", "type": "Se\x00quel", "title": "\u200b"}],
    )
    p = write(tmp_path / "g.jsonl", jsonl_escaped([rec, generic("b2")]))
    item = load_catalog([str(p)])["a1"]
    assert item.title == "Title"
    assert item.alt_titles == ("Alt one", "alt one")
    assert item.tags == (("genre", ("Action", "Comedy")), ("theme", ("Magic",)))
    assert item.description == "Line one\ntwo"
    assert item.type == "TV" and item.url == "https://x.example/a"
    assert item.external == (("mal", "1"),)
    assert item.related[0].type == "Sequel" and item.related[0].title is None


def test_every_format_cleans_titles(tmp_path):
    v3 = write(tmp_path / "m.jsonl", jsonl_escaped([v3_record(1, title="Naru\x00to\u202e", genre=["Act\x00ion"])]))
    mal = write(
        tmp_path / "anime.csv",
        "anime_id,name,genre,type,episodes,rating,members\n"
        '5,"Gin\x1btama\u200b&#039;","Act\x01ion, Comedy",TV,1,9.0,10\n',
    )
    gcsv = write(
        tmp_path / "g.csv", 'id,title,kind,tags,alt_titles\nc1,"Ti\x00tle",manga,"genre:Dra\x7fma","\u200b|Alt\x00"\n'
    )
    v5 = write(
        tmp_path / "v5.jsonl",
        jsonl_escaped(
            [
                {
                    "id": "u1",
                    "type": "manga",
                    "attributes": {
                        "title": {"en": "One\ud800 Piece\u2067"},
                        "altTitles": [{"ja": "\udfff"}, {"fr": "Un\x00e"}],
                        "tags": [{"attributes": {"name": {"en": "Adven\x00ture"}, "group": "genre"}}],
                        "description": {"en": "Pi\x00rates"},
                    },
                }
            ]
        ),
    )
    got = {i.id: i for spec in (str(v3), str(mal), str(gcsv), f"mangadex-v5:{v5}") for i, _ in iter_spec_items(spec)}
    assert got["1"].title == "Naruto" and got["1"].tag_list == ("Action", "Shounen")
    assert got["5"].title == "Gintama'" and got["5"].tag_list == ("Action", "Comedy")
    assert got["c1"].title == "Title" and got["c1"].tag_list == ("Drama",) and got["c1"].alt_titles == ("Alt",)
    assert got["u1"].title == "One Piece" and got["u1"].alt_titles == ("Une",)
    assert got["u1"].tag_list == ("Adventure",) and got["u1"].description == "Pirates"
    for item in got.values():
        json.dumps(item_record(item), ensure_ascii=False).encode("utf-8")  # nothing unencodable


@pytest.mark.parametrize(
    "title", ["\u200b\u200b\u200b", "\u3164", "\x00\x01", "\u202e\u2066", "\ud800", "\u2800", " \u00ad "]
)
def test_invisible_title_is_rejected_with_the_line(tmp_path, expect_error, title):
    p = write(tmp_path / "g.jsonl", jsonl_escaped([generic("a1"), generic("a2", title=title)]))
    msg = expect_error(lambda: load_catalog([str(p)]), file=p, line=2, match="title has no visible characters")
    assert "\n" not in msg and "\x00" not in msg


def test_invisible_group_name_is_rejected(tmp_path, expect_error):
    p = write(tmp_path / "g.jsonl", jsonl_escaped([generic(tags={"\u200b": ["Action"]})]))
    expect_error(lambda: load_catalog([str(p)]), file=p, line=1, match="tag group name has no visible characters")


def test_clean_item_returns_the_same_object_when_clean():
    item = Item(id="1", title="Clean", kind="manga", alt_titles=("Alt",), description="Fine.\n\nText.")
    assert clean_item(item, "x", 1) is item
    dirty = Item(id="1", title="Clean", kind="manga", description="Fine.\n\n\n\nText.  ")
    assert clean_item(dirty, "x", 1).description == "Fine.\n\nText."


# -- item 15: lone surrogates anywhere no longer crash ------------------------------------------


def test_lone_surrogate_in_a_v5_page_directory(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    page = {
        "result": "ok",
        "data": [
            {
                "id": "u1",
                "type": "manga",
                "attributes": {
                    "title": {"en": "Title\ud800"},
                    "description": {"en": "Text \udfff here"},
                    "tags": [{"attributes": {"name": {"en": "Drama\udbff"}, "group": "genre"}}],
                },
            }
        ],
        "total": 1,
        "offset": 0,
        "limit": 1,
    }
    (pages / "page-000-00000.json").write_text(json.dumps(page))  # ensure_ascii: \ud800 escapes
    cat = load_catalog([str(pages)])
    assert cat["u1"].title == "Title" and cat["u1"].description == "Text here"
    assert cat["u1"].tag_list == ("Drama",)
    assert len(cat.fingerprint) == 64


def test_lone_surrogate_in_jsonl_is_read_like_a_page(tmp_path):
    p = write(tmp_path / "g.jsonl", jsonl_escaped([generic(title="Ti\ud800tle")]))
    assert load_catalog([str(p)])["a1"].title == "Title"


def test_deeply_nested_jsonl_line_is_invalid_json(tmp_path, expect_error):
    p = write(tmp_path / "g.jsonl", jsonl([generic()]) + "[" * 100_000 + "]" * 100_000 + "\n")
    expect_error(lambda: load_catalog([f"generic:{p}"]), file=p, line=2, match="invalid JSON")


# -- item 10: ids with a trailing newline ---------------------------------------------------------


@pytest.mark.parametrize("bad", ["x5\n", "x5\r\n", "x5 ", "\nx5", "x\n5", "٣", "x5\x00"])
def test_id_with_newline_or_odd_characters_is_rejected(tmp_path, expect_error, bad):
    p = write(tmp_path / "g.jsonl", jsonl([generic("x4"), generic(bad)]))
    expect_error(lambda: load_catalog([str(p)]), file=p, line=2, match="field 'id': invalid id")


def test_related_id_with_newline_is_rejected(tmp_path, expect_error):
    p = write(tmp_path / "g.jsonl", jsonl([generic("x4", related=[{"id": "x5\n", "type": "Sequel"}])]))
    expect_error(lambda: load_catalog([str(p)]), file=p, line=1, match="invalid id 'x5\\\\n'")


def test_date_with_newline_or_foreign_digits_is_rejected(tmp_path, expect_error):
    for date in ("2020\n", "٢٠٢٠"):
        p = write(tmp_path / "g.jsonl", jsonl([generic(date=date)]))
        expect_error(lambda p=p: load_catalog([str(p)]), file=p, line=1, match="field 'date' must be YYYY")


def test_ids_differing_only_in_case_are_rejected(tmp_path, expect_error):
    p = write(tmp_path / "g.jsonl", jsonl([generic("ab1"), generic("x2"), generic("AB1")]))
    msg = expect_error(lambda: load_catalog([str(p)]), file=p, line=3, match="differ only in case")
    assert f"{p}:1" in msg


# -- item 14: absurd ratings ----------------------------------------------------------------------

MAL = "anime_id,name,genre,type,episodes,rating,members\n1,One,Action,TV,1,7.0,10\n2,Two,Comedy,TV,1,7.5,20\n"


@pytest.mark.parametrize(
    "value,match",
    [
        ("1e20", "must be at most 1e\\+06"),
        ("1000001", "must be at most 1e\\+06"),
        ("inf", "must be a finite number > 0"),
        ("-inf", "must be a finite number > 0"),
        ("1e400", "must be a finite number > 0"),
        ("0", "must be a number > 0"),
    ],
)
def test_absurd_ratings_are_rejected_with_the_line(tmp_path, expect_error, value, match):
    anime = write(tmp_path / "anime.csv", MAL)
    r = write(tmp_path / "r.csv", f"user_id,anime_id,rating\nu1,1,8\nu2,2,{value}\n")
    expect_error(lambda: load_catalog([str(anime), str(r)]), file=r, line=3, match=match)


def test_largest_rating_accepted(tmp_path):
    anime = write(tmp_path / "anime.csv", MAL)
    r = write(tmp_path / "r.csv", "user_id,anime_id,rating\nu1,1,1000000\nu2,2,0.5\n")
    assert load_catalog([str(anime), str(r)]).ratings.matrix.max() == 1e6


_ALPHABET = st.sampled_from(
    list("ab |\n\t\r") + ["\u200b", "\u3164", "\u00a0", "\x00", "\x92", "é", "\u200c", "\u0301"]
)
_TEXT = st.text(alphabet=_ALPHABET, max_size=12)


@given(_TEXT)
def test_property_fast_checks_are_exact(text):
    """The shortcuts that skip cleaning say "clean" exactly when cleaning changes nothing."""
    from mangarec.textclean import is_clean_line, is_clean_text

    assert is_clean_text(text) == (clean_text(text) == text)
    if text:
        assert is_clean_line(text) == (clean_line(text) == text)


@given(_TEXT, st.lists(_TEXT, max_size=3), st.lists(_TEXT, max_size=3), _TEXT, st.one_of(st.none(), _TEXT))
def test_property_clean_item_shortcut_is_exact(title, alt, tags, rtype, rtitle):
    """clean_item skips an item only when clean_line would change none of its fields (exactly
    so, unless a field has a "|" next to a space: then the shortcut may say "dirty" in vain)."""
    from mangarec.catalog import Related
    from mangarec.loaders.clean import _lines, _needs_work

    item = Item(
        id="1",
        title=title,
        kind="manga",
        alt_titles=tuple(alt),
        tags=(("genre", tuple(tags)),),
        external=(("mal", rtype),),
        related=(Related(id="2", type=rtype, title=rtitle),),
    )
    dirty = any(clean_line(s) != s for s in _lines(item))
    if dirty:
        assert _needs_work(item)
    elif not any("| " in s or " |" in s or s.startswith("|") or s.endswith("|") for s in _lines(item)):
        assert not _needs_work(item)
    out = clean_item(item, "x", 1) if clean_line(title) and all(clean_line(g) for g, _ in item.tags) else None
    if out is not None and not dirty:
        assert out is item

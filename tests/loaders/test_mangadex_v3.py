"""MangaDex v3 loader: the real files from ../shared/data and every bad-record case."""

from __future__ import annotations

import re

import pytest
from _loader_helpers import jsonl, v3_record, write

from mangarec.catalog import TAG_GROUPS
from mangarec.loaders import iter_spec_items, load_catalog
from mangarec.loaders.mangadex_v3 import record_to_item
from mangarec.tags import ALIASES, GROUP_OF

_MARKUP = re.compile(r"\[/?(?:b|i|u|s|url|spoiler|img|quote|list|hr|\*)(?:=[^\]]*)?\]", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:amp|quot|lt|gt|#0?39|[a-z]{2,8});")


@pytest.fixture(scope="module")
def full(shared_data):
    return load_catalog([str(shared_data / "mangadex-v3" / "manga.jsonl.xz")])


@pytest.mark.slow
def test_full_sfw_count_and_skips(full):
    # SOURCE.md: 37,507 records pass the SFW filter, 37,285 of them with at least one tag
    assert len(full) == 37_285
    assert full.skipped["no tags"] == 222
    assert len(full) + full.skipped["no tags"] == 37_507
    assert full.skipped["adult"] == 49_943 - 37_507
    assert not any(i.adult for i in full)


@pytest.mark.slow
def test_full_known_items(full):
    tog = full["1"]
    assert tog.title == "Tower of God"
    assert tog.tag_groups["demographic"] == ("Shounen",)
    assert tog.tag_groups["format"] == ("Award Winning", "Full Color", "Long Strip", "Web Comic")
    assert "Psychological" in tog.tag_groups["genre"]
    assert tog.score == 8.85 and tog.popularity > 0
    assert dict(tog.external) == {"al": "85143", "ap": "tower-of-god", "kt": "25436", "mu": "55901", "mal": "122663"}
    assert tog.description.startswith("Bam, who was alone all his life")
    assert '"What do you desire?' in tog.description  # &quot; decoded
    assert full["5"].title == "Naruto"
    assert "Ninja" in full["5"].tag_groups["theme"]
    assert "\u2014" in full["4"].description  # Beelzebub's &mdash;
    assert full["383"].title == "Flat & Flow"  # &amp; in a title
    assert full["762"].title == "St&rs"


@pytest.mark.slow
def test_full_tags_are_canonical_and_grouped(full):
    vocab = set(full.tag_vocabulary)
    for alias in ALIASES:
        assert alias not in vocab
    assert {"Boys' Love", "Girls' Love", "School Life"} <= vocab
    assert "Smut" not in vocab and "Sexual Violence" not in vocab  # filtered as adult
    for tag, group in full.tag_group_of.items():
        assert GROUP_OF.get(tag) == group, tag
    assert all(g in TAG_GROUPS for i in full for g, _ in i.tags)


@pytest.mark.slow
def test_full_descriptions_are_plain_text(full):
    described = [i for i in full if i.description]
    assert len(described) > 25_000
    for item in full:
        assert not _MARKUP.search(item.description), (item.id, _MARKUP.search(item.description))
        assert not _ENTITY.search(item.description), item.id
        assert not _ENTITY.search(item.title), item.id
        assert "\r" not in item.description and "\n\n\n" not in item.description


@pytest.mark.slow
def test_full_related_links_only_to_loaded_items(full):
    ids = set(full.ids)
    links = [r for i in full for r in i.related]
    assert len(links) > 5_000
    assert all(r.id in ids for r in links)


@pytest.mark.slow
def test_include_adult_keeps_every_tagged_record(shared_data):
    cat = load_catalog([str(shared_data / "mangadex-v3" / "manga.jsonl.xz")], include_adult=True, min_tags=0)
    assert len(cat) == 49_943 and "adult" not in cat.skipped
    assert sum(i.adult for i in cat) == 49_943 - 37_507


def test_fixture_file(shared_data):
    path = shared_data / "mangadex-v3" / "fixture_manga.jsonl.gz"
    cat = load_catalog([str(path)])
    assert len(cat) == 500 and cat.skipped == {}
    assert cat.sources == (str(path),)
    # the cut kept records with >= 3 raw tags; merging aliases (Yaoi + Shounen Ai) can leave 2
    assert all(len(i.tag_list) >= 2 for i in cat)
    # every record has a description; a few hold only a translation in a spoiler (dropped)
    assert sum(bool(i.description) for i in cat) >= 495
    assert cat["36921"].description == ""  # only "[b][u]Russian[/u][/b] [spoiler]...[/spoiler]"
    assert sum(len(i.tag_list) >= 3 for i in cat) >= 490
    assert list(cat.ids) == sorted(cat.ids, key=int)
    assert all(i.kind == "manga" and i.url.startswith("https://mangadex.org/manga/") for i in cat)
    assert not any(_MARKUP.search(i.description) for i in cat)


def test_fast_path_equals_checked_path(shared_data):
    from mangarec.loaders.base import iter_json_lines
    from mangarec.loaders.mangadex_v3 import _checked, _fast

    recs = [r for _, r in iter_json_lines(shared_data / "mangadex-v3" / "fixture_manga.jsonl.gz")]
    fast = [_fast(r) for r in recs]
    assert all(f is not None for f in fast)
    assert fast == [_checked(r, "f", 1) for r in recs]


def test_limit_stops_after_n_items(shared_data):
    cat = load_catalog([str(shared_data / "mangadex-v3" / "fixture_manga.jsonl.gz")], limit=7)
    assert len(cat) == 7
    assert cat.ids == tuple(
        i.id
        for _, i in zip(
            range(7), (it for it, _ in iter_spec_items(str(shared_data / "mangadex-v3" / "fixture_manga.jsonl.gz")))
        )
    )


def test_record_mapping():
    rec = v3_record(
        7,
        "Tom &amp; Jerry",
        description="[b]Hi[/b]\r\n\r\n[spoiler]x[/spoiler]Bye",
        genre=["Yaoi", "Shounen Ai", "Romance"],
        theme=["School Life"],
        rating=0,
        related=[{"id": 9, "title": "A &amp; B", "type": "Sequel", "r18": False}],
        external={"mal": "12", "al": 34},
    )
    item = record_to_item(rec, "f.jsonl", 3)
    assert item.id == "7" and item.title == "Tom & Jerry"
    assert item.description == "Hi\n\nBye"
    assert item.tag_groups == {
        "demographic": ("Shounen",),
        "genre": ("Boys' Love", "Romance"),
        "theme": ("School Life",),
    }
    assert item.score is None and item.popularity == 0.0  # rating 0 = unrated
    assert item.related[0].id == "9" and item.related[0].title == "A & B"
    assert dict(item.external) == {"mal": "12", "al": "34"}


def test_popularity_grows_with_languages_and_rating():
    a = record_to_item(v3_record(1, rating=8.0, languages=["gb"]), "f", 1)
    b = record_to_item(v3_record(2, rating=8.0, languages=["gb", "fr", "ru"]), "f", 1)
    c = record_to_item(v3_record(3, rating=6.0, languages=["gb", "fr", "ru"]), "f", 1)
    assert a.popularity < b.popularity and c.popularity < b.popularity


@pytest.mark.parametrize(
    "change,match",
    [
        ({"title": None}, "missing title"),
        ({"title": "   "}, "empty title"),
        ({"title": 12}, "field 'title' must be a string"),
        ({"id": 1.5}, "field 'id' must be an integer or a string"),
        ({"id": True}, "field 'id' must be an integer or a string"),
        ({"id": "a/b"}, "invalid id"),
        ({"genre": "Action"}, "field 'genre' must be a list of strings"),
        ({"theme": [1]}, "field 'theme' must be a list of strings"),
        ({"rating": "8"}, "field 'rating' must be a number"),
        ({"is_r18": "no"}, "field 'is_r18' must be true or false"),
        ({"external": []}, "field 'external' must be an object"),
        ({"related": [5]}, "related\\[0\\]"),
    ],
)
def test_bad_fields(tmp_path, expect_error, change, match):
    rec = v3_record(2)
    rec.update(change)
    if change.get("title", 0) is None:
        del rec["title"]
    p = write(tmp_path / "bad.jsonl", jsonl([v3_record(1), rec]))
    expect_error(lambda: load_catalog([f"mangadex-v3:{p}"]), file=p, line=2, match=match)


def test_invalid_json_line(tmp_path, expect_error):
    p = write(tmp_path / "bad.jsonl", jsonl([v3_record(1)]) + '{"id": 2, "title": \n' + jsonl([v3_record(3)]))
    expect_error(lambda: load_catalog([str(p)]), file=p, line=2, match="invalid JSON")


def test_error_mid_file_stops_the_reader_thread(tmp_path, expect_error):
    import threading

    recs = [v3_record(k, description="word " * 400) for k in range(1, 3000)]
    text = jsonl(recs[:5]) + "{broken\n" + jsonl(recs[5:])
    p = write(tmp_path / "m.jsonl.xz", text, "xz")
    before = threading.active_count()
    expect_error(lambda: load_catalog([str(p)]), file=p, line=6, match="invalid JSON")
    assert threading.active_count() == before


def test_not_an_object(tmp_path, expect_error):
    p = write(tmp_path / "bad.jsonl", jsonl([v3_record(1)]) + "[1, 2]\n")
    expect_error(lambda: load_catalog([f"mangadex-v3:{p}"]), file=p, line=2, match="expected a JSON object")


@pytest.mark.parametrize("compression", [None, "gzip", "xz"])
def test_incomplete_last_line(tmp_path, expect_error, compression):
    text = jsonl([v3_record(k) for k in range(1, 4)])
    p = write(tmp_path / "cut.jsonl", text[: len(text) - 40], compression)
    expect_error(lambda: load_catalog([str(p)]), file=p, line=3, match="truncated file")


def test_truncated_xz_stream(tmp_path, expect_error):
    p = write(
        tmp_path / "m.jsonl.xz", jsonl([v3_record(k, description="x" * 3000 + str(k)) for k in range(1, 400)]), "xz"
    )
    p.write_bytes(p.read_bytes()[:-200])
    expect_error(lambda: load_catalog([str(p)]), file=p, match="corrupt or truncated xz stream")


def test_corrupt_gzip(tmp_path, expect_error):
    p = write(tmp_path / "m.jsonl.gz", jsonl([v3_record(k) for k in range(1, 300)]), "gzip")
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    data[len(data) // 2 + 1] ^= 0xFF
    p.write_bytes(bytes(data))
    expect_error(lambda: load_catalog([f"mangadex-v3:{p}"]), file=p, match="corrupt or truncated gzip stream")


def test_duplicate_id_within_file(tmp_path, expect_error):
    p = write(tmp_path / "d.jsonl", jsonl([v3_record(1), v3_record(2), v3_record(1, "Again")]))
    msg = expect_error(lambda: load_catalog([str(p)]), file=p, line=3, match="duplicate item id '1'")
    assert f"{p}:1" in msg  # where the first one was


def test_duplicate_id_of_a_filtered_item_is_still_an_error(tmp_path, expect_error):
    p = write(tmp_path / "d.jsonl", jsonl([v3_record(1, is_r18=True), v3_record(1)]))
    expect_error(lambda: load_catalog([str(p)]), file=p, line=2, match="duplicate item id")


def test_adult_filter_and_min_tags(tmp_path):
    recs = [
        v3_record(1),
        v3_record(2, is_r18=True),
        v3_record(3, content=["Smut"]),
        v3_record(4, content=["Sexual Violence"]),
        v3_record(5, demographic=[], genre=[]),
        v3_record(6, content=["Ecchi"]),
    ]
    p = write(tmp_path / "m.jsonl", jsonl(recs))
    cat = load_catalog([str(p)])
    assert cat.ids == ("1", "6") and cat.skipped == {"adult": 3, "no tags": 1}
    everything = load_catalog([str(p)], include_adult=True, min_tags=0)
    assert [i.adult for i in everything] == [False, True, True, True, False, False]
    custom = load_catalog([str(p)], adult_tags=["Ecchi"])
    assert custom.ids == ("1", "3", "4") and custom.skipped["adult"] == 2
    assert load_catalog([str(p)], min_tags=3, include_adult=True).skipped["no tags"] == 3


def test_matches_are_kept_and_restricted_to_the_catalog(tmp_path):
    recs = [
        v3_record(
            1, matches=[{"id": 2, "title": "B", "score": 0.5}, {"id": 99, "title": "gone"}, {"id": 3, "title": "C"}]
        ),
        v3_record(2),
        v3_record(3, matches=[]),
    ]
    assert record_to_item(recs[0], "f", 1).matches == ("2", "99", "3")
    from mangarec.loaders.mangadex_v3 import _checked

    assert _checked(recs[0], "f", 1).matches == ("2", "99", "3")
    p = write(tmp_path / "m.jsonl", jsonl(recs))
    cat = load_catalog([f"mangadex-v3:{p}"])
    assert cat["1"].matches == ("2", "3") and cat["3"].matches == ()


def test_bad_matches_name_the_field(tmp_path, expect_error):
    rec = v3_record(2, matches=[5])
    p = write(tmp_path / "bad.jsonl", jsonl([v3_record(1), rec]))
    expect_error(lambda: load_catalog([f"mangadex-v3:{p}"]), file=p, line=2, match="matches\\[0\\]")


@pytest.mark.slow
def test_full_descriptions_have_no_link_list_left(full):
    heads = ("links:", "link:", "other links:", "descriptions in other languages:")
    bad = [i.id for i in full if any(ln.strip().lower() in heads for ln in i.description.split("\n"))]
    assert not bad, bad[:5]


@pytest.mark.slow
def test_full_matches_are_the_reference_lists(full):
    with_lists = [i for i in full if i.matches]
    assert len(with_lists) > 30000
    assert all(m in full.index for i in with_lists[:2000] for m in i.matches)

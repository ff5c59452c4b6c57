"""mangarec.bbcode: hand-written cases of MangaDex BBCode to plain text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mangarec.bbcode import strip_bbcode, to_plain_text, unescape


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("[b]bold[/b] and [i]italic[/i] and [u]under[/u] and [s]struck[/s]", "bold and italic and under and struck"),
        ("Read [url=https://example.org/x]the site[/url] now", "Read the site now"),
        ("Bare [url]https://example.org[/url]", "Bare https://example.org"),
        ("[url=http://a.example/x\r\nb.example/y]two lines[/url] ok", "two lines ok"),  # id 45243
        ("Before[spoiler]the twist[/spoiler] after", "Before after"),
        ("Text\r\n\r\n[spoiler]Russian text\r\nmore[/spoiler]", "Text"),
        ("Unclosed [spoiler]rest of\r\n\r\nthe text", "Unclosed"),
        ("Nested [spoiler]a [spoiler]b[/spoiler] c[/spoiler] end", "Nested end"),
        ("Pic: [img]https://example.org/a.png[/img] done", "Pic: done"),
        ("[quote]Quoted words[/quote]", "Quoted words"),
        ("Volumes:[list][*]one[*]two[/list]", "Volumes:\n• one\n• two"),  # a "Links:" list is dropped (see below)
        ("A[hr]B", "A\n\nB"),
        ("line<br>next<br />last", "line\nnext\nlast"),
        ("[Part 1] and [RUS] stay", "[Part 1] and [RUS] stay"),
        ("[B]Upper[/B] case tags", "Upper case tags"),
        ("a\r\nb\r\n\r\n\r\n\r\nc   \r\n", "a\nb\n\nc"),
        ("Tom &amp; Jerry &quot;quoted&quot; &hearts; &mdash; it&#039;s", 'Tom & Jerry "quoted" ♥ — it\'s'),
        ("double &amp;quot;escaped&amp;quot;", 'double "escaped"'),
        ("non&nbsp;breaking soft&shy;hyphen", "non breaking softhyphen"),
        ("&#91;b&#93;not a tag&#91;/b&#93;", "[b]not a tag[/b]"),
        ("Note\r\n\r\n[*[u]]Won an award.[/u]", "Note\n\n• Won an award."),  # malformed nesting (id 848)
        ("", ""),
    ],
)
def test_cases(raw, expected):
    assert to_plain_text(raw) == expected


def test_language_headers_are_dropped_but_text_kept():
    raw = (
        "English text here.\r\n\r\n[b][u]Russian / Русский[/u][/b]\r\n[spoiler]Текст[/spoiler]\r\n\r\n"
        "[b][u]Portuguese / Portugu&ecirc;s[/u][/b]\r\n[spoiler]Texto[/spoiler]\r\n\r\nFinal note."
    )
    assert to_plain_text(raw) == "English text here.\n\nFinal note."
    kept = to_plain_text(raw, drop_language_headers=False)
    assert "Russian / Русский" in kept and "Português" in kept


def test_paragraph_that_mentions_english_is_kept():
    assert to_plain_text("English is spoken in this story.") == "English is spoken in this story."


def test_unescape_leaves_plain_text_alone():
    assert unescape("no entities [b]") == "no entities [b]"


_TOKENS = [
    "a",
    "b c",
    " ",
    "\n",
    "\r\n",
    "[b]",
    "[/b]",
    "[i]",
    "[/i]",
    "[url=x]",
    "[/url]",
    "[*]",
    "[list]",
    "[/list]",
    "&amp;",
    "[hr]",
    "<br>",
]


@given(st.lists(st.sampled_from(_TOKENS), max_size=30), st.lists(st.sampled_from(_TOKENS), max_size=10))
def test_property_no_markup_left_spoilers_gone_paragraphs_tidy(before, after):
    raw = "".join(before) + "[spoiler]SECRET[/spoiler]" + "".join(after)
    out = to_plain_text(raw)
    for tag in ("[b]", "[/b]", "[i]", "[/i]", "[url=x]", "[/url]", "[*]", "[list]", "[hr]", "<br>", "&amp;"):
        assert tag not in out
    assert "SECRET" not in out
    assert "\r" not in out and "\n\n\n" not in out and "  " not in out
    assert out == out.strip()


def test_strip_bbcode_keeps_entities():
    assert strip_bbcode("[b]&amp;[/b]") == "&amp;"


@pytest.mark.parametrize(
    "raw,expected",
    [
        # MangaDex id 4: a "Links:" list whose URLs are gone leaves only site names
        ("Story.\r\n\r\nLinks:\r\n[url=https://www.animenewsnetwork.com/x]AnimeNewsNetwork[/url] (anime)", "Story."),
        ("Story.\r\n\r\nLink:\r\n[url=https://x]AnimeNewsNetwork[/url] (anime)", "Story."),
        # id 14377: the heading in bold after a rule, bullets, and a line of text in the same list
        (
            "Story.\r\n[hr][b]Links:[/b]\r\n[*][url=https://t]Author's Twitter[/url]\r\nOfficial English on "
            "[url=https://c]Pocket Comics[/url]",
            "Story.",
        ),
        ("Story.\n\nOther links:\n[url=https://t]Twitter[/url]\n\nMore story.", "Story.\n\nMore story."),
        ("Story.\n\nOfficial Links:\n[url=x]Site[/url]", "Story."),
        # id 9012: the header of the other-language sections, whose texts were spoilers
        (
            "A man.\r\n\r\nDescriptions in Other Languages:\r\n"
            "(Portuguese/Português, German/Deutsch)[spoiler]x[/spoiler]",
            "A man.",
        ),
        # ordinary sentences with the words stay
        (
            "He links the world: links are everything.\nLink: the missing piece",
            "He links the world: links are everything.\nLink: the missing piece",
        ),
        ("The links of a chain.", "The links of a chain."),
    ],
)
def test_link_lists_and_other_language_sections_are_dropped(raw, expected):
    assert to_plain_text(raw) == expected


def test_link_lists_can_be_kept():
    assert to_plain_text("Story.\n\nLinks:\n[url=x]Site[/url]", drop_links=False) == "Story.\n\nLinks:\nSite"

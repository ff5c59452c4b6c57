from htmlcheck import parse
from markupsafe import Markup

from mangarec.site.sanitize import description_html, safe_url, truncate


def test_paragraphs_and_line_breaks():
    html = description_html("First line\nsecond line\n\nSecond paragraph")
    assert isinstance(html, Markup)
    root = parse(str(html))
    paras = root.find_all("p")
    assert [p.text() for p in paras] == ["First linesecond line", "Second paragraph"]
    assert len(paras[0].find_all("br")) == 1


def test_everything_is_escaped():
    evil = '<script>alert(1)</script> "><img src=x onerror=alert(1)> &amp; [b]bold[/b]'
    html = str(description_html(evil))
    root = parse(html)
    assert {e.tag for e in root.iter()} <= {"#root", "p", "br"}
    assert root.text() == evil
    assert "<script" not in html and "<img" not in html


def test_control_characters_dropped_and_empty():
    assert str(description_html("  \n\n ")) == ""
    assert "\x07" not in str(description_html("a\x07b"))


def test_truncate_at_word_boundary():
    text = "word " * 100
    cut = truncate(text, 42)
    assert len(cut) <= 43 and cut.endswith("\u2026")
    assert cut[:-1].split() == ["word"] * len(cut[:-1].split())
    assert truncate("short", 42) == "short"
    assert parse(str(description_html(text, 42))).text().endswith("\u2026")


def test_safe_url():
    assert safe_url("https://mangadex.org/title/1") == "https://mangadex.org/title/1"
    assert safe_url("http://example.org") == "http://example.org"
    for bad in (
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "data:text/html,x",
        "//evil.org/x",
        "https:///nohost",
        "vbscript:x",
        "https://a b",
        None,
        "",
        "mal:123",
    ):
        assert safe_url(bad) is None, bad

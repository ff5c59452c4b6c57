"""fetch_mangadex against hostile or careless servers: cache keyed by URL, overall deadline,
capped Retry-After, bounded responses, lone surrogates, bad URLs (issue 8, items 5, 8, 15)."""

from __future__ import annotations

import json
import time

import pytest
from _fake_api import FIXTURES, FakeMangaDex, FakeTime, RawServer, drip, fetch, files_under
from _loader_helpers import assert_input_error

from mangarec.errors import InputError
from mangarec.loaders import load_catalog
from mangarec.loaders.fetch import cache_key, fetch_mangadex, normalise_base_url, page_bytes


@pytest.fixture
def server():
    with FakeMangaDex() as s:
        yield s


# -- item 5: the cache is keyed by the API's URL ---------------------------------------------


def test_another_url_does_not_reuse_the_first_apis_pages(tmp_path):
    root = tmp_path / "fetch"
    with FakeMangaDex() as a, FakeMangaDex() as b:
        b.entities = b.entities[:4]  # another API with other content
        first = fetch(a, root)
        second = fetch(b, root)
        assert len(b.requests) >= 1  # asked its own server, not a's cached pages
        assert first != second and first.parent == second.parent == root
        ids_b = {e["id"] for e in b.entities}
        assert set(load_catalog([str(second)], include_adult=True, min_tags=0).ids) <= ids_b
        assert load_catalog([str(first)]).ids == load_catalog([str(FIXTURES)]).ids  # left alone
        a.requests.clear()
        fetch(a, root)
        assert a.requests == []  # a's own pages are still its cache


def test_cache_key_normalises_the_url_and_includes_the_paging():
    key = cache_key("https://API.example.org:443/v5/")
    assert key == cache_key("https://api.example.org/v5") == cache_key(" https://api.example.org/v5//")
    assert key.startswith("api.example.org_v5-") and len(key.rsplit("-", 1)[1]) == 16
    others = {
        cache_key("http://api.example.org/v5"),
        cache_key("https://api.example.org/v6"),
        cache_key("https://api.example.org:8443/v5"),
        cache_key("https://api.example.org/v5", page_size=50),
        cache_key("https://api.example.org/v5", max_offset=100),
    }
    assert key not in others and len(others) == 5
    assert normalise_base_url("https://[::1]:8443/x/") == "https://[::1]:8443/x"


@pytest.mark.parametrize(
    "url,match",
    [
        ("ftp://api.example.org", "must start with http:// or https://"),
        ("api.mangadex.org", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("http://", "has no host"),
        ("https://api.example.org/?page=2", "without \\?query"),
        ("https://user:secret@api.example.org", "user name or password"),
        ("http://api.example.org:99999", "invalid fetch URL"),
        ("http://api.exa mple.org", "spaces or control characters"),
        ("", "empty"),
    ],
)
def test_bad_base_url_is_refused_before_anything_is_written(tmp_path, url, match):
    root = tmp_path / "fetch"
    with pytest.raises(InputError) as info:
        fetch_mangadex(url, root, sleep=lambda s: None)
    assert_input_error(info.value, match=match)
    assert not root.exists()


def test_unwritable_cache_root_is_one_line(server, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError) as info:
        fetch(server, blocker / "fetch")
    assert_input_error(info.value, match="cannot create the fetch cache folder")
    assert server.requests == []


# -- item 8: an overall deadline per request; Retry-After capped with a note -------------------

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"


@pytest.mark.parametrize("where", ["headers", "body"])
def test_drip_feeding_server_is_cut_by_the_overall_deadline(tmp_path, where):
    """One byte every 0.05 s never trips the 5 s per-read timeout; a 0.5 s deadline stops it."""
    if where == "headers":
        handler = drip(HEAD + b" " * 4000, 0.05)
    else:

        def handler(conn, stop):
            conn.sendall(HEAD)
            drip(b" " * 4000, 0.05)(conn, stop)

    with RawServer(handler) as srv:
        t = FakeTime()
        start = time.monotonic()
        with pytest.raises(InputError) as info:
            fetch_mangadex(
                srv.base_url, tmp_path / "c", timeout=5, deadline=0.5, max_retries=1, sleep=t.sleep, clock=t.clock
            )
        elapsed = time.monotonic() - start
    msg = assert_input_error(info.value, match="timed out \\(no complete response within 0.5 s\\), giving up after 2")
    assert msg.startswith(srv.base_url + "/manga?")
    assert elapsed < 4, elapsed  # two attempts of 0.5 s, not 4000 × 0.05 s each
    assert srv.connections == 2 and 1.0 in t.sleeps  # retried once, after the usual back-off
    assert files_under(tmp_path / "c") == []


def test_deadline_must_be_positive(server, tmp_path):
    for bad in (0, -1, float("nan"), True):
        with pytest.raises(InputError, match="deadline must be a number of seconds > 0"):
            fetch(server, tmp_path / "c", deadline=bad)
    assert server.requests == [] and not (tmp_path / "c").exists()


def test_huge_retry_after_ends_the_run_with_one_line(server, tmp_path):
    # a 429 asking for a day: the nightly job stops at once instead of sleeping a day
    server.script = [(429, {"Retry-After": "86400"}, b'{"result":"error"}')]
    t = FakeTime()
    with pytest.raises(InputError) as info:
        fetch(server, tmp_path / "c", t, max_retry_after=30)
    assert_input_error(info.value, match="HTTP 429: the server asks to wait 86400 s \\(Retry-After\\)")
    assert "30 s cap" in str(info.value) and t.sleeps == [] and len(server.requests) == 1


def test_default_cap_ends_the_run_on_an_http_date(server, tmp_path):
    server.script = [(503, {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}, b"")]  # an HTTP date
    with pytest.raises(InputError, match="longer than the 300 s cap"):
        fetch(server, tmp_path / "c", FakeTime())


def test_waits_over_a_few_seconds_are_printed(server, tmp_path, capsys):
    server.script = [(429, {"Retry-After": "7"}, b""), (429, {"Retry-After": "2"}, b"")]
    t = FakeTime()
    fetch(server, tmp_path / "c", t)
    assert 7.0 in t.sleeps and 2.0 in t.sleeps
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("note: ") and "HTTP 429; waiting 7 s" in err


# -- bounded responses, connections closed early, hostile JSON ---------------------------------


def test_response_larger_than_the_bound_is_refused(server, tmp_path):
    with pytest.raises(InputError) as info:
        fetch(server, tmp_path / "c", max_response_bytes=1000)
    assert_input_error(info.value, match="response too large: Content-Length \\d+ > 1000 bytes")
    assert len(server.requests) == 1  # not retried
    assert files_under(tmp_path / "c") == []


def test_response_without_length_is_bounded_while_reading(tmp_path):
    def endless(conn, stop):
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
        while not stop.is_set():
            conn.sendall(b"[" * 65536)

    with RawServer(endless) as srv:
        with pytest.raises(InputError) as info:
            fetch_mangadex(srv.base_url, tmp_path / "c", max_response_bytes=1 << 20, sleep=lambda s: None)
    assert_input_error(info.value, match="response too large: more than 1048576 bytes")


def test_connection_closed_in_the_middle_of_the_body_is_retried(tmp_path):
    def short(conn, stop):
        conn.sendall(HEAD + b'{"result": "ok"')  # 4000 bytes announced, 15 sent

    with RawServer(short) as srv:
        with pytest.raises(InputError) as info:
            fetch_mangadex(srv.base_url, tmp_path / "c", max_retries=2, sleep=lambda s: None)
        assert srv.connections == 3
    assert_input_error(info.value, match="connection failed .*giving up after 3 attempts")


def test_deeply_nested_json_is_malformed_not_a_crash(server, tmp_path):
    server.script = [(200, {}, b"[" * 200_000 + b"]" * 200_000)]
    with pytest.raises(InputError) as info:
        fetch(server, tmp_path / "c")
    assert_input_error(info.value, match="malformed response: invalid JSON")


def test_pages_are_bounded(server, tmp_path):
    with pytest.raises(InputError) as info:
        fetch(server, tmp_path / "c", max_pages=2)
    assert_input_error(info.value, match="stopped after 2 pages: the API reports 7 manga; give a limit")


def test_cached_page_that_is_a_directory_is_one_line(server, tmp_path):
    cache = fetch(server, tmp_path / "c")
    page = cache / "page-000-00003.json"
    page.unlink()
    page.mkdir()
    with pytest.raises(InputError) as info:
        fetch(server, tmp_path / "c")
    assert_input_error(info.value, file=page, match="is a directory")


# -- item 15: lone surrogates in an API response -------------------------------------------------


def test_lone_surrogates_in_a_response_are_saved_escaped_and_cleaned_at_load(server, tmp_path):
    _, _, body = server.answer("/manga", {"limit": ["3"], "offset": ["0"]})
    page = json.loads(body)
    page["data"][0]["attributes"]["title"] = {"en": "Broken \ud800Title"}
    page["data"][0]["attributes"]["altTitles"] = [{"en": "\udfff"}, {"ja": "ok"}]
    raw = json.dumps(page).encode()  # ensure_ascii: the surrogates travel as \ud800 escapes
    assert b"\\ud800" in raw
    server.script = [(200, {"Content-Type": "application/json"}, raw)]
    out = fetch(server, tmp_path / "c")
    saved = (out / "page-000-00000.json").read_bytes()
    saved.decode("utf-8")  # valid UTF-8 on disk
    back = json.loads(saved)
    assert back["data"][0]["attributes"]["title"]["en"] == "Broken \ud800Title"  # exactly what was sent
    cat = load_catalog([str(out)], include_adult=True, min_tags=0)
    item = cat[page["data"][0]["id"]]
    assert item.title == "Broken Title" and "ok" in item.alt_titles
    assert not any("\ud800" <= c <= "\udfff" for t in item.alt_titles for c in t)
    assert len(cat.fingerprint) == 64


def test_page_bytes_round_trips_every_string():
    value = {"a": "\ud83d", "b": ["x\udc00y", "😀"], "c\ud800": 1, "d": "é"}
    data = page_bytes(value)
    assert json.loads(data) == value
    assert "😀".encode() in data and "é".encode() in data  # only the surrogates are escaped

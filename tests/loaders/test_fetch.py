"""fetch_mangadex against a local HTTP server on 127.0.0.1 serving recorded-format pages."""

from __future__ import annotations

import json

import pytest
from _fake_api import FIXTURES, FakeMangaDex, FakeTime, fetch, files_under, fixture_entities
from _loader_helpers import assert_input_error

from mangarec.errors import InputError
from mangarec.loaders import load_catalog
from mangarec.loaders.fetch import CONTENT_RATINGS, DEFAULT_USER_AGENT, cache_key, fetch_mangadex
from mangarec.site.slug import slug


@pytest.fixture
def server():
    with FakeMangaDex() as s:
        yield s


def test_server_reproduces_the_recorded_pages(server):
    # sanity: with no cursor the fake API returns exactly the recorded fixture pages
    for k, p in enumerate(sorted(FIXTURES.glob("*.json"))):
        _, _, body = server.answer("/manga", {"limit": ["3"], "offset": [str(3 * k)]})
        assert json.loads(body) == json.loads(p.read_text(encoding="utf-8"))


def test_normal_paging_and_politeness(server, tmp_path):
    t = FakeTime()
    out = fetch(server, tmp_path / "cache", t, rate_per_second=4.0)
    assert out == tmp_path / "cache" / cache_key(server.base_url, page_size=3)
    assert sorted(p.name for p in out.iterdir()) == [
        "page-000-00000.json",
        "page-000-00003.json",
        "page-000-00006.json",
    ]
    assert len(server.requests) == 3
    path, query, headers = server.requests[1]
    assert path == "/manga" and query["offset"] == ["3"] and query["limit"] == ["3"]
    assert query["order[createdAt]"] == ["asc"] and query["contentRating[]"] == list(CONTENT_RATINGS)
    assert headers["User-Agent"] == DEFAULT_USER_AGENT
    assert t.sleeps == [0.25, 0.25]  # 4 requests per second, the clock never moved otherwise
    assert load_catalog([str(out)]).items == load_catalog([str(FIXTURES)]).items


def test_limit_stops_early(server, tmp_path):
    out = fetch(server, tmp_path / "c", limit=2)
    assert len(server.requests) == 1 and len(list(out.iterdir())) == 1


def test_429_with_retry_after_then_success(server, tmp_path):
    server.script = [(429, {"Retry-After": "7"}, b'{"result":"error"}')]
    t = FakeTime()
    out = fetch(server, tmp_path / "c", t)
    assert len(server.requests) == 4
    assert 7.0 in t.sleeps
    assert len(load_catalog([str(out)], include_adult=True, min_tags=0)) == 7


def test_500_then_success_backs_off(server, tmp_path):
    server.script = [(500, {}, b"oops"), (502, {}, b"oops")]
    t = FakeTime()
    fetch(server, tmp_path / "c", t, rate_per_second=1000)
    assert len(server.requests) == 5
    assert [s for s in t.sleeps if s >= 1] == [1.0, 2.0]  # 2**0, 2**1


def test_retries_exhausted(server, tmp_path):
    server.script = [(503, {}, b"down")] * 3
    with pytest.raises(InputError) as info:
        fetch(server, tmp_path / "c", max_retries=2)
    assert_input_error(info.value, match="HTTP 503, giving up after 3 attempts")
    assert server.base_url in str(info.value)
    assert files_under(tmp_path / "c") == []


def test_client_error_is_not_retried(server, tmp_path):
    server.script = [(403, {}, b'{"result":"error"}')]
    with pytest.raises(InputError) as info:
        fetch(server, tmp_path / "c")
    assert_input_error(info.value, match="HTTP 403")
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "body,match",
    [
        (b"<html>maintenance</html>", "malformed response: invalid JSON"),
        (b'{"result":"ok","data":"nope","total":1,"offset":0,"limit":3}', "'data' is not a list"),
        (b'{"result":"ok","data":[],"offset":0,"limit":3}', "'total' is not an integer"),
        (b'{"result":"ok","data":[{"id":"x"}],"total":1,"offset":0,"limit":3}', "data\\[0\\] is not a manga entity"),
        (b'{"result":"error","errors":[{"title":"Bad","detail":"no"}]}', "result is 'error': Bad no"),
    ],
)
def test_malformed_page_is_one_line_error_and_not_saved(server, tmp_path, body, match):
    server.script = [(200, {}, body)]
    with pytest.raises(InputError) as info:
        fetch(server, tmp_path / "c")
    msg = assert_input_error(info.value, match=match)
    assert msg.startswith(server.base_url + "/manga?")
    assert files_under(tmp_path / "c") == []


def test_resume_after_interruption(server, tmp_path):
    root = tmp_path / "c"
    cache = root / cache_key(server.base_url, page_size=3)
    server.script = [
        (200, {"Content-Type": "application/json"}, server.answer("/manga", {"limit": ["3"], "offset": ["0"]})[2]),
        (200, {}, b"<truncated"),
    ]
    with pytest.raises(InputError):
        fetch(server, root)
    assert files_under(root) == [f"{cache.name}/page-000-00000.json"]  # no temp file left
    server.requests.clear()
    fetch(server, root)
    assert [q["offset"] for _, q, _ in server.requests] == [["3"], ["6"]]  # page 0 not fetched again
    server.requests.clear()
    fetch(server, root)
    assert server.requests == []  # everything cached: no request at all
    assert len(load_catalog([str(cache)], include_adult=True, min_tags=0)) == 7


def test_corrupt_cached_page(server, tmp_path):
    cache = fetch(server, tmp_path / "c")
    (cache / "page-000-00003.json").write_text('{"result": "ok", "data": [')
    with pytest.raises(InputError) as info:
        fetch(server, tmp_path / "c")
    assert_input_error(info.value, file=cache / "page-000-00003.json", match="invalid JSON in a cached page")


@pytest.mark.parametrize("max_offset,page_size", [(4, 2), (3, 1)])
def test_beyond_the_offset_cap_with_a_created_at_cursor(tmp_path, max_offset, page_size):
    with FakeMangaDex(max_offset=max_offset) as server:
        t = FakeTime()
        cache = fetch_mangadex(
            server.base_url, tmp_path / "c", page_size=page_size, max_offset=max_offset, sleep=t.sleep, clock=t.clock
        )
        assert any("createdAtSince" in q for _, q, _ in server.requests)
        assert all(int(q["offset"][0]) + int(q["limit"][0]) <= max_offset for _, q, _ in server.requests)
        cat = load_catalog([str(cache)], include_adult=True, min_tags=0)  # no duplicate ids
        assert sorted(cat.ids) == sorted(e["id"] for e in fixture_entities())
        # resume works across windows too
        server.requests.clear()
        fetch_mangadex(
            server.base_url, tmp_path / "c", page_size=page_size, max_offset=max_offset, sleep=t.sleep, clock=t.clock
        )
        assert server.requests == []


def test_stuck_cursor_is_reported(tmp_path):
    with FakeMangaDex(max_offset=1) as server:
        for e in server.entities:
            e["attributes"]["createdAt"] = "2018-01-01T00:00:00+00:00"
        with pytest.raises(InputError) as info:
            fetch_mangadex(
                server.base_url, tmp_path / "c", page_size=1, max_offset=1, sleep=lambda s: None, clock=lambda: 0.0
            )
        assert_input_error(info.value, match="cannot page further")


@pytest.mark.build
def test_build_py_fetch_mangadex_builds_a_site_from_the_api(tmp_path, capsys):
    """`build.py --fetch mangadex` refreshes the catalog store, then builds from it; the next
    night asks only for what changed (the old cache sent nothing at all: issue 18, item 1)."""
    import build
    from mangarec.loaders.store import store_dir

    out, cache = tmp_path / "out", tmp_path / "cache"
    cfg = tmp_path / "site.toml"
    cfg.write_text('[site]\nmodels = ["lsi", "network"]\n')
    with FakeMangaDex() as api:
        argv = ["--fetch", "mangadex", "--fetch-url", api.base_url, "--out", str(out), "--cache-dir", str(cache),
                "--config", str(cfg), "-q"]  # fmt: skip
        rc = build.main(argv)
        assert rc == 0, capsys.readouterr().err
        first_run = [p for p, _, _ in api.requests]
        assert first_run == ["/manga", "/chapter", "/statistics/manga"]
        rc = build.main([*argv, "--force", "--no-refresh"])
        assert rc == 0 and len(api.requests) == 3  # built from the store, no request
        rc = build.main([*argv, "--force"])
        assert rc == 0
        assert [p for p, _, _ in api.requests[3:]] == ["/manga", "/manga", "/chapter"]  # the delta: nothing new
        assert "mangarec/" in api.requests[0][2]["User-Agent"]
    report = json.loads((out / "data" / "report.json").read_text())
    titles = {e["id"] for e in fixture_entities() if e["attributes"]["contentRating"] in ("safe", "suggestive")}
    assert report["catalog"]["items"] == len([d for d in (out / "title").iterdir()])
    assert {d.name for d in (out / "title").iterdir()} <= {slug(t) for t in titles}  # a UUID's page: its slug
    assert (store_dir(cache / "fetch" / "mangadex", api.base_url) / "state.json").is_file()


def test_mangarec_fetch_refreshes_the_store(tmp_path, capsys):
    from mangarec.cli import main

    cache = tmp_path / "cache"
    with FakeMangaDex() as api:
        argv = ["fetch", "mangadex", "--url", api.base_url, "--cache-dir", str(cache), "--contact", "me@example.org"]
        assert main(argv) == 0
        out, err = capsys.readouterr()
        folder = out.strip()
        assert err.startswith("fetch: fetched page-000-00000.json: 7 manga (total 7)\n")  # progress, every 10 s
        assert err.splitlines()[-1].startswith("fetch (first): 3 request(s); 7 titles, +7 new")
        assert api.requests[0][2]["User-Agent"].endswith("(static recommendation site builder; me@example.org)")
        assert sorted(load_catalog([f"mangadex-v5:{folder}"]).ids) == sorted(load_catalog([str(FIXTURES)]).ids)
        assert main(argv) == 0
        assert capsys.readouterr().err.splitlines()[-1].startswith("fetch (delta): 3 request(s)")
        assert main([*argv, "--full"]) == 0
        last = capsys.readouterr().err.splitlines()[-1]
        assert last.startswith("fetch (full): 3 request(s); 7 titles, +0 new, 7 changed")


def test_no_refresh_without_a_store_is_one_line(tmp_path, capsys):
    from mangarec.cli import main

    rc = main(["--fetch", "mangadex", "--fetch-url", "http://127.0.0.1:9", "--no-refresh", "--cache-dir",
               str(tmp_path / "c"), "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "no catalog store here yet: run 'mangarec fetch mangadex' first" in err
    assert not (tmp_path / "out").exists()

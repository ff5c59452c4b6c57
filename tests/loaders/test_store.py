"""The catalog store: the first fetch lists everything, later ones only the delta, --full drops
titles gone from the API, a killed or failed refresh leaves the store as it was and resumes."""

from __future__ import annotations

import datetime as dt

import pytest
from _fake_api import FakeMangaDex, FakeTime, night_of_changes
from _loader_helpers import assert_input_error

from mangarec.errors import InputError
from mangarec.loaders import load_catalog
from mangarec.loaders.store import current_folder, describe, refresh, store_dir

NIGHT1 = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
NIGHT2 = NIGHT1 + dt.timedelta(days=1)


@pytest.fixture
def server():
    with FakeMangaDex() as s:
        yield s


def run(server, cache, when, t=None, **kw):
    t = t or FakeTime()
    kw.setdefault("page_size", 3)
    return refresh(server.base_url, cache, now=lambda: when, sleep=t.sleep, clock=t.clock, timeout=5, **kw)


def paths(server):
    return [p for p, _, _ in server.requests]


def catalog(folder):
    return {it.id: it for it in load_catalog([f"mangadex-v5:{folder}"], include_adult=True, min_tags=0).items}


def test_first_fetch_lists_everything_with_statistics(server, tmp_path):
    r = run(server, tmp_path, NIGHT1)
    assert (r.mode, r.titles, r.added, r.removed) == ("first", 7, 7, 0)
    assert paths(server) == ["/manga"] * 3 + ["/chapter", "/statistics/manga"]
    assert r.requests == 5 and describe(r).startswith("fetch (first): 5 request(s); 7 titles")
    items = catalog(r.folder)
    first = server.entities[0]["id"]
    assert items[first].popularity == 100.0 and items[first].score == 6.0  # follows, Bayesian rating
    assert current_folder(store_dir(tmp_path, server.base_url)) == r.folder


def test_second_night_asks_only_for_the_delta(server, tmp_path):
    run(server, tmp_path, NIGHT1)
    server.requests.clear()
    changed, new, gone = night_of_changes(server)
    r = run(server, tmp_path, NIGHT2)
    assert r.mode == "delta" and (r.added, r.changed, r.removed) == (1, 1, 0)
    # new titles, updated titles, uploads, then the statistics of the 3 titles concerned
    assert paths(server) == ["/manga", "/manga", "/chapter", "/statistics/manga"]
    created, updated = server.requests[0][1], server.requests[1][1]
    assert created["createdAtSince"] == ["2026-12-07T01:00:00"]  # the last success minus 1 h overlap
    assert updated["updatedAtSince"] == ["2026-12-07T01:00:00"] and updated["order[updatedAt]"] == ["asc"]
    assert len(server.requests[3][1]["manga[]"]) == 3
    items = catalog(r.folder)
    assert items[changed].description == "A new description."
    assert items[new].title == "Brand New Series" and items[new].popularity == 5000.0
    assert items[new].updated == "2026-12-07T21:00:00Z"
    assert gone in items  # a delta cannot see removals: the weekly full listing does


def test_full_drops_removed_titles_and_runs_weekly(server, tmp_path):
    run(server, tmp_path, NIGHT1)
    _, _, gone = night_of_changes(server)
    r = run(server, tmp_path, NIGHT2, full=True)
    assert r.mode == "full" and r.removed == 1 and gone not in catalog(r.folder)
    assert run(server, tmp_path, NIGHT2 + dt.timedelta(days=6)).mode == "delta"
    assert run(server, tmp_path, NIGHT2 + dt.timedelta(days=7)).mode == "full"  # fetch.full_every_days


def test_a_failed_refresh_leaves_the_store_and_resumes(server, tmp_path):
    first = run(server, tmp_path, NIGHT1)
    before = catalog(first.folder)
    night_of_changes(server)
    server.requests.clear()
    real_answer = server.answer

    def answer(path, query):
        if path == "/chapter" and not getattr(answer, "failed", False):
            answer.failed = True  # type: ignore[attr-defined]
            return 500, {}, b"down"
        return real_answer(path, query)

    server.answer = answer  # the first /chapter request fails
    with pytest.raises(InputError) as info:
        run(server, tmp_path, NIGHT2, max_retries=0)
    assert_input_error(info.value, match="HTTP 500, giving up after 1 attempts")
    assert current_folder(store_dir(tmp_path, server.base_url)) == first.folder
    assert catalog(first.folder) == before  # the last good store is intact
    server.requests.clear()
    r = run(server, tmp_path, NIGHT2 + dt.timedelta(hours=1))
    assert paths(server) == ["/chapter", "/statistics/manga"]  # the listing pages were kept
    assert r.mode == "delta" and r.added == 1


def test_malformed_state_is_one_line(server, tmp_path):
    r = run(server, tmp_path, NIGHT1)
    state = r.folder.parent / "state.json"
    state.write_text('{"format": 1, "generation": "../../etc"}')
    with pytest.raises(InputError) as info:
        run(server, tmp_path, NIGHT2)
    assert_input_error(info.value, file=state, match="malformed store state")


def _reference(tmp_path):
    """The store after night 2 without interruption, and the number of requests night 2 sends."""
    with FakeMangaDex() as ref:
        run(ref, tmp_path / "ref", NIGHT1)
        night_of_changes(ref)
        ref.requests.clear()
        r = run(ref, tmp_path / "ref", NIGHT2)
        return catalog(r.folder), len(ref.requests)


def test_killed_at_any_request_resumes_to_the_same_store(tmp_path):
    expected, n = _reference(tmp_path)
    for k in range(n):
        with FakeMangaDex() as server:
            cache = tmp_path / f"k{k}"
            first = run(server, cache, NIGHT1)
            night_of_changes(server)
            real, seen = server.answer, []

            def answer(path, query, real=real, seen=seen, k=k):
                seen.append(path)
                return (400, {}, b'{"result":"error"}') if len(seen) == k + 1 else real(path, query)

            server.answer = answer  # the k-th request of night 2 fails: the run stops there
            with pytest.raises(InputError):
                run(server, cache, NIGHT2)
            assert current_folder(store_dir(cache, server.base_url)) == first.folder
            server.answer = real
            before = len(server.requests)
            r = run(server, cache, NIGHT2)
            assert catalog(r.folder) == expected
            assert len(server.requests) - before == n - k  # nothing asked twice


def test_killed_while_committing_keeps_the_old_generation(server, tmp_path, monkeypatch):
    from mangarec.loaders import store

    first = run(server, tmp_path, NIGHT1)
    night_of_changes(server)
    real = store._write_json

    def write(path, value):
        if path.name == "state.json":
            raise InputError("cannot write the catalog store: No space left on device", str(path))
        real(path, value)

    monkeypatch.setattr(store, "_write_json", write)
    with pytest.raises(InputError, match="No space left"):
        run(server, tmp_path, NIGHT2)
    assert current_folder(store_dir(tmp_path, server.base_url)) == first.folder
    assert (first.folder.parent / "gen-000002").is_dir()  # written, never committed
    monkeypatch.setattr(store, "_write_json", real)
    server.requests.clear()
    r = run(server, tmp_path, NIGHT2)
    assert server.requests == [] and r.folder.name == "gen-000002" and r.added == 1
    assert sorted(p.name for p in r.folder.parent.iterdir()) == ["gen-000002", "lock", "state.json"]


def test_a_second_fetch_at_once_is_refused(server, tmp_path):
    from mangarec.loaders import store

    run(server, tmp_path, NIGHT1)
    with store._locked(store_dir(tmp_path, server.base_url)):
        with pytest.raises(InputError) as info:
            run(server, tmp_path, NIGHT2)
    assert_input_error(info.value, match="another fetch is refreshing this catalog store")
    assert run(server, tmp_path, NIGHT2).mode == "delta"  # the lock is released

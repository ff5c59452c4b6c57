"""Browser contributors in real headless Chromium, in one cohort with Python contributors.

A collection server (the roster mode of ``mangarec privacy serve``, in-process, 127.0.0.1, port
0, CORS for the harness origin only) and a static server for ``contribute_harness.html`` and the
site's ``js/`` tree (the contributor worker and the vendored libsodium, as the site ships them).
Each browser contributor is its own tab running its own Web Worker with its own ratings.

* 6 browser tabs and 3 Python contributors: the collected multiset is exactly theirs;
* one tab closed during a round: the others' ratings are collected, not that tab's;
* a frame a browser sent, tampered in flight, is refused by the server, and a frame sent to a
  browser, tampered in flight, is refused by that browser; an equivocated round result (one tab
  shown a different result) is refused by that tab at the next round (the hash chain);
* the roster checks of the lobby in the browser: a short roster is refused.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import assert_clean, open_page, wait_for
from contributors import contributor_chromium, missing_chromium, open_tabs, serve_harness, wait_all

from mangarec.privacy import encoding as E
from mangarec.privacy.dataset import read_ratings
from mangarec.privacy.http_client import Participant
from mangarec.privacy.http_server import CollectionServer, start_http
from mangarec.privacy.primitives import RandomSource, frame, hash_bytes, signing_key
from mangarec.privacy.simulate import default_threshold

pytestmark = pytest.mark.browser


def ratings_of(u: int) -> list[tuple[int, int]]:
    """Distinct, recognisable ratings per contributor (indices below 2^20, values 1-10)."""
    return [(500 * u + 7 * i, 1 + (u + i) % 10) for i in range(3 + 5 * u)]


class Mischief(CollectionServer):
    """A collection server with a man in the middle: ``poll_hook(uid, frame) -> frame`` and
    ``post_hook(body) -> body`` may change frames in flight."""

    poll_hook = None
    post_hook = None

    def poll(self, uid, seq, wait):
        f = super().poll(uid, seq, wait)
        return f if f is None or self.poll_hook is None else self.poll_hook(uid, f)

    def post(self, data):
        return super().post(data if self.post_hook is None else self.post_hook(data))


class Collection:
    def __init__(self, n: int, out: Path, phase_timeout: float, origin: str):
        self.seeds = {u: RandomSource().bytes(32) for u in range(n)}
        self.roster = {u: signing_key(s).verify_key for u, s in self.seeds.items()}
        # a phase closes after phase_timeout s of silence; the deadline leaves room for tabs that
        # open one after another on a loaded machine (a dropout still costs phase_timeout)
        self.cs = Mischief(self.roster, default_threshold(n), phase_timeout, str(out), deadline=180.0)
        self.httpd = start_http(self.cs, 0, allow_origin=(origin,), per_address=0)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.driver = threading.Thread(target=self.cs.run, daemon=True)
        self.out = out

    def job(self, u: int) -> dict:
        return {
            "server": self.url,
            "uid": u,
            "seed": self.seeds[u].hex(),
            "roster": {str(v): k.hex() for v, k in self.roster.items()},
            "ratings": [list(x) for x in ratings_of(u)],
            "timeout": 90,
        }

    def python(self, u: int, results: dict) -> threading.Thread:
        p = Participant(self.url, u, self.seeds[u], self.roster, ratings_of(u), 90, log=lambda *a, **k: None)
        t = threading.Thread(target=lambda: results.__setitem__(u, p.run()), daemon=True)
        t.start()
        return t

    def collected(self) -> Counter:
        users = read_ratings(str(self.out)) if self.out.exists() else {}
        return Counter(tuple(sorted(r)) for r in users.values())

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def static(tmp_path):
    (tmp_path / "static").mkdir()
    url, httpd = serve_harness(tmp_path / "static")
    yield url
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def chromium(tmp_path):
    missing = missing_chromium()
    if missing:
        pytest.fail(f"browser tests need Debian's chromium and chromedriver; missing: {missing}", pytrace=False)
    profile = tmp_path / "profile"
    profile.mkdir()
    driver = contributor_chromium(profile)
    try:
        yield driver
    finally:
        driver.quit()


def _open_tabs(driver, static: str, col: Collection, uids) -> dict[int, str]:
    return open_tabs(driver, static, {u: col.job(u) for u in uids})


def _run(tmp_path, static, chromium, *, browsers, pythons, phase_timeout=25.0, setup=None, close_tab=None):
    n = len(browsers) + len(pythons)
    col = Collection(n, tmp_path / "collected.csv", phase_timeout, static.rsplit("/", 1)[0])
    if setup:
        setup(col)
    try:
        col.driver.start()
        results: dict[int, int] = {}
        threads = [col.python(u, results) for u in pythons]
        handles = _open_tabs(chromium, static, col, browsers)
        if close_tab is not None:
            u, rnd = close_tab
            wait_for(chromium, "return true")
            end = time.time() + 120
            while col.cs.sv.round < rnd:  # a round is under way
                assert time.time() < end, "the collection never reached that round"
                time.sleep(0.1)
            chromium.switch_to.window(handles.pop(u))
            chromium.close()  # the worker dies with its tab: a dropout
            assert col.cs.sv.round < 2, "closed too late: the message round had started"
        outcomes = wait_all(chromium, handles)
        col.driver.join(240)
        for t in threads:
            t.join(120)
        return col, outcomes, results
    finally:
        col.close()


def test_browsers_and_python_contributors_in_one_cohort(tmp_path, static, chromium):
    browsers, pythons = list(range(6)), [6, 7, 8]
    col, outcomes, results = _run(tmp_path, static, chromium, browsers=browsers, pythons=pythons)
    assert col.cs.state == "done", col.cs.state
    assert col.collected() == Counter(tuple(sorted(ratings_of(u))) for u in browsers + pythons)
    assert results == {u: 0 for u in pythons}
    for u, r in outcomes.items():
        assert r.get("ok"), (u, r)
        assert r["collected"] == r["sent"] == len(ratings_of(u)) and r["among"] == 9 and r["contributors"] == 9


def _slow(col):
    """Round results reach everyone 0.3 s late: a fast machine still closes the tab well before
    the message round."""

    def poll_hook(uid: int, f: bytes) -> bytes:
        if isinstance(E.decode(f), E.RoundResult):
            time.sleep(0.3)
        return f

    col.cs.poll_hook = poll_hook


def test_a_tab_closed_mid_round_is_a_dropout(tmp_path, static, chromium):
    browsers, pythons = list(range(6)), [6]
    col, outcomes, _ = _run(
        tmp_path, static, chromium, browsers=browsers, pythons=pythons, phase_timeout=8, close_tab=(2, 0), setup=_slow
    )
    assert col.cs.state == "done", col.cs.state
    want = Counter(tuple(sorted(ratings_of(u))) for u in browsers + pythons if u != 2)
    assert col.collected() == want  # everyone else's ratings, not the closed tab's
    assert all(r.get("ok") for r in outcomes.values()), outcomes


def _flip_last(f: bytes) -> bytes:
    return f[:-1] + bytes([f[-1] ^ 1])


def test_tampered_and_equivocated_frames_are_refused(tmp_path, static, chromium):
    """Browser 0's ShareKeys is changed in flight (the server refuses it: bad signature);
    browser 1 is sent a KeyList with another user's advertisement changed (it refuses:
    bad signature); browser 2 is shown a different round-0 result than the others (it refuses
    the next round: the hash chain). The other contributors' ratings are collected."""
    browsers, pythons = list(range(6)), [6, 7]
    refused: list[str] = []

    def setup(col):
        def post_hook(data: bytes) -> bytes:
            uid = int.from_bytes(data[4:8], "big")
            if uid == 0 and isinstance(E.decode(data[72:]), E.ShareKeys):
                return _flip_last(data)
            return data

        def poll_hook(uid: int, f: bytes) -> bytes:
            m = E.decode(f)
            if uid == 1 and isinstance(m, E.KeyList):
                keys = dict(m.keys)
                keys[3] = keys[3][:70] + bytes([keys[3][70] ^ 1]) + keys[3][71:]
                return E.encode(E.KeyList(m.session, keys, m.ext))
            if uid == 2 and isinstance(m, E.RoundResult) and m.round == 0:
                return E.encode(E.RoundResult(m.session, m.round, _flip_last(m.vector)))
            return f

        col.cs.post_hook, col.cs.poll_hook = post_hook, poll_hook
        orig = col.cs.post

        def post(data):
            try:
                return orig(data)
            except Exception as exc:
                refused.append(str(exc))
                raise

        col.cs.post = post

    col, outcomes, _ = _run(
        tmp_path, static, chromium, browsers=browsers, pythons=pythons, phase_timeout=8, setup=setup
    )
    assert any("bad-signature" in r for r in refused), refused
    assert outcomes[0]["reason"] == "bad-signature" and not outcomes[0]["ok"], outcomes[0]
    assert outcomes[1]["reason"] == "bad-signature" and "advertised keys of user 3" in outcomes[1]["error"], outcomes[1]
    assert outcomes[2]["error"].startswith("ConsistencyError") and "hash chain" in outcomes[2]["error"], outcomes[2]
    assert col.cs.state == "done", col.cs.state
    want = Counter(tuple(sorted(ratings_of(u))) for u in (3, 4, 5, 6, 7))
    assert col.collected() == want


def test_browser_refuses_a_short_roster(static, chromium):
    """The lobby's roster checks in Chromium: a valid roster of 32 is accepted, the same signed
    roster of 31 is refused for this site's minimum of 32, whatever the lobby says."""
    lobby, me = signing_key(b"L" * 32), signing_key(b"M" * 32).verify_key
    peers = [signing_key(bytes([i]) * 32).verify_key for i in range(40)]

    def roster(keys):
        keys = sorted(keys)
        t = len(keys) // 2 + 1
        payload = frame(b"lobby-roster", b"n" * 16, "c" * 64, t, 9, 46, b"".join(keys))
        return {
            "nonce": (b"n" * 16).hex(),
            "catalog_hash": "c" * 64,
            "threshold": t,
            "rounds": 9,
            "deadline": 46,
            "keys": [k.hex() for k in keys],
            "session": hash_bytes(payload, size=16).hex(),
            "sig": lobby.sign(payload).hex(),
        }

    chromium.get(static + "#{}")
    script = """
      const done = arguments[arguments.length - 1];
      (async () => {
        const sodium = (await import('./js/vendor/libsodium/libsodium-wrappers.mjs')).default;
        await sodium.ready;
        const C = await import('./js/privacy/crypto.js');
        C.init(sodium);
        const L = await import('./js/privacy/lobby.js');
        const opts = {key: C.unhex(arguments[2]), lobbyKey: C.unhex(arguments[3]),
                      catalog: 'c'.repeat(64), minCohort: 32, rounds: 9};
        return [arguments[0], arguments[1]].map((r) => {
          try { const ok = L.checkRoster(r, opts); return 'accepted ' + ok.roster.size; } catch (e) { return e.reason; }
        });
      })().then(done, (e) => done('error ' + e));
    """
    got = chromium.execute_async_script(
        script, roster([me] + peers[:31]), roster([me] + peers[:30]), me.hex(), lobby.verify_key.hex()
    )
    assert got == ["accepted 32", "short-roster"]


# --- the lobby: fresh keys, proof of work solved in the worker, a signed roster ---------------
CAT = "ab" * 32
N_TITLES = 5000


class LobbyServer:
    def __init__(self, tmp_path: Path, origin: str, **kw):
        from mangarec.privacy.http_base import Limits
        from mangarec.privacy.http_base import start_http as start_app
        from mangarec.privacy.http_lobby import Index, LobbyService

        self.ids = [f"t-{k:04d}" for k in range(N_TITLES)]
        index = tmp_path / "embeddings-titles.json"
        index.write_text(json.dumps({"schema": "mangarec-titles", "version": 1, "catalog_hash": CAT, "ids": self.ids}))
        self.out = tmp_path / "lobby-collected.csv"
        kw = {"min_cohort": 9, "max_cohort": 9, "gather": 1.0, "pow_bits": 8, "phase_timeout": 25.0} | kw
        self.svc = LobbyService([Index.load(str(index))], str(self.out), **kw)
        self.httpd = start_app(self.svc, Limits.for_cohort(64, per_address=0, allow_origin=(origin,)))
        self.stop = threading.Event()
        threading.Thread(target=self.svc.run, args=(self.stop,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def collected(self) -> Counter:
        import csv

        by: dict[str, list] = {}
        with open(self.out) as fh:
            for p, i, r in list(csv.reader(fh))[1:]:
                by.setdefault(p, []).append((i, int(r)))
        return Counter(tuple(sorted(v)) for v in by.values())

    def named(self, pairs) -> tuple:
        return tuple(sorted((self.ids[i], r) for i, r in pairs))

    def close(self):
        self.stop.set()
        self.httpd.shutdown()


def test_browsers_and_python_contributors_enroll_in_one_lobby_cohort(tmp_path, static, chromium):
    """6 tabs (fresh keys, proof of work in their workers) and 3 Python `join --lobby`
    contributors form one cohort of 9 in the lobby; the collected file (in catalog ids, through
    the index) holds exactly their 9 profiles."""
    from mangarec.privacy.lobby_client import LobbyJoin

    lob = LobbyServer(tmp_path, static.rsplit("/", 1)[0])
    try:
        joins = [LobbyJoin(lob.url, CAT, ratings_of(u), 9, timeout=120, log=lambda *a, **k: None) for u in (6, 7, 8)]
        codes: dict[int, int] = {}
        threads = [
            threading.Thread(target=lambda j=j, k=k: codes.__setitem__(k, j.run()), daemon=True)
            for k, j in enumerate(joins)
        ]
        for t in threads:
            t.start()
        jobs = {
            u: {
                "collectUrl": lob.url,
                "catalog": CAT,
                "minCohort": 9,
                "ratings": [list(x) for x in ratings_of(u)],
                "timeout": 90,
            }
            for u in range(6)
        }
        handles = open_tabs(chromium, static, jobs)
        outcomes = wait_all(chromium, handles)
        for t in threads:
            t.join(120)
        assert codes == {0: 0, 1: 0, 2: 0}
        for u, r in outcomes.items():
            assert r.get("ok"), (u, r)
            assert r["collected"] == len(ratings_of(u)) and r["profiles"] == 9, (u, r)
        chromium.switch_to.window(handles[0])
        stages = {p["stage"] for p in chromium.execute_script("return window.__progress")}
        assert {"work", "rounds"} <= stages, stages  # proof of work solved in the worker, then the rounds
        assert lob.collected() == Counter(lob.named(ratings_of(u)) for u in range(9))
    finally:
        lob.close()


def test_a_tab_refuses_a_short_roster_from_a_live_lobby_and_sends_nothing(tmp_path, static, chromium):
    """The lobby fixes a roster of 3 (its own minimum); the tab's site asks for 4: the tab
    refuses it (short-roster) before sending anything in that session, and the two Python
    contributors, whose minimum is 3, are collected without it (it counts as silent)."""
    from mangarec.privacy.lobby_client import LobbyJoin

    kw = {"min_cohort": 3, "max_cohort": 3, "gather": 0.0, "phase_timeout": 4.0}
    lob = LobbyServer(tmp_path, static.rsplit("/", 1)[0], **kw)
    try:
        job = {"collectUrl": lob.url, "catalog": CAT, "minCohort": 4, "ratings": [list(x) for x in ratings_of(0)]}
        handles = open_tabs(chromium, static, {0: job | {"timeout": 60}})
        wait_for(chromium, "return (window.__progress || []).some((p) => p.stage === 'waiting')", 60)
        joins = [LobbyJoin(lob.url, CAT, ratings_of(u), 3, timeout=90, log=lambda *a, **k: None) for u in (1, 2)]
        codes: dict[int, int] = {}
        threads = [
            threading.Thread(target=lambda j=j, u=u: codes.__setitem__(u, j.run())) for u, j in zip((1, 2), joins)
        ]
        for t in threads:
            t.start()
        outcome = wait_all(chromium, handles, timeout=120)[0]
        for t in threads:
            t.join(150)
        assert "short-roster" in str(outcome.get("error")), outcome
        (cs,) = lob.svc.sessions.values()
        assert len(cs.roster) == 3 and len(cs.sv.adverts) == 2  # the tab's key: in the roster, silent
        assert codes == {1: 0, 2: 0}
        assert lob.collected() == Counter(lob.named(ratings_of(u)) for u in (1, 2))
    finally:
        lob.close()


def _collecting_site(site: Path, catalog, lobby_url: str) -> tuple[list[str], list[str]]:
    """A small site built with privacy.collect_url = the lobby, min_cohort 4, and the data files
    the publisher writes for it (data/collect.json and the titles index)."""
    from dataclasses import replace

    from mangarec.privacy.site_collect import collect_document
    from mangarec.site import write_site
    from tests.site.site_helpers import make_result

    result = make_result(catalog)
    cfg = result.config
    write_site(
        replace(result, config=replace(cfg, privacy=replace(cfg.privacy, collect_url=lobby_url, min_cohort=4))), site
    )
    ids = [it.id for it in catalog.items]
    titles = [it.title for it in catalog.items]
    (site / "data").mkdir(exist_ok=True)
    (site / "data" / "embeddings-titles.json").write_text(json.dumps({"ids": ids, "titles": titles}))
    (site / "data" / "collect.json").write_text(json.dumps(collect_document(lobby_url, 4, CAT, len(ids))))
    return ids, titles


def test_the_for_you_panel_contributes_and_shows_a_receipt(tmp_path, chromium, two_clusters):
    """A site built with privacy.collect_url: the visitor's ratings (localStorage) are listed with
    their titles and collected values; "Contribute anonymously" runs the worker through the
    lobby with three Python contributors; the page ends with the receipt; the CSP admits the
    lobby's origin (no violation)."""

    from mangarec.privacy.http_lobby import Index
    from mangarec.privacy.lobby_client import LobbyJoin
    from mangarec.site.serve import make_server

    site = tmp_path / "site"
    site.mkdir()
    httpd = make_server(site, port=0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    lob = LobbyServer(tmp_path, origin, min_cohort=4, max_cohort=4)
    try:
        ids, titles = _collecting_site(site, two_clusters, lob.url)
        (tmp_path / "embeddings-titles.json").write_text(
            json.dumps({"schema": "mangarec-titles", "version": 1, "catalog_hash": CAT, "ids": ids})
        )
        lob.ids = ids
        lob.svc.indexes = {CAT: Index.load(str(tmp_path / "embeddings-titles.json"))}
        mine = {ids[1]: "like", ids[3]: "dislike", ids[4]: 6.5}
        open_page(chromium, origin + "/foryou/")
        chromium.execute_script("localStorage.setItem('mangarec.ratings.v1', JSON.stringify(arguments[0]))", mine)
        open_page(
            chromium,
            origin + "/foryou/",
            "return !document.getElementById('contribute').hidden"
            " && document.querySelectorAll('#contribute-list li').length > 0",
        )
        listed = chromium.execute_script(
            "return [...document.querySelectorAll('#contribute-list li')].map((li) => li.textContent)"
        )
        assert listed == [f"{titles[1]}: 8", f"{titles[3]}: 1", f"{titles[4]}: 7"]
        assert (
            chromium.execute_script("return document.getElementById('contribute-btn').textContent")
            == "Contribute anonymously"
        )
        joins = [LobbyJoin(lob.url, CAT, [(k, 5)], 4, timeout=120, log=lambda *a, **k: None) for k in (10, 11, 12)]
        threads = [threading.Thread(target=j.run, daemon=True) for j in joins]
        for t in threads:
            t.start()
        chromium.find_element("id", "contribute-btn").click()
        wait_for(chromium, "return document.getElementById('contribute').dataset.receipt", 240)
        status = chromium.execute_script("return document.getElementById('contribute-status').textContent")
        assert status == "Done: 3 of your 3 ratings were collected, among 4 contributors.", status
        assert lob.collected()[tuple(sorted([(ids[1], 8), (ids[3], 1), (ids[4], 7)]))] == 1
        open_page(chromium, origin + "/foryou/", "return !document.getElementById('contribute').hidden")
        wait_for(chromium, "return document.getElementById('contribute-status').textContent.includes('already')")
        assert chromium.execute_script("return document.getElementById('contribute-btn').disabled")  # no second profile
        assert_clean(chromium, allow=("data/embeddings.json", "data/embeddings-compact.json"))  # no model published
        for t in threads:
            t.join(60)
    finally:
        lob.close()
        httpd.shutdown()

"""The lobby (issue 19): proof of work, enrollment, the signed roster and what a contributor
refuses, and whole collections of contributors who enrolled with fresh keys."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from mangarec.privacy.anonymous import AnonParams
from mangarec.privacy.errors import ProtocolViolation
from mangarec.privacy.http_base import Limits, start_http
from mangarec.privacy.http_lobby import Index, LobbyService, RateLimit, map_profiles
from mangarec.privacy.lobby import (
    MAX_DEADLINE,
    Lobby,
    Roster,
    check_roster,
    enroll_payload,
    phase_deadline,
    pow_ok,
    solve_pow,
    zero_bits,
)
from mangarec.privacy.lobby_client import LobbyJoin
from mangarec.privacy.primitives import RandomSource, SigningKey

CAT = "c" * 64
ROUNDS = AnonParams().rounds


def test_zero_bits_and_proof_of_work():
    assert zero_bits(b"\x00\x00\x01") == 23 and zero_bits(b"\x80") == 0 and zero_bits(b"\x0f") == 4
    key = SigningKey(b"k" * 32).verify_key
    nonce = solve_pow(b"c" * 16, CAT, key, 10)
    assert pow_ok(b"c" * 16, CAT, key, nonce, 10)
    assert not pow_ok(b"d" * 16, CAT, key, nonce, 10) or not pow_ok(b"c" * 16, "x", key, nonce, 10)
    other = SigningKey(b"o" * 32).verify_key
    wins = sum(pow_ok(b"c" * 16, CAT, other, solve_pow(b"c" * 16, CAT, key, 8), 8) for _ in range(20))
    assert wins < 5  # a nonce is bound to its key (1/256 by chance)


def _members(n: int):
    seeds = [RandomSource().bytes(32) for _ in range(n)]
    return seeds, [SigningKey(s).verify_key for s in seeds]


def _roster(keys, lobby: SigningKey, **kw) -> Roster:
    r = Roster.fix(keys, CAT, ROUNDS, lobby, RandomSource())
    if kw:
        r = Roster(**(vars(r) | kw))
        r = replace(r, sig=lobby.sign(r.payload()))
    return r


def test_a_roster_round_trips_and_commits_its_session():
    lobby = SigningKey(b"l" * 32)
    _, keys = _members(5)
    r = _roster(keys, lobby)
    assert list(r.keys) == sorted(keys) and r.threshold == 3
    assert r.deadline == phase_deadline(5, 30.0) == 33 and phase_deadline(500, 30.0) == 280
    assert phase_deadline(60000, 30.0) == MAX_DEADLINE
    assert replace(r, deadline=r.deadline + 1).session != r.session  # the session id commits to it
    doc = r.to_json()
    assert Roster.from_json(json.loads(json.dumps(doc))) == r
    doc["keys"] = doc["keys"][:-1]  # a member removed: the session id no longer matches
    with pytest.raises(ProtocolViolation, match="commit"):
        Roster.from_json(doc)
    # a collector that shows two contributors different rosters (one with its sybils swapped
    # in), each validly signed, puts them in different sessions: they cannot be summed together
    swapped = Roster(r.nonce, r.catalog, r.threshold, r.rounds, tuple(sorted(keys[:4] + _members(1)[1])))
    assert swapped.session != r.session
    doc = r.to_json() | {"keys": list(reversed(r.to_json()["keys"]))}
    with pytest.raises(ProtocolViolation, match="ascending"):
        Roster.from_json(doc)


@pytest.mark.parametrize(
    "case, reason",
    [
        ("short", "short-roster"),
        ("absent", "not-in-roster"),
        ("forged", "bad-roster"),
        ("catalog", "bad-roster"),
        ("half", "bad-roster"),
        ("deadline", "bad-roster"),
    ],
)
def test_a_contributor_refuses_a_bad_roster(case, reason):
    lobby = SigningKey(b"l" * 32)
    _, keys = _members(6)
    me, lobby_key = keys[0], lobby.verify_key
    r = _roster(keys, lobby)
    kw = {"key": me, "min_cohort": 6, "lobby_key": lobby_key, "catalog": CAT, "rounds": ROUNDS}
    assert check_roster(r, **kw) == sorted(keys).index(me)
    if case == "short":
        kw["min_cohort"] = 7
    elif case == "absent":
        r = _roster(keys[1:] + _members(1)[1], lobby)
    elif case == "forged":  # signed by somebody else than the lobby it enrolled with
        r = _roster(keys, SigningKey(b"x" * 32))
    elif case == "catalog":
        r = _roster(keys, lobby, catalog="d" * 64)
    elif case == "deadline":  # phases that may last longer than a contributor ever waits
        r = _roster(keys, lobby, deadline=MAX_DEADLINE + 1)
    else:
        r = _roster(keys, lobby, threshold=3)
    with pytest.raises(ProtocolViolation) as exc:
        check_roster(r, **kw)
    assert exc.value.reason == reason


def _enroll(lob: Lobby, now: float, bits: int | None = None, seed: bytes | None = None):
    sk = SigningKey(seed or RandomSource().bytes(32))
    key = sk.verify_key
    nonce = solve_pow(lob.challenge, lob.catalog, key, lob.pow_bits if bits is None else bits)
    sig = sk.sign(enroll_payload(lob.challenge, lob.catalog, key))
    return key, nonce, sig


def test_the_lobby_admits_refuses_expires_and_fixes():
    lob = Lobby(CAT, b"c" * 16, ROUNDS, min_cohort=3, max_cohort=5, gather=2.0, pow_bits=8, idle=5.0)
    lk, rng = SigningKey(b"l" * 32), RandomSource()
    key, nonce, sig = _enroll(lob, 0)
    bad = next(n for n in (bytes([b]) * 8 for b in range(256)) if not pow_ok(lob.challenge, CAT, key, n, 8))
    with pytest.raises(ProtocolViolation, match="bad-pow"):
        lob.enroll(key, bad, sig, 0)
    with pytest.raises(ProtocolViolation, match="bad-signature"):
        lob.enroll(key, nonce, b"\0" * 64, 0)
    assert lob.enroll(key, nonce, sig, 0) == 1
    with pytest.raises(ProtocolViolation, match="duplicate"):
        lob.enroll(key, nonce, sig, 0)
    lob.enroll(*_enroll(lob, 0), 0)
    assert lob.tick(6.0, lk, rng) is None and not lob.waiting  # nobody asked for 6 s: gone
    keys = [lob.enroll(*(e := _enroll(lob, 10)), 10) and e[0] for _ in range(3)]
    assert lob.tick(10.0, lk, rng) is None  # min reached: gather 2 s for more
    assert lob.touch(keys[0], 11.0) == "waiting"
    r = lob.tick(12.5, lk, rng)
    assert r is not None and set(r.keys) == set(keys) and lob.touch(keys[1], 12.6) == r
    for _ in range(5):
        lob.enroll(*_enroll(lob, 20), 20)
    with pytest.raises(ProtocolViolation, match="lobby-full"):
        lob.enroll(*_enroll(lob, 20), 20)
    assert len(lob.tick(20.0, lk, rng).keys) == 5  # max reached: at once


def test_rate_limit_per_address():
    rl = RateLimit(rate=1.0, burst=3)
    assert [rl.wait("a", 0.0) for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    assert rl.wait("a", 0.0) > 0 and rl.wait("b", 0.0) == 0.0
    assert rl.wait("a", 2.0) == 0.0


def test_profiles_naming_an_index_beyond_the_build_are_dropped_not_mismapped():
    ix = Index(CAT, ("x", "y", "z"))
    events: list[str] = []
    rows = [("p1", 0, 8), ("p1", 2, 1), ("p2", 1, 5), ("p2", 3, 7)]
    assert map_profiles(rows, ix, events) == [("p1", "x", 8), ("p1", "z", 1)]
    assert any("p2 dropped" in e for e in events)


def _index(tmp_path, n: int = 50) -> str:
    p = tmp_path / "embeddings-titles.json"
    ids = [f"id-{k:03d}" for k in range(n)]
    p.write_text(json.dumps({"schema": "mangarec-titles", "version": 1, "catalog_hash": CAT, "ids": ids}))
    return str(p)


def _service(tmp_path, **kw):
    kw = {"min_cohort": 4, "max_cohort": 8, "gather": 0.5, "pow_bits": 6, "phase_timeout": 15.0} | kw
    svc = LobbyService([Index.load(_index(tmp_path))], str(tmp_path / "collected.csv"), **kw)
    httpd = start_http(svc, Limits.for_cohort(16, per_address=0))
    stop = threading.Event()
    threading.Thread(target=svc.run, args=(stop,), daemon=True).start()
    return svc, httpd, stop, f"http://127.0.0.1:{httpd.server_address[1]}"


def _pairs(u: int) -> list[tuple[int, int]]:
    return sorted({(3 * u + 7 * k) % 50: 1 + (u + k) % 10 for k in range(2 + u)}.items())


def test_a_lobby_collects_a_cohort_enrolled_with_fresh_keys(tmp_path):
    svc, httpd, stop, base = _service(tmp_path)
    try:
        joins = [LobbyJoin(base, CAT, _pairs(u), 4, timeout=60, log=lambda *a, **k: None) for u in range(6)]
        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(lambda j: j.run(), joins))
        assert codes == [0] * 6
        with open(tmp_path / "collected.csv") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["pseudonym", "item_id", "rating"]
        got: dict[str, list] = {}
        for p, i, r in rows[1:]:
            got.setdefault(p, []).append((i, int(r)))
        want = Counter(tuple(sorted((f"id-{i:03d}", r) for i, r in _pairs(u))) for u in range(6))
        assert Counter(tuple(sorted(v)) for v in got.values()) == want
        assert all(j.receipt and j.receipt["collected"] == len(j.pairs) for j in joins)
    finally:
        stop.set()
        httpd.shutdown()


def test_a_contributor_refuses_a_roster_below_its_minimum_and_sends_nothing(tmp_path):
    svc, httpd, stop, base = _service(tmp_path, min_cohort=2, max_cohort=2, gather=0.0)
    try:
        joins = [LobbyJoin(base, CAT, _pairs(u), 5, timeout=20, log=lambda *a, **k: None) for u in range(2)]
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(lambda j: _outcome(j.run), joins))
        assert outcomes == ["short-roster", "short-roster"]
        cs = next(iter(svc.sessions.values()))
        assert not cs.sv.adverts  # nothing was sent in that session
    finally:
        stop.set()
        httpd.shutdown()


def _outcome(fn):
    try:
        return fn()
    except ProtocolViolation as exc:
        return exc.reason


def _get(base: str, path: str, headers=None, method: str = "GET", body: bytes | None = None):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_cors_only_for_the_site_origin_and_lobby_errors(tmp_path):
    svc = LobbyService([Index.load(_index(tmp_path))], str(tmp_path / "c.csv"), pow_bits=4, enroll_rate=0.5)
    site = "https://site.example"
    httpd = start_http(svc, Limits.for_cohort(8, per_address=0, allow_origin=(site,)))
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        code, hdr, body = _get(base, f"/v1/lobby?catalog={CAT}", {"Origin": site})
        info = json.loads(body)
        assert code == 200 and hdr["Access-Control-Allow-Origin"] == site and info["pow_bits"] == 4
        code, hdr, _ = _get(base, f"/v1/lobby?catalog={CAT}", {"Origin": "https://evil.example"})
        assert code == 200 and "Access-Control-Allow-Origin" not in hdr
        code, hdr, _ = _get(base, "/v1/msg", {"Origin": site, "Access-Control-Request-Method": "POST"}, "OPTIONS")
        assert code == 204 and "X-Signature" in hdr["Access-Control-Allow-Headers"]
        assert _get(base, "/v1/msg", {"Origin": "https://evil.example"}, "OPTIONS")[0] == 403
        code, _, body = _get(base, "/v1/lobby?catalog=" + "d" * 64)
        assert code == 404 and json.loads(body)["reason"] == "unknown-catalog"
        codes = []
        for _ in range(12):  # burst of 10, then 429 with Retry-After
            sk = SigningKey(RandomSource().bytes(32))
            ch = bytes.fromhex(info["challenge"])
            doc = {
                "catalog_hash": CAT,
                "key": sk.verify_key.hex(),
                "nonce": solve_pow(ch, CAT, sk.verify_key, 4).hex(),
                "sig": sk.sign(enroll_payload(ch, CAT, sk.verify_key)).hex(),
            }
            code, hdr, body = _get(
                base, "/v1/enroll", {"Content-Type": "application/json"}, "POST", json.dumps(doc).encode()
            )
            codes.append(code)
        assert codes[:10] == [200] * 10 and codes[10:] == [429, 429] and int(hdr["Retry-After"]) >= 1
        code, _, body = _get(base, "/v1/enroll", {"Content-Type": "application/json"}, "POST", b"{not json")
        assert code == 400 and json.loads(body)["reason"] == "bad-format"
        assert _get(base, "/v1/wait?key=" + "0" * 64)[0] == 404
    finally:
        httpd.shutdown()


def test_a_lobby_restart_mid_round_costs_an_enrollment_not_a_contributor(tmp_path):
    svc, httpd, stop, base = _service(tmp_path, min_cohort=4, max_cohort=4)
    port = httpd.server_address[1]
    joins = [LobbyJoin(base, CAT, _pairs(u), 4, timeout=60, log=lambda *a, **k: None) for u in range(4)]
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(j.run) for j in joins]
        deadline = time.monotonic() + 30
        while not any(cs.sv.round >= 0 for cs in list(svc.sessions.values())) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()  # the server dies mid-round and comes back on the same port
        httpd.shutdown()
        httpd.server_close()
        svc2 = LobbyService(
            [Index.load(_index(tmp_path))],
            str(tmp_path / "collected.csv"),
            min_cohort=4,
            max_cohort=4,
            gather=0.5,
            pow_bits=6,
            phase_timeout=15.0,
        )
        httpd2 = start_http(svc2, Limits.for_cohort(16, per_address=0), port=port)
        stop2 = threading.Event()
        threading.Thread(target=svc2.run, args=(stop2,), daemon=True).start()
        codes = [f.result() for f in futures]
    try:
        assert codes == [0] * 4 and svc2.completed == 1
        assert sorted(len(r) for r in _profiles(tmp_path)) == sorted(len(_pairs(u)) for u in range(4))
    finally:
        stop2.set()
        httpd2.shutdown()


def _profiles(tmp_path):
    with open(tmp_path / "collected.csv") as fh:
        rows = list(csv.reader(fh))[1:]
    by: dict[str, list] = {}
    for p, i, r in rows:
        by.setdefault(p, []).append((i, r))
    return list(by.values())


def test_two_builds_collected_at_once_each_through_its_own_index(tmp_path):
    """``--index`` twice (last night's build and tonight's): each cohort is of one build and its
    profiles come out in that build's ids; a contributor of a build the server does not collect
    for is refused (``unknown-catalog``), and a site whose titles index is of another build
    than its collect.json is refused before anything is sent."""
    other = "d" * 64
    ids_a = [f"id-{k:03d}" for k in range(50)]
    ids_b = [f"new-{k:03d}" for k in reversed(range(60))]  # another order: index k is another title
    paths = []
    for cat, ids in ((CAT, ids_a), (other, ids_b)):
        p = tmp_path / f"titles-{cat[0]}.json"
        p.write_text(json.dumps({"schema": "mangarec-titles", "version": 1, "catalog_hash": cat, "ids": ids}))
        paths.append(str(p))
    kw = {"min_cohort": 3, "max_cohort": 3, "gather": 0.0, "pow_bits": 6, "phase_timeout": 15.0}
    svc = LobbyService([Index.load(p) for p in paths], str(tmp_path / "collected.csv"), **kw)
    httpd = start_http(svc, Limits.for_cohort(16, per_address=0))
    stop = threading.Event()
    threading.Thread(target=svc.run, args=(stop,), daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        joins = {
            (cat, u): LobbyJoin(base, cat, _pairs(u), 3, timeout=60, log=lambda *a, **k: None)
            for cat in (CAT, other)
            for u in range(3)
        }
        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(lambda j: j.run(), joins.values()))
        assert codes == [0] * 6
        stranger = LobbyJoin(base, "e" * 64, _pairs(0), 3, timeout=10, log=lambda *a, **k: None)
        assert _outcome(stranger.enroll) == "unknown-catalog"
        with open(tmp_path / "collected.csv") as fh:
            rows = list(csv.reader(fh))[1:]
        got: dict[str, list] = {}
        for p, i, r in rows:
            got.setdefault(p, []).append((i, int(r)))
        want = Counter(tuple(sorted((ids[i], r) for i, r in _pairs(u))) for ids in (ids_a, ids_b) for u in range(3))
        assert Counter(tuple(sorted(v)) for v in got.values()) == want
        assert svc.completed == 2
    finally:
        stop.set()
        httpd.shutdown()
    # the site side: collect.json of one build beside the titles index of another
    from mangarec.errors import InputError
    from mangarec.privacy.lobby_client import load_collect

    site = tmp_path / "site"
    site.mkdir()
    (site / "embeddings-titles.json").write_text(Path(paths[1]).read_text())
    doc = {
        "schema": "mangarec-collect",
        "version": 1,
        "collect_url": base,
        "min_cohort": 32,
        "catalog_hash": CAT,
        "count": 60,
        "index": "embeddings-titles.json",
        "max_ratings": 2560,
        "values": {"scale": [1, 10], "like": 8, "dislike": 1, "number": "round-half-up-clamp"},
    }
    (site / "collect.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="another build"):
        load_collect(str(site / "collect.json"))


def test_a_long_poll_answered_late_keeps_the_key_no_silent_roster_member(tmp_path):
    """On a loaded machine a /v1/wait answer can come after the client's request timeout. The
    client used to enroll again with a fresh key, leaving the first one waiting in the lobby:
    it then went into the roster as a member that never speaks (in the 500-contributor
    benchmark: 484 of 500 advertised, 16 lost, their owners stuck in the next lobby). Now it
    polls again with the same key: every roster member advertises, everyone is collected."""
    svc, httpd, stop, base = _service(tmp_path, min_cohort=4, max_cohort=4, gather=0.0)
    late: set[bytes] = set()
    wait = svc.wait

    def slow_wait(key: bytes):
        if key not in late:  # each key's first long-poll is answered after the client gave up
            late.add(key)
            time.sleep(2.0)
        return wait(key)

    svc.wait = slow_wait  # type: ignore[method-assign]
    try:
        joins = [LobbyJoin(base, CAT, _pairs(u), 4, timeout=60, log=lambda *a, **k: None) for u in range(4)]
        for j in joins:
            j.http.timeout = 1.0
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda j: j.run(), joins))
        assert codes == [0] * 4
        (cs,) = svc.sessions.values()
        assert len(cs.sv.adverts) == len(cs.roster) == 4 and len(late) == 4  # no abandoned key
        assert all(j.receipt and j.receipt["collected"] == len(j.pairs) for j in joins)
    finally:
        stop.set()
        httpd.shutdown()

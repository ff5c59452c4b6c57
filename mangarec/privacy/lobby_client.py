"""A contributor that enrolls in a lobby (``mangarec privacy join --lobby URL``, issue 19).

It reads the site's ``data/collect.json`` (file or URL) and its titles index, turns the
visitor's ratings into ``(index, value)`` pairs (:mod:`site_collect`), then, until its
ratings are collected or it gives up:

1. ``GET /v1/lobby`` (challenge, cost, the lobby's key), a **fresh** identity key, the proof
   of work, ``POST /v1/enroll`` (429/503: wait ``Retry-After`` and retry; a network error:
   the same POST again, and a ``duplicate`` answer to a repeat means it was admitted);
2. ``GET /v1/wait`` until a roster is fixed, which it checks (:func:`lobby.check_roster`:
   its key, at least **its own** minimum, the lobby's signature, the session id). A network
   error (a long-poll answered late on a loaded server) is retried **with the same key**: a
   key abandoned in the lobby would end up in a roster as a member that never speaks (the
   500-contributor benchmark lost 16 contributors that way on a loaded machine, docs/privacy.md);
3. the protocol with that roster (:class:`http_client.Participant`); if the session is
   gone (the server restarted) it enrolls again with a new key.

It ends with a receipt: how many of its ratings were collected, among how many profiles.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

from mangarec.errors import InputError

from .anonymous import AnonParams
from .errors import PrivacyError, ProtocolViolation
from .http_client import _RETRYABLE, REENROLL, Http, Participant
from .lobby import Roster, check_roster, enroll_payload, solve_pow
from .primitives import RandomSource, SigningKey
from .site_collect import parse_collect, to_indices

MAX_ENROLLMENTS = 5
REQUEST_TIMEOUT = 25.0  # seconds one lobby request may take: above the 10 s of a /v1/wait long-poll


def load_collect(src: str) -> tuple[dict, list[str]]:
    """The collect document and the ids of its index (a file path or a URL)."""
    from mangarec.reader.source import read_bytes as _read

    try:
        doc = parse_collect(json.loads(_read(src, "collect.json")), src)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not JSON ({exc})", src) from None
    rel = doc.get("index", "embeddings-titles.json")
    if not isinstance(rel, str) or "/" in rel or rel.startswith("."):
        raise InputError("index must name a file beside collect.json", src)
    where = urljoin(src, rel) if src.startswith(("http://", "https://")) else str(Path(src).with_name(rel))
    try:
        idx = json.loads(_read(where, "titles index"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not JSON ({exc})", where) from None
    if not isinstance(idx, dict) or idx.get("catalog_hash") != doc["catalog_hash"]:
        raise InputError("the titles index is of another build than collect.json", where)
    ids = idx.get("ids")
    if not isinstance(ids, list) or len(ids) != doc["count"]:
        raise InputError("the titles index does not hold collect.json's count of ids", where)
    return doc, [str(i) for i in ids]


def read_visitor_ratings(path: str) -> dict[str, object]:
    """A site export (``mangarec-ratings`` JSON) or a CSV of one user's rows: id -> value."""
    if path.endswith(".json"):
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read a ratings export ({exc})", path) from None
        r = doc.get("ratings") if isinstance(doc, dict) and doc.get("schema") == "mangarec-ratings" else None
        if isinstance(r, list):
            r = {str(k): v for k, v in r if isinstance(k, str)}
        if not isinstance(r, dict):
            raise InputError("not a mangarec-ratings export", path)
        return {str(k): v for k, v in r.items()}
    from mangarec.loaders.ratings import read_ratings

    raw = read_ratings(Path(path))
    if len(set(raw.users)) > 1:
        raise InputError(f"must hold exactly one user's rows, found {len(set(raw.users))} users", path)
    return {i: float(v) for i, v in zip(raw.items, raw.values.tolist())}


class LobbyJoin:
    """One visitor's contribution through a lobby."""

    def __init__(
        self,
        base: str,
        catalog: str,
        pairs: list[tuple[int, int]],
        min_cohort: int,
        timeout: float = 120.0,
        params: AnonParams = AnonParams(),
        log=print,
    ) -> None:
        self.base, self.catalog, self.pairs, self.min_cohort = base.rstrip("/"), catalog, pairs, min_cohort
        self.http, self.timeout, self.params, self.log = Http(base, REQUEST_TIMEOUT), timeout, params, log
        self.rng = RandomSource()
        self.receipt: dict | None = None
        self.waited = 0.0  # seconds between the first enrollment and a fixed roster
        self.replies: list[tuple[float, float]] = []  # the session's (wall, CPU) per frame answered

    def _json(self, method: str, path: str, doc: dict | None = None) -> tuple[int, dict, dict]:
        body = None if doc is None else json.dumps(doc).encode()
        hdr = {"Content-Type": "application/json"} if body else {}
        code, headers, data = self.http.request(method, path, body, hdr)
        try:
            out = json.loads(data) if data else {}
        except ValueError:
            out = {}
        return code, dict(headers or {}), out if isinstance(out, dict) else {}

    def enroll(self) -> tuple[bytes, bytes, dict]:
        """(identity seed, public key, lobby info) of a fresh enrollment."""
        code, _, info = self._json("GET", f"/v1/lobby?catalog={self.catalog}")
        if code != 200:
            raise ProtocolViolation(info.get("reason", "bad-format"), f"lobby answered {code}")
        p = self.params
        want = {"msg_bytes": p.msg_bytes, "max_parts": p.max_parts, "block": p.block, "budget": p.budget}
        if info.get("rounds") != p.rounds or any(info.get("params", {}).get(k) != v for k, v in want.items()):
            raise ValueError("the lobby runs other protocol parameters than this client")
        challenge = bytes.fromhex(info["challenge"])
        seed = self.rng.bytes(32)
        key = SigningKey(seed)
        nonce = solve_pow(challenge, self.catalog, key.verify_key, int(info["pow_bits"]), self.rng)
        doc = {
            "catalog_hash": self.catalog,
            "key": key.verify_key.hex(),
            "nonce": nonce.hex(),
            "sig": key.sign(enroll_payload(challenge, self.catalog, key.verify_key)).hex(),
        }
        deadline, repeat = time.monotonic() + self.timeout, False
        while True:
            try:
                code, headers, ans = self._json("POST", "/v1/enroll", doc)
            except _RETRYABLE:  # perhaps admitted all the same: the same POST again
                if time.monotonic() > deadline:
                    raise
                repeat = True
                time.sleep(1.0)
                continue
            if code == 200 or (repeat and code == 409 and ans.get("reason") == "duplicate"):
                return seed, key.verify_key, info
            if code not in (429, 503) or time.monotonic() > deadline:
                raise ProtocolViolation(ans.get("reason", "bad-format"), f"enrollment refused ({code})")
            time.sleep(min(10.0, float(headers.get("Retry-After", "1") or 1)))

    def wait(self, key: bytes) -> Roster | None:
        """The roster fixed for ``key``; None if the lobby forgot it (enroll again)."""
        deadline, last = time.monotonic() + self.timeout, None
        while time.monotonic() < deadline:
            try:
                code, _, ans = self._json("GET", f"/v1/wait?key={key.hex()}")
            except _RETRYABLE:  # never abandon an enrolled key: it would be a silent roster member
                time.sleep(0.5)
                continue
            if code == 404:
                return None
            if code == 200 and ans.get("state") == "fixed":
                return Roster.from_json(ans.get("roster"))
            if code == 200 and ans.get("waiting") != last:
                last = ans.get("waiting")
                self.log(f"waiting for others: {last} of {ans.get('min_cohort')}", flush=True)
            if code != 200:
                time.sleep(0.5)
        raise TimeoutError(f"no cohort formed within {self.timeout:.0f} s")

    def run(self) -> int:
        t0 = time.monotonic()
        for _ in range(MAX_ENROLLMENTS):
            try:
                seed, key, info = self.enroll()
                roster = self.wait(key)
            except _RETRYABLE:
                time.sleep(1.0)
                continue
            if roster is None:
                continue
            uid = check_roster(
                roster,
                key=key,
                min_cohort=self.min_cohort,
                lobby_key=bytes.fromhex(info["lobby_key"]),
                catalog=self.catalog,
                rounds=self.params.rounds,
            )
            self.waited = time.monotonic() - t0
            self.log(f"cohort of {len(roster.keys)}; session {roster.session.hex()[:8]}", flush=True)
            p = Participant(
                self.base,
                uid,
                seed,
                roster.members(),
                self.pairs,
                self.timeout,
                self.params,
                self.log,
                session=roster.session.hex(),
                deadline=roster.deadline,
            )
            code = p.run()
            self.replies = p.replies
            if code == REENROLL:
                continue
            self._receipt(p)
            return code
        self.log("gave up: no collection completed", flush=True)
        return 3

    def _receipt(self, p: Participant) -> None:
        c = p.contrib
        if c is None:
            return
        sent = {m: len(ch) for m, ch in zip(c.messages, c.profile.chunks)}
        collected = sum(k for m, k in sent.items() if m not in c.pending) if p.status.get("state") == "done" else 0
        self.receipt = {
            "collected": collected,
            "ratings": len(self.pairs),
            "profiles": p.status.get("profiles"),
            "anonymity": p.status.get("anonymity"),
        }
        self.log(
            f"receipt: {collected} of your {len(self.pairs)} ratings collected, among "
            f"{p.status.get('profiles')} contributors' profiles (anonymity set {p.status.get('anonymity')})",
            flush=True,
        )


def join_lobby(a) -> int:
    if not a.collect:
        raise ValueError("join --lobby: give the site's data/collect.json with --collect (file or URL)")
    doc, ids = load_collect(a.collect)
    pairs = to_indices(read_visitor_ratings(a.ratings), ids)
    if not pairs:
        raise InputError("none of these ratings is of a title in the site's index", a.ratings)
    min_cohort = max(a.min_cohort, doc["min_cohort"])
    try:
        return LobbyJoin(a.lobby, doc["catalog_hash"], pairs, min_cohort, a.timeout).run()
    except ProtocolViolation as exc:
        print(f"error: refused: {exc}", file=sys.stderr)
        return 3
    except (PrivacyError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3

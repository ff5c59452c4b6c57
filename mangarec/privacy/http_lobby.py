"""``serve --lobby``: enrollment without a pre-shared roster, several collections at once,
and the collected file in catalog ids (issue 19; the HTTP API is in docs/privacy.md).

* ``GET /v1/lobby?catalog=H`` — the lobby of the build whose index has catalog hash H:
  challenge, proof-of-work bits, cohort bounds, the lobby's public key, protocol parameters.
* ``POST /v1/enroll`` — JSON ``{catalog_hash, key, nonce, sig}`` (:mod:`lobby`); one per
  connection, ``--enroll-rate`` per client address (429 and ``Retry-After`` beyond).
* ``GET /v1/wait?key=K`` — long-polled: still waiting, or the signed roster; 404 when the
  key is unknown (never enrolled, idle too long, or the server restarted): enroll again.
* the session endpoints of :mod:`http_server`, routed by session id.

Contributors send the *index* of a title in the build's published list
(``data/embeddings-titles.json``); a collection's profiles are mapped back to catalog ids
through the index of its catalog hash, and a profile naming an index beyond it is dropped
whole (never mis-mapped). Every finished collection is added to ``--out`` (rewritten
atomically with the earlier rows it holds: a restart loses no collected profile).
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from mangarec.errors import InputError

from .anonymous import AnonParams
from .dataset import OUT_HEADER, write_collected
from .errors import ProtocolViolation
from .http_base import Limits, Reject, Request, Response, hex_param, json_response, start_http
from .http_server import CollectionServer, Sessions
from .lobby import Lobby, Roster
from .primitives import RandomSource, SigningKey

WAIT = 10.0  # seconds a /v1/wait long-poll lasts
KEEP_FINISHED = 300.0  # seconds a finished session still answers /v1/status


@dataclass(frozen=True)
class Index:
    """A build's published list of titles: ``ids[k]`` is the title of index k."""

    catalog: str
    ids: tuple[str, ...]

    @classmethod
    def load(cls, path: str) -> Index:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read a titles index ({exc})", path) from None
        if not isinstance(doc, dict) or doc.get("schema") != "mangarec-titles" or doc.get("version") != 1:
            raise InputError("not a mangarec-titles version 1 document (data/embeddings-titles.json)", path)
        ids, catalog = doc.get("ids"), doc.get("catalog_hash")
        if not isinstance(catalog, str) or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise InputError("catalog_hash (string) and ids (list of strings) expected", path)
        if not 0 < len(ids) <= 1 << 20:
            raise InputError(f"{len(ids)} titles: an index holds 1 to 2^20", path)
        return cls(catalog, tuple(ids))


class RateLimit:
    """A token bucket per client address (``rate`` per second, ``burst``), bounded in size."""

    def __init__(self, rate: float, burst: float = 10.0, size: int = 100_000) -> None:
        self.rate, self.burst, self.size = rate, burst, size
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def wait(self, addr: str, now: float) -> float:
        """0 if ``addr`` may act now (one token taken), else the seconds until it may."""
        tokens, t = self.buckets.pop(addr, (self.burst, now))
        tokens = min(self.burst, tokens + (now - t) * self.rate)
        ok = tokens >= 1
        self.buckets[addr] = (tokens - 1 if ok else tokens, now)
        while len(self.buckets) > self.size:
            self.buckets.popitem(last=False)
        return 0.0 if ok else (1 - tokens) / self.rate


def map_profiles(rows, index: Index, events: list[str]) -> list[tuple[str, str, int]]:
    """Collected rows in indices -> rows in catalog ids; a profile naming an index outside
    ``index`` is dropped whole (reported), never mis-mapped."""
    bad = {p for p, i, _ in rows if not 0 <= i < len(index.ids)}
    for p in sorted(bad):
        events.append(f"profile {p} dropped: an index beyond the {len(index.ids)} titles of {index.catalog[:12]}")
    return [(p, index.ids[i], r) for p, i, r in rows if p not in bad]


def read_collected(path: Path) -> list[tuple[str, str, int]]:
    """The rows of an earlier collected file (kept when the server restarts)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows or rows[0] != OUT_HEADER:
        raise InputError(f"not a collected file (header {','.join(OUT_HEADER)} expected)", str(path), 1)
    try:
        return [(p, i, int(r)) for p, i, r in rows[1:]]
    except ValueError:
        raise InputError("malformed row", str(path)) from None


class LobbyService:
    """The lobbies (one per index), the collections they started and the collected file."""

    def __init__(
        self,
        indexes: list[Index],
        out: str,
        *,
        params: AnonParams = AnonParams(),
        phase_timeout: float = 30.0,
        min_cohort: int = 32,
        max_cohort: int = 256,
        gather: float = 5.0,
        pow_bits: int = 20,
        enroll_rate: float = 2.0,
        max_sessions: int = 4,
        forwarded: bool = False,
        idle: float = 20.0,
    ) -> None:
        rng = RandomSource()
        self.rng, self.params, self.timeout, self.out = rng, params, phase_timeout, Path(out)
        self.key = SigningKey(rng.bytes(32))
        self.challenge = rng.bytes(16)
        self.indexes = {ix.catalog: ix for ix in indexes}
        self.lobbies = {
            c: Lobby(c, self.challenge, params.rounds, min_cohort, max_cohort, gather, pow_bits, idle, phase_timeout)
            for c in self.indexes
        }
        self.rate, self.max_sessions, self.forwarded = RateLimit(enroll_rate), max_sessions, forwarded
        self.cond = threading.Condition()
        self.sessions: dict[bytes, CollectionServer] = {}
        self.finished: dict[bytes, float] = {}
        self.rows = read_collected(self.out)
        self.events: list[str] = []
        self.completed = 0
        self.timings: list[tuple[bytes, list]] = []  # (session, its PhaseTime list) of every finished one
        self.api = Sessions(self.sessions.get, None)

    # -- App ---------------------------------------------------------------------------
    def max_body(self, path: str, query: dict) -> int:
        if path == "/v1/enroll":
            return 1024
        if path == "/v1/msg" and "session" not in query:
            return max((cs.max_body() for cs in list(self.sessions.values())), default=1 << 16)
        return self.api.max_body(path, query)

    def handle(self, req: Request) -> Response:
        if req.method == "GET" and req.path == "/v1/lobby":
            return json_response(self.info(self._lobby(_one(req.query, "catalog")).catalog))
        if req.method == "POST" and req.path == "/v1/enroll":
            return self.enroll(req)
        if req.method == "GET" and req.path == "/v1/wait":
            return self.wait(hex_param(req.query, "key", 32))
        if req.method == "GET" and req.path == "/v1/status" and "session" not in req.query:
            return json_response(self.status())
        return self.api.handle(req)

    def _lobby(self, catalog: str | None) -> Lobby:
        lob = self.lobbies.get(catalog or "")
        if lob is None:
            raise Reject(404, "unknown-catalog", "this server collects for no build with that catalog hash")
        return lob

    def info(self, catalog: str) -> dict:
        p = self.params
        with self.cond:
            doc = self.lobbies[catalog].info()
        return doc | {
            "version": 1,
            "lobby_key": self.key.verify_key.hex(),
            "params": {
                "msg_bytes": p.msg_bytes,
                "max_parts": p.max_parts,
                "block": p.block,
                "budget": p.budget,
                "load": p.load,
                "max_attempts": p.max_attempts,
            },
        }

    def enroll(self, req: Request) -> Response:
        addr = req.addr
        if self.forwarded:  # the reverse proxy appends the client's address last
            fwd = req.headers.get("X-Forwarded-For", "")  # type: ignore[attr-defined]
            addr = fwd.rsplit(",", 1)[-1].strip() or addr
        try:
            doc = json.loads(req.body)
            catalog, key, nonce, sig = (doc[k] for k in ("catalog_hash", "key", "nonce", "sig"))
            key, nonce, sig = bytes.fromhex(key), bytes.fromhex(nonce), bytes.fromhex(sig)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise Reject(400, "bad-format", "JSON {catalog_hash, key, nonce, sig} (hex) expected") from None
        lob = self._lobby(catalog if isinstance(catalog, str) else None)
        close = {"Connection": "close"}  # one enrollment per connection
        with self.cond:
            retry = self.rate.wait(addr, time.monotonic())
            if retry:
                raise Reject(429, "rate-limited", "too many enrollments", {"Retry-After": str(int(retry) + 1)})
            try:
                n = lob.enroll(key, nonce, sig, time.monotonic())
            except ProtocolViolation as exc:
                code = {"duplicate": 409, "lobby-full": 503, "bad-format": 400}.get(exc.reason, 403)
                raise Reject(code, exc.reason, exc.detail, {"Retry-After": "2"} if code == 503 else None) from None
            self.cond.notify_all()
        return Response(200, json.dumps({"waiting": n, "min_cohort": lob.min_cohort}).encode(), headers=close)

    def wait(self, key: bytes) -> Response:
        deadline = time.monotonic() + WAIT
        with self.cond:
            while True:
                lob, got = next(
                    ((lob, g) for lob in self.lobbies.values() if (g := lob.touch(key, time.monotonic())) is not None),
                    (None, None),
                )
                if lob is None:
                    raise Reject(404, "unknown-key", "not enrolled (or idle too long, or the server restarted)")
                if isinstance(got, Roster):
                    return json_response({"state": "fixed", "roster": got.to_json()})
                left = deadline - time.monotonic()
                if left <= 0:
                    info = lob.info()
                    return json_response(
                        {"state": "waiting"} | {k: info[k] for k in ("waiting", "min_cohort", "max_cohort")}
                    )
                self.cond.wait(min(left, 1.0))

    def status(self) -> dict:
        with self.cond:
            return {
                "lobbies": {c: len(lob.waiting) for c, lob in self.lobbies.items()},
                "sessions": sum(cs.state == "running" for cs in self.sessions.values()),
                "completed": self.completed,
                "collected_rows": len(self.rows),
                "events": self.events[-10:],
            }

    # -- the driver --------------------------------------------------------------------
    def tick(self) -> None:
        """Fix the rosters that are ready (while fewer than ``max_sessions`` run)."""
        now = time.monotonic()
        with self.cond:
            for sid, at in list(self.finished.items()):
                if now - at > KEEP_FINISHED:
                    del self.finished[sid], self.sessions[sid]
            running = sum(cs.state == "running" for cs in self.sessions.values())
            for c, lob in self.lobbies.items():
                if running >= self.max_sessions:
                    break
                roster = lob.tick(now, self.key, self.rng)
                if roster is None:
                    continue
                cs = CollectionServer(
                    roster.members(),
                    roster.threshold,
                    self.timeout,
                    None,
                    self.params,
                    session=roster.session,
                    deadline=roster.deadline,
                )
                self.sessions[roster.session] = cs
                running += 1
                threading.Thread(target=self._collect, args=(cs, c), daemon=True, name="collection").start()
            self.cond.notify_all()

    def _collect(self, cs: CollectionServer, catalog: str) -> None:
        cs.run()
        with self.cond:
            events: list[str] = []
            rows = map_profiles(cs.rows, self.indexes[catalog], events)
            self.events += events + [f"session {cs.session.hex()[:8]}: {cs.state}, {len(rows)} ratings"]
            if rows:
                self.rows += rows
                write_collected(self.out, self.rows)
            self.completed += 1
            self.timings.append((cs.session, cs.phases))
            self.finished[cs.session] = time.monotonic()
            self.cond.notify_all()

    def run(self, stop: threading.Event, sessions: int = 0) -> None:
        """Tick until ``stop`` is set (or ``sessions`` collections have finished)."""
        while not stop.wait(0.2):
            self.tick()
            if sessions and self.completed >= sessions:
                return


def _one(q: dict, name: str) -> str | None:
    v = q.get(name)
    return v[0] if v and len(v) == 1 else None


def serve_lobby(a) -> int:
    if not a.index:
        raise ValueError("serve --lobby: give the build's titles index with --index data/embeddings-titles.json")
    svc = LobbyService(
        [Index.load(p) for p in a.index],
        a.out,
        phase_timeout=30.0 if a.phase_timeout is None else a.phase_timeout,
        min_cohort=a.min_cohort,
        max_cohort=a.max_cohort,
        gather=a.gather,
        pow_bits=a.pow_bits,
        enroll_rate=a.enroll_rate,
        max_sessions=a.max_sessions,
        forwarded=a.forwarded,
    )
    limits = Limits.for_cohort(
        a.max_cohort * a.max_sessions,
        per_address=a.per_address,
        header_deadline=a.header_deadline,
        allow_origin=tuple(a.allow_origin or ()),
    )
    httpd = start_http(svc, limits, a.host, a.port)
    print(
        f"listening {a.host}:{httpd.server_address[1]} lobby {svc.key.verify_key.hex()} "
        f"catalogs {' '.join(c[:12] for c in svc.indexes)}",
        flush=True,
    )
    stop = threading.Event()
    c0 = time.process_time()
    try:
        svc.run(stop, a.stop_after)
    except KeyboardInterrupt:
        pass
    time.sleep(2.0)  # let clients read the final status
    httpd.shutdown()
    for sid, phases in svc.timings:
        for ph in phases:
            print(f"session {sid.hex()[:8]} phase {ph.line()}", flush=True)
    print(
        f"collected {len(svc.rows)} ratings in {svc.completed} collections; "
        f"{time.process_time() - c0:.1f} s CPU; events {svc.events}",
        flush=True,
    )
    return 0

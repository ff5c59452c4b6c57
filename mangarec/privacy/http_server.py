"""The collection server over HTTP (see :mod:`transport_http` for the endpoints).

* Every POSTed frame must be signed by the identity key of the roster member
  it claims to come from, over this server's session id; every poll too. The
  session id is checked first: a frame for another session (a client of a server
  that restarted) is answered 409 ``foreign-session`` and its client rejoins.
* The transport's bounds (backlog, connections in all and per address, header and
  body deadlines, body sizes, CORS) are :mod:`http_base`'s.
* A phase closes when every expected reply is in, or after ``phase_timeout`` seconds without
  a new reply, or at the latest ``deadline`` seconds after it began (:func:`lobby.phase_deadline`,
  which grows with the cohort; the lobby signs it into the roster); the silent users count as
  dropped. Replies that keep arriving keep the phase open: a cohort whose members answer
  slowly (a loaded machine, a slow phone) loses nobody, and a silent one costs
  ``phase_timeout``. The CSV is written atomically when the collection ends (with ``out``;
  the lobby collects ``rows`` itself, :mod:`http_lobby`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import cast

from . import encoding as E
from . import groups
from .anonymous import AnonParams
from .collector import Collector
from .driver import run_session
from .errors import ProtocolViolation, RoundAborted
from .http_base import BoundedHTTPServer, Limits, Reject, Request, Response, hex_param, int_param, json_response
from .http_base import start_http as _start
from .lobby import phase_deadline
from .primitives import RandomSource, Verifier, hash_bytes
from .secagg_server import SecAggServer
from .transport_http import POLL_WAIT, poll_payload, post_payload, unwrap_post

CONN_TIMEOUT = 10.0  # seconds a connection may stay silent
MAX_SEQ = 1 << 20


@dataclasses.dataclass(frozen=True)
class PhaseTime:
    """How one phase of a session went, seen by the server (``serve`` prints them).

    ``compute``: seconds the driver spent making this phase's frames (the lock held, no
    client served); ``replies``: seconds from the frames queued to the median, 90th-centile and
    last reply accepted; ``seconds``: until the phase closed; ``cpu``: the server process's CPU
    over compute and phase (every thread: HTTP handlers included)."""

    stage: str
    expected: int
    arrived: int
    compute: float
    seconds: float
    replies: tuple[float, float, float]
    cpu: float
    cut: bool  # closed (silence or deadline) with replies missing

    def line(self) -> str:
        m, p90, last = self.replies
        return (
            f"{self.stage} {self.arrived}/{self.expected} in {self.seconds:.1f} s (replies median {m:.1f}, "
            f"p90 {p90:.1f}, last {last:.1f} s; frames made in {self.compute:.1f} s; {self.cpu:.1f} s CPU)"
            + (f"; closed without {self.expected - self.arrived}" if self.cut else "")
        )


class CollectionServer:
    """Drives SecAggServer + Collector; a thread-safe mailbox for the HTTP handlers."""

    def __init__(
        self,
        roster: dict[int, bytes],
        threshold: int,
        phase_timeout: float,
        out: str | None,
        params: AnonParams = AnonParams(),
        session: bytes | None = None,
        deadline: float | None = None,
    ) -> None:
        self.roster, self.t, self.timeout, self.out = roster, threshold, phase_timeout, out
        self.deadline = phase_deadline(len(roster), phase_timeout) if deadline is None else deadline
        self.params = params
        self.session = session or RandomSource().bytes(16)
        self.rows: list[tuple[str, int, int]] = []
        self.col = Collector(params)
        self.verify = Verifier()
        self.sv = SecAggServer(
            self.session, roster, threshold, max_rounds=params.rounds, verifier=self.verify, hooks=self.col
        )
        self.lock = threading.Condition()
        self.queues: dict[int, list[bytes]] = {u: [] for u in roster}
        self.accepted: dict[int, set[bytes]] = {u: set() for u in roster}
        self.state, self.phase_name = "running", "advertise"
        self.rejections: list[str] = []
        self.phases: list[PhaseTime] = []
        self._arrivals: list[float] = []
        self._t0 = self._mark = time.monotonic()  # when this phase's frames were queued / the last one closed
        self._cpu = time.process_time()

    # -- called by HTTP threads ---------------------------------------------------
    def max_body(self) -> int:
        """The largest POST body the protocol can need right now."""
        n, k = len(self.roster), self.sv.k
        setup = 2048 + n * (64 + k * 44 + 24 + k * 16) + k * 32
        st = getattr(self.sv, "start", None)
        vec = 0 if st is None else st.length * groups.dtype(st.group).itemsize + n * 48
        return setup + vec

    def post(self, data: bytes) -> bool:
        """Accept one signed frame; True if new, False for an exact repeat."""
        uid, sig, frame_ = unwrap_post(data)
        if E.frame_session(frame_) != self.session:  # before the signature: a restarted server
            raise ProtocolViolation("foreign-session", "a frame of another session")  # says so (issue 19)
        if uid not in self.roster:
            raise ProtocolViolation("unknown-sender", str(uid))
        if not self.verify(self.roster[uid], post_payload(self.session, uid, frame_), sig):
            raise ProtocolViolation("bad-signature", f"frame not signed by user {uid}")
        digest = hash_bytes(frame_, size=16)
        with self.lock:
            if digest in self.accepted[uid]:
                return False
            try:
                msg = E.decode(frame_)
                if getattr(msg, "sender", uid) != uid:
                    raise ProtocolViolation("not-allowed", f"user {uid} posted a frame of another user")
                self.sv.receive(frame_)
            except ProtocolViolation as exc:
                self.rejections.append(exc.reason)
                raise
            self.accepted[uid].add(digest)
            self._arrivals.append(time.monotonic() - self._t0)
            self.lock.notify_all()
        return True

    def check_poll(self, uid: int, seq: int, signature: bytes) -> None:
        if not self.verify(self.roster[uid], poll_payload(self.session, uid, seq), signature):
            raise ProtocolViolation("bad-signature", f"poll not signed by user {uid}")

    def poll(self, uid: int, seq: int, wait: float) -> bytes | None:
        deadline = time.monotonic() + wait
        with self.lock:
            while len(self.queues[uid]) <= seq:
                left = deadline - time.monotonic()
                if left <= 0 or self.state != "running":
                    break
                self.lock.wait(left)
            q = self.queues[uid]
            return q[seq] if seq < len(q) else None

    # -- driver thread ---------------------------------------------------------------
    def _exchange(self, frames: dict[int, bytes], stage: str) -> None:
        with self.lock:
            for u, f in frames.items():
                self.queues[u].append(f)
            self.phase_name = stage
            self.lock.notify_all()
            if stage == "result":
                return
            now = time.monotonic()
            compute, self._t0, self._arrivals = now - self._mark, now, []
            while not (done := self.sv.expected() <= set(self.sv._box())):
                last = now + (self._arrivals[-1] if self._arrivals else 0.0)
                until = min(last + self.timeout, now + self.deadline)  # silence, or the deadline
                if time.monotonic() >= until:
                    break
                self.lock.wait(until - time.monotonic())
            self._mark = time.monotonic()
            xs = sorted(self._arrivals) or [0.0]
            cpu, self._cpu = time.process_time() - self._cpu, time.process_time()
            replies = (xs[len(xs) // 2], xs[(9 * len(xs)) // 10], xs[-1])
            expected = len(self.sv.expected())
            got = len(self._arrivals)
            self.phases.append(PhaseTime(stage, expected, got, compute, self._mark - now, replies, cpu, not done))

    def run(self) -> None:
        try:
            run_session(cast(SecAggServer, _Locked(self.sv, self.lock)), self.col, self._exchange)
            from .dataset import write_collected

            self.rows = [(p.hex(), i, r) for p, lst in self.col.profiles().items() for i, r in lst]
            if self.out:
                write_collected(self.out, self.rows)
            self.state = "done"
        except RoundAborted as exc:
            self._exchange(self.sv.abort_frames(), "result")
            self.state = f"aborted: {exc}"
        with self.lock:
            self.lock.notify_all()

    def status(self) -> dict:
        return {
            "session": self.session.hex(),
            "state": self.state,
            "phase": self.phase_name,
            "threshold": self.t,
            "users": len(self.roster),
            "phase_timeout": self.timeout,
            "deadline": self.deadline,
            "rounds": self.sv.max_rounds,
            "accepted": len(self.col.parts),
            "advertised": len(self.sv.adverts),
            "round": self.sv.round,
            "profiles": len(self.rows and {p for p, _, _ in self.rows}),
            "anonymity": self.col.min_anonymity,
            "events": self.col.events[-10:],
        }


class _Locked:
    """The SecAggServer seen by the driver thread: every method call holds the lock
    the HTTP threads take to deliver frames."""

    def __init__(self, sv: SecAggServer, lock: threading.Condition) -> None:
        self._sv, self._lock = sv, lock

    def __getattr__(self, name: str):
        v = getattr(self._sv, name)
        if not callable(v):
            return v

        def call(*a, **k):
            with self._lock:
                return v(*a, **k)

        return call


class Sessions:
    """The session endpoints (``/v1/status``, ``/v1/poll``, ``/v1/msg``) over the running
    collections, found by session id; ``default`` answers requests that name none."""

    def __init__(self, lookup: Callable[[bytes], CollectionServer | None], default: CollectionServer | None) -> None:
        self.lookup, self.default = lookup, default
        self.last = time.monotonic()  # when the last request arrived

    def max_body(self, path: str, query: dict) -> int:
        """For ``/v1/msg?session=S``: that session's bound, or 409 before the body is read."""
        if path != "/v1/msg":
            return 0
        if "session" in query:
            return self._session(query).max_body()
        return self.default.max_body() if self.default else 0

    def _session(self, q: dict) -> CollectionServer:
        if "session" not in q and self.default is not None:
            return self.default
        cs = self.lookup(hex_param(q, "session", 16))
        if cs is None:
            raise Reject(409, "foreign-session", "no such session here (restarted or finished)")
        return cs

    def handle(self, req: Request) -> Response:
        self.last = time.monotonic()
        if req.method == "GET" and req.path == "/v1/status":
            return json_response(self._session(req.query).status())
        if req.method == "GET" and req.path == "/v1/poll":
            return self._poll(req)
        if req.method == "POST" and req.path == "/v1/msg":
            return self._msg(req.body)
        raise Reject(404, "not-found", req.path[:80])

    def _poll(self, req: Request) -> Response:
        q = req.query
        uid, seq = int_param(q, "uid", 1 << 32), int_param(q, "seq", MAX_SEQ)
        cs = self._session(q) if "session" in q else None
        if cs is None or q.get("session") != [cs.session.hex()]:
            raise Reject(409, "foreign-session", "poll for another session")
        if uid not in cs.roster:
            raise Reject(400, "unknown-sender", str(uid))
        try:
            raw = bytes.fromhex(req.headers.get("X-Signature", ""))  # type: ignore[attr-defined]
        except ValueError:
            raw = b""
        if len(raw) != 64:
            raise Reject(401, "bad-signature", "X-Signature must be 128 hex digits")
        try:
            cs.check_poll(uid, seq, raw)
        except ProtocolViolation as exc:
            raise Reject(403, exc.reason, exc.detail) from None
        f = cs.poll(uid, seq, POLL_WAIT)
        if f is None:
            return Response(204)
        return Response(200, f, "application/octet-stream", {"X-Seq": str(seq)})

    def _msg(self, body: bytes) -> Response:
        try:
            _, _, frame_ = unwrap_post(body)
            sid = E.frame_session(frame_)
        except ProtocolViolation as exc:
            raise Reject(400, exc.reason, exc.detail) from None
        cs = self.lookup(sid) or self.default
        if cs is None:
            raise Reject(409, "foreign-session", "no such session here (restarted or finished)")
        if len(body) > cs.max_body():
            raise Reject(413, "bad-length", f"body of {len(body)} bytes (limit {cs.max_body()})")
        try:
            new = cs.post(body)
        except ProtocolViolation as exc:
            raise Reject(409 if exc.reason == "foreign-session" else 400, exc.reason, exc.detail) from None
        return json_response({"ok": True, "repeat": not new})


def start_http(
    cs: CollectionServer,
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    max_connections: int | None = None,
    conn_timeout: float = CONN_TIMEOUT,
    **limits,
) -> BoundedHTTPServer:
    """Serve one collection on host:port in a background thread (bounds from the roster)."""
    lim = Limits.for_cohort(len(cs.roster), conn_timeout=conn_timeout, **limits)
    if max_connections:
        lim = dataclasses.replace(lim, max_connections=max_connections)
    return _start(Sessions(lambda sid: cs if sid == cs.session else None, cs), lim, host, port)


def limits_of(a) -> dict:
    """The transport bounds given on the command line."""
    return {
        "per_address": a.per_address,
        "header_deadline": a.header_deadline,
        "allow_origin": tuple(a.allow_origin or ()),
    }


def serve(a) -> int:
    from .simulate import default_threshold
    from .transport_http import read_roster

    roster = read_roster(a.roster)
    if len(roster) != a.users:
        raise ValueError(f"{a.roster}: {len(roster)} users listed, --users says {a.users}")
    t = a.threshold or default_threshold(len(roster))
    cs = CollectionServer(roster, t, a.phase_timeout, a.out)
    httpd = start_http(cs, a.port, host=a.host, **limits_of(a))
    print(f"listening {a.host}:{httpd.server_address[1]} session {cs.session.hex()}", flush=True)
    t0, c0 = time.monotonic(), time.process_time()
    cs.run()
    for ph in cs.phases:
        print(f"phase {ph.line()}", flush=True)
    print(
        f"state {cs.state}; {len(cs.col.parts)} parts; {time.monotonic() - t0:.1f} s wall, "
        f"{time.process_time() - c0:.1f} s CPU; events {cs.col.events}",
        flush=True,
    )
    # let every client read the final status: until nobody asked anything for 2 s (at most 30 s;
    # a fixed 3 s left 403 of 500 contributors of bench_privacy_http at load 70 without it)
    app = httpd.RequestHandlerClass.app  # type: ignore[attr-defined]
    end = time.monotonic() + max(3.0, min(30.0, a.phase_timeout))
    while time.monotonic() < end and time.monotonic() - app.last < 2.0:
        time.sleep(0.2)
    httpd.shutdown()
    return 0 if cs.state == "done" else 3

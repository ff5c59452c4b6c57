"""The collection server over HTTP (see :mod:`transport_http` for the endpoints).

* Every POSTed frame must be signed by the identity key of the roster member
  it claims to come from, over this server's session id; every poll too.
* The listen backlog is sized for the cohort; the number of connections served
  at once is bounded (beyond it: 503, the client retries); every connection has
  a socket timeout (a slow or idle client is dropped) and a body must arrive
  within a deadline and fit the size the protocol needs for this session.
* Each phase closes after ``phase_timeout`` seconds even if some users are silent:
  they count as dropped. The CSV is written atomically when the collection ends.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import parse_qs, urlparse

from . import encoding as E
from . import groups
from .anonymous import AnonParams
from .collector import Collector
from .driver import run_session
from .errors import ProtocolViolation, RoundAborted
from .primitives import RandomSource, Verifier, hash_bytes
from .secagg_server import SecAggServer
from .transport_http import POLL_WAIT, poll_payload, post_payload, unwrap_post

CONN_TIMEOUT = 10.0  # seconds a connection may stay silent
BODY_DEADLINE = 30.0  # seconds to receive a whole body
MAX_SEQ = 1 << 20


class CollectionServer:
    """Drives SecAggServer + Collector; a thread-safe mailbox for the HTTP handlers."""

    def __init__(
        self,
        roster: dict[int, bytes],
        threshold: int,
        phase_timeout: float,
        out: str,
        params: AnonParams = AnonParams(),
    ) -> None:
        self.roster, self.t, self.timeout, self.out = roster, threshold, phase_timeout, out
        self.params = params
        self.session = RandomSource().bytes(16)
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
            deadline = time.monotonic() + self.timeout
            while not self.sv.expected() <= set(self.sv._box()) and time.monotonic() < deadline:
                self.lock.wait(max(0.0, deadline - time.monotonic()))

    def run(self) -> None:
        try:
            run_session(cast(SecAggServer, _Locked(self.sv, self.lock)), self.col, self._exchange)
            from .dataset import write_collected

            rows = [(p.hex(), i, r) for p, lst in self.col.profiles().items() for i, r in lst]
            write_collected(self.out, rows)
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
            "rounds": self.sv.max_rounds,
            "accepted": len(self.col.parts),
            "advertised": len(self.sv.adverts),
            "round": self.sv.round,
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


class _Reject(Exception):
    def __init__(self, code: int, reason: str, detail: str = "") -> None:
        self.code, self.reason, self.detail = code, reason, detail


def _int_param(q: dict, name: str, hi: int) -> int:
    vals = q.get(name)
    if not vals or len(vals) != 1 or not vals[0].isdigit() or len(vals[0]) > 12:
        raise _Reject(400, "bad-format", f"query parameter {name!r} must be one decimal integer")
    v = int(vals[0])
    if v > hi:
        raise _Reject(400, "bad-format", f"query parameter {name!r} out of range")
    return v


def make_handler(cs: CollectionServer, conn_timeout: float = CONN_TIMEOUT, body_deadline: float = BODY_DEADLINE):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = conn_timeout  # socket timeout: a silent client is dropped

        def log_message(self, *a):  # quiet
            pass

        def _send(self, code: int, body: bytes, ctype: str = "application/json", hdr=None):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (hdr or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _reject(self, r: _Reject) -> None:
            self.close_connection = True
            self._send(r.code, json.dumps({"reason": r.reason, "detail": r.detail}).encode())

        def do_GET(self):
            try:
                self._get()
            except _Reject as r:
                self._reject(r)

        def do_POST(self):
            try:
                self._post()
            except _Reject as r:
                self._reject(r)

        def _get(self):
            u = urlparse(self.path)
            if u.path == "/v1/status":
                return self._send(200, json.dumps(cs.status()).encode())
            if u.path != "/v1/poll":
                raise _Reject(404, "not-found", u.path[:80])
            q = parse_qs(u.query, keep_blank_values=True)
            uid, seq = _int_param(q, "uid", 1 << 32), _int_param(q, "seq", MAX_SEQ)
            if uid not in cs.roster:
                raise _Reject(400, "unknown-sender", str(uid))
            if q.get("session") != [cs.session.hex()]:
                raise _Reject(409, "foreign-session", "poll for another session")
            sig = self.headers.get("X-Signature", "")
            try:
                raw = bytes.fromhex(sig)
            except ValueError:
                raw = b""
            if len(raw) != 64:
                raise _Reject(401, "bad-signature", "X-Signature must be 128 hex digits")
            try:
                cs.check_poll(uid, seq, raw)
            except ProtocolViolation as exc:
                raise _Reject(403, exc.reason, exc.detail) from None
            f = cs.poll(uid, seq, POLL_WAIT)
            if f is None:
                return self._send(204, b"")
            self._send(200, f, "application/octet-stream", {"X-Seq": str(seq)})

        def _post(self):
            if urlparse(self.path).path != "/v1/msg":
                raise _Reject(404, "not-found", self.path[:80])
            cl = self.headers.get_all("Content-Length") or []
            if len(cl) != 1 or not cl[0].strip().isdigit() or len(cl[0].strip()) > 12:
                raise _Reject(400, "bad-format", "Content-Length must be one decimal integer")
            n = int(cl[0])
            limit = cs.max_body()
            if not 0 < n <= limit:
                raise _Reject(413 if n else 400, "bad-length", f"body of {n} bytes (limit {limit})")
            body = self._read(n)
            try:
                new = cs.post(body)
            except ProtocolViolation as exc:
                raise _Reject(409 if exc.reason == "foreign-session" else 400, exc.reason, exc.detail) from None
            self._send(200, json.dumps({"ok": True, "repeat": not new}).encode())

        def _read(self, n: int) -> bytes:
            deadline = time.monotonic() + body_deadline
            buf = bytearray()
            while len(buf) < n:
                if time.monotonic() > deadline:
                    raise _Reject(408, "bad-format", "body not received within the deadline")
                try:
                    chunk = self.rfile.read1(min(1 << 16, n - len(buf)))
                except (TimeoutError, OSError):
                    chunk = b""
                if not chunk:
                    raise _Reject(400, "bad-format", f"body truncated at {len(buf)} of {n} bytes")
                buf += chunk
            return bytes(buf)

    return Handler


class BoundedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a sized backlog and a bounded number of connections
    served at once (one thread each); above the bound a connection gets 503."""

    daemon_threads = True

    def __init__(self, addr, handler, *, max_connections: int, backlog: int) -> None:
        self.request_queue_size = backlog
        self._slots = threading.BoundedSemaphore(max_connections)
        self.max_connections = max_connections
        self._count = threading.Lock()
        self.active = 0  # connections being served now
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            try:
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        with self._count:
            self.active += 1
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._count:
                self.active -= 1
            self._slots.release()

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        print(f"warning: connection from {client_address[0]}: {type(exc).__name__}: {exc}", file=sys.stderr)


def start_http(
    cs: CollectionServer, port: int = 0, *, max_connections: int | None = None, conn_timeout: float = CONN_TIMEOUT
) -> BoundedHTTPServer:
    """Serve ``cs`` on 127.0.0.1:port in a background thread (backlog and bound from the roster)."""
    n = len(cs.roster)
    httpd = BoundedHTTPServer(
        ("127.0.0.1", port),
        make_handler(cs, conn_timeout),
        max_connections=max_connections or 2 * n + 16,
        backlog=min(4096, max(128, 2 * n)),
    )
    threading.Thread(target=httpd.serve_forever, daemon=True, name="http").start()
    return httpd


def serve(a) -> int:
    from .simulate import default_threshold
    from .transport_http import read_roster

    roster = read_roster(a.roster)
    if len(roster) != a.users:
        raise ValueError(f"{a.roster}: {len(roster)} users listed, --users says {a.users}")
    t = a.threshold or default_threshold(len(roster))
    cs = CollectionServer(roster, t, a.phase_timeout, a.out)
    httpd = start_http(cs, a.port)
    print(f"listening 127.0.0.1:{httpd.server_address[1]} session {cs.session.hex()}", flush=True)
    t0, c0 = time.monotonic(), time.process_time()
    cs.run()
    print(
        f"state {cs.state}; {len(cs.col.parts)} parts; {time.monotonic() - t0:.1f} s wall, "
        f"{time.process_time() - c0:.1f} s CPU; events {cs.col.events}",
        flush=True,
    )
    time.sleep(min(3.0, a.phase_timeout))  # let clients read the final status
    httpd.shutdown()
    return 0 if cs.state == "done" else 3

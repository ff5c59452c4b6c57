"""Networked mode: one collection server and separate client processes over HTTP.

Only the standard library (``http.server``, ``urllib``) on 127.0.0.1. Bodies are
the binary frames of :mod:`encoding` (``application/octet-stream``); control
endpoints answer small JSON objects. Never pickle.

Endpoints: ``GET /v1/status`` -> {"session", "state", "threshold", "phase"};
``POST /v1/msg`` (a client frame) -> 200, or 400 ``{"reason": ...}``;
``GET /v1/poll?uid=U&seq=K`` -> the K-th frame addressed to U (200, header
``X-Seq``) or 204 after a short long-poll.

Timeouts and restarts: every server phase closes after ``--phase-timeout``
seconds even if some users are silent (they count as dropped). A client gives
up after ``--timeout`` seconds without progress (exit 3, one-line error). If the
server restarts it picks a new session id; clients see it in /v1/status and
rejoin from scratch (nothing of the old session is reused). The output CSV is
written atomically only when the collection completes.
"""
from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from http.client import HTTPException
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .anonymous import AnonParams, Collector, Contributor
from .errors import PrivacyError, ProtocolViolation, RoundAborted
from .primitives import RandomSource
from .secagg_client import SecAggClient
from .secagg_server import SecAggServer
from .simulate import default_threshold

MAX_BODY = 64 << 20


def read_roster(path: str) -> dict[int, bytes]:
    roster = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            uid, hexkey = line.split()
            roster[int(uid)] = bytes.fromhex(hexkey)
            if len(roster[int(uid)]) != 32:
                raise ValueError
        except ValueError:
            raise ValueError(f"{path}:{n}: expected 'uid hex-ed25519-public-key'")
    return roster


class CollectionServer:
    """Drives SecAggServer + Collector; thread-safe mailbox for the HTTP handlers."""

    def __init__(self, roster: dict[int, bytes], threshold: int, phase_timeout: float,
                 out: str, rng: RandomSource, params: AnonParams = AnonParams()) -> None:
        self.roster, self.t, self.timeout, self.out = roster, threshold, phase_timeout, out
        self.rng, self.params = rng, params
        self.session = rng.bytes(16)
        self.sv = SecAggServer(self.session, roster, threshold, max_rounds=10)
        self.col = Collector(params)
        self.lock = threading.Condition()
        self.queues: dict[int, list[bytes]] = {u: [] for u in roster}
        self.state, self.phase_name = "running", "advertise"
        self.rejections: list[str] = []

    # called by HTTP threads
    def post(self, frame: bytes) -> None:
        with self.lock:
            try:
                self.sv.receive(frame)
            except ProtocolViolation as exc:
                self.rejections.append(exc.reason)
                raise
            self.lock.notify_all()

    def poll(self, uid: int, seq: int, wait: float) -> bytes | None:
        deadline = time.monotonic() + wait
        with self.lock:
            while len(self.queues.get(uid, ())) <= seq:
                left = deadline - time.monotonic()
                if left <= 0 or self.state != "running":
                    break
                self.lock.wait(left)
            q = self.queues.get(uid, [])
            return q[seq] if seq < len(q) else None

    # driver thread
    def _enqueue(self, frames: dict[int, bytes]) -> None:
        with self.lock:
            for u, f in frames.items():
                self.queues[u].append(f)
            self.lock.notify_all()

    def _wait(self, name: str, box, expected) -> None:
        deadline = time.monotonic() + self.timeout
        with self.lock:
            self.phase_name = name
            while not set(expected) <= set(box()) and time.monotonic() < deadline:
                self.lock.wait(max(0.0, deadline - time.monotonic()))

    def _step(self, name: str, expected, fn):
        """Wait until ``expected()`` users have sent this phase's message (or the
        phase deadline passes), then close the phase with ``fn`` and deliver."""
        self._wait(name, self.sv._box, expected())
        with self.lock:
            frames = fn()
        self._enqueue(frames)

    def run(self) -> None:
        try:
            sv = self.sv
            self._step("advertise", lambda: self.roster, sv.keylist)
            self._step("share", lambda: sv.adverts, sv.bundles)
            while True:
                plan = self.col.next_round(sv.round + 1)
                if plan is None or sv.round + 2 >= sv.max_rounds:
                    break
                with self.lock:
                    frames = sv.start_round(*plan)
                self._enqueue(frames)
                self._step("input", lambda: sv.start.live, sv.survivors)
                self._step("consistency", lambda: sv.U3, sv.unmask_request)
                self._step("unmask", lambda: sv.request.sigs, sv.finish_round)
                if self.col.on_result(plan[0], sv.round, sv.result, len(sv.U3), sv.session) == "open":
                    with self.lock:
                        frames = sv.open_request()
                    self._enqueue(frames)
                    self._wait("open", sv._box, sv.start.live)
                    with self.lock:
                        inputs, bad = sv.finish_open()
                    sv.expel(self.col.on_open(plan[0], sv.round, inputs, bad))
            from .dataset import write_collected
            from .ratings_codec import assemble
            rows = [(p.hex(), i, r) for p, lst in assemble(self.col.accepted).items() for i, r in lst]
            write_collected(self.out, rows)
            self.state = "done"
        except RoundAborted as exc:
            self._enqueue(self.sv.abort_frames())
            self.state = f"aborted: {exc}"
        with self.lock:
            self.lock.notify_all()

    def status(self) -> dict:
        return {"session": self.session.hex(), "state": self.state, "phase": self.phase_name,
                "threshold": self.t, "accepted": len(self.col.accepted),
                "advertised": len(self.sv.adverts), "round": self.sv.round,
                "events": self.col.events[-10:]}


def _handler(cs: CollectionServer):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

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

        def do_GET(self):
            u = urlparse(self.path)
            if u.path == "/v1/status":
                return self._send(200, json.dumps(cs.status()).encode())
            if u.path == "/v1/poll":
                q = parse_qs(u.query)
                try:
                    uid, seq = int(q["uid"][0]), int(q["seq"][0])
                except (KeyError, ValueError):
                    return self._send(400, b'{"reason": "bad-format"}')
                if q.get("session", [cs.session.hex()])[0] != cs.session.hex():
                    return self._send(409, b'{"reason": "foreign-session"}')
                f = cs.poll(uid, seq, 2.0)
                if f is None:
                    return self._send(204, b"")
                return self._send(200, f, "application/octet-stream", {"X-Seq": str(seq)})
            self._send(404, b'{"reason": "not found"}')

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            if urlparse(self.path).path != "/v1/msg" or not 0 < n <= MAX_BODY:
                return self._send(400, b'{"reason": "bad-format"}')
            body = self.rfile.read(n)
            try:
                cs.post(body)
            except ProtocolViolation as exc:
                return self._send(400, json.dumps({"reason": exc.reason, "detail": exc.detail}).encode())
            self._send(200, b'{"ok": true}')
    return H


def serve(a) -> int:
    roster = read_roster(a.roster)
    if len(roster) != a.users:
        raise ValueError(f"{a.roster}: {len(roster)} users listed, --users says {a.users}")
    t = a.threshold or default_threshold(len(roster))
    rng = RandomSource(None if a.seed is None else a.seed.to_bytes(32, "big"))
    cs = CollectionServer(roster, t, a.phase_timeout, a.out, rng)
    httpd = ThreadingHTTPServer(("127.0.0.1", a.port), _handler(cs))
    httpd.daemon_threads = True
    print(f"listening 127.0.0.1:{httpd.server_address[1]} session {cs.session.hex()}", flush=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    cs.run()
    print(f"state {cs.state}; {len(cs.col.accepted)} messages; events {cs.col.events}", flush=True)
    time.sleep(min(3.0, a.phase_timeout))  # let clients read the final status
    httpd.shutdown()
    return 0 if cs.state == "done" else 3


class _Http:
    def __init__(self, base: str, timeout: float) -> None:
        self.base, self.timeout = base.rstrip("/"), timeout

    def get(self, path: str):
        try:
            with urllib.request.urlopen(self.base + path, timeout=self.timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def post(self, frame: bytes) -> None:
        req = urllib.request.Request(self.base + "/v1/msg", data=frame, method="POST",
                                     headers={"Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                r.read()
        except urllib.error.HTTPError as exc:
            raise ProtocolViolation(json.loads(exc.read() or b"{}").get("reason", "bad-format"),
                                    "server rejected a frame")


def join(a) -> int:
    from .dataset import read_ratings
    from .ratings_codec import encode_user
    users = read_ratings(a.ratings)
    if len(users) != 1:
        raise ValueError(f"{a.ratings}: must hold exactly one user's rows, found {len(users)} users")
    seed = bytes.fromhex(Path(a.key).read_text().strip())
    roster = read_roster(a.roster)
    rng = RandomSource()
    params = AnonParams()
    msgs, leftover = encode_user(next(iter(users.values())), rng.bytes(8))
    if leftover:
        print(f"user {a.uid}: {len(leftover)} ratings over the per-round limit wait for a later round")
    contrib = Contributor(msgs, params, rng)
    http = _Http(a.server, 10.0)
    deadline = time.monotonic() + a.timeout
    session, client, seq = None, None, 0
    while time.monotonic() < deadline:
        try:
            if client is not None:
                code, body = http.get(f"/v1/poll?uid={a.uid}&seq={seq}&session={session}")
                if code == 200:
                    seq += 1
                    deadline = time.monotonic() + a.timeout
                    reply = client.receive(body)
                    if reply is not None:
                        http.post(reply)
                    continue
            st = json.loads(http.get("/v1/status")[1])
            if st["session"] != session:  # first contact, or the server restarted: rejoin
                if st["state"] != "running":
                    time.sleep(0.2)
                    continue
                if session is not None:
                    print(f"user {a.uid}: server restarted (new session), rejoining", flush=True)
                session = st["session"]
                contrib.pending = list(msgs)  # the new server process knows nothing yet
                client = SecAggClient(a.uid, seed, roster, bytes.fromhex(session), st["threshold"],
                                      contrib.input_fn, rng=rng, max_rounds=10)
                contrib.attach(client)
                seq = 0
                http.post(client.start())
            elif st["state"] != "running":
                contrib.sync()
                done = len(msgs) - len(contrib.pending)
                print(f"user {a.uid}: {st['state']}; {done} of {len(msgs)} messages delivered", flush=True)
                return 0 if st["state"] == "done" and not contrib.pending else 3
        except (urllib.error.URLError, HTTPException, ConnectionError, TimeoutError):
            time.sleep(0.2)  # server down or restarting: retry until --timeout
        except ProtocolViolation as exc:
            if exc.reason in ("foreign-session", "stale"):
                continue  # a reply that reached a restarted server, or a closed phase: go on
            print(f"error: user {a.uid}: {exc}", file=sys.stderr)
            return 3
        except PrivacyError as exc:
            print(f"error: user {a.uid}: {exc}", file=sys.stderr)
            return 3
    print(f"error: user {a.uid}: no progress for {a.timeout:.0f} s", file=sys.stderr)
    return 3

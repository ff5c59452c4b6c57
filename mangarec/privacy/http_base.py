"""The HTTP transport of the collection server, ready to face the internet (issue 19).

Standard library only (``ThreadingHTTPServer``, one thread per connection), with bounds:

* a listen backlog sized for the cohort (``Limits.backlog``; the standard library's is 5);
* at most ``max_connections`` connections served at once and ``per_address`` from one
  client address (0: no per-address bound, for tests on one machine and behind a reverse
  proxy, where every connection comes from the proxy); beyond either: 503 at once;
* a **header deadline**: the request line and headers (and, on a kept-alive connection,
  the next request) must arrive within ``header_deadline`` seconds, however slowly the
  bytes trickle in; a **body deadline** likewise; a socket timeout for every read. A
  watchdog thread shuts down the connections whose deadline passed;
* bodies bounded by the size the application accepts for that path (413 beyond), read in
  chunks; a body that stalls past the socket timeout or the body deadline is answered 408
  (the clients send it again: on a loaded machine a contributor can be starved mid-body);
* CORS for the listed origins only (``allow_origin``): preflights answered, no credentials.

Applications implement :class:`App`: ``max_body(path, query)`` and ``handle(request)``; a
:class:`Reject` becomes a 4xx/5xx JSON answer ``{"reason", "detail"}``, never a traceback.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qs, urlparse


class Reject(Exception):
    def __init__(self, code: int, reason: str, detail: str = "", headers: dict | None = None) -> None:
        self.code, self.reason, self.detail, self.headers = code, reason, detail, headers or {}
        super().__init__(f"{code} {reason}: {detail}")


def int_param(q: dict, name: str, hi: int) -> int:
    vals = q.get(name)
    if not vals or len(vals) != 1 or not vals[0].isdigit() or len(vals[0]) > 12:
        raise Reject(400, "bad-format", f"query parameter {name!r} must be one decimal integer")
    v = int(vals[0])
    if v > hi:
        raise Reject(400, "bad-format", f"query parameter {name!r} out of range")
    return v


def hex_param(q: dict, name: str, nbytes: int) -> bytes:
    vals = q.get(name)
    try:
        if not vals or len(vals) != 1 or len(vals[0]) != 2 * nbytes:
            raise ValueError
        return bytes.fromhex(vals[0])
    except ValueError:
        raise Reject(400, "bad-format", f"query parameter {name!r} must be {2 * nbytes} hex digits") from None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict
    headers: object  # email.message.Message
    addr: str
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    code: int
    body: bytes = b""
    ctype: str = "application/json"
    headers: dict = field(default_factory=dict)


def json_response(doc: dict, code: int = 200) -> Response:
    return Response(code, json.dumps(doc).encode())


class App(Protocol):
    def max_body(self, path: str, query: dict) -> int:
        """The largest body accepted (may raise :class:`Reject`: it runs before the body is read)."""
        ...

    def handle(self, req: Request) -> Response: ...


@dataclass(frozen=True)
class Limits:
    max_connections: int = 256
    per_address: int = 16
    backlog: int = 1024
    conn_timeout: float = 10.0  # one read may stay silent this long
    header_deadline: float = 10.0  # request line + headers (also: idle keep-alive)
    body_deadline: float = 30.0
    allow_origin: tuple[str, ...] = ()

    @classmethod
    def for_cohort(cls, n: int, **kw) -> Limits:
        kw.setdefault("max_connections", max(256, 4 * n + 64))
        kw.setdefault("backlog", min(4096, max(1024, 2 * n)))
        return cls(**kw)


_NEVER = float("inf")


def make_handler(app: App, limits: Limits):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        app: App
        timeout = limits.conn_timeout
        server: BoundedHTTPServer

        def log_message(self, *a):  # quiet
            pass

        def handle_one_request(self):
            self.server.deadline(self.connection, time.monotonic() + limits.header_deadline)
            super().handle_one_request()

        def _cors(self) -> dict:
            origin = self.headers.get("Origin") if self.headers else None
            if origin and origin in limits.allow_origin:
                return {
                    "Access-Control-Allow-Origin": origin,
                    "Vary": "Origin",
                    "Access-Control-Expose-Headers": "X-Seq, Retry-After",
                }
            return {}

        def _send(self, r: Response) -> None:
            self.send_response(r.code)
            self.send_header("Content-Type", r.ctype)
            self.send_header("Content-Length", str(len(r.body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in {**self._cors(), **r.headers}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(r.body)

        def _serve(self, method: str) -> None:
            self.server.deadline(self.connection, _NEVER)
            try:
                u = urlparse(self.path)
                q = parse_qs(u.query, keep_blank_values=True)
                body = self._body(u.path, q) if method == "POST" else b""
                self._send(app.handle(Request(method, u.path, q, self.headers, self.client_address[0], body)))
            except Reject as r:
                self.close_connection = True
                doc = json.dumps({"reason": r.reason, "detail": r.detail}).encode()
                self._send(Response(r.code, doc, headers=r.headers))

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def do_OPTIONS(self):
            self.server.deadline(self.connection, _NEVER)
            hdr = self._cors()
            if hdr:
                hdr |= {
                    "Access-Control-Allow-Methods": "GET, POST",
                    "Access-Control-Allow-Headers": "Content-Type, X-Signature",
                    "Access-Control-Max-Age": "600",
                }
            self._send(Response(204 if hdr else 403, b"", "text/plain", hdr))

        def _body(self, path: str, q: dict) -> bytes:
            cl = self.headers.get_all("Content-Length") or []
            if len(cl) != 1 or not cl[0].strip().isdigit() or len(cl[0].strip()) > 12:
                raise Reject(400, "bad-format", "Content-Length must be one decimal integer")
            n, limit = int(cl[0]), app.max_body(path, q)
            if not 0 < n <= limit:
                raise Reject(413 if n else 400, "bad-length", f"body of {n} bytes (limit {limit})")
            deadline = time.monotonic() + limits.body_deadline
            self.server.deadline(self.connection, deadline)
            buf = bytearray()
            while len(buf) < n:
                if time.monotonic() > deadline:
                    raise Reject(408, "bad-format", "body not received within the deadline")
                try:
                    chunk = self.rfile.read1(min(1 << 16, n - len(buf)))
                except (TimeoutError, OSError):  # too slow (a starved client): 408, it may send again
                    raise Reject(408, "bad-format", f"body stalled at {len(buf)} of {n} bytes") from None
                if not chunk:
                    raise Reject(400, "bad-format", f"body truncated at {len(buf)} of {n} bytes")
                buf += chunk
            self.server.deadline(self.connection, _NEVER)
            return bytes(buf)

    Handler.app = app
    return Handler


_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class BoundedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a sized backlog, bounded connections in all and per client
    address (503 beyond), and a watchdog enforcing the header and body deadlines."""

    daemon_threads = True

    def __init__(self, addr, handler, limits: Limits) -> None:
        self.request_queue_size = limits.backlog
        self.limits = limits
        self._lock = threading.Lock()
        self.by_address: Counter[str] = Counter()
        self.active = 0  # connections being served now
        self._deadlines: dict[socket.socket, float] = {}
        self._closed = threading.Event()
        super().__init__(addr, handler)
        threading.Thread(target=self._watchdog, daemon=True, name="http-deadlines").start()

    def deadline(self, conn: socket.socket, when: float) -> None:
        with self._lock:
            if conn in self._deadlines:
                self._deadlines[conn] = when

    def _watchdog(self) -> None:
        while not self._closed.wait(0.25):
            now = time.monotonic()
            with self._lock:
                late = [c for c, t in self._deadlines.items() if t < now]
                for c in late:
                    self._deadlines[c] = _NEVER
            for c in late:
                try:
                    c.shutdown(socket.SHUT_RDWR)  # the blocked read returns; the thread ends
                except OSError:
                    pass

    def process_request(self, request, client_address):
        addr, lim = client_address[0], self.limits
        with self._lock:
            ok = self.active < lim.max_connections and (not lim.per_address or self.by_address[addr] < lim.per_address)
            if ok:
                self.active += 1
                self.by_address[addr] += 1
                self._deadlines[request] = time.monotonic() + lim.header_deadline
        if not ok:
            try:
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release(request, addr)
            raise

    def _release(self, request, addr: str) -> None:
        with self._lock:
            self.active -= 1
            self.by_address[addr] -= 1
            if not self.by_address[addr]:
                del self.by_address[addr]
            self._deadlines.pop(request, None)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request, client_address[0])

    def server_close(self) -> None:
        self._closed.set()
        super().server_close()

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            return  # the client left (a closed tab, a deadline): nothing to report
        print(f"warning: connection from {client_address[0]}: {type(exc).__name__}: {exc}", file=sys.stderr)


def start_http(app: App, limits: Limits, host: str = "127.0.0.1", port: int = 0) -> BoundedHTTPServer:
    """Serve ``app`` on host:port in a background thread."""
    httpd = BoundedHTTPServer((host, port), make_handler(app, limits), limits)
    threading.Thread(target=httpd.serve_forever, daemon=True, name="http").start()
    return httpd

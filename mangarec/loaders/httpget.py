"""One HTTP GET with an overall deadline and a bounded body (standard library only).

``urllib``'s ``timeout`` bounds each socket operation, not the request: a server that sends
one byte every few seconds keeps a download going for hours. :func:`get` bounds the whole
request (DNS, connect, TLS, headers, redirects and body) by ``deadline`` seconds: the request
runs in a worker thread; when the deadline passes the caller gets :class:`DeadlineExceeded`
at once and the request's sockets are shut down, which ends the worker. The body is read in
blocks and refused past ``max_bytes`` (a ``Content-Length`` above it is refused before
reading). Only ``http`` and ``https`` are opened (no ``file:``, ``ftp:`` or ``data:``, not even
through a redirect); proxies from the environment are honoured.
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Response", "DeadlineExceeded", "ResponseTooLarge", "get"]

_BLOCK = 1 << 16


class DeadlineExceeded(TimeoutError):
    """The whole request took longer than its deadline."""


class ResponseTooLarge(Exception):
    """The response body is larger than the caller's bound."""


@dataclass(frozen=True)
class Response:
    """A complete response: ``status`` (200, 429 ...), ``reason``, ``headers``, ``body``.

    For an error status (>= 400) the body is not read (``b""``).
    """

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class _Sockets:
    """The sockets one request opened; :meth:`shut` ends every blocking read on them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._shut = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            if not self._shut:
                return
        self._shutdown(sock)

    def shut(self) -> None:
        with self._lock:
            self._shut = True
            socks = list(self._socks)
        for s in socks:
            self._shutdown(s)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _watched(conn_class: type, sockets: _Sockets) -> type:
    class Watched(conn_class):
        def connect(self) -> None:
            super().connect()
            sockets.add(self.sock)

    return Watched


class _Watching:
    """Mixin for urllib's HTTP(S) handlers: connections register their socket in ``_sockets``."""

    _sockets: _Sockets

    def do_open(self, http_class: Any, req: Any, **kw: Any) -> Any:
        watched: Any = _watched(http_class, self._sockets)
        return super().do_open(watched, req, **kw)  # type: ignore[misc]


class _HTTPHandler(_Watching, urllib.request.HTTPHandler):
    def __init__(self, sockets: _Sockets):
        super().__init__()
        self._sockets = sockets


class _HTTPSHandler(_Watching, urllib.request.HTTPSHandler):
    def __init__(self, sockets: _Sockets):
        super().__init__()
        self._sockets = sockets


def _opener(sockets: _Sockets) -> urllib.request.OpenerDirector:
    opener = urllib.request.OpenerDirector()
    for h in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        _HTTPHandler(sockets),
        _HTTPSHandler(sockets),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(h)
    return opener


def _read_body(resp: Any, max_bytes: int) -> bytes:
    header = (resp.headers.get("Content-Length") or "").strip()
    length = int(header) if header.isdigit() else None
    if length is not None and length > max_bytes:
        raise ResponseTooLarge(f"response too large: Content-Length {length} > {max_bytes} bytes")
    parts: list[bytes] = []
    size = 0
    while True:
        block = resp.read(_BLOCK)
        if not block:
            break
        size += len(block)
        if size > max_bytes:
            raise ResponseTooLarge(f"response too large: more than {max_bytes} bytes")
        parts.append(block)
    body = b"".join(parts)
    if length is not None and size < length:  # read(amt) returns what came before the close
        raise http.client.IncompleteRead(body, length - size)
    return body


def _request(url: str, headers: Mapping[str, str], timeout: float, max_bytes: int, sockets: _Sockets) -> Response:
    req = urllib.request.Request(url, headers=dict(headers))
    try:
        with _opener(sockets).open(req, timeout=timeout) as resp:
            body = _read_body(resp, max_bytes)
            return Response(resp.status, str(resp.reason), dict(resp.headers.items()), body)
    except urllib.error.HTTPError as e:
        try:
            return Response(e.code, str(e.reason), dict(e.headers.items()) if e.headers else {}, b"")
        finally:
            e.close()


def get(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    deadline: float = 120.0,
    max_bytes: int = 32 << 20,
) -> Response:
    """GET ``url`` and return the whole response, within ``deadline`` seconds overall.

    Parameters
    ----------
    url:
        An ``http://`` or ``https://`` URL.
    headers:
        Request headers.
    timeout:
        Bound on each socket operation (seconds); at most ``deadline`` is used.
    deadline:
        Bound on the whole request (seconds).
    max_bytes:
        Largest body accepted.

    Returns
    -------
    Response
        Any status; redirects are followed (to http / https only).

    Raises
    ------
    DeadlineExceeded
        The request did not complete in ``deadline`` seconds.
    ResponseTooLarge
        The body is over ``max_bytes``.
    OSError, http.client.HTTPException, urllib.error.URLError
        The connection failed (refused, reset, closed early, TLS error ...).
    """
    if deadline <= 0:
        raise ValueError("deadline must be > 0")
    sockets = _Sockets()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["response"] = _request(url, headers or {}, min(timeout, deadline), max_bytes, sockets)
        except BaseException as e:  # handed to the caller
            box["error"] = e

    worker = threading.Thread(target=work, name="http-get", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        sockets.shut()
        worker.join(1.0)  # normally ends at once; a stuck DNS lookup is left to finish alone
        raise DeadlineExceeded(f"no complete response within {deadline:g} s")
    if "error" in box:
        raise box["error"]
    return box["response"]


#: What a failed connection can raise (retried by callers, like a timeout).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, http.client.HTTPException, urllib.error.URLError)

"""A local static server for the built site (``python build.py serve``).

Threaded, bound to 127.0.0.1 by default, with the MIME types the site needs (``.js``,
``.json``, ``.svg``, ``.webmanifest``, ``.xml``). ``foo.json.gz`` is served as
``application/gzip``; a request for ``foo.json`` from a client that accepts gzip is answered
with ``foo.json.gz``, where it exists, and ``Content-Encoding: gzip`` (like nginx's
``gzip_static``). Missing files get ``404.html`` with status
404. ``base_path`` mounts the site under a sub-path (``/sub/path/``), to check that every
link is relative.

Bad settings are refused with one-line :class:`~mangarec.errors.InputError` before anything is
bound: a port outside 0..65535, a host that does not resolve, a host that is not a loopback
address (``0.0.0.0``, a LAN address: the site would be reachable from other machines) unless
``allow_public``, a port already in use or not allowed, a directory that is not there.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import posixpath
import socket
import threading
from collections.abc import Callable, Iterable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import InputError
from ..paths import SITE_SRC, TEMPLATES

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".gz": "application/gzip",
    ".bin": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    "": "application/octet-stream",
}


class SiteHandler(SimpleHTTPRequestHandler):
    """Serves ``directory`` under ``base_path``."""

    extensions_map = MIME_TYPES
    base_path = "/"

    def __init__(self, *args, base_path: str = "/", **kwargs):
        self.base_path = base_path
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet by default
        if os.environ.get("MANGAREC_SERVE_LOG"):
            super().log_message(format, *args)

    def translate_path(self, path: str) -> str:
        p = unquote(urlsplit(path).path)
        if not p.startswith(self.base_path):
            return os.path.join(self.directory, ".outside-base-path")
        rel = posixpath.normpath("/" + p[len(self.base_path) :])
        parts = [x for x in rel.split("/") if x and x not in (".", "..")]
        return os.path.join(self.directory, *parts)

    def send_head(self):
        path = self.translate_path(self.path)
        url = urlsplit(self.path).path
        if os.path.isdir(path) and not url.endswith("/"):
            self.send_response(301)
            self.send_header("Location", url + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if os.path.isdir(path):
            path = os.path.join(path, "index.html")
        gz = path + ".gz"
        if os.path.isfile(gz) and "gzip" in self.headers.get("Accept-Encoding", ""):
            return self._file(gz, 200, encoding="gzip", ctype=self.guess_type(path))
        if os.path.isfile(path):
            return self._file(path, 200)
        missing = os.path.join(self.directory, "404.html")
        if os.path.isfile(missing):
            return self._file(missing, 404)
        self.send_error(404, "File not found")
        return None

    def _file(self, path: str, status: int, encoding: str | None = None, ctype: str | None = None):
        f = open(path, "rb")
        size = os.fstat(f.fileno()).st_size
        self.send_response(status)
        self.send_header("Content-Type", ctype or self.guess_type(path))
        if encoding:
            self.send_header("Content-Encoding", encoding)
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        return f


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def check_address(host: str, port: int, *, allow_public: bool = False) -> int:
    """Validate where to serve; return the address family to bind (AF_INET or AF_INET6).

    Raises
    ------
    InputError
        "--port 99999: must be an integer between 0 and 65535 ...", "--host ...: cannot resolve
        ...", "--host 0.0.0.0: not a loopback address ..." (unless ``allow_public``).
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InputError(f"--port {port!r}: must be an integer between 0 and 65535 (0 = any free port)")
    if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
        raise InputError(f"--host {host!r}: must be a host name or an IP address")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as e:
        raise InputError(f"--host {host}: cannot resolve it ({getattr(e, 'strerror', None) or e})") from None
    addresses = [str(info[4][0]) for info in infos]
    if not allow_public and not all(_is_loopback(a) for a in addresses):
        raise InputError(
            f"--host {host}: not a loopback address, so the site would be reachable from other "
            "machines; give --public to serve it there anyway"
        )
    families = {info[0] for info in infos}
    return socket.AF_INET if socket.AF_INET in families or not families else socket.AF_INET6


def _bind_error(e: OSError, host: str, port: int) -> InputError:
    if e.errno == errno.EADDRINUSE:
        return InputError(
            f"--port {port}: already in use on {host} (is another server running? "
            "choose another port, or 0 for any free one)"
        )
    if e.errno in (errno.EACCES, errno.EPERM):
        return InputError(
            f"--port {port}: permission denied (ports below 1024 need privileges; "
            "choose another port, or 0 for any free one)"
        )
    if e.errno == errno.EADDRNOTAVAIL:
        return InputError(f"--host {host}: not an address of this machine")
    return InputError(f"cannot serve on {host}:{port}: {e.strerror or e}")


def make_server(
    directory: Path, host: str = "127.0.0.1", port: int = 8000, base_path: str = "/", *, allow_public: bool = False
) -> ThreadingHTTPServer:
    """A ready server (port 0 picks a free one: read ``server.server_address``).

    Raises
    ------
    InputError
        A bad host or port (:func:`check_address`), a port in use or not allowed, a
        ``directory`` that is not a directory, a ``base_path`` not starting and ending in ``/``.
    """
    if not isinstance(base_path, str) or not base_path.startswith("/") or not base_path.endswith("/"):
        raise InputError(f"base path {base_path!r}: must start and end with '/'")
    if not os.path.isdir(directory):
        raise InputError("not a directory: nothing to serve", str(directory))
    family = check_address(host, port, allow_public=allow_public)
    handler = partial(SiteHandler, directory=str(directory), base_path=base_path)
    server_class = type("SiteServer", (ThreadingHTTPServer,), {"address_family": family, "daemon_threads": True})
    try:
        return server_class((host, port), handler)
    except OSError as e:
        raise _bind_error(e, host, port) from None


def _snapshot(paths: Iterable[Path]) -> tuple:
    out = []
    for root in paths:
        if root.is_dir():
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    st = p.stat()
                    out.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(out)


def serve(
    directory: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    rebuild: Callable[[], object] | None = None,
    *,
    base_path: str = "/",
    watch: Iterable[Path] = (SITE_SRC, TEMPLATES),
    poll: float = 1.0,
    allow_public: bool = False,
) -> None:
    """Serve ``directory`` until interrupted (Ctrl-C); with ``rebuild``, call it when a file
    under ``watch`` changes (polled every ``poll`` seconds).

    ``allow_public`` (the CLI's ``--public``) allows a host that is not a loopback address.
    Every refusal (see :func:`make_server`) is an InputError raised before serving starts.
    """
    server = make_server(Path(directory), host, port, base_path, allow_public=allow_public)
    stop = threading.Event()
    if rebuild is not None:
        watch = [Path(w) for w in watch]

        def watcher() -> None:
            last = _snapshot(watch)
            while not stop.wait(poll):
                now = _snapshot(watch)
                if now != last:
                    last = now
                    try:
                        rebuild()
                    except Exception as e:  # keep serving the previous build
                        print(f"rebuild failed: {e}", flush=True)

        threading.Thread(target=watcher, daemon=True).start()
    h, p = str(server.server_address[0]), server.server_address[1]
    shown = f"[{h}]" if ":" in h else h
    print(f"serving {directory} at http://{shown}:{p}{base_path} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()

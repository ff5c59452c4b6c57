"""The on-disk cache of ``--fetch mangadex``: which folder holds an API's pages, how a page is
written and read back, what a well-formed page is.

:func:`cache_key` names the folder: a readable label of the host and path plus the first 16
hex digits of the SHA-256 of the normalised base URL (:func:`normalise_base_url`: scheme and
host lower-cased, default port and trailing ``/`` removed) and of every parameter that decides
what the pages hold (page size, offset cap, content ratings, order, :data:`CACHE_FORMAT`).
Pages are compact sorted JSON in UTF-8, lone surrogates kept as ``\\uXXXX`` escapes
(:func:`page_bytes`), written atomically (:func:`save_page`).
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..fsutil import atomic_write
from .inputs import read_input_bytes

MAX_WINDOW = 10_000  # the API's cap on offset + limit
CONTENT_RATINGS = ("safe", "suggestive", "erotica", "pornographic")
#: Bumped when the layout or meaning of cached pages changes (part of :func:`cache_key`).
CACHE_FORMAT = 1


def page_name(window: int, offset: int) -> str:
    return f"page-{window:03d}-{offset:05d}.json"


def normalise_base_url(base_url: str) -> str:
    """``https://API.example.org:443/v5/`` → ``https://api.example.org/v5``, or an InputError
    for a URL that is not ``http(s)://host[:port][/path]``."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise InputError("the fetch URL is empty")
    text = base_url.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise InputError(f"invalid fetch URL ({e})", text) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InputError("the fetch URL must start with http:// or https://", text)
    if not parts.hostname:
        raise InputError("the fetch URL has no host", text)
    if parts.username is not None or parts.password is not None:
        raise InputError("the fetch URL must not hold a user name or password", text)
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise InputError("the fetch URL must be the API root, without ?query or #fragment", text)
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise InputError("the fetch URL must not contain spaces or control characters", text)
    host = parts.hostname.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def cache_key(base_url: str, *, page_size: int = 100, max_offset: int = MAX_WINDOW) -> str:
    """The folder name of one API's pages: ``<host[_port][_path]>-<16 hex digits>``.

    The digits are the start of the SHA-256 of a JSON object holding the normalised base URL
    (:func:`normalise_base_url`), ``page_size``, ``max_offset``, :data:`CONTENT_RATINGS`, the
    order and :data:`CACHE_FORMAT`. The label only helps a person; the digits decide.
    """
    url = normalise_base_url(base_url)
    ident = json.dumps(
        {
            "url": url,
            "page_size": page_size,
            "max_offset": max_offset,
            "content_ratings": list(CONTENT_RATINGS),
            "order": "createdAt asc",
            "format": CACHE_FORMAT,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:16]
    label = re.sub(r"[^A-Za-z0-9.-]+", "_", url.split("://", 1)[1]).strip("._")[:60] or "api"
    return f"{label}-{digest}"


def check_page(value: Any, where: str) -> dict:
    """A parsed page, or a one-line InputError saying what is malformed."""
    if not isinstance(value, dict):
        raise InputError("malformed response: not a JSON object", where)
    if value.get("result") != "ok":
        errs = value.get("errors")
        detail = ""
        if isinstance(errs, list) and errs and isinstance(errs[0], dict):
            detail = f": {errs[0].get('title', '')} {errs[0].get('detail', '')}".rstrip()
        raise InputError(f"malformed response: result is {str(value.get('result'))[:20]!r}{detail[:200]}", where)
    if not isinstance(value.get("data"), list):
        raise InputError("malformed response: 'data' is not a list", where)
    for key in ("total", "offset", "limit"):
        v = value.get(key)
        if isinstance(v, bool) or not isinstance(v, int):
            raise InputError(f"malformed response: {key!r} is not an integer", where)
    for k, ent in enumerate(value["data"]):
        if (
            not isinstance(ent, dict)
            or not isinstance(ent.get("id"), str)
            or not isinstance(ent.get("attributes"), dict)
        ):
            raise InputError(f"malformed response: data[{k}] is not a manga entity", where)
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def page_bytes(value: dict) -> bytes:
    """A page as saved: compact sorted JSON, UTF-8, lone surrogates kept as ``\\uXXXX`` escapes
    (``json.loads`` of the result gives ``value`` back exactly)."""
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"
    if _SURROGATE.search(data):  # only inside strings: escaping keeps the JSON valid
        data = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", data)
    return data.encode("utf-8")


def save_page(path: Path, value: dict) -> None:
    try:
        atomic_write(path, page_bytes(value), fsync=True)
    except OSError as e:
        raise InputError(f"cannot write the fetched page: {e.strerror or e}", str(path)) from None


def read_json_file(path: Path, max_bytes: int) -> dict:
    """A JSON object this cache saved (one-line errors: unreadable, too large, not JSON, not an object)."""
    raw = read_input_bytes(path, max_bytes=max_bytes, what="cached page")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(f"invalid JSON in a cached page ({msg})", str(path)) from None
    if not isinstance(value, dict):
        raise InputError("malformed cached page: not a JSON object", str(path))
    return value


def read_cached_page(path: Path, max_bytes: int) -> dict:
    return check_page(read_json_file(path, max_bytes), str(path))

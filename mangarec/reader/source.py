"""The bytes of a published file, from a path or an http(s) URL, within bounds: at most
:data:`MAX_BYTES` after gunzip (a small gzip bomb does not fill the memory), a URL within an
overall deadline; every failure is one :class:`~mangarec.errors.InputError` line."""

from __future__ import annotations

import http.client
import json
import zlib
from pathlib import Path
from typing import Any

from ..errors import InputError

#: Largest document a reader accepts (bytes, after gunzip).
MAX_BYTES = 64 * 1024 * 1024


def read_bytes(path_or_url: str, what: str = "embeddings", binary: bool = False) -> bytes:
    """The JSON's bytes from a path or an http(s) URL, gunzipped (``binary``: as they are); at
    most ``MAX_BYTES`` (after decompression), a URL within a 120 s overall deadline. ``what``
    names it in errors."""
    from ..loaders.httpget import DeadlineExceeded, ResponseTooLarge, get
    from ..loaders.io import sniff_bytes

    if path_or_url.startswith(("http://", "https://")):
        try:
            resp = get(path_or_url, headers={"Accept-Encoding": "identity"}, max_bytes=MAX_BYTES)
        except DeadlineExceeded:
            raise InputError(f"cannot fetch {what}: no complete answer within 120 s", path_or_url) from None
        except ResponseTooLarge:
            raise InputError(f"{what} JSON larger than {MAX_BYTES} bytes", path_or_url) from None
        except (OSError, http.client.HTTPException) as exc:
            raise InputError(f"cannot fetch {what}: {exc}", path_or_url) from None
        if resp.status != 200:
            raise InputError(f"cannot fetch {what}: HTTP {resp.status} {resp.reason}", path_or_url)
        data = resp.body
    else:
        try:
            data = Path(path_or_url).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {what}: {exc.strerror or exc}", path_or_url) from None
    if not binary and sniff_bytes(data) == "gzip":
        try:  # bounded: a small gzip bomb does not fill the memory
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = d.decompress(data, MAX_BYTES + 1)
        except zlib.error as exc:
            raise InputError(f"bad gzip data: {exc}", path_or_url) from None
    if len(data) > MAX_BYTES:
        raise InputError(f"{what} JSON larger than {MAX_BYTES} bytes", path_or_url)
    return data


def sibling(path_or_url: str, rel: str) -> str:
    """``rel`` resolved against the document's location (a URL or a path)."""
    if path_or_url.startswith(("http://", "https://")):
        from urllib.parse import urljoin

        return urljoin(path_or_url, rel)
    return str(Path(path_or_url).parent / rel)


def read_json(path_or_url: str) -> Any:
    data = read_bytes(path_or_url)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid JSON: {exc}", path_or_url) from None

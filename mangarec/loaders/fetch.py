"""``--fetch mangadex``: page politely through the MangaDex v5 ``GET /manga`` list into a cache dir.

The pages of one API go to their own folder, ``cache_dir/<key>``, where ``key`` is
:func:`~.fetch_cache.cache_key`: a readable label of the host and path plus the first 16 hex digits of the
SHA-256 of the normalised base URL (scheme and host lower-cased, default port and trailing
``/`` removed) and of every parameter that decides what the pages hold (page size, offset cap,
content ratings, order, cache format). A different ``--fetch-url`` (or page size) therefore
never reads another API's pages; folders already there are left alone.

Each response page is saved unchanged (plus a ``"mangarec"`` key noting the page's window and
any duplicates dropped) as ``page-WWW-OOOOO.json`` (window, offset), written atomically (temp
file + rename), so an interrupted fetch resumes where it stopped: pages already in the cache
are read back, never requested again. The directory is then a ``mangadex-v5`` catalog.

Politeness: at most ``rate_per_second`` requests per second (MangaDex asks for ≤ 5 per second
per IP); a 429 or 5xx response, a timeout or a connection error is retried up to
``max_retries`` times, waiting ``Retry-After`` seconds when the server sends it and
``2**attempt`` seconds (capped at 60) otherwise; a wait over :data:`NOTE_WAIT` seconds is
printed. A server that asks for a wait longer than ``max_retry_after`` (300 s by default,
``fetch.max_wait``) ends the fetch with one line naming the wait: a nightly job must end.
Other HTTP errors stop at once. Requests send a descriptive ``User-Agent``.

Robustness: every request has an overall ``deadline`` (120 s: connect, headers and body
together, see :mod:`.httpget`) besides the per-read ``timeout``; a body larger than
``max_response_bytes`` (32 MiB; a page of 100 manga is ~0.5 MB) is refused; at most
``max_pages`` pages are fetched. Strings holding lone surrogates (``"\\ud800"`` escapes, valid
JSON) are saved escaped, so the cached page is exactly what the API sent; the loader's text
cleaning removes them.

Paging: ``order[createdAt]=asc``, every ``contentRating[]`` (adult items are filtered later, by
the loader), ``limit=page_size`` and ``offset``. The API refuses ``offset + limit > 10000``;
to go further, a new *window* starts with ``createdAtSince`` = the ``createdAt`` of the last
manga fetched, offset 0; manga of the previous window with that same ``createdAt`` (returned
again because the bound is inclusive) are dropped from the new page. Fetching stops at the
``total`` the API reports, at an empty page, or once ``limit`` manga are saved (rounded up to
whole pages).
"""

from __future__ import annotations

import email.utils
import json
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import httpget
from .fetch_cache import (
    CACHE_FORMAT,
    CONTENT_RATINGS,
    MAX_WINDOW,
    cache_key,
    check_page,
    normalise_base_url,
    page_bytes,
    page_name,
    read_cached_page,
    save_page,
)
from .inputs import exists

DEFAULT_USER_AGENT = "mangarec/0.1 (static recommendation site builder; catalog fetch)"
MAX_RETRY_AFTER = 300.0
DEFAULT_DEADLINE = 120.0
MAX_RESPONSE_BYTES = 32 << 20
MAX_PAGES = 10_000
#: Waits longer than this (seconds) are printed.
NOTE_WAIT = 5.0


def user_agent(contact: str = "") -> str:
    """The User-Agent of every request: the project, its version and the maintainer's contact
    (``fetch.contact`` / ``--contact``), as MangaDex asks."""
    from .. import __version__

    contact = " ".join(contact.split())
    return f"mangarec/{__version__} (static recommendation site builder" + (f"; {contact})" if contact else ")")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        return max(0.0, when.timestamp() - time.time())
    except (OverflowError, ValueError, OSError):
        return None


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


class Client:
    """Rate-limited GET with retries (see the module docstring); ``sleep`` and ``clock`` are
    injectable for tests. The settings are checked first (one-line errors)."""

    def __init__(
        self,
        *,
        rate_per_second: float = 4.0,
        max_retries: int = 5,
        timeout: float = 30,
        user_agent: str = DEFAULT_USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        deadline: float = DEFAULT_DEADLINE,
        max_retry_after: float = MAX_RETRY_AFTER,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        notify: Callable[[str], None] = _note,
    ):
        for name, value in (("deadline", deadline), ("timeout", timeout), ("max_retry_after", max_retry_after)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e6:
                raise InputError(f"{name} must be a number of seconds > 0, got {value!r}")
        self.interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self.max_retries = max_retries
        self.timeout = timeout
        self.deadline = deadline
        self.max_retry_after = max_retry_after
        self.max_bytes = max_response_bytes
        self.user_agent = user_agent
        self.sleep = sleep
        self.clock = clock
        self.notify = notify
        self.next_at: float | None = None
        self.requests = 0

    def _wait_turn(self) -> None:
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval

    def get_json(self, url: str) -> Any:
        attempt = 0
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        while True:
            self._wait_turn()
            self.requests += 1
            wait: float | None = None
            try:
                resp = httpget.get(
                    url, headers=headers, timeout=self.timeout, deadline=self.deadline, max_bytes=self.max_bytes
                )
            except httpget.ResponseTooLarge as e:
                raise InputError(str(e), url) from None
            except httpget.DeadlineExceeded as e:
                problem = f"timed out ({e})"
            except httpget.CONNECTION_ERRORS as e:
                reason = getattr(e, "reason", None) or e
                problem = f"connection failed ({str(reason)[:200] or type(e).__name__})"
            else:
                if resp.status < 300:
                    try:
                        return json.loads(resp.body)
                    except (ValueError, RecursionError) as e:
                        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                        raise InputError(f"malformed response: invalid JSON ({msg})", url) from None
                if resp.status != 429 and resp.status < 500:
                    raise InputError(f"HTTP {resp.status} {resp.reason[:100]}", url)
                problem = f"HTTP {resp.status}"
                wait = _retry_after(resp.headers.get("Retry-After"))
            if wait is not None and wait > self.max_retry_after:
                raise InputError(
                    f"{problem}: the server asks to wait {wait:.0f} s (Retry-After), longer than the "
                    f"{self.max_retry_after:g} s cap (fetch.max_wait): stopping; run again later",
                    url,
                )
            if attempt >= self.max_retries:
                raise InputError(f"{problem}, giving up after {attempt + 1} attempts", url)
            delay = wait if wait is not None else min(60.0, 2.0**attempt)
            if delay > NOTE_WAIT:
                self.notify(f"{url}: {problem}; waiting {delay:.0f} s before retrying")
            attempt += 1
            self.sleep(delay)


def fetch_mangadex(
    base_url: str,
    cache_dir: Path,
    *,
    limit: int | None = None,
    page_size: int = 100,
    progress: Callable[[str], None] | None = None,
    max_offset: int = MAX_WINDOW,
    max_pages: int = MAX_PAGES,
    **client: Any,
) -> Path:
    """Fetch the MangaDex manga list into ``cache_dir/<cache_key>`` (resuming); return that folder.

    Parameters
    ----------
    base_url:
        The API root, e.g. ``https://api.mangadex.org`` (``http(s)://host[:port][/path]``).
    cache_dir:
        The root of the fetch cache (created if needed). The pages of this API and page size go
        to the sub-folder :func:`cache_key` names; pages already there are not fetched again.
    limit:
        Stop once this many manga are saved (whole pages); None fetches everything.
    page_size:
        ``limit`` of each request (the API allows 1 to 100).
    client:
        The :class:`Client`'s settings: ``rate_per_second`` (4), ``max_retries`` (5),
        ``timeout`` (30 s per read), ``user_agent``, ``sleep`` and ``clock`` (injected for
        tests), ``deadline``, ``max_retry_after``, ``max_response_bytes``, ``notify``, below.
    progress:
        Called with one line per page fetched.
    max_offset:
        The API's cap on ``offset + limit`` (10000); lower only in tests.
    deadline:
        Seconds one request may take in all (connect, headers, body); a request over it counts
        as a timeout (retried).
    max_retry_after:
        Longest wait honoured from a ``Retry-After`` header; a longer one ends the fetch (one line).
    max_response_bytes:
        Largest response body accepted (an error beyond it, not retried).
    max_pages:
        Most pages one fetch saves (a server reporting an endless ``total`` cannot keep it
        going for ever).
    notify:
        Called with notes for the user (a wait over :data:`NOTE_WAIT` seconds); prints
        ``note: ...`` to stderr by default.

    Raises
    ------
    InputError
        A bad base URL or setting (before anything is written), a malformed page, an HTTP error
        that is not retried, a response too large, retries exhausted, a cache folder that
        cannot be written: one line naming the URL (or the file).
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 100:
        raise InputError(f"page_size must be an integer between 1 and 100, got {page_size!r}")
    if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
        raise InputError(f"max_pages must be a positive integer, got {max_pages!r}")
    c = Client(**client)
    root = normalise_base_url(base_url)
    cache = Path(cache_dir) / cache_key(root, page_size=page_size, max_offset=max_offset)
    make_folder(cache)
    fetch_pages(
        c,
        root,
        cache,
        limit=limit,
        page_size=page_size,
        max_offset=max_offset,
        max_pages=max_pages,
        progress=progress,
    )
    return cache


def make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the fetch cache folder: {e.strerror or e}", str(folder)) from None


def fetch_pages(
    client: Client,
    root: str,
    cache: Path,
    *,
    order: str = "createdAt",
    since: str | None = None,
    limit: int | None = None,
    page_size: int = 100,
    max_offset: int = MAX_WINDOW,
    max_pages: int = MAX_PAGES,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Page through ``GET /manga`` ordered by ``order`` (``createdAt`` or ``updatedAt``, ascending)
    from ``since`` (``<order>Since``, inclusive) into ``cache`` (``page-WWW-OOOOO.json``),
    resuming from the pages already there; the 10,000 window logic of the module docstring."""
    pages_seen = 0
    total: int | None = None
    saved = 0
    window = 0
    cursor: str | None = since
    carry: set[str] = set()  # ids of the previous window created at `cursor`
    while True:
        offset = 0
        last_created: str | None = None
        window_ids_at: dict[str, set[str]] = {}
        while True:
            if limit is not None and saved >= limit:
                return
            if offset + page_size > max_offset:
                break  # next window
            path = cache / page_name(window, offset)
            pages_seen += 1
            if pages_seen > max_pages:
                raise InputError(f"stopped after {max_pages} pages: the API reports {total} manga; give a limit", root)
            if exists(path):
                page = read_cached_page(path, client.max_bytes)
                note = page.get("mangarec")
                dropped = note.get("dropped", 0) if isinstance(note, dict) else 0
                if isinstance(dropped, bool) or not isinstance(dropped, int) or dropped < 0:
                    raise InputError("malformed cached page: 'mangarec.dropped' is not a count", str(path))
            else:
                params = [("limit", str(page_size)), ("offset", str(offset)), (f"order[{order}]", "asc")]
                params += [("contentRating[]", r) for r in CONTENT_RATINGS]
                if cursor is not None:
                    params.append((f"{order}Since", cursor))
                url = f"{root}/manga?{urllib.parse.urlencode(params)}"
                page = check_page(client.get_json(url), url)
                data = page["data"]
                keep = [e for e in data if e["id"] not in carry]
                dropped = len(data) - len(keep)
                page["data"] = keep
                page["mangarec"] = {"window": window, "cursor": cursor, "dropped": dropped}
                save_page(path, page)
                if progress:
                    progress(f"fetched {path.name}: {len(keep)} manga (total {page['total']})")
            data = page["data"]
            total = page["total"]
            saved += len(data)
            for ent in data:
                created = ent["attributes"].get(order)
                if isinstance(created, str):
                    last_created = created
                    window_ids_at.setdefault(created, set()).add(ent["id"])
            offset += page_size
            if len(data) + dropped == 0 or offset >= page["total"]:
                return
        # the window is full: continue from the last createdAt seen
        if last_created is None:  # nothing new in a whole window: the cursor cannot move
            raise InputError(f"cannot page further: more than {max_offset} manga with {order} {cursor}", root)
        new_cursor = last_created[:19]  # YYYY-MM-DDTHH:MM:SS, the form createdAtSince accepts
        at_cursor = {i for c, ids in window_ids_at.items() if c[:19] == new_cursor for i in ids}
        if new_cursor == cursor:
            if not at_cursor - carry:
                raise InputError(f"cannot page further: more than {max_offset} manga with {order} {cursor}", root)
            carry = carry | at_cursor  # still inside one timestamp: keep skipping all of them
        else:
            carry = at_cursor
        cursor = new_cursor
        window += 1


__all__ = [
    "fetch_mangadex",
    "fetch_pages",
    "user_agent",
    "Client",
    "make_folder",
    "NOTE_WAIT",
    "cache_key",
    "normalise_base_url",
    "page_bytes",
    "page_name",
    "CONTENT_RATINGS",
    "CACHE_FORMAT",
    "MAX_WINDOW",
    "DEFAULT_USER_AGENT",
    "DEFAULT_DEADLINE",
    "MAX_RETRY_AFTER",
    "MAX_RESPONSE_BYTES",
    "MAX_PAGES",
]

"""``--fetch mangadex``: page politely through the MangaDex v5 ``GET /manga`` list into a cache dir.

Each response page is saved unchanged (plus a ``"mangarec"`` key noting the page's window and
any duplicates dropped) as ``page-WWW-OOOOO.json`` (window, offset), written atomically (temp
file + rename), so an interrupted fetch resumes where it stopped: pages already in the cache
are read back, never requested again. The directory is then a ``mangadex-v5`` catalog.

Politeness: at most ``rate_per_second`` requests per second (MangaDex asks for ≤ 5 per second
per IP); a 429 or 5xx response, a timeout or a connection error is retried up to
``max_retries`` times, waiting ``Retry-After`` seconds when the server sends it and
``2**attempt`` seconds (capped at 60) otherwise; other HTTP errors stop at once. Requests send
a descriptive ``User-Agent``.

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
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

from ..fsutil import atomic_write
from ..errors import InputError

DEFAULT_USER_AGENT = "mangarec/0.1 (static recommendation site builder; catalog fetch)"
MAX_WINDOW = 10_000  # the API's cap on offset + limit
CONTENT_RATINGS = ("safe", "suggestive", "erotica", "pornographic")


def page_name(window: int, offset: int) -> str:
    return f"page-{window:03d}-{offset:05d}.json"


def _check_page(value: Any, where: str) -> dict:
    """A parsed page, or a one-line InputError saying what is malformed."""
    if not isinstance(value, dict):
        raise InputError("malformed response: not a JSON object", where)
    if value.get("result") != "ok":
        errs = value.get("errors")
        detail = ""
        if isinstance(errs, list) and errs and isinstance(errs[0], dict):
            detail = f": {errs[0].get('title', '')} {errs[0].get('detail', '')}".rstrip()
        raise InputError(f"malformed response: result is {str(value.get('result'))[:20]!r}{detail}", where)
    if not isinstance(value.get("data"), list):
        raise InputError("malformed response: 'data' is not a list", where)
    for key in ("total", "offset", "limit"):
        v = value.get(key)
        if isinstance(v, bool) or not isinstance(v, int):
            raise InputError(f"malformed response: {key!r} is not an integer", where)
    for k, ent in enumerate(value["data"]):
        if not isinstance(ent, dict) or not isinstance(ent.get("id"), str) \
                or not isinstance(ent.get("attributes"), dict):
            raise InputError(f"malformed response: data[{k}] is not a manga entity", where)
    return value


def _save_page(path: Path, value: dict) -> None:
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"
    atomic_write(path, data.encode("utf-8"), fsync=True)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Client:
    """Rate-limited GET with retries; ``sleep`` and ``clock`` are injectable for tests."""

    def __init__(self, *, rate: float, max_retries: int, timeout: float, user_agent: str,
                 sleep: Callable[[float], None], clock: Callable[[], float]):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.max_retries = max_retries
        self.timeout = timeout
        self.user_agent = user_agent
        self.sleep = sleep
        self.clock = clock
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
        while True:
            self._wait_turn()
            self.requests += 1
            req = urllib.request.Request(url, headers={"User-Agent": self.user_agent, "Accept": "application/json"})
            wait: float | None
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    body = resp.read()
                try:
                    return json.loads(body)
                except (ValueError, UnicodeDecodeError) as e:
                    raise InputError(f"malformed response: invalid JSON ({str(e).splitlines()[0]})", url) from None
            except urllib.error.HTTPError as e:
                if e.code != 429 and e.code < 500:
                    raise InputError(f"HTTP {e.code} {e.reason}", url) from None
                problem = f"HTTP {e.code}"
                wait = _retry_after(e.headers.get("Retry-After") if e.headers else None)
            except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError) as e:
                reason = getattr(e, "reason", e)
                problem = f"connection failed ({reason})"
                wait = None
            if attempt >= self.max_retries:
                raise InputError(f"{problem}, giving up after {attempt + 1} attempts", url)
            delay = wait if wait is not None else min(60.0, 2.0 ** attempt)
            attempt += 1
            self.sleep(delay)


def fetch_mangadex(
    base_url: str,
    cache_dir: Path,
    *,
    limit: int | None = None,
    page_size: int = 100,
    rate_per_second: float = 4.0,
    max_retries: int = 5,
    timeout: float = 30,
    user_agent: str = DEFAULT_USER_AGENT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    progress: Callable[[str], None] | None = None,
    max_offset: int = MAX_WINDOW,
) -> Path:
    """Fetch the MangaDex manga list into ``cache_dir`` (resuming) and return ``cache_dir``.

    Parameters
    ----------
    base_url:
        The API root, e.g. ``https://api.mangadex.org``.
    cache_dir:
        Where pages are saved (created if needed); pages already there are not fetched again.
    limit:
        Stop once this many manga are saved (whole pages); None fetches everything.
    page_size:
        ``limit`` of each request (the API allows 1 to 100).
    rate_per_second, max_retries, timeout, user_agent:
        Politeness and robustness settings (see the module docstring).
    sleep, clock:
        Injected for tests (``time.sleep`` and ``time.monotonic`` by default).
    progress:
        Called with one line per page fetched.
    max_offset:
        The API's cap on ``offset + limit`` (10000); lower only in tests.

    Raises
    ------
    InputError
        A malformed page, an HTTP error that is not retried, or retries exhausted: one line
        naming the URL (or the cached page).
    """
    if not 1 <= page_size <= 100:
        raise InputError(f"page_size must be between 1 and 100, got {page_size}")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    client = _Client(rate=rate_per_second, max_retries=max_retries, timeout=timeout,
                     user_agent=user_agent, sleep=sleep, clock=clock)
    root = base_url.rstrip("/")
    saved = 0
    window = 0
    cursor: str | None = None
    carry: set[str] = set()  # ids of the previous window created at `cursor`
    while True:
        offset = 0
        last_created: str | None = None
        window_ids_at: dict[str, set[str]] = {}
        while True:
            if limit is not None and saved >= limit:
                return cache
            if offset + page_size > max_offset:
                break  # next window
            path = cache / page_name(window, offset)
            if path.exists():
                try:
                    page = _check_page(json.loads(path.read_bytes()), str(path))
                except ValueError as e:
                    raise InputError(f"invalid JSON in a cached page ({str(e).splitlines()[0]})", str(path)) from None
                dropped = int(page.get("mangarec", {}).get("dropped", 0))
            else:
                params = [("limit", str(page_size)), ("offset", str(offset)), ("order[createdAt]", "asc")]
                params += [("contentRating[]", r) for r in CONTENT_RATINGS]
                if cursor is not None:
                    params.append(("createdAtSince", cursor))
                url = f"{root}/manga?{urllib.parse.urlencode(params)}"
                page = _check_page(client.get_json(url), url)
                data = page["data"]
                keep = [e for e in data if e["id"] not in carry]
                dropped = len(data) - len(keep)
                page["data"] = keep
                page["mangarec"] = {"window": window, "cursor": cursor, "dropped": dropped}
                _save_page(path, page)
                if progress:
                    progress(f"fetched {path.name}: {len(keep)} manga (total {page['total']})")
            data = page["data"]
            saved += len(data)
            for ent in data:
                created = ent["attributes"].get("createdAt")
                if isinstance(created, str):
                    last_created = created
                    window_ids_at.setdefault(created, set()).add(ent["id"])
            offset += page_size
            if len(data) + dropped == 0 or offset >= page["total"]:
                return cache
        # the window is full: continue from the last createdAt seen
        if last_created is None:  # nothing new in a whole window: the cursor cannot move
            raise InputError(f"cannot page further: more than {max_offset} manga created at {cursor}", root)
        new_cursor = last_created[:19]  # YYYY-MM-DDTHH:MM:SS, the form createdAtSince accepts
        at_cursor = {i for c, ids in window_ids_at.items() if c[:19] == new_cursor for i in ids}
        if new_cursor == cursor:
            if not at_cursor - carry:
                raise InputError(f"cannot page further: more than {max_offset} manga created at {cursor}", root)
            carry = carry | at_cursor  # still inside one timestamp: keep skipping all of them
        else:
            carry = at_cursor
        cursor = new_cursor
        window += 1

"""Statistics and latest uploads from the MangaDex v5 API, staged page by page (resumable).

- :func:`fetch_statistics`: ``GET /statistics/manga?manga[]=ID&manga[]=ID...`` in batches of
  ``batch`` ids. The answer is ``{"result": "ok", "statistics": {id: {"rating": {"average",
  "bayesian", "distribution"}, "follows", "comments"}}}``; each batch is saved as
  ``stats-NNNNN.json`` before the next is asked, so a killed run resumes where it stopped.
- :func:`fetch_latest_uploads`: ``GET /chapter?order[readableAt]=desc`` (every content
  rating), newest first, saved as ``chapters-NNNNN.json``; each chapter names its manga in its
  ``relationships``. Paging stops at the first chapter older than ``since`` (a refresh needs
  only the uploads since the last one), at the API's total, or after ``max_pages`` pages.

Both return plain mappings keyed by manga id; the catalog store merges them into its entities
(:mod:`.store`), and the loader turns them into ``popularity``, ``score`` and ``updated``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from .fetch_cache import CONTENT_RATINGS, MAX_WINDOW, read_json_file, save_page

#: Ids per statistics request (a URL of 100 UUIDs is ~5 KB).
STATS_BATCH = 100
CHAPTER_PAGE = 100


def _stat(value: Any, where: str) -> dict:
    """One manga's statistics → ``{"follows": int, "rating": float | None}``."""
    if not isinstance(value, dict):
        raise InputError("malformed statistics: an entry is not an object", where)
    follows = value.get("follows")
    if isinstance(follows, bool) or not isinstance(follows, int) or follows < 0:
        follows = 0
    rating = value.get("rating")
    bayes = rating.get("bayesian") if isinstance(rating, dict) else None
    if isinstance(bayes, bool) or not isinstance(bayes, (int, float)) or not 0 < bayes <= 10:
        bayes = None
    return {"follows": follows, "rating": None if bayes is None else round(float(bayes), 4)}


def check_statistics(value: Any, where: str) -> dict:
    if not isinstance(value, dict) or value.get("result") != "ok":
        raise InputError("malformed statistics response: result is not 'ok'", where)
    stats = value.get("statistics")
    if stats == []:  # PHP-style empty object
        return {"result": "ok", "statistics": {}}
    if not isinstance(stats, dict):
        raise InputError("malformed statistics response: 'statistics' is not an object", where)
    return value


def fetch_statistics(client: Any, root: str, ids: Sequence[str], folder: Path, *, batch: int = STATS_BATCH) -> dict:
    """Follows and Bayesian rating of ``ids`` (``{id: {"follows", "rating"}}``), batch by batch.

    ``ids`` must be given in the same order when a run is resumed (the store sorts them).
    """
    out: dict[str, dict] = {}
    for n, start in enumerate(range(0, len(ids), batch)):
        chunk = list(ids[start : start + batch])
        path = folder / f"stats-{n:05d}.json"
        value = read_json_file(path, client.max_bytes) if path.exists() else None
        if value is None or value.get("ids") != chunk:
            url = f"{root}/statistics/manga?{urllib.parse.urlencode([('manga[]', i) for i in chunk])}"
            value = check_statistics(client.get_json(url), url)
            value["ids"] = chunk
            save_page(path, value)
        check_statistics(value, str(path))
        for i, v in value["statistics"].items():
            if i in chunk:
                out[i] = _stat(v, str(path))
    return out


def _chapter_manga(ch: Any) -> str | None:
    rels = ch.get("relationships") if isinstance(ch, dict) else None
    for r in rels if isinstance(rels, list) else ():
        if isinstance(r, dict) and r.get("type") == "manga" and isinstance(r.get("id"), str):
            return r["id"]
    return None


def _readable_at(ch: Any) -> str | None:
    a = ch.get("attributes") if isinstance(ch, dict) else None
    t = a.get("readableAt") if isinstance(a, dict) else None
    return t if isinstance(t, str) and len(t) >= 19 else None


def check_chapters(value: Any, where: str) -> dict:
    if not isinstance(value, dict) or value.get("result") != "ok" or not isinstance(value.get("data"), list):
        raise InputError("malformed chapter list: expected a collection with 'data'", where)
    total = value.get("total")
    if isinstance(total, bool) or not isinstance(total, int):
        raise InputError("malformed chapter list: 'total' is not an integer", where)
    return value


def fetch_latest_uploads(
    client: Any,
    root: str,
    folder: Path,
    *,
    since: str | None,
    max_pages: int,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """``{manga id: latest readableAt}`` of the chapters uploaded since ``since`` (ISO, UTC),
    newest first, at most ``max_pages`` pages of :data:`CHAPTER_PAGE` chapters."""
    latest: dict[str, str] = {}
    for n in range(max_pages):
        offset = n * CHAPTER_PAGE
        if offset + CHAPTER_PAGE > MAX_WINDOW:
            break
        path = folder / f"chapters-{n:05d}.json"
        if path.exists():
            page = check_chapters(read_json_file(path, client.max_bytes), str(path))
        else:
            params = [("limit", str(CHAPTER_PAGE)), ("offset", str(offset)), ("order[readableAt]", "desc")]
            params += [("contentRating[]", r) for r in CONTENT_RATINGS]
            url = f"{root}/chapter?{urllib.parse.urlencode(params)}"
            page = check_chapters(client.get_json(url), url)
            save_page(path, page)
            if progress:
                progress(f"fetched {path.name}: {len(page['data'])} chapters")
        older = False
        for ch in page["data"]:
            manga, when = _chapter_manga(ch), _readable_at(ch)
            if manga is None or when is None:
                continue
            if since is not None and when[:19] < since:
                older = True
                break
            if when > latest.get(manga, ""):
                latest[manga] = when
        if older or not page["data"] or offset + CHAPTER_PAGE >= page["total"]:
            break
    return latest


__all__ = ["fetch_statistics", "fetch_latest_uploads", "STATS_BATCH", "CHAPTER_PAGE"]

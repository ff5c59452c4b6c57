"""The MangaDex catalog store: a persistent copy of the catalog that each fetch refreshes.

Layout of one store (``<cache>/fetch/mangadex/store-<cache_key>/``)::

    state.json              {"format", "api", "generation", "last_success", "last_full", "titles"}
    gen-000007/manga-3f.json  the catalog: v5 collection pages, one per id shard (a mangadex-v5 folder)
    run/                    the refresh in progress: run.json and the pages fetched so far

**Refresh.** With no store yet, or on ``full`` (``--full``, or when the last full listing is
older than ``full_every_days``), every id is listed (``createdAt`` order, 10,000-windows, see
:mod:`.fetch`) and titles the API no longer returns are dropped. Otherwise only what changed is
asked for: ``updatedAtSince`` and ``createdAtSince`` = the last success minus ``overlap``
seconds. Then the uploads since the last success (``GET /chapter``, newest first), then the
statistics (follows, Bayesian rating) of every listed title and every title with a new upload.
Entities carry them under ``"mangarec"``: ``{"follows", "rating", "latestUpload"}``.

**Safety.** Every page is saved atomically in ``run/`` before the next request, so a killed
fetch resumes with the same plan (``run.json``). The new generation is written beside the
current one (unchanged shards hard-linked), then ``state.json`` is replaced atomically: that
rename is the commit. Until then the previous generation, which the loader reads, is untouched;
any failure is one line and leaves the store as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..fsutil import atomic_write
from . import fetch as F
from .fetch_cache import MAX_WINDOW, cache_key, normalise_base_url, page_bytes, read_cached_page, read_json_file
from .mangadex_stats import fetch_latest_uploads, fetch_statistics

STORE_FORMAT = 1
_GEN = re.compile(r"gen-[0-9]{6}")
_ISO = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class Refresh:
    """What one refresh did: ``mode`` (``first``, ``full``, ``delta``), the requests sent, the
    titles now in the store, how many were added, changed (listed again) and removed, and the
    folder to load (a ``mangadex-v5`` directory)."""

    mode: str
    requests: int
    titles: int
    added: int
    changed: int
    removed: int
    folder: Path


def store_dir(cache_dir: Path, base_url: str) -> Path:
    return Path(cache_dir) / f"store-{cache_key(normalise_base_url(base_url))}"


def _utc(text: Any, where: Path, key: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.strptime(str(text), _ISO).replace(tzinfo=dt.UTC)
    except ValueError:
        raise InputError(f"malformed store state: {key!r} is not a time {_ISO}", str(where)) from None


def _write_json(path: Path, value: dict) -> None:
    try:
        atomic_write(path, page_bytes(value), fsync=True)
    except OSError as e:
        raise InputError(f"cannot write the catalog store: {e.strerror or e}", str(path)) from None


def read_state(store: Path) -> dict | None:
    path = store / "state.json"
    if not path.exists():
        return None
    state = read_json_file(path, 1 << 20)
    gen = state.get("generation")
    if state.get("format") != STORE_FORMAT or not isinstance(gen, str) or not _GEN.fullmatch(gen):
        raise InputError("malformed store state (delete the store folder to fetch everything again)", str(path))
    for k in ("last_success", "last_full"):
        _utc(state.get(k), path, k)
    return state


def current_folder(store: Path) -> Path:
    """The folder of the store's current catalog, or a one-line error when there is none."""
    state = read_state(store)
    if state is None:
        raise InputError("no catalog store here yet: run 'mangarec fetch mangadex' first", str(store))
    return store / state["generation"]


def shard_of(manga_id: str) -> str:
    return hashlib.sha256(manga_id.encode("utf-8")).hexdigest()[:2]


def read_entities(folder: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for p in sorted(folder.glob("manga-*.json")):
        for ent in read_cached_page(p, 1 << 30)["data"]:
            out[ent["id"]] = ent
    return out


def _listed(folder: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for p in sorted(folder.glob("page-*.json")) if folder.exists() else ():
        for ent in read_cached_page(p, 1 << 30)["data"]:
            out[ent["id"]] = ent
    return out


def _plan(
    store: Path, state: dict | None, full: bool, full_every_days: float, overlap: float, now: dt.datetime
) -> dict:
    run = store / "run" / "run.json"
    if run.exists():
        plan = read_json_file(run, 1 << 20)
        committed = state is not None and plan.get("started") == state.get("last_success")
        if plan.get("mode") in ("first", "full", "delta") and not committed and (not full or plan["mode"] != "delta"):
            _utc(plan.get("started"), run, "started")
            return plan
    shutil.rmtree(store / "run", ignore_errors=True)
    since = None
    if state is None:
        mode = "first"
    else:
        last_full = _utc(state.get("last_full"), store, "last_full")
        stale = last_full is None or now - last_full >= dt.timedelta(days=full_every_days)
        mode = "full" if full or stale else "delta"
        if mode == "delta":
            last = _utc(state["last_success"], store, "last_success") or now
            since = (last - dt.timedelta(seconds=overlap)).strftime(_ISO)
    plan = {"mode": mode, "since": since, "started": now.strftime(_ISO)}
    F.make_folder(store / "run")
    _write_json(run, plan)
    return plan


def _write_generation(store: Path, old: Path | None, name: str, entities: dict[str, dict], touched: set[str]) -> None:
    new = store / name
    shutil.rmtree(new, ignore_errors=True)
    F.make_folder(new)
    shards: dict[str, list[dict]] = {}
    for i in sorted(entities):
        shards.setdefault(shard_of(i), []).append(entities[i])
    for s, ents in shards.items():
        path = new / f"manga-{s}.json"
        if old is not None and s not in touched and (old / path.name).exists():
            try:
                os.link(old / path.name, path)
                continue
            except OSError:
                pass
        page = {"result": "ok", "response": "collection", "data": ents, "limit": len(ents), "offset": 0}
        _write_json(path, {**page, "total": len(ents)})


def refresh(
    base_url: str,
    cache_dir: Path,
    *,
    full: bool = False,
    full_every_days: float = 7,
    overlap: float = 3600,
    feed_pages: int = 10,
    limit: int | None = None,
    page_size: int = 100,
    max_offset: int = MAX_WINDOW,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    progress: Callable[[str], None] | None = None,
    **client: Any,
) -> Refresh:
    """Refresh the store of ``base_url`` under ``cache_dir`` (see the module docstring).

    ``client`` holds :class:`.fetch.Client`'s settings (rate, deadline, user agent ...);
    ``feed_pages`` bounds the chapter pages read (100 uploads each); ``limit`` the titles a first
    or full listing keeps (for trials).
    """
    c = F.Client(**client)
    root = normalise_base_url(base_url)
    store = store_dir(cache_dir, root)
    F.make_folder(store)
    with _locked(store):
        state = read_state(store)
        for p in store.iterdir():  # a generation a killed commit left behind
            if _GEN.fullmatch(p.name) and (state is None or p.name != state["generation"]):
                shutil.rmtree(p, ignore_errors=True)
        plan = _plan(store, state, full, full_every_days, overlap, now().astimezone(dt.UTC))
        run, since = store / "run", plan["since"]
        kw: dict[str, Any] = {"page_size": page_size, "max_offset": max_offset, "progress": progress}
        F.make_folder(run / "created")
        first_limit = limit if plan["mode"] != "delta" else None
        F.fetch_pages(c, root, run / "created", order="createdAt", since=since, limit=first_limit, **kw)
        if plan["mode"] == "delta":
            F.make_folder(run / "updated")
            F.fetch_pages(c, root, run / "updated", order="updatedAt", since=since, **kw)
        listed = {**_listed(run / "created"), **_listed(run / "updated")}
        F.make_folder(run / "chapters")
        uploads = fetch_latest_uploads(c, root, run / "chapters", since=since, max_pages=feed_pages, progress=progress)
        old_folder = store / state["generation"] if state else None
        old = read_entities(old_folder) if old_folder else {}
        entities = dict(listed) if plan["mode"] != "delta" else {**old, **listed}
        wanted = sorted(i for i in entities if i in listed or i in uploads)
        F.make_folder(run / "stats")
        stats = fetch_statistics(c, root, wanted, run / "stats")
        touched = set()
        for i, ent in entities.items():
            note = dict(old.get(i, {}).get("mangarec") or {})
            note.update(stats.get(i, {}))
            if i in uploads and uploads[i] > note.get("latestUpload", ""):
                note["latestUpload"] = uploads[i]
            ent["mangarec"] = note
            if i in listed or i in uploads or i not in old:
                touched.add(shard_of(i))
        removed = set(old) - set(entities)
        touched |= {shard_of(i) for i in removed}
        number = int(state["generation"][4:]) + 1 if state else 1
        name = f"gen-{number:06d}"
        _write_generation(store, old_folder, name, entities, touched)
        started = plan["started"]
        last_full = started if plan["mode"] != "delta" else state and state.get("last_full")
        new_state = {"format": STORE_FORMAT, "api": root, "generation": name, "titles": len(entities)}
        _write_json(store / "state.json", {**new_state, "last_success": started, "last_full": last_full})
        shutil.rmtree(run, ignore_errors=True)
        if old_folder is not None:
            shutil.rmtree(old_folder, ignore_errors=True)
        return Refresh(
            mode=plan["mode"],
            requests=c.requests,
            titles=len(entities),
            added=len(set(entities) - set(old)),
            changed=len(set(listed) & set(old)),
            removed=len(removed),
            folder=store / name,
        )


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    """One refresh of a store at a time (a second one is refused with one line)."""
    try:
        fd = os.open(store / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise InputError(f"cannot open the store's lock: {e.strerror or e}", str(store / "lock")) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError("another fetch is refreshing this catalog store", str(store)) from None
        yield
    finally:
        os.close(fd)


def describe(r: Refresh) -> str:
    """One line for the log: ``fetch (delta): 3 request(s); 8 titles, +1 new, 2 changed, -1 removed``."""
    return (
        f"fetch ({r.mode}): {r.requests} request(s); {r.titles} titles, +{r.added} new, "
        f"{r.changed} changed, -{r.removed} removed"
    )


__all__ = ["Refresh", "refresh", "describe", "store_dir", "current_folder", "read_state", "STORE_FORMAT"]

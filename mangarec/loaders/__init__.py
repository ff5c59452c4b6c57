"""Load catalogs (and ratings) from the supported formats into one :class:`Catalog`.

``load_catalog(["../shared/data/mangadex-v3/manga.jsonl.xz"])`` is the whole API for the
pipeline. Formats: see ``docs/catalog-formats.md`` and :mod:`.detect`.
"""
from __future__ import annotations

from collections import Counter
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..catalog import Catalog, Item
from ..errors import InputError
from ..tags import DEFAULT_ADULT_TAGS, canonical_tag
from . import generic, mal, mangadex_v3, mangadex_v5, ratings as ratings_mod
from .detect import FORMATS, Spec, detect_format, find_file, parse_spec
from .io import base_suffix

__all__ = ["load_catalog", "FORMATS", "iter_spec_items"]

ItemIter = Iterator[tuple[Item, int]]


def _item_reader(fmt: str, path: Path) -> Callable[[Path], ItemIter]:
    if fmt == "mangadex-v3":
        return mangadex_v3.iter_items
    if fmt == "mangadex-v5":
        return mangadex_v5.iter_items
    if fmt in ("mal", "mal-history"):
        return mal.iter_items
    if fmt == "generic":
        return generic.iter_items_csv if base_suffix(path) == ".csv" else generic.iter_items_jsonl
    raise InputError(f"format {fmt!r} holds no items", str(path))  # pragma: no cover


def _resolve(spec: Spec) -> list[tuple[str, Path, bool]]:
    """``[(format, file, implicit)]`` for one spec (a MAL directory gives anime + ratings)."""
    path = spec.path
    if not path.exists():
        raise InputError("file not found", str(path))
    fmt = spec.format or detect_format(path)
    if fmt in ("mal", "mal-history") and path.is_dir():
        anime = find_file(path, "anime.csv")
        if anime is None:
            raise InputError("no anime.csv(.gz) in this directory", str(path))
        out = [("mal", anime, False)]
        ratings = None if fmt == "mal-history" else find_file(path, "ratings.csv")
        if ratings is not None:
            out.append(("ratings", ratings, False))
        else:
            history = find_file(path, "history.csv")
            if history is not None:
                out.append(("ratings", history, True))
            elif fmt == "mal-history":
                raise InputError("no history.csv(.gz) in this directory", str(path))
        return out
    if fmt in ("mal-history", "history"):
        return [("ratings", path, True)]
    if path.is_dir() and fmt != "mangadex-v5":
        raise InputError(f"is a directory; format {fmt} needs a file", str(path))
    return [(fmt, path, False)]


def iter_spec_items(spec: str) -> ItemIter:
    """Every item of one item spec with its line number, unfiltered (for tools and tests)."""
    for fmt, path, _ in _resolve(parse_spec(spec)):
        if fmt != "ratings":
            yield from _item_reader(fmt, path)(path)


def load_catalog(
    specs: Sequence[str],
    *,
    include_adult: bool = False,
    adult_tags: Sequence[str] = DEFAULT_ADULT_TAGS,
    min_tags: int = 1,
    limit: int | None = None,
) -> Catalog:
    """Load, validate, filter and merge catalogs and ratings.

    Parameters
    ----------
    specs:
        ``PATH`` (format detected) or ``FORMAT:PATH``; FORMAT in mangadex-v3, mangadex-v5,
        mal, mal-history, ratings, history, generic. Item specs are merged in order; at most
        one ratings file (a MAL directory brings its own).
    include_adult:
        Keep adult items (R18 flag, adult content rating, or a tag in ``adult_tags``).
    adult_tags:
        Tag names (aliases allowed) that make an item adult.
    min_tags:
        Items with fewer tags are skipped and counted as ``skipped["no tags"]``.
    limit:
        Keep only the first ``limit`` items that pass the filters (reading stops there).

    Returns
    -------
    Catalog
        Items in input order, ``related`` links and ``matches`` restricted to loaded ids, ``ratings`` aligned to
        the items (or None), ``sources`` = the files read, ``skipped`` = counts by reason.

    Raises
    ------
    InputError
        One line naming the file (and line) for any bad input: missing file, unknown format,
        broken compression, truncated file, invalid JSON, missing / empty title, wrong field
        types, duplicate ids, missing CSV columns, bad rating values.
    """
    if not specs:
        raise InputError("no data given")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"limit must be a positive integer (or None for no limit), got {limit!r}")
    adult = frozenset(canonical_tag(t) for t in adult_tags)
    parts: list[tuple[str, Path, bool]] = []
    for s in specs:
        parts.extend(_resolve(parse_spec(s)))
    rating_parts = [p for p in parts if p[0] == "ratings"]
    item_parts = [p for p in parts if p[0] != "ratings"]
    if len(rating_parts) > 1:
        raise InputError("more than one ratings file: " + ", ".join(str(p[1]) for p in rating_parts))
    if rating_parts and not item_parts:
        raise InputError("a ratings file needs a catalog to attach to (give the items too)", str(rating_parts[0][1]))

    skipped: Counter = Counter()
    seen: dict[str, tuple[str, int]] = {}
    filtered: set[str] = set()
    items: list[Item] = []
    sources: list[str] = []
    full = False
    for fmt, path, _ in item_parts:
        if full:
            break
        sources.append(str(path))
        with closing(_item_reader(fmt, path)(path)) as reader:
            for item, line in reader:
                where = seen.get(item.id)
                if where is not None:
                    raise InputError(f"duplicate item id {item.id!r} (first at {where[0]}:{where[1]})", str(path), line)
                seen[item.id] = (str(path), line)
                is_adult = item.adult or any(t in adult for _, names in item.tags for t in names)
                if is_adult and not item.adult:
                    item = replace(item, adult=True)
                if is_adult and not include_adult:
                    skipped["adult"] += 1
                    filtered.add(item.id)
                    continue
                if len(item.tag_list) < min_tags:
                    skipped["no tags"] += 1
                    filtered.add(item.id)
                    continue
                items.append(item)
                if limit is not None and len(items) >= limit:
                    full = True
                    break
    ids = {i.id for i in items}
    items = [i if all(r.id in ids for r in i.related)
             else replace(i, related=tuple(r for r in i.related if r.id in ids)) for i in items]
    items = [i if all(m in ids for m in i.matches)
             else replace(i, matches=tuple(m for m in i.matches if m in ids)) for i in items]

    ratings = None
    for _, path, implicit in rating_parts:
        sources.append(str(path))
        raw = ratings_mod.read_ratings(path, implicit=implicit or None)
        ratings, rskip = ratings_mod.attach(raw, {i.id: k for k, i in enumerate(items)}, filtered, limited=full)
        skipped.update(rskip)
    return Catalog(items=tuple(items), ratings=ratings, sources=tuple(sources),
                   skipped=dict(sorted(skipped.items())))

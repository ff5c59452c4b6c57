"""Load catalogs (and ratings) from the supported formats into one :class:`Catalog`.

``load_catalog(["../shared/data/mangadex-v3/manga.jsonl.xz"])`` is the whole API for the
pipeline. Formats: see ``docs/catalog-formats.md`` and :mod:`.detect`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path

from ..catalog import MAX_ADULT_NAMES, Catalog, Item
from ..errors import InputError
from ..tags import DEFAULT_ADULT_TAGS, canonical_tag
from . import ratings as ratings_mod
from .clean import clean_item
from .detect import Spec, detect_format, parse_spec
from .formats import FORMATS, formats_help
from .inputs import check_directory, find_file, is_dir, stat_input

__all__ = ["FORMATS", "formats_help", "iter_spec_items", "load_catalog"]

ItemIter = Generator[tuple[Item, int], None, None]


def _item_reader(fmt: str, path: Path) -> Callable[[Path], ItemIter]:
    reader = FORMATS[fmt].reader
    if reader is None:  # pragma: no cover - ratings formats are resolved apart
        raise InputError(f"format {fmt!r} holds no items", str(path))
    return reader


def _resolve(spec: Spec) -> list[tuple[str, Path, bool]]:
    """``[(format, file, implicit)]`` for one spec (a MAL directory gives anime + ratings)."""
    path = spec.path
    stat_input(path)  # not found, or a parent directory that cannot be searched
    if is_dir(path):
        check_directory(path)  # a mode-000 directory: one line, not a traceback later
    fmt = spec.format or detect_format(path)
    if fmt in ("mal", "mal-history") and is_dir(path):
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
    if FORMATS[fmt].ratings is not None:
        return [("ratings", path, FORMATS[fmt].ratings == "implicit")]
    if is_dir(path) and fmt != "mangadex-v5":
        raise InputError(f"is a directory; format {fmt} needs a file", str(path))
    return [(fmt, path, False)]


def iter_spec_items(spec: str) -> ItemIter:
    """Every item of one item spec with its line number, unfiltered (for tools and tests)."""
    for fmt, path, _ in _resolve(parse_spec(spec)):
        if fmt != "ratings":
            src = str(path)
            with closing(_item_reader(fmt, path)(path)) as reader:
                for item, line in reader:
                    yield clean_item(item, src, line), line


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
        One line naming the file (and line) for any bad input: missing file, a directory, FIFO,
        socket or device where a file is expected, permission denied, empty file, unknown
        format, broken compression, truncated file, invalid JSON, text that is not UTF-8,
        missing / empty / invisible title, wrong field types, invalid ids, duplicate ids (or
        ids differing only in case), missing CSV columns, bad rating values.
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
    seen_folded: dict[str, str] = {}  # lower-cased id -> the id as written
    filtered: set[str] = set()
    adult_names: list[tuple[str, ...]] = []
    items: list[Item] = []
    sources: list[str] = []
    full = False
    for fmt, path, _ in item_parts:
        if full:
            break
        src = str(path)
        sources.append(src)
        with closing(_item_reader(fmt, path)(path)) as reader:
            for item, line in reader:
                item = clean_item(item, src, line)
                where = seen.get(item.id)
                if where is not None:
                    raise InputError(f"duplicate item id {item.id!r} (first at {where[0]}:{where[1]})", src, line)
                seen[item.id] = (src, line)
                folded = item.id.lower()
                other = seen_folded.setdefault(folded, item.id)
                if other != item.id:
                    first = seen[other]
                    raise InputError(
                        f"item ids {other!r} (at {first[0]}:{first[1]}) and {item.id!r} differ only in "
                        "case: they would share a page folder on a case-insensitive file system",
                        src,
                        line,
                    )
                is_adult = item.adult or any(t in adult for _, names in item.tags for t in names)
                if is_adult and not item.adult:
                    item = replace(item, adult=True)
                if is_adult and not include_adult:
                    skipped["adult"] += 1
                    filtered.add(item.id)
                    adult_names.append((item.title, *item.alt_titles[: MAX_ADULT_NAMES - 1]))
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
    items = [
        i if all(r.id in ids for r in i.related) else replace(i, related=tuple(r for r in i.related if r.id in ids))
        for i in items
    ]
    items = [
        i if all(m in ids for m in i.matches) else replace(i, matches=tuple(m for m in i.matches if m in ids))
        for i in items
    ]

    ratings = None
    for _, path, implicit in rating_parts:
        sources.append(str(path))
        raw = ratings_mod.read_ratings(path, implicit=implicit or None)
        ratings, rskip = ratings_mod.attach(raw, {i.id: k for k, i in enumerate(items)}, filtered, limited=full)
        skipped.update(rskip)
    return Catalog(
        items=tuple(items),
        ratings=ratings,
        sources=tuple(sources),
        skipped=dict(sorted(skipped.items())),
        adult_names=tuple(adult_names),
    )

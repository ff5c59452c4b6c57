"""The generic catalog format (JSONL or CSV), the bundled catalog's own format.

Documented in ``docs/catalog-formats.md``. JSONL: one object per line with the keys of
:func:`mangarec.catalog.item_record` (``id``, ``title`` and ``kind`` required; the rest
optional). CSV: header with ``id,title,kind`` and optionally ``type,year,date,tags,
description,popularity,score,adult,url,alt_titles``; ``tags`` is ``group:name|group:name``
(a name without ``group:`` goes to ``genre``), ``alt_titles`` is ``|``-separated, ``adult``
is ``0/1/true/false``. Tag names are mapped to canonical names (:mod:`mangarec.tags`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator
from pathlib import Path
from typing import Any

from ..catalog import KINDS, Item, Related, make_tags
from ..errors import InputError
from ..tags import canonical_tags
from .base import Fields, external_ids, iter_csv, iter_json_lines, type_name

CSV_REQUIRED = ("id", "title", "kind")
CSV_OPTIONAL = ("type", "year", "date", "tags", "description", "popularity", "score", "adult", "url", "alt_titles")
_UPDATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")  # used with fullmatch (no "2020\n", no "٢٠٢٠")


def _kind(f: Fields, value: Any) -> str:
    if value is None:
        raise f.error("missing field 'kind' (anime or manga)")
    if value not in KINDS:
        raise f.error(f"field 'kind' must be one of {', '.join(KINDS)}, got {str(value)[:30]!r}")
    return value


def _year_date(f: Fields, year: Any, date: Any) -> tuple[int | None, str | None]:
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
        raise f.bad("year", "an integer", year)
    if date is not None:
        if not isinstance(date, str) or not _DATE.fullmatch(date):
            raise f.error(f"field 'date' must be YYYY, YYYY-MM or YYYY-MM-DD, got {str(date)[:30]!r}")
        if year is None:
            year = int(date[:4])
    return year, date


def _tags(f: Fields, value: Any) -> dict[str, list[str]]:
    if value is None:
        return {}
    if isinstance(value, list):  # a plain list of names: the genre group
        value = {"genre": value}
    if not isinstance(value, dict):
        raise f.bad("tags", "an object {group: [names]}", value)
    out = {}
    for g, names in value.items():
        out[g] = canonical_tags(f.str_list(f"tags.{g}", names, use_value=True))
    return out


def record_to_item(rec: Any, src: str, line: int | None) -> Item:
    """One generic JSON record → an Item, with type checks naming the field."""
    f = Fields(rec, src, line)
    r = f.rec
    item_id = f.id("id")
    year, date = _year_date(f, r.get("year"), r.get("date"))
    related = []
    for k, x in enumerate(f.list("related")):
        if not isinstance(x, dict):
            raise f.error(f"field 'related[{k}]' must be an object, got {type_name(x)}")
        rf = Fields(x, src, line)
        related.append(Related(id=rf.id("id"), type=rf.str("type") or "Related", title=rf.str("title")))
    popularity = f.number("popularity")
    updated = f.str("updated")
    if updated is not None and not _UPDATED.fullmatch(updated):
        raise f.bad("updated", "a UTC time YYYY-MM-DDTHH:MM:SSZ", updated)
    return Item(
        id=item_id,
        title=f.title(r.get("title")),
        kind=_kind(f, r.get("kind")),
        tags=make_tags(_tags(f, r.get("tags"))),
        alt_titles=tuple(f.str_list("alt_titles")),
        type=f.str("type"),
        year=year,
        date=date,
        description=f.str("description") or "",
        popularity=popularity or 0.0,
        score=f.number("score"),
        external=external_ids(f, f.dict("external")),
        related=tuple(related),
        adult=f.bool("adult"),
        url=f.str("url"),
        matches=tuple(f.str_list("matches")),
        updated=updated,
    )


def iter_items_jsonl(path: Path) -> Generator[tuple[Item, int], None, None]:
    src = str(path)
    for n, rec in iter_json_lines(path):
        yield record_to_item(rec, src, n), n


def _csv_number(text: str, column: str, src: str, line: int, *, integer: bool = False) -> float | int | None:
    t = text.strip()
    if not t:
        return None
    try:
        v = int(t) if integer else float(t)
    except ValueError:
        raise InputError(
            f"column {column!r} must be {'an integer' if integer else 'a number'}, got {t[:30]!r}", src, line
        ) from None
    if not math.isfinite(v):
        raise InputError(f"column {column!r} must be a finite number, got {t[:30]!r}", src, line)
    return v


def _csv_tags(text: str) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for part in text.split("|"):
        part = part.strip()
        if not part:
            continue
        g, sep, name = part.partition(":")
        if not sep:
            g, name = "genre", part
        groups.setdefault(g.strip(), []).append(name.strip())
    return groups


def iter_items_csv(path: Path) -> Generator[tuple[Item, int], None, None]:
    src = str(path)
    for n, row in iter_csv(path, CSV_REQUIRED):
        rec: dict[str, Any] = {"id": row["id"].strip(), "title": row["title"], "kind": row["kind"].strip()}
        get = lambda c, row=row: row.get(c, "")  # noqa: E731
        rec["year"] = _csv_number(get("year"), "year", src, n, integer=True)
        rec["date"] = get("date").strip() or None
        rec["type"] = get("type").strip() or None
        rec["description"] = get("description")
        rec["popularity"] = _csv_number(get("popularity"), "popularity", src, n)
        rec["score"] = _csv_number(get("score"), "score", src, n)
        rec["url"] = get("url").strip() or None
        rec["alt_titles"] = [t.strip() for t in get("alt_titles").split("|") if t.strip()]
        adult = get("adult").strip().lower()
        if adult not in ("", "0", "1", "true", "false"):
            raise InputError(f"column 'adult' must be 0, 1, true or false, got {adult[:20]!r}", src, n)
        rec["adult"] = adult in ("1", "true")
        rec["tags"] = _csv_tags(get("tags"))
        yield record_to_item(rec, src, n), n

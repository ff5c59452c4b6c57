"""MangaDex legacy v3 records (``mangadex-v3/manga.jsonl.xz``): one JSON object per line.

Mapping to :class:`~mangarec.catalog.Item` (see ``docs/catalog-formats.md``):

- ``id`` (int) → ``"1"``; ``title`` → HTML entities decoded; ``kind`` = ``"manga"``; no
  ``type``, ``year`` or ``date`` (v3 records have none).
- ``description`` → plain text by :func:`mangarec.bbcode.to_plain_text` (spoilers dropped).
- the five tag lists (demographic, content, format, genre, theme) → canonical names by
  :mod:`mangarec.tags` (Yaoi and Shounen Ai → Boys' Love ...), in the same groups.
- ``score`` = ``rating`` (None when 0, i.e. unrated).
- ``popularity`` = ``rating × ln(1 + number of translation languages)``: v3 has no follower
  count; a title translated into many languages and rated well is a widely read one.
- ``adult`` = ``is_r18`` (the catalog also marks items carrying an adult tag).
- ``external`` ← ``external`` (al, ap, kt, mu, mal ...); ``related`` ← ``related``
  (``{id, title, type}``; links to ids not in the catalog are dropped by ``load_catalog``).
- ``matches`` (the source project's own top-25 similar lists) → ``matches`` (ids, best first;
  kept only to evaluate models, never shown; ids not in the catalog are dropped too).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from pathlib import Path

from ..bbcode import to_plain_text, unescape
from ..catalog import TAG_GROUPS, Item, Related
from ..tags import canonical_tag, canonical_tags
from .base import Fields, external_ids, iter_json_lines


def record_to_item(rec: object, src: str, line: int | None) -> Item:
    """One v3 record → an Item, validating every field used (one-line errors name the field)."""
    if type(rec) is dict:
        item = _fast(rec)
        if item is not None:
            return item
    return _checked(rec, src, line)


_STR_KEYS = ("title", "url")


def _fast(rec: dict) -> Item | None:
    """The common case without per-field error handling; None if anything looks unusual
    (then :func:`_checked` builds the item or reports the problem precisely)."""
    get = rec.get
    item_id, title, desc = get("id"), get("title"), get("description")
    rating, r18, url = get("rating"), get("is_r18", False), get("url")
    languages, related, external = get("languages", []), get("related", []), get("external", {})
    matches = get("matches", [])
    if not (
        type(matches) is list and all(type(m) is dict and type(m.get("id")) is int and m["id"] >= 0 for m in matches)
    ):
        return None
    if not (
        type(item_id) is int
        and item_id >= 0
        and type(title) is str
        and type(r18) is bool
        and (desc is None or type(desc) is str)
        and type(url) is str
        and (rating is None or type(rating) is float or type(rating) is int)
        and type(languages) is list
        and type(related) is list
        and type(external) is dict
        and all(type(v) is str for v in external.values())
    ):
        return None
    groups = []
    memo = _TAG_MEMO
    for g in TAG_GROUPS:
        names = get(g)
        if names is None or names == []:
            continue
        if type(names) is not list:
            return None
        out = set()
        for n in names:
            if type(n) is not str:
                return None
            c = memo.get(n)
            if c is None:
                c = memo[n] = canonical_tag(n)
            if c:
                out.add(c)
        if out:
            groups.append((g, tuple(sorted(out))))
    title = " ".join((unescape(title) if "&" in title else title).split())
    if not title or not math.isfinite(rating or 0.0):
        return None
    links = []
    for r in related:
        if type(r) is not dict:
            return None
        rid, rtitle, rtype = r.get("id"), r.get("title"), r.get("type")
        if not (
            type(rid) is int
            and rid >= 0
            and (rtitle is None or type(rtitle) is str)
            and (rtype is None or type(rtype) is str)
        ):
            return None
        links.append(
            Related(id=str(rid), type=rtype or "Related", title=" ".join(unescape(rtitle).split()) if rtitle else None)
        )
    ident = str(item_id)
    return Item(
        id=ident,
        title=title,
        kind="manga",
        tags=tuple(groups),
        description=to_plain_text(desc) if desc else "",
        popularity=round((rating or 0.0) * math.log1p(len(languages)), 6),
        score=float(rating) if rating else None,
        external=tuple(sorted((k, v) for k, v in external.items() if v)),
        related=tuple(links),
        adult=r18,
        url=url,
        matches=tuple(str(m["id"]) for m in matches),
    )


_TAG_MEMO: dict[str, str] = {}


def _checked(rec: object, src: str, line: int | None) -> Item:
    f = Fields(rec, src, line)
    item_id = f.id("id")
    title = f.title(unescape(f.rec["title"]) if isinstance(f.rec.get("title"), str) else f.rec.get("title"))
    groups = {g: canonical_tags(f.str_list(g)) for g in TAG_GROUPS}
    rating = f.number("rating")
    languages = f.list("languages")
    related = []
    for k, r in enumerate(f.list("related")):
        rf = Fields(r, src, line) if isinstance(r, dict) else None
        if rf is None:
            raise f.error(f"field 'related[{k}]' must be an object")
        rel_title = rf.str("title")
        related.append(
            Related(
                id=rf.id("id"),
                type=rf.str("type") or "Related",
                title=" ".join(unescape(rel_title).split()) if rel_title else None,
            )
        )
    matches = []
    for k, m in enumerate(f.list("matches")):
        if not isinstance(m, dict):
            raise f.error(f"field 'matches[{k}]' must be an object")
        matches.append(Fields(m, src, line).id("id"))
    score = rating if rating else None
    popularity = round((rating or 0.0) * math.log1p(len(languages)), 6)
    return Item(
        id=item_id,
        title=title,
        kind="manga",
        tags=tuple((g, tuple(sorted(n))) for g, n in groups.items() if n),
        description=to_plain_text(f.str("description") or ""),
        popularity=popularity,
        score=score,
        external=external_ids(f, f.dict("external")),
        related=tuple(related),
        adult=f.bool("is_r18"),
        url=f.str("url") or f"https://mangadex.org/manga/{item_id}",
        matches=tuple(matches),
    )


def iter_items(path: Path) -> Generator[tuple[Item, int], None, None]:
    """Stream ``(item, line number)`` from a v3 JSONL file (plain, .gz, .xz or .bz2)."""
    src = str(path)
    for n, rec in iter_json_lines(path):
        yield record_to_item(rec, src, n), n

"""MangaDex v5 API JSON: ``GET /manga`` list responses, as the live API returns them.

Input: a JSONL file holding one response per line, or a directory of response pages
(``*.json``, one response per file, as written by :func:`mangarec.loaders.fetch.fetch_mangadex`;
files are read in name order). A line may also hold a single manga entity
(``{"id", "type": "manga", "attributes", "relationships"}``).

A response is ``{"result": "ok", "response": "collection", "data": [manga...], "limit",
"offset", "total"}``; ``result: "error"`` is reported as an error. Mapping of a manga entity:

- ``id`` (UUID) → ``id``; ``url`` = ``https://mangadex.org/title/{id}``; ``kind`` = manga.
- ``attributes.title`` ``{lang: text}`` → ``title``: ``en``, else ``ja-ro``, else the first
  English alternative title, else the first value; the other titles → ``alt_titles``.
- ``description`` (``en``, else the first language) → plain text (BBCode, entities and
  Markdown links ``[text](url)`` / ``**bold**`` / ``---`` rules removed).
- ``tags[].attributes.name.en`` in ``tags[].attributes.group`` (genre, theme, format,
  content) and ``publicationDemographic`` (group demographic, capitalised) → tags, canonical.
- ``year`` → ``year``; ``createdAt`` → ``date`` (ISO date ``YYYY-MM-DD``).
- ``originalLanguage`` → ``type``: ja → Manga, ko → Manhwa, zh / zh-hk → Manhua, else None.
- ``contentRating`` ``erotica`` or ``pornographic`` → ``adult``.
- ``links`` → ``external``, keeping the id-like keys al, ap, bw, kt, mu, nu, mal (the others
  are shop URLs).
- ``relationships`` of type ``manga`` with a ``related`` value → ``related`` (``sequel`` →
  ``Sequel``, ``spin_off`` → ``Spin-off`` ...).
- The list endpoint has no follower or rating statistics: ``score`` is None and
  ``popularity`` = ``ln(1 + number of availableTranslatedLanguages)``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from ..bbcode import to_plain_text, unescape
from ..catalog import Item, Related, make_tags
from ..errors import InputError
from ..tags import canonical_tags
from .base import Fields, external_ids, iter_json_lines, type_name
from .inputs import is_dir, list_directory, read_input_bytes

ADULT_RATINGS = frozenset(("erotica", "pornographic"))
LINK_KEYS = ("al", "ap", "bw", "kt", "mu", "nu", "mal")
TYPE_OF_LANGUAGE = {"ja": "Manga", "ko": "Manhwa", "zh": "Manhua", "zh-hk": "Manhua"}
RELATED_NAMES = {
    "monochrome": "Monochrome",
    "main_story": "Main story",
    "adapted_from": "Adapted from",
    "based_on": "Based on",
    "prequel": "Prequel",
    "side_story": "Side story",
    "doujinshi": "Doujinshi",
    "same_franchise": "Same franchise",
    "shared_universe": "Shared universe",
    "sequel": "Sequel",
    "spin_off": "Spin-off",
    "alternate_story": "Alternate story",
    "alternate_version": "Alternate version",
    "preserialization": "Pre-serialization",
    "colored": "Coloured",
    "serialization": "Serialization",
}
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\((?:[^)\s]*)\)")
_MD_EMPH = re.compile(r"(\*\*|__)(.+?)\1")
_CREATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MD_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$", re.MULTILINE)


def _pick(value: Any, f: Fields, key: str) -> str | None:
    """The English (else romanised Japanese, else first) text of a ``{lang: text}`` map."""
    if value is None or value == []:  # the API sends [] for an empty localised map
        return None
    if not isinstance(value, dict):
        raise f.bad(key, "an object {language: text}", value)
    for lang in ("en", "ja-ro"):
        v = value.get(lang)
        if isinstance(v, str) and v.strip():
            return v
    for v in value.values():
        if isinstance(v, str) and v.strip():
            return v
    return None


def markdown_to_text(text: str) -> str:
    """Remove the little Markdown MangaDex v5 descriptions use (links, bold, rules)."""
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_EMPH.sub(r"\2", text)
    return _MD_RULE.sub("", text)


def entity_to_item(ent: Any, src: str, line: int | None) -> Item:
    """One manga entity of a v5 response → an Item, validating the fields used."""
    f = Fields(ent, src, line)
    item_id = f.id("id")
    if f.rec.get("type", "manga") != "manga":
        raise f.error(f"expected an entity of type 'manga', got {str(f.rec.get('type'))[:20]!r}")
    a = Fields(f.rec.get("attributes"), src, line) if isinstance(f.rec.get("attributes"), dict) else None
    if a is None:
        raise f.bad("attributes", "an object", f.rec.get("attributes"))
    attrs = a.rec
    alt: list[str] = []
    for k, t in enumerate(a.list("altTitles")):
        if not isinstance(t, dict):
            raise f.error(f"field 'attributes.altTitles[{k}]' must be an object, got {type_name(t)}")
        alt.extend(v for v in t.values() if isinstance(v, str) and v.strip())
    titles = attrs.get("title")
    if titles is not None and titles != [] and not isinstance(titles, dict):
        raise f.bad("attributes.title", "an object {language: text}", titles)
    titles = titles or {}
    en_alt = [
        v
        for t in a.list("altTitles")
        if isinstance(t, dict)
        for k, v in t.items()
        if k == "en" and isinstance(v, str) and v.strip()
    ]
    title = next((titles[k] for k in ("en", "ja-ro") if isinstance(titles.get(k), str) and titles[k].strip()), None)
    if title is None:
        title = en_alt[0] if en_alt else _pick(titles, a, "attributes.title")
    if title is None:  # only blank titles: report an empty title rather than a missing one
        title = next((v for v in titles.values() if isinstance(v, str)), None)
    title = f.title(unescape(title) if title is not None else None, "attributes.title")
    alt += [v for v in titles.values() if isinstance(v, str) and v.strip()]
    alt_titles = tuple(t for t in dict.fromkeys(" ".join(unescape(x).split()) for x in alt) if t != title)
    description = _pick(attrs.get("description"), a, "attributes.description") or ""
    groups: dict[str, list[str]] = {}
    for k, tag in enumerate(a.list("tags")):
        key = f"attributes.tags[{k}]"
        if not isinstance(tag, dict) or not isinstance(tag.get("attributes"), dict):
            raise f.error(f"field {key!r} must be a tag object with attributes")
        ta = Fields(tag["attributes"], src, line)
        name = _pick(ta.rec.get("name"), ta, f"{key}.attributes.name")
        if name is None:
            raise f.error(f"field '{key}.attributes.name' has no name")
        group = ta.str("group") or "genre"
        groups.setdefault(group, []).append(name)
    demographic = a.str("publicationDemographic")
    if demographic:
        groups.setdefault("demographic", []).append(demographic.capitalize())
    groups = {g: canonical_tags(n) for g, n in groups.items()}
    year = a.int("year")
    created = a.str("createdAt")
    date = created[:10] if created and _CREATED.match(created) else None
    rating = a.str("contentRating") or "safe"
    links = a.dict("links")
    related = []
    for k, rel in enumerate(f.list("relationships")):
        if not isinstance(rel, dict):
            raise f.error(f"field 'relationships[{k}]' must be an object, got {type_name(rel)}")
        if rel.get("type") == "manga" and rel.get("related"):
            rf = Fields(rel, src, line)
            kind = str(rel["related"])
            related.append(Related(id=rf.id("id"), type=RELATED_NAMES.get(kind, kind.replace("_", " ").capitalize())))
    languages = a.list("availableTranslatedLanguages")
    popularity, score, updated = round(math.log1p(len(languages)), 6), None, None
    note = f.rec.get("mangarec")
    if isinstance(note, dict):
        n = Fields(note, src, line)
        if "follows" in note:
            popularity = float(n.int("follows") or 0)
        score = n.number("rating") if note.get("rating") is not None else None
        upload = n.str("latestUpload")
        updated = upload[:19] + "Z" if upload and _CREATED.match(upload) else None
    return Item(
        id=item_id,
        title=title,
        kind="manga",
        tags=make_tags(groups),
        alt_titles=alt_titles,
        type=TYPE_OF_LANGUAGE.get(a.str("originalLanguage") or ""),
        year=year,
        date=date,
        description=to_plain_text(markdown_to_text(description.replace("\r\n", "\n"))),
        popularity=popularity,
        score=score,
        updated=updated,
        external=external_ids(a, {k: links[k] for k in LINK_KEYS if k in links}, "attributes.links"),
        related=tuple(related),
        adult=rating in ADULT_RATINGS,
        url=f"https://mangadex.org/title/{item_id}",
    )


def _response_items(value: Any, src: str, line: int | None) -> Iterator[Item]:
    if isinstance(value, dict) and "attributes" in value and "data" not in value:
        yield entity_to_item(value, src, line)
        return
    f = Fields(value, src, line)
    result = f.rec.get("result")
    if result == "error":
        errs = f.rec.get("errors") or [{}]
        e = errs[0] if isinstance(errs, list) and errs and isinstance(errs[0], dict) else {}
        raise f.error(
            f"the API returned an error: {e.get('status', '')} {e.get('title', '')} {e.get('detail', '')}".strip()
        )
    if result != "ok":
        raise f.error('not a MangaDex v5 response (expected "result": "ok")')
    data = f.rec.get("data")
    if not isinstance(data, list):
        raise f.bad("data", "a list of manga", data)
    for ent in data:
        yield entity_to_item(ent, src, line)


#: The largest page file read (a page of 100 manga is about 0.5 MB).
MAX_PAGE_BYTES = 64 << 20


def page_files(directory: Path) -> list[Path]:
    """The response pages in ``directory`` (``*.json`` that are not directories), in name order.

    A FIFO or a device named ``*.json`` is listed, and refused when it is read.
    """
    return [p for p in list_directory(directory) if p.name.endswith(".json") and not is_dir(p)]


def read_page(page: Path) -> Any:
    """One response page file, parsed (one-line errors: unreadable, empty, too large, bad JSON)."""
    raw = read_input_bytes(page, max_bytes=MAX_PAGE_BYTES, what="page file")
    try:
        return json.loads(raw)
    except RecursionError:
        raise InputError("invalid JSON: too deeply nested", str(page), 1) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"invalid JSON: {str(e).splitlines()[0]}", str(page), 1) from None


def iter_items(path: Path) -> Generator[tuple[Item, int], None, None]:
    """Stream ``(item, line number)`` from a JSONL file of responses or a directory of pages.

    For a directory the line number is 1 and errors name the page file. Lone surrogate escapes
    (``"\\ud800"``) are accepted here as in JSONL files; the text cleaning removes them.
    """
    path = Path(path)
    if is_dir(path):
        pages = page_files(path)
        if not pages:
            raise InputError("no MangaDex v5 pages (*.json) in this directory", str(path))
        for page in pages:
            for item in _response_items(read_page(page), str(page), 1):
                yield item, 1
        return
    src = str(path)
    for n, value in iter_json_lines(path):
        for item in _response_items(value, src, n):
            yield item, n

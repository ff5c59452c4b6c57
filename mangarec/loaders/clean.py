"""The one place where every loaded item's text is cleaned (rules: :mod:`mangarec.textclean`).

:func:`clean_item` runs on every item every loader yields, before filtering and merging:

- ``title``: cleaned as one line; a title with no visible character left (only control,
  zero-width or blank characters) is **rejected**: an InputError naming the file and line;
- ``alt_titles``: cleaned; empty ones, repeats and copies of the title are dropped;
- tag names: cleaned by :func:`mangarec.tags.canonical_tag` (empty ones dropped); a tag group
  name with no visible character is rejected;
- ``description``: cleaned as multi-line text (paragraphs kept);
- ``type``, ``url``, ``external`` keys and values, ``related`` titles and types: cleaned as one
  line (an empty ``type`` / ``url`` / related title becomes None, an empty external entry is
  dropped, an empty related type becomes ``"Related"``).

Text that needs no change is not copied (a regular expression search per field, and one pass
over the description).
"""

from __future__ import annotations

from dataclasses import replace

from ..catalog import Item, Related, make_tags
from ..errors import InputError
from ..tags import canonical_tags
from ..textclean import clean_line, clean_text, has_visible, is_clean_line, is_clean_text

__all__ = ["clean_item"]


def _lines(item: Item) -> list[str]:
    """Every one-line text field of ``item``."""
    out = [item.title, *item.alt_titles]
    if item.type is not None:
        out.append(item.type)
    if item.url is not None:
        out.append(item.url)
    for g, names in item.tags:
        out.append(g)
        out.extend(names)
    for k, v in item.external:
        out += (k, v)
    for r in item.related:
        out.append(r.type)
        if r.title is not None:
            out.append(r.title)
    return out


def _needs_work(item: Item) -> bool:
    """False only if :func:`clean_line` would change none of the one-line fields (exact, but a
    "|" next to a space in a field may send a clean item down the slow, exact path)."""
    parts = _lines(item)
    joined = "|".join(parts)
    if not joined:
        return False
    if not is_clean_line(joined) or "| " in joined or " |" in joined:
        return True
    if joined.isascii():
        return False
    return any(s and not s.isascii() and not has_visible(s) for s in parts)


def clean_item(item: Item, source: str, line: int | None) -> Item:
    """``item`` with every text field cleaned (itself if nothing changes).

    Raises
    ------
    InputError
        "file:line: title has no visible characters ..." or the same for a tag group name.
    """
    description = item.description if is_clean_text(item.description) else clean_text(item.description)
    if description == item.description and not _needs_work(item):
        return item
    title = clean_line(item.title)
    if not title:
        raise InputError(
            f"title has no visible characters (got {item.title[:40]!r}): only control, zero-width or blank characters",
            source,
            line,
        )
    alt = tuple(t for t in dict.fromkeys(clean_line(a) for a in item.alt_titles) if t and t != title)
    groups: dict[str, list[str]] = {}
    for g, names in item.tags:
        group = clean_line(g)
        if not group:
            raise InputError(f"tag group name has no visible characters (got {g[:40]!r})", source, line)
        groups.setdefault(group, []).extend(canonical_tags(names))
    external = tuple(sorted({(k2, v2) for k, v in item.external if (k2 := clean_line(k)) and (v2 := clean_line(v))}))
    related = tuple(
        Related(
            id=r.id,
            type=clean_line(r.type) or "Related",
            title=clean_line(r.title) or None if r.title is not None else None,
        )
        for r in item.related
    )
    return replace(
        item,
        title=title,
        alt_titles=alt,
        tags=make_tags(groups),
        description=description,
        type=clean_line(item.type) or None if item.type is not None else None,
        url=clean_line(item.url) or None if item.url is not None else None,
        external=external,
        related=related,
    )

"""MyAnimeList anime CSV (Kaggle "Anime Recommendations Database", ``anime-recdb/anime.csv.gz``).

Columns: ``anime_id,name,genre,type,episodes,rating,members``. Mapping:

- ``anime_id`` → ``id`` (``"5114"``); ``name`` → ``title`` (HTML entities such as ``&#039;``
  decoded); ``kind`` = ``"anime"``; ``type`` (TV, OVA, Movie ...; None when empty).
- ``genre`` split on ``,`` → canonical names (:mod:`mangarec.tags`: School → School Life,
  Yaoi → Boys' Love ...), all in the ``genre`` group (MAL has no tag groups).
- ``score`` = ``rating`` (None when empty); ``popularity`` = ``members``.
- ``url`` = ``https://myanimelist.net/anime/{id}``; ``external`` = ``(("mal", id),)``.
- No year, date or description (the dataset has none). ``adult`` is set by the catalog from
  the adult tags (MAL's ``Hentai`` genre).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from pathlib import Path

from ..bbcode import unescape
from ..catalog import ID_PATTERN, Item, make_tags
from ..errors import InputError
from ..tags import canonical_tags
from .base import iter_csv

COLUMNS = ("anime_id", "name", "genre", "type", "episodes", "rating", "members")


def _number(value: str, column: str, src: str, line: int, *, integer: bool = False) -> float | None:
    v = value.strip()
    if not v:
        return None
    try:
        x = int(v) if integer else float(v)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise InputError(f"column {column!r} must be {kind}, got {v[:40]!r}", src, line) from None
    if not math.isfinite(x):
        raise InputError(f"column {column!r} must be a finite number, got {v[:40]!r}", src, line)
    return float(x)


def iter_items(path: Path) -> Generator[tuple[Item, int], None, None]:
    """Stream ``(item, line number)`` from a MAL anime CSV (plain or compressed)."""
    src = str(path)
    for n, row in iter_csv(path, COLUMNS):
        anime_id = row["anime_id"].strip()
        if not anime_id:
            raise InputError("missing anime_id", src, n)
        if not ID_PATTERN.fullmatch(anime_id):
            raise InputError(f"column 'anime_id': invalid id {anime_id[:70]!r}", src, n)
        title = " ".join(unescape(row["name"]).split())
        if not title:
            raise InputError("empty title (column 'name')", src, n)
        genres = canonical_tags(g for g in row["genre"].split(",") if g.strip())
        score = _number(row["rating"], "rating", src, n)
        members = _number(row["members"], "members", src, n, integer=True)
        yield (
            Item(
                id=anime_id,
                title=title,
                kind="anime",
                tags=make_tags({"genre": genres}),
                type=row["type"].strip() or None,
                popularity=members or 0.0,
                score=score,
                external=(("mal", anime_id),),
                url=f"https://myanimelist.net/anime/{anime_id}",
            ),
            n,
        )

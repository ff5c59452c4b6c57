"""Links to a title's pages on other sites, from the catalog's short external codes.

MangaDex records and the bundled catalog name other databases by code (``mal``, ``al``,
``kt``, ``mu``, ``ap``, ...) with the title's id or slug there; :func:`external_link` turns a
pair into the site's name and the address of the title's page (``/anime/`` or ``/manga/`` by
the item's kind). An id is used only if it is a plain id or slug (letters, digits, ``-``,
``_``, ``.``), and is percent-encoded anyway; a value that is already a URL is kept only if it
is http(s) (:func:`~mangarec.sanitize.safe_url`); anything else is shown as text.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import quote

from .sanitize import safe_url

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class Site(NamedTuple):
    name: str
    #: ``{kind}`` = ``anime`` / ``manga``; ``{id}`` = the percent-encoded id.
    template: str | None


#: Known codes (MangaDex's link keys and the bundled catalog's).
SITES: dict[str, Site] = {
    "mal": Site("MyAnimeList", "https://myanimelist.net/{kind}/{id}"),
    "al": Site("AniList", "https://anilist.co/{kind}/{id}"),
    "kt": Site("Kitsu", "https://kitsu.app/{kind}/{id}"),
    "ap": Site("Anime-Planet", "https://www.anime-planet.com/{kind}/{id}"),
    "mu": Site("MangaUpdates", None),  # numeric legacy ids and new slugs differ: see below
    "nu": Site("Novel Updates", "https://www.novelupdates.com/series/{id}/"),
    "bw": Site("BookWalker", None),
    "amz": Site("Amazon", None),
    "ebj": Site("eBookJapan", None),
    "cdj": Site("CDJapan", None),
    "raw": Site("Official raw", None),
    "engtl": Site("Official English", None),
    "anidb": Site("AniDB", "https://anidb.net/anime/{id}"),
}


class Link(NamedTuple):
    name: str
    value: str
    href: str | None


def external_link(code: str, value: str, kind: str) -> Link:
    """``(site name, shown value, href or None)`` for one external pair of an item."""
    site = SITES.get(code.lower())
    name = site.name if site else code
    url = safe_url(value)
    if url is not None:
        return Link(name, value, url)
    if site is None or not _ID.match(value):
        return Link(name, value, None)
    ident = quote(value, safe="")
    k = "anime" if kind == "anime" else "manga"
    if code.lower() == "mu":
        href = (
            f"https://www.mangaupdates.com/series.html?id={ident}"
            if value.isdigit()
            else f"https://www.mangaupdates.com/series/{ident}"
        )
    elif code.lower() == "bw":
        href = f"https://bookwalker.jp/{ident}/"
    elif site.template is not None:
        href = site.template.format(kind=k, id=ident)
    else:
        href = None
    return Link(name, value, href)

"""sitemap.xml and robots.txt: the only files with absolute URLs (from ``site_url``)."""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape


def sitemap_xml(site_url: str, paths: Iterable[str], lastmod: str | None = None) -> str:
    """A sitemap of ``site_url + path`` for each page path (``"title/x/"``, ``""`` for home).

    ``lastmod`` (the build date, ``YYYY-MM-DD...``) is given to every URL when set.
    """
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    mod = f"<lastmod>{escape(lastmod[:10])}</lastmod>" if lastmod else ""
    for p in sorted(set(paths)):
        lines.append(f"<url><loc>{escape(site_url + p)}</loc>{mod}</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def robots_txt(site_url: str) -> str:
    return f"User-agent: *\nAllow: /\nSitemap: {site_url}sitemap.xml\n"

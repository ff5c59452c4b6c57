"""The 404 page, which a host serves at *any* missing address, so no relative link works in it.

Its stylesheet is inlined (a ``<style>`` allowed by its SHA-256 in the page's CSP), so it is
styled wherever it is served, with or without JavaScript. Its links start with the path of
``site_url`` (``"/"`` while ``site_url`` is a placeholder), written by the build: the page runs
no code and makes no request to find the site root (an earlier version probed each parent of the
missing address, leaving a failed request per level in the console). A site published under a
path (``https://user.github.io/repo/``) sets ``site_url`` to that address.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

from markupsafe import Markup

#: Host names reserved for examples (RFC 2606): a ``site_url`` there is a placeholder.
EXAMPLE_HOSTS = ("example.org", "example.com", "example.net")


def is_placeholder(site_url: str) -> bool:
    """Whether ``site_url`` is on a reserved example host (i.e. was never configured)."""
    host = (urlsplit(site_url).hostname or "").lower()
    return host in EXAMPLE_HOSTS or host.endswith(".example")


def root_path(site_url: str) -> str:
    """The root-relative prefix of the 404 page's links: ``site_url``'s path, or ``"/"`` for a
    placeholder ``site_url``."""
    if is_placeholder(site_url):
        return "/"
    return urlsplit(site_url).path or "/"


def csp_hash(text: str) -> str:
    """``'sha256-…'`` of an inline element's exact text, for a CSP source list."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def notfound_csp(base_csp: str, css: str) -> str:
    """The site's CSP plus the hash of the 404 page's inline stylesheet (it has no script)."""
    from .render import directive

    return directive(base_csp, "style-src", "'self'", csp_hash(css))


def inline(css: str) -> dict:
    """Template values: the stylesheet, as trusted markup (our own file)."""
    if "</style" in css.lower():
        raise ValueError("site.css must not contain '</style'")
    return {"inline_css": Markup(css)}


def site_notes(site_url: str) -> list[str]:
    """Remarks for the build log about the publishing configuration."""
    if is_placeholder(site_url):
        return [
            f"[site] site_url is the placeholder {site_url}: canonical links, sitemap.xml and robots.txt "
            "point there until you set it to the address where the site is published (every other link is "
            "relative; the 404 page's links start at its path, '/' until then)"
        ]
    return []

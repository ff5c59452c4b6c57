"""The 404 page, which a host serves at *any* missing address, so no relative link works in it.

Its stylesheet is inlined (a ``<style>`` allowed by its SHA-256 in the page's CSP), so it is
styled wherever it is served, with or without JavaScript. Its links start with the path of
``site_url`` (``"/"`` while ``site_url`` is a placeholder); a small inline script (allowed by
its hash too) finds the real site root by asking, for each parent of the missing address,
whether ``data/search/index.json`` is there (one HEAD request each, in parallel; the deepest
answer wins), then rewrites the links. Nothing else in the site has inline code.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit

from markupsafe import Markup

#: Host names reserved for examples (RFC 2606): a ``site_url`` there is a placeholder.
EXAMPLE_HOSTS = ("example.org", "example.com", "example.net")

#: The inline script of 404.html (its hash goes into the page's CSP). It reads the rendered
#: prefix from the page's JSON island, probes every parent path, and swaps the prefix.
FIND_ROOT_JS = """(function () {
  'use strict';
  var island = document.getElementById('page-data');
  var prefix = island ? JSON.parse(island.textContent).root : '/';
  var parts = location.pathname.split('/').slice(1, -1).slice(0, 12);
  var candidates = ['/'];
  for (var i = 1; i <= parts.length; i++) candidates.push('/' + parts.slice(0, i).join('/') + '/');
  Promise.all(candidates.map(function (c) {
    return fetch(c + 'data/search/index.json', {method: 'HEAD', cache: 'no-store', credentials: 'same-origin'})
      .then(function (r) { return r.ok && (r.headers.get('content-type') || '').indexOf('json') >= 0; })
      .catch(function () { return false; });
  })).then(function (found) {
    var root = null;
    found.forEach(function (ok, k) { if (ok) root = candidates[k]; });
    if (root === null || root === prefix) return;
    document.querySelectorAll('a[href], link[href]').forEach(function (a) {
      var h = a.getAttribute('href');
      if (h.indexOf(prefix) === 0 && h.indexOf('//') !== 0) a.setAttribute('href', root + h.slice(prefix.length));
    });
    document.documentElement.setAttribute('data-root', root);
  });
})();
"""


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
    """The site's CSP plus the hashes of the 404 page's inline stylesheet and script."""
    return base_csp.replace("script-src 'self'", f"script-src 'self' {csp_hash(FIND_ROOT_JS)}").replace(
        "style-src 'self'", f"style-src 'self' {csp_hash(css)}"
    )


def inline(css: str) -> dict:
    """Template values: the stylesheet and the script, as trusted markup (our own files)."""
    if "</style" in css.lower():
        raise ValueError("site.css must not contain '</style'")
    return {"inline_css": Markup(css), "inline_js": Markup(FIND_ROOT_JS)}


def site_notes(site_url: str) -> list[str]:
    """Remarks for the build log about the publishing configuration."""
    if is_placeholder(site_url):
        return [
            f"[site] site_url is the placeholder {site_url}: canonical links, sitemap.xml and robots.txt "
            "point there until you set it to the address where the site is published (every other link is "
            "relative; the 404 page finds the site root by itself)"
        ]
    return []

"""Carrying unchanged pages over from the last build instead of rendering them again.

A page's *inputs* are its template context (everything the template reads: the title, its
neighbour lists as rendered HTML, the asset names ...), the templates and the code that
renders them. The build records, for every title page, the digest of its inputs and the
SHA-256 of the bytes it wrote (kept in the stage cache, never in the site). The next build
computes the context (cheap next to rendering), and where the digest is unchanged it copies the
page from the previous site instead of rendering it, once the bytes there are checked against the
recorded SHA-256. The page is then the bytes a render would give: the same inputs render to the
same bytes (``tests/test_night.py`` compares the night's site with a cold build, byte for byte).

The previous site is only read: the new site is still written whole into the staging
directory and swapped in atomically (:mod:`mangarec.outdir`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

#: ``{page path: (inputs digest, sha256 of its bytes)}``.
Digests = dict[str, tuple[str, str]]


@lru_cache(maxsize=4)
def render_digest(templates: Path) -> str:
    """Digest of what turns a context into bytes: the templates, the rendering code, Jinja2."""
    import jinja2

    from ..cache import module_digest, tree_digest

    return hashlib.sha256(
        f"{tree_digest(templates)}|{module_digest('mangarec.site.render')}|{jinja2.__version__}".encode()
    ).hexdigest()


def inputs_digest(context: Mapping[str, Any], salt: str) -> str:
    """Digest of a page's template ``context`` (canonical JSON) and ``salt`` (:func:`render_digest`)."""
    blob = json.dumps(context, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
    return hashlib.sha256(f"{salt}\0{blob}".encode()).hexdigest()


class Carry:
    """The previous build's pages (``previous``: its site, ``digests``: what it recorded); ``None``
    arguments carry nothing over."""

    def __init__(self, previous: Path | None = None, digests: Mapping[str, Any] | None = None):
        self.previous = previous
        self.digests = dict(digests or {}) if previous is not None else {}
        self.carried = 0

    def take(self, rel: str, digest: str) -> tuple[bytes, str] | None:
        """``(bytes, sha256)`` of the previous page ``rel`` when its inputs' digest was ``digest``
        and its bytes are still the ones recorded; else ``None`` (render it)."""
        old = self.digests.get(rel)
        if self.previous is None or not old or old[0] != digest:
            return None
        try:
            data = (self.previous / rel).read_bytes()
        except OSError:
            return None
        sha = hashlib.sha256(data).hexdigest()
        if sha != old[1]:
            return None
        self.carried += 1
        return data, sha

"""Carrying unchanged title pages over from the last build instead of rendering them again.

A title page's *inputs* are the facts its context is built from (:func:`page_keys`): site-wide
ones (the templates and the code that turns a context into bytes, the site's settings, assets,
models and their labels, the tag names) and the page's own: its title's fields (with its
related titles' and other formats' names), and for each list the page shows the neighbours'
names, kinds and tags and the scores it prints. The build records, for every title page, the key
of its inputs and the SHA-256 of the bytes it wrote (kept in the stage cache, never in the site).
The next build computes every page's key *before* any context (one vectorised pass), and where a
key is unchanged it links the page from the previous site (a hard link; a copy across file
systems) instead of building and rendering it, once the bytes there are checked against the
recorded SHA-256. The page is then the bytes a render would give: the same inputs render to the
same bytes (``tests/test_night.py`` compares the night's site with a cold build, byte for byte;
``tests/site/test_carry.py`` changes each input and checks that the pages showing it are
rendered again).

The previous site is only read: the new site is still written whole into the staging directory
and swapped in atomically (:mod:`mangarec.outdir`). A hard link shares the previous page's
inode, so nothing may write into it afterwards: the writer creates every file exclusively
(:class:`~mangarec.site.write.Writer`, mode ``"xb"``), never opening an existing one, and the
previous site is removed, not written, once the new one is in place.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import ID_PATTERN
from .prepare import NB_SHOW, NB_SHOW_OTHERS, Prepared

#: ``{page path: (inputs key, sha256 of its bytes)}``.
Digests = dict[str, tuple[str, str]]

#: Bytes of a title's digest in the keys (blake2b).
_D = 16


@lru_cache(maxsize=4)
def render_digest(templates: Path) -> str:
    """Digest of what turns a title's facts into bytes: the templates, the code that builds
    the context and renders it (with what it imports), Jinja2 and MarkupSafe."""
    from importlib.metadata import version

    from ..cache import module_sources, tree_digest

    sources = module_sources("mangarec.site.render", "mangarec.site.context", __name__)  # one walk: they share most
    code = hashlib.sha256(b"".join(m.encode() + b"\0" + sources[m] + b"\0" for m in sorted(sources))).hexdigest()
    libraries = "|".join(version(d) for d in ("jinja2", "markupsafe"))
    return hashlib.sha256(f"{tree_digest(templates)}|{code}|{libraries}".encode()).hexdigest()


def shown_lists(prep: Prepared) -> list[tuple[str, int, bool]]:
    """``(model, entries shown, scores shown)`` of every list a title page shows: the series and
    the lead model's :data:`NB_SHOW` with their scores, every other model's top
    :data:`NB_SHOW_OTHERS` (names only)."""
    full = {prep.series_model, prep.lead_model}
    return [(m, NB_SHOW, True) if m in full else (m, NB_SHOW_OTHERS, False) for m in prep.models]


def _digest(obj: Any) -> bytes:
    return hashlib.blake2b(repr(obj).encode("utf-8", "surrogatepass"), digest_size=_D).digest()


def page_keys(result, prep: Prepared, assets: Mapping[str, str], salt: str) -> list[str]:
    """The key of every title page's inputs, in catalog order (see the module docstring).

    Built without any page context: a digest per title of what a page shows of it as a
    neighbour (*card*: page folder, title, kind, kind label, tag numbers) and of its own page's
    facts, then one pass over the shown lists' positions and printed scores.
    """
    from . import context as C

    items, n = prep.items, len(prep.items)
    lists = shown_lists(prep)
    probe = C.title_base(result, "\0", "\0", "\0", assets)  # the page's own parts are in its facts
    site = [
        salt,
        probe,
        [(m, C.label(m), k, s) for m, k, s in lists],
        prep.lead_model,
        prep.series_model,
        prep.esc_tags,
        result.config.site.max_description_chars,
    ]
    key = hashlib.blake2b(json.dumps(site, sort_keys=True, default=repr).encode(), digest_size=32).digest()
    cards = np.zeros((n + 1, _D), dtype=np.uint8)  # the last row: no neighbour (position -1)
    for p, it in enumerate(items):
        card = (prep.slugs[p], it.title, it.kind, prep.kind_labels[p], prep.item_tags[p])
        cards[p] = np.frombuffer(_digest(card), dtype=np.uint8)
    index = result.catalog.index
    own = np.empty((n, _D), dtype=np.uint8)
    for p, it in enumerate(items):
        related = [
            (r.type, r.id, r.title, cards[index[r.id]].tobytes() if r.id in index and ID_PATTERN.match(r.id) else None)
            for r in it.related
        ]
        also = [cards[q].tobytes() for q in prep.same_work[p] if q != p]
        facts = (
            cards[p].tobytes(),
            it.id,
            it.type,
            it.year,
            it.date,
            prep.alt_titles[p],
            it.popularity,
            it.score,
            it.url,
            it.description,
            it.tags,
            it.external,
            related,
            also,
        )
        own[p] = np.frombuffer(_digest(facts), dtype=np.uint8)
    parts = [own]
    for m, k, scores in lists:
        pos = prep.neighbours[m][0][:, :k]
        parts.append(cards[np.where(pos >= 0, pos, n)].reshape(n, -1))
        if scores:  # as printed: a score that moved in its fourth decimal leaves the page as it was
            text = prep.score_text[m]
            printed = b"".join(_digest(row[:k]) for row in text)
            parts.append(np.frombuffer(printed, dtype=np.uint8).reshape(n, _D))
    rows = np.ascontiguousarray(np.concatenate(parts, axis=1))
    return [hashlib.blake2b(row, key=key, digest_size=_D).hexdigest() for row in rows]


class Carry:
    """The previous build's pages (``previous``: its site, ``digests``: what it recorded); ``None``
    arguments carry nothing over."""

    def __init__(self, previous: Path | None = None, digests: Mapping[str, Any] | None = None):
        self.previous = previous
        self.digests = dict(digests or {}) if previous is not None else {}
        self.carried = 0

    def take(self, rel: str, digest: str) -> tuple[bytes, str] | None:
        """``(bytes, sha256)`` of the previous page ``rel`` when its inputs' key was ``digest``
        and its bytes are still the ones recorded; else ``None`` (render it)."""
        old = self.digests.get(rel)
        if self.previous is None or not old or old[0] != digest:
            return None
        try:
            with open(os.path.join(self.previous, rel), "rb") as f:
                data = f.read()
        except OSError:
            return None
        sha = hashlib.sha256(data).hexdigest()
        if sha != old[1]:
            return None
        self.carried += 1
        return data, sha

    def source(self, rel: str) -> str:
        """The previous page's path (:meth:`Writer.link <mangarec.site.write.Writer.link>` links it)."""
        assert self.previous is not None
        return os.path.join(self.previous, rel)

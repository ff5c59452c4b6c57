"""Every embeddings file a build publishes: the full document (:mod:`mangarec.publish`) and the
compact form For-you loads first (version 4, :mod:`mangarec.compact`, or version 7,
:mod:`mangarec.lean`), chosen by ``[publish] compact_*``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .compact import CompactOptions, build_compact, write_compact
from .kernel import lists_of
from .lean import build_lean, write_lean
from .publish import write_embeddings
from .taste_lists import ListState

if TYPE_CHECKING:
    from .cache import Cache
    from .catalog import Catalog
    from .embedding import Embedding

#: The stage cache's pointer to the last build's candidate lists (:class:`ListState`).
LISTS_POINTER = "taste-lists"


def last_lists(cache: Cache | None) -> ListState | None:
    """The candidate lists the last build left in ``cache`` (``None``: none, or unreadable)."""
    if cache is None:
        return None
    last = cache.pointer(LISTS_POINTER)
    return ListState.of(cache.get(str(last.get("key")))) if last else None


def keep_lists(cache: Cache | None, state: ListState | None) -> None:
    """Store tonight's lists for the next build (:func:`last_lists`)."""
    if cache is None or cache.directory is None or state is None:
        return
    h = hashlib.sha256(state.frame.encode())
    for a in (state.codes, state.top, state.top_val):
        h.update(a.tobytes())
    key = h.hexdigest()
    if cache.get(key) is None:
        cache.put(key, state.to_state())
    cache.set_pointer(LISTS_POINTER, {"key": key})


def write_published(
    out_dir: Path,
    catalog: Catalog,
    emb: Embedding,
    *,
    compact: CompactOptions,
    top_n: int | None,
    cache: Cache | None = None,
    previous: Path | None = None,
    note: Callable[[str], None] | None = None,
    **fold: Any,
) -> dict[str, int]:
    """Every published embeddings file: :func:`mangarec.publish.write_embeddings`' and the
    compact form For-you loads: version 4 (:mod:`mangarec.compact`), or version 7
    (:mod:`mangarec.lean`) when ``compact.candidates`` > 0 (built first, so nothing is written if
    it fails);
    ``{relative path: bytes}``. ``fold`` is the fold-in both documents carry (``reg``, ``mode``,
    ``build_date``, ``alpha``, ``schedule``, as for ``write_embeddings``). Its own module so that
    the compact forms depend on the published one and this on all three, never both ways (no
    import cycle). Version 7's candidate lists are kept from the last build's (``cache``) where
    they cannot have changed (:mod:`mangarec.taste_lists`), and its files that come out
    byte-identical to the site being replaced (``previous``) are hard links to them; ``note`` is
    told how many."""
    c = compact
    if c.candidates > 0:
        L = lists_of(
            catalog,
            emb,
            candidates=c.candidates,
            kernel_reg=c.kernel_reg or None,
            bits=c.bits,
            last=last_lists(cache),
            **fold,
        )
        titles = build_lean(catalog, emb, lists=L)
        sizes = write_embeddings(out_dir, catalog, emb, top_n=top_n, **fold)
        written = write_lean(out_dir, *titles, previous=previous)
        sizes.update(written)
        keep_lists(cache, L.state)
        if note is not None and (L.kept or written.linked):
            note(
                f"write:embeddings: {L.kept:,} of {len(L.ids):,} titles' candidate lists kept from the last build, "
                f"{written.linked:,} taste files unchanged, linked"
            )
        return sizes
    small = build_compact(catalog, emb, dims=c.dims, bits=c.bits, recommend_n=c.titles, shard_size=c.shard_size, **fold)
    sizes = write_embeddings(out_dir, catalog, emb, top_n=top_n, **fold)
    sizes.update(write_compact(out_dir, *small))
    return sizes

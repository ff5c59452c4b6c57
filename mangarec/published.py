"""Every embeddings file a build publishes: the full document (:mod:`mangarec.publish`) and the
compact form For-you loads first (version 4, :mod:`mangarec.compact`, or version 7,
:mod:`mangarec.lean`), chosen by ``[publish] compact_*``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .compact import CompactOptions, build_compact, write_compact
from .lean import build_lean, write_lean
from .publish import write_embeddings

if TYPE_CHECKING:
    from .catalog import Catalog
    from .embedding import Embedding


def write_published(
    out_dir: Path, catalog: Catalog, emb: Embedding, *, compact: CompactOptions, top_n: int | None, **fold: Any
) -> dict[str, int]:
    """Every published embeddings file: :func:`mangarec.publish.write_embeddings`' and the
    compact form For-you loads: version 4 (:mod:`mangarec.compact`), or version 7
    (:mod:`mangarec.lean`) when ``compact.candidates`` > 0 (built first, so nothing is written if
    it fails);
    ``{relative path: bytes}``. ``fold`` is the fold-in both documents carry (``reg``, ``mode``,
    ``build_date``, ``alpha``, ``schedule``, as for ``write_embeddings``). Its own module so that
    the compact forms depend on the published one and this on all three, never both ways (no
    import cycle)."""
    c = compact
    if c.candidates > 0:
        titles = build_lean(catalog, emb, candidates=c.candidates, kernel_reg=c.kernel_reg or None, bits=c.bits, **fold)
        sizes = write_embeddings(out_dir, catalog, emb, top_n=top_n, **fold)
        sizes.update(write_lean(out_dir, *titles))
        return sizes
    small = build_compact(catalog, emb, dims=c.dims, bits=c.bits, recommend_n=c.titles, shard_size=c.shard_size, **fold)
    sizes = write_embeddings(out_dir, catalog, emb, top_n=top_n, **fold)
    sizes.update(write_compact(out_dir, *small))
    return sizes

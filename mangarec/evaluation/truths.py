"""Ground truths a catalog holds about which titles belong together, and a registry of them.

A ground truth is an ``(n_items, n_items)`` boolean csr matrix ``T``: ``T[i, j]`` says "``j``
is a right answer among ``i``'s neighbours". The null-model tests (:mod:`.nulltests`) score every
model's neighbour lists against each truth the catalog has:

``co-liked``
    (ratings) held-out co-likes: ``j`` is among the :data:`CO_LIKED_TOP` titles most often
    (cosine-normalised, at least :data:`CO_LIKED_MIN` users) liked by a user in the evaluation
    split's *test* likes while the other title of the pair is among that user's *training*
    likes. A model trained on ratings is refitted on the training split, so no model has seen a
    single one of these pairs.
``related``
    (``Item.related``, e.g. MangaDex) ``j`` is linked from ``i`` (sequel, adaptation, spin-off
    ...), in either direction.

Other truths (the content models' franchise links, ``matches`` lists) register with
:func:`register`: ``register("franchise", fn)`` with ``fn(catalog, split) -> csr | None``
(``split`` is the evaluation's :class:`~.protocol.Split` or ``None`` without ratings; return
``None`` when this catalog has no such truth). Every model is then tested against it and its
recall reported, beside the others.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog
from ..cooccurrence import top_k_of_product
from ..models._series_rule import link_graph
from .protocol import Split

#: Co-liked pairs kept per item.
CO_LIKED_TOP = 20
#: Users who must link a co-liked pair.
CO_LIKED_MIN = 2

#: ``truth(catalog, split or None) -> (n, n) bool csr, or None when absent``.
Truth = Callable[[Catalog, "Split | None"], "sp.csr_matrix | None"]

TRUTHS: dict[str, Truth] = {}


def register(name: str, fn: Truth) -> Truth:
    """Add a ground truth to :data:`TRUTHS` (replacing one of the same name)."""
    TRUTHS[name] = fn
    return fn


def co_liked(catalog: Catalog, split: Split | None) -> sp.csr_matrix | None:
    """The ``co-liked`` truth (held-out co-likes of the split), ``(n, n)`` bool csr."""
    if split is None or split.empty:
        return None
    tr = split.likes("train")
    te = sp.csr_matrix(split.test, dtype=np.float64)
    pop = np.asarray((tr + te).sum(axis=0)).ravel()
    inv = np.where(pop > 0, 1.0 / np.sqrt(np.maximum(pop, 1e-300)), 0.0)
    # cross co-likes (train likes x test likes, both ways), cosine-normalised, top per row
    both = sp.vstack([tr, te]).tocsr()
    swap = sp.vstack([te, tr]).tocsr()
    C = top_k_of_product(both, swap, CO_LIKED_TOP, row_scale=inv, col_scale=inv, min_value=CO_LIKED_MIN)
    if C.nnz == 0:
        return None
    C.data[:] = 1.0
    return sp.csr_matrix(C, dtype=bool)


def related(catalog: Catalog, split: Split | None = None) -> sp.csr_matrix | None:
    """The ``related`` truth: the catalog's links between its own titles, symmetrised (the
    series rule's link graph, :func:`mangarec.models._series_rule.link_graph`)."""
    g = link_graph(catalog)
    return sp.csr_matrix(g, dtype=bool) if g.nnz else None


register("co-liked", co_liked)
register("related", related)


def truths_of(catalog: Catalog, split: Split | None) -> dict[str, sp.csr_matrix]:
    """Every registered truth this catalog has, by name (registry order)."""
    out = {}
    for name, fn in TRUTHS.items():
        T = fn(catalog, split)
        if T is not None and T.nnz:
            out[name] = sp.csr_matrix(T, dtype=bool)
    return out

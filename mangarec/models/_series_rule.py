"""The series membership rule several models share: which titles are one series.

``members(catalog, rule)`` are the titles connected by related links (any number of hops up to
``rule.max_hops``), the other formats of the same work (``Catalog.work_of``) and the titles whose
title words have cosine at least ``rule.title_threshold``. The series model (:mod:`.series`)
lists them first; the co-like model, the hybrid and the evaluation's co-like protocol leave them
out, with the rule the series model of the same build used (:func:`series_rule`). A model module
does not import another model module (``tests/test_imports.py``), so the rule lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, shortest_path

from ..catalog import Catalog
from ._features import title_matrix
from .base import Deps

#: Largest component whose all-pairs hop counts are computed exactly (larger: BFS rows capped).
MAX_COMPONENT = 5000
#: The rule's defaults (``[models.series] title_threshold`` and ``max_hops``).
TITLE_THRESHOLD = 0.7
MAX_HOPS = 6


class Rule(Protocol):
    """What :func:`members` reads of a rule: :class:`SeriesRule`, or the series model's ``Params``."""

    @property
    def title_threshold(self) -> float: ...

    @property
    def max_hops(self) -> int: ...


@dataclass(frozen=True)
class SeriesRule:
    """A membership rule: the title-word cosine from which two titles are one series, and the
    longest path over related links that still links two titles."""

    title_threshold: float = TITLE_THRESHOLD
    max_hops: int = MAX_HOPS


def link_graph(catalog: Catalog) -> sp.csr_matrix:
    """Undirected 0/1 adjacency ``(n, n)`` of every related link between catalog items."""
    index = catalog.index
    rows, cols = [], []
    for i, item in enumerate(catalog.items):
        for r in item.related:
            j = index.get(r.id)
            if j is not None and j != i:
                rows.append(i)
                cols.append(j)
    n = len(catalog)
    g = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    g = ((g + g.T) > 0).astype(np.float64)
    return sp.csr_matrix(g)


def hop_scores(graph: sp.csr_matrix, max_hops: int, only: np.ndarray | None = None) -> sp.csr_matrix:
    """``1 / hops(i, j)`` for every pair connected within ``max_hops`` (``(n, n)`` csr, no
    diagonal); with ``only`` (``(n,)`` bool), for the pairs of the components holding one of those
    items only (a warm night's: :mod:`._series_warm`)."""
    n = graph.shape[0]
    _, label = connected_components(graph, directed=False)
    sizes = np.bincount(label)
    rows, cols, vals = [], [], []
    comps = np.flatnonzero(sizes > 1)
    for comp in comps if only is None else np.intersect1d(comps, label[only]):
        members = np.flatnonzero(label == comp)
        sub = graph[members][:, members]
        if len(members) > MAX_COMPONENT:  # pragma: no cover - no real catalog has one this big
            d = shortest_path(sub, directed=False, unweighted=True, indices=np.arange(MAX_COMPONENT))
            src = np.arange(MAX_COMPONENT)
        else:
            d = shortest_path(sub, directed=False, unweighted=True)
            src = np.arange(len(members))
        r, c = np.nonzero((d >= 1) & (d <= max_hops))
        rows.append(members[src[r]])
        cols.append(members[c])
        vals.append(1.0 / d[r, c])
    if not rows:
        return sp.csr_matrix((n, n))
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def series_rule(deps: Deps) -> Rule:
    """The membership rule (``title_threshold``, ``max_hops``) of the series model in ``deps``
    (its :attr:`~mangarec.embedding.Embedding.membership`; the defaults without it), so that a
    list leaving the series out leaves out exactly the series that list shows."""
    s = deps.get("series")
    if s is None:
        return SeriesRule()
    if s.membership is None:
        raise ValueError("the series model's embedding has no membership (its fit must set Embedding.membership)")
    return s.membership


def series_members(catalog: Catalog, deps: Deps) -> sp.csr_matrix:
    """:func:`members` under the rule of the series model in ``deps`` (:func:`series_rule`):
    that model's own member matrix when it was fitted cold on the same items (the series model
    computes exactly this matrix: no need to compute it twice), else computed here."""
    from ._warm import term

    s = deps.get("series")
    if s is not None and s.warm is None and tuple(s.item_ids) == tuple(catalog.ids):
        mem = term(s.similarity, "member")
        if mem is not None:
            return mem.matrix
    return members(catalog, series_rule(deps))


def members(
    catalog: Catalog, rule: Rule, hops: sp.csr_matrix | None = None, titles: sp.csr_matrix | None = None
) -> sp.csr_matrix:
    """The series membership under ``rule``: ``(n, n)`` 0/1 csr, symmetric, no diagonal (see the
    module docstring); ``hops`` and ``titles``: :func:`hop_scores` and the title matrix, if the caller has them."""
    n = len(catalog)
    h = hop_scores(link_graph(catalog), rule.max_hops) if hops is None else hops
    t = title_matrix(catalog) if titles is None else titles
    sim = sp.csr_matrix(t @ t.T)
    sim.data = (sim.data >= rule.title_threshold - 1e-9).astype(np.float64)
    sim.eliminate_zeros()  # most pairs sharing a title word are below the threshold: drop them now
    work = catalog.work_of
    order = np.argsort(work, kind="stable")
    ws = work[order]
    starts = np.flatnonzero(np.r_[True, ws[1:] != ws[:-1]])
    counts = np.diff(np.r_[starts, n])
    wr, wc = [], []
    for s, c in zip(starts[counts > 1], counts[counts > 1]):
        g = order[s : s + c]
        wr.append(np.repeat(g, c))
        wc.append(np.tile(g, c))
    same_work = sp.csr_matrix(
        (np.ones(sum(len(x) for x in wr)), (np.concatenate(wr) if wr else [], np.concatenate(wc) if wc else [])),
        shape=(n, n),
    )
    m = ((h > 0) + (sim > 0) + (same_work > 0)) > 0
    m = sp.csr_matrix(m, dtype=np.float64)
    m.setdiag(0)
    m.eliminate_zeros()
    return m

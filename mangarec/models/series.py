"""Same series: the catalog's related links, plus title and text similarity.

"Same series" is its own list, apart from "Similar titles" (:mod:`.hybrid`, which leaves the
series out, as MangaDex's own similar lists do). For items ``i, j``::

    s(i, j) = member_bonus · [j ∈ series(i)]
            + link_weight · 1 / hops(i, j)          (0 if not connected by related links)
            + title_weight · cos(title words)  + char_weight · cos(title character 3-grams)
            + text_weight · cos(description tf-idf) + tag_weight · Jaccard(tags)

``hops`` is the shortest path over **all** of the catalog's related links (sequel, spin-off,
adaptation, doujinshi ...), taken as undirected, up to ``max_hops``. ``series(i)``, the
**members**, are the items connected to ``i`` by related links (any number of hops up to
``max_hops``), the other formats of the same work (``Catalog.work_of``) and the items whose title
words have cosine at least ``title_threshold`` with ``i``'s (:func:`members`). Members score at
least ``member_bonus`` and come first; the rest of the list is ordered by the same similarity, so
a catalog without links (anime from MyAnimeList) still gets a series list from titles alone.
The title page shows the members; ``info["member_score"]`` is the score that tells them apart.

The weights were chosen on a validation half of MangaDex's franchise links, with that half removed
from the input, and are reported on the other half, likewise removed (``benchmarks/bench_content.py``:
franchise recall@20 0.77 on both halves). One exception: a link weight of 0 scored 0.005 more on
the hidden validation links (within the sampling noise) but 0.025 less with every link as input,
which is what the title page shows; the weight stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, shortest_path

from ..catalog import Catalog
from ..embedding import Embedding, FitState
from ..schema import bounded, key
from ..similarity import PairScores, SparseCosine, TagJaccard, Weighted
from ._warm import Rows, fit_vocabulary, term
from .base import ModelSpec
from .text import (
    _tfidf,
    _unit_rows,
    description_field,
    fields_of,
    fields_state,
    title_field,
    title_matrix,
    title_texts,
    warm_rows,
)

#: Largest component whose all-pairs hop counts are computed exactly (larger: BFS rows capped).
MAX_COMPONENT = 5000


@dataclass(frozen=True)
class Params:
    """``[models.series]``: same series, from related links and title / text similarity."""

    member_bonus: float = key(
        10.0, "Score added for members (linked, same work, near-equal title): they come first.", bounded(0, 1e3)
    )
    link_weight: float = key(
        2.7,
        "Weight of 1 / hops over the related links (orders the members: a sequel before a title four links away).",
        bounded(0, 1e3),
    )
    max_hops: int = key(6, "Longest path over related links that still links two items.", bounded(1, 100))
    title_weight: float = key(0.3, "Weight of the title-word cosine.", bounded(0, 1e3))
    char_weight: float = key(1.0, "Weight of the title character-3-gram cosine.", bounded(0, 1e3))
    text_weight: float = key(3.7, "Weight of the description tf-idf cosine.", bounded(0, 1e3))
    tag_weight: float = key(0.6, "Weight of the tag-set Jaccard.", bounded(0, 1e3))
    title_threshold: float = key(0.7, "Title-word cosine from which two titles are the same series.", bounded(0, 1))


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


def hop_scores(graph: sp.csr_matrix, max_hops: int) -> sp.csr_matrix:
    """``1 / hops(i, j)`` for every pair connected within ``max_hops`` (``(n, n)`` csr, no diagonal)."""
    n = graph.shape[0]
    _, label = connected_components(graph, directed=False)
    sizes = np.bincount(label)
    rows, cols, vals = [], [], []
    for comp in np.flatnonzero(sizes > 1):
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


def char_matrix(catalog: Catalog) -> sp.csr_matrix:
    """Unit tf-idf rows of the titles' character 3-grams (``char_wb``, in >= 2 titles)."""
    texts = title_texts(catalog.items)
    return _unit_rows(_tfidf(texts, analyzer="char_wb", ngram_range=(3, 3), min_df=min(2, len(texts)))[0])


def series_rule(deps: Mapping[str, Any]) -> Params:
    """The membership rule (``title_threshold``, ``max_hops``) of the series model in ``deps``
    (its ``info``; the defaults without it), so that a list leaving the series out leaves out
    exactly the series that list shows."""
    info = dict(deps["series"].info) if "series" in deps else {}
    return Params(
        title_threshold=float(info.get("title_threshold", Params.title_threshold)),
        max_hops=int(info.get("max_hops", Params.max_hops)),
    )


def members(
    catalog: Catalog, params: Params, hops: sp.csr_matrix | None = None, titles: sp.csr_matrix | None = None
) -> sp.csr_matrix:
    """The series membership: ``(n, n)`` 0/1 csr, symmetric, no diagonal (see the module doc)."""
    n = len(catalog)
    h = hop_scores(link_graph(catalog), params.max_hops) if hops is None else hops
    t = title_matrix(catalog) if titles is None else titles
    sim = sp.csr_matrix(t @ t.T)
    sim.data = (sim.data >= params.title_threshold - 1e-9).astype(np.float64)
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


def fit(catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any] | None = None) -> Embedding:
    """The same-series scorer (see the module docstring).

    Returns
    -------
    Embedding
        ``similarity``: :class:`~mangarec.similarity.Weighted`; ``vectors``: ``(n, T)`` float32
        unit tag rows (dense coordinates for the map).
    """
    titles, tv = title_field(catalog)
    texts = title_texts(catalog.items)
    chars, cv = fit_vocabulary(texts, analyzer="char_wb", ngram_range=(3, 3), min_df=min(2, len(texts)))
    fields = {"title": tv, "char": cv}
    description = None
    if params.text_weight and any(i.description.strip() for i in catalog.items):
        description, fields["description"] = description_field(catalog)
    return _scorer(catalog, params, titles, _unit_rows(chars), description, fields_state(fields))


def _scorer(
    catalog: Catalog,
    params: Params,
    titles: sp.csr_matrix,
    chars: sp.csr_matrix | None,
    description: sp.csr_matrix | None,
    state: FitState,
) -> Embedding:
    """The series embedding from its text fields' rows (the links, members and tags from ``catalog``)."""
    hops = hop_scores(link_graph(catalog), params.max_hops)
    mem = members(catalog, params, hops, titles)
    b = catalog.tag_matrix
    terms: list[tuple[float, Any]] = [(params.member_bonus, PairScores(mem))]
    labels = ["member"]
    if params.link_weight:
        terms.append((params.link_weight, PairScores(hops)))
        labels.append("links")
    terms.append((params.title_weight, SparseCosine(titles)))
    labels.append("title")
    if params.char_weight and chars is not None:
        terms.append((params.char_weight, SparseCosine(chars)))
        labels.append("title characters")
    if description is not None:
        terms.append((params.text_weight, SparseCosine(description)))
        labels.append("description")
    if params.tag_weight and b.shape[1]:
        terms.append((params.tag_weight, TagJaccard(b, np.ones(b.shape[1]))))
        labels.append("tags")
    dense = b.toarray().astype(np.float64)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    if dense.shape[1]:
        vectors = np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)
    else:
        vectors = np.zeros((len(catalog), 1))
    per_item = np.diff(mem.indptr)
    return Embedding(
        model="series",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        similarity=Weighted(tuple(terms), labels=tuple(labels)),
        info={
            "member_score": float(params.member_bonus) if params.member_bonus else None,
            "terms": labels,
            "linked_items": int(np.count_nonzero(np.diff(hops.indptr))),
            "items_with_members": int(np.count_nonzero(per_item)),
            "members_per_item": round(float(per_item.mean()) if len(per_item) else 0.0, 3),
            "title_threshold": float(params.title_threshold),
            "max_hops": int(params.max_hops),
        },
        state=state,
    )


def update(
    previous: Embedding, catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any], changed: np.ndarray
) -> Embedding | None:
    """Last night's words and idf of the title, title-character and description fields: the
    changed titles' rows are their text weighted as last night's, every other row last night's;
    the links, members and tags are exact (pairwise, recomputed)."""
    st, sim = previous.state, previous.similarity
    if st is None or "title" not in st.meta:
        return None
    rows = Rows.of(previous.item_ids, catalog.ids, changed)
    items = [catalog.items[p] for p in rows.todo]
    texts = title_texts(items)

    def field(label: str, name: str, fresh: list[str]) -> sp.csr_matrix | None:
        old = term(sim, label)
        if name not in st.meta or not isinstance(old, SparseCosine):
            return None
        (vocabulary,) = fields_of(st, name)
        return rows.sparse(old.matrix, warm_rows(vocabulary, fresh))

    titles = field("title", "title", texts)
    chars = field("title characters", "char", texts)
    description = field("description", "description", [i.description for i in items])
    if (
        titles is None
        or (chars is None) != (not params.char_weight)
        or (description is None) != ("description" not in st.meta)
    ):
        return None
    return _scorer(catalog, params, titles.astype(np.float64), chars, description, st)


SPEC = ModelSpec(
    name="series",
    label="Same series",
    summary="The catalog's related links and near-equal titles first, then title and text similarity.",
    params=Params,
    fit=fit,
    update=update,
    needs=frozenset({"tags"}),
    reads=frozenset({"titles", "links", "descriptions"}),
    order=70,
    role=(
        "reads the related links, so its franchise recall is not a held-out figure (docs/models.md "
        "has it with half the links hidden)"
    ),
    mapped=False,
    apart=True,
)

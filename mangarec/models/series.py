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
The title page shows the members; ``Embedding.membership`` carries the score that tells them
apart and the rule (``title_threshold``, ``max_hops``) the models leaving the series out apply.

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

from ..catalog import Catalog
from ..embedding import Embedding, FitState, Membership
from ..schema import bounded, key
from ..similarity import PairScores, SparseCosine, TagJaccard, Weighted
from ._features import description_field, fields_of, fields_state, tfidf, title_field, title_texts, unit_rows, warm_rows
from ._series_rule import MAX_HOPS, TITLE_THRESHOLD, hop_scores, link_graph, members
from ._series_warm import warm_hops, warm_members
from ._warm import Rows, fit_vocabulary, term
from .base import ModelSpec


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
    max_hops: int = key(MAX_HOPS, "Longest path over related links that still links two items.", bounded(1, 100))
    title_weight: float = key(0.3, "Weight of the title-word cosine.", bounded(0, 1e3))
    char_weight: float = key(1.0, "Weight of the title character-3-gram cosine.", bounded(0, 1e3))
    text_weight: float = key(3.7, "Weight of the description tf-idf cosine.", bounded(0, 1e3))
    tag_weight: float = key(0.6, "Weight of the tag-set Jaccard.", bounded(0, 1e3))
    title_threshold: float = key(
        TITLE_THRESHOLD, "Title-word cosine from which two titles are the same series.", bounded(0, 1)
    )


def char_matrix(catalog: Catalog) -> sp.csr_matrix:
    """Unit tf-idf rows of the titles' character 3-grams (``char_wb``, in >= 2 titles)."""
    texts = ["\n".join((i.title, *i.alt_titles)) for i in catalog.items]
    return unit_rows(tfidf(texts, analyzer="char_wb", ngram_range=(3, 3), min_df=min(2, len(texts)))[0])


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
    return _scorer(catalog, params, titles, unit_rows(chars), description, fields_state(fields))


def _scorer(
    catalog: Catalog,
    params: Params,
    titles: sp.csr_matrix,
    chars: sp.csr_matrix | None,
    description: sp.csr_matrix | None,
    state: FitState,
    hops: sp.csr_matrix | None = None,
    mem: sp.csr_matrix | None = None,
) -> Embedding:
    """The series embedding from its text fields' rows (the links, members and tags from
    ``catalog``, or the ``hops`` and members ``mem`` a warm night updated)."""
    hops = hop_scores(link_graph(catalog), params.max_hops) if hops is None else hops
    mem = members(catalog, params, hops, titles) if mem is None else mem
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
    membership = Membership(
        title_threshold=float(params.title_threshold),
        max_hops=int(params.max_hops),
        member_score=float(params.member_bonus) if params.member_bonus else None,
    )
    return Embedding(
        model="series",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        similarity=Weighted(tuple(terms), labels=tuple(labels)),
        info={
            "member_score": membership.member_score,
            "terms": labels,
            "linked_items": int(np.count_nonzero(np.diff(hops.indptr))),
            "items_with_members": int(np.count_nonzero(per_item)),
            "members_per_item": round(float(per_item.mean()) if len(per_item) else 0.0, 3),
            "title_threshold": membership.title_threshold,
            "max_hops": membership.max_hops,
        },
        state=state,
        membership=membership,
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
    titles = sp.csr_matrix(titles, dtype=np.float64)
    titles.sort_indices()
    old_links, old_members = term(sim, "links"), term(sim, "member")
    if not isinstance(old_members, PairScores):
        return _scorer(catalog, params, titles, chars, description, st)
    to_new = np.full(len(previous.item_ids), -1, dtype=np.int64)
    kept = rows.source >= 0
    to_new[rows.source[kept]] = np.flatnonzero(kept)
    old = {iid: p for p, iid in enumerate(previous.item_ids)}  # a changed title's row moved too
    for p in rows.todo:
        q = old.get(catalog.ids[p])
        if q is not None:
            to_new[q] = p
    if isinstance(old_links, PairScores):
        hops = warm_hops(old_links.matrix, to_new, catalog, params.max_hops)
    else:
        hops = hop_scores(link_graph(catalog), params.max_hops)
    mem = warm_members(old_members.matrix, to_new, rows.todo, catalog, params, hops, titles)
    return _scorer(catalog, params, titles, chars, description, st, hops, mem)


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

"""Hybrid "similar titles": tags, text, title and a popularity prior, the series left out.

For items ``i, j``::

    s(i, j) = O_g(i, j) + text_weight · cos(description) + title_weight · cos(title)
              + colike_weight · c(i, j) + prior_weight · p_j      (−∞ for j in i's series)

* ``O_g`` is the group-weighted tag overlap ``Σ_{t∈i∩j} g_t / max(W_i, W_j)`` with
  ``W_i = Σ_{t∈i} g_t`` and ``g_t`` the weight of tag ``t``'s group (demographic, content,
  format, genre, theme) — or, with ``tag_norm = "jaccard"``, ``Σ g / (W_i + W_j − Σ g)``. The
  group weights say that two titles for different audiences (Shounen / Josei) or with different
  content ratings are further apart than two titles that differ in one theme.
* the text terms are the sparse tf-idf cosines of :mod:`.text` (description and title fields);
  a catalog without descriptions (MyAnimeList anime) has no description term.
* ``c`` is the similarity of :mod:`.colike`: tag overlap whose tag weights were fitted on what
  readers like together (the catalog's own ratings, else the shipped anime-recdb fit).
* ``p_j = min(1, q_j / prior_quantile)`` where ``q_j`` is the share of the catalog strictly less
  popular than ``j``: a bias term that holds back the titles nobody reads (on MangaDex the
  untranslated ones: 19% of the catalog, 1% of the reference lists), saturating so that it does
  not push the head of the catalog.
* the item's **series** (:func:`._series_rule.members`: linked by related links, the same work in
  another format, near-equal titles) is left out, as MangaDex's own similar lists do: it has its
  own list (:mod:`.series`).

The weights are chosen on **co-like agreement** first: on the validation half of anime-recdb's
cold-start titles (``benchmarks/bench_colike.py``: titles whose ratings are all held out, each
title's most co-liked titles beyond its series); MangaDex's ``matches`` lists (another project's
tf-idf + tag output) are a secondary reference that must stay at tag-set Jaccard's level, and the
franchise links choose nothing here (the series has its own list).

**Published vectors** (the visitor's fold-in in ``taste.js``, a dot product): ``vectors`` are
``[ĝ_i, √prior_weight · p_i]`` where ``ĝ_i`` is the unit group-weighted tag vector. With one
liked title ``l`` the visitor's ranking is ``cos_g(i, l) + prior_weight · p_l · p_i``: the hybrid
without its sparse text terms (which a browser cannot hold for 37k titles). Its own neighbour
list (the dot product of these vectors) is what a one-like visitor gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from ..catalog import TAG_GROUPS, Catalog
from ..embedding import Embedding, FitState
from ..schema import bounded, key, one_of, unit
from ..similarity import SparseCosine, TagJaccard, Weighted
from ._features import (
    description_field,
    fields_of,
    fields_state,
    fitted_field,
    title_field,
    title_texts,
    unit_tag_rows,
    warm_rows,
)
from ._series_rule import members, series_members, series_rule
from ._warm import Rows, Vocabulary, term
from .base import ModelSpec, catalog_has


@dataclass(frozen=True)
class Params:
    """``[models.hybrid]``: similar titles from tags, text, title and a popularity prior."""

    demographic_weight: float = key(2.0, "Weight of demographic tags (Shounen, Josei ...).", bounded(0, 100))
    content_weight: float = key(8.0, "Weight of content tags (Ecchi, Gore ...).", bounded(0, 100))
    format_weight: float = key(1.0, "Weight of format tags (Oneshot, Long Strip ...).", bounded(0, 100))
    genre_weight: float = key(1.0, "Weight of genre tags.", bounded(0, 100))
    theme_weight: float = key(1.0, "Weight of theme tags.", bounded(0, 100))
    tag_norm: str = key(
        "max", "Tag overlap over max(W_i, W_j) ('max') or over the union ('jaccard').", one_of("max", "jaccard")
    )
    text_weight: float = key(0.05, "Weight of the description tf-idf cosine.", bounded(0, 100))
    title_weight: float = key(
        0.0,
        "Weight of the title-word cosine (titles mostly link a series, which this list leaves out).",
        bounded(0, 100),
    )
    colike_weight: float = key(2.0, "Weight of the co-like-learned tag similarity (the colike model).", bounded(0, 100))
    prior_weight: float = key(0.4, "Weight of the popularity prior p_j (a bias on the candidate).", bounded(0, 100))
    prior_quantile: float = key(0.2, "Popularity quantile from which the prior is 1.", unit)
    leave_out_series: bool = key(True, "Leave the item's own series out (it has its own list).")


def group_weights(catalog: Catalog, params: Params) -> np.ndarray:
    """``(T,)`` weight of every tag of ``catalog.tag_vocabulary`` (its group's weight; 1 if unknown)."""
    by_group = {g: float(getattr(params, f"{g}_weight")) for g in TAG_GROUPS}
    return np.array([by_group.get(catalog.tag_group_of.get(t, ""), 1.0) for t in catalog.tag_vocabulary])


def prior(popularity: np.ndarray, quantile: float) -> np.ndarray:
    """``p_j = min(1, q_j / quantile)``, ``q_j`` the share of items strictly less popular (``(n,)``)."""
    pop = np.asarray(popularity, dtype=np.float64)
    n = len(pop)
    if n == 0:
        return np.zeros(0)
    below = (rankdata(pop, method="min") - 1) / n
    if quantile <= 0:
        return np.ones(n)
    return np.minimum(1.0, below / quantile)


def fit(catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any]) -> Embedding:
    """The hybrid scorer and its published profile vectors (see the module docstring).

    ``deps["series"]`` is the series model of the same catalog: its ``info`` gives the
    membership rule (``title_threshold``, ``max_hops``) so that this list leaves out exactly
    the series that list shows.
    """
    fields: dict[str, Vocabulary] = {}
    description = title = None
    if params.text_weight and catalog_has(catalog, "descriptions"):  # the series model fits the same field
        description, fields["description"] = fitted_field(deps, "series", "description", catalog) or description_field(
            catalog
        )
    if params.title_weight:
        title, fields["title"] = title_field(catalog)
    exclude = series_members(catalog, deps) if params.leave_out_series else None
    p = prior(catalog.popularity, params.prior_quantile)
    popularity = np.sort(np.asarray(catalog.popularity, dtype=np.float64))
    state = fields_state(fields, prior=p, popularity=popularity)
    return _scorer(catalog, params, deps, description, title, exclude, p, state)


def _scorer(
    catalog: Catalog,
    params: Params,
    deps: Mapping[str, Any],
    description: sp.csr_matrix | None,
    title: sp.csr_matrix | None,
    exclude: sp.csr_matrix | None,
    p: np.ndarray,
    state: FitState,
) -> Embedding:
    """The hybrid embedding from its text fields' rows, the pairs it leaves out and the prior
    ``p`` ``(n,)`` (the tags and the co-likes from ``catalog`` and ``deps``)."""
    b = catalog.tag_matrix
    g = group_weights(catalog, params)
    terms: list[tuple[float, Any]] = [(1.0, TagJaccard(b, g, params.tag_norm))]
    labels = ["tags"]
    if description is not None:
        terms.append((params.text_weight, SparseCosine(description)))
        labels.append("description")
    if title is not None:
        terms.append((params.title_weight, SparseCosine(title)))
        labels.append("title")
    if params.colike_weight and "colike" in deps and deps["colike"].similarity is not None:
        terms.append((params.colike_weight, deps["colike"].similarity))
        labels.append("co-likes")
    tag_unit = unit_tag_rows(b, g)
    vectors = np.hstack([tag_unit, np.sqrt(params.prior_weight) * p[:, None]])
    return Embedding(
        model="hybrid",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        similarity=Weighted(tuple(terms), bias=params.prior_weight * p, exclude=exclude, labels=tuple(labels)),
        info={
            "terms": labels,
            "tag_norm": params.tag_norm,
            "group_weights": {grp: float(getattr(params, f"{grp}_weight")) for grp in TAG_GROUPS},
            "text_weight": float(params.text_weight),
            "title_weight": float(params.title_weight),
            "colike_weight": float(params.colike_weight),
            "prior_weight": float(params.prior_weight),
            "prior_quantile": float(params.prior_quantile),
            "left_out_pairs": int(exclude.nnz) if exclude is not None else 0,
        },
        state=state,
    )


def update(
    previous: Embedding, catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any], changed: np.ndarray
) -> Embedding | None:
    """Last night's words and idf of the description (and title) field: the changed titles'
    rows are their text weighted as last night's, every other row last night's; the tags, the
    co-likes are exact, a changed title's popularity prior is its quantile among last night's
    popularity (the others keep theirs), and the series left out is tonight's series model's
    members (``deps["series"]``, itself warm-updated)."""
    st, sim = previous.state, previous.similarity
    if st is None or "prior" not in st.arrays:
        return None
    rows = Rows.of(previous.item_ids, catalog.ids, changed)
    items = [catalog.items[k] for k in rows.todo]

    def field(label: str, texts: list[str]) -> sp.csr_matrix | None:
        old = term(sim, label)
        if label not in st.meta or not isinstance(old, SparseCosine):
            return None
        (vocabulary,) = fields_of(st, label)
        return rows.sparse(old.matrix, warm_rows(vocabulary, texts))

    description = field("description", [i.description for i in items])
    title = field("title", title_texts(items))
    if (description is None) != ("description" not in st.meta) or (title is None) != ("title" not in st.meta):
        return None
    exclude = None
    if params.leave_out_series:
        mem = term(deps["series"].similarity, "member") if "series" in deps else None
        exclude = mem.matrix if mem is not None else members(catalog, series_rule(deps))
    # the prior of a changed title: its quantile among last night's popularity
    ranked = st.arrays["popularity"]
    below = np.searchsorted(ranked, np.asarray(catalog.popularity, dtype=np.float64)[rows.todo], side="left")
    fresh = (
        np.ones(len(rows.todo))
        if params.prior_quantile <= 0
        else np.minimum(1.0, below / max(len(ranked), 1) / params.prior_quantile)
    )
    p = rows.dense(st.arrays["prior"], fresh)
    return _scorer(catalog, params, deps, description, title, exclude, p, replace(st, arrays={**st.arrays, "prior": p}))


SPEC = ModelSpec(
    name="hybrid",
    label="Similar titles (hybrid)",
    summary="Group-weighted tags, co-like-learned tags, description text and a popularity prior; the series left out.",
    params=Params,
    fit=fit,
    update=update,
    needs=frozenset({"tags"}),
    reads=frozenset({"descriptions", "titles", "links", "popularity"}),
    depends=("series", "colike"),
    order=50,
    role="leaves the title's series out, as the reference lists do",
    publish_rank=15,
    published_as_fitted=True,  # unit tag block + one prior coordinate: a visitor's fold-in ranks as the hybrid does
)

"""Text model: sparse tf-idf of the title and the description, each its own field.

Neighbours are ranked by the cosine of the **sparse** tf-idf vectors (exact blocked search over
a :class:`~mangarec.similarity.SparseCosine`): the rare words that tie a series together
(character and place names) survive. A reduction to 64 dimensions loses exactly those: on
MangaDex it cut the franchise recall@20 from 0.64 to 0.12 (``benchmarks/bench_content.py``).
The truncated SVD is kept only as the model's dense coordinates (``vectors``: maps, UMAP).

Fields, each tf-idf over the catalog (sklearn ``TfidfVectorizer``: lower-cased, ``sublinear_tf``
(1 + log tf), smooth idf, rows L2-normalised):

* **title**: the title and alternative titles, every run of letters (``(?u)\\b[^\\W\\d_]+\\b``:
  one-letter words count, no stop words, ``min_df = 1``; digits do not: "Vol. 2" or "Title 0"
  would otherwise tie unrelated titles through a rare token);
* **description**: runs of two or more letters (``(?u)\\b[^\\W\\d_]{2,}\\b``), English stop words
  removed, words in at least ``min_df`` items and at most a share ``max_df`` of them, at most
  ``max_features`` most frequent. The
  description is plain text already cleaned by the loader (no BBCode, no link lists, no
  "descriptions in other languages" section: :mod:`mangarec.bbcode`).

An item's vector is ``[√w · t̂, √(1 − w) · d̂]`` with ``w = title_weight`` and ``t̂``, ``d̂`` the
unit field vectors, renormalised to unit length; so for two items with both fields
``cos = w · cos_title + (1 − w) · cos_description``, and an item without a description is
its title alone. An item with neither (no word) is a zero row: similar to nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog
from ..embedding import Embedding
from ..schema import bounded, key, unit
from ..similarity import SparseCosine
from ._features import (
    description_field,
    fields_of,
    fields_state,
    title_field,
    title_texts,
    unit_rows,
    warm_rows,
)
from ._features import description_matrix as description_matrix  # the tests' and benchmarks' name
from ._features import title_matrix as title_matrix
from ._svd import truncated_svd
from ._warm import Rows, Vocabulary
from .base import ModelSpec


@dataclass(frozen=True)
class Params:
    """``[models.text]``: sparse tf-idf of title and description (title words as their own field)."""

    title_weight: float = key(
        0.3,
        "Weight w of the title field: cos = w·cos(title) + (1 − w)·cos(description) "
        "(chosen on the validation half of MangaDex's franchise links).",
        unit,
    )
    min_df: int = key(2, "A description word must occur in this many items to count.", bounded(1, 1_000_000))
    max_features: int = key(200000, "Largest description vocabulary kept (most frequent words).", bounded(1, 2_000_000))
    max_df: float = key(
        0.05,
        "Description words in more than this share of the items are dropped: the "
        "~70 such words cost 40% of the search and link nothing (MangaDex: franchise "
        "recall 0.682 with them, 0.678 without).",
        unit,
    )
    dim: int = key(
        64,
        "Dimension of the SVD kept as dense coordinates (maps only; neighbours use the sparse vectors).",
        bounded(1, 1024),
    )


def combine(t: sp.csr_matrix, d: sp.csr_matrix, title_weight: float) -> sp.csr_matrix:
    """The model's unit rows ``[√w · t̂, √(1 − w) · d̂]`` (float32) of the field rows."""
    w = float(title_weight)
    return sp.csr_matrix(unit_rows(sp.hstack([np.sqrt(w) * t, np.sqrt(1.0 - w) * d], format="csr")), dtype=np.float32)


def text_matrix(catalog: Catalog, params: Params) -> tuple[sp.csr_matrix, dict[str, int]]:
    """The model's unit rows ``(n, V_title + V)`` float32 and vocabulary facts."""
    x, facts, _ = _text_fit(catalog, params)
    return x, facts


def _text_fit(catalog: Catalog, params: Params) -> tuple[sp.csr_matrix, dict[str, int], tuple[Vocabulary, Vocabulary]]:
    t, tv = title_field(catalog)
    d, dv = description_field(catalog, params.min_df, params.max_features, params.max_df)
    x = combine(t, d, params.title_weight)
    facts = {
        "title_vocabulary": int(t.shape[1]),
        "vocabulary": int(d.shape[1]),
        "without_description": int(np.count_nonzero(np.diff(d.indptr) == 0)),
        "empty": int(np.count_nonzero(np.diff(x.indptr) == 0)),
    }
    return x, facts, (tv, dv)


def fit(catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any] | None = None) -> Embedding:
    """Sparse text similarity, plus a truncated SVD as dense coordinates.

    Returns
    -------
    Embedding
        ``similarity``: :class:`~mangarec.similarity.SparseCosine` over ``(n, V)`` unit rows;
        ``vectors``: ``(n, k)`` float32 rows of ``U_k Σ_k`` (``k = min(dim, V, n) - …``, at least 1).
    """
    x, facts, (tv, dv) = _text_fit(catalog, params)
    svd = truncated_svd(x, params.dim, seed)
    vectors = np.asarray(x @ svd.V) if svd.s.size else np.zeros((len(catalog), 1))
    total = float(x.multiply(x).sum())
    return Embedding(
        model="text",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        similarity=SparseCosine(x),
        info={
            **facts,
            "title_weight": float(params.title_weight),
            "nnz_per_item": round(x.nnz / max(len(catalog), 1), 3),
            "map_dim": int(svd.s.shape[0]),
            "map_explained_variance": float((svd.s**2).sum() / total) if total > 0 else 0.0,
            "solver": svd.method,
        },
        state=fields_state({"title": tv, "description": dv}, V=svd.V),
    )


def update(
    previous: Embedding, catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any], changed: np.ndarray
) -> Embedding | None:
    """Last night's words, idf and SVD basis: the changed titles' rows are their text weighted
    as last night's, every other row is last night's."""
    if previous.state is None or not isinstance(previous.similarity, SparseCosine):
        return None
    tv, dv = fields_of(previous.state, "title", "description")
    rows = Rows.of(previous.item_ids, catalog.ids, changed)
    items = [catalog.items[p] for p in rows.todo]
    t = warm_rows(tv, title_texts(items))
    d = warm_rows(dv, [i.description for i in items])
    x = combine(t, d, params.title_weight)
    V = previous.state.arrays["V"]
    fresh = np.asarray(x @ V) if V.shape[1] else np.zeros((len(items), 1))
    return replace(
        previous,
        item_ids=catalog.ids,
        vectors=rows.dense(previous.vectors, fresh),
        similarity=SparseCosine(rows.sparse(previous.similarity.matrix, x)),
    )


SPEC = ModelSpec(
    name="text",
    label="Text (title + description)",
    summary="Sparse tf-idf of the title and the description, compared word for word.",
    params=Params,
    fit=fit,
    update=update,
    needs=frozenset({"descriptions"}),
    reads=frozenset({"titles"}),
    order=40,
    role="baseline: raw title + description tf-idf cosine",
)

"""Item features several models build on: unit tag rows and tf-idf of titles and descriptions.

A model module does not import another model module (``tests/test_imports.py``): what two models
share lives here, beside :mod:`._series_rule` (the series membership) and :mod:`._solve`
("solve these users").

* :func:`unit_tag_rows`: the binary (optionally column-weighted) tag matrix with unit rows
  (Jaccard's, the co-like model's and the hybrid's vectors);
* :func:`title_matrix`, :func:`description_matrix`: unit tf-idf rows of the titles (with their
  alternative titles: every run of letters, :data:`TITLE_TOKEN_PATTERN`) and of the
  descriptions (runs of two or more letters, :data:`TOKEN_PATTERN`, English stop words out),
  as :mod:`.text` describes them; :func:`tfidf` and :func:`unit_rows` under them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog, Item
from ..embedding import FitState
from ._warm import Vocabulary, fit_vocabulary
from .base import Deps

TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"
TITLE_TOKEN_PATTERN = r"(?u)\b[^\W\d_]+\b"


def unit_tag_rows(tags: sp.spmatrix, weights: np.ndarray | None = None) -> np.ndarray:
    """``(n, T)`` float64 unit rows of the (optionally column-weighted) binary tag matrix; zero
    rows stay zero (items without tags)."""
    dense = np.asarray(sp.csr_matrix(tags).toarray(), dtype=np.float64)
    if weights is not None:
        dense *= np.asarray(weights, dtype=np.float64)[None, :]
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    return np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)


def unit_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    """``x`` (csr) with each row scaled to unit L2 length (float64); zero rows stay zero."""
    x = sp.csr_matrix(x, dtype=np.float64)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inv) @ x)


def tfidf(texts: list[str], **kw: Any) -> tuple[sp.csr_matrix, int]:
    """sklearn's ``TfidfVectorizer`` (lower-cased, sublinear tf, ``kw``) over ``texts``: the
    ``(n, V)`` csr and ``V`` (an empty vocabulary gives ``(n, 0)``)."""
    x, vocabulary = fit_vocabulary(texts, **kw)
    return x, len(vocabulary.words)


def title_texts(items: Sequence[Item]) -> list[str]:
    """The title field's text of each item: its title and alternative titles."""
    return ["\n".join((i.title, *i.alt_titles)) for i in items]


def title_field(catalog: Catalog) -> tuple[sp.csr_matrix, Vocabulary]:
    """:func:`title_matrix` and its fitted :class:`~._warm.Vocabulary` (a warm night's words)."""
    x, vocabulary = fit_vocabulary(title_texts(catalog.items), token_pattern=TITLE_TOKEN_PATTERN)
    return unit_rows(x), vocabulary


def title_matrix(catalog: Catalog) -> sp.csr_matrix:
    """Unit tf-idf rows of every item's title and alternative titles, ``(n, V_title)``."""
    return title_field(catalog)[0]


def description_field(
    catalog: Catalog, min_df: int = 2, max_features: int | None = None, max_df: float = 0.05
) -> tuple[sp.csr_matrix, Vocabulary]:
    """:func:`description_matrix` and its fitted :class:`~._warm.Vocabulary`."""
    texts = [i.description for i in catalog.items]
    n = max(len(texts), 1)
    # in a small catalog a share is a handful of documents: never drop a word found in <= 20
    kw: dict[str, Any] = dict(
        token_pattern=TOKEN_PATTERN,
        stop_words="english",
        min_df=min(min_df, n),
        max_features=max_features,
        max_df=max(float(max_df), min(1.0, 20.0 / n)) if max_df < 1 else 1.0,
    )
    x, vocabulary = fit_vocabulary(texts, **kw)
    return unit_rows(x), vocabulary


def description_matrix(
    catalog: Catalog, min_df: int = 2, max_features: int | None = None, max_df: float = 0.05
) -> sp.csr_matrix:
    """Unit tf-idf rows of every item's description, ``(n, V)`` (zero rows without one)."""
    return description_field(catalog, min_df, max_features, max_df)[0]


def fitted_field(deps: Deps, model: str, label: str, catalog: Catalog) -> tuple[Any, Vocabulary] | None:
    """The text field ``label`` (its term's rows and its :class:`~._warm.Vocabulary`) as the
    dependency ``model`` fitted it cold on the items of ``catalog``, for a model that would fit
    the same field again with the same options (``None`` when that fit has no such field, or was
    a warm update). The rows are the term's (float32, as every sparse-cosine term stores them)."""
    from ._warm import term

    emb = deps.get(model)
    if emb is None or emb.warm is not None or emb.state is None or tuple(emb.item_ids) != tuple(catalog.ids):
        return None
    rows = term(emb.similarity, label)
    if rows is None or label not in emb.state.meta:
        return None
    return rows.matrix, fields_of(emb.state, label)[0]


def warm_rows(vocabulary: Vocabulary, texts: Sequence[str]) -> sp.csr_matrix:
    """Unit tf-idf rows of ``texts`` with a fitted field's words and idf (a warm night's rows)."""
    return unit_rows(vocabulary.transform(texts))


def fields_state(fields: Mapping[str, Vocabulary], **arrays: np.ndarray) -> FitState:
    """A :class:`~mangarec.embedding.FitState` of fitted text fields (plus ``arrays``)."""
    return FitState(
        {**arrays, **{f"{k}.idf": v.idf for k, v in fields.items()}}, {k: v.meta() for k, v in fields.items()}
    )


def fields_of(state: FitState, *names: str) -> tuple[Vocabulary, ...]:
    """The fitted text fields ``names`` of a :func:`fields_state`."""
    return tuple(Vocabulary.from_parts(state.meta[k], state.arrays[f"{k}.idf"]) for k in names)

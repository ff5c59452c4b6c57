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

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog

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
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(lowercase=True, sublinear_tf=True, dtype=np.float64, **kw)
    try:
        x = vec.fit_transform(texts)
    except ValueError:  # empty vocabulary
        return sp.csr_matrix((len(texts), 0)), 0
    return sp.csr_matrix(x), len(vec.vocabulary_)


def title_matrix(catalog: Catalog) -> sp.csr_matrix:
    """Unit tf-idf rows of every item's title and alternative titles, ``(n, V_title)``."""
    texts = ["\n".join((i.title, *i.alt_titles)) for i in catalog.items]
    return unit_rows(tfidf(texts, token_pattern=TITLE_TOKEN_PATTERN)[0])


def description_matrix(
    catalog: Catalog, min_df: int = 2, max_features: int | None = None, max_df: float = 0.05
) -> sp.csr_matrix:
    """Unit tf-idf rows of every item's description, ``(n, V)`` (zero rows without one)."""
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
    return unit_rows(tfidf(texts, **kw)[0])

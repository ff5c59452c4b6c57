"""Description model: tf-idf of title + description, reduced by truncated SVD.

The text of an item is its title and its description. **An item with an empty description
uses its title and its tag names instead** (counted as ``fallback`` in ``info``), so it still
lands near items whose descriptions use those words; the hybrid model ignores the text part
of such items altogether.

Tokens: lower-cased (accents kept: stripping them cost 2 s on MangaDex for little gain),
runs of two or more Unicode letters
(``(?u)\\b[^\\W\\d_]{2,}\\b``: no digits, no underscores), sklearn's English stop words
removed. Weights: ``sublinear_tf`` (1 + log tf), smooth idf, rows L2-normalised (sklearn's
``TfidfVectorizer``), words kept if in at least ``min_df`` items, at most ``max_features``
most frequent. The sparse n×V matrix is reduced to ``dim`` components by a deterministic
truncated SVD (exact for small vocabularies, randomized with a fixed ``random_state``
otherwise): item vectors are rows of ``U_k Σ_k``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..catalog import Catalog, Item
from ..embedding import Embedding
from ..schema import bounded, key
from .base import ModelSpec
from ._svd import truncated_svd

TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"


@dataclass(frozen=True)
class Params:
    """``[models.text]``: tf-idf of title + description, reduced by SVD."""

    dim: int = key(64, "SVD dimension of the text model.", bounded(1, 1024))
    max_features: int = key(50000, "Largest vocabulary kept (most frequent words).", bounded(1, 2_000_000))
    min_df: int = key(2, "A word must occur in this many items to count.", bounded(1, 1_000_000))


def item_text(item: Item) -> tuple[str, bool]:
    """The text an item is embedded from, and whether it is the tag fallback."""
    desc = item.description.strip()
    if desc:
        return f"{item.title}\n{desc}", False
    return f"{item.title}\n{' '.join(item.tag_list)}", True


def vectorize(catalog: Catalog, params: Params):
    """tf-idf matrix ``(n, V)`` csr float64, vocabulary (tuple of words), fallback count."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts, fallback = zip(*(item_text(i) for i in catalog.items)) if len(catalog) else ((), ())
    min_df = min(params.min_df, max(len(texts), 1))
    vec = TfidfVectorizer(
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
        stop_words="english",
        sublinear_tf=True,
        min_df=min_df,
        max_features=params.max_features,
        dtype=np.float64,
    )
    try:
        x = vec.fit_transform(texts)
        words = tuple(vec.get_feature_names_out())
    except ValueError:  # empty vocabulary (no word in min_df items)
        import scipy.sparse as sp

        x, words = sp.csr_matrix((len(texts), 0)), ()
    return x.tocsr(), words, int(sum(fallback))


def fit(catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any] | None = None) -> Embedding:
    """Text item vectors (see the module docstring).

    Returns
    -------
    Embedding
        ``vectors`` ``(n, k)`` float32, ``k = min(params.dim, vocabulary, n)``; no tag vectors.
    """
    x, words, fallback = vectorize(catalog, params)
    svd = truncated_svd(x, params.dim, seed)
    vectors = np.asarray(x @ svd.V) if svd.s.size else np.zeros((len(catalog), 1))
    total = float(x.multiply(x).sum())
    return Embedding(
        model="text",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        info={
            "dim": int(svd.s.shape[0]),
            "dim_requested": int(params.dim),
            "vocabulary": len(words),
            "fallback": fallback,
            "explained_variance": float((svd.s**2).sum() / total) if total > 0 else 0.0,
            "solver": svd.method,
        },
    )


SPEC = ModelSpec(
    name="text",
    label="Description text",
    summary="tf-idf of title and description, reduced by truncated SVD.",
    params=Params,
    fit=fit,
    needs=frozenset({"descriptions"}),
    order=40,
)

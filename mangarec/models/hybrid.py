"""Hybrid model: tags (LSI) and description (text model) in one vector.

With ``w = params.tag_weight``, ``t̂`` the L2-normalised LSI vector and ``x̂`` the
L2-normalised text vector, an item with a description is::

    h = [ √w · t̂ ,  √(1−w) · x̂ ]            (unit length)

so for two such items ``cos(h_i, h_j) = w · cos_tags + (1 − w) · cos_text``. An item with an
empty description falls back on its tags: ``h = [t̂, 0]`` (still unit length), so its cosine
with an item that has a description is ``√w · cos_tags`` and with another description-less
item ``cos_tags``. An item without tags but with a description is ``[0, x̂]``; with neither,
zero. The dimension is ``dim(LSI) + dim(text)``. No tag vectors (the text part has none).
"""
from __future__ import annotations

import math

import numpy as np

from ..catalog import Catalog
from ..config import HybridSection, LSISection, TextSection
from ..embedding import Embedding
from ..seeds import derive_seed


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def combine(tags: np.ndarray, text: np.ndarray, has_text: np.ndarray, tag_weight: float) -> np.ndarray:
    """The hybrid vectors.

    Parameters
    ----------
    tags, text:
        ``(n, d1)`` and ``(n, d2)`` item vectors.
    has_text:
        ``(n,)`` bool: the item has a description.
    tag_weight:
        ``w`` in ``[0, 1]``.

    Returns
    -------
    numpy.ndarray
        ``(n, d1 + d2)`` float64 (see the module docstring).
    """
    t, x = _unit(tags), _unit(text)
    has_tags = np.linalg.norm(t, axis=1) > 0
    has_text = np.asarray(has_text, dtype=bool) & (np.linalg.norm(x, axis=1) > 0)
    both = has_tags & has_text
    a = np.where(both, math.sqrt(tag_weight), 1.0)[:, None]
    c = np.where(both, math.sqrt(1.0 - tag_weight), 1.0)[:, None]
    return np.hstack([t * a, x * c * has_text[:, None]])


def fit(
    catalog: Catalog,
    params: HybridSection,
    seed: int,
    *,
    tags: Embedding | None = None,
    text: Embedding | None = None,
) -> Embedding:
    """Hybrid item vectors.

    ``tags`` / ``text`` are the LSI and text embeddings of the same catalog; when not given
    they are fitted with default parameters and seeds derived from ``seed``
    (``mangarec.models.fit_model`` passes the configured ones).
    """
    from . import lsi, text as text_model

    if tags is None:
        tags = lsi.fit(catalog, LSISection(), derive_seed(seed, "lsi"))
    if text is None:
        text = text_model.fit(catalog, TextSection(), derive_seed(seed, "text"))
    for e in (tags, text):
        if tuple(e.item_ids) != tuple(catalog.ids):
            raise ValueError(f"hybrid: the {e.model} embedding does not match the catalog's items")
    has_text = np.array([bool(i.description.strip()) for i in catalog.items], dtype=bool)
    vectors = combine(tags.vectors, text.vectors, has_text, params.tag_weight)
    return Embedding(
        model="hybrid",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        info={
            "dim": int(vectors.shape[1]),
            "tag_weight": float(params.tag_weight),
            "tag_model": tags.model,
            "tag_dim": int(tags.dim),
            "text_dim": int(text.dim),
            "tags_only": int((~has_text).sum()),
        },
    )

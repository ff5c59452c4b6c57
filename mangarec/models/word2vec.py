"""word2vec (CBOW) over tag sets, with gensim.

Every item's tag set is a "sentence". Tags are unordered, so each set is shuffled once
(deterministically, from the seed) and the context window covers the whole set
(``window`` = the largest set size, ``shrink_windows=False``): every tag is predicted from the
mean of all the other tags of its item. ``min_count=1`` keeps rare tags; ``sample=0`` (no
down-sampling: a tag set is short and every tag counts). ``negative = 0`` switches to
hierarchical softmax.

The vector size is ``params.dim`` or, when that is 0, ``2 ** round(log2(sqrt(T)))`` for ``T``
tags (√T rounded to the nearest power of two on a log scale; 83 MangaDex tags give 8).

An item's vector is the mean of its tags' vectors (zero for an item without tags); the tag
vectors are kept. Training uses one worker thread, the derived seed and a hash function that
does not depend on ``PYTHONHASHSEED``, so a fit is byte-for-byte reproducible.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog
from ..embedding import Embedding
from ..schema import bounded, key
from ..seeds import rng
from ._warm import Rows, same_tags
from .base import ModelSpec


@dataclass(frozen=True)
class Params:
    """``[models.word2vec]``: CBOW over tag sets (gensim, sg=0)."""

    dim: int = key(
        64,
        "Vector size; 0 means sqrt(number of tags) rounded to a power of 2. 64 was chosen on the "
        "validation half of MangaDex's franchise links and matches lists (8, the old default, trails "
        "it; see benchmarks/bench_content.py).",
        bounded(0, 1024),
    )
    epochs: int = key(20, "Training epochs.", bounded(1, 1000))
    negative: int = key(5, "Negative samples per positive (0 = hierarchical softmax).", bounded(0, 100))


def power_of_two_dim(n_tags: int) -> int:
    """``2 ** round(log2(sqrt(n_tags)))`` (at least 1): 83 → 8, 256 → 16, 10 → 4."""
    if n_tags <= 1:
        return 1
    return int(2 ** round(math.log2(math.sqrt(n_tags))))


def stable_hash(text: str) -> int:
    """A hash of a string that is the same in every process (CRC-32 of its UTF-8 bytes)."""
    return zlib.crc32(text.encode("utf-8"))


def sentences(catalog: Catalog, seed: int) -> list[list[str]]:
    """Each item's tags, shuffled with ``rng(seed, "shuffle")`` (items without tags left out)."""
    g = rng(seed, "shuffle")
    out = []
    for item in catalog.items:
        tags = list(item.tag_list)
        if not tags:
            continue
        order = g.permutation(len(tags))
        out.append([tags[k] for k in order])
    return out


def fit(catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any] | None = None) -> Embedding:
    """Train CBOW on the tag sets; items are the mean of their tag vectors.

    Returns
    -------
    Embedding
        ``vectors`` ``(n, dim)`` float32; ``tag_vectors`` ``(T, dim)`` float32 in
        ``catalog.tag_vocabulary`` order.
    """
    from gensim.models import Word2Vec

    vocab = catalog.tag_vocabulary
    dim = params.dim or power_of_two_dim(len(vocab))
    sents = sentences(catalog, seed)
    n = len(catalog)
    if not sents:
        return Embedding(
            model="word2vec",
            item_ids=catalog.ids,
            vectors=np.zeros((n, dim), np.float32),
            tag_ids=(),
            tag_vectors=np.zeros((0, dim), np.float32),
            info={"dim": dim, "tags": 0},
        )
    window = max(len(s) for s in sents)
    model = Word2Vec(
        sentences=sents,
        vector_size=dim,
        window=max(window, 1),
        shrink_windows=False,
        min_count=1,
        sg=0,
        cbow_mean=1,
        hs=0 if params.negative > 0 else 1,
        negative=params.negative,
        sample=0,
        epochs=params.epochs,
        workers=1,
        seed=int(seed) % (2**31),
        hashfxn=stable_hash,
    )
    tag_vectors = np.stack([model.wv[t] for t in vocab]).astype(np.float64)
    vectors = mean_of_tags(catalog.tag_matrix, tag_vectors)
    return Embedding(
        model="word2vec",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        tag_ids=tuple(vocab),
        tag_vectors=np.ascontiguousarray(tag_vectors, dtype=np.float32),
        info={
            "dim": int(dim),
            "window": int(window),
            "epochs": int(params.epochs),
            "negative": int(params.negative),
            "sentences": len(sents),
            "tags": len(vocab),
        },
    )


def mean_of_tags(b: sp.spmatrix, tag_vectors: np.ndarray) -> np.ndarray:
    """``(n, dim)`` float64: each row of the binary ``b`` ``(n, T)`` as the mean of its tags'
    vectors ``(T, dim)`` (zero for a row without tags)."""
    b = sp.csr_matrix(b).astype(np.float64)
    counts = np.asarray(b.sum(axis=1)).ravel()
    inv = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    return np.asarray(sp.diags(inv) @ b @ tag_vectors)


def update(
    previous: Embedding, catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any], changed: np.ndarray
) -> Embedding | None:
    """Last night's word vectors (the embedding's ``tag_vectors``, float32 as gensim trained
    them): the changed titles' rows are the mean of their tags' vectors, every other row is last
    night's; ``None`` when the tags changed."""
    if previous.tag_vectors is None or not same_tags(previous, catalog):
        return None
    rows = Rows.of(previous.item_ids, catalog.ids, changed)
    fresh = mean_of_tags(catalog.tag_matrix[rows.todo], previous.tag_vectors.astype(np.float64))
    return replace(previous, item_ids=catalog.ids, vectors=rows.dense(previous.vectors, fresh))


SPEC = ModelSpec(
    name="word2vec",
    label="word2vec (tags)",
    summary="word2vec CBOW over tag sets; a title is the mean of its tags' vectors.",
    params=Params,
    fit=fit,
    update=update,
    needs=frozenset({"tags"}),
    order=20,
)

"""Latent semantic indexing of tag sets: term weights, then truncated SVD.

Each item is a document whose terms are its tags (each once) and, optionally, the frequent
tag itemsets it contains (pairs or triples with at least ``min_support`` items).

Weighting ``"binary"`` (the default): ``w(t, d) = f(t, d) / ‖f(·, d)‖₂``, unit rows, every term
weight 1; the cosine of two items is then the cosine of their tag sets. Chosen on the
validation half of MangaDex's franchise links and ``matches`` lists: idf weighting *hurt*
both (common tags such as demographics carry most of what readers call similar), and so did
every dimension below the number of tags (``benchmarks/bench_content.py``: 16-d tf-idf LSI 0.16 /
0.27, full binary LSI 0.22 / 0.39, the tag-set Jaccard baseline 0.22 / 0.39). The default
``dim`` keeps every component (it is clamped to the rank).

Weighting ``"tfidf"``, exactly::

    tf(t, d)  = f(t, d) / Σ_t' f(t', d)        (f is 0/1, so tf = 1 / number of terms of d)
    idf(t)    = log(|D| / df(t))               (natural log; |D| counts every item)
    w(t, d)   = tf(t, d) · idf(t)

The n×T matrix ``W`` (rows = items) is factorised ``W ≈ U_k Σ_k V_kᵀ``. **Item vectors are the
rows of ``U_k Σ_k`` (= ``W V_k``).** A query ``q`` (a tf-idf term vector, shape ``(T,)``) is
folded in with ``q_k = Σ_k⁻¹ V_kᵀ q`` (:func:`project`): that is the textbook
``Σ_k⁻¹ U_kᵀ q`` with the term×document orientation of Deerwester et al. transposed, since
our rows are documents. A training document projects to its row of ``U_k``, i.e. its item
vector divided by ``Σ_k``; multiply by ``Σ_k`` (:func:`to_item_space`) to compare it with
item vectors. Tag vectors are one-term queries (tf = 1) in item space: ``idf(t) · V_k[t]``.

Duplicate tag sets are fitted once: the SVD of the distinct rows weighted by
``sqrt(multiplicity)`` has the same ``Σ_k`` and ``V_k`` as that of every row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog
from ..dedupe import unique_rows
from ..embedding import Embedding, FitState
from ..schema import bounded, key, one_of
from ._svd import truncated_svd
from ._warm import Rows, same_tags
from .base import ModelSpec


@dataclass(frozen=True)
class Params:
    """``[models.lsi]``: tag tf-idf + truncated SVD (latent semantic indexing)."""

    dim: int = key(
        96,
        "Number of singular vectors kept (the embedding's dimension; clamped to the number of terms).",
        bounded(1, 1024),
    )
    weighting: str = key(
        "binary", "'binary' (unit tag rows) or 'tfidf' (tf = 1/|d|, idf = ln(|D|/df)).", one_of("binary", "tfidf")
    )
    itemsets: bool = key(False, "Add frequent tag pairs/triples as extra terms (the MangaDex study's extension).")
    min_support: int = key(
        50, "Minimum number of items an itemset must occur in to become a term.", bounded(1, 10_000_000)
    )
    max_itemset: int = key(
        2,
        "Largest itemset size used as a term (2 = pairs, 3 = triples).",
        lambda v: None if v in (2, 3) else "must be 2 or 3",
    )


@dataclass(frozen=True, eq=False)
class LSIFit:
    """The fitted basis.

    Attributes
    ----------
    terms:
        Term names: the tag vocabulary, then itemsets as ``"A + B"`` (sorted tags).
    itemsets:
        Tag-index tuples of the itemset terms (after the tags), in ``terms`` order.
    idf:
        ``(T,)`` float64.
    V:
        ``(T, k)`` float64, right singular vectors (term side).
    s:
        ``(k,)`` float64, singular values, non-increasing.
    vectors:
        ``(n, k)`` float64 item vectors ``U_k Σ_k``.
    """

    terms: tuple[str, ...]
    itemsets: tuple[tuple[int, ...], ...]
    idf: np.ndarray
    V: np.ndarray
    s: np.ndarray
    vectors: np.ndarray
    info: dict


def frequent_itemsets(
    b: sp.csr_matrix, weights: np.ndarray, min_support: int, max_itemset: int
) -> list[tuple[int, ...]]:
    """Tag pairs (and triples if ``max_itemset == 3``) present in ≥ ``min_support`` items.

    Parameters
    ----------
    b:
        Binary ``(u, T)`` csr matrix (distinct tag sets).
    weights:
        ``(u,)`` multiplicity of each row (support counts rows times weight).
    min_support, max_itemset:
        See :class:`Params`.

    Returns
    -------
    list of tuple of int
        Sorted tag-index tuples: all pairs first (lexicographic), then triples.
    """
    b = sp.csr_matrix(b, dtype=np.float64)
    bw = sp.diags(np.asarray(weights, dtype=np.float64)) @ b
    co = sp.triu((b.T @ bw).tocsr(), k=1).tocoo()
    keep = co.data >= min_support
    pairs = sorted(zip(co.row[keep].tolist(), co.col[keep].tolist()))
    out: list[tuple[int, ...]] = [tuple(p) for p in pairs]
    if max_itemset >= 3 and pairs:
        p_ind = pair_indicator(b, pairs)
        cnt = (p_ind.T @ bw).tocoo()
        last = np.array([p[1] for p in pairs])
        ok = (cnt.data >= min_support) & (cnt.col > last[cnt.row])
        triples = sorted((*pairs[r], c) for r, c in zip(cnt.row[ok].tolist(), cnt.col[ok].tolist()))
        out.extend(triples)
    return out


def pair_indicator(b: sp.csr_matrix, pairs: list[tuple[int, int]]) -> sp.csr_matrix:
    """``(u, len(pairs))`` 0/1 matrix: does row i hold both tags of pair p."""
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    c = np.array([p[1] for p in pairs], dtype=np.int64)
    b = sp.csc_matrix(b)
    return sp.csr_matrix(b[:, a].multiply(b[:, c]))


def term_matrix(b: sp.csr_matrix, itemsets: list[tuple[int, ...]]) -> sp.csr_matrix:
    """Term counts ``F`` (float64): the tag columns of ``b`` then one 0/1 column per itemset."""
    b = sp.csr_matrix(b, dtype=np.float64)
    if not itemsets:
        return b
    bc = sp.csc_matrix(b)
    first = np.array([its[0] for its in itemsets], dtype=np.int64)
    cols = sp.csc_matrix(bc[:, first])
    for pos in (1, 2):  # itemsets have 2 or 3 tags; a pair repeats its last tag
        idx = np.array([its[min(pos, len(its) - 1)] for its in itemsets], dtype=np.int64)
        cols = sp.csc_matrix(cols.multiply(bc[:, idx]))
    cols.data[:] = 1.0
    return sp.hstack([b, cols], format="csr")


def tfidf(f: sp.spmatrix, weights: np.ndarray | None = None) -> tuple[sp.csr_matrix, np.ndarray]:
    """tf-idf with ``tf = f / Σf`` and ``idf = log(|D| / df)``.

    Parameters
    ----------
    f:
        ``(n, T)`` term counts.
    weights:
        ``(n,)`` multiplicity of each row (default 1): ``|D| = Σ weights`` and ``df`` counts
        weighted rows, so distinct rows with weights give the tf-idf of the full corpus.

    Returns
    -------
    w:
        ``(n, T)`` csr float64 (rows with no term are zero).
    idf:
        ``(T,)`` float64 (``0`` for terms that occur nowhere).
    """
    f = sp.csr_matrix(f, dtype=np.float64)
    n = f.shape[0]
    wts = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    total = float(wts.sum())
    df = np.asarray((f != 0).T.astype(np.float64) @ wts).ravel()
    idf = np.zeros(f.shape[1])
    nz = df > 0
    idf[nz] = np.log(total / df[nz])
    rowsum = np.asarray(f.sum(axis=1)).ravel()
    inv = np.divide(1.0, rowsum, out=np.zeros_like(rowsum), where=rowsum > 0)
    w = sp.diags(inv) @ f @ sp.diags(idf)
    return sp.csr_matrix(w), idf


def project(q: np.ndarray | sp.spmatrix, V: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Fold tf-idf queries into the LSI space: ``q_k = Σ_k⁻¹ V_kᵀ q``.

    Parameters
    ----------
    q:
        ``(T,)`` or ``(m, T)`` tf-idf vectors (dense or sparse).
    V, s:
        ``(T, k)`` and ``(k,)`` from :class:`LSIFit`.

    Returns
    -------
    numpy.ndarray
        ``(k,)`` or ``(m, k)`` float64, coordinates in ``U_k`` space (a training document
        gives its own row of ``U_k``). Components with ``s == 0`` are 0.
    """
    single = not sp.issparse(q) and np.ndim(q) == 1
    if sp.issparse(q):
        qm = sp.csr_matrix(q, dtype=np.float64)
    else:
        qm = np.asarray(q, dtype=np.float64).reshape(-1, V.shape[0])
    inv = np.divide(1.0, s, out=np.zeros_like(s, dtype=np.float64), where=s > 0)
    out = np.asarray(qm @ V) * inv
    return out[0] if single else out


def to_item_space(qk: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Scale projected queries (``U_k`` coordinates) by ``Σ_k`` to compare them with items."""
    return np.asarray(qk) * s


def fit_basis(catalog: Catalog, params: Params, seed: int) -> LSIFit:
    """Fit LSI on the catalog's tags (see the module docstring). ``seed`` feeds the solver."""
    b = catalog.tag_matrix
    vocab = catalog.tag_vocabulary
    bu, inverse, counts = unique_rows(b)
    itemsets = (
        frequent_itemsets(bu, counts, params.min_support, params.max_itemset)
        if params.itemsets and bu.shape[1] > 1
        else []
    )
    if params.weighting == "binary":
        wu = weighted_terms(bu, itemsets, "binary", np.ones(0))
        idf = np.ones(wu.shape[1])
    else:
        wu, idf = tfidf(term_matrix(bu, itemsets), counts)
    svd = truncated_svd(sp.diags(np.sqrt(counts.astype(np.float64))) @ wu, params.dim, seed)
    vectors = np.asarray(wu @ svd.V)[inverse]
    total = float((np.asarray(wu.multiply(wu).sum(axis=1)).ravel() * counts).sum())
    terms = tuple(vocab) + tuple(" + ".join(vocab[t] for t in its) for its in itemsets)
    info = {
        "dim": int(svd.s.shape[0]),
        "dim_requested": int(params.dim),
        "weighting": params.weighting,
        "terms": len(terms),
        "itemsets": len(itemsets),
        "distinct_rows": int(bu.shape[0]),
        "explained_variance": float((svd.s**2).sum() / total) if total > 0 else 0.0,
        "singular_values": [round(float(v), 6) for v in svd.s],
        "solver": svd.method,
    }
    return LSIFit(terms, tuple(itemsets), idf, svd.V, svd.s, vectors, info)


def weighted_terms(b: sp.spmatrix, itemsets: list[tuple[int, ...]], weighting: str, idf: np.ndarray) -> sp.csr_matrix:
    """The weighted term rows ``W`` of the tag rows ``b`` (``(m, T_tags)``) with fitted itemsets
    and idf: unit rows (``"binary"``) or ``tf · idf`` (``"tfidf"``)."""
    f = term_matrix(sp.csr_matrix(b), itemsets)
    if weighting == "binary":
        norms = np.sqrt(np.asarray(f.multiply(f).sum(axis=1)).ravel())
        return sp.csr_matrix(sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ f)
    rowsum = np.asarray(f.sum(axis=1)).ravel()
    inv = np.divide(1.0, rowsum, out=np.zeros_like(rowsum), where=rowsum > 0)
    return sp.csr_matrix(sp.diags(inv) @ f @ sp.diags(idf))


def fit(catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any] | None = None) -> Embedding:
    """LSI item vectors (rows of ``U_k Σ_k``) and tag vectors (one-term queries, same space).

    Returns
    -------
    Embedding
        ``vectors`` ``(n, k)`` float32 with ``k = min(params.dim, rank bound)``; ``tag_vectors``
        ``(T_tags, k)`` float32 in ``catalog.tag_vocabulary`` order. Items without tags are 0.
    """
    lf = fit_basis(catalog, params, seed)
    n_tags = len(catalog.tag_vocabulary)
    # one-term query for tag t: tf = 1, so q = idf_t e_t; in item space: idf_t V[t]
    tag_vecs = to_item_space(project(sp.diags(lf.idf[:n_tags], shape=(n_tags, len(lf.terms))), lf.V, lf.s), lf.s)
    return Embedding(
        model="lsi",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(lf.vectors, dtype=np.float32),
        tag_ids=tuple(catalog.tag_vocabulary),
        tag_vectors=np.ascontiguousarray(tag_vecs, dtype=np.float32),
        info=lf.info,
        state=FitState({"V": lf.V, "idf": lf.idf}, {"itemsets": [list(t) for t in lf.itemsets]}),
    )


def update(
    previous: Embedding, catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any], changed: np.ndarray
) -> Embedding | None:
    """Last night's basis ``V`` and idf: the changed titles' rows are ``W V`` of their tags
    (the fit's formula), every other row is last night's; ``None`` when the tags changed."""
    st = previous.state
    if st is None or not same_tags(previous, catalog):
        return None
    rows = Rows.of(previous.item_ids, catalog.ids, changed)
    itemsets = [tuple(t) for t in st.meta["itemsets"]]
    w = weighted_terms(catalog.tag_matrix[rows.todo], itemsets, params.weighting, st.arrays["idf"])
    return replace(previous, item_ids=catalog.ids, vectors=rows.dense(previous.vectors, np.asarray(w @ st.arrays["V"])))


SPEC = ModelSpec(
    name="lsi",
    label="LSI (tags)",
    summary="Tag tf-idf reduced by truncated SVD (latent semantic indexing).",
    params=Params,
    fit=fit,
    update=update,
    needs=frozenset({"tags"}),
    order=10,
    publish_rank=20,
)

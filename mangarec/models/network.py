"""Spectral embedding of the item graph ``A = B Bᵀ``, from the sparse ``B`` alone.

Items are linked by the tags they share: ``A_ij`` = number of common tags (``B`` is the
binary n×T item-tag matrix). **Self-loops are kept**: ``A_ii`` = the item's number of tags,
because excluding them would need ``A`` itself. Degrees ``d = A 1 = B (Bᵀ 1)``.

The normalised Laplacian is ``L = I − D^{-1/2} A D^{-1/2}``; its smallest eigenvectors are
the largest of ``N = D^{-1/2} A D^{-1/2} = M Mᵀ`` with ``M = D^{-1/2} B`` (n×T), i.e. the
left singular vectors ``u_k`` of ``M``, with eigenvalues ``λ_k = σ_k²`` (``L``'s are
``1 − σ_k²``). So a truncated SVD of the sparse n×T matrix ``M`` is all it takes; the n×n
``A`` is never formed (the MangaDex study needed 15.5 GiB for it at 64k items).

The trivial eigenvector (``σ = 1``, ``u ∝ √d``, whose right singular vector is
``v0 ∝ Bᵀ1``) is removed by deflation, i.e. the SVD is of ``M (I − v0 v0ᵀ)``, and the next
``dim`` components are kept. On a connected graph that is exactly "drop the first
eigenvector"; on a disconnected one (σ = 1 repeated) it keeps the vectors that tell the
components apart instead of dropping an arbitrary one of them.

Item coordinates are the diffusion map at time 1, ``ψ_i = λ ⊙ u_i / √d_i``, which equals
``(1/d_i) Σ_{t ∈ i} σ ⊙ V[t]``; rows are then L2-normalised (cosine is what neighbours
use). Tag vectors are ``σ ⊙ V[t]``, normalised, so an item points along the sum of its tags'
vectors. Items without tags get a zero vector.

Duplicate rows are fitted once (distinct rows weighted by ``sqrt(multiplicity)`` give the
same ``σ`` and ``V``).
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
from ..schema import bounded, key
from ._svd import truncated_svd
from ._warm import Rows, same_tags
from .base import ModelSpec


@dataclass(frozen=True)
class Params:
    """``[models.network]``: spectral embedding of the item graph A = B Bᵀ."""

    dim: int = key(
        64,
        "Number of eigenvectors kept (the trivial one excluded); 64 was chosen on the "
        "validation half (see benchmarks/bench_content.py).",
        bounded(1, 1024),
    )


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def spectral(b: sp.spmatrix, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Spectral embedding of ``B Bᵀ`` from the sparse ``B``.

    Parameters
    ----------
    b:
        ``(n, T)`` sparse, non-negative (binary for tags).
    dim:
        Components kept after the trivial one (clamped to what the rank allows).
    seed:
        Solver seed (only used by the randomized solver for very many tags).

    Returns
    -------
    items:
        ``(n, k)`` float64, unit rows (zero for rows of ``b`` that are empty).
    tags:
        ``(T, k)`` float64, unit rows.
    eigenvalues:
        ``(k,)`` float64: eigenvalues ``σ²`` of ``D^{-1/2} A D^{-1/2}`` kept (Laplacian's are
        ``1 − σ²``).
    info:
        JSON-able facts.
    """
    items, tags, eigenvalues, info, _ = spectral_fit(b, dim, seed)
    return items, tags, eigenvalues, info


def spectral_fit(b: sp.spmatrix, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict, np.ndarray]:
    """:func:`spectral`, plus the ``(T, k)`` float64 tag coordinates ``σ ⊙ V[t]`` before
    normalisation (an item is the unit sum of its tags' coordinates)."""
    b = sp.csr_matrix(b, dtype=np.float64)
    tag_degree = np.asarray(b.sum(axis=0)).ravel()  # Bᵀ1 over every row
    bu, inverse, counts = unique_rows(b)
    d = np.asarray(bu @ tag_degree).ravel()  # A's row sums, self-loops included
    dinv = np.divide(1.0, np.sqrt(d), out=np.zeros_like(d), where=d > 0)
    m = sp.diags(np.sqrt(counts.astype(np.float64)) * dinv) @ bu
    norm0 = float(np.linalg.norm(tag_degree))
    v0 = tag_degree / norm0 if norm0 > 0 else None  # trivial right singular vector, σ = 1
    svd = truncated_svd(m, dim, seed, deflate=v0)
    s, V = svd.s, svd.V
    tags = V * s
    items = _normalise_rows(np.asarray(bu @ tags))[inverse]
    info = {
        "dim": int(s.shape[0]),
        "dim_requested": int(dim),
        "distinct_rows": int(bu.shape[0]),
        "self_loops": True,
        "eigenvalues": [round(float(v), 6) for v in s**2],
        "solver": svd.method,
    }
    return items, _normalise_rows(tags), s**2, info, tags


def fit(catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any] | None = None) -> Embedding:
    """Spectral item vectors of the tag network (see the module docstring).

    Returns
    -------
    Embedding
        ``vectors`` ``(n, k)`` float32 unit rows, ``k = min(params.dim, T − 1, distinct rows − 1)``;
        ``tag_vectors`` ``(T, k)`` float32 in ``catalog.tag_vocabulary`` order.
    """
    items, tags, _, info, raw = spectral_fit(catalog.tag_matrix, params.dim, seed)
    return Embedding(
        model="network",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(items, dtype=np.float32),
        tag_ids=tuple(catalog.tag_vocabulary),
        tag_vectors=np.ascontiguousarray(tags, dtype=np.float32),
        info=info,
        state=FitState({"tags": raw}),
    )


def update(
    previous: Embedding, catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any], changed: np.ndarray
) -> Embedding | None:
    """Last night's spectrum (its tags' coordinates ``σ ⊙ V``): a changed title is the unit sum
    of its tags' coordinates (the fit's formula), every other row is last night's; ``None``
    when the tags changed."""
    if previous.state is None or not same_tags(previous, catalog):
        return None
    rows = Rows.of(previous.item_ids, catalog.ids, changed)
    b = sp.csr_matrix(catalog.tag_matrix[rows.todo], dtype=np.float64)
    fresh = _normalise_rows(np.asarray(b @ previous.state.arrays["tags"]))
    return replace(previous, item_ids=catalog.ids, vectors=rows.dense(previous.vectors, fresh))


SPEC = ModelSpec(
    name="network",
    label="Tag network",
    summary="Spectral embedding of the title-tag network (titles linked by shared tags).",
    params=Params,
    fit=fit,
    update=update,
    needs=frozenset({"tags"}),
    order=30,
)

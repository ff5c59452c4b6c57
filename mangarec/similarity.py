"""Similarities that are not "cosine of dense vectors": scorers computing blocks of rows.

An :class:`~mangarec.embedding.Embedding` whose ``similarity`` is set is ranked by it instead of
by the cosine of its ``vectors`` (which then only serve the maps and the published JSON).
Every scorer answers one question, :meth:`Similarity.block`: the ``(len(rows), n)`` float64
scores of the items ``rows`` against every item, so :func:`mangarec.topk.exact_topk` can run one
exact blocked top-k over any of them without ever holding the ``n × n`` matrix.

Kinds (each a frozen dataclass that stores and restores itself as arrays, for the cache):

* :class:`SparseCosine`: rows of a sparse matrix with unit (or zero) rows; score = dot product.
* :class:`TagJaccard`: weighted tag-set overlap, ``Σ_{t∈i∩j} w_t / (W_i + W_j − Σ_{t∈i∩j} w_t)``
  (``norm="jaccard"``) or ``/ max(W_i, W_j)`` (``norm="max"``), ``W_i = Σ_{t∈i} w_t``.
* :class:`Bilinear`: a low-rank score with a row correction,
  ``s_ij = Σ_k U_ik (a_k + c_i b_k) U_jk`` (optionally negative scores clipped to 0): network
  deconvolution and global silencing of ``B Bᵀ`` (see ``mangarec.models.deconvolution``).
* :class:`PairScores`: a precomputed sparse ``n × n`` matrix (absent pairs score 0).
* :class:`DenseCosine`: cosine of dense vectors, for use inside a :class:`Weighted` sum.
* :class:`Weighted`: ``Σ_t w_t · term_t + bias_j``, with pairs in ``exclude`` never ranked before
  any other item (they get :data:`EXCLUDED`).

The interface is in :mod:`.scorer_base`; :class:`TagJaccard` and :class:`Bilinear` are in
:mod:`.tag_scorers` (every name is importable from here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from .scorer_base import Similarity, _add_sparse, _csr_from, _csr_parts
from .tag_scorers import Bilinear, TagJaccard, TagSum

#: Score of an excluded pair: below every real score, finite (the CSV writes it).
EXCLUDED = -1.0e6

__all__ = [
    "EXCLUDED",
    "Bilinear",
    "DenseCosine",
    "PairScores",
    "Similarity",
    "SparseCosine",
    "TagJaccard",
    "Weighted",
    "from_parts",
]


@dataclass(frozen=True, eq=False)
class SparseCosine(Similarity):
    """Dot products of the rows of ``matrix`` (``(n, V)`` csr, rows unit length or zero)."""

    matrix: sp.csr_matrix
    kind: ClassVar[str] = "sparse-cosine"

    def __post_init__(self) -> None:
        m = sp.csr_matrix(self.matrix, dtype=np.float32)
        m.sort_indices()
        object.__setattr__(self, "matrix", m)
        object.__setattr__(self, "_t", m.T.tocsr())

    @property
    def n(self) -> int:
        return int(self.matrix.shape[0])

    def block(self, rows: np.ndarray) -> np.ndarray:
        # float32 products in scipy's fixed order: the same bytes on every machine
        return (self.matrix[rows] @ self._t).toarray()  # type: ignore[attr-defined]

    def add_into(self, out: np.ndarray, rows: np.ndarray, weight: float) -> None:
        p = sp.csr_matrix(self.matrix[rows] @ self._t)  # type: ignore[attr-defined]
        _add_sparse(out, p, weight)

    def parts(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"kind": self.kind}, _csr_parts(prefix, self.matrix)

    @classmethod
    def _from(cls, meta: dict, arrays: dict, prefix: str) -> SparseCosine:
        return cls(_csr_from(prefix, arrays))


@dataclass(frozen=True, eq=False)
class DenseCosine(Similarity):
    """Cosine of dense ``vectors`` ``(n, d)`` (zero rows score 0 with everything)."""

    vectors: np.ndarray
    kind: ClassVar[str] = "dense-cosine"
    screens: ClassVar[bool] = True

    def __post_init__(self) -> None:
        v = np.asarray(self.vectors, dtype=np.float64)
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        u = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
        object.__setattr__(self, "_unit", u)
        object.__setattr__(self, "_u32", u.astype(np.float32))
        object.__setattr__(self, "_u32t", np.ascontiguousarray(u.astype(np.float32).T))

    @property
    def n(self) -> int:
        return int(self.vectors.shape[0])

    def block(self, rows: np.ndarray) -> np.ndarray:
        return self._u32[rows] @ self._u32t  # type: ignore[attr-defined]

    def block64(self, rows: np.ndarray) -> np.ndarray:
        u = self._unit  # type: ignore[attr-defined]
        return u[rows] @ u.T

    def exact(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        u = self._unit  # type: ignore[attr-defined]
        return np.einsum("ij,ij->i", u[rows], u[cols])

    def parts(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"kind": self.kind}, {f"{prefix}vectors": np.asarray(self.vectors)}

    @classmethod
    def _from(cls, meta: dict, arrays: dict, prefix: str) -> DenseCosine:
        return cls(arrays[f"{prefix}vectors"])


@dataclass(frozen=True, eq=False)
class PairScores(Similarity):
    """A precomputed sparse ``(n, n)`` score matrix; pairs not stored score 0."""

    matrix: sp.csr_matrix
    kind: ClassVar[str] = "pairs"

    def __post_init__(self) -> None:
        m = sp.csr_matrix(self.matrix, dtype=np.float64)
        if m.shape[0] != m.shape[1]:
            raise ValueError("PairScores: the matrix must be square")
        m.sort_indices()
        object.__setattr__(self, "matrix", m)

    @property
    def n(self) -> int:
        return int(self.matrix.shape[0])

    def block(self, rows: np.ndarray) -> np.ndarray:
        return self.matrix[rows].toarray()

    def add_into(self, out: np.ndarray, rows: np.ndarray, weight: float) -> None:
        _add_sparse(out, sp.csr_matrix(self.matrix[rows]), weight)

    def parts(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"kind": self.kind}, _csr_parts(prefix, self.matrix)

    @classmethod
    def _from(cls, meta: dict, arrays: dict, prefix: str) -> PairScores:
        return cls(_csr_from(prefix, arrays))


@dataclass(frozen=True, eq=False)
class Weighted(Similarity):
    """``Σ_t weight_t · term_t(i, j) + bias_j``; pairs stored in ``exclude`` score :data:`EXCLUDED`.

    Terms with weight 0 are skipped. ``bias`` is ``(n,)`` (a prior on the candidate item, e.g.
    its popularity) or ``None``; ``exclude`` is a ``(n, n)`` sparse matrix whose stored pairs
    are never ranked above any other item (e.g. the item's own series) or ``None``.
    """

    terms: tuple[tuple[float, Similarity], ...]
    bias: np.ndarray | None = None
    exclude: sp.csr_matrix | None = None
    kind: ClassVar[str] = "weighted"
    labels: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.terms:
            raise ValueError("Weighted: at least one term is needed")
        n = self.terms[0][1].n
        if any(t.n != n for _, t in self.terms):
            raise ValueError("Weighted: the terms score different numbers of items")
        if self.bias is not None:
            b = np.asarray(self.bias, dtype=np.float64)
            if b.shape != (n,) or not np.all(np.isfinite(b)):
                raise ValueError("Weighted: bias must be (n,) and finite")
            object.__setattr__(self, "bias", b)
        if self.exclude is not None:
            e = sp.csr_matrix(self.exclude, dtype=np.float64)
            if e.shape != (n, n):
                raise ValueError("Weighted: exclude must be (n, n)")
            e.sort_indices()
            object.__setattr__(self, "exclude", e)
        # Sparse cosine terms are merged into one product: [√w₁ X₁, √w₂ X₂] [√w₁ X₁, √w₂ X₂]ᵀ
        # = w₁ X₁X₁ᵀ + w₂ X₂X₂ᵀ (one pass over the block instead of one per term).
        sparse_terms = [(w, t) for w, t in self.terms if w > 0 and isinstance(t, SparseCosine)]
        plan: list[tuple[float, Similarity]] = [
            (w, _tag_term(t)) for w, t in self.terms if w and not (w > 0 and isinstance(t, SparseCosine))
        ]
        plan = _fuse_tags(plan)
        if len(sparse_terms) > 1:
            merged = sp.hstack([np.sqrt(w) * t.matrix for w, t in sparse_terms], format="csr")
            plan.append((1.0, SparseCosine(merged)))
        else:
            plan.extend(sparse_terms)
        object.__setattr__(self, "_plan", tuple(plan))

    @property
    def n(self) -> int:
        return self.terms[0][1].n

    def row_groups(self) -> np.ndarray | None:
        """Items whose every term's rows are identical have identical rows (the bias is the
        candidate's); none with ``exclude`` (pairs of its own)."""
        found = [t.row_groups() for w, t in self.terms if w]
        labels = [g for g in found if g is not None]
        if self.exclude is not None or not labels or len(labels) < len(found):
            return None
        if len(labels) == 1:
            return labels[0]
        _, inverse = np.unique(np.stack(labels, axis=1), axis=0, return_inverse=True)
        return np.asarray(inverse, dtype=np.int64).reshape(-1)

    def column_groups(self) -> np.ndarray | None:
        """Those of its one tag term (the co-like model's scorer: ``0 + s`` is ``s``)."""
        inner = _tag_term(self)
        return None if inner is self else inner.column_groups()

    def group_block(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(_tag_term(self).group_block(rows), dtype=np.float64)

    def block(self, rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), self.n))
        for w, term in self._plan:  # type: ignore[attr-defined]
            term.add_into(out, rows, w)
        if self.bias is not None:
            out += self.bias[None, :]
        if self.exclude is not None:
            ex = self.exclude[rows].tocoo()
            out[ex.row, ex.col] = EXCLUDED
        return out

    def parts(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        metas, arrays = [], {}
        for k, (w, term) in enumerate(self.terms):
            m, a = term.parts(f"{prefix}t{k}.")
            metas.append({"weight": float(w), "term": m})
            arrays.update(a)
        if self.bias is not None:
            arrays[f"{prefix}bias"] = self.bias
        if self.exclude is not None:
            arrays.update(_csr_parts(f"{prefix}exclude.", self.exclude))
        return {
            "kind": self.kind,
            "terms": metas,
            "labels": list(self.labels),
            "bias": self.bias is not None,
            "exclude": self.exclude is not None,
        }, arrays

    @classmethod
    def _from(cls, meta: dict, arrays: dict, prefix: str) -> Weighted:
        terms = tuple(
            (float(t["weight"]), from_parts(t["term"], arrays, f"{prefix}t{k}.")) for k, t in enumerate(meta["terms"])
        )
        return cls(
            terms,
            arrays[f"{prefix}bias"] if meta["bias"] else None,
            _csr_from(f"{prefix}exclude.", arrays) if meta["exclude"] else None,
            labels=tuple(meta.get("labels", ())),
        )


def _tag_term(term: Similarity) -> Similarity:
    """A :class:`Weighted` that is one :class:`TagJaccard` of weight 1 (no bias, no exclusion:
    the co-like model's scorer) adds exactly what that term adds: the term itself."""
    if isinstance(term, Weighted) and term.bias is None and term.exclude is None and len(term.terms) == 1:
        w, inner = term.terms[0]
        if w == 1.0 and isinstance(inner, TagJaccard):
            return inner
    return term


def _fuse_tags(plan: list[tuple[float, Similarity]]) -> list[tuple[float, Similarity]]:
    """The :class:`TagJaccard` terms that open ``plan`` over one tag matrix as one
    :class:`TagSum` (summed per distinct tag set, spread to the items once). Only at the start,
    where the block is still zero: ``0 + (a + b)`` is ``(0 + a) + b``, the same bytes."""
    head: list[tuple[float, TagJaccard]] = []
    for w, t in plan:
        if not isinstance(t, TagJaccard) or (head and not head[0][1].same_tags(t)):
            break
        head.append((w, t))
    if len(head) < 2:
        return plan
    return [(1.0, TagSum(tuple(head))), *plan[len(head) :]]


_KINDS: dict[str, Any] = {c.kind: c for c in (SparseCosine, DenseCosine, TagJaccard, Bilinear, PairScores, Weighted)}


def from_parts(meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str = "") -> Similarity:
    """The scorer that :meth:`Similarity.parts` described.

    Raises
    ------
    ValueError
        For an unknown kind.
    """
    try:
        cls = _KINDS[meta["kind"]]
    except KeyError:
        raise ValueError(f"unknown similarity kind {meta.get('kind')!r}") from None
    return cls._from(meta, arrays, prefix)

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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

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


#: From this share of stored pairs on, a sparse block is added densely (:func:`_add_sparse`).
DENSE_ADD_SHARE = 0.1


def _add_sparse(out: np.ndarray, p: sp.csr_matrix, weight: float) -> None:
    """``out += weight · p`` for a csr ``p`` of ``out``'s shape (no duplicate entries: a sparse
    product or a row slice of a canonical matrix; their order does not matter)."""
    scaled = weight * p.data.astype(np.float64)
    if p.nnz > DENSE_ADD_SHARE * out.size:
        # dense enough: spread to a dense block in C and add it (absent pairs add +0.0, which
        # changes no sum: ``out`` starts at +0.0 and never holds -0.0)
        out += sp.csr_matrix((scaled, p.indices, p.indptr), shape=out.shape).toarray()
        return
    flat = out.reshape(-1)
    pos = np.repeat(np.arange(p.shape[0], dtype=np.int64) * out.shape[1], np.diff(p.indptr)) + p.indices
    flat[pos] += scaled


def _csr_parts(prefix: str, m: sp.csr_matrix) -> dict[str, np.ndarray]:
    m = sp.csr_matrix(m)
    return {
        f"{prefix}data": m.data,
        f"{prefix}indices": m.indices.astype(np.int64),
        f"{prefix}indptr": m.indptr.astype(np.int64),
        f"{prefix}shape": np.asarray(m.shape, dtype=np.int64),
    }


def _csr_from(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(v) for v in arrays[f"{prefix}shape"])
    return sp.csr_matrix((arrays[f"{prefix}data"], arrays[f"{prefix}indices"], arrays[f"{prefix}indptr"]), shape=shape)


class Similarity:
    """A pairwise score over ``n`` items, computed a block of rows at a time."""

    kind: ClassVar[str] = ""

    @property
    def n(self) -> int:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    #: ``block`` is only a float32 screen: exact scores of candidates come from :meth:`exact`.
    screens: ClassVar[bool] = False

    def block(self, rows: np.ndarray) -> np.ndarray:
        """Scores of the items ``rows`` ((r,) int64) against all items: ``(r, n)`` float32/64.

        The diagonal holds the item's score with itself under the same formula.
        """
        raise NotImplementedError  # pragma: no cover

    def block64(self, rows: np.ndarray) -> np.ndarray:
        """:meth:`block` with exact float64 scores (for sums of scorers)."""
        return np.asarray(self.block(rows), dtype=np.float64)

    def exact(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Exact float64 scores of the pairs ``(rows[e], cols[e])`` (scorers that screen)."""
        raise NotImplementedError  # pragma: no cover

    def row_groups(self) -> np.ndarray | None:
        """``(n,)`` int64 labels such that items with equal labels have identical score rows
        (each is then ranked once), or ``None``."""
        return None

    def add_into(self, out: np.ndarray, rows: np.ndarray, weight: float) -> None:
        """``out += weight · block(rows)`` (exact float64), without a dense copy where sparse."""
        out += weight * (self.block64(rows) if self.screens else np.asarray(self.block(rows), dtype=np.float64))

    def parts(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(JSON-able meta, arrays)`` that :func:`from_parts` turns back into this scorer."""
        raise NotImplementedError  # pragma: no cover


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
class TagJaccard(Similarity):
    """Weighted tag-set overlap of the binary ``(n, T)`` matrix ``tags`` (see the module doc).

    Items without tags score 0 with everything.
    """

    tags: sp.csr_matrix
    weights: np.ndarray
    norm: str = "jaccard"
    kind: ClassVar[str] = "tag-jaccard"

    def __post_init__(self) -> None:
        if self.norm not in ("jaccard", "max"):
            raise ValueError(f"TagJaccard: norm must be 'jaccard' or 'max', not {self.norm!r}")
        b = sp.csr_matrix(self.tags, dtype=np.float64)
        b.data[:] = 1.0
        w = np.asarray(self.weights, dtype=np.float64)
        if w.shape != (b.shape[1],) or np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValueError("TagJaccard: weights must be (n_tags,), finite and >= 0")
        object.__setattr__(self, "tags", b)
        object.__setattr__(self, "weights", w)
        # Integer weights (the default 1, group weights such as 2 and 8) give integer overlaps:
        # exact in float32 whatever the BLAS summation order, and twice as fast as float64.
        integral = bool(np.all(w == np.rint(w)) and (b @ w).max(initial=0.0) < 2**23)
        dt = np.float32 if integral else np.float64
        object.__setattr__(self, "_dtype", dt)
        # A score depends on the two tag sets only: columns are scored once per distinct tag set
        # (MangaDex: 19.6k of 37.3k) and spread to their items (_inverse).
        from .models._dedupe import unique_rows

        distinct, inverse, _ = unique_rows(b) if b.shape[0] else (b, np.zeros(0, dtype=np.int64), None)
        object.__setattr__(self, "_inverse", np.asarray(inverse, dtype=np.intp))
        # T is small (83 on MangaDex): dense products are BLAS-fast.
        object.__setattr__(self, "_bt", np.ascontiguousarray(distinct.toarray().T, dtype=dt))
        object.__setattr__(self, "_total", np.asarray(b @ w).ravel().astype(dt))
        object.__setattr__(self, "_total_cols", np.asarray(distinct @ w).ravel().astype(dt))
        object.__setattr__(self, "_w", w.astype(dt))

    @property
    def n(self) -> int:
        return int(self.tags.shape[0])

    def _distinct_block(self, rows: np.ndarray) -> np.ndarray:
        """Scores of the items ``rows`` against the distinct tag sets: ``(r, m)``."""
        bw = self.tags[rows].toarray().astype(self._dtype) * self._w  # type: ignore[attr-defined]
        inter = bw @ self._bt  # type: ignore[attr-defined]
        tr, tc = self._total[rows], self._total_cols  # type: ignore[attr-defined]
        if self.norm == "jaccard":
            den = tr[:, None] + tc[None, :]
            den -= inter
        else:
            den = np.maximum(tr[:, None], tc[None, :])
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(inter, den, out=inter)  # the denominator is 0 only for two tagless items
        zr, zc = tr == 0, tc == 0
        if zr.any() and zc.any():
            inter[np.ix_(zr, zc)] = 0.0
        return inter

    def block(self, rows: np.ndarray) -> np.ndarray:
        return np.take(self._distinct_block(rows), self._inverse, axis=1)  # type: ignore[attr-defined]

    def add_into(self, out: np.ndarray, rows: np.ndarray, weight: float) -> None:
        blk = self._distinct_block(rows).astype(np.float64)
        if weight != 1.0:
            blk *= weight  # per distinct column, then spread: the same sums as per item
        out += np.take(blk, self._inverse, axis=1)  # type: ignore[attr-defined]

    def row_groups(self) -> np.ndarray:
        return self._inverse.astype(np.int64)  # type: ignore[attr-defined]

    def parts(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = _csr_parts(prefix, self.tags)
        arrays[f"{prefix}weights"] = self.weights
        return {"kind": self.kind, "norm": self.norm}, arrays

    @classmethod
    def _from(cls, meta: dict, arrays: dict, prefix: str) -> TagJaccard:
        return cls(_csr_from(prefix, arrays), arrays[f"{prefix}weights"], meta["norm"])


@dataclass(frozen=True, eq=False)
class Bilinear(Similarity):
    """``s_ij = Σ_k U_ik (a_k + c_i b_k) U_jk``, negative scores set to 0 when ``clip``.

    ``U`` is ``(n, r)``; ``a``, ``b`` are ``(r,)``; ``c`` is ``(n,)``. A block costs one
    ``(rows × r) @ (r × n)`` product.
    """

    U: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    clip: bool = True
    kind: ClassVar[str] = "bilinear"
    screens: ClassVar[bool] = True

    def __post_init__(self) -> None:
        for name in ("U", "a", "b", "c"):
            v = np.asarray(getattr(self, name), dtype=np.float64)
            if not np.all(np.isfinite(v)):
                raise ValueError(f"Bilinear: {name} has non-finite values")
            object.__setattr__(self, name, v)
        n, r = self.U.shape
        if self.a.shape != (r,) or self.b.shape != (r,) or self.c.shape != (n,):
            raise ValueError("Bilinear: a, b must be (r,) and c (n,)")
        object.__setattr__(self, "_ut", np.ascontiguousarray(self.U.T))
        object.__setattr__(self, "_ut32", np.ascontiguousarray(self.U.T, dtype=np.float32))

    @property
    def n(self) -> int:
        return int(self.U.shape[0])

    def _left(self, rows: np.ndarray) -> np.ndarray:
        return self.U[rows] * (self.a[None, :] + self.c[rows][:, None] * self.b[None, :])

    def block(self, rows: np.ndarray) -> np.ndarray:
        out = self._left(rows).astype(np.float32) @ self._ut32  # type: ignore[attr-defined]
        if self.clip:
            np.maximum(out, 0.0, out=out)
        return out

    def block64(self, rows: np.ndarray) -> np.ndarray:
        out = self._left(rows) @ self._ut  # type: ignore[attr-defined]
        if self.clip:
            np.maximum(out, 0.0, out=out)
        return out

    def exact(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        out = np.einsum("ij,ij->i", self._left(rows), self.U[cols])
        if self.clip:
            np.maximum(out, 0.0, out=out)
        return out

    def row_groups(self) -> np.ndarray:
        key = np.ascontiguousarray(np.hstack([self.U, self.c[:, None]]))
        _, inverse = np.unique(key.view(np.dtype((np.void, key.shape[1] * 8))).ravel(), return_inverse=True)
        return np.asarray(inverse, dtype=np.int64).reshape(-1)

    def parts(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return (
            {"kind": self.kind, "clip": bool(self.clip)},
            {f"{prefix}{k}": getattr(self, k) for k in ("U", "a", "b", "c")},
        )

    @classmethod
    def _from(cls, meta: dict, arrays: dict, prefix: str) -> Bilinear:
        U, a, b, c = (arrays[f"{prefix}{k}"] for k in ("U", "a", "b", "c"))
        return cls(U, a, b, c, clip=bool(meta["clip"]))


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
            (w, t) for w, t in self.terms if w and not (w > 0 and isinstance(t, SparseCosine))
        ]
        if len(sparse_terms) > 1:
            merged = sp.hstack([np.sqrt(w) * t.matrix for w, t in sparse_terms], format="csr")
            plan.append((1.0, SparseCosine(merged)))
        else:
            plan.extend(sparse_terms)
        object.__setattr__(self, "_plan", tuple(plan))

    @property
    def n(self) -> int:
        return self.terms[0][1].n

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

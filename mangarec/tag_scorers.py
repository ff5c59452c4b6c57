"""Scorers of tag sets and low-rank factors: :class:`TagJaccard` and :class:`Bilinear`
(see :mod:`mangarec.similarity` for every kind; both are importable from there)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from .dedupe import unique_rows
from .scorer_base import Similarity, _csr_from, _csr_parts

__all__ = ["Bilinear", "TagJaccard", "TagSum"]

#: Pairs :meth:`Bilinear.exact` scores at once.
EXACT_PAIRS = 1 << 16


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

    def column_groups(self) -> np.ndarray:
        return self._inverse.astype(np.int64)  # type: ignore[attr-defined]

    def group_block(self, rows: np.ndarray) -> np.ndarray:
        return self._distinct_block(rows)

    def same_tags(self, other: TagJaccard) -> bool:
        """Whether ``other`` scores the same tag sets (its distinct columns are these)."""
        a, b = self.tags, other.tags
        return a.shape == b.shape and np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)

    def parts(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = _csr_parts(prefix, self.tags)
        arrays[f"{prefix}weights"] = self.weights
        return {"kind": self.kind, "norm": self.norm}, arrays

    @classmethod
    def _from(cls, meta: dict, arrays: dict, prefix: str) -> TagJaccard:
        return cls(_csr_from(prefix, arrays), arrays[f"{prefix}weights"], meta["norm"])


@dataclass(frozen=True, eq=False)
class TagSum(Similarity):
    """``Σ_t w_t · s_t`` of :class:`TagJaccard` terms over one tag matrix, summed per distinct
    tag set and spread to the items once (a :class:`~mangarec.similarity.Weighted` block's
    first step: the hybrid's group-weighted tags and co-like tags; never stored)."""

    terms: tuple[tuple[float, TagJaccard], ...]
    kind: ClassVar[str] = "tag-sum"

    @property
    def n(self) -> int:
        return self.terms[0][1].n

    def block(self, rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), self.n))
        self.add_into(out, rows, 1.0)
        return out

    def add_into(self, out: np.ndarray, rows: np.ndarray, weight: float) -> None:
        total = np.zeros(0)
        for t, (w, term) in enumerate(self.terms):  # each as TagJaccard.add_into scales it, in order
            blk = term._distinct_block(rows).astype(np.float64)
            if w * weight != 1.0:
                blk *= w * weight
            total = blk if t == 0 else np.add(total, blk, out=total)
        out += np.take(total, self.terms[0][1]._inverse, axis=1)  # type: ignore[attr-defined]


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
        object.__setattr__(self, "_unorm", float(np.linalg.norm(self.U, axis=1).max(initial=0.0)))

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

    def screen_error(self, rows: np.ndarray) -> np.ndarray:
        """Twice the float32 error bound of :meth:`block`: the factors rounded to float32 and
        r-term sums, ``γ_{r+2} Σ_k |left_ik| |U_jk| <= γ_{r+2} ‖left_i‖ max_j ‖U_j‖`` with
        ``γ_m = m u / (1 - m u)``, ``u = 2⁻²⁴`` (clipping at 0 adds none). Small scores (network
        deconvolution's are ~1e-3) then keep a margin their own size, not :data:`MARGIN`'s 1e-4."""
        m = (self.U.shape[1] + 2) * 2.0**-24
        norms = np.linalg.norm(self._left(np.asarray(rows)), axis=1)
        return 2.0 * (m / (1.0 - m)) * norms * self._unorm  # type: ignore[attr-defined]

    def exact(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        # each distinct row's left factor once, the pairs in slices: a block's candidates can be
        # most of its columns (small scores), too many pairs for (pairs, r) copies at once
        rows = np.asarray(rows)
        distinct, inverse = np.unique(rows, return_inverse=True)
        left = self._left(distinct)
        out = np.empty(len(rows))
        for s in range(0, len(rows), EXACT_PAIRS):
            sl = slice(s, s + EXACT_PAIRS)
            out[sl] = np.einsum("ij,ij->i", left[inverse[sl]], self.U[cols[sl]])
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

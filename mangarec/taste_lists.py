"""Version 6 and 7's candidate lists, exact, from a float32 screen; and the night's lists from
last night's, recomputing only the rows that can change.

**The values.** A list ranks the kernel ``k_t(r, c) = Σ_a (V[r, a] w_t[a]) V[c, a]`` (``c ≠ r``)
by ``(−value, c)``: ties go to the lower row. A value is defined as that sum **in float64, in
increasing ``a``, one fused multiply-add a term from 0** (:func:`_dot`; IEEE 754, so the same
bits on every machine and whichever rows are computed together). A BLAS product is not: a row's
values from ``A[rows] @ V.T`` differ in their last bits with the number of rows in the call
(OpenBLAS 0.3.31: its edge tiles sum in another order), so lists taken from BLAS products
depended on how the rows were blocked, and a night that ranks some rows again could never be
checked against a cold build byte for byte. The definition is what OpenBLAS's dgemm computes in
its full tiles (measured: every value of a 3,000-row product), so the lists are the earlier
builds' (the bundled catalog's taste files are byte-identical) except where an edge tile's order
broke a tie between equal sums.

**Cold** (:func:`top_lists`): a float32 BLAS product of a block of rows with every column is only
a screen. Its error against the exact sum is below ``ε_r = (d + 4) 2⁻²³ Σ_a |A[r, a]| max_c |V[c,
a]|`` (float32 conversion of both operands and a dot product of ``d`` terms in any order, with the
float64 value's own error inside the factor 2). A row's ``need``-th best screen value bounds from
below (within ``ε``) its ``need``-th best value; every column whose screen reaches that bound
``− 2ε`` is kept (a subsample of the columns gives the first bound, :data:`SUBSAMPLE_STEP`, as
:func:`mangarec.topk_dense.lower_bound` does), its value computed exactly, and the kept columns
ranked. ``need`` is ``n + 1`` (the list and its floor: the largest value left out) or ``n`` when
the list holds every other title.

**Night** (:func:`update_lists`): a row's lists are a function of its own vector and of each
anchor's ``need`` best columns. When last night's state (:class:`ListState`) has the same frame
(rows in the same order, the same weights, counts and code), a row keeps last night's lists
unless its vector changed, one of its ``need`` best columns changed, or a changed column's screen
value reaches its ``need``-th best value (its *edge*) within ``2ε``; those rows are ranked again
by the cold code. ``tests/test_taste_lists.py`` compares a night with a cold build.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import llvmlite.ir as ir
import numpy as np
from numba import njit
from numba.core import cgutils, types
from numba.core.extending import intrinsic
from threadpoolctl import threadpool_limits

from .cache import module_digest
from .embedding import FitState

#: Screen elements per block of rows (float32: 32 MB).
BLOCK_ELEMENTS = 1 << 23
#: One column in this many gives a row's first bound (from this many columns on).
SUBSAMPLE_STEP = 8
SUBSAMPLE_MIN_COLUMNS = 2048
#: Above this share of rows to rank again, the night ranks every row.
MAX_RANKED_SHARE = 0.6
#: The version of :class:`ListState` (a state of another version is not read).
STATE_VERSION = 2


@intrinsic
def _fma(typingctx, a, b, c):  # pragma: no cover (compiled)
    """``a·b + c`` rounded once (LLVM's ``llvm.fma.f64``: IEEE 754 fusedMultiplyAdd, the same bits on
    every machine; emulated where the CPU has no FMA)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()] * 3)
        return builder.call(cgutils.get_or_insert_function(builder.module, fnty, "llvm.fma.f64"), args)

    return sig, codegen


@njit(cache=True)
def _dot(a: np.ndarray, nz: np.ndarray, v: np.ndarray) -> float:  # pragma: no cover (compiled)
    """``Σ_a a[a] v[a]`` over the indices ``nz`` in increasing order, one fused multiply-add a term
    from 0 (the zeros of ``a`` add nothing)."""
    s = 0.0
    for k in range(nz.size):
        s = _fma(a[nz[k]], v[nz[k]], s)  # type: ignore[call-arg]
    return s


@njit(cache=True)
def _select(S, A, V, eps, own, need, step, out_idx, out_val):  # pragma: no cover (compiled)
    """Each row's ``need`` best columns by exact value (ties to the lower column), self excluded.

    ``S`` ``(b, m)`` float32 screen, ``A`` ``(b, d)`` float64 weighted rows, ``V`` ``(m, d)``,
    ``eps`` ``(b,)`` the screen's error bound, ``own`` ``(b,)`` each row's own column; writes
    ``out_idx`` ``(b, need)`` int64 and ``out_val`` ``(b, need)`` float64, best first.
    """
    b, m = S.shape
    buf = np.empty(m, dtype=np.int64)
    for i in range(b):
        row = S[i]
        if step > 1:
            sub = row[::step].copy()
        else:
            sub = row.copy()
        kth = sub.size - need
        if own[i] % step == 0 and own[i] // step < sub.size:
            sub[own[i] // step] = -np.inf
        first = np.partition(sub, kth)[kth] if kth >= 0 else -np.inf
        thr = first - 2.0 * eps[i]
        cnt = 0
        for c in range(m):
            if row[c] >= thr and c != own[i]:
                buf[cnt] = c
                cnt += 1
        if cnt > 2 * need:  # the exact need-th best screen value among them: a tighter bound
            vals = np.empty(cnt, dtype=np.float32)
            for j in range(cnt):
                vals[j] = row[buf[j]]
            thr2 = np.partition(vals, cnt - need)[cnt - need] - 2.0 * eps[i]
            kept = 0
            for j in range(cnt):
                if row[buf[j]] >= thr2:
                    buf[kept] = buf[j]
                    kept += 1
            cnt = kept
        nz = np.flatnonzero(A[i])
        neg = np.empty(cnt, dtype=np.float64)
        for j in range(cnt):
            neg[j] = -_dot(A[i], nz, V[buf[j]])
        order = np.argsort(neg, kind="mergesort")  # buf is increasing: ties stay to the lower column
        for j in range(need):
            out_idx[i, j] = buf[order[j]]
            out_val[i, j] = -neg[order[j]]


@njit(cache=True)
def _interleave(idx, val, A, V, rows, n, out_rows, out_vals):  # pragma: no cover (compiled)
    """Each row's list: every anchor's best, interleaved (first come kept), cut at ``n``; its
    values under each anchor and (column ``n``) the floor: each anchor's best value left out.

    ``idx``/``val`` ``(T, r, need)`` per anchor, ``A`` ``(T, r, d)`` the weighted rows; writes
    ``out_rows`` ``(r, n)`` and ``out_vals`` ``(T, r, n + 1)``.
    """
    T, r, need = idx.shape
    m = V.shape[0]
    mark = np.zeros(m, dtype=np.bool_)
    for i in range(r):
        got = 0
        for k in range(need):
            for t in range(T):
                c = idx[t, i, k]
                if got < n and not mark[c]:
                    mark[c] = True
                    out_rows[i, got] = c
                    got += 1
        for t in range(T):
            nz = np.flatnonzero(A[t, i])
            for j in range(n):
                c = out_rows[i, j]
                hit = -1
                for k in range(need):
                    if idx[t, i, k] == c:
                        hit = k
                        break
                out_vals[t, i, j] = val[t, i, hit] if hit >= 0 else _dot(A[t, i], nz, V[c])
            floor = 0.0
            if need > n:
                for k in range(need):
                    if not mark[idx[t, i, k]]:
                        floor = val[t, i, k]
                        break
            out_vals[t, i, n] = floor
        for j in range(n):
            mark[out_rows[i, j]] = False


def _screen_error(A: np.ndarray, colmax: np.ndarray) -> np.ndarray:
    """``ε`` ``(b,)`` of each row of ``A`` ``(b, d)`` (see the module docstring)."""
    d = A.shape[1]
    return (d + 4) * 2.0**-23 * (np.abs(A) @ colmax) + 1e-300


def top_lists(
    V: np.ndarray, weights: list[np.ndarray], need: int, rows: np.ndarray | None = None, block: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each anchor's ``need`` best columns of the rows ``rows`` (``None``: all), exact, by
    ``(−value, column)``, self excluded: ``(T, r, need)`` int64 columns and float64 values
    (``block`` rows screened at once; ``None``: :data:`BLOCK_ELEMENTS` screen values)."""
    V = np.ascontiguousarray(V, dtype=np.float64)
    m = V.shape[0]
    rows = np.arange(m, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    T = len(weights)
    idx = np.zeros((T, len(rows), need), dtype=np.int64)
    val = np.zeros((T, len(rows), need), dtype=np.float64)
    if need == 0 or not len(rows):
        return idx, val
    step = SUBSAMPLE_STEP if m >= SUBSAMPLE_MIN_COLUMNS and m // SUBSAMPLE_STEP > need else 1
    colmax = np.abs(V).max(axis=0)
    V32t = np.ascontiguousarray(V.T.astype(np.float32))
    block = max(1, min(len(rows), block or BLOCK_ELEMENTS // max(m, 1)))
    S = np.empty((block, m), dtype=np.float32)
    with threadpool_limits(1, "blas"):
        for t, w in enumerate(weights):
            for a in range(0, len(rows), block):
                r = rows[a : a + block]
                A = np.ascontiguousarray(V[r] * w[None, :])
                s = S[: len(r)]
                np.matmul(A.astype(np.float32), V32t, out=s)
                eps = _screen_error(A, colmax)
                _select(s, A, V, eps, r, need, step, idx[t, a : a + len(r)], val[t, a : a + len(r)])
    return idx, val


def lists_from_top(
    V: np.ndarray, weights: list[np.ndarray], idx: np.ndarray, val: np.ndarray, n: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The lists of :func:`top_lists`' rows: ``(r, n)`` candidates and ``(T, r, n + 1)`` values
    (the last column: the floor)."""
    V = np.ascontiguousarray(V, dtype=np.float64)
    r = idx.shape[1]
    rows = np.arange(r, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    A = np.ascontiguousarray(np.stack([V[rows] * w[None, :] for w in weights]))
    out_rows = np.zeros((r, n), dtype=np.int64)
    out_vals = np.zeros((len(weights), r, n + 1), dtype=np.float64)
    if r:
        _interleave(idx, val, A, V, rows, n, out_rows, out_vals)
    return out_rows, out_vals


# ---------- the night ----------


@dataclass(frozen=True, eq=False)
class ListState:
    """What the next night needs of tonight's lists: ``frame`` (a digest of what every value
    depends on besides the vectors: the rows' ids in order, the weights, the counts, this
    module's code), the vectors as ``codes`` ``(m, d)`` int8 and their steps ``scale`` ``(d,)``,
    each anchor's best columns ``top`` ``(T, m, need)`` int32 and their values ``top_val`` ``(T,
    m, need)`` float64 (the last: the row's edge)."""

    frame: str
    codes: np.ndarray
    scale: np.ndarray
    top: np.ndarray
    top_val: np.ndarray

    def to_state(self) -> Any:
        arrays = {"codes": self.codes, "scale": self.scale, "top": self.top, "top_val": self.top_val}
        return FitState(arrays, {"frame": self.frame, "version": STATE_VERSION})

    @classmethod
    def of(cls, state: Any) -> ListState | None:
        """The state a :class:`~mangarec.embedding.FitState` holds (``None``: not one of ours)."""
        meta = getattr(state, "meta", None)
        if not isinstance(meta, dict) or meta.get("version") != STATE_VERSION:
            return None
        a = {k: np.asarray(state.arrays[k]) for k in ("codes", "scale", "top", "top_val")}
        return cls(str(meta["frame"]), a["codes"], a["scale"], a["top"], a["top_val"])

    @property
    def vectors(self) -> np.ndarray:
        return self.codes.astype(np.float64) * self.scale[None, :]


def frame_of(
    ids: list[str],
    weights: list[np.ndarray],
    n: int,
    need: int,
    scale: np.ndarray | None = None,
    salt: str | None = None,
) -> str:
    """The digest of what a row's values depend on besides the vectors (see :class:`ListState`):
    the rows' ids in order, the weights, the counts, the codes' steps when given and ``salt``
    (``None``: this module's code)."""
    h = hashlib.sha256()
    h.update("\0".join(ids).encode("utf-8", "surrogatepass"))
    for w in weights:
        h.update(b"|w" + np.ascontiguousarray(w, dtype=np.float64).tobytes())
    if scale is not None:
        h.update(b"|s" + np.ascontiguousarray(scale, dtype=np.float64).tobytes())
    h.update(f"|{n}|{need}|{module_digest(__name__) if salt is None else salt}".encode())
    return h.hexdigest()


def changed_rows(V: np.ndarray, weights: list[np.ndarray], last: ListState) -> np.ndarray:
    """The rows whose lists may differ from last night's (sorted int64): the vector changed (its
    codes, or the step of a column it uses), a changed row among the ``need`` best, or a changed
    row's screen within ``2ε`` of the edge."""
    V = np.asarray(V, dtype=np.float64)
    changed = np.flatnonzero((V != last.vectors).any(axis=1))
    if not changed.size:
        return changed
    m = len(V)
    redo = np.zeros(m, dtype=bool)
    redo[changed] = True
    is_changed = redo.copy()
    redo |= is_changed[last.top].any(axis=(0, 2))
    colmax = np.abs(V).max(axis=0)
    Vc32 = np.ascontiguousarray(V[changed].T.astype(np.float32))
    block = max(1, BLOCK_ELEMENTS // changed.size)
    with threadpool_limits(1, "blas"):
        for t, w in enumerate(weights):
            for a in range(0, m, block):
                A = V[a : a + block] * w[None, :]
                s = A.astype(np.float32) @ Vc32
                edge = last.top_val[t, a : a + len(A), -1] - 2.0 * _screen_error(A, colmax)
                redo[a : a + len(A)] |= (s >= edge[:, None]).any(axis=1)
    return np.flatnonzero(redo)


def update_lists(
    V: np.ndarray, weights: list[np.ndarray], need: int, last: ListState | None, frame: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Each anchor's ``need`` best columns of every row (:func:`top_lists`), from ``last`` where
    the frame is the same and a row cannot have changed; returns them and the count of rows kept."""
    m = len(V)
    if last is None or last.frame != frame or last.codes.shape != V.shape or last.top.shape[1:] != (m, need):
        idx, val = top_lists(V, weights, need)
        return idx, val, 0
    redo = changed_rows(V, weights, last)
    if len(redo) > MAX_RANKED_SHARE * m:
        idx, val = top_lists(V, weights, need)
        return idx, val, 0
    idx = last.top.astype(np.int64)
    val = np.array(last.top_val, dtype=np.float64)
    if len(redo):
        idx[:, redo], val[:, redo] = top_lists(V, weights, need, redo)
    return idx, val, m - len(redo)

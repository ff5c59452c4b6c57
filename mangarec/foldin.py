"""Fold-in: a new user's taste vector from a few ratings, and ranking by it.

This is the computation the visitor's browser does (``site_src/static/js/taste.js``) and the
Python client (:mod:`mangarec.client`) repeats; :mod:`mangarec.models.als` trains with the same
per-user solve, so folding in a training user gives back (almost) its trained factor.

Value convention (one number per rated item, "model scale")
-----------------------------------------------------------
``explicit``
    ``v`` is the user's centred rating (rating minus the user's mean). The taste vector solves
    ``(Y_Sᵀ Y_S + λ·n·I) x = Y_Sᵀ v`` over the ``n`` rated items ``S`` (weighted-λ
    regularisation, "ALS-WR": the penalty grows with the number of ratings).
``implicit``
    Hu, Koren & Volinsky: ``p = 1 if v >= 0 else 0`` and confidence ``c = 1 + alpha·|v|``; the
    taste vector solves ``(YᵀY + Y_Sᵀ (C_S − I) Y_S + λI) x = Y_Sᵀ C_S p_S`` (plain λ).

A visitor's ratings map to values by :func:`to_values`: ``"like"`` → ``+1``, ``"dislike"`` →
``−1``, numbers (e.g. scores 1..10) → number minus the mean of the visitor's numbers. All maths
is float64 so that Python and JavaScript agree to ~1e-12.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .errors import InputError

MODES: tuple[str, ...] = ("explicit", "implicit")
LIKE = 1.0
DISLIKE = -1.0


def to_values(ratings: Mapping[str, float | str], index: Mapping[str, int], *, like: float = LIKE,
              dislike: float = DISLIKE) -> tuple[np.ndarray, np.ndarray]:
    """Map a visitor's ratings to ``(item positions, model-scale values)``.

    Parameters
    ----------
    ratings:
        ``{item id: "like" | "dislike" | number}``. Ids not in ``index`` are ignored (a title
        may have left the catalog since the visitor rated it).
    index:
        ``{item id: row}`` of the published vectors.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Positions ``(m,)`` int64 sorted ascending, and values ``(m,)`` float64: likes ``like``,
        dislikes ``dislike``, numbers centred on the mean of the visitor's numbers.
    """
    known = [(index[k], v) for k, v in ratings.items() if k in index]
    known.sort(key=lambda kv: kv[0])
    nums = []
    for k, v in ratings.items():
        if isinstance(v, str):
            if v not in ("like", "dislike"):
                raise InputError(f"rating of {k!r} must be 'like', 'dislike' or a number, not {v!r}")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise InputError(f"rating of {k!r} must be 'like', 'dislike' or a finite number, not {v!r}")
    for _, v in known:
        if not isinstance(v, str):
            nums.append(float(v))
    mean = 0.0
    for v in nums:  # sequential sum in row order, exactly as taste.js does
        mean += v
    mean = mean / len(nums) if nums else 0.0
    idx = np.array([p for p, _ in known], dtype=np.int64)
    vals = np.array(
        [like if v == "like" else dislike if v == "dislike" else float(v) - mean for _, v in known],
        dtype=np.float64,
    )
    return idx, vals


def gram(Y: np.ndarray) -> np.ndarray:
    """``YᵀY`` in float64, shape ``(d, d)`` (needed by implicit fold-in)."""
    Y = np.asarray(Y, dtype=np.float64)
    return Y.T @ Y


def fold_in(Y: np.ndarray, item_idx: Sequence[int] | np.ndarray, values: Sequence[float] | np.ndarray,
            reg: float, mode: str, *, alpha: float = 1.0, YtY: np.ndarray | None = None) -> np.ndarray:
    """The taste vector of a user who gave ``values`` to the items at ``item_idx``.

    Parameters
    ----------
    Y:
        ``(n_items, d)`` item factors (any float dtype; computed in float64).
    item_idx:
        ``(m,)`` row positions of the rated items.
    values:
        ``(m,)`` model-scale values (see the module docstring).
    reg:
        λ.
    mode:
        ``"explicit"`` or ``"implicit"``.
    alpha:
        Confidence scale (implicit only).
    YtY:
        Optional precomputed ``YᵀY`` (implicit only).

    Returns
    -------
    numpy.ndarray
        ``(d,)`` float64; the zero vector when nothing is rated.
    """
    if mode not in MODES:
        raise InputError(f"fold-in mode must be one of {', '.join(MODES)}, not {mode!r}")
    Y = np.asarray(Y, dtype=np.float64)
    d = Y.shape[1]
    idx = np.asarray(item_idx, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    if idx.shape != v.shape:
        raise ValueError("item_idx and values differ in length")
    if idx.size == 0:
        return np.zeros(d)
    Ys = Y[idx]
    if mode == "explicit":
        A = Ys.T @ Ys + reg * idx.size * np.eye(d)
        b = Ys.T @ v
    else:
        c = 1.0 + alpha * np.abs(v)
        p = (v >= 0).astype(np.float64)
        G = gram(Y) if YtY is None else np.asarray(YtY, dtype=np.float64)
        A = G + (Ys.T * (c - 1.0)) @ Ys + reg * np.eye(d)
        b = Ys.T @ (c * p)
    return cholesky_solve(A, b)


def cholesky_solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve the symmetric positive definite system ``A x = b`` by Cholesky (as the JS does).

    ``A`` is ``(d, d)`` float64, ``b`` is ``(d,)``; returns ``(d,)`` float64.
    """
    d = A.shape[0]
    L = np.zeros((d, d))
    for j in range(d):
        s = A[j, j] - L[j, :j] @ L[j, :j]
        if s <= 0:
            raise ValueError("fold-in system is not positive definite")
        L[j, j] = np.sqrt(s)
        L[j + 1:, j] = (A[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    y = np.zeros(d)
    for i in range(d):
        y[i] = (b[i] - L[i, :i] @ y[:i]) / L[i, i]
    x = np.zeros(d)
    for i in range(d - 1, -1, -1):
        x[i] = (y[i] - L[i + 1:, i] @ x[i + 1:]) / L[i, i]
    return x


def rank(Y: np.ndarray, x: np.ndarray, exclude: Sequence[int] | np.ndarray = (), *,
         tie_order: np.ndarray | None = None, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Items ordered by score ``Y @ x``, best first.

    Ties (equal float64 scores) go to the lower ``tie_order`` (catalog popularity rank as stored
    in the published JSON); without one, to the lower row position.

    Parameters
    ----------
    Y:
        ``(n_items, d)`` item vectors.
    x:
        ``(d,)`` taste vector.
    exclude:
        Row positions to leave out (e.g. already rated).
    tie_order:
        ``(n_items,)`` int rank per row, 0 wins every tie.
    n:
        Keep only the first ``n``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Row positions ``(k,)`` int64 and scores ``(k,)`` float64.
    """
    Y = np.asarray(Y, dtype=np.float64)
    # Row-wise sums (not BLAS gemv): identical rows get bit-identical scores, so exact ties
    # are real ties and the tie-break decides, as in taste.js.
    scores = (Y * np.asarray(x, dtype=np.float64)[None, :]).sum(axis=1)
    tie = np.arange(len(scores)) if tie_order is None else np.asarray(tie_order)
    keep = np.ones(len(scores), dtype=bool)
    keep[np.asarray(exclude, dtype=np.int64)] = False
    rows = np.flatnonzero(keep)
    order = rows[np.lexsort((tie[rows], -scores[rows]))]
    if n is not None:
        order = order[:n]
    return order.astype(np.int64), scores[order]

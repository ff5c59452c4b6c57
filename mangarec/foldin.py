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

A visitor's ratings map to values by :func:`to_values` exactly as training mapped a user's
ratings (:mod:`mangarec.feedback`; the published JSON's ``fold_in`` block carries the mapping as a
:class:`ValueMap`): with ``feedback = "likes"`` (the ALS default) ``"like"`` and a number at least
the threshold are ``+1`` and everything else is left out of the fit (still excluded from the
recommendations); ``"explicit"`` (content models, and version-1 documents) maps ``"like"`` →
``+1``, ``"dislike"`` → ``−1`` and numbers to the number minus the mean of the visitor's numbers.
In implicit mode the ridge penalty can be frequency-scaled: ``λ·((n + alpha·Σ|v|)/n) ** nu``
with ``n = reg_cols`` the training item count (``nu = 0``: plain λ).

A :class:`Schedule` (published as ``fold_in.schedule``, version 3) makes ``alpha`` and λ depend
on how many ratings ``m`` enter the fit: the visitor's values up to ``few``, the ``many`` values
(training's) from ``many`` on, geometric interpolation in ``log m`` between. A dozen likes want
a larger confidence and penalty than a training user's forty (docs/models.md).

All maths
is float64 so that Python and JavaScript agree to ~1e-12.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import InputError
from .feedback import Scale, model_values

MODES: tuple[str, ...] = ("explicit", "implicit")
LIKE = 1.0
DISLIKE = -1.0


@dataclass(frozen=True)
class ValueMap:
    """How a visitor's ratings become model-scale values (see the module docstring).

    ``feedback`` is one of :data:`mangarec.feedback.FEEDBACKS`; ``threshold`` the smallest
    rating that is a like and ``step`` the scale's step (``graded``); ``like`` / ``dislike``
    the values of the two buttons (``dislike = None``: left out of the fit).
    """

    feedback: str = "explicit"
    threshold: float = 0.0
    step: float = 1.0
    like: float = LIKE
    dislike: float | None = DISLIKE

    def number(self, r: float) -> float | None:
        """The value of a numeric rating (``explicit``: not defined here, see :func:`to_values`)."""
        f = self.feedback
        if f == "raw":
            return r
        liked = r >= self.threshold - 1e-9
        if f == "likes":
            return self.like if liked else None
        if f == "graded":
            return 1.0 + (r - self.threshold) / self.step if liked else None
        if f == "likes-dislikes":
            return self.like if liked else self.dislike
        raise ValueError(f"no numeric mapping for feedback {f!r}")


@dataclass(frozen=True)
class Schedule:
    """``alpha`` and λ as functions of the number ``m`` of ratings in the fit.

    ``m <= few``: the fold-in's own ``(alpha, reg)``; ``m >= many``: ``(alpha_many,
    reg_many)``; between, each is ``a ** (1 − t) · b ** t`` with
    ``t = log(m / few) / log(many / few)``. Inert unless ``0 < few < many``.
    """

    few: int = 0
    many: int = 0
    alpha_many: float = 1.0
    reg_many: float = 0.1

    @property
    def active(self) -> bool:
        """Whether the schedule changes anything (``0 < few < many``)."""
        return 0 < self.few < self.many

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Schedule:
        """From ``{"few", "many", "alpha_many", "reg_many"}`` (``fold_in.schedule``, or
        ``dataclasses.asdict`` of one)."""
        return cls(
            few=int(d["few"]), many=int(d["many"]), alpha_many=float(d["alpha_many"]), reg_many=float(d["reg_many"])
        )

    def at(self, m: int, alpha: float, reg: float) -> tuple[float, float]:
        """``(alpha, reg)`` for ``m`` ratings (``alpha``, ``reg``: the few-ratings values)."""
        if not self.active or m <= self.few:
            return float(alpha), float(reg)
        if m >= self.many:
            return float(self.alpha_many), float(self.reg_many)
        t = math.log(m / self.few) / math.log(self.many / self.few)
        return _geo(alpha, self.alpha_many, t), _geo(reg, self.reg_many, t)


@dataclass(frozen=True)
class Foldin:
    """How ratings are folded in against a model's item vectors: the one typed record the
    evaluation, ``mangarec tune``, the published ``fold_in`` block and the client read (a model's
    ``fit`` sets it on its :class:`~mangarec.embedding.Embedding`; content models keep the default,
    an explicit fold-in with λ 0.1).

    Attributes
    ----------
    mode:
        ``"explicit"`` or ``"implicit"`` (:data:`MODES`).
    reg, alpha:
        The visitor's λ and implicit confidence scale (the few-ratings values of ``schedule``).
    schedule:
        How ``alpha`` and ``reg`` move with the count of ratings (``None``: they do not).
    values:
        How a visitor's ratings become model-scale values (published with the fold-in).
    reg_exponent:
        Frequency scaling of the implicit λ (0: plain λ; see :func:`implicit_reg`).
    fit_reg, fit_alpha:
        The λ and α the model was trained with: what a training user's fold-in solves with
        (:attr:`mangarec.models.ModelSpec.solve`).
    scale:
        The rating scale training read (``None``: the model was not trained on ratings, or its
        values ignore the scale); with ``values`` it gives :meth:`training_values`.
    """

    mode: str = "explicit"
    reg: float = 0.1
    alpha: float = 1.0
    schedule: Schedule | None = None
    values: ValueMap = field(default_factory=ValueMap)
    reg_exponent: float = 0.0
    fit_reg: float = 0.1
    fit_alpha: float = 1.0
    scale: Scale | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"fold-in mode must be one of {', '.join(MODES)}, not {self.mode!r}")

    @property
    def implicit(self) -> bool:
        return self.mode == "implicit"

    def training_values(self, R: sp.csr_matrix) -> sp.csr_matrix:
        """The model-scale values training gave the ratings ``R`` (``(users, items)`` csr,
        canonical: sorted, no duplicates): :func:`mangarec.feedback.model_values` with this
        fold-in's mapping and scale; csr float64 of the same shape."""
        vm = self.values
        scale = self.scale if self.scale is not None else Scale(implicit=True, lo=0.0, hi=0.0, step=vm.step)
        dislike = -float(vm.dislike) if vm.feedback == "likes-dislikes" and vm.dislike is not None else 0.0
        return model_values(R, vm.feedback, scale, vm.threshold, dislike)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (the stage cache's form; :meth:`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Foldin:
        """From :meth:`to_dict`'s form."""
        return cls(
            mode=str(d["mode"]),
            reg=float(d["reg"]),
            alpha=float(d["alpha"]),
            schedule=Schedule.from_dict(d["schedule"]) if d.get("schedule") else None,
            values=ValueMap(**d["values"]),
            reg_exponent=float(d["reg_exponent"]),
            fit_reg=float(d["fit_reg"]),
            fit_alpha=float(d["fit_alpha"]),
            scale=Scale(**d["scale"]) if d.get("scale") else None,
        )


def _geo(a: float, b: float, t: float) -> float:
    """``a ** (1 − t) · b ** t`` as ``exp((1 − t)·log a + t·log b)`` (what ``taste.js`` computes;
    linear when either is not positive)."""
    if a <= 0 or b <= 0:
        return float(a + (b - a) * t)
    return math.exp((1.0 - t) * math.log(a) + t * math.log(b))


#: The version-1 mapping (and the content models'): likes +1, dislikes −1, numbers centred.
LEGACY = ValueMap()


def check_ratings(ratings: Mapping[str, float | str]) -> None:
    """Raise :class:`InputError` unless every value is ``"like"``, ``"dislike"`` or a finite number."""
    for k, v in ratings.items():
        if isinstance(v, str):
            if v not in ("like", "dislike"):
                raise InputError(f"rating of {k!r} must be 'like', 'dislike' or a number, not {v!r}")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise InputError(f"rating of {k!r} must be 'like', 'dislike' or a finite number, not {v!r}")


def rated_rows(ratings: Mapping[str, float | str], index: Mapping[str, int]) -> np.ndarray:
    """``(m,)`` int64 sorted rows of every rated title the index knows (for exclusion)."""
    return np.array(sorted(index[k] for k in ratings if k in index), dtype=np.int64)


def to_values(
    ratings: Mapping[str, float | str], index: Mapping[str, int], values: ValueMap = LEGACY
) -> tuple[np.ndarray, np.ndarray]:
    """Map a visitor's ratings to ``(item positions, model-scale values)``.

    Parameters
    ----------
    ratings:
        ``{item id: "like" | "dislike" | number}``. Ids not in ``index`` are ignored (a title
        may have left the catalog since the visitor rated it).
    index:
        ``{item id: row}`` of the published vectors.
    values:
        The mapping (the published ``fold_in`` block's).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Positions ``(m,)`` int64 sorted ascending and values ``(m,)`` float64 of the ratings
        that enter the fit (left-out ones are absent).
    """
    check_ratings(ratings)
    known = sorted(((index[k], v) for k, v in ratings.items() if k in index), key=lambda kv: kv[0])
    mean = 0.0
    if values.feedback == "explicit":
        nums = [float(v) for _, v in known if not isinstance(v, str)]
        for num in nums:  # sequential sum in row order, exactly as taste.js does
            mean += num
        mean = mean / len(nums) if nums else 0.0
    idx, vals = [], []
    for p, v in known:
        if v == "like":
            x: float | None = values.like
        elif v == "dislike":
            x = values.dislike
        elif values.feedback == "explicit":
            x = float(v) - mean
        else:
            x = values.number(float(v))
        if x is not None:
            idx.append(p)
            vals.append(x)
    return np.array(idx, dtype=np.int64), np.array(vals, dtype=np.float64)


def implicit_reg(reg: float, values: np.ndarray, alpha: float, nu: float, reg_cols: int) -> float:
    """The implicit fold-in's ridge penalty ``λ·((n + alpha·Σ|v|)/n) ** nu`` (``n = reg_cols``),
    as :func:`mangarec.models._solve.implicit_penalty` gives a training row."""
    if nu == 0.0:
        return float(reg)
    n = max(int(reg_cols), 1)
    total = 0.0
    for v in np.asarray(values, dtype=np.float64):  # sequential sum, as taste.js does
        total += abs(float(v))
    return float(reg) * ((n + alpha * total) / n) ** float(nu)


def gram(Y: np.ndarray) -> np.ndarray:
    """``YᵀY`` in float64, shape ``(d, d)`` (needed by implicit fold-in)."""
    Y = np.asarray(Y, dtype=np.float64)
    return Y.T @ Y


def fold_in(
    Y: np.ndarray,
    item_idx: Sequence[int] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    reg: float,
    mode: str,
    *,
    alpha: float = 1.0,
    YtY: np.ndarray | None = None,
    nu: float = 0.0,
    reg_cols: int = 1,
) -> np.ndarray:
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
    nu, reg_cols:
        Implicit only: frequency scaling of λ (:func:`implicit_reg`).

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
        A = G + (Ys.T * (c - 1.0)) @ Ys + implicit_reg(reg, v, alpha, nu, reg_cols) * np.eye(d)
        b = Ys.T @ (c * p)
    return cholesky_solve(A, b)


def cholesky_solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve the symmetric positive definite system ``A x = b`` by Cholesky (LAPACK through
    :func:`scipy.linalg.cho_factor`; ``taste.js`` does the same by hand).

    ``A`` is ``(d, d)`` float64, ``b`` is ``(d,)``; returns ``(d,)`` float64. Raises
    :class:`ValueError` when ``A`` is not positive definite.
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    try:
        factor = cho_factor(np.asarray(A, dtype=np.float64), lower=True, check_finite=False)
    except LinAlgError:
        raise ValueError("fold-in system is not positive definite") from None
    return cho_solve(factor, np.asarray(b, dtype=np.float64), check_finite=False)


def rank(
    Y: np.ndarray,
    x: np.ndarray,
    exclude: Sequence[int] | np.ndarray = (),
    *,
    tie_order: np.ndarray | None = None,
    n: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
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

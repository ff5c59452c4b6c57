"""What a rating means: the rating scale, the like threshold, and a rating's model-scale value.

One definition shared by the evaluation (which ratings are positives), ALS training (what each
rating contributes) and the visitor's fold-in (:mod:`mangarec.foldin`, ``taste.js``, through
the published JSON's ``fold_in`` block), so that a visitor's ratings are treated exactly as a
training user's.

Scales
------
:func:`detect_scale` reads the stored values: implicit ratings (every stored value means "on the
user's list") are ``implicit``; values that fit a usual scale take the smallest that fits (1–5
whole stars, 0.5–5 half stars as MovieLens, 1–10 as MyAnimeList); otherwise the smallest and
largest value and the smallest step between distinct values. A like is a rating at least
:func:`like_threshold`: ``lo + fraction·(hi − lo)`` rounded up to the scale's step (the default
fraction 0.7 gives 8 on 1–10 and 4 on 0.5–5).

Feedback mappings (``[models.als] feedback``)
---------------------------------------------
``likes``
    a like is ``+1``; any other rating is left out (as if not stored).
``graded``
    a like is ``1 + (r − t) / step`` (8, 9, 10 → 1, 2, 3 on 1–10); others left out.
``likes-dislikes``
    a like is ``+1``; any other rating is ``−dislike_weight`` (a "weighted zero": preference 0
    with confidence ``1 + alpha·dislike_weight``).
``raw``
    the rating itself (confidence ``1 + alpha·r``; what the build did before issue 10: a 1/10
    counts as a positive).
``explicit``
    the rating centred on the user's mean, for explicit ALS.

``benchmarks/bench_quality.py`` measures them; ``docs/models.md`` says which wins and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: Feedback mappings (see the module docstring).
FEEDBACKS: tuple[str, ...] = ("likes", "graded", "likes-dislikes", "raw", "explicit")
#: Scale names a configuration may give instead of ``auto``.
SCALES: tuple[str, ...] = ("auto", "implicit", "1-10", "1-5", "0.5-5")
#: Where on the scale a like starts, by default: ``lo + 0.7·(hi − lo)``.
DEFAULT_LIKE_FRACTION = 0.7
_NAMED = {"1-10": (1.0, 10.0, 1.0), "1-5": (1.0, 5.0, 1.0), "0.5-5": (0.5, 5.0, 0.5)}


@dataclass(frozen=True)
class Scale:
    """A rating scale: ``implicit``, or explicit values ``lo..hi`` in steps of ``step``."""

    implicit: bool
    lo: float = 1.0
    hi: float = 1.0
    step: float = 1.0

    @property
    def name(self) -> str:
        """``"implicit"`` or ``"lo-hi"`` (``"1-10"``, ``"0.5-5"``)."""
        return "implicit" if self.implicit else f"{self.lo:g}-{self.hi:g}"


def named_scale(name: str) -> Scale:
    """The :class:`Scale` for a configuration name of :data:`SCALES` (not ``auto``)."""
    if name == "implicit":
        return Scale(implicit=True)
    lo, hi, step = _NAMED[name]
    return Scale(False, lo, hi, step)


def detect_scale(matrix: sp.spmatrix, implicit: bool = False) -> Scale:
    """The scale of the stored values of ``matrix`` (``implicit``: every value is a like).

    A matrix whose stored values are all equal is implicit too (nothing to threshold).
    """
    data = np.asarray(sp.csr_matrix(matrix).data, dtype=np.float64)
    if implicit or data.size == 0:
        return Scale(implicit=True)
    values = np.unique(data)
    if len(values) == 1:
        return Scale(implicit=True)
    for name in ("1-5", "0.5-5", "1-10"):  # the usual scales, smallest first
        lo, hi, st = _NAMED[name]
        if values[0] >= lo - 1e-9 and values[-1] <= hi + 1e-9 and np.allclose(values / st, np.round(values / st)):
            return Scale(False, lo, hi, st)
    steps = np.diff(values)
    step = float(steps.min())
    # Snap the step to a round value when the values sit on a grid of it (0.5, 1, 0.25 ...).
    for s in (1.0, 0.5, 0.25, 0.1):
        if np.allclose(values / s, np.round(values / s), atol=1e-6) and step >= s - 1e-9:
            step = s
            break
    return Scale(False, float(values[0]), float(values[-1]), step)


def resolve_scale(matrix: sp.spmatrix, implicit: bool, configured: str = "auto") -> Scale:
    """``configured`` (one of :data:`SCALES`) or, for ``auto``, :func:`detect_scale`."""
    if configured == "auto":
        return detect_scale(matrix, implicit)
    return named_scale(configured)


def like_threshold(scale: Scale, fraction: float = DEFAULT_LIKE_FRACTION, absolute: float = 0.0) -> float:
    """The smallest rating that is a like: ``absolute`` when positive, else ``lo +
    fraction·(hi − lo)`` rounded up to the step (``-inf``-free: implicit gives 0, every stored
    value is a like)."""
    if scale.implicit:
        return 0.0
    if absolute > 0:
        return float(absolute)
    raw = scale.lo + fraction * (scale.hi - scale.lo)
    k = math.ceil((raw - scale.lo) / scale.step - 1e-9)
    return float(scale.lo + k * scale.step)


def like_mask(data: np.ndarray, scale: Scale, threshold: float) -> np.ndarray:
    """Which stored values (``(nnz,)`` float) are likes: ``(nnz,)`` bool."""
    data = np.asarray(data)
    if scale.implicit:
        return data > 0
    return data >= threshold - 1e-9


def model_values(
    R: sp.csr_matrix, feedback: str, scale: Scale, threshold: float, dislike_weight: float = 0.1
) -> sp.csr_matrix:
    """The training matrix of model-scale values for ``feedback`` (see the module docstring).

    ``R`` is ``(users, items)`` csr of ratings, canonical (sorted, no duplicates); returns csr
    float64 of the same shape with the left-out ratings removed.
    """
    if feedback not in FEEDBACKS:
        raise ValueError(f"feedback must be one of {', '.join(FEEDBACKS)}, not {feedback!r}")
    R = sp.csr_matrix(R, dtype=np.float64)
    if feedback == "raw":
        return R.copy()
    if feedback == "explicit":
        counts = np.diff(R.indptr)
        sums = np.bincount(np.repeat(np.arange(R.shape[0]), counts), weights=R.data, minlength=R.shape[0])
        mean = sums / np.maximum(counts, 1)
        out = R.copy()
        out.data = R.data - np.repeat(mean, counts)
        return out
    like = like_mask(R.data, scale, threshold)
    if feedback == "likes":
        vals = np.where(like, 1.0, 0.0)
    elif feedback == "graded":
        vals = (
            np.where(like, 1.0 + (R.data - threshold) / scale.step, 0.0)
            if not scale.implicit
            else np.where(like, 1.0, 0.0)
        )
    else:  # likes-dislikes
        vals = np.where(like, 1.0, -float(dislike_weight))
    keep = vals != 0.0
    user = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
    out = sp.csr_matrix((vals[keep], (user[keep], R.indices[keep])), shape=R.shape)
    out.sort_indices()
    return out


def value_of(rating: float, feedback: str, scale: Scale, threshold: float, dislike_weight: float) -> float | None:
    """One rating's model-scale value (``None``: left out), for the non-centred mappings."""
    v = model_values(sp.csr_matrix(np.array([[float(rating)]])), feedback, scale, threshold, dislike_weight)
    return float(v.data[0]) if v.nnz else None

"""The evaluation protocol: which ratings are positives, and the fixed held-out splits.

Used by the build's report, by tuning (:mod:`mangarec.tune`) and by the benchmarks, so every
figure comes from the same split of the same positives.

1. The rating scale is detected (or configured) and a like is a rating at least the threshold
   relative to it (:mod:`mangarec.feedback`); implicit feedback: every interaction is a like.
2. Users with at least ``min_likes`` likes are eligible; at most ``max_users`` of them are
   sampled (fixed seed). Each keeps ``round(holdout · likes)`` of its likes aside as its *test*
   positives (at least 1, at most all but 1).
3. Inside what is left (*train*), the same is done again: *validation* positives held out of
   *fit*. Every tuned choice (hyper-parameters, the feedback mapping, EASE's λ) is made on
   validation with models fitted on *fit*; the final figures fit on *train* and score *test*.

Splits are ``(users, items)`` csr matrices aligned with the catalog. Non-like ratings always
stay in the training side (a visitor's dislikes are known), and every evaluated list excludes
the user's training ratings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..catalog import Ratings
from ..feedback import Scale, like_mask, like_threshold, resolve_scale
from ..seeds import derive_seed

if TYPE_CHECKING:
    from ..config import EvaluationSection


@dataclass(frozen=True)
class Positives:
    """What a like is: the scale, the threshold (``0`` for implicit) and how it was chosen."""

    scale: Scale
    threshold: float
    per_user: bool = False

    def mask(self, R: sp.csr_matrix) -> np.ndarray:
        """``(nnz,)`` bool over canonical ``R.data``: which ratings are likes.

        With ``per_user``, a like must also reach the user's own mean rating.
        """
        like = like_mask(R.data, self.scale, self.threshold)
        if self.per_user and not self.scale.implicit and R.nnz:
            counts = np.diff(R.indptr)
            user = np.repeat(np.arange(R.shape[0]), counts)
            mean = np.bincount(user, weights=R.data, minlength=R.shape[0]) / np.maximum(counts, 1)
            like &= R.data >= mean[user] - 1e-9
        return like

    def describe(self) -> str:
        """One sentence for the report's notes."""
        if self.scale.implicit:
            return "Implicit feedback: every interaction is a like."
        extra = " and at least the user's own mean rating" if self.per_user else ""
        return (
            f"Ratings on a {self.scale.name} scale (step {self.scale.step:g}); a like is a rating of at "
            f"least {self.threshold:g}{extra}."
        )


def positives_of(ratings: Ratings, config: EvaluationSection) -> Positives:
    """The :class:`Positives` of ``ratings`` under ``[evaluation]``."""
    scale = resolve_scale(ratings.matrix, ratings.implicit, config.scale)
    thr = like_threshold(scale, config.like_fraction, config.like_threshold)
    return Positives(scale, thr, bool(config.like_per_user) and not scale.implicit)


def canonical(matrix: sp.spmatrix) -> sp.csr_matrix:
    """csr float64 copy, duplicates summed, indices sorted."""
    m = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    m.sum_duplicates()
    m.sort_indices()
    return m


def _rebuild(m: sp.csr_matrix, user_of: np.ndarray, keep: np.ndarray) -> sp.csr_matrix:
    indptr = np.concatenate(([0], np.cumsum(np.bincount(user_of[keep], minlength=m.shape[0]))))
    return sp.csr_matrix((m.data[keep], m.indices[keep], indptr), shape=m.shape)


def hold_out(
    R: sp.csr_matrix,
    like: np.ndarray,
    frac: float,
    seed: int,
    *,
    min_likes: int,
    max_users: int | None,
    users: np.ndarray | None = None,
) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """Hold out a fraction of each eligible user's likes.

    Parameters
    ----------
    R:
        ``(users, items)`` canonical csr of ratings.
    like:
        ``(nnz,)`` bool, which stored ratings are likes.
    users:
        Restrict to these users (else: every user with ``>= min_likes`` likes, sampled down to
        ``max_users`` by the seed).

    Returns
    -------
    (rest, heldout, users):
        ``rest`` csr (``R`` without the held-out entries), ``heldout`` csr float64 of ones at the
        held-out positions, and the sorted ``(u,)`` int64 users who had likes held out.
    """
    user_of = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
    n_likes = np.bincount(user_of[like], minlength=R.shape[0])
    g = np.random.default_rng(seed)
    if users is None:
        eligible = np.flatnonzero(n_likes >= max(min_likes, 2))
        if max_users is not None and len(eligible) > max_users:
            eligible = np.sort(g.choice(eligible, size=max_users, replace=False))
    else:
        eligible = np.asarray(users, dtype=np.int64)
        eligible = eligible[n_likes[eligible] >= 2]
    key = g.random(R.nnz)
    n_hold = np.zeros(R.shape[0], dtype=np.int64)
    n_hold[eligible] = np.clip(np.floor(frac * n_likes[eligible] + 0.5), 1, n_likes[eligible] - 1)
    cand = np.flatnonzero(like & (n_hold[user_of] > 0))
    order = cand[np.lexsort((key[cand], user_of[cand]))]
    us = user_of[order]
    rank = np.arange(len(order)) - np.searchsorted(us, us)
    held = np.zeros(R.nnz, dtype=bool)
    held[order[rank < n_hold[us]]] = True
    rest = _rebuild(R, user_of, ~held)
    ones = R.copy()
    ones.data = np.ones_like(R.data)
    heldout = _rebuild(ones, user_of, held)
    return rest, heldout, np.sort(eligible).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Split:
    """The evaluation's splits of one catalog's ratings (see the module docstring).

    Attributes
    ----------
    positives:
        What a like is.
    train:
        All ratings without the test positives (fit the models of the final figures on it).
    test:
        ``(users, items)`` csr of ones: the held-out likes of :attr:`users`.
    users:
        ``(u,)`` int64, the evaluated users.
    fit:
        ``train`` without the validation positives (fit tuned candidates on it).
    validation:
        csr of ones: the validation likes of :attr:`users`.
    """

    positives: Positives
    train: Ratings
    test: sp.csr_matrix
    users: np.ndarray
    fit: Ratings
    validation: sp.csr_matrix
    holdout: float
    min_likes: int
    eligible: int

    def likes(self, which: str = "train") -> sp.csr_matrix:
        """Binary csr float64 of the likes in ``train`` or ``fit``."""
        R = canonical((self.train if which == "train" else self.fit).matrix)
        R.data = self.positives.mask(R).astype(np.float64)
        R.eliminate_zeros()
        return R

    @property
    def empty(self) -> bool:
        """No user could be evaluated (too few likes): the report says so, loudly."""
        return len(self.users) == 0 or self.test.nnz == 0

    def describe(self) -> list[str]:
        """The notes the report prints about the split."""
        notes = [self.positives.describe()]
        if self.empty:
            notes.append(
                f"NO EVALUATION: no user has {self.min_likes}+ likes under this definition, so nothing "
                "could be held out (check [evaluation] scale and like_threshold)."
            )
            return notes
        notes.append(
            f"{len(self.users)} users evaluated (fixed-seed sample of the {self.eligible} with "
            f"{self.min_likes}+ likes); {self.holdout:g} of each one's likes held out as test "
            f"({self.test.nnz} likes), and {self.holdout:g} of the rest as validation "
            f"({self.validation.nnz}) for every tuned choice."
        )
        return notes


def make_split(ratings: Ratings, config: EvaluationSection, seed: int) -> Split:
    """The fixed split of ``ratings`` for build seed ``seed`` (the evaluation's, tuning's and
    the benchmarks' protocol)."""
    pos = positives_of(ratings, config)
    R = canonical(ratings.matrix)
    like = pos.mask(R)
    user_of = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
    eligible = int(np.count_nonzero(np.bincount(user_of[like], minlength=R.shape[0]) >= max(config.min_likes, 2)))
    s = derive_seed(seed, "evaluation", "split")
    train, test, users = hold_out(
        R, like, config.holdout, derive_seed(s, "test"), min_likes=config.min_likes, max_users=config.max_users
    )
    fit, val, _ = hold_out(
        train,
        pos.mask(train),
        config.holdout,
        derive_seed(s, "validation"),
        min_likes=config.min_likes,
        max_users=None,
        users=users,
    )
    as_ratings = lambda m: replace(ratings, matrix=sp.csr_matrix(m, dtype=np.float32))  # noqa: E731
    return Split(
        positives=pos,
        train=as_ratings(train),
        test=test,
        users=users,
        fit=as_ratings(fit),
        validation=val,
        holdout=config.holdout,
        min_likes=config.min_likes,
        eligible=eligible,
    )

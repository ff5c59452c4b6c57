"""Hit rate@10 of item-kNN recommendations on held-out likes.

For a fixed-seed sample of users, a fraction of each user's likes is held out. A model's
neighbour lists recommend, for each user, the unseen items with the largest sum of neighbour
scores from the user's remaining likes (item-kNN); items no like reaches rank after those, by
``Catalog.tie_order`` (most popular first). A user is a hit when one of the top 10 is a held-out
like. Baselines: the items most liked in the training split ("popularity") and uniformly random
unseen items ("random", its exact expectation).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog, Ratings
from ..config import EvaluationSection
from ..embedding import Neighbours
from ..seeds import derive_seed

#: Recommendations per user.
HIT_K = 10
#: Models fitted on ratings: their hit rate is optimistic unless fitted on the training split.
RATING_MODELS = ("als",)


def likes_mask(ratings: Ratings, like_threshold: float) -> np.ndarray:
    """(nnz,) bool over ``ratings.matrix.data`` (canonical csr): which ratings are likes."""
    data = ratings.matrix.data
    return data > 0 if ratings.implicit else data >= like_threshold


def _canonical(ratings: Ratings) -> sp.csr_matrix:
    m = sp.csr_matrix(ratings.matrix, dtype=np.float32, copy=True)
    m.sum_duplicates()
    m.sort_indices()
    return m


def split_ratings(ratings: Ratings, holdout: float, like_threshold: float, seed: int,
                  max_users: int | None = None) -> tuple[Ratings, dict[int, np.ndarray]]:
    """Hold out a fraction of sampled users' likes.

    Users with at least 2 likes are eligible; at most ``max_users`` of them are sampled (fixed
    seed). Each keeps ``round(holdout * likes)`` likes aside (at least 1, at most likes - 1).

    Returns
    -------
    train:
        The ratings without the held-out entries (same shape, users and order: fit models
        that use ratings on this for a fair hit rate).
    heldout:
        ``{user row: sorted (h,) int64 item positions}`` for the sampled users.
    """
    m = _canonical(ratings)
    r = replace(ratings, matrix=m)
    like = likes_mask(r, like_threshold)
    user_of = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    n_likes = np.bincount(user_of[like], minlength=m.shape[0])
    eligible = np.flatnonzero(n_likes >= 2)
    g = np.random.default_rng(derive_seed(seed, "split"))
    if max_users is not None and len(eligible) > max_users:
        eligible = np.sort(g.choice(eligible, size=max_users, replace=False))
    key = g.random(m.nnz)
    n_hold = np.zeros(m.shape[0], dtype=np.int64)
    n_hold[eligible] = np.clip(np.floor(holdout * n_likes[eligible] + 0.5), 1, n_likes[eligible] - 1)
    cand = np.flatnonzero(like & (n_hold[user_of] > 0))
    order = cand[np.lexsort((key[cand], user_of[cand]))]
    users_sorted = user_of[order]
    first = np.searchsorted(users_sorted, users_sorted)
    rank = np.arange(len(order)) - first
    held = order[rank < n_hold[users_sorted]]
    keep = np.ones(m.nnz, dtype=bool)
    keep[held] = False
    hu = user_of[held]  # held is grouped by user
    bounds = np.searchsorted(hu, eligible), np.searchsorted(hu, eligible, side="right")
    heldout = {int(u): np.sort(m.indices[held[a:b]]).astype(np.int64)
               for u, a, b in zip(eligible, *bounds)}
    train_m = sp.csr_matrix((m.data[keep], m.indices[keep], np.concatenate(([0], np.cumsum(np.bincount(
        user_of[keep], minlength=m.shape[0]))))), shape=m.shape)
    return replace(ratings, matrix=train_m), heldout


def evaluation_split(ratings: Ratings, config: EvaluationSection, seed: int):
    """The exact split :func:`hit_rate` uses for build seed ``seed`` (for fitting ALS on it)."""
    return split_ratings(ratings, config.holdout, config.like_threshold,
                         derive_seed(seed, "hit-rate"), max_users=config.max_users)


def _score_matrix(nb: Neighbours) -> sp.csr_matrix:
    n, k = nb.indices.shape
    return sp.csr_matrix((nb.scores.astype(np.float64).ravel(), nb.indices.astype(np.int64).ravel(),
                          np.arange(0, n * k + 1, k)), shape=(n, n))


def _top_unseen(order: np.ndarray, seen: np.ndarray, k: int, chosen: np.ndarray | None = None) -> np.ndarray:
    """The first ``k`` items of ``order`` not in ``seen`` (nor in ``chosen``)."""
    block = order[: k + len(seen) + (0 if chosen is None else len(chosen))]
    bad = seen if chosen is None else np.concatenate([seen, chosen])
    return block[~np.isin(block, bad)][:k]


def hit_rate(catalog: Catalog, neighbours: Mapping[str, Neighbours], config: EvaluationSection,
             seed: int, fitted_on_train: tuple[str, ...] = ()) -> dict | None:
    """Hit rate@10 of each model's item-kNN, popularity and random (``None`` without ratings).

    ``fitted_on_train`` names the models whose neighbours come from a fit on
    :func:`evaluation_split`'s training ratings (see ``notes`` in the result).
    """
    ratings = catalog.ratings
    if ratings is None:
        return None
    train, heldout = evaluation_split(ratings, config, seed)
    users = np.array(sorted(heldout), dtype=np.int64)
    n = len(catalog)
    tie = catalog.tie_order
    by_tie = np.argsort(tie, kind="stable")
    t = train.matrix
    like = likes_mask(train, config.like_threshold)
    liked = sp.csr_matrix((like.astype(np.float64), t.indices, t.indptr), shape=t.shape, copy=True)
    liked.eliminate_zeros()
    seen_of = {int(u): t.indices[t.indptr[u]:t.indptr[u + 1]].astype(np.int64) for u in users}
    pop = np.asarray(liked.sum(axis=0)).ravel()
    pop_order = np.lexsort((tie, -pop))
    scores: dict[str, float] = {}
    sub = liked[users]
    for name, nb in neighbours.items():
        user_scores = (sub @ _score_matrix(nb)).tocsr()
        user_scores.sort_indices()
        hits = 0
        for row, u in enumerate(users):
            a, b = user_scores.indptr[row], user_scores.indptr[row + 1]
            items, vals = user_scores.indices[a:b].astype(np.int64), user_scores.data[a:b]
            ok = (vals > 0) & ~np.isin(items, seen_of[int(u)])
            items, vals = items[ok], vals[ok]
            top = items[np.lexsort((tie[items], -vals))][:HIT_K]
            if len(top) < HIT_K:
                top = np.concatenate([top, _top_unseen(by_tie, seen_of[int(u)], HIT_K - len(top), top)])
            hits += bool(np.isin(top, heldout[int(u)]).any())
        scores[name] = hits / max(len(users), 1)
    pop_hits = sum(bool(np.isin(_top_unseen(pop_order, seen_of[int(u)], HIT_K), heldout[int(u)]).any())
                   for u in users)
    scores["popularity"] = pop_hits / max(len(users), 1)
    rnd = []
    for u in users:
        unseen, h = n - len(seen_of[int(u)]), len(heldout[int(u)])
        t_ = np.arange(min(HIT_K, unseen))
        rnd.append(1.0 - float(np.prod((unseen - h - t_) / (unseen - t_))) if unseen - h >= len(t_) else 1.0)
    scores["random"] = float(np.mean(rnd)) if rnd else 0.0
    notes = [
        f"{len(users)} users (fixed-seed sample of at most {config.max_users} with 2+ likes); "
        f"{config.holdout:g} of each user's likes held out (at least 1, at most all but 1).",
        ("A like is any interaction (implicit feedback)." if ratings.implicit
         else f"A like is a rating of at least {config.like_threshold:g}."),
        "Item-kNN: unseen items ranked by the sum of neighbour scores from the user's remaining "
        "likes; items no like reaches follow, most popular first.",
        "popularity: the items most liked in the training split; random: exact expectation of "
        "10 uniform picks among unseen items.",
    ]
    for name in neighbours:
        if name in RATING_MODELS:
            notes.append(
                f"{name} was fitted on the training split only (held-out likes unseen)." if name in fitted_on_train
                else f"{name} was fitted on all ratings, held-out likes included: its hit rate is optimistic.")
    return {"k": HIT_K, "users": int(len(users)), "holdout": config.holdout,
            "like_threshold": None if ratings.implicit else config.like_threshold,
            "implicit": bool(ratings.implicit), "scores": scores, "notes": notes}

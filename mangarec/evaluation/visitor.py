"""What a visitor gets: the published, quantised JSON through the Python client.

The model trained on the split's *train* ratings is published exactly as the build publishes it
(:func:`mangarec.publish.build_payload`, int8 vectors) and read back with
:func:`mangarec.client.parse`; each evaluated user becomes a visitor who gives ``m`` of their
training likes (a fixed-seed sample, the same for every call with the same seed, so rows
compare visitor by visitor; ``m`` in ``[evaluation] visitor_likes``, and all of them), the
client folds them in exactly as ``taste.js`` does, and the top 10 (the user's training ratings
excluded, as for every method) is scored on the held-out likes.

The onboarding is scored the same way: the visitor answers the dozen picks from their true
training ratings (a like, a dislike below the threshold, nothing when unrated), against a dozen
random picks among the most popular titles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog
from ..client import PublishedModel, parse
from ..embedding import Embedding
from ..foldin import Schedule
from ..publish import build_payload
from ..seeds import derive_seed
from .protocol import Split, canonical
from .ranking import K, Metrics, score, top_k
from .results import VisitorFigures

#: Users simulated as visitors (a fixed-seed sample of the evaluated users).
MAX_VISITORS = 1000
#: Random popular picks are drawn among this many times the pick count of the most popular titles.
POPULAR_POOL = 10


def published_model(
    catalog: Catalog, emb: Embedding, *, reg: float, mode: str, alpha: float, schedule: Schedule | None = None
) -> PublishedModel:
    """``emb`` through the published JSON (quantised) and back through the client."""
    doc = build_payload(catalog, emb, reg=reg, mode=mode, alpha=alpha, schedule=schedule, build_date="evaluation")
    return parse(doc, "evaluation")


def _visitor_scorer(model: PublishedModel, catalog: Catalog, profiles: Sequence[Mapping[str, float | str]]):
    """A scorer over the visitors' positions ``0..len(profiles)-1``: client fold-in, then
    scores over the catalog's items (titles missing from the JSON score ``-inf``)."""
    if model.lists is not None:
        return _list_scorer(model, catalog, profiles)
    rows = np.array([model.index.get(i, -1) for i in catalog.ids], dtype=np.int64)
    tastes = model.fit_many(profiles)

    def scorer(users: np.ndarray) -> np.ndarray:
        S = tastes[users] @ model.vectors.T
        out = np.full((len(users), len(rows)), -np.inf)
        ok = (rows >= 0) & (rows < model.n_recommendable)
        out[:, ok] = S[:, rows[ok]]
        return out

    return scorer


def _list_scorer(model: PublishedModel, catalog: Catalog, profiles: Sequence[Mapping[str, float | str]]):
    """A version-5 model's scorer: each visitor's candidates (the union of their rated titles'
    lists) by :meth:`PublishedModel.candidate_scores`' sums, every other title ``-inf``."""
    index = catalog.index
    out = np.full((len(profiles), len(catalog)), -np.inf)
    for r, p in enumerate(profiles):
        got = model.candidate_scores(p)
        cols = np.array([index[c] for c in got], dtype=np.int64)
        out[r, cols] = list(got.values())
    return lambda users: out[users]


def _evaluate_profiles(
    model: PublishedModel,
    catalog: Catalog,
    split: Split,
    users: np.ndarray,
    profiles: list[dict[str, float | str]],
    seed: int,
    item_item: sp.csr_matrix | None = None,
) -> Metrics:
    exclude = canonical(split.train.matrix)[users]
    scorer = (
        _visitor_scorer(model, catalog, profiles)
        if item_item is None
        else _item_item_scorer(item_item, catalog, profiles)
    )
    lists = top_k(scorer, exclude, np.arange(len(users)), catalog.tie_order, K)
    return score(lists, split.test[users], np.arange(len(users)), len(catalog), seed)


def _item_item_scorer(W: sp.csr_matrix, catalog: Catalog, profiles: Sequence[Mapping[str, float | str]]):
    """A title's score is the sum of the weight rows ``W[j]`` of the titles ``j`` the visitor
    liked: what a browser computes from the per-title shards of its liked titles only."""
    index = catalog.index
    rows, cols = [], []
    for r, p in enumerate(profiles):
        for i, v in p.items():
            if v == "like" and i in index:
                rows.append(r)
                cols.append(index[i])
    L = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(profiles), len(catalog)))
    return lambda users: np.asarray((L[users] @ W).todense())


def evaluate_visitor(
    catalog: Catalog,
    split: Split,
    emb: Embedding,
    *,
    reg: float,
    mode: str,
    alpha: float,
    like_counts: Sequence[int],
    seed: int,
    schedule: Schedule | None = None,
    picks: Sequence[int] | None = None,
    max_visitors: int = MAX_VISITORS,
    item_item: sp.csr_matrix | None = None,
    model: PublishedModel | None = None,
) -> VisitorFigures:
    """The visitor-path figures (see the module docstring).

    ``emb`` must be fitted on ``split.train``; ``picks`` are the onboarding's item positions;
    ``reg``, ``mode``, ``alpha`` and ``schedule`` are the published ``fold_in`` block's.
    ``item_item`` (``(n, n)`` csr
    of per-title top-k weights, fitted on ``split.train``) scores the same profiles for
    comparison. ``model``: the published model to read (default: ``emb`` published as the
    full version-3 file; e.g. a compact version-4 one, :mod:`mangarec.compact`).
    """
    if model is None:
        model = published_model(catalog, emb, reg=reg, mode=mode, alpha=alpha, schedule=schedule)
    # One generator per draw, so that calls with the same seed share the visitors and each
    # count's profiles whatever else they ask for: their figures compare pair by pair.
    users = split.users
    if len(users) > max_visitors:
        g = np.random.default_rng(derive_seed(seed, "visitor", "users"))
        users = np.sort(g.choice(users, size=max_visitors, replace=False))
    R = canonical(split.train.matrix)
    like = split.positives.mask(R)
    ids = catalog.ids
    liked = [R.indices[R.indptr[u] : R.indptr[u + 1]][like[R.indptr[u] : R.indptr[u + 1]]] for u in users]
    fig: dict[str, Metrics] = {}
    ii: dict[str, Metrics] = {}
    for m in [*sorted(set(like_counts)), None]:
        g = np.random.default_rng(derive_seed(seed, "visitor", "likes", "all" if m is None else m))
        profiles: list[dict[str, float | str]] = []
        for row in liked:
            pick = row if m is None or len(row) <= m else np.sort(g.choice(row, size=m, replace=False))
            profiles.append({ids[j]: "like" for j in pick})
        name = "all likes" if m is None else f"{m} likes"
        fig[name] = _evaluate_profiles(model, catalog, split, users, profiles, derive_seed(seed, "bootstrap"))
        if item_item is not None:
            ii[name] = _evaluate_profiles(
                model, catalog, split, users, profiles, derive_seed(seed, "bootstrap"), item_item=item_item
            )
    onboarding: dict[str, Metrics] = {}
    answered: dict[str, float] = {}
    if picks:
        n = len(picks)
        pool = np.argsort(catalog.tie_order, kind="stable")[: POPULAR_POOL * n]
        g = np.random.default_rng(derive_seed(seed, "visitor", "popular picks"))
        random_picks = np.sort(g.choice(pool, size=min(n, len(pool)), replace=False))
        for name, chosen in (
            ("onboarding picks", np.asarray(picks, dtype=np.int64)),
            ("random popular picks", random_picks),
        ):
            profiles, counts = _answers(R, like, users, chosen, ids)
            onboarding[name] = _evaluate_profiles(
                model, catalog, split, users, profiles, derive_seed(seed, "bootstrap")
            )
            answered[name] = float(np.mean(counts)) if len(counts) else 0.0
    return VisitorFigures(
        model=emb.model, likes=fig, onboarding=onboarding, answered=answered, visitors=int(len(users)), item_item=ii
    )


def _answers(
    R: sp.csr_matrix, like: np.ndarray, users: np.ndarray, picks: np.ndarray, ids: Sequence[str]
) -> tuple[list[dict[str, float | str]], list[int]]:
    """Each user's answers to ``picks`` from their training ratings: like / dislike / none."""
    profiles, counts = [], []
    for u in users:
        a, b = R.indptr[u], R.indptr[u + 1]
        cols = R.indices[a:b]
        pos = np.searchsorted(cols, picks)
        prof: dict[str, float | str] = {}
        for p, j in zip(pos, picks):
            if p < len(cols) and cols[p] == j:
                prof[ids[j]] = "like" if like[a + p] else "dislike"
        profiles.append(prof)
        counts.append(len(prof))
    return profiles, counts


def spread_picks(vectors: np.ndarray, tie_order: np.ndarray, n: int = 12, pool: int = POPULAR_POOL) -> list[int]:
    """``n`` popular titles spread over the embedding: farthest-point sampling (cosine geometry)
    among the ``pool · n`` most popular, starting at the most popular (what the site's
    onboarding does when it has no map)."""
    cand = np.argsort(tie_order, kind="stable")[: max(n, pool * n)]
    v = np.asarray(vectors, dtype=np.float64)[cand]
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    chosen = [0]
    dist = np.linalg.norm(v - v[0], axis=1)
    while len(chosen) < min(n, len(cand)):
        dist[chosen] = -1.0
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(v - v[nxt], axis=1))
    return [int(cand[k]) for k in chosen]

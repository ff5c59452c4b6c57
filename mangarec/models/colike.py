"""Tags learned from co-likes: tag-set overlap whose tag weights were fitted on what readers like together.

For items ``i, j`` (``ℓ`` the standardised log popularity, ``log(1 + popularity)`` minus its
catalog mean over its standard deviation)::

    s(i, j) = Σ_{t∈i∩j} w_t / (W_i + W_j − Σ_{t∈i∩j} w_t)       (weighted tag-set Jaccard)
              − affinity · (ℓ_i − ℓ_j)²  +  prior · ℓ_j

``W_i = Σ_{t∈i} w_t``. With every ``w_t = 1`` and both coefficients 0 this is tag-set Jaccard, the
baseline; the fit moves away from it only where that predicts co-likes better. The weights are
fitted by coordinate ascent (:func:`fit_weights`) on the **co-like agreement@20** of a sample of
titles: each title's 20 most co-liked titles (likes of the same users, cosine-normalised, at least
two users, the title's own series left out: :func:`co_liked_truth`) against its top 20 under
``s`` among the titles anybody liked. ``(ℓ_i − ℓ_j)²`` says that readers of a niche title co-like
other niche titles; ``ℓ_j`` is a bias toward titles people read (the popularity-matched null of
the evaluation tells these apart from knowing which titles go together).

Where the weights come from (``source``):

* ``"ratings"`` (``"auto"`` on a catalog with ratings, e.g. anime-recdb, or MangaDex once
  visitors contribute): fitted on the catalog's own likes (the evaluation refits them without the
  held-out likes; the cold-start protocol without the held-out titles' ratings);
* ``"shipped"`` (``"auto"`` without ratings): the weights fitted on anime-recdb's 419,943
  MyAnimeList ratings, committed as :mod:`._colike_weights` (derived parameters: one weight per
  canonical tag and two coefficients, never rows of the data) and carried to any catalog through
  the canonical tag names (:mod:`mangarec.tags`); a tag the fit never saw keeps Jaccard's weight 1.
  Only the tag weights are carried by default: the two popularity coefficients were fitted on
  MyAnimeList members, whose scale another catalog's popularity (MangaDex follows) does not share
  (``carry_popularity``; carried, they cut MangaDex's ``matches`` recall@20 from 0.40 to 0.26).
  ``python3 benchmarks/bench_colike.py --write`` regenerates it.

``vectors`` (maps, the published file) are the unit ``√w``-weighted tag rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog
from ..cooccurrence import top_k_of_product
from ..embedding import Embedding
from ..schema import bounded, key, one_of
from ..seeds import rng
from ..similarity import Bilinear, TagJaccard, Weighted
from . import _colike_weights as shipped
from ._features import unit_tag_rows
from ._series_rule import series_members
from ._solve import solve_users
from .base import ModelSpec

#: List length the weights are fitted for (the evaluation's k).
K = 20
#: Users who must like both titles of a co-liked pair.
MIN_USERS = 2
#: Multipliers tried on each tag weight per sweep, and the coefficients' grids.
TAG_STEPS: tuple[float, ...] = (0.0, 0.5, 2.0)
AFFINITY_GRID: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4)
PRIOR_GRID: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.4, 0.8)


@dataclass(frozen=True)
class Params:
    """``[models.colike]``: tag overlap with tag weights fitted on co-likes."""

    source: str = key(
        "auto",
        "Weights fitted on the catalog's own ratings ('ratings'), the shipped anime-recdb fit ('shipped'), "
        "or 'auto' (own ratings when the catalog has them).",
        one_of("auto", "ratings", "shipped"),
    )
    fit_titles: int = key(800, "Titles sampled to score each candidate weight (fixed seed).", bounded(10, 1_000_000))
    sweeps: int = key(2, "Coordinate-ascent sweeps over the tag weights.", bounded(0, 10))
    like_fraction: float = key(0.7, "Where likes start on the rating scale (0.7: 8 on 1-10).", bounded(0, 1))
    carry_popularity: bool = key(
        False,
        "With the shipped fit, also apply its popularity coefficients (fitted on MyAnimeList members, "
        "another catalog's popularity scale); by default only the tag weights are carried.",
    )


@dataclass(frozen=True)
class Fitted:
    """Fitted weights: ``tags`` ``(T,)`` names, ``weights`` ``(T,)`` ≥ 0, the two coefficients
    and the co-like agreement reached on the fitting sample (``None`` when not fitted here)."""

    tags: tuple[str, ...]
    weights: np.ndarray
    affinity: float
    prior: float
    agreement: float | None = None


def standard_log_popularity(popularity: np.ndarray) -> np.ndarray:
    """``(n,)`` ``log(1 + p)`` standardised over the catalog (zeros when constant)."""
    lp = np.log1p(np.maximum(np.asarray(popularity, dtype=np.float64), 0.0))
    sd = float(lp.std()) if len(lp) else 0.0
    return (lp - lp.mean()) / sd if sd > 0 else np.zeros_like(lp)


def scorer(tags: sp.csr_matrix, weights: np.ndarray, lp: np.ndarray, affinity: float, prior: float) -> Weighted:
    """``s(i, j)`` of the module docstring as a :class:`Weighted` of existing scorers.

    ``−a (ℓ_i − ℓ_j)²`` is ``2a ℓ_i ℓ_j − a ℓ_j²`` plus a constant per row (which no ranking of
    row ``i`` sees): a rank-1 :class:`Bilinear` term and a bias.
    """
    terms: list[tuple[float, Any]] = [(1.0, TagJaccard(tags, weights))]
    labels = ["tags"]
    if affinity:
        one = np.ones(1)
        terms.append((2.0 * affinity, Bilinear(lp[:, None], one, np.zeros(1), np.zeros(len(lp)), clip=False)))
        labels.append("popularity affinity")
    bias = prior * lp - affinity * lp**2
    return Weighted(tuple(terms), bias=bias if np.any(bias) else None, labels=tuple(labels))


def co_liked_truth(
    likes: sp.csr_matrix, k: int = K, exclude: sp.csr_matrix | None = None, rows: np.ndarray | None = None
) -> sp.csr_matrix:
    """Each title's ``k`` most co-liked titles, ``(n, n)`` bool csr.

    ``likes`` is ``(users, n)`` binary; a pair's score is its co-like count over
    ``√(likes_i · likes_j)`` (at least :data:`MIN_USERS` users); pairs in ``exclude`` (the series)
    are left out before the cut. ``rows`` (sorted positions): only those titles' rows are
    computed (the same rows as without it), the others are empty.
    """
    L = sp.csr_matrix(likes, dtype=np.float64)
    pop = np.asarray(L.sum(axis=0)).ravel()
    inv = np.where(pop > 0, 1.0 / np.sqrt(np.maximum(pop, 1e-300)), 0.0)
    extra = 0 if exclude is None else int(np.diff(sp.csr_matrix(exclude).indptr).max(initial=0))
    C = top_k_of_product(L, L, k + extra, row_scale=inv, col_scale=inv, min_value=MIN_USERS, rows=rows).tocsr()
    if exclude is not None:
        C = (C - C.multiply(sp.csr_matrix(exclude) > 0)).tocsr()
        C.eliminate_zeros()
    out_r, out_c = [], []
    for i in range(C.shape[0]):
        a, b = C.indptr[i], C.indptr[i + 1]
        keep = C.indices[a:b][np.lexsort((C.indices[a:b], -C.data[a:b]))][:k]
        out_r.append(np.full(len(keep), i))
        out_c.append(keep)
    r = np.concatenate(out_r) if out_r else np.zeros(0, dtype=np.int64)
    c = np.concatenate(out_c) if out_c else np.zeros(0, dtype=np.int64)
    return sp.csr_matrix((np.ones(len(r), dtype=bool), (r, c)), shape=C.shape)


def fit_weights(
    tags: sp.csr_matrix,
    names: tuple[str, ...],
    lp: np.ndarray,
    likes: sp.csr_matrix,
    seed: int,
    *,
    exclude: sp.csr_matrix | None = None,
    titles: int = 800,
    sweeps: int = 2,
    tie: np.ndarray | None = None,
) -> Fitted:
    """Tag weights and coefficients that maximise co-like agreement@:data:`K` (coordinate ascent).

    Parameters
    ----------
    tags:
        ``(n, T)`` binary csr; ``names`` its ``T`` tag names.
    lp:
        ``(n,)`` standardised log popularity.
    likes:
        ``(users, n)`` binary csr: the likes the weights are fitted on.
    exclude:
        ``(n, n)`` pairs never listed nor counted (the series).
    titles, sweeps:
        Sampled titles (with co-likes) scoring each candidate; sweeps over the tags.

    Returns
    -------
    Fitted
        Starting from Jaccard (unit weights, no coefficients): a change is kept only when it raises
        the sample's agreement by more than 1e-4.
    """
    n, T = tags.shape
    truth = co_liked_truth(likes, K, exclude)
    has = np.flatnonzero(np.diff(truth.indptr) > 0)
    w = np.ones(T)
    if len(has) == 0 or T == 0:
        return Fitted(names, w, 0.0, 0.0, None)
    rows = np.sort(rng(seed, "colike", "titles").choice(has, size=min(titles, len(has)), replace=False))
    cand = np.flatnonzero(np.asarray(sp.csr_matrix(likes).sum(axis=0)).ravel() > 0)
    B = np.asarray(sp.csr_matrix(tags, dtype=np.float32).toarray())
    Br, BcT = B[rows], np.ascontiguousarray(B[cand].T)
    lr, lc = lp[rows].astype(np.float32), lp[cand].astype(np.float32)
    tie_c = 1e-6 * (np.arange(n) if tie is None else np.asarray(tie))[cand].astype(np.float32) / max(n, 1)
    block = np.zeros((len(rows), len(cand)), dtype=bool)
    pos = {int(j): q for q, j in enumerate(cand)}
    ex = sp.csr_matrix((n, n)) if exclude is None else sp.csr_matrix(exclude)
    for q, i in enumerate(rows):
        own = [int(i), *ex.indices[ex.indptr[i] : ex.indptr[i + 1]].tolist()]
        block[q, [pos[j] for j in own if j in pos]] = True
    hit = np.asarray(truth[rows][:, cand].toarray(), dtype=bool)
    size = np.minimum(np.diff(truth.indptr)[rows], K).astype(np.float64)
    k = min(K, len(cand))

    def agreement(w: np.ndarray, a: float, c: float) -> float:
        w32 = w.astype(np.float32)
        inter = (Br * w32) @ BcT
        den = (Br @ w32)[:, None] + (w32 @ BcT)[None, :] - inter
        s = np.divide(inter, den, out=np.zeros_like(inter), where=den > 0)
        s += np.float32(2 * a) * lr[:, None] * lc[None, :]
        s += (c * lc - a * lc**2 - tie_c)[None, :]
        s[block] = -np.inf
        top = (
            np.argpartition(-s, k - 1, axis=1)[:, :k] if k < s.shape[1] else np.tile(np.arange(s.shape[1]), (len(s), 1))
        )
        return float(np.mean(np.take_along_axis(hit, top, axis=1).sum(axis=1) / size))

    a = c = 0.0
    best = agreement(w, a, c)
    for _ in range(max(sweeps, 1)):
        for av in AFFINITY_GRID:
            for cv in PRIOR_GRID:
                v = agreement(w, av, cv)
                if v > best + 1e-4:
                    best, a, c = v, av, cv
        for t in range(T if sweeps else 0):
            for m in TAG_STEPS:
                if w[t] * m == w[t]:
                    continue
                w2 = w.copy()
                w2[t] *= m
                v = agreement(w2, a, c)
                if v > best + 1e-4:
                    best, w = v, w2
    return Fitted(names, w, float(a), float(c), best)


def shipped_fit() -> Fitted:
    """The committed anime-recdb fit (:mod:`._colike_weights`)."""
    names = tuple(shipped.TAG_WEIGHTS)
    return Fitted(names, np.array([shipped.TAG_WEIGHTS[t] for t in names]), shipped.AFFINITY, shipped.PRIOR, None)


def weights_for(vocabulary: tuple[str, ...], fitted: Fitted) -> np.ndarray:
    """``(T,)`` weights of ``vocabulary`` from ``fitted`` by tag name (1 for a tag it has not seen)."""
    by = dict(zip(fitted.tags, fitted.weights.tolist()))
    return np.array([float(by.get(t, 1.0)) for t in vocabulary])


def write_shipped(fitted: Fitted, path: Path, provenance: str) -> None:
    """Write :mod:`._colike_weights` (sorted, rounded: the same fit writes the same bytes)."""
    lines = [
        '"""Tag weights fitted on co-likes (generated: ``python3 benchmarks/bench_colike.py --write``; do not edit).',
        "",
        provenance.strip(),
        '"""',
        "",
        f"AFFINITY = {fitted.affinity!r}",
        f"PRIOR = {fitted.prior!r}",
        "TAG_WEIGHTS: dict[str, float] = {",
        *(
            f"    {json.dumps(t, ensure_ascii=False)}: {float(round(w, 6))!r},"
            for t, w in sorted(zip(fitted.tags, fitted.weights.tolist()))
        ),
        "}",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def own_likes(catalog: Catalog, like_fraction: float) -> sp.csr_matrix | None:
    """The catalog's likes ``(users, n)`` binary csr (``None`` without ratings)."""
    from ..feedback import like_mask, like_threshold, resolve_scale

    r = catalog.ratings
    if r is None or r.nnz == 0:
        return None
    m = sp.csr_matrix(r.matrix, dtype=np.float64, copy=True)
    m.sum_duplicates()
    scale = resolve_scale(m, r.implicit)
    m.data = like_mask(m.data, scale, like_threshold(scale, like_fraction)).astype(np.float64)
    m.eliminate_zeros()
    return m


def fit(catalog: Catalog, params: Params, seed: int, deps: Mapping[str, Any]) -> Embedding:
    """The learned-overlap scorer and its unit weighted tag vectors (see the module docstring)."""
    b = catalog.tag_matrix
    vocab = catalog.tag_vocabulary
    lp = standard_log_popularity(catalog.popularity)
    likes = own_likes(catalog, params.like_fraction) if params.source != "shipped" else None
    if params.source == "ratings" and likes is None:
        from ..errors import InputError

        raise InputError("models.colike.source = 'ratings': this catalog has no ratings")
    if likes is not None:
        exclude = series_members(catalog, deps)
        fitted = fit_weights(
            b,
            vocab,
            lp,
            likes,
            seed,
            exclude=exclude,
            titles=params.fit_titles,
            sweeps=params.sweeps,
            tie=catalog.tie_order,
        )
        source = "the catalog's own likes"
    else:
        fitted = shipped_fit()
        source = "shipped (anime-recdb)"
        if not params.carry_popularity:
            fitted = replace(fitted, affinity=0.0, prior=0.0)
    w = weights_for(vocab, fitted)
    vectors = unit_tag_rows(b, np.sqrt(w))
    return Embedding(
        model="colike",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        similarity=scorer(b, w, lp, fitted.affinity, fitted.prior),
        info={
            "source": source,
            "affinity": fitted.affinity,
            "prior": fitted.prior,
            "tag_weights": {t: float(x) for t, x in zip(vocab, w.tolist())},
            "fit_agreement": fitted.agreement,
            "mode": "explicit",
            "regularization": 0.1,
        },
    )


SPEC = ModelSpec(
    name="colike",
    label="Tags learned from co-likes",
    summary="Tag-set overlap with tag weights fitted so that it predicts what readers like together.",
    params=Params,
    fit=fit,
    needs=frozenset({"tags"}),
    reads=frozenset({"popularity"}),
    depends=("series",),
    trained_on_ratings=True,
    order=45,
    mapped=False,
    role="tag weights fitted on co-likes (anime-recdb where the catalog has no ratings)",
    solve=solve_users,  # its users folded in explicitly (λ 0.1) against its unit tag rows
)

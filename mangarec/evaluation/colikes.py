"""Co-like agreement: does a title's top-k list hold what readers like together, beyond its series?

For a truth ``T`` of co-liked titles (each title's :data:`~mangarec.models.colike.K` most
co-liked titles, cosine-normalised, at least two users, **the title's own series left out**) and
a model's lists ``L`` (``(n, k)``), title ``i`` scores ``h_i = |L_i ∩ T_i|`` (a listed series
member never counts). Per model and protocol:

* ``agreement``: the mean over titles of ``h_i / min(k, |T_i|)`` (recall of the co-likes), with
  a bootstrap 95 % interval over titles;
* ``lift_random``, ``lift_popularity``: ``Σ h_i / Σ E[h_i]`` under the two nulls of
  :mod:`.nulltests` (uniform random lists; the model's own lists dealt to random titles, which
  keeps its popularity), each with a bootstrap interval over the same resampled titles. A model
  that only lists popular titles has a popularity lift near 1.

Two protocols (catalogs with ratings):

``held-out likes``
    ``T`` from the evaluation split's held-out likes crossed with the training likes
    (:func:`.truths.co_liked`); models trained on ratings are refitted on the training split.
``cold start``
    a fixed half of the liked titles (:func:`cold_titles`) has **every** rating held out;
    ``T`` is their co-likes in all the likes, and a model must place them from content alone
    (models trained on ratings are refitted on :func:`hide_titles`'s catalog).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog
from ..models.colike import co_liked_truth
from ..seeds import derive_seed
from .nulltests import expected_hits, hits
from .ranking import BOOTSTRAP, Interval, bootstrap

if TYPE_CHECKING:
    from ..config import EvaluationSection

#: The protocols, in the order the page shows them.
PROTOCOLS: tuple[str, ...] = ("held-out likes", "cold start")
#: Share of the liked titles whose ratings the cold-start protocol holds out.
COLD_FRACTION = 0.5


@dataclass(frozen=True)
class CoLikeAgreement:
    """One model's lists against one protocol's co-likes (see the module docstring)."""

    model: str
    protocol: str
    titles: int
    k: int
    agreement: Interval
    lift_random: Interval
    lift_popularity: Interval


def series_out(truth: sp.csr_matrix, series: sp.csr_matrix | None) -> sp.csr_matrix:
    """``truth`` without the pairs in ``series`` (both ``(n, n)``), bool csr."""
    T = sp.csr_matrix(truth, dtype=bool)
    if series is None:
        return T
    S = sp.csr_matrix(series, dtype=bool)
    out = sp.csr_matrix(T.astype(np.int8) - T.multiply(S).astype(np.int8))
    out.eliminate_zeros()
    return sp.csr_matrix(out, dtype=bool)


def _ratio(h: np.ndarray, e: np.ndarray, g: np.random.Generator, resamples: int) -> Interval:
    mean = float(h.sum() / e.sum()) if e.sum() > 0 else float("inf") if h.sum() > 0 else 1.0
    if len(h) == 0:
        return Interval(mean, mean, mean)
    idx = g.integers(0, len(h), size=(resamples, len(h)))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = h[idx].sum(axis=1) / e[idx].sum(axis=1)
    r = r[np.isfinite(r)]
    if len(r) == 0:
        return Interval(mean, mean, mean)
    lo, hi = np.quantile(r, [0.025, 0.975])
    return Interval(mean, float(lo), float(hi))


def agreement(
    lists: np.ndarray,
    truth: sp.csr_matrix,
    model: str,
    protocol: str,
    seed: int,
    rows: np.ndarray | None = None,
    resamples: int = BOOTSTRAP,
) -> CoLikeAgreement:
    """``lists`` ``(n, k)`` against ``truth`` ``(n, n)`` over ``rows`` (default: every title with
    a truth); intervals from a bootstrap over those titles seeded by ``seed``."""
    L = np.asarray(lists, dtype=np.int64)
    T = sp.csr_matrix(truth, dtype=bool)
    size = np.diff(T.indptr)
    keep = np.flatnonzero(size > 0) if rows is None else np.asarray(rows, dtype=np.int64)
    keep = keep[size[keep] > 0]
    h = hits(L, T)[keep].astype(np.float64)
    e_rand = expected_hits(L, T, "random")[keep]
    e_pop = expected_hits(L, T, "popularity")[keep]
    rec = h / np.minimum(size[keep], L.shape[1])
    s = derive_seed(seed, "colikes", model, protocol)
    return CoLikeAgreement(
        model=model,
        protocol=protocol,
        titles=int(len(keep)),
        k=int(L.shape[1]),
        agreement=bootstrap(rec, np.random.default_rng(s), resamples),
        lift_random=_ratio(h, e_rand, np.random.default_rng(s), resamples),
        lift_popularity=_ratio(h, e_pop, np.random.default_rng(s), resamples),
    )


def cold_titles(likes: sp.csr_matrix, seed: int, fraction: float = COLD_FRACTION) -> np.ndarray:
    """``(n,)`` bool: the liked titles whose ratings the cold-start protocol holds out (fixed seed)."""
    liked = np.asarray(sp.csr_matrix(likes).sum(axis=0)).ravel() > 0
    draw = np.random.default_rng(derive_seed(seed, "colikes", "cold")).random(len(liked)) < fraction
    return liked & draw


def hide_titles(catalog: Catalog, cold: np.ndarray) -> Catalog:
    """``catalog`` with every rating of the ``cold`` titles removed (what a cold-start fit sees)."""
    r = catalog.ratings
    if r is None:
        return catalog
    m = sp.csr_matrix(r.matrix, copy=True)
    m = sp.csr_matrix(m @ sp.diags((~np.asarray(cold)).astype(m.dtype)))
    m.eliminate_zeros()
    return replace(catalog, ratings=replace(r, matrix=m))


def all_likes(catalog: Catalog, config: EvaluationSection) -> sp.csr_matrix:
    """Every like of ``catalog`` under ``[evaluation]`` (binary ``(users, n)`` csr; empty without ratings)."""
    from .protocol import canonical, positives_of

    r = catalog.ratings
    if r is None or r.nnz == 0:
        return sp.csr_matrix((0, len(catalog)))
    R = canonical(r.matrix)
    R.data = positives_of(r, config).mask(R).astype(np.float64)
    R.eliminate_zeros()
    return R


def cold_catalog(catalog: Catalog, config: EvaluationSection, seed: int) -> Catalog:
    """The catalog a cold-start fit sees: the cold titles of evaluation seed ``seed`` unrated."""
    return hide_titles(catalog, cold_titles(all_likes(catalog, config), seed))


def truth_users(likes: sp.csr_matrix, max_users: int, seed: int) -> sp.csr_matrix:
    """The rows of ``likes`` the cold-start truth is counted over: all of them, or a seeded sample
    of ``max_users`` (``evaluation.colike_users``; sorted, so the rows keep their order)."""
    L = sp.csr_matrix(likes)
    if L.shape[0] <= max_users:
        return L
    g = np.random.default_rng(derive_seed(seed, "colikes", "truth users"))
    return L[np.sort(g.choice(L.shape[0], size=int(max_users), replace=False))]


def cold_truth(
    likes: sp.csr_matrix,
    cold: np.ndarray,
    series: sp.csr_matrix | None,
    k: int,
    max_users: int | None = None,
    seed: int = 0,
) -> sp.csr_matrix:
    """The cold titles' co-likes in ``likes`` (series out), ``(n, n)`` bool, other rows empty.

    The co-like counts are over every user's likes, or over a seeded sample of ``max_users`` of
    them when there are more (:func:`truth_users`): the work is the sampled users'
    ``Σ n_u²`` (``n_u`` a user's likes), whatever the catalog's user count; the memory is the
    sample's likes plus one ``1024 × n`` slab. Only the cold rows are computed.
    """
    L = likes if max_users is None else truth_users(likes, max_users, seed)
    return co_liked_truth(L, k, series, rows=np.flatnonzero(np.asarray(cold, dtype=bool)))


def evaluate_colikes(
    truths: Mapping[str, sp.csr_matrix],
    lists: Mapping[str, Mapping[str, np.ndarray]],
    seed: int,
    resamples: int = BOOTSTRAP,
) -> tuple[CoLikeAgreement, ...]:
    """Every model's lists against every protocol's truth: ``truths`` is ``{protocol: (n, n)}``,
    ``lists`` ``{protocol: {model: (n, k)}}`` (a protocol's own lists: rating-trained models
    refitted as it says)."""
    return tuple(
        agreement(L, T, model, protocol, seed, resamples=resamples)
        for protocol, T in truths.items()
        for model, L in lists.get(protocol, {}).items()
    )

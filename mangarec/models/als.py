"""Alternating least squares on the catalog's ratings (explicit or implicit feedback).

Explicit mode (``params.implicit = False``)
    Each user's ratings are centred on that user's mean (as Mangaki's models do) and the
    centred matrix ``V`` is factorised as ``X Yᵀ`` on the *observed* entries only, with
    weighted-λ regularisation (ALS-WR, Zhou et al. 2008)::

        min Σ_(u,i) observed (v_ui − x_u·y_i)² + λ (Σ_u n_u |x_u|² + Σ_i n_i |y_i|²)

    where ``n_u`` / ``n_i`` count the ratings of a user / an item. The penalty grows with the
    number of ratings, so λ needs little tuning across data sets; fold-in uses ``λ·n``.
Implicit mode (``params.implicit = True``)
    Hu, Koren & Volinsky (2008): every (user, item) pair counts, with preference ``p = 1`` for a
    stored value ``r >= 0`` (``0`` for ``r < 0``) and confidence ``c = 1 + alpha·|r|`` (``1`` for
    pairs not stored); plain λ. The per-user system ``YᵀY + Y_Sᵀ(C_S − I)Y_S + λI`` uses the
    shared ``YᵀY`` so only the stored entries cost anything.

Solvers. ``solver="cg"`` (the default, ``[models.als] solver``) runs ``cg_steps``
conjugate-gradient steps per row, warm-started from the previous factors, vectorised over all
rows (:mod:`mangarec.models.als_solvers`, which also holds the training objective :func:`loss`);
``solver="exact"`` solves every row's ``d×d`` system in closed form (:func:`solve_rows` of
:mod:`mangarec.models._solve`, the exact "solve these users" the fold-in and the co-like model
share). ``benchmarks/bench_als.py`` compares both with the ``implicit`` library.

Titles with no rating are placed from their tags: a ridge regression (penalty
:data:`TAG_RIDGE`) of the rated items' factors on their binary tag features gives one vector
per tag (``Embedding.tag_vectors``); an unrated title's vector is the sum of its tags' vectors
(the zero vector when it has no tag).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog
from ..embedding import Embedding
from ..errors import InputError
from ..feedback import FEEDBACKS, SCALES, Scale, like_threshold, model_values, resolve_scale
from ..foldin import LIKE, Foldin, Schedule, ValueMap
from ..schema import bounded, key, one_of
from ..seeds import rng
from ._solve import single_threaded_blas, solve_rows, solve_users, threads
from .als_solvers import cg_rows, loss
from .base import ModelSpec, Tuning, VisitorCandidate


@dataclass(frozen=True)
class Params:
    """``[models.als]``: alternating least squares on ratings."""

    factors: int = key(
        256,
        "Latent factors (chosen on anime-recdb's validation split by mangarec tune: docs/models.md).",
        bounded(1, 1024),
    )
    regularization: float = key(50.0, "L2 regularisation λ (also used for fold-in).", bounded(1e-9, 1e9))
    iterations: int = key(15, "ALS sweeps.", bounded(1, 1000))
    feedback: str = key(
        "likes",
        "What a rating contributes: 'likes' (a like is a positive, other ratings are left out), "
        "'graded' (likes weighted by how far above the threshold), 'likes-dislikes' (other "
        "ratings are weighted zeros), 'raw' (the rating as confidence, a 1/10 counts as a "
        "positive) or 'explicit' (ratings centred per user, explicit ALS). Measured in "
        "benchmarks/bench_quality.py; see docs/models.md.",
        one_of(*FEEDBACKS),
    )
    scale: str = key(
        "auto",
        "Rating scale: 'auto' (detected from the values) or one of 'implicit', '1-10', '1-5', '0.5-5'.",
        one_of(*SCALES),
    )
    like_threshold: float = key(
        0.0, "A rating at least this high is a like; 0 = 70 % up the scale (8 on 1-10, 4 on 0.5-5).", bounded(0, 1e6)
    )
    dislike_weight: float = key(0.1, "Confidence weight of a non-like (feedback = 'likes-dislikes').", bounded(0, 1e6))
    reg_exponent: float = key(
        0.0,
        "Frequency scaling of λ (implicit): each row's λ times (its total confidence / an "
        "empty row's) to this power; 0 = plain λ.",
        bounded(0, 4),
    )
    alpha: float = key(10.0, "Confidence scale for implicit feedback.", bounded(1e-9, 1e9))
    visitor_regularization: float = key(
        800.0,
        "λ of a visitor's fold-in (published as fold_in.reg); 0 = the training λ. A visitor gives far "
        "fewer ratings than a training user, and stronger shrinkage can rank their few likes better: "
        "mangarec tune chooses it with visitor_alpha on validation visitors with 12 likes.",
        bounded(0, 1e9),
    )
    visitor_alpha: float = key(
        1000.0,
        "Confidence scale α of a visitor's fold-in (published as fold_in.alpha); 0 = the training α. "
        "The value mapping is training's (a like is 1, weight 1 + α); a larger α weighs a visitor's "
        "dozen likes against the implicit zeros of every other title (P@10 0.206 → 0.223 at 12 likes "
        "on anime-recdb, docs/models.md). mangarec tune chooses it on validation visitors.",
        bounded(0, 1e9),
    )
    visitor_few_likes: int = key(
        12,
        "A visitor with at most this many ratings in the fit gets visitor_alpha and "
        "visitor_regularization (tune scores visitors with 12 likes).",
        bounded(1, 100_000),
    )
    visitor_many_likes: int = key(
        48,
        "A visitor with at least this many gets the training α and λ; between the two counts both "
        "move geometrically (published as fold_in.schedule). At most visitor_few_likes: no "
        "schedule, the visitor values at every count.",
        bounded(0, 1_000_000),
    )
    solver: str = key(
        "cg",
        "'cg' (a few conjugate-gradient steps per row, warm-started; fast) or 'exact' (closed-form solves).",
        one_of("cg", "exact"),
    )
    cg_steps: int = key(3, "Conjugate-gradient steps per row and half-sweep (solver = 'cg').", bounded(1, 100))


#: Ridge penalty of the tag → factor regression.
TAG_RIDGE = 1.0

# The solver comes from ``[models.als] solver`` (default "cg" in both modes): on anime-recdb
# (benchmarks/bench_als.py) CG gives the exact solve's ranking quality (and, explicit, the
# same held-out RMSE) in less than half its CPU time.


def fit(
    catalog: Catalog,
    params: Params,
    seed: int,
    deps: Mapping[str, Any] | None = None,
    *,
    solver: str | None = None,
    cg_steps: int | None = None,
) -> Embedding:
    """Factorise ``catalog.ratings``; return the item factors.

    Parameters
    ----------
    catalog:
        A catalog with ratings (``catalog.ratings.matrix`` is ``(n_users, n_items)`` csr).
    params:
        Factors, λ, iterations, implicit/alpha.
    seed:
        Build seed; the initial factors come from ``rng(seed, "model", "als")``.
    solver:
        ``"cg"`` (a few conjugate-gradient steps per row, warm-started; see
        :mod:`mangarec.models.als_solvers`) or ``"exact"`` (batched closed-form solves).
        ``None`` takes ``params.solver`` (default ``"cg"``, for both modes).
    cg_steps:
        CG steps per row and half-sweep (ignored by the exact solver).

    Returns
    -------
    Embedding
        ``vectors``: ``(n_items, factors)`` float32 item factors ``Y`` (unrated titles placed
        from their tags); ``tag_ids``/``tag_vectors``: ``(n_tags, factors)`` float32 per-tag
        vectors; ``info``: users, ratings, mode, λ, alpha, per-iteration loss and seconds.
    """
    ratings = catalog.ratings
    if ratings is None or ratings.nnz == 0:
        raise InputError("model 'als' needs ratings, but the catalog has none", ", ".join(catalog.sources) or None)
    R = sp.csr_matrix(ratings.matrix, dtype=np.float64)
    R.sum_duplicates()
    R.sort_indices()
    d = int(params.factors)
    lam = float(params.regularization)
    alpha = float(params.alpha)
    implicit = params.feedback != "explicit"
    nu = float(params.reg_exponent) if implicit else 0.0
    scale = resolve_scale(R, ratings.implicit, params.scale)
    threshold = like_threshold(scale, absolute=params.like_threshold)
    solver = params.solver if solver is None else solver
    cg_steps = params.cg_steps if cg_steps is None else cg_steps
    if solver not in ("cg", "exact"):
        raise ValueError(f"ALS solver must be 'cg' or 'exact', not {solver!r}")
    if solver == "cg" and int(cg_steps) < 1:
        raise ValueError(f"cg_steps must be >= 1, not {cg_steps!r}")
    V = model_values(R, params.feedback, scale, threshold, params.dislike_weight)
    g = rng(seed, "model", "als")
    n_users, n_items = R.shape
    Y = g.standard_normal((n_items, d)) * (0.1 if not implicit else 0.01)
    X = np.zeros((n_users, d))
    Vt = V.T.tocsr()
    losses, seconds, cpu = [], [], []
    with single_threaded_blas():
        for _ in range(int(params.iterations)):
            t0, c0 = time.perf_counter(), time.process_time()
            if solver == "cg":
                X = cg_rows(V, Y, X, lam, implicit=implicit, alpha=alpha, steps=cg_steps, threads=threads(), nu=nu)
                Y = cg_rows(Vt, X, Y, lam, implicit=implicit, alpha=alpha, steps=cg_steps, threads=threads(), nu=nu)
            else:
                X = solve_rows(V, Y, lam, implicit=implicit, alpha=alpha, nu=nu)
                Y = solve_rows(Vt, X, lam, implicit=implicit, alpha=alpha, nu=nu)
            seconds.append(round(time.perf_counter() - t0, 4))
            cpu.append(round(time.process_time() - c0, 4))
            losses.append(float(loss(V, X, Y, lam, implicit=implicit, alpha=alpha, nu=nu, Vt=Vt)))
    rated = np.diff(Vt.indptr) > 0  # items with a training value (a like, for feedback = likes)
    B = catalog.tag_matrix
    W = tag_regression(B, Y, rated)
    Y_out = Y.copy()
    if not rated.all():
        Y_out[~rated] = B[~rated] @ W
    fold = foldin_of(params, scale, threshold)
    sched = fold.schedule
    info = {
        "mode": "implicit" if implicit else "explicit",
        "feedback": params.feedback,
        "scale": scale.name,
        "like_threshold": None if scale.implicit else threshold,
        "scale_step": None if scale.implicit else scale.step,
        "dislike_weight": float(params.dislike_weight) if params.feedback == "likes-dislikes" else None,
        "reg_exponent": nu,
        "training_values": int(V.nnz),
        "users": int(n_users),
        "ratings": int(R.nnz),
        "rated_items": int(rated.sum()),
        "items_placed_from_tags": int((~rated).sum()),
        "factors": d,
        "regularization": lam,
        "visitor_regularization": float(params.visitor_regularization or lam),
        "visitor_alpha": (float(params.visitor_alpha or alpha) if implicit else None),
        "visitor_schedule": asdict(sched) if sched else None,
        "regularization_kind": "plain" if implicit else "weighted-lambda (λ·n)",
        "alpha": alpha if implicit else None,
        "iterations": int(params.iterations),
        "solver": solver,
        "cg_steps": int(cg_steps) if solver == "cg" else None,
        "loss": [round(x, 6) for x in losses],
        "seconds_per_iteration": seconds,
        "cpu_seconds_per_iteration": cpu,
        "tag_ridge": TAG_RIDGE,
        "source": ratings.source,
    }
    return Embedding(
        model="als",
        item_ids=catalog.ids,
        vectors=np.ascontiguousarray(Y_out, dtype=np.float32),
        tag_ids=catalog.tag_vocabulary,
        tag_vectors=np.ascontiguousarray(W, dtype=np.float32),
        info=info,
        foldin=fold,
    )


def foldin_of(p: Params, scale: Scale, threshold: float) -> Foldin:
    """The fold-in of an ALS fit with ``p`` on ratings of ``scale`` (likes from ``threshold``):
    training's value mapping, λ, α and frequency scaling; the visitor's λ, α and count schedule
    (``visitor_regularization`` / ``visitor_alpha`` of 0 are training's)."""
    implicit = p.feedback != "explicit"
    values = ValueMap()
    if implicit:
        values = ValueMap(
            feedback=p.feedback,
            threshold=0.0 if scale.implicit else float(threshold),
            step=1.0 if scale.implicit else float(scale.step),
            like=LIKE,
            dislike=-float(p.dislike_weight) if p.feedback == "likes-dislikes" else None,
        )
    return Foldin(
        mode="implicit" if implicit else "explicit",
        reg=float(p.visitor_regularization or p.regularization),
        alpha=float(p.visitor_alpha or p.alpha),
        schedule=visitor_schedule(p),
        values=values,
        reg_exponent=float(p.reg_exponent) if implicit else 0.0,
        fit_reg=float(p.regularization),
        fit_alpha=float(p.alpha) if implicit else 1.0,
        scale=scale,
    )


def centred(R: sp.csr_matrix) -> sp.csr_matrix:
    """Each row's stored values minus that row's mean (same sparsity; csr float64)."""
    counts = np.diff(R.indptr)
    sums = np.add.reduceat(R.data, R.indptr[:-1]) if R.nnz else np.zeros(R.shape[0])
    sums = np.where(counts > 0, sums, 0.0)
    mean = sums / np.maximum(counts, 1)
    out = R.copy()
    out.data = R.data - np.repeat(mean, counts)
    return out


def tag_regression(B: sp.csr_matrix, Y: np.ndarray, rated: np.ndarray, ridge: float = TAG_RIDGE) -> np.ndarray:
    """Per-tag vectors ``W`` with ``B[rated] @ W ≈ Y[rated]`` (ridge).

    ``B`` is ``(n_items, n_tags)`` binary csr, ``Y`` ``(n_items, d)``; returns ``(n_tags, d)``
    float64 (zeros when there are no tags).
    """
    T = B.shape[1]
    if T == 0:
        return np.zeros((0, Y.shape[1]))
    Br = sp.csr_matrix(B[rated], dtype=np.float64)
    A = (Br.T @ Br).toarray() + ridge * np.eye(T)
    return np.linalg.solve(A, Br.T @ Y[rated])


def visitor_schedule(p: Params) -> Schedule | None:
    """How a visitor's fold-in α and λ move with their number of ratings (``None``: they do not)."""
    s = Schedule(
        few=int(p.visitor_few_likes),
        many=int(p.visitor_many_likes),
        alpha_many=float(p.alpha),
        reg_many=float(p.regularization),
    )
    return s if s.active else None


def visitor_candidates(p: Params) -> tuple[int, list[VisitorCandidate]]:
    """The visitor fold-ins ``mangarec tune`` scores after its search (:class:`Tuning.visitor`):
    :data:`VISITOR_ALPHAS` × training α by :data:`VISITOR_FACTORS` × training λ, with visitors
    who give ``visitor_few_likes`` likes (none in explicit mode). A candidate at training's value
    sets the key to 0 (training's)."""
    if p.feedback == "explicit":
        return int(p.visitor_few_likes), []
    out = []
    for fa in VISITOR_ALPHAS:
        alpha = float(p.alpha) * fa
        for f in VISITOR_FACTORS:
            lam = float(p.regularization) * f
            keys = {
                "visitor_regularization": 0.0 if lam == p.regularization else lam,
                "visitor_alpha": 0.0 if alpha == p.alpha else alpha,
            }
            out.append(VisitorCandidate(alpha=alpha, reg=lam, keys=keys))
    return int(p.visitor_few_likes), out


#: Visitor fold-in λ candidates, times the chosen training λ (scored by visitors with 12 likes).
VISITOR_FACTORS = (1.0, 4.0, 16.0, 64.0)
#: Visitor fold-in α candidates, times the chosen training α (the grid is α × λ).
VISITOR_ALPHAS = (1.0, 10.0, 100.0)

#: What ``mangarec tune`` searches: the coordinate descent's values (``relative``: times the
#: current value), then the visitor's α × λ.
TUNING: Tuning[Params] = Tuning(
    grid={
        "feedback": ("likes", "likes-dislikes", "graded", "raw"),
        "factors": (64, 128, 192, 256),
        "regularization": (0.5, 2.0),
        "alpha": (0.5, 2.0),
        "reg_exponent": (0.0, 0.5, 1.0),
    },
    relative=frozenset({"regularization", "alpha"}),
    visitor=visitor_candidates,
)


SPEC = ModelSpec(
    name="als",
    label="ALS (ratings)",
    summary="Alternating least squares on the ratings; unrated titles placed from their tags.",
    params=Params,
    fit=fit,
    needs=frozenset({"ratings"}),
    reads=frozenset({"tags"}),
    trained_on_ratings=True,
    order=60,
    publish_rank=10,
    candidates=200,
    solve=solve_users,
    tuning=TUNING,
)

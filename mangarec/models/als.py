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
rows (:mod:`mangarec.models.als_solvers`); ``solver="exact"`` (kept; also what
:func:`solve_rows` does for fold-in) solves every row's ``d×d`` system in closed form, all at
once: the stacked matrices
``A_u = Σ_i w_ui y_i y_iᵀ`` are one sparse-times-dense product ``W @ Z`` where row ``i`` of ``Z``
is ``y_i y_iᵀ`` flattened (float32), then batched ``numpy.linalg.solve`` on the stack (blocks
of rows bound the memory; two threads). This is exactly the per-user solve of
:mod:`mangarec.foldin`. ``benchmarks/bench_als.py`` compares it with the ``implicit`` library.

Titles with no rating are placed from their tags: a ridge regression (penalty
:data:`TAG_RIDGE`) of the rated items' factors on their binary tag features gives one vector
per tag (``Embedding.tag_vectors``); an unrated title's vector is the sum of its tags' vectors
(the zero vector when it has no tag).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
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
from .als_solvers import cg_rows, implicit_penalty
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

#: Rows solved per block (bounds memory to ~BLOCK·d²·4 bytes per thread).
BLOCK = 512

#: Threads solving blocks at once (capped by the CPU count).
THREADS = 2

#: Largest outer-product table ``Z`` (bytes) :func:`solve_rows` builds whole; beyond it, when
#: the rows are fewer than the columns they use (their own normal matrices are smaller than
#: ``Z``), those are accumulated a slice of ``Z`` of at most this size at a time (the same sums
#: in the same order: the same bytes).
Z_BYTES = 1 << 28

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
                X = cg_rows(V, Y, X, lam, implicit=implicit, alpha=alpha, steps=cg_steps, threads=_threads(), nu=nu)
                Y = cg_rows(Vt, X, Y, lam, implicit=implicit, alpha=alpha, steps=cg_steps, threads=_threads(), nu=nu)
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


def solve_users(emb: Embedding, values: sp.csr_matrix) -> np.ndarray:
    """ "Solve these users" (:attr:`ModelSpec.solve`): the ``(users, dim)`` float64 factors of the
    rows of ``values`` (model-scale, ``(users, items)`` csr) folded in exactly against
    ``emb.vectors`` with training's λ, α and λ's scaling (``emb.foldin``), as a training half-sweep
    solves them (:func:`solve_rows`)."""
    f = emb.foldin
    Y = np.asarray(emb.vectors, dtype=np.float64)
    return solve_rows(values, Y, f.fit_reg, implicit=f.implicit, alpha=f.fit_alpha, nu=f.reg_exponent)


def centred(R: sp.csr_matrix) -> sp.csr_matrix:
    """Each row's stored values minus that row's mean (same sparsity; csr float64)."""
    counts = np.diff(R.indptr)
    sums = np.add.reduceat(R.data, R.indptr[:-1]) if R.nnz else np.zeros(R.shape[0])
    sums = np.where(counts > 0, sums, 0.0)
    mean = sums / np.maximum(counts, 1)
    out = R.copy()
    out.data = R.data - np.repeat(mean, counts)
    return out


def single_threaded_blas():
    """A context limiting BLAS to one thread (we parallelise over blocks ourselves).

    On this 2-core machine a multi-threaded OpenBLAS spin-waits: a 11k×32 Gram matrix took
    0.35 s of CPU with its thread pool and 0.5 ms without. ``threadpoolctl`` comes with
    scikit-learn; without it this is a no-op.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, "blas")


def _threads() -> int:
    return max(1, min(THREADS, os.cpu_count() or 1))


def solve_rows(
    V: sp.csr_matrix, F: np.ndarray, lam: float, *, implicit: bool, alpha: float, weighted: bool = True, nu: float = 0.0
) -> np.ndarray:
    """Solve every row's regularised least squares against the fixed factors ``F``.

    The stacked normal matrices are accumulated in float32 (``W @ Z`` with ``Z`` the flattened
    outer products ``f fᵀ``) and solved per block of :data:`BLOCK` rows with batched
    ``numpy.linalg.solve``; blocks run on :data:`THREADS` threads (scipy's sparse product and
    LAPACK release the GIL). Each block writes its own rows, so the result does not depend on
    the thread count.

    Parameters
    ----------
    V:
        ``(rows, cols)`` csr float64 of model-scale values (see :mod:`mangarec.foldin`).
    F:
        ``(cols, d)`` float64 fixed factors.
    weighted:
        Explicit mode only: penalty ``λ·n`` (ALS-WR, the default and what fold-in assumes) or
        plain ``λ`` (kept for the benchmark's comparison).
    nu:
        Implicit mode only: frequency scaling of λ (see
        :func:`mangarec.models.als_solvers.implicit_penalty`; 0 = plain λ).

    Returns
    -------
    numpy.ndarray
        ``(rows, d)`` float64; rows with no stored value get the zero vector (the exact
        solution in both modes: their right-hand side is zero).
    """
    rows, _ = V.shape
    d = F.shape[1]
    F32 = F.astype(np.float32)
    counts = np.diff(V.indptr)
    if implicit:
        c = 1.0 + alpha * np.abs(V.data)
        Wa = sp.csr_matrix(((c - 1.0).astype(np.float32), V.indices, V.indptr), shape=V.shape)
        Wb = sp.csr_matrix((c * (V.data >= 0), V.indices, V.indptr), shape=V.shape)
        base = (F.T @ F).astype(np.float32)
        mu_rows = implicit_penalty(V, lam, alpha, nu).astype(np.float32)
    else:
        Wa = sp.csr_matrix((np.ones(V.nnz, dtype=np.float32), V.indices, V.indptr), shape=V.shape)
        Wb = V
        base = None
    b_all = (Wb @ F).astype(np.float32)
    out = np.zeros((rows, d))

    todo = np.flatnonzero(counts > 0)  # rows with no entry keep x = 0 (their exact solution)
    normal = normal_matrices(Wa, F32, todo) if len(todo) and F.shape[0] * d * d * 4 > Z_BYTES else None
    Z = None if normal is not None else (F32[:, :, None] * F32[:, None, :]).reshape(F.shape[0], d * d)

    def work(start: int) -> None:
        rws = todo[start : start + BLOCK]
        k = len(rws)
        if normal is not None:
            A = normal[start : start + k]
        else:
            A = np.asarray(Wa[rws] @ Z).reshape(k, d, d)
        if implicit:
            A += base
            A.reshape(k, d * d)[:, :: d + 1] += mu_rows[rws][:, None]
        else:
            pen = lam * counts[rws].astype(np.float32) if weighted else np.full(k, lam, dtype=np.float32)
            A.reshape(k, d * d)[:, :: d + 1] += pen[:, None]
        out[rws] = np.linalg.solve(A, b_all[rws, :, None])[:, :, 0]

    starts = range(0, len(todo), BLOCK)
    if _threads() > 1 and len(todo) > BLOCK:
        with ThreadPoolExecutor(_threads()) as ex:
            list(ex.map(work, starts))
    else:
        for start in starts:
            work(start)
    return out


def normal_matrices(W: sp.csr_matrix, F32: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
    """``Σ_i w_ui f_i f_iᵀ`` for each of ``rows``, ``(len(rows), d, d)`` float32, or ``None`` when
    there are at least as many rows as columns they use (the whole table is then no larger).

    The table ``Z`` (row ``i`` the flattened ``f_i f_iᵀ``, ``cols × d²``) is built a slice of at
    most :data:`Z_BYTES` at a time over the columns the rows use: each entry of ``W[rows] @ Z`` is
    the same sum in the same order as with the whole table, so the bytes are the same; memory is
    the rows' matrices plus one slice (a fold-in of 2,000 users against 20,000 × 256 factors:
    0.5 GB + 0.25 GB where the whole table is 5.2 GB).
    """
    d = F32.shape[1]
    Wr = sp.csr_matrix(W[rows])
    used = np.unique(Wr.indices)
    if len(rows) >= len(used):
        return None
    Wr = sp.csr_matrix((Wr.data, np.searchsorted(used, Wr.indices), Wr.indptr), shape=(len(rows), len(used)))
    Fu = F32[used]
    out = np.empty((len(rows), d, d), dtype=np.float32)
    step = max(1, min(d, Z_BYTES // max(len(used) * d * 4, 1)))  # rows of f fᵀ per slice
    for a in range(0, d, step):
        b = min(a + step, d)
        Zs = (Fu[:, a:b, None] * Fu[:, None, :]).reshape(len(used), (b - a) * d)
        out[:, a:b, :] = np.asarray(Wr @ Zs).reshape(len(rows), b - a, d)
    return out


def loss(
    V: sp.csr_matrix,
    X: np.ndarray,
    Y: np.ndarray,
    lam: float,
    *,
    implicit: bool,
    alpha: float,
    nu: float = 0.0,
    Vt: sp.csr_matrix | None = None,
) -> float:
    """The training objective (see the module docstring) at ``(X, Y)`` (``Vt``: ``V.T`` as
    csr, if the caller has it)."""
    coo = V.tocoo()
    s = np.empty(V.nnz)
    for a in range(0, V.nnz, 1 << 18):  # blocks bound the (block, d) temporaries
        b = a + (1 << 18)
        s[a:b] = np.einsum("ij,ij->i", X[coo.row[a:b]], Y[coo.col[a:b]])
    if not implicit:
        nu = np.diff(V.indptr)
        ni = np.bincount(coo.col, minlength=Y.shape[0])
        err = np.sum((coo.data - s) ** 2)
        return err + lam * (nu @ np.sum(X * X, axis=1) + ni @ np.sum(Y * Y, axis=1))
    c = 1.0 + alpha * np.abs(coo.data)
    p = (coo.data >= 0).astype(np.float64)
    stored = np.sum(c * (p - s) ** 2 - s**2)
    everything = float(np.sum((X.T @ X) * (Y.T @ Y)))
    mu_x = implicit_penalty(V, lam, alpha, nu)
    mu_y = implicit_penalty(V.T.tocsr() if Vt is None else Vt, lam, alpha, nu)
    return stored + everything + float(mu_x @ np.sum(X * X, axis=1) + mu_y @ np.sum(Y * Y, axis=1))


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
    solve=solve_users,
    tuning=TUNING,
)

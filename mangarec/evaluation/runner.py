"""Runs the whole evaluation of one build (see :mod:`mangarec.evaluation`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..catalog import Catalog
from ..embedding import Embedding, Neighbours
from ..errors import InputError
from ..models import spec
from ..models.ease import MIN_LIKES, most_liked
from ..onboarding import picks_for
from ..seeds import derive_seed
from . import baselines as B
from .colikes import CoLikeAgreement
from .jaccard import check_lists
from .nulltests import agreement, model_tests
from .protocol import Split, canonical, make_split
from .ranking import K, Scorer, evaluate_scorer
from .results import Evaluation, Protocol, Row, VisitorFigures
from .truths import truths_of
from .visitor import evaluate_visitor

if TYPE_CHECKING:
    from ..config import EvaluationSection


def lists_scorer(nb: Neighbours, likes: sp.csr_matrix) -> Scorer:
    """Item-kNN from a model's neighbour lists: a user's score of ``j`` is the sum of ``j``'s
    neighbour scores from the user's likes (positive scores only; unreached items score 0)."""
    n, k = nb.indices.shape
    S = sp.csr_matrix(
        (
            np.maximum(nb.scores.astype(np.float64).ravel(), 0.0) + 1e-9,
            nb.indices.astype(np.int64).ravel(),
            np.arange(0, n * k + 1, k),
        ),
        shape=(n, n),
    )
    return lambda users: np.asarray((likes[users] @ S).todense())


def foldin_scorer(emb: Embedding, split_values: sp.csr_matrix, users: np.ndarray | None = None) -> Scorer:
    """A rating-trained model's users folded in exactly against its item vectors by the model's
    own "solve these users" (:attr:`mangarec.models.ModelSpec.solve`, with ``emb.foldin``).

    With ``users`` (sorted ``(u,)`` int64, the evaluated users), only those rows are solved
    (each row's solution depends on its own ratings and the item vectors alone, so the figures
    are the same), and the scorer answers for them only: the cost follows
    ``evaluation.max_users``, not the catalog's user count.
    """
    solve = spec(emb.model).solve
    if solve is None:
        raise ValueError(f"model {emb.model!r} declares no solve: its users cannot be folded in")
    rows = np.arange(split_values.shape[0]) if users is None else np.asarray(users, dtype=np.int64)
    X = solve(emb, split_values[rows])
    Y = np.asarray(emb.vectors, dtype=np.float64)
    return lambda us: X[np.searchsorted(rows, us)] @ Y.T


def _onboarding(catalog: Catalog, split: Split, emb: Embedding) -> list[int]:
    """The picks the site's onboarding would show for ``emb`` (fitted on ``split.train``),
    chosen from the training likes only (:mod:`mangarec.onboarding`)."""
    return picks_for(catalog, emb.vectors, split.likes("train"))


def training_values(emb: Embedding, ratings: sp.csr_matrix) -> sp.csr_matrix:
    """The model-scale values ``emb`` was trained with, for the rows of ``ratings``."""
    return emb.foldin.training_values(canonical(ratings))


def choose_ease(
    split: Split, tie: np.ndarray, seed: int, max_items: int | None = None
) -> tuple[float, dict[str, float]]:
    """EASE's λ: the candidate with the best validation nDCG@10 (fitted on ``split.fit`` over
    its ``max_items`` most liked items)."""
    fit_likes = split.likes("fit")
    exclude = canonical(split.fit.matrix)
    scores = {}
    for lam in B.ease_lambdas(fit_likes):
        m = evaluate_scorer(B.ease_scorer(fit_likes, lam, max_items), exclude, split.validation, split.users, tie, seed)
        scores[f"{lam:g}"] = m.ndcg.mean
    best = max(scores, key=lambda k: (scores[k], -float(k)))
    return float(best), scores


def run_evaluation(
    catalog: Catalog,
    neighbours: Mapping[str, Neighbours],
    config: EvaluationSection,
    seed: int,
    *,
    heldout_embeddings: Mapping[str, Embedding] | None = None,
    heldout_neighbours: Mapping[str, Neighbours] | None = None,
    picks: Sequence[int] | None = None,
    cold_neighbours: Mapping[str, Neighbours] | None = None,
    candidates: Mapping[str, Embedding] | None = None,
) -> Evaluation:
    """The typed evaluation (see :func:`mangarec.evaluation.evaluate` for the parameters)."""
    if not neighbours:
        raise ValueError("evaluate needs at least one model's neighbours")
    for name, nb in neighbours.items():
        if tuple(nb.item_ids) != tuple(catalog.ids):
            raise ValueError(f"{name}: neighbour lists are not over the catalog's items")
    held_emb = dict(heldout_embeddings or {})
    held_nb = dict(heldout_neighbours or {})
    tie = catalog.tie_order
    boot = derive_seed(seed, "evaluation", "bootstrap")
    notes: list[str] = []
    protocol = ranking = None
    choices: dict[str, object] = {}
    visitor: list[VisitorFigures] = []
    split = None
    if catalog.ratings is not None and catalog.ratings.nnz:
        split = make_split(catalog.ratings, config, seed)
        protocol = Protocol(
            scale=split.positives.scale.name,
            like_threshold=None if split.positives.scale.implicit else split.positives.threshold,
            users=int(len(split.users)),
            eligible_users=split.eligible,
            test_likes=int(split.test.nnz),
            validation_likes=int(split.validation.nnz),
            holdout=split.holdout,
            empty=split.empty,
            notes=tuple(split.describe()),
        )
        if split.empty:
            notes.append(protocol.notes[-1])
        else:
            ranking, choices = _ranking(catalog, split, neighbours, held_emb, held_nb, tie, boot, seed, config)
            if "ease_skipped" in choices:
                notes.append(f"EASE reference left out: {choices['ease_skipped']}")
            # the held-out fits with the site's onboarding picks; the publishable content models
            # (never trained on ratings) beside them, so the build can publish the best
            scored = [(n, e, e.foldin, True) for n, e in held_emb.items()]
            scored += [(n, e, e.foldin, False) for n, e in (candidates or {}).items()]
            for name, emb, fold, onboarding in scored:
                visitor.append(
                    evaluate_visitor(
                        catalog,
                        split,
                        emb,
                        reg=fold.reg,
                        mode=fold.mode,
                        alpha=fold.alpha,
                        schedule=fold.schedule,
                        like_counts=config.visitor_likes,
                        seed=derive_seed(seed, "visitor", name),
                        picks=(picks if picks is not None else _onboarding(catalog, split, emb))
                        if onboarding
                        else None,
                    )
                )
            for name in neighbours:
                if name in held_emb or name in held_nb:
                    notes.append(f"{name} was refitted on the training split for these figures (test likes unseen).")
    truths = truths_of(catalog, split)
    lists = {name: check_lists(nb) for name, nb in neighbours.items()}
    null = {
        name: tuple(model_tests(check_lists(held_nb[name]) if name in held_nb else lists[name], truths))
        for name in neighbours
    }
    if not truths:
        notes.append("This catalog holds no ground truth (no ratings, no related links): no null-model test.")
    agree = agreement(lists, derive_seed(seed, "evaluation", "agreement"), config.permutations)
    colikes: tuple[CoLikeAgreement, ...] = ()
    if split is not None and not split.empty:
        colikes = _colikes(catalog, split, config, lists, held_nb, dict(cold_neighbours or {}), seed, notes)
    return Evaluation(
        protocol=protocol,
        k=K,
        ranking=ranking,
        choices=choices,
        visitor=tuple(visitor),
        null=null,
        agreement=agree,
        notes=tuple(notes),
        colikes=colikes,
    )


def _colikes(
    catalog: Catalog,
    split: Split,
    config: EvaluationSection,
    lists: Mapping[str, np.ndarray],
    held_nb: Mapping[str, Neighbours],
    cold_nb: Mapping[str, Neighbours],
    seed: int,
    notes: list[str],
) -> tuple[CoLikeAgreement, ...]:
    """Co-like agreement beyond the series under both protocols (:mod:`.colikes`)."""
    from ..models._series_rule import SeriesRule, members
    from .colikes import all_likes, cold_titles, cold_truth, evaluate_colikes, series_out
    from .truths import CO_LIKED_TOP, co_liked

    series = members(catalog, SeriesRule())
    truths: dict[str, sp.csr_matrix] = {}
    by: dict[str, dict[str, np.ndarray]] = {}
    held = co_liked(catalog, split)
    if held is not None:
        truths["held-out likes"] = series_out(held, series)
        by["held-out likes"] = {n: check_lists(held_nb[n]) if n in held_nb else L for n, L in lists.items()}
    R = all_likes(catalog, config)
    cold = cold_titles(R, seed)
    truths["cold start"] = cold_truth(R, cold, series, CO_LIKED_TOP, config.colike_users, seed)
    if R.shape[0] > config.colike_users:
        notes.append(
            f"The cold-start co-likes are counted over a fixed-seed sample of {config.colike_users:,} of the "
            f"{R.shape[0]:,} users' likes (evaluation.colike_users)."
        )
    by["cold start"] = {}
    for n, L in lists.items():
        if n in cold_nb:
            by["cold start"][n] = check_lists(cold_nb[n])
        elif n in held_nb:
            notes.append(
                f"{n} is trained on ratings and was not refitted without the cold titles: no cold-start figure."
            )
        else:
            by["cold start"][n] = L
    cut = {p: {n: L[:, :CO_LIKED_TOP] for n, L in m.items()} for p, m in by.items()}
    return evaluate_colikes(truths, cut, derive_seed(seed, "evaluation", "colikes"))


def _ranking(
    catalog: Catalog,
    split: Split,
    neighbours: Mapping[str, Neighbours],
    held_emb: Mapping[str, Embedding],
    held_nb: Mapping[str, Neighbours],
    tie: np.ndarray,
    boot: int,
    seed: int,
    config: EvaluationSection,
) -> tuple[tuple[Row, ...], dict[str, object]]:
    from .colikes import truth_users

    n = len(catalog)
    ease_items = config.ease_items
    likes = split.likes("train")
    exclude = canonical(split.train.matrix)
    run = lambda sc: evaluate_scorer(sc, exclude, split.test, split.users, tie, boot)  # noqa: E731
    rows: list[Row] = []
    for name, emb in held_emb.items():
        rows.append(
            Row(
                name,
                "model",
                run(foldin_scorer(emb, training_values(emb, split.train.matrix), split.users)),
                "training users folded in against the item vectors (full precision)",
                model=name,
            )
        )
    for name, nb in neighbours.items():
        rows.append(
            Row(
                f"{name} neighbours",
                "neighbours",
                run(lists_scorer(held_nb.get(name, nb), likes)),
                "item-kNN over the model's top-k neighbour lists",
                model=name,
            )
        )
    choices: dict[str, object] = {}
    try:
        lam, val = choose_ease(split, tie, boot, ease_items)
        covered = len(most_liked(np.asarray((likes != 0).sum(axis=0)).ravel(), MIN_LIKES, ease_items))
        rows.append(
            Row(
                "ease",
                "reference",
                run(B.ease_scorer(likes, lam, ease_items)),
                f"EASE, λ = {lam:g} chosen on validation, over the {covered:,} most liked titles "
                f"(at most {ease_items:,}, at least {MIN_LIKES} likes)",
            )
        )
        choices = {"ease_lambda": lam, "ease_validation_ndcg": val}
    except InputError as exc:  # too many items for the dense inverse: say so, keep the rest
        choices = {"ease_skipped": str(exc)}
    # its similarities cost Σ n_u² over the counted users: bounded as the co-like truth is
    counted = truth_users(likes, config.colike_users, seed)
    knn_note = f"co-like cosine item-kNN, top {B.KNN}"
    if counted.shape[0] < likes.shape[0]:
        knn_note += (
            f", similarities counted over a fixed-seed sample of {counted.shape[0]:,} of the "
            f"{likes.shape[0]:,} training users (evaluation.colike_users)"
        )
    rows.append(Row("item-knn", "baseline", run(B.knn_scorer(likes, counted=counted)), knn_note))
    rows.append(Row("popularity", "baseline", run(B.popularity_scorer(likes)), "most liked in training"))
    rows.append(
        Row("random", "baseline", run(B.random_scorer(n, derive_seed(seed, "evaluation", "random"))), "uniform random")
    )
    return tuple(rows), choices

"""The evaluation: one protocol for the build's report, tuning and the benchmarks.

* ``protocol`` (:mod:`.protocol`): the rating scale, what a like is, the fixed test split and
  the validation split inside train (``None`` parts without ratings; an empty split is a loud
  note, never a silent 0.0).
* ``ranking`` (:mod:`.ranking`, :mod:`.baselines`, :mod:`.runner`): P@10, R@10, nDCG@10 and
  coverage with bootstrap 95 % intervals over users, for the rating-trained models (fold-in,
  as the visitor gets it) and every model's neighbour lists (item-kNN), beside random,
  popularity, co-like item-kNN and EASE (λ chosen on validation).
* ``visitor`` (:mod:`.visitor`): the published, quantised JSON through the Python client with
  5, 12, 48 and all training likes; the onboarding's picks against random popular picks.
* ``null`` (:mod:`.nulltests`, :mod:`.truths`): each model's neighbour lists against every
  ground truth the catalog holds, versus a random and a popularity-matched null (paired test
  over titles), with the recall of the truth.
* ``agreement``: model-vs-model Jaccard with bootstrap intervals over titles.
* ``colikes`` (:mod:`.colikes`): each model's co-like agreement@20 beyond the series, with
  lifts over random and popularity-matched lists, on held-out likes and for cold-start titles.
* ``content`` (:mod:`.content`): franchise recall@20 over the catalog's related links and
  ``matches`` recall@20 over its reference lists, per half, beside random lists.

:func:`evaluate` returns the JSON-able ``report.json`` part (what the stage cache stores);
:func:`evaluation_of` gives back the typed :class:`Evaluation` it is made from, which the report
and the models page read (:func:`run_evaluation` computes it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog, Ratings
from ..embedding import Embedding, Neighbours
from ..report import from_jsonable, jsonable
from . import content
from .jaccard import check_lists, jaccard_rows
from .protocol import Positives, Split, make_split, positives_of
from .ranking import Interval, K, Metrics
from .runner import Evaluation, run_evaluation
from .truths import TRUTHS, register

if TYPE_CHECKING:
    from ..config import EvaluationSection

__all__ = [
    "K",
    "TRUTHS",
    "Evaluation",
    "Interval",
    "Metrics",
    "Positives",
    "Split",
    "check_lists",
    "evaluate",
    "evaluation_of",
    "evaluation_split",
    "jaccard_rows",
    "make_split",
    "positives_of",
    "register",
    "run_evaluation",
]


def evaluation_split(ratings: Ratings, config: EvaluationSection, seed: int):
    """``(train ratings, test csr)`` of :func:`make_split` for evaluation seed ``seed``: fit
    the rating-trained models on ``train`` and pass them to :func:`evaluate`."""
    s = make_split(ratings, config, seed)
    return s.train, s.test


def evaluate(
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
) -> dict[str, Any]:
    """The ``evaluation`` part of ``report.json`` (JSON-able; see :class:`Evaluation`).

    Parameters
    ----------
    neighbours:
        ``{model: Neighbours}`` over the catalog's items (the published fits), report order.
    heldout_embeddings, heldout_neighbours:
        The rating-trained models refitted on :func:`evaluation_split`'s train ratings (same
        ``seed``): their fold-in and neighbour lists are scored on the test likes.
    picks:
        The onboarding's item positions (scored on the visitor path); by default each held-out
        fit's own :func:`mangarec.onboarding.choose` picks from the training likes, what the
        site's onboarding shows.
    cold_neighbours:
        The rating-trained models refitted on :func:`.colikes.hide_titles`'s catalog (the
        cold-start protocol's held-out titles without a rating): their lists are scored on
        those titles' co-likes.
    candidates:
        ``{model: Embedding}`` of content models (never trained on ratings) that could be
        published (each folded in with its ``foldin``) for personalisation: their visitor path
        is scored beside the held-out fits (:func:`mangarec.pipeline` publishes the best).
    """
    ev = run_evaluation(
        catalog,
        neighbours,
        config,
        seed,
        heldout_embeddings=heldout_embeddings,
        heldout_neighbours=heldout_neighbours,
        picks=picks,
        cold_neighbours=cold_neighbours,
        candidates=candidates,
    )
    return jsonable(replace(ev, content=content_figures(catalog, neighbours)))


def evaluation_of(report: Mapping[str, Any]) -> Evaluation:
    """The typed :class:`Evaluation` of :func:`evaluate`'s JSON-able ``report`` (as the stage
    cache gives it back; floats as rounded in ``report.json``)."""
    return from_jsonable(Evaluation, report)


def content_figures(catalog: Catalog, neighbours: Mapping[str, Neighbours]) -> content.ContentFigures | None:
    """Franchise and ``matches`` recall@20 of every model (:mod:`.content`), ``None`` when the
    catalog has neither related links nor reference lists."""
    # the halves the weights were chosen on (validation) and reported on (test): a fixed seed
    out = content.evaluate(catalog, neighbours, content.HALVES_SEED)
    if out.franchise_links is None and out.reference_lists is None:
        return None
    return out

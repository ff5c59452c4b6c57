"""The evaluation's typed results: what :func:`mangarec.evaluation.run_evaluation` returns, the
report holds and the models page (:mod:`mangarec.site.evaluation_view`) reads.

Frozen dataclasses only (no computation), so that the report can name them without importing
the evaluation's machinery; :func:`mangarec.report.jsonable` writes them into ``report.json`` and
:func:`mangarec.evaluation.evaluation_of` reads that back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .colikes import CoLikeAgreement
from .content import ContentFigures
from .nulltests import Agreement, NullTest
from .ranking import Metrics


@dataclass(frozen=True)
class VisitorFigures:
    """The visitor path: ``{"5 likes": Metrics, "12 likes": ..., "all likes": ...}``, the
    onboarding (``{"onboarding picks": ..., "random popular picks": ...}``, empty without picks)
    and, when an item-item table was given, the same profiles scored by it (``item_item``)."""

    model: str
    likes: Mapping[str, Metrics]
    onboarding: Mapping[str, Metrics]
    answered: Mapping[str, float]
    visitors: int
    item_item: Mapping[str, Metrics] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """One line of the ranking table: ``kind`` is ``model`` (fold-in of a rating-trained
    model), ``neighbours`` (a model's lists as item-kNN), ``baseline`` or ``reference`` (EASE);
    ``model`` is the registered model the line is about (``""`` for a baseline or reference,
    whose ``method`` is a key of :data:`mangarec.evaluation.baselines.LABELS`)."""

    method: str
    kind: str
    metrics: Metrics
    note: str = ""
    model: str = ""


@dataclass(frozen=True)
class Protocol:
    """The split's description: scale, threshold, users and held-out counts."""

    scale: str
    like_threshold: float | None
    users: int
    eligible_users: int
    test_likes: int
    validation_likes: int
    holdout: float
    empty: bool
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Evaluation:
    """Everything the evaluation measured (``report.json``'s ``evaluation``).

    ``protocol`` and ``ranking`` are ``None`` without ratings; ``choices`` holds what was
    picked on validation (EASE's λ, with every candidate's validation nDCG); ``content`` the
    franchise and ``matches`` recall of every model beside random lists
    (:func:`mangarec.evaluation.content_figures`).
    """

    protocol: Protocol | None
    k: int
    ranking: tuple[Row, ...] | None
    choices: Mapping[str, object]
    visitor: tuple[VisitorFigures, ...]
    null: Mapping[str, tuple[NullTest, ...]]
    agreement: Agreement | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    colikes: tuple[CoLikeAgreement, ...] = ()
    content: ContentFigures | None = None

"""The models page's evaluation sections: the typed :class:`~mangarec.evaluation.Evaluation`
(``report.evaluation``) as table rows.

Each part may be missing (no ratings: no ``protocol``, ``ranking`` or ``visitor``; no ground
truth: no null tests): it then renders "not computed". A row names its method through the
page's ``label`` (a model's spec label, or a baseline's from
:data:`mangarec.evaluation.baselines.LABELS`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..evaluation.colikes import CoLikeAgreement
    from ..evaluation.content import ContentFigures
    from ..evaluation.ranking import Interval, Metrics
    from ..evaluation.results import Evaluation, Row

KIND_TEXT = {
    "model": "fold-in, as a visitor's browser computes it",
    "neighbours": "item-kNN over its neighbour lists",
    "baseline": "baseline",
    "reference": "reference",
}


def _heat(v: float | None) -> str:
    if v is None:
        return "heat-na"
    return f"heat-{max(0, min(10, round(float(v) * 10)))}"


def _metric(iv: Interval | None) -> dict | None:
    if iv is None:
        return None
    return {"mean": iv.mean, "lo": iv.lo, "hi": iv.hi}


def _row(label: str, m: Metrics, best: float, note: str = "") -> dict:
    nd = _metric(m.ndcg)
    return {
        "label": label,
        "note": note,
        "p": _metric(m.precision),
        "r": _metric(m.recall),
        "ndcg": nd,
        "coverage": m.coverage,
        "cls": _heat((nd or {}).get("mean", 0) / best if best else 0),
    }


def _method_label(row: Row, label: Callable[[str], str]) -> str:
    if row.kind == "neighbours":
        return f"{label(row.model)}: neighbour lists"
    return label(row.method)


def evaluation_view(ev: Evaluation, label: Callable[[str], str]) -> dict:
    """Template variables ``protocol``, ``ranking``, ``visitor``, ``null``, ``agreement``,
    ``content``, ``colikes``, ``ease_lambda``, ``evaluation_notes`` (each ``None`` / empty when
    the evaluation has no such part), and ``trained_without_ratings`` (:func:`trained_without_ratings`)."""
    ranking = None
    rows = ev.ranking or ()
    if rows:
        best = max((r.metrics.ndcg.mean or 0) for r in rows) or 1.0
        ranking = {
            "k": ev.k or 10,
            "rows": [_row(_method_label(r, label), r.metrics, best, r.note or KIND_TEXT.get(r.kind, "")) for r in rows],
        }
    visitor = []
    for v in ev.visitor or ():
        allm = list(v.likes.values()) + list(v.onboarding.values())
        top = max((m.ndcg.mean or 0) for m in allm) if allm else 1.0
        twelve = v.likes.get("12 likes")
        visitor.append(
            {
                "label": label(v.model),
                "visitors": v.visitors,
                "rows": [_row(f"gives {name}", m, top or 1.0) for name, m in v.likes.items()],
                "onboarding": [
                    _row(name, m, top or 1.0, f"answers {v.answered.get(name, 0):.1f} of the picks on average")
                    for name, m in v.onboarding.items()
                ],
                "twelve": _metric(twelve.precision) if twelve is not None else None,
            }
        )
    null = []
    for model, tests in (ev.null or {}).items():
        by_truth: dict[str, dict] = {}
        for t in tests:
            e = by_truth.setdefault(
                t.truth, {"truth": t.truth, "items": t.items, "observed": t.observed, "recall": t.recall}
            )
            e[t.null] = {"expected": t.expected, "lift": t.lift, "p": t.p_value}
        for e in by_truth.values():
            null.append({"label": label(model), **e})
    agreement = None
    ag = ev.agreement
    if ag is not None and ag.models:
        names = list(ag.models)

        def cell(i: int, j: int) -> dict:
            get = lambda a: a[i][j] if i < len(a) and j < len(a[i]) else None  # noqa: E731
            return {"value": get(ag.mean), "lo": get(ag.lo), "hi": get(ag.hi), "cls": _heat(get(ag.mean))}

        agreement = {
            "labels": [label(m) for m in names],
            "k": ag.k,
            "rows": [
                {"label": label(a), "cells": [cell(i, j) for j in range(len(names))]} for i, a in enumerate(names)
            ],
        }
    return {
        "content": _content(ev.content, label),
        "colikes": _colikes(ev.colikes or (), label),
        "protocol": ev.protocol,
        "ranking": ranking,
        "visitor": visitor,
        "null": null,
        "agreement": agreement,
        "ease_lambda": (ev.choices or {}).get("ease_lambda"),
        "evaluation_notes": list(ev.notes or ()),
        "trained_without_ratings": trained_without_ratings(),
    }


def trained_without_ratings() -> dict[str, str]:
    """``{name: role}`` of the models the registry declares trained on ratings that build without
    them too (``"ratings"`` not in their ``needs``): the page says what they learn from instead
    (their ``ModelSpec.role``) when the catalog holds no ratings."""
    from ..models import REGISTRY

    return {n: s.role for n, s in REGISTRY.items() if s.trained_on_ratings and "ratings" not in s.needs}


def _role(name: str) -> str:
    """What the model's spec says of its figures (``ModelSpec.role``); ``""`` for an unknown name."""
    from ..models import REGISTRY

    s = REGISTRY.get(name)
    return s.role if s is not None else ""


def _content(c: ContentFigures | None, label: Callable[[str], str]) -> dict | None:
    """The content table: each model's franchise and ``matches`` recall@k (test halves) beside
    random lists; ``None`` when the catalog has neither truth."""
    if c is None or not c.models:
        return None
    tests = {name: (m.franchise_recall.test, m.matches_recall.test) for name, m in c.models.items()}
    best = [max((v for t in tests.values() if (v := t[i]) is not None), default=None) for i in (0, 1)]

    def heat(v: float | None, top: float | None) -> str:
        return _heat(v / top) if v is not None and top else ""

    rows = [
        {
            "label": label(name),
            "franchise": f,
            "matches": r,
            "f_cls": heat(f, best[0]),
            "m_cls": heat(r, best[1]),
            "note": _role(name),
        }
        for name, (f, r) in tests.items()
    ]
    return {
        "k": c.k,
        "rows": rows,
        "random": c.random,
        "links": c.franchise_links.test if c.franchise_links is not None else None,
        "lists": c.reference_lists.test if c.reference_lists is not None else None,
        "notes": list(c.notes),
    }


def _colikes(rows: Sequence[CoLikeAgreement], label: Callable[[str], str]) -> list[dict]:
    """The co-like tables, one per protocol (``held-out likes``, ``cold start``): each model's
    agreement@k and lifts with intervals, heat relative to the protocol's best; ``[]`` without."""
    by: dict[str, list[CoLikeAgreement]] = {}
    for r in rows:
        by.setdefault(r.protocol, []).append(r)
    out = []
    for protocol, rs in by.items():
        best = max((r.agreement.mean or 0 for r in rs), default=0) or 1.0
        out.append(
            {
                "protocol": protocol,
                "k": rs[0].k,
                "titles": rs[0].titles,
                "rows": [
                    {
                        "label": label(r.model),
                        "note": _role(r.model),
                        "agreement": _metric(r.agreement),
                        "lift_random": _metric(r.lift_random),
                        "lift_popularity": _metric(r.lift_popularity),
                        "cls": _heat((r.agreement.mean or 0) / best),
                    }
                    for r in rs
                ],
            }
        )
    return out

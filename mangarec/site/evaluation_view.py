"""The models page's evaluation sections: ``report.json``'s ``evaluation`` as table rows.

Reads (all optional, so an older or partial report renders "not computed"):
``protocol`` (scale, like_threshold, users, test_likes, validation_likes, holdout, empty,
notes), ``k``, ``ranking`` (rows of method, kind, metrics {precision, recall, ndcg: {mean, lo,
hi}, coverage, users}, note), ``choices`` (ease_lambda), ``visitor`` (model, visitors, likes
{name: metrics}, onboarding {name: metrics}, answered {name: mean answers}), ``null`` ({model:
[{truth, null, items, observed, expected, lift, p_value, recall}]}), ``agreement`` (models, mean,
lo, hi, k), ``colikes`` ([{model, protocol, titles, k, agreement, lift_random, lift_popularity:
{mean, lo, hi}}]), ``notes``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: Names of the evaluation's baselines and reference on the pages.
METHOD_LABELS = {
    "popularity": "Popularity (baseline)",
    "random": "Random (baseline)",
    "item-knn": "Co-like item-kNN (baseline)",
    "ease": "EASE (strong reference)",
}
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


def _metric(m: Mapping[str, Any] | None, name: str) -> dict | None:
    iv = (m or {}).get(name)
    if not isinstance(iv, Mapping):
        return None
    return {"mean": iv.get("mean"), "lo": iv.get("lo"), "hi": iv.get("hi")}


def _row(label: str, m: Mapping[str, Any], best: float, note: str = "") -> dict:
    nd = _metric(m, "ndcg")
    return {
        "label": label,
        "note": note,
        "p": _metric(m, "precision"),
        "r": _metric(m, "recall"),
        "ndcg": nd,
        "coverage": m.get("coverage"),
        "cls": _heat((nd or {}).get("mean", 0) / best if best else 0),
    }


def _method_label(method: str, label: Callable[[str], str]) -> str:
    if method.endswith(" neighbours"):
        return f"{label(method[: -len(' neighbours')])}: neighbour lists"
    return METHOD_LABELS.get(method, label(method))


def evaluation_view(rep: Mapping[str, Any], label: Callable[[str], str]) -> dict:
    """Template variables ``protocol``, ``ranking``, ``visitor``, ``null``, ``agreement``,
    ``evaluation_notes`` (each ``None`` / empty when the report lacks it)."""
    k = rep.get("k") or 10
    ranking = None
    rows = rep.get("ranking") or []
    if rows:
        best = max(((r.get("metrics") or {}).get("ndcg") or {}).get("mean") or 0 for r in rows) or 1.0
        ranking = {
            "k": k,
            "rows": [
                _row(
                    _method_label(r.get("method", ""), label),
                    r.get("metrics") or {},
                    best,
                    r.get("note") or KIND_TEXT.get(r.get("kind", ""), ""),
                )
                for r in rows
            ],
        }
    visitor = []
    for v in rep.get("visitor") or []:
        likes = v.get("likes") or {}
        allm = [m for m in likes.values()] + list((v.get("onboarding") or {}).values())
        best = max(((m.get("ndcg") or {}).get("mean") or 0) for m in allm) if allm else 1.0
        answered = v.get("answered") or {}
        visitor.append(
            {
                "label": label(v.get("model", "")),
                "visitors": v.get("visitors"),
                "rows": [_row(f"gives {name}", m, best or 1.0) for name, m in likes.items()],
                "onboarding": [
                    _row(name, m, best or 1.0, f"answers {answered.get(name, 0):.1f} of the picks on average")
                    for name, m in (v.get("onboarding") or {}).items()
                ],
                "twelve": _metric(likes.get("12 likes"), "precision"),
            }
        )
    null = []
    for model, tests in (rep.get("null") or {}).items():
        by_truth: dict[str, dict] = {}
        for t in tests or []:
            e = by_truth.setdefault(
                t.get("truth", ""),
                {
                    "truth": t.get("truth", ""),
                    "items": t.get("items"),
                    "observed": t.get("observed"),
                    "recall": t.get("recall"),
                },
            )
            e[t.get("null", "")] = {"expected": t.get("expected"), "lift": t.get("lift"), "p": t.get("p_value")}
        for e in by_truth.values():
            null.append({"label": label(model), **e})
    agreement = None
    ag = rep.get("agreement") or {}
    if ag.get("models"):
        names = list(ag["models"])
        mean, lo, hi = ag.get("mean") or [], ag.get("lo") or [], ag.get("hi") or []

        def cell(i: int, j: int) -> dict:
            get = lambda a: a[i][j] if i < len(a) and j < len(a[i]) else None  # noqa: E731
            return {"value": get(mean), "lo": get(lo), "hi": get(hi), "cls": _heat(get(mean))}

        agreement = {
            "labels": [label(m) for m in names],
            "k": ag.get("k"),
            "rows": [
                {"label": label(a), "cells": [cell(i, j) for j in range(len(names))]} for i, a in enumerate(names)
            ],
        }
    proto = rep.get("protocol")
    return {
        "content": _content(rep.get("content"), label),
        "colikes": _colikes(rep.get("colikes"), label),
        "protocol": proto,
        "ranking": ranking,
        "visitor": visitor,
        "null": null,
        "agreement": agreement,
        "ease_lambda": (rep.get("choices") or {}).get("ease_lambda"),
        "evaluation_notes": list(rep.get("notes") or []),
    }


def _role(name: str) -> str:
    """What the model's spec says of its figures (``ModelSpec.role``); ``""`` for an unknown name."""
    from ..models import REGISTRY

    s = REGISTRY.get(name)
    return s.role if s is not None else ""


def _content(c: Mapping[str, Any] | None, label: Callable[[str], str]) -> dict | None:
    """The content table: each model's franchise and ``matches`` recall@k (test halves) beside
    random lists; ``None`` when the catalog has neither truth."""
    if not c or not c.get("models"):
        return None

    def test(m: Mapping[str, Any], key: str) -> float | None:
        return ((m.get(key) or {}).get("test")) if m else None

    models = c["models"]
    best = {
        key: max((v for m in models.values() if (v := test(m, key)) is not None), default=None)
        for key in ("franchise_recall", "matches_recall")
    }
    rows = []
    for name, m in models.items():
        f, r = test(m, "franchise_recall"), test(m, "matches_recall")
        rows.append(
            {
                "label": label(name),
                "franchise": f,
                "matches": r,
                "f_cls": _heat(f / best["franchise_recall"]) if f is not None and best["franchise_recall"] else "",
                "m_cls": _heat(r / best["matches_recall"]) if r is not None and best["matches_recall"] else "",
                "note": _role(name),
            }
        )
    rnd = c.get("random") or {}
    return {
        "k": c.get("k"),
        "rows": rows,
        "random": rnd,
        "links": (c.get("franchise_links") or {}).get("test"),
        "lists": (c.get("reference_lists") or {}).get("test"),
        "notes": list(c.get("notes") or []),
    }


def _colikes(rows: Any, label: Callable[[str], str]) -> list[dict]:
    """The co-like tables, one per protocol (``held-out likes``, ``cold start``): each model's
    agreement@k and lifts with intervals, heat relative to the protocol's best; ``[]`` without."""
    by: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows or []:
        if isinstance(r, Mapping):
            by.setdefault(str(r.get("protocol", "")), []).append(r)
    out = []
    for protocol, rs in by.items():
        best = max(((r.get("agreement") or {}).get("mean") or 0 for r in rs), default=0) or 1.0
        out.append(
            {
                "protocol": protocol,
                "k": rs[0].get("k"),
                "titles": rs[0].get("titles"),
                "rows": [
                    {
                        "label": label(str(r.get("model", ""))),
                        "note": _role(str(r.get("model", ""))),
                        "agreement": _metric(r, "agreement"),
                        "lift_random": _metric(r, "lift_random"),
                        "lift_popularity": _metric(r, "lift_popularity"),
                        "cls": _heat(((r.get("agreement") or {}).get("mean") or 0) / best),
                    }
                    for r in rs
                ],
            }
        )
    return out

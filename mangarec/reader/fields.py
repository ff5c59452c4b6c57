"""The ``fold_in`` block every version of the embeddings document carries (how a reader maps
ratings to values and solves the fold-in), read into the typed values of :mod:`mangarec.foldin`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..foldin import Schedule, ValueMap


def fold_fields(fo: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`PublishedModel` fields read from a ``fold_in`` block (every version)."""
    return {
        "mode": str(fo["mode"]),
        "reg": float(fo["reg"]),
        "alpha": float(fo["alpha"]),
        "values": value_map(fo),
        "nu": float(fo.get("reg_exponent", 0.0)),
        "reg_cols": int(fo.get("reg_cols", 1)),
        "schedule": schedule_block(fo.get("schedule")),
    }


def schedule_block(s: Any) -> Schedule | None:
    """The ``fold_in.schedule`` block (version 3; absent or ``null``: none)."""
    if s is None:
        return None
    sched = Schedule.from_dict(s)
    if not (sched.active and sched.alpha_many >= 0 and sched.reg_many > 0):
        raise ValueError(f"fold_in.schedule needs 0 < few < many and reg_many > 0, not {s!r}")
    return sched


def value_map(fo: Mapping[str, Any]) -> ValueMap:
    """The ``fold_in`` block's value mapping (version 1: likes, dislikes, centred numbers)."""
    dislike = fo.get("dislike")
    return ValueMap(
        feedback=str(fo.get("feedback", "explicit")),
        threshold=float(fo.get("threshold", 0.0)),
        step=float(fo.get("step", 1.0)),
        like=float(fo["like"]),
        dislike=None if dislike is None else float(dislike),
    )

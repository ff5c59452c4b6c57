"""What a site publishes for its contributors, ``data/collect.json``, and what a visitor's
ratings become on the wire (issue 19). One definition for the build, the Python
contributor and the browser's (which reads the same document).

Document (written by the build when ``privacy.collect_url`` is set)::

    {"schema": "mangarec-collect", "version": 1, "collect_url": URL, "min_cohort": 32,
     "catalog_hash": H, "count": N, "index": "embeddings-titles.json",
     "values": {"scale": [1, 10], "like": 8, "dislike": 1, "number": "round-half-up-clamp"},
     "max_ratings": 2560}

* The **index** of a title is its row in the build's ``embeddings.json`` (the ids of
  ``embeddings-titles.json``, same order); contributors send indices below 2^20, never
  catalog ids, so any catalog's ids (MangaDex UUIDs) can be collected. The collector maps
  them back through the index of the same catalog hash.
* **Values** on the collected 1–10 scale: a like is 8 (the default like threshold on
  1–10: a like counts as a like, and no more, in every feedback mapping); a dislike is 1;
  a number r is ``min(10, max(1, floor(r + 0.5)))``; anything else is not sent. Titles not
  in the index are not sent; beyond ``max_ratings`` (64 parts of 40), the lowest indices go.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from mangarec.errors import InputError

from .ratings_codec import DEFAULT_MAX_PARTS, capacity

SCHEMA = "mangarec-collect"
VERSION = 1
SCALE = (1, 10)
LIKE, DISLIKE = 8, 1
NUMBER_RULE = "round-half-up-clamp"
INDEX_FILE = "embeddings-titles.json"
MAX_RATINGS = DEFAULT_MAX_PARTS * capacity()


def collect_document(collect_url: str, min_cohort: int, catalog_hash: str, count: int) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "collect_url": collect_url.rstrip("/"),
        "min_cohort": int(min_cohort),
        "catalog_hash": catalog_hash,
        "count": int(count),
        "index": INDEX_FILE,
        "values": {"scale": list(SCALE), "like": LIKE, "dislike": DISLIKE, "number": NUMBER_RULE},
        "max_ratings": MAX_RATINGS,
    }


def parse_collect(doc: Any, source: str) -> dict[str, Any]:
    """Check a collect document; InputError naming ``source`` otherwise."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("version") != VERSION:
        raise InputError(f"not a {SCHEMA} version {VERSION} document", source)
    for k, t in (("collect_url", str), ("min_cohort", int), ("catalog_hash", str), ("count", int)):
        if not isinstance(doc.get(k), t):
            raise InputError(f"{k} missing or of the wrong type", source)
    v = doc.get("values")
    want = {"scale": list(SCALE), "like": LIKE, "dislike": DISLIKE, "number": NUMBER_RULE}
    if v != want:
        raise InputError(f"values mapping {v!r} is not the one this client implements ({want!r})", source)
    if doc["min_cohort"] < 2:
        raise InputError("min_cohort must be at least 2", source)
    return doc


def collect_value(v: Any) -> int | None:
    """A visitor's rating ("like", "dislike" or a number) on the collected 1–10 scale."""
    if v == "like":
        return LIKE
    if v == "dislike":
        return DISLIKE
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return min(SCALE[1], max(SCALE[0], math.floor(v + 0.5)))
    return None


def to_indices(ratings: Mapping[str, Any] | Iterable[tuple[str, Any]], ids: list[str]) -> list[tuple[int, int]]:
    """``[(index, value)]`` sorted by index: what a contributor sends (at most MAX_RATINGS)."""
    pos = {i: k for k, i in enumerate(ids)}
    pairs = ratings.items() if isinstance(ratings, Mapping) else ratings
    out = {}
    for item, v in pairs:
        k, x = pos.get(str(item)), collect_value(v)
        if k is not None and x is not None:
            out[k] = x
    return sorted(out.items())[:MAX_RATINGS]

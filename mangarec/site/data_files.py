"""The JSON files the pages fetch: neighbour shards, plot points and maps.

``data/nb/<n>.json`` (one per :data:`~mangarec.site.prepare.NB_BLOCK` items, chosen by
``fnv1a(id) % shards``)::

    {"items": {id: [title, [tag numbers], year|null, kind]},
     "nb": {id: {model: [[ref numbers, best first], [scores in thousandths]]}},
     "ref": [[id, title, [tag numbers], format], ...]}

(``format`` is e.g. ``"anime · TV"``, empty when the catalog tells nothing more than the kind;
a "same series" list holds only the item's series members.)

(shared tags are the intersection of the two tag lists, computed by the page).

``data/points.json``: ``{"ids": [...], "t": [titles], "g": [[tag numbers]], "tags": [...],
"groups": [[group, [tag numbers]]]}`` in catalog order. ``data/maps/<model>.json``:
``{"model", "x": [...], "y": [...], "tags": {"t": [...], "x": [...], "y": [...]} | null}``
aligned with ``points.json``; coordinates rounded to 4 significant decimals.
"""
from __future__ import annotations

import numpy as np

from .prepare import Prepared


def neighbour_shards(prep: Prepared, shards_range: range | None = None) -> dict[int, dict]:
    """``{shard number: content}`` for every neighbour shard (empty shards included), or
    only those in ``shards_range``.

    Dicts are built in a deterministic order (catalog order within a shard), so the files can
    be written without re-sorting keys.
    """
    items = prep.items
    members: list[list[int]] = [[] for _ in range(prep.nb_shards)]
    for p, s in enumerate(prep.shard_of):
        members[s].append(p)
    models = prep.models
    pos_of = {m: prep.neighbour_lists[m][0] for m in models}
    milli = prep.score_milli
    shards = {}
    for s in shards_range if shards_range is not None else range(len(members)):
        ps = members[s]
        local: dict[int, int] = {}
        entries, nb = {}, {}
        for p in ps:
            it = items[p]
            entries[it.id] = [it.title, list(prep.item_tags[p]), it.year, it.kind]
            lists = {}
            for m in models:
                row = [q for q in pos_of[m][p] if q >= 0]
                lists[m] = [[local.setdefault(q, len(local)) for q in row], milli[m][p][: len(row)]]
            nb[it.id] = lists
        ref = [[items[q].id, items[q].title, list(prep.item_tags[q]), prep.formats[q]] for q in local]
        shards[s] = {"items": entries, "nb": nb, "ref": ref}
    return shards


def points(prep: Prepared) -> dict:
    """Titles and tags of every item, for the plots page's hover and colours."""
    return {
        "ids": [it.id for it in prep.items],
        "t": [it.title for it in prep.items],
        "g": [list(t) for t in prep.item_tags],
        "tags": list(prep.tags),
        "groups": prep.tag_groups,
    }


def _round(a: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in np.asarray(a, dtype=np.float64)]


def map_file(prep: Prepared, model: str) -> dict | None:
    """One model's map aligned with :func:`points` (``None`` when the model has no map)."""
    m = prep.result.maps.get(model)
    if m is None:
        return None
    index = {iid: k for k, iid in enumerate(m.item_ids)}
    order = np.array([index.get(it.id, -1) for it in prep.items], dtype=np.int64)
    xy = np.asarray(m.xy, dtype=np.float64)
    x = np.where(order >= 0, xy[np.clip(order, 0, None), 0], np.nan)
    y = np.where(order >= 0, xy[np.clip(order, 0, None), 1], np.nan)
    tags = None
    if m.tag_xy is not None and len(m.tag_ids):
        tags = {"t": list(m.tag_ids), "x": _round(m.tag_xy[:, 0]), "y": _round(m.tag_xy[:, 1])}
    return {
        "model": model,
        "x": [None if np.isnan(v) else v for v in _round(x)],
        "y": [None if np.isnan(v) else v for v in _round(y)],
        "tags": tags,
    }


def onboarding(prep: Prepared, n: int = 12) -> list[int]:
    """``n`` popular titles spread over the map: farthest-point sampling among the top ``10 n``.

    Coordinates: the first model's map, else its embedding, else the tag incidence rows.
    Starts at the most popular title; deterministic (ties go to the more popular).
    """
    pool = prep.by_popularity[: max(n, 10 * n)]
    if not pool:
        return []
    res = prep.result
    coords = None
    for m in prep.models:
        if m in res.maps:
            idx = {iid: k for k, iid in enumerate(res.maps[m].item_ids)}
            if all(prep.items[p].id in idx for p in pool):
                coords = np.asarray(res.maps[m].xy, dtype=np.float64)[[idx[prep.items[p].id] for p in pool]]
                break
    if coords is None:
        for m in prep.models:
            if m in res.embeddings:
                e = res.embeddings[m]
                idx = {iid: k for k, iid in enumerate(e.item_ids)}
                if all(prep.items[p].id in idx for p in pool):
                    v = np.asarray(e.vectors, dtype=np.float64)[[idx[prep.items[p].id] for p in pool]]
                    coords = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
                    break
    if coords is None:
        coords = res.catalog.tag_matrix[pool].toarray().astype(np.float64)
    chosen = [0]
    dist = np.linalg.norm(coords - coords[0], axis=1)
    while len(chosen) < min(n, len(pool)):
        dist[chosen] = -1.0
        nxt = int(np.argmax(dist))
        if dist[nxt] < 0:
            break
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(coords - coords[nxt], axis=1))
    return [pool[k] for k in chosen]

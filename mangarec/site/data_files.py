"""The JSON files the pages fetch: neighbour shards, plot points and maps.

``data/nb/<n>.json`` (one per :data:`~mangarec.site.prepare.NB_BLOCK` items, chosen by
``fnv1a(id) % shards``)::

    {"items": {id: [title, [tag numbers], year|null, kind]},
     "nb": {id: {model: [[ref numbers, best first], [scores in thousandths]]}},
     "ref": [[id, title, [tag numbers], kind label], ...]}

(a "same series" list holds only the item's series members.)

(shared tags are the intersection of the two tag lists, computed by the page; the kind label
is :attr:`Prepared.kind_labels`, e.g. ``"anime · TV"``, empty when it tells nothing).

The maps page (``data/maps/``), in catalog order, so the first picture needs only one
model's coordinates:

``<model>.json``
    ``{"model", "n", "x": [lo, hi], "y": [lo, hi], "bin": "<model>.bin",
    "tags": {"t": [...], "x": [...], "y": [...], "n": [titles per tag]} | null}``.
``<model>.bin``
    The coordinates quantised to 16 bits (:func:`quantise`): ``n`` little-endian uint16 ``x``
    then ``n`` ``y``; ``65535`` = no position. Error at most half a step: (hi - lo) / 131068.
``titles.json``
    ``{"ids": [...], "t": [titles]}`` for the hover labels and clicks (loaded after the first
    picture).
``tags.json``
    ``{"tags": [...], "groups": [[group, [tag numbers]]], "g": [[tag numbers per title]]}``,
    fetched only when the map is coloured.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

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
        labels = prep.kind_labels
        ref = [[items[q].id, items[q].title, list(prep.item_tags[q]), labels[q]] for q in local]
        shards[s] = {"items": entries, "nb": nb, "ref": ref}
    return shards


def map_titles(prep: Prepared) -> dict:
    """Ids and titles of every item (hover labels, clicks)."""
    return {"ids": [it.id for it in prep.items], "t": [it.title for it in prep.items]}


def map_tags(prep: Prepared) -> dict:
    """Every item's tag numbers and the tag groups (colouring the map by a tag or a group)."""
    return {"tags": list(prep.tags), "groups": prep.tag_groups, "g": [list(t) for t in prep.item_tags]}


#: The uint16 code of a missing coordinate; codes 0..65534 span [lo, hi].
MISSING = 65535


def quantise(v: np.ndarray) -> tuple[list[float], np.ndarray]:
    """``([lo, hi], codes uint16)``: ``lo + code / 65534 * (hi - lo)`` is within half a step of
    ``v``; NaN → :data:`MISSING`. ``lo``/``hi`` are rounded outwards to float32-exact values."""
    v = np.asarray(v, dtype=np.float64)
    ok = np.isfinite(v)
    if not ok.any():
        return [0.0, 0.0], np.full(v.shape, MISSING, dtype="<u2")
    lo, hi = float(np.float32(v[ok].min())), float(np.float32(v[ok].max()))
    span = hi - lo
    codes = np.zeros(v.shape, dtype=np.float64)
    if span > 0:
        codes = np.rint((np.where(ok, v, lo) - lo) / span * (MISSING - 1))
    out = np.clip(codes, 0, MISSING - 1).astype("<u2")
    out[~ok] = MISSING
    return [lo, hi], out


def _round(a: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in np.asarray(a, dtype=np.float64)]


def map_file(prep: Prepared, model: str) -> tuple[dict, bytes] | None:
    """One model's map aligned with the catalog: the JSON header and the ``.bin`` coordinates
    (``None`` when the model has no map)."""
    m = prep.result.maps.get(model)
    if m is None:
        return None
    index = {iid: k for k, iid in enumerate(m.item_ids)}
    order = np.array([index.get(it.id, -1) for it in prep.items], dtype=np.int64)
    xy = np.asarray(m.xy, dtype=np.float64)
    x = np.where(order >= 0, xy[np.clip(order, 0, None), 0], np.nan)
    y = np.where(order >= 0, xy[np.clip(order, 0, None), 1], np.nan)
    xr, qx = quantise(x)
    yr, qy = quantise(y)
    tags = None
    if m.tag_xy is not None and len(m.tag_ids):
        counts = prep.tag_counts
        tags = {
            "t": list(m.tag_ids),
            "x": _round(m.tag_xy[:, 0]),
            "y": _round(m.tag_xy[:, 1]),
            "n": [counts.get(t, 0) for t in m.tag_ids],
        }
    header = {"model": model, "n": len(prep.items), "x": xr, "y": yr, "bin": f"{model}.bin", "tags": tags}
    return header, qx.tobytes() + qy.tobytes()


def onboarding(prep: Prepared, n: int = 12) -> list[int]:
    """The ``n`` titles the "for you" page asks about first (:func:`mangarec.onboarding.choose`
    over the published model's vectors, weighted by the share of users who like each title).

    The published model is the report's; without one (or when it does not cover the catalog) the
    first model that does, else the tag incidence rows.
    """
    from ..evaluation import positives_of
    from ..evaluation.protocol import canonical
    from ..onboarding import picks_for

    res = prep.result
    cat = res.catalog
    published = res.report.published.model if res.report.published is not None else None
    order = [published, *prep.models] if published else list(prep.models)
    vectors = None
    for m in order:
        e = res.embeddings.get(m) if m else None
        if e is not None and tuple(e.item_ids) == tuple(cat.ids):
            vectors = np.asarray(e.vectors, dtype=np.float64)
            break
    if vectors is None:
        vectors = cat.tag_matrix.toarray().astype(np.float64)
    likes = None
    if cat.ratings is not None and cat.ratings.nnz:
        R = canonical(cat.ratings.matrix)
        keep = positives_of(cat.ratings, res.config.evaluation).mask(R)
        likes = sp.csr_matrix((keep.astype(np.float64), R.indices, R.indptr), shape=R.shape)
        likes.eliminate_zeros()
    return picks_for(cat, vectors, likes, n=n)

"""The JSON files the pages fetch: neighbour shards, plot points and maps.

``data/nb/<n>.json`` (one per :data:`~mangarec.site.prepare.NB_BLOCK` items, chosen by
``fnv1a(id) % shards``)::

    {"models": [model, ...], "w": characters per position,
     "items": {id: [title, [tag numbers], year|null, kind,
                    [["positions, best first", [score deltas]] for each model of "models"]]}}

Each id is written once per shard (a live catalog's ids are 36-character UUIDs). A list's
positions are one string, ``w`` characters each (:func:`encode_positions`: base 64, most
significant digit first, in the URL-safe base64 alphabet; ``w`` is the fewest for the catalog,
3 up to 262,144 titles), not a JSON list of decimal numbers (5 to 6 bytes each from 10,000
titles on).

A neighbour is its **position** in the catalog order, an index into the shared dictionaries
``data/maps/titles.json`` (its id, title and kind label) and ``data/maps/tags.json`` (its tags):
every title's name and tags are published once, not once per shard that lists it (issue 18:
the site within ~10 KB per title). Scores are integers in thousandths, delta-coded: the first is
the best score, each next one is what it drops from the one before (``s[k] = s[k-1] - d[k]``).
A "same series" list holds only the item's series members. (The page computes the shared tags
as the intersection of the two tag lists.)

The maps page (``data/maps/``), in catalog order, so the first picture needs only one
model's coordinates:

``<model>.json``
    ``{"model", "n", "x": [lo, hi], "y": [lo, hi], "bin": "<model>.bin",
    "tags": {"t": [...], "x": [...], "y": [...], "n": [titles per tag]} | null}``.
``<model>.bin``
    The coordinates quantised to 16 bits (:func:`quantise`): ``n`` little-endian uint16 ``x``
    then ``n`` ``y``; ``65535`` = no position. Error at most half a step: (hi - lo) / 131068.
``titles.json``
    ``{"ids": [...], "t": [titles], "kinds": [kind labels], "k": [kind label number per title]}``
    for the hover labels and clicks (loaded after the first picture), and the neighbours'
    names on the explore page (:attr:`Prepared.kind_labels`, e.g. ``"anime · TV"``, or ``""``).
``tags.json``
    ``{"tags": [...], "groups": [[group, [tag numbers]]], "g": [[tag numbers per title]]}``,
    fetched only when the map is coloured.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .prepare import Prepared

#: The digits of a shard's positions (``site.js`` decodes them with the same alphabet).
POSITION_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def position_width(n: int) -> int:
    """Characters per position for a catalog of ``n`` titles: the fewest base-64 digits for ``n - 1``."""
    w = 1
    while 64**w < n:
        w += 1
    return w


def encode_positions(positions: list[int], width: int) -> str:
    """Catalog positions as one string of ``width`` base-64 digits each (:data:`POSITION_DIGITS`)."""
    out = []
    for q in positions:
        out.append("".join(POSITION_DIGITS[(q >> (6 * k)) & 63] for k in range(width - 1, -1, -1)))
    return "".join(out)


#: :data:`POSITION_DIGITS` as bytes, indexed by digit.
_DIGIT_BYTES = np.frombuffer(POSITION_DIGITS.encode("ascii"), dtype=np.uint8)


def encode_rows(positions: np.ndarray, width: int) -> list[str]:
    """:func:`encode_positions` of each row of ``positions`` ``(n, k)`` (its entries ≥ 0, in
    order; ``-1`` = none), for all rows at once: one string per row."""
    pos = np.asarray(positions, dtype=np.int64)
    n, k = pos.shape
    keep = pos >= 0
    packed = np.take_along_axis(pos, np.argsort(~keep, axis=1, kind="stable"), axis=1)
    digits = (np.maximum(packed, 0)[:, :, None] >> (6 * np.arange(width - 1, -1, -1))) & 63
    text = _DIGIT_BYTES[digits].tobytes().decode("ascii")
    step = k * width
    return [text[i * step : i * step + c] for i, c in enumerate((keep.sum(axis=1) * width).tolist())]


def decode_positions(text: str, width: int) -> list[int]:
    """:func:`encode_positions` undone."""
    out = []
    for i in range(0, len(text), width):
        q = 0
        for c in text[i : i + width]:
            q = q * 64 + POSITION_DIGITS.index(c)
        out.append(q)
    return out


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
    models = list(prep.models)
    deltas = prep.score_deltas
    width = position_width(len(items))
    chosen = shards_range if shards_range is not None else range(len(members))
    rows = [p for s in chosen for p in members[s]]
    codes = {m: dict(zip(rows, encode_rows(prep.neighbours[m][0][rows], width))) for m in models}
    shards = {}
    for s in chosen:
        entries = {}
        for p in members[s]:
            it = items[p]
            lists = []
            for m in models:
                text = codes[m][p]
                lists.append([text, deltas[m][p][: len(text) // width]])
            entries[it.id] = [it.title, list(prep.item_tags[p]), it.year, it.kind, lists]
        shards[s] = {"models": models, "w": width, "items": entries}
    return shards


def map_titles(prep: Prepared) -> dict:
    """Ids, titles and kind labels of every item (hover labels, clicks, explore's neighbours)."""
    kinds: dict[str, int] = {}
    codes = [kinds.setdefault(label, len(kinds)) for label in prep.kind_labels]
    return {"ids": [it.id for it in prep.items], "t": [it.title for it in prep.items], "kinds": list(kinds), "k": codes}


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

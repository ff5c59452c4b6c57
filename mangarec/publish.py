"""The published embeddings JSON: quantised item (and tag) vectors anyone can download.

The format is documented in ``docs/embeddings-json.md`` and described by the JSON Schema
``site_src/static/embeddings.schema.json`` (copied to ``data/embeddings.schema.json``). Items are
listed most popular first (``Catalog.tie_order``), so a score tie goes to the earlier row and the
"top-N" variant is simply the first N rows. Vectors are int8 with one symmetric scale per
dimension (``scale = max|v| / 127``); a reader computes ``q * scale`` in float64.

Bytes are deterministic: ``json.dumps(sort_keys=True, separators=(",", ":"))``, floats rounded
to :data:`SIG_DIGITS` significant digits, gzip with ``mtime=0`` and no file name.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import Catalog
from .embedding import Embedding
from .errors import InputError
from .foldin import MODES, Schedule, ValueMap, fold_in, gram, rank
from .fsutil import atomic_write, gzip_bytes
from .models import REGISTRY
from .paths import SITE_SRC

SCHEMA_NAME = "mangarec-embeddings"
SCHEMA_VERSION = 3
#: Versions the readers accept (version 1 has no value mapping: the legacy one applies;
#: version 4 is the compact form, :mod:`mangarec.compact`).
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6, 7)
SCHEMA_FILE = SITE_SRC / "static" / "embeddings.schema.json"
SIG_DIGITS = 7
#: How vectors are encoded: base64 of int8 row-major bytes (smaller after gzip than a list of
#: ints on the catalogs measured by ``benchmarks/bench_als.py``; readers accept both).
ENCODING = "int8-base64"
ENCODINGS = ("int8-base64", "int-list")


def _round(x: float) -> float:
    return float(f"{float(x):.{SIG_DIGITS}g}")


def quantise(V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-dimension int8 quantisation.

    Parameters
    ----------
    V:
        ``(n, d)`` float vectors.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``q`` ``(n, d)`` int8 in ``[-127, 127]`` and ``scale`` ``(d,)`` float64 (already rounded
        to :data:`SIG_DIGITS` digits; 0 for an all-zero dimension) with ``V ≈ q * scale``.
    """
    V = np.asarray(V, dtype=np.float64)
    if V.size and not np.isfinite(V).all():
        raise ValueError("cannot quantise non-finite vectors")
    top = np.abs(V).max(axis=0) if V.shape[0] else np.zeros(V.shape[1])
    scale = np.array([_round(m / 127.0) for m in top], dtype=np.float64)
    safe = np.where(scale > 0, scale, 1.0)
    q = np.clip(np.rint(V / safe), -127, 127).astype(np.int8)
    return q, scale


def dequantise(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``q * scale`` in float64, shape ``(n, d)`` (what every reader computes)."""
    return np.asarray(q, dtype=np.float64) * np.asarray(scale, dtype=np.float64)[None, :]


def encode(q: np.ndarray, encoding: str = ENCODING) -> str | list[int]:
    """Encode an int8 ``(n, d)`` matrix row-major as base64 text or a flat list of ints."""
    if encoding == "int8-base64":
        return base64.b64encode(np.ascontiguousarray(q, dtype=np.int8).tobytes()).decode("ascii")
    if encoding == "int-list":
        return [int(v) for v in np.asarray(q, dtype=np.int8).ravel()]
    raise ValueError(f"unknown encoding {encoding!r}")


def decode(block: dict, dim: int, source: str = "embeddings JSON") -> np.ndarray:
    """Decode a ``{"scale", "encoding", "vectors", "ids"}`` block into float64 ``(n, dim)``."""
    n = len(block["ids"])
    enc = block.get("encoding", ENCODING)
    if enc == "int8-base64":
        raw = base64.b64decode(block["vectors"], validate=True)
        q = np.frombuffer(raw, dtype=np.int8)
    elif enc == "int-list":
        q = np.asarray(block["vectors"], dtype=np.int64)
    else:
        raise InputError(f"unknown vector encoding {enc!r}", source)
    if q.size != n * dim or len(block["scale"]) != dim:
        raise InputError(f"vectors hold {q.size} values, expected {n}×{dim}", source)
    return dequantise(q.reshape(n, dim), np.asarray(block["scale"], dtype=np.float64))


def _block(ids: Sequence[str], V: np.ndarray, encoding: str) -> dict[str, Any]:
    q, scale = quantise(V)
    return {"ids": list(ids), "scale": [float(s) for s in scale], "encoding": encoding, "vectors": encode(q, encoding)}


def value_map(emb: Embedding) -> ValueMap:
    """The rating → value mapping ``emb`` was trained with (``emb.foldin.values``; the legacy
    mapping for models that set none: content models)."""
    return emb.foldin.values


def fold_in_block(
    emb: Embedding, *, reg: float, mode: str, alpha: float, schedule: Schedule | None = None
) -> dict[str, Any]:
    """The ``fold_in`` block: mode, λ (and its frequency scaling), alpha, the value mapping and,
    when given, the count schedule of alpha and λ (``null`` otherwise)."""
    vm = value_map(emb)
    sched = None
    if schedule is not None and schedule.active:
        sched = {
            "few": int(schedule.few),
            "many": int(schedule.many),
            "alpha_many": _round(schedule.alpha_many),
            "reg_many": _round(schedule.reg_many),
        }
    return {
        "mode": mode,
        "reg": _round(reg),
        "alpha": _round(alpha),
        "reg_exponent": _round(emb.foldin.reg_exponent) if mode == "implicit" else 0.0,
        "reg_cols": int(len(emb.item_ids)),
        "feedback": vm.feedback,
        "threshold": _round(vm.threshold),
        "step": _round(vm.step),
        "like": vm.like,
        "dislike": None if vm.dislike is None else _round(vm.dislike),
        "schedule": sched,
    }


def published_vectors(emb: Embedding) -> np.ndarray:
    """The item vectors a reader folds ratings into, ``(n, d)`` float64.

    A model trained on ratings (ALS) is published as fitted. A content model is published with
    **unit-length rows**, so that a visitor's fold-in (a dot product) ranks by cosine, as the
    model's own neighbour lists do: otherwise titles with one tag and a large norm win every
    ranking (a MangaDex visitor who liked one title got franchise recall@20 0.008 against 0.165
    for cosine on the same LSI vectors). A model whose spec declares its vectors designed for the
    fold-in (``ModelSpec.published_as_fitted``: the hybrid's unit tag block plus one prior
    coordinate) is published as fitted.
    """
    v = np.asarray(emb.vectors, dtype=np.float64)
    s = REGISTRY.get(emb.model)
    if s is not None and (s.trained_on_ratings or s.published_as_fitted):
        return v
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)


def work_groups(catalog: Catalog, ids: Sequence[str]) -> list[list[str]]:
    """Groups (of at least 2) of ``ids`` that are one work in several formats (``Catalog.work_of``)."""
    keep = set(ids)
    work = catalog.work_of
    groups: dict[int, list[str]] = {}
    for pos in np.flatnonzero(np.bincount(work, minlength=len(work))[work] > 1).tolist():  # works of 2+
        iid = catalog.ids[pos]
        if iid in keep:
            groups.setdefault(int(work[pos]), []).append(iid)
    return [g for _, g in sorted(groups.items()) if len(g) > 1]


def build_payload(
    catalog: Catalog,
    emb: Embedding,
    *,
    reg: float,
    mode: str,
    build_date: str,
    top_n: int | None = None,
    alpha: float | None = None,
    titles: bool = False,
    encoding: str = ENCODING,
    schedule: Schedule | None = None,
) -> dict[str, Any]:
    """The embeddings JSON document (see ``docs/embeddings-json.md``).

    Parameters
    ----------
    catalog:
        The catalog ``emb`` was fitted on (its ``tie_order`` orders the rows, its
        ``fingerprint`` is the ``catalog_hash``).
    emb:
        Item vectors ``(n_items, d)`` and optional tag vectors.
    reg, mode, alpha:
        Fold-in λ, ``"explicit"``/``"implicit"``, implicit confidence scale (``None``: the
        α the embedding was trained with, ``emb.foldin.fit_alpha``).
    schedule:
        How alpha and λ move with a visitor's count of ratings (``fold_in.schedule``).
    build_date:
        ISO date of the build (passed in: builds are deterministic).
    top_n:
        Keep only the ``top_n`` most popular titles (``None``: all).
    titles:
        Also list the titles (``items.titles``); off by default to keep the file small.
    """
    head = payload_head(catalog, emb, reg=reg, mode=mode, build_date=build_date, alpha=alpha, schedule=schedule)
    order = np.argsort(catalog.tie_order, kind="stable")
    subset = None
    if top_n is not None and top_n < len(order):
        subset = {"top_n": int(top_n), "of": len(order)}
        order = order[:top_n]
    ids = [catalog.ids[k] for k in order]
    items = _block(ids, published_vectors(emb)[order], encoding)
    if titles:
        items["titles"] = [catalog.items[k].title for k in order]
    payload: dict[str, Any] = dict(head, count=len(ids), subset=subset, items=items)
    if emb.tag_vectors is not None and len(emb.tag_ids):
        payload["tags"] = _block(emb.tag_ids, emb.tag_vectors, encoding)
    works = work_groups(catalog, ids)
    if works:  # one work, several formats: a reader never recommends one after the other was rated
        payload["works"] = works
    return payload


def payload_head(
    catalog: Catalog,
    emb: Embedding,
    *,
    reg: float,
    mode: str,
    build_date: str,
    alpha: float | None = None,
    schedule: Schedule | None = None,
) -> dict[str, Any]:
    """The fields of :func:`build_payload` that do not depend on the rows kept: schema, version,
    model, dim, build date, catalog hash, the ``fold_in`` block and ``tags: null``."""
    if mode not in MODES:
        raise InputError(f"fold-in mode must be one of {', '.join(MODES)}, not {mode!r}", "publish")
    if tuple(emb.item_ids) != tuple(catalog.ids):
        raise ValueError(f"{emb.model}: embedding rows do not follow the catalog's items")
    if alpha is None:
        alpha = emb.foldin.fit_alpha
    return {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "model": emb.model,
        "dim": emb.dim,
        "build_date": build_date,
        "catalog_hash": catalog.fingerprint,
        "fold_in": fold_in_block(emb, reg=reg, mode=mode, alpha=alpha, schedule=schedule),
        "tags": None,
    }


def dumps(payload: dict) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces, UTF-8, newline at the end)."""
    return (
        json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
    ).encode("utf-8")


def write_embeddings(
    out_dir: Path,
    catalog: Catalog,
    emb: Embedding,
    *,
    reg: float,
    mode: str,
    build_date: str,
    top_n: int | None,
    alpha: float | None = None,
    schedule: Schedule | None = None,
) -> dict[str, int]:
    """Write the embeddings files under ``out_dir/data``; return ``{relative path: bytes}``.

    Files: ``embeddings.json`` (+ ``.gz``), ``embeddings-top.json`` (+ ``.gz``, the ``top_n``
    most popular titles; identical to the full file when the catalog is smaller),
    ``embeddings-titles.json`` (``{"ids": [...], "titles": [...]}`` in the same row order, for
    pages that show names) and ``embeddings.schema.json`` (the compact version-4 form For-you
    loads is :func:`mangarec.published.write_published`, which calls this). All documents are built
    before the first byte is written.
    """
    full, top = (
        dumps(
            build_payload(
                catalog, emb, reg=reg, mode=mode, build_date=build_date, alpha=alpha, schedule=schedule, top_n=n
            )
        )
        for n in (None, top_n)
    )
    order = np.argsort(catalog.tie_order, kind="stable")
    names = dumps(
        {
            "schema": "mangarec-titles",
            "version": 1,
            "catalog_hash": catalog.fingerprint,
            "ids": [catalog.ids[k] for k in order],
            "titles": [catalog.items[k].title for k in order],
        }
    )
    schema = SCHEMA_FILE.read_bytes()
    files = {
        "data/embeddings.json": full,
        "data/embeddings.json.gz": gzip_bytes(full),
        "data/embeddings-top.json": top,
        "data/embeddings-top.json.gz": gzip_bytes(top),
        "data/embeddings-titles.json": names,
        "data/embeddings-titles.json.gz": gzip_bytes(names),
        "data/embeddings.schema.json": schema,
    }
    out_dir = Path(out_dir)
    for rel, data in files.items():
        atomic_write(out_dir / rel, data)
    return {rel: len(data) for rel, data in files.items()}


def write_collect(out_dir: Path, catalog: Catalog, collect_url: str, min_cohort: int) -> dict[str, int]:
    """Write ``data/collect.json`` (what a contributor needs: the lobby, the smallest cohort,
    the index's catalog hash; :mod:`mangarec.privacy.site_collect`); ``{path: bytes}``."""
    from .privacy.site_collect import collect_document

    data = dumps(collect_document(collect_url, min_cohort, catalog.fingerprint, len(catalog.ids)))
    atomic_write(Path(out_dir) / "data/collect.json", data)
    return {"data/collect.json": len(data)}


def top_overlap(
    Y_full: np.ndarray,
    Y_quant: np.ndarray,
    profiles: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    reg: float,
    mode: str,
    alpha: float = 1.0,
    k: int = 10,
) -> float:
    """Mean top-``k`` overlap between fold-in on full-precision and on quantised vectors.

    ``profiles`` are ``(item positions, model-scale values)`` pairs (rows of both matrices);
    rated items are excluded from both rankings. Returns a fraction in ``[0, 1]``.
    """
    if not profiles:
        raise ValueError("no profiles to compare")
    G_full, G_q = gram(Y_full), gram(Y_quant)
    hits = []
    for idx, vals in profiles:
        a = fold_in(Y_full, idx, vals, reg, mode, alpha=alpha, YtY=G_full)
        b = fold_in(Y_quant, idx, vals, reg, mode, alpha=alpha, YtY=G_q)
        ra, _ = rank(Y_full, a, exclude=idx, n=k)
        rb, _ = rank(Y_quant, b, exclude=idx, n=k)
        hits.append(len(set(ra.tolist()) & set(rb.tolist())) / k)
    return float(np.mean(hits))

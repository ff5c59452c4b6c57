"""The compact published model (embeddings JSON version 4): what For-you downloads first.

The full file (version 3, ``data/embeddings.json``) holds every title at the model's full
dimension, int8. A visitor only needs, before the first recommendation, the titles it can be
recommended and the vectors of the titles it rated. Version 4 (``data/embeddings-compact.json``)
therefore publishes:

1. **Principal directions, truncated** (implicit mode, or when directions are dropped). The
   item matrix ``Y`` ``(n, d)`` is rotated onto the eigenvectors of ``YᵀY`` (largest first,
   each signed so its largest component is positive) and the first ``k`` columns are kept.
   Dot products, hence rankings, change only by the energy of the dropped directions; the
   fold-in is solved in the ``k``-dimensional space. A content profile (explicit mode, every
   direction kept) stays in its own basis: its sparse rows compress far better.
2. **The Gram matrix's diagonal** ``diag(YᵀY)`` over *every* title, in the published basis
   (``fold_in.gram``; implicit mode): the fold-in needs the sum over all titles and a reader
   holds only some of them; after the rotation the matrix is diagonal.
3. **b-bit codes with a step per dimension**: ``q = round(v / scale)`` clipped to
   ``±(2^(b−1) − 1)``, ``scale`` the :data:`CLIP` quantile of ``|v|`` over the column divided by
   that bound (a few outliers are clipped instead of coarsening every other code), written as
   raw bytes (gzip codes small values better than base64 text).
4. **The recommendable titles up front** (the ``recommend_n`` most popular, in the tie order),
   the others in :func:`shard_of` shards fetched only when the visitor rated one of them (their
   vectors enter the fit; they are never recommended).

What each step costs the visitor is measured by ``benchmarks/bench_foryou.py``: on
anime-recdb's 256-factor ALS, P@10 drops below 0.98 of the full file's as soon as fewer than
all titles are up front, fewer directions are kept, or codes are shorter than 7–8 bits, so the
defaults keep every title and every direction at 8 bits (the saving is the binary codes).

Readers: :mod:`mangarec.client`, ``taste.js``; the format is ``docs/embeddings-json.md``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fnv import fnv1a

#: Quantile of ``|v|`` per dimension that maps to the largest code (the rest are clipped).
CLIP = 0.999
#: Bits per code accepted by readers.
BITS = (2, 3, 4, 5, 6, 7, 8)


def principal_basis(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of ``YᵀY``: ``(eigenvalues (d,), eigenvectors (d, d))``, largest
    first, each eigenvector signed so that its largest-magnitude component is positive (the
    result does not depend on LAPACK's sign choice)."""
    Y = np.asarray(Y, dtype=np.float64)
    w, V = np.linalg.eigh(Y.T @ Y)
    order = np.argsort(-w, kind="stable")
    w, V = w[order], V[:, order]
    sign = np.sign(V[np.abs(V).argmax(axis=0), np.arange(V.shape[1])])
    return np.maximum(w, 0.0), V * np.where(sign == 0, 1.0, sign)[None, :]


def qmax(bits: int) -> int:
    """The largest code of a ``bits``-bit symmetric quantiser (``2^(bits−1) − 1``)."""
    if bits not in BITS:
        raise ValueError(f"bits must be one of {BITS}, not {bits}")
    return (1 << (bits - 1)) - 1


def quantise_bits(V: np.ndarray, bits: int, clip: float = CLIP, shared: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric ``bits``-bit quantisation with one step per dimension.

    With ``shared`` every dimension gets the first column's step (the largest principal
    direction's): a uniform quantiser whose weak directions' codes are mostly small and cost
    little after gzip; at 8 bits it cost the anime visitor's P@10 (0.978 of the full file's
    against 0.986 per column on 300 visitors), so it is not the default. Otherwise each column
    has its own step.

    Parameters
    ----------
    V:
        ``(n, k)`` float vectors.
    bits:
        Code width (2–8); codes lie in ``[−qmax, qmax]``.
    clip:
        Quantile of ``|V[:, j]|`` mapped to ``qmax`` (1: the maximum, nothing clipped).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Codes ``(n, k)`` int8 and scales ``(k,)`` float64 (rounded to 7 significant digits; 0
        for an all-zero column), ``V ≈ q * scale``.
    """
    from .publish import _round

    V = np.asarray(V, dtype=np.float64)
    if V.size and not np.isfinite(V).all():
        raise ValueError("cannot quantise non-finite vectors")
    top = np.quantile(np.abs(V), clip, axis=0) if V.shape[0] else np.zeros(V.shape[1])
    if shared and top.size:
        top = np.full_like(top, top.max())
    m = qmax(bits)
    scale = np.array([_round(t / m) for t in top], dtype=np.float64)
    safe = np.where(scale > 0, scale, 1.0)
    q = np.clip(np.rint(V / safe), -m, m).astype(np.int8)
    return q, scale


def shard_of(item_id: str, count: int) -> int:
    """The shard holding a title that is not up front: ``fnv1a(id) mod count`` (``taste.js``
    computes the same)."""
    return fnv1a(item_id) % count


@dataclass(frozen=True)
class Compact:
    """One compacted item matrix.

    ``codes`` ``(n, k)`` int8 and ``scale`` ``(k,)`` (rows in the given order); ``gram``
    ``(k,)`` the diagonal of ``YᵀY`` over every row in the published basis (the eigenvalues;
    the off-diagonal terms are 0 before quantisation); ``basis`` ``(d, k)`` the rotation
    (``Y_published ≈ Y @ basis``); ``energy`` the share of ``trace(YᵀY)`` the kept directions
    hold.
    """

    codes: np.ndarray
    scale: np.ndarray
    gram: np.ndarray
    basis: np.ndarray
    energy: float
    bits: int

    @property
    def vectors(self) -> np.ndarray:
        """The dequantised published vectors ``(n, k)`` float64 (what every reader computes)."""
        return self.codes.astype(np.float64) * self.scale[None, :]


def compact(
    Y: np.ndarray, *, dims: int, bits: int, clip: float = CLIP, shared: bool = False, rotate: bool = True
) -> Compact:
    """Rotate ``Y`` ``(n, d)`` onto its principal directions, keep ``dims`` (0 or ≥ d: all) and
    quantise to ``bits`` bits per code (see the module docstring and :func:`quantise_bits`).

    ``rotate=False`` with every dimension kept publishes ``Y`` in its own basis: sparse rows (a
    content profile's unit tag block) stay sparse, and cost far less after gzip than their
    dense rotation; ``gram`` is then not diagonal and must not be published (explicit mode).
    """
    Y = np.asarray(Y, dtype=np.float64)
    w, V = principal_basis(Y)
    k = Y.shape[1] if dims <= 0 else min(int(dims), Y.shape[1])
    if not rotate and k == Y.shape[1]:
        w, V = np.diag(Y.T @ Y), np.eye(k)
    basis = V[:, :k]
    R = Y @ basis
    codes, scale = quantise_bits(R, bits, clip, shared)
    total = float(w.sum())
    return Compact(
        codes=codes,
        scale=scale,
        gram=w[:k].copy(),
        basis=basis,
        energy=float(w[:k].sum() / total) if total > 0 else 1.0,
        bits=int(bits),
    )


def gram_matrix(diagonal: Sequence[float], k: int) -> np.ndarray:
    """The ``(k, k)`` float64 fold-in Gram matrix of a published ``fold_in.gram`` (its diagonal)."""
    if len(diagonal) != k:
        raise ValueError(f"fold_in.gram holds {len(diagonal)} values, expected one per dimension ({k})")
    d = np.asarray(diagonal, dtype=np.float64)
    if not (np.isfinite(d).all() and (d >= 0).all()):
        raise ValueError("fold_in.gram must hold finite values >= 0")
    return np.diag(d)


@dataclass(frozen=True)
class CompactOptions:
    """How the compact file is cut (``[publish] compact_*``)."""

    titles: int = 0
    dims: int = 0
    bits: int = 8
    shard_size: int = 16
    #: > 0: version 7 (:mod:`mangarec.lean`) with this many candidates per title; 0: version 4.
    candidates: int = 0
    #: Versions 6 and 7: μ₀ of the published implicit kernel (0: the few-ratings λ).
    kernel_reg: float = 0.0

    @classmethod
    def of(cls, section, model: str | None = None) -> CompactOptions:
        """From the ``[publish]`` section; ``compact_candidates = -1``: what the published
        ``model`` declares (:attr:`mangarec.models.base.ModelSpec.candidates`; 0 without one)."""
        candidates = int(section.compact_candidates)
        if candidates < 0:
            from .models import spec

            candidates = spec(model).candidates if model else 0
        return cls(
            titles=int(section.compact_titles),
            dims=int(section.compact_dims),
            bits=int(section.compact_bits),
            shard_size=int(section.compact_shard_size),
            candidates=candidates,
            kernel_reg=float(section.compact_kernel_reg),
        )


SHARD_SCHEMA = "mangarec-embeddings-shard"
#: The compact document, its codes and its shards, under the site's ``data/``.
DOC_NAME = "embeddings-compact.json"
CODES_NAME = "embeddings-compact.bin"
#: Where the shards are, relative to the compact document (``{}``: the shard number).
SHARD_PATH = "embeddings-compact/{}.json"


def _codes(q: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(q, dtype=np.int8).tobytes()).decode("ascii")


def build_compact(
    catalog,
    emb,
    *,
    reg: float,
    mode: str,
    build_date: str,
    dims: int,
    bits: int,
    recommend_n: int,
    shard_size: int,
    alpha: float | None = None,
    schedule=None,
    clip: float = CLIP,
    shared: bool = False,
) -> tuple[dict, dict[int, dict]]:
    """The version-4 document and its shards ``{shard number: document}``.

    ``dims`` principal directions (0: all), ``bits`` per code, ``recommend_n`` most popular
    titles up front (0 or more than the catalog: all, no shards), about ``shard_size`` titles
    per shard. The fold-in block is version 3's plus ``gram``; no ``tags`` (the full file has
    them).
    """
    from .publish import SCHEMA_NAME, _round, build_payload, published_vectors

    base = build_payload(
        catalog, emb, reg=reg, mode=mode, build_date=build_date, alpha=alpha, schedule=schedule, top_n=None
    )
    order = np.argsort(catalog.tie_order, kind="stable")
    ids = [catalog.ids[k] for k in order]
    # explicit mode needs no Gram: keep the model's basis unless directions are dropped
    c = compact(
        published_vectors(emb)[order], dims=dims, bits=bits, clip=clip, shared=shared, rotate=mode == "implicit"
    )
    n = len(ids) if recommend_n <= 0 else min(int(recommend_n), len(ids))
    k = c.codes.shape[1]
    doc = dict(base)
    doc["version"] = 4
    doc["dim"] = k
    doc["count"] = n
    doc["subset"] = {"top_n": n, "of": len(ids)} if n < len(ids) else None
    doc["fold_in"] = dict(base["fold_in"], gram=[_round(g) for g in c.gram] if mode == "implicit" else None)
    doc["items"] = {
        "ids": ids[:n],
        "titles": [catalog.items[k].title for k in order[:n]],
        "scale": [float(s) for s in c.scale],
        "bits": c.bits,
        "encoding": "int8-base64",
        "vectors": _codes(c.codes[:n]),
    }
    doc["tags"] = None  # placing a title from its tags is for the full file's readers
    works = base.get("works")
    if works:  # only groups with a member up front matter to a reader that ranks those
        front = set(ids[:n])
        kept = [g for g in works if front.intersection(g)]
        if kept:
            doc["works"] = kept
        else:
            doc.pop("works")
    rest = len(ids) - n
    shards: dict[int, dict] = {}
    doc["shards"] = None
    if rest:
        count = max(1, -(-rest // max(1, int(shard_size))))
        doc["shards"] = {"count": count, "path": SHARD_PATH, "items": rest}
        members: dict[int, list[int]] = {}
        for r in range(n, len(ids)):
            members.setdefault(shard_of(ids[r], count), []).append(r)
        for s in range(count):
            rows = members.get(s, [])
            shards[s] = {
                "schema": SHARD_SCHEMA,
                "version": 4,
                "catalog_hash": catalog.fingerprint,
                "shard": s,
                "ids": [ids[r] for r in rows],
                "titles": [catalog.items[order[r]].title for r in rows],
                "encoding": "int8-base64",
                "vectors": _codes(c.codes[rows]),
            }
    assert doc["schema"] == SCHEMA_NAME
    return doc, shards


def write_compact(out_dir: Path, doc: dict, shards: Mapping[int, dict]) -> dict[str, int]:
    """Write the compact form under ``out_dir/data``: the document with its item codes moved to
    :data:`CODES_NAME` (raw int8 bytes, row-major: gzip codes small values better than base64
    text), each with a ``.gz`` twin, and the shards. Returns ``{relative path: bytes}`` (the
    shards summed under one key). Everything is encoded before the first byte is written."""
    from .fsutil import atomic_write, gzip_bytes
    from .publish import dumps

    codes = base64.b64decode(doc["items"]["vectors"])
    main = dict(doc, items=dict(doc["items"], encoding="int8-file", vectors=CODES_NAME))
    body = dumps(main)
    files = {
        f"data/{DOC_NAME}": body,
        f"data/{DOC_NAME}.gz": gzip_bytes(body),
        f"data/{CODES_NAME}": codes,
        f"data/{CODES_NAME}.gz": gzip_bytes(codes),
    }
    parts = {f"data/{SHARD_PATH.format(k)}": dumps(sh) for k, sh in sorted(shards.items())}
    for rel in list(parts):
        parts[rel + ".gz"] = gzip_bytes(parts[rel])
    for rel, data in {**files, **parts}.items():
        atomic_write(Path(out_dir) / rel, data)
    sizes = {rel: len(data) for rel, data in files.items()}
    if parts:
        sizes[f"data/{SHARD_PATH.format('*')}"] = sum(len(v) for k, v in parts.items() if not k.endswith(".gz"))
    return sizes

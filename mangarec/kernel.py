"""Embeddings version 5: one small file per title, with its own code and its candidate list.

Version 4 (:mod:`mangarec.compact`) sends every recommendable title's vector up front; on
anime-recdb no cut of it reaches 100 KB within 0.98 of the visitor's P@10. Version 5 changes
what is sent instead of how hard it is squeezed: the fold-in's score of a title is a weighted
sum of an item–item kernel over the *rated* titles, so a visitor needs only the rated titles'
files, each carrying the titles with the largest kernel values beside it.

The algebra (``docs/embeddings-json.md``, "Version 5"). In the published basis (principal
directions, :func:`mangarec.compact.compact`) ``YᵀY`` is diagonal, ``g``. Let ``U = Y_Sᵀ``
``(d, m)`` be the rated titles' vectors, ``w`` the right-hand-side weights and ``Γ`` the extra
confidences of the fold-in (:func:`mangarec.foldin.fold_in`):

- implicit: ``A = D + U Γ Uᵀ`` with ``D = diag(g) + μ I``, ``Γ = diag(c_j − 1)``;
- explicit: ``A = D + U Uᵀ`` with ``D = λ m I``, ``Γ = I``.

Then ``x = A⁻¹ U w = D⁻¹ U z`` with ``(I + Γ K_SS) z = w`` and ``K_SS = Uᵀ D⁻¹ U`` (``m × m``,
from the rated titles' own codes), and the score of a title ``c`` is

``s_c = y_cᵀ x = Σ_j z_j · k(c, j)``, ``k(c, j) = y_cᵀ D⁻¹ y_j``.

Each title's file lists the ``N`` titles ``c`` with the largest ``k(c, j)`` (the *published*
kernel, with ``D₀ = diag(g) + μ₀ I``, ``μ₀ = fold_in.kernel_reg``, in implicit mode; ``y_cᵀy_j``
scaled by ``1 / (λ m)`` at read time in explicit mode, which is then exact). A reader scores
the union of the rated titles' lists by ``Σ_j z_j k(c, j)`` (a title missing from a list adds
0 for it). What the truncation to ``N`` and the fixed ``μ₀`` cost is measured by
``benchmarks/bench_foryou.py``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .compact import CLIP, compact

TITLE_SCHEMA = "mangarec-embeddings-title"
#: Where the per-title files are, relative to the compact document (``{}``: the title's id).
TITLE_PATH = "taste/{}.json"
#: Bits of a kernel value (per list: a step and signed integers).
KERNEL_BITS = 12


@dataclass(frozen=True)
class Lists:
    """Every title's candidate list: ``rows`` ``(n, N)`` int64 (row of each candidate, ``-1``
    padding) and ``values`` ``(n, N)`` float64 (the kernel values, dequantised as published),
    rows of ``vectors`` ``(n, d)`` (the dequantised published codes)."""

    rows: np.ndarray
    values: np.ndarray
    steps: np.ndarray
    codes: np.ndarray


def kernel_weights(gram: np.ndarray | None, mu: float, dim: int) -> np.ndarray:
    """The diagonal of ``D⁻¹`` ``(d,)``: ``1 / (g + μ)`` (implicit), ones (explicit: ``None``)."""
    if gram is None:
        return np.ones(dim)
    return 1.0 / (np.asarray(gram, dtype=np.float64) + float(mu))


def quantise_kernel(values: np.ndarray, bits: int = KERNEL_BITS) -> tuple[np.ndarray, np.ndarray]:
    """Per-row integers ``(n, N)`` int64 and steps ``(n,)``: ``values ≈ q * step[:, None]``,
    ``step`` the row's largest ``|value|`` over ``2^(bits−1) − 1`` (7 significant digits)."""
    from .publish import _round

    bound = (1 << (bits - 1)) - 1
    top = np.abs(values).max(axis=1) if values.size else np.zeros(len(values))
    steps = np.array([_round(t / bound) for t in top], dtype=np.float64)
    safe = np.where(steps > 0, steps, 1.0)
    return np.clip(np.rint(values / safe[:, None]), -bound, bound).astype(np.int64), steps


def candidate_lists(
    V: np.ndarray, weights: np.ndarray, n: int, *, bits: int = KERNEL_BITS, block: int = 1024
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``n`` largest kernel values ``k(c, j) = Σ_a V[c, a] weights[a] V[j, a]``
    (``c ≠ j``; ties to the lower row), quantised by :func:`quantise_kernel`.

    ``V`` ``(N_items, d)`` float64 in the published row order (most popular first). Returns
    ``rows`` ``(N_items, n)`` int64, ``q`` ``(N_items, n)`` int64 and ``steps`` ``(N_items,)``;
    computed in blocks of ``block`` rows (memory ``block × N_items``).
    """
    total = len(V)
    n = max(0, min(int(n), total - 1))
    rows = np.zeros((total, n), dtype=np.int64)
    vals = np.zeros((total, n), dtype=np.float64)
    W = V * weights[None, :]
    for a in range(0, total, block):
        K = W[a : a + block] @ V.T
        K[np.arange(K.shape[0]), np.arange(a, a + K.shape[0])] = -np.inf
        part = np.argpartition(-K, n - 1, axis=1)[:, :n] if n else np.zeros((K.shape[0], 0), dtype=np.int64)
        pv = np.take_along_axis(K, part, axis=1)
        order = np.lexsort((part, -pv), axis=1)  # by value, then the lower row
        rows[a : a + block] = np.take_along_axis(part, order, axis=1)
        vals[a : a + block] = np.take_along_axis(pv, order, axis=1)
    q, steps = quantise_kernel(vals, bits)
    return rows, q, steps


def build_titles(
    catalog,
    emb,
    *,
    reg: float,
    mode: str,
    build_date: str,
    candidates: int,
    alpha: float | None = None,
    schedule=None,
    kernel_reg: float | None = None,
    bits: int = 8,
    clip: float = CLIP,
) -> tuple[dict, dict[str, dict]]:
    """The version-5 document and the per-title files ``{id: document}``.

    Every direction is kept at ``bits`` bits (rotated onto principal directions in implicit
    mode, so ``fold_in.gram`` is the diagonal of ``YᵀY``); ``candidates`` titles per list;
    ``kernel_reg`` μ₀ of the published implicit kernel (``None``: ``reg``, the few-ratings λ).
    """
    from .publish import SCHEMA_NAME, _round, build_payload, published_vectors, work_groups

    base = build_payload(
        catalog, emb, reg=reg, mode=mode, build_date=build_date, alpha=alpha, schedule=schedule, top_n=None
    )
    order = np.argsort(catalog.tie_order, kind="stable")
    ids = [catalog.ids[k] for k in order]
    implicit = mode == "implicit"
    c = compact(published_vectors(emb)[order], dims=0, bits=bits, clip=clip, rotate=implicit)
    mu0 = float(reg if kernel_reg is None else kernel_reg)
    gram = [_round(g) for g in c.gram] if implicit else None
    V = c.vectors
    weights = kernel_weights(np.asarray(gram) if gram is not None else None, mu0, V.shape[1])
    rows, q, steps = candidate_lists(V, weights, candidates)
    doc = {k: base[k] for k in ("schema", "model", "build_date", "catalog_hash", "subset")}
    doc |= {
        "version": 5,
        "dim": V.shape[1],
        "count": len(ids),
        "fold_in": dict(base["fold_in"], gram=gram, kernel_reg=_round(mu0) if implicit else None),
        "items": {"scale": [float(s) for s in c.scale], "bits": c.bits},
        "titles": {"path": TITLE_PATH, "candidates": int(rows.shape[1])},
        "tags": None,
    }
    names = [catalog.items[k].title for k in order]
    groups = {m: g for g in work_groups(catalog, ids) for m in g}
    files: dict[str, dict] = {}
    for r, iid in enumerate(ids):
        near = rows[r]
        f: dict[str, Any] = {
            "schema": TITLE_SCHEMA,
            "version": 5,
            "catalog_hash": catalog.fingerprint,
            "id": iid,
            "title": names[r],
            "vector": base64.b64encode(c.codes[r].astype(np.int8).tobytes()).decode("ascii"),
            "near": {
                "ids": [ids[k] for k in near],
                "titles": [names[k] for k in near],
                "step": float(steps[r]),
                "k": [int(v) for v in q[r]],
            },
        }
        if iid in groups:
            f["works"] = [m for m in groups[iid] if m != iid]
        files[iid] = f
    assert doc["schema"] == SCHEMA_NAME
    return doc, files


def write_titles(out_dir: Path, doc: dict, files: Mapping[str, dict]) -> dict[str, int]:
    """Write the version-5 document under ``out_dir/data`` as the compact document and each
    title's file at :data:`TITLE_PATH`, each with a ``.gz`` twin. Returns ``{relative path:
    bytes}`` (the title files summed under one key). Everything is encoded before the first
    byte is written."""
    from .compact import DOC_NAME
    from .fsutil import atomic_write, gzip_bytes
    from .publish import dumps

    body = dumps(doc)
    parts = {f"data/{DOC_NAME}": body}
    parts |= {f"data/{TITLE_PATH.format(i)}": dumps(f) for i, f in sorted(files.items())}
    for rel in list(parts):
        parts[rel + ".gz"] = gzip_bytes(parts[rel])
    for rel, data in parts.items():
        atomic_write(Path(out_dir) / rel, data)
    sizes = {f"data/{DOC_NAME}": len(body), f"data/{DOC_NAME}.gz": len(parts[f"data/{DOC_NAME}.gz"])}
    sizes[f"data/{TITLE_PATH.format('*')}"] = sum(
        len(v) for k, v in parts.items() if k.startswith("data/taste/") and not k.endswith(".gz")
    )
    return sizes


# ---------- reading (mangarec.client) ----------


@dataclass(frozen=True)
class TitleRow:
    """One read title file: its id, name, vector ``(d,)``, candidate ids and kernel values
    ``(N,)`` float64, names of the candidates and the other formats of its work."""

    id: str
    title: str
    vector: np.ndarray
    near: tuple[str, ...]
    near_titles: tuple[str, ...]
    kernel: np.ndarray
    works: tuple[str, ...] = ()


def read_title(f: Mapping[str, Any], doc: Mapping[str, Any], scale: np.ndarray, bound: int) -> TitleRow:
    """A version-5 title file checked against its document (raises ``ValueError``)."""
    if f.get("schema") != TITLE_SCHEMA or f.get("version") != 5:
        raise ValueError(f"not a {TITLE_SCHEMA} version 5 document")
    if f.get("catalog_hash") != doc.get("catalog_hash"):
        raise ValueError(f"title file {f.get('id')!r} belongs to another catalog")
    q = np.frombuffer(base64.b64decode(f["vector"], validate=True), dtype=np.int8)
    if q.size != len(scale):
        raise ValueError(f"title {f['id']!r}: vector holds {q.size} codes, expected {len(scale)}")
    if q.size and int(np.abs(q.astype(np.int16)).max()) > bound:
        raise ValueError(f"title {f['id']!r}: a code exceeds ±{bound}")
    near = f["near"]
    ids, names, k = list(near["ids"]), list(near["titles"]), list(near["k"])
    if not (len(ids) == len(names) == len(k)):
        raise ValueError(f"title {f['id']!r}: near.ids, near.titles and near.k differ in length")
    kb = (1 << (KERNEL_BITS - 1)) - 1
    if any(isinstance(v, bool) or not isinstance(v, int) or abs(v) > kb for v in k):
        raise ValueError(f"title {f['id']!r}: near.k must hold integers within ±{kb}")
    step = float(near["step"])
    if not (np.isfinite(step) and step >= 0):
        raise ValueError(f"title {f['id']!r}: near.step must be finite and >= 0")
    return TitleRow(
        id=str(f["id"]),
        title=str(f["title"]),
        vector=q.astype(np.float64) * scale,
        near=tuple(str(i) for i in ids),
        near_titles=tuple(str(t) for t in names),
        kernel=np.asarray(k, dtype=np.float64) * step,
        works=tuple(str(m) for m in f.get("works") or ()),
    )


def weights_z(K: np.ndarray, gamma: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``z`` ``(m,)`` solving ``(I + Γ K) z = w`` (``K`` ``(m, m)``, ``Γ = diag(gamma)``), by
    Gaussian elimination with partial pivoting in float64 (``taste.js`` does the same)."""
    m = len(w)
    A = np.eye(m) + gamma[:, None] * K
    b = np.asarray(w, dtype=np.float64).copy()
    A = A.copy()
    for col in range(m):
        p = col + int(np.argmax(np.abs(A[col:, col])))
        if A[p, col] == 0:
            raise ValueError("the candidate system is singular")
        if p != col:
            A[[col, p]] = A[[p, col]]
            b[[col, p]] = b[[p, col]]
        for r in range(col + 1, m):
            f = A[r, col] / A[col, col]
            if f != 0.0:
                A[r, col:] -= f * A[col, col:]
                b[r] -= f * b[col]
    z = np.zeros(m)
    for r in range(m - 1, -1, -1):
        s = b[r]
        for k in range(r + 1, m):
            s -= A[r, k] * z[k]
        z[r] = s / A[r, r]
    return z


def scores(rows: Sequence[TitleRow], z: np.ndarray, scale: float, exclude: set[str]) -> dict[str, float]:
    """``{candidate id: score}`` over the union of the rated titles' lists (``rows[j]`` with
    weight ``z[j]``): ``Σ_j scale·z_j·k(c, j)``, summed in the order of ``rows``; ``exclude``d
    ids are left out."""
    acc: dict[str, float] = {}
    for r, zj in zip(rows, z):
        f = scale * float(zj)
        for cid, kv in zip(r.near, r.kernel.tolist()):
            acc[cid] = acc.get(cid, 0.0) + f * kv
    for cid in exclude:
        acc.pop(cid, None)
    return acc


def contributions(rows: Sequence[TitleRow], z: np.ndarray, scale: float, cid: str) -> dict[str, float]:
    """``{rated id: scale·z_j·k(cid, j)}`` for the rated titles whose list holds ``cid`` (they
    sum to its score)."""
    out = {}
    for r, zj in zip(rows, z):
        hit = [k for k, c in enumerate(r.near) if c == cid]
        if hit:
            out[r.id] = scale * float(zj) * float(r.kernel[hit[0]])
    return out

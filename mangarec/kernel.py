"""Embeddings version 6 (and 5): one small file per title, with its own code and its candidate list.

Version 4 (:mod:`mangarec.compact`) sends every recommendable title's vector up front; on
anime-recdb no cut of it reaches 100 KB within 0.98 of the visitor's P@10. The per-title form changes
what is sent instead of how hard it is squeezed: the fold-in's score of a title is a weighted
sum of an item–item kernel over the *rated* titles, so a visitor needs only the rated titles'
files, each carrying the titles with the largest kernel values beside it.

The algebra (``docs/embeddings-json.md``, "The per-title form"). In the published basis (principal
directions, :func:`mangarec.compact.compact`) ``YᵀY`` is diagonal, ``g``. Let ``U = Y_Sᵀ``
``(d, m)`` be the rated titles' vectors, ``w`` the right-hand-side weights and ``Γ`` the extra
confidences of the fold-in (:func:`mangarec.foldin.fold_in`):

- implicit: ``A = D + U Γ Uᵀ`` with ``D = diag(g) + μ I``, ``Γ = diag(c_j − 1)``;
- explicit: ``A = D + U Uᵀ`` with ``D = λ m I``, ``Γ = I``.

Then ``x = A⁻¹ U w = D⁻¹ U z`` with ``(I + Γ K_SS) z = w`` and ``K_SS = Uᵀ D⁻¹ U`` (``m × m``,
from the rated titles' own codes), and the score of a title ``c`` is

``s_c = y_cᵀ x = Σ_j z_j · k(c, j)``, ``k(c, j) = y_cᵀ D⁻¹ y_j``.

Each title's file lists ``N`` titles ``c`` with large ``k(c, j)``. Explicit mode publishes
``y_cᵀy_j`` (scaled by ``1 / (λ m)`` at read time: exact). In implicit mode ``μ`` moves with
the visitor's count of ratings (``fold_in.schedule``: 800 at 12 likes, 50 from 48 on, on
anime-recdb), so the file holds the kernel at each *anchor* ``μ_t`` (``fold_in.kernel_reg``:
the schedule's two ends) and a reader combines them, ``k_μ ≈ Σ_t β_t k_{μ_t}`` with ``β`` the
least-squares fit of ``1/(g_a + μ)`` by the ``1/(g_a + μ_t)`` over the directions ``a``
(:func:`anchor_weights`; exact at an anchor). The list is the candidates of every anchor's
top ``N``, interleaved. A reader scores the union of the rated titles' lists by
``Σ_j z_j k(c, j)``.

A title missing from list ``j`` is not at 0 there: version 6 publishes each list's *floor*
(per anchor, the largest kernel value of a title left out of the list) and a reader counts it
for every title the list leaves out. Version 5 counted 0, which favours the titles that appear
in many lists over those with one large value: on anime-recdb at 200 candidates version 5 gave
the 12-like visitor 0.929× the full file's P@10, version 6 1.004× (``bench_foryou.py``). The
codes are quantised with the column's largest value as the top code (:data:`CLIP`, no clipping):
the 99.9th-percentile steps of version 4 cost another 1.2 % of that P@10.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .compact import compact
from .taste_files import Written, write_parts

if TYPE_CHECKING:  # the builders import numba's search lazily: readers (the client) stay light
    from .taste_lists import ListState

TITLE_SCHEMA = "mangarec-embeddings-title"
#: The version the builder writes (readers read 5 too: no floor, a missing value counts 0).
VERSION = 6
#: The codes' top step is the column's largest ``|v|`` (nothing clipped; see the module docstring).
CLIP = 1.0
#: Where the per-title files are, relative to the compact document (``{}``: the title's id).
TITLE_PATH = "taste/{}.json"
#: Bits of a kernel value (per list: a step and signed integers).
KERNEL_BITS = 12


def kernel_weights(gram: np.ndarray | None, mu: float, dim: int) -> np.ndarray:
    """The diagonal of ``D⁻¹`` ``(d,)``: ``1 / (g + μ)`` (implicit), ones (explicit: ``None``)."""
    if gram is None:
        return np.ones(dim)
    return 1.0 / (np.asarray(gram, dtype=np.float64) + float(mu))


def kernel_anchors(reg: float, schedule, kernel_reg: float | None) -> list[float]:
    """The implicit kernel's anchors ``μ_t``: ``[kernel_reg]`` when given, else the fold-in's λ
    and (an active schedule with another value) its ``reg_many``."""
    if kernel_reg:
        return [float(kernel_reg)]
    out = [float(reg)]
    if schedule is not None and schedule.active and float(schedule.reg_many) != float(reg):
        out.append(float(schedule.reg_many))
    return out


def anchor_weights(gram: np.ndarray, anchors: Sequence[float], mu: float) -> np.ndarray:
    """``β`` ``(T,)``: least squares of ``1/(g_a + μ)`` on the ``1/(g_a + μ_t)`` over the
    directions ``a`` (normal equations, :func:`solve`); an anchor equal to ``μ`` gets 1, the
    others 0 (``taste.js`` computes the same)."""
    for t, a in enumerate(anchors):
        if a == mu:
            return np.eye(len(anchors))[t]
    F = 1.0 / (np.asarray(gram, dtype=np.float64)[:, None] + np.asarray(anchors, dtype=np.float64)[None, :])
    h = 1.0 / (np.asarray(gram, dtype=np.float64) + mu)
    return solve(F.T @ F, F.T @ h)


def quantise_kernel(values: np.ndarray, bits: int = KERNEL_BITS) -> tuple[np.ndarray, np.ndarray]:
    """Per-row integers ``(n, N)`` int64 and steps ``(n,)``: ``values ≈ q * step[:, None]``,
    ``step`` the row's largest ``|value|`` over ``2^(bits−1) − 1`` (7 significant digits).
    A row's floor is quantised with its values (the last column of ``values``)."""
    from .publish import _round

    bound = (1 << (bits - 1)) - 1
    top = np.abs(values).max(axis=1) if values.size else np.zeros(len(values))
    steps = np.array([_round(t / bound) for t in top], dtype=np.float64)
    safe = np.where(steps > 0, steps, 1.0)
    return np.clip(np.rint(values / safe[:, None]), -bound, bound).astype(np.int64), steps


def candidate_lists(
    V: np.ndarray, weights: Sequence[np.ndarray], n: int, *, bits: int = KERNEL_BITS, block: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``n`` candidates, their kernel values and the list's floor under each anchor.

    ``k_t(c, j) = Σ_a V[c, a] weights[t][a] V[j, a]`` (``c ≠ j``, summed as
    :mod:`mangarec.taste_lists` defines it: the same bits however the rows are computed); the
    candidates are every anchor's best (ties to the lower row) interleaved, first come first
    kept, cut at ``n``; the floor is the largest ``k_t(c, j)`` of a title ``c ≠ j`` left out (0
    when none is). ``V`` ``(N_items, d)`` float64 in the published row order (most popular
    first). Returns ``rows`` ``(N_items, n)`` int64, ``q`` ``(T, N_items, n)`` int64, ``steps``
    ``(T, N_items)`` (:func:`quantise_kernel` per anchor) and the floors' integers ``(T,
    N_items)`` on the same steps (:func:`lists_and_state` also keeps last night's lists).
    """
    return lists_and_state(V, weights, n, bits=bits, block=block)[0]


def lists_and_state(
    V: np.ndarray,
    weights: Sequence[np.ndarray],
    n: int,
    *,
    bits: int = KERNEL_BITS,
    block: int | None = None,
    last: ListState | None = None,
    frame: str = "",
    codes: np.ndarray | None = None,
    scale: np.ndarray | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ListState, int]:
    """:func:`candidate_lists`, the :class:`~mangarec.taste_lists.ListState` the next night starts
    from, and how many rows kept ``last``'s lists (``last`` of the same ``frame``; ``codes``
    ``(N_items, d)`` int8 and ``scale`` ``(d,)``: ``V = codes · scale``, kept for the next night,
    which ranks again the rows whose vector changed)."""
    from .taste_lists import ListState, lists_from_top, top_lists, update_lists

    V = np.asarray(V, dtype=np.float64)
    total, T = len(V), len(weights)
    n = max(0, min(int(n), total - 1))
    need = n + 1 if n < total - 1 else n
    w = [np.asarray(x, dtype=np.float64) for x in weights]
    codes = np.zeros((total, 0), dtype=np.int8) if codes is None else np.asarray(codes)
    if last is not None and block is None:
        idx, val, kept = update_lists(V, w, need, last, frame)
    else:
        (idx, val), kept = top_lists(V, w, need, block=block), 0
    rows, vals = lists_from_top(V, w, idx, val, n)
    q = np.zeros_like(vals, dtype=np.int64)
    steps = np.zeros((T, total))
    for t in range(T):
        q[t], steps[t] = quantise_kernel(vals[t], bits)
    scale = np.ones(codes.shape[1]) if scale is None else np.asarray(scale, dtype=np.float64)
    state = ListState(frame, codes, scale, idx.astype(np.int32), val)
    return (rows, q[:, :, :n], steps, q[:, :, n]), state, kept


@dataclass(frozen=True)
class Lists:
    """What every per-title version publishes, before its files are written: the document (its
    ``version`` still to set), the ids in row order (most popular first), the codes, and each
    row's candidates ``rows`` ``(n, N)``, kernel integers ``q`` ``(T, n, N)``, steps ``(T, n)``
    and floors ``(T, n)`` (:func:`candidate_lists`)."""

    doc: dict
    ids: list[str]
    compact: Any
    rows: np.ndarray
    q: np.ndarray
    steps: np.ndarray
    floors: np.ndarray
    #: What the next night starts from, and how many rows kept last night's lists.
    state: ListState | None = None
    kept: int = 0
    #: A digest of what the title files mean (:func:`mangarec.taste_lists.frame_of` of the rows'
    #: ids in order, the codes' steps, the kernel's weights, the counts, the mode and bits; no
    #: code): version 7's ``catalog_hash``, unchanged by a night that moves no row and no step.
    meaning: str = ""


def lists_of(
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
    last: ListState | None = None,
) -> Lists:
    """The candidate lists of :func:`build_titles` (version 6) and :func:`mangarec.lean.build_lean`
    (version 7): every direction kept at ``bits`` bits (rotated onto principal directions in
    implicit mode, so ``fold_in.gram`` is the diagonal of ``YᵀY``), ``candidates`` per list;
    ``last``: last night's state, whose lists are kept where they cannot have changed
    (:func:`mangarec.taste_lists.update_lists`)."""
    from .publish import _round, payload_head, published_vectors
    from .taste_lists import frame_of

    base = dict(payload_head(catalog, emb, reg=reg, mode=mode, build_date=build_date, alpha=alpha, schedule=schedule))
    base["subset"] = None
    order = np.argsort(catalog.tie_order, kind="stable")
    ids = [catalog.ids[k] for k in order]
    implicit = mode == "implicit"
    c = compact(published_vectors(emb)[order], dims=0, bits=bits, clip=clip, rotate=implicit)
    anchors = [_round(a) for a in kernel_anchors(reg, schedule, kernel_reg)] if implicit else [0.0]
    gram = [_round(g) for g in c.gram] if implicit else None
    V = c.vectors
    weights = [kernel_weights(np.asarray(gram) if gram is not None else None, a, V.shape[1]) for a in anchors]
    n = max(0, min(int(candidates), len(ids) - 1))
    need = n + 1 if n < len(ids) - 1 else n
    frame = frame_of(ids, weights, n, need)
    (rows, q, steps, floors), state, kept = lists_and_state(
        V, weights, n, last=last, frame=frame, codes=c.codes, scale=c.scale
    )
    doc = {k: base[k] for k in ("schema", "model", "build_date", "catalog_hash", "subset")}
    doc |= {
        "dim": V.shape[1],
        "count": len(ids),
        "fold_in": dict(base["fold_in"], gram=gram, kernel_reg=anchors if implicit else None),
        "items": {"scale": [float(s) for s in c.scale], "bits": c.bits},
        "titles": {"path": TITLE_PATH, "candidates": int(rows.shape[1])},
        "tags": None,
    }
    meaning = frame_of(ids, weights, n, need, c.scale, salt=f"{mode}|{c.bits}|{V.shape[1]}")
    return Lists(doc, ids, c, rows, q, steps, floors, state, kept, meaning)


def build_titles(catalog, emb, **kw: Any) -> tuple[dict, dict[str, dict]]:
    """The version-6 document and the per-title files ``{id: document}``.

    Every direction is kept at ``bits`` bits (rotated onto principal directions in implicit
    mode, so ``fold_in.gram`` is the diagonal of ``YᵀY``); ``candidates`` titles per list;
    ``kernel_reg`` the one anchor of the implicit kernel (``None``: :func:`kernel_anchors`).
    """
    from .publish import SCHEMA_NAME, work_groups

    L = lists_of(catalog, emb, **kw)
    doc, ids, c, rows, q, steps, floors = L.doc, L.ids, L.compact, L.rows, L.q, L.steps, L.floors
    doc["version"] = VERSION
    order = np.argsort(catalog.tie_order, kind="stable")
    names = [catalog.items[k].title for k in order]
    groups = {m: g for g in work_groups(catalog, ids) for m in g}
    files: dict[str, dict] = {}
    for r, iid in enumerate(ids):
        near = rows[r]
        f: dict[str, Any] = {
            "schema": TITLE_SCHEMA,
            "version": VERSION,
            "catalog_hash": catalog.fingerprint,
            "id": iid,
            "title": names[r],
            "vector": base64.b64encode(c.codes[r].astype(np.int8).tobytes()).decode("ascii"),
            "near": {
                "ids": [ids[k] for k in near],
                "titles": [names[k] for k in near],
                "step": [float(x) for x in steps[:, r]],
                "k": [[int(v) for v in qt[r]] for qt in q],
                "floor": [int(v) for v in floors[:, r]],
            },
        }
        if iid in groups:
            f["works"] = [m for m in groups[iid] if m != iid]
        files[iid] = f
    assert doc["schema"] == SCHEMA_NAME
    return doc, files


def write_titles(out_dir: Path, doc: dict, files: Mapping[str, dict]) -> Written:
    """Write the version-6 document and each title's file at :data:`TITLE_PATH`
    (:func:`mangarec.taste_files.write_parts`)."""
    return write_parts(out_dir, doc, {TITLE_PATH: files})


# ---------- reading (mangarec.client) ----------


@dataclass(frozen=True)
class TitleRow:
    """One read title file: its id, name, vector ``(d,)``, candidate ids and kernel values
    ``(T, N)`` float64 (one row per anchor), names of the candidates and the other formats of
    its work."""

    id: str
    title: str
    vector: np.ndarray
    near: tuple[Any, ...]
    near_titles: tuple[str, ...]
    kernel: np.ndarray
    works: tuple[Any, ...] = ()
    #: Version 6: the list's floor per anchor ``(T,)`` (what a title left out counts); version 5:
    #: ``None`` (it counts 0).
    floor: np.ndarray | None = None
    #: Version 7 (:mod:`mangarec.lean`): the title's row; ``near`` and ``works`` are rows too.
    row: int | None = None


def weights_z(K: np.ndarray, gamma: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``z`` ``(m,)`` solving ``(I + Γ K) z = w`` (``K`` ``(m, m)``, ``Γ = diag(gamma)``)."""
    return solve(np.eye(len(w)) + gamma[:, None] * K, w)


def solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``x`` solving ``A x = b`` (``A`` ``(m, m)``) by Gaussian elimination with partial
    pivoting in float64, step by step as ``taste.js`` does."""
    m = len(b)
    A = np.array(A, dtype=np.float64)
    b = np.array(b, dtype=np.float64)
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


def combined(row: TitleRow, beta: np.ndarray) -> np.ndarray:
    """A list's kernel values at the visitor's μ ``(N,)``: ``Σ_t β_t k_t``, summed in anchor
    order."""
    out = np.zeros(row.kernel.shape[1])
    for t in range(len(beta)):
        out = out + float(beta[t]) * row.kernel[t]
    return out


def floor_of(row: TitleRow, beta: np.ndarray) -> float:
    """What a title left out of the list counts at the visitor's μ: ``Σ_t β_t floor_t`` (0 in
    version 5)."""
    out = 0.0
    if row.floor is not None:
        for t in range(len(beta)):
            out = out + float(beta[t]) * float(row.floor[t])
    return out


def scores(
    rows: Sequence[TitleRow], z: np.ndarray, scale: float, exclude: set[Any], beta: np.ndarray
) -> dict[Any, float]:
    """``{candidate id: score}`` over the union of the rated titles' lists (``rows[j]`` with
    weight ``z[j]``): ``Σ_j scale·z_j·k(c, j)``, ``k`` the anchors combined by ``beta`` and a
    title left out of list ``j`` at its floor (:func:`floor_of`); computed as the floors' sum
    plus, per list, ``scale·z_j·(k − floor)``. ``exclude``d ids are left out. Keys come in tie
    order: the rated titles by id, each list in its order (value, then popularity), first
    appearance kept (:func:`ranked`)."""
    acc: dict[Any, float] = {}
    base = 0.0
    for j in sorted(range(len(rows)), key=lambda j: rows[j].id):
        f = scale * float(z[j])
        low = floor_of(rows[j], beta)
        base += f * low
        for cid, kv in zip(rows[j].near, combined(rows[j], beta).tolist()):
            acc[cid] = acc.get(cid, 0.0) + f * (kv - low)
    for cid in exclude:
        acc.pop(cid, None)
    return {cid: base + v for cid, v in acc.items()}


def ranked(got: dict[Any, float], n: int, by_key: bool = False) -> list[tuple[Any, float]]:
    """The ``n`` best of :func:`scores`: by score, ties to the earlier key (the more popular
    title among a list's equal values), or (``by_key``, version 7's rows) to the lower key."""
    items = list(got.items())
    pos = sorted(range(len(items)), key=lambda k: (-items[k][1], items[k][0] if by_key else k))
    return [items[k] for k in pos[:n]]


def contributions(
    rows: Sequence[TitleRow], z: np.ndarray, scale: float, beta: np.ndarray, cid: Any
) -> dict[str, float]:
    """``{rated id: scale·z_j·k(cid, j)}`` for the rated titles whose list holds ``cid``, and
    (version 6) ``scale·z_j·floor`` for the others (they sum to its score)."""
    out = {}
    for r, zj in zip(rows, z):
        hit = [k for k, c in enumerate(r.near) if c == cid]
        if hit:
            out[r.id] = scale * float(zj) * float(combined(r, beta)[hit[0]])
        elif r.floor is not None:
            out[r.id] = scale * float(zj) * floor_of(r, beta)
    return out

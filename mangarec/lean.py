"""Embeddings version 7: the per-title form of version 6 (:mod:`mangarec.kernel`) at a fraction
of its bytes, so that it can be every site's default.

A version-6 title file carried its candidates' ids and names (on the bundled catalog 2,194 B, half
of it names, 28 % ids): each title cost the site 2 KB more than version 4, over issue 18's
10 KB per title. Version 7 keeps the algebra, the lists and their floors, and changes the form
(``docs/embeddings-json.md``, "Version 7"):

- a candidate is its **row** (the title's place in the popularity order, most popular first),
  the rows sorted and written as LEB128 gaps in base64 (``near.rows``): 1–2 bytes each;
- the kernel values are 12-bit integers packed two in three bytes, base64 (``near.k``);
- a sparse code vector (a content profile's unit tag block) is written as (gap, code) pairs
  (``sparse``), a dense one as its int8 codes (``vector``), whichever is shorter;
- the ``catalog_hash`` is :data:`HASH_HEX` hex digits of a digest of what the files mean (the
  rows' ids in order, the codes' steps, the kernel's weights, the counts:
  :attr:`mangarec.kernel.Lists.meaning`), not of the whole catalog: it guards against mixing the
  files of two builds that mean different things (not against an attacker who controls the
  site), and a night that moves no row keeps the bytes of every file it does not change (linked
  from the previous site, :func:`mangarec.taste_files.write_parts`); the schema names are short
  (:data:`TITLE_SCHEMA`, :data:`NAMES_SCHEMA`);
- **no candidates' names**: a title file names only its own title (the rated titles are named
  as soon as their files arrive); a reader ranks rows, then fetches the ids and names of the picks
  it shows, in rank order, from **name blocks** ``taste/names/<b>.json``, :data:`BLOCK` rows
  each ``{"ids", "titles"}`` (For-you shows each pick as soon as it and those above it are
  named, never an id).

Ties rank the lower row first (the more popular title), as in versions 1–4.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .kernel import KERNEL_BITS, TITLE_PATH, Lists, TitleRow, lists_of
from .taste_files import Written, write_parts

VERSION = 7
#: The schemas of a version-7 title file and name block (short: each title's file carries it).
TITLE_SCHEMA = "mangarec-title"
NAMES_SCHEMA = "mangarec-names"
#: Where the name blocks are, relative to the document (``{}``: the block number).
NAMES_PATH = "taste/names/{}.json"
#: Rows per name block.
BLOCK = 32
#: Hex digits of the ``catalog_hash`` a version-7 file carries (48 bits: it tells two meanings apart).
HASH_HEX = 12
#: Most rows a version-7 document may hold (a row is below it).
MAX_ROWS = 1 << 28


# ---------- packing (taste.js unpacks the same) ----------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def varints(values: Iterable[int]) -> bytes:
    """LEB128 of each non-negative integer (7 bits a byte, low first)."""
    out = bytearray()
    for v in values:
        v = int(v)
        if v < 0:
            raise ValueError("varints are non-negative")
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
    return bytes(out)


def unvarints(data: bytes, limit: int = MAX_ROWS) -> list[int]:
    """The integers of :func:`varints` (raises ``ValueError`` on a truncated or oversized one)."""
    out, v, shift = [], 0, 0
    for byte in data:
        v |= (byte & 0x7F) << shift
        shift += 7
        if byte & 0x80:
            if shift > 28:
                raise ValueError("a varint is too long")
            continue
        if v >= limit:
            raise ValueError("a varint is out of range")
        out.append(v)
        v, shift = 0, 0
    if shift:
        raise ValueError("a varint is truncated")
    return out


def pack12(values: Sequence[int]) -> bytes:
    """Signed 12-bit integers, two in three bytes (``a`` low byte; ``a``'s high nibble and ``b``'s
    low nibble; ``b``'s high byte); an odd count is padded with 0."""
    v = [int(x) & 0xFFF for x in values] + ([0] if len(values) % 2 else [])
    out = bytearray()
    for a, b in zip(v[::2], v[1::2]):
        out += bytes((a & 0xFF, (a >> 8) | ((b & 0xF) << 4), b >> 4))
    return bytes(out)


def unpack12(data: bytes, count: int) -> list[int]:
    """The ``count`` integers of :func:`pack12` (raises ``ValueError`` on a wrong length)."""
    if len(data) != 3 * ((count + 1) // 2):
        raise ValueError(f"{len(data)} bytes do not hold {count} 12-bit values")
    out = []
    for i in range(0, len(data), 3):
        a = data[i] | ((data[i + 1] & 0xF) << 8)
        b = (data[i + 1] >> 4) | (data[i + 2] << 4)
        out += [a - 0x1000 if a & 0x800 else a, b - 0x1000 if b & 0x800 else b]
    return out[:count]


def code_fields(codes: np.ndarray) -> dict[str, str]:
    """A title's int8 codes ``(d,)`` as ``{"vector": dense}`` or ``{"sparse": (gap, code) pairs}``,
    whichever is shorter (a gap is the index minus the previous nonzero's, from −1; the rows of a
    matrix at once: :func:`code_rows`)."""
    return code_rows(np.asarray(codes, dtype=np.int8)[None, :])[0]


def codes_of(f: Mapping[str, Any], dim: int) -> np.ndarray:
    """The ``(dim,)`` int8 codes of a version-7 file's ``vector`` or ``sparse`` (exactly one)."""
    if ("vector" in f) == ("sparse" in f):
        raise ValueError("a title file holds either vector or sparse")
    if "vector" in f:
        return np.frombuffer(base64.b64decode(f["vector"], validate=True), dtype=np.int8)
    raw = base64.b64decode(f["sparse"], validate=True)
    out = np.zeros(dim, dtype=np.int8)
    at, k = -1, 0
    while k < len(raw):
        gap, shift = 0, 0
        while True:
            if k >= len(raw) or shift > 28:
                raise ValueError("sparse codes are truncated")
            byte = raw[k]
            k += 1
            gap |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        at += gap
        if gap < 1 or at >= dim or k >= len(raw):
            raise ValueError("sparse codes do not fit the dimension")
        out[at] = np.frombuffer(raw[k : k + 1], dtype=np.int8)[0]
        k += 1
    return out


# ---------- writing ----------


def leb128_rows(values: np.ndarray, counts: np.ndarray | None = None) -> list[bytes]:
    """:func:`varints` of each row of ``values`` ``(r, k)`` (non-negative, below 2**28), as one
    bytes object per row; ``counts`` ``(r,)``: only each row's first ``counts[r]`` values."""
    v = np.asarray(values, dtype=np.int64)
    r, k = v.shape
    if v.size and (v.min() < 0 or v.max() >= MAX_ROWS):
        raise ValueError("varints are non-negative and below 2**28")
    width = 1 + (v >= 1 << 7).astype(np.int64) + (v >= 1 << 14) + (v >= 1 << 21)
    if counts is not None:
        width[np.arange(k)[None, :] >= np.asarray(counts)[:, None]] = 0
    byte = np.stack([(v >> (7 * j)) & 0x7F | np.where(width > j + 1, 0x80, 0) for j in range(4)], axis=2)
    flat = byte[np.arange(4)[None, None, :] < width[:, :, None]].astype(np.uint8).tobytes()
    ends = np.cumsum(width.sum(axis=1))
    return [flat[a:b] for a, b in zip(np.concatenate([[0], ends[:-1]]).tolist(), ends.tolist())]


def pack12_rows(values: np.ndarray) -> bytes:
    """:func:`pack12` of each row of ``values`` ``(r, k)``, concatenated (``3 ⌈k / 2⌉`` bytes a row)."""
    v = np.asarray(values, dtype=np.int64) & 0xFFF
    if v.shape[1] % 2:
        v = np.concatenate([v, np.zeros((len(v), 1), dtype=np.int64)], axis=1)
    a, b = v[:, ::2], v[:, 1::2]
    out = np.stack([a & 0xFF, (a >> 8) | ((b & 0xF) << 4), b >> 4], axis=2)
    return out.astype(np.uint8).tobytes()


def code_rows(codes: np.ndarray) -> list[dict[str, str]]:
    """:func:`code_fields` of every row of ``codes`` ``(r, d)`` int8."""
    codes = np.asarray(codes, dtype=np.int8)
    r, d = codes.shape
    rr, cc = np.nonzero(codes)
    first = np.r_[True, rr[1:] != rr[:-1]] if rr.size else np.zeros(0, dtype=bool)
    gaps = np.where(first, cc + 1, np.diff(np.r_[-1, cc]))
    counts = np.bincount(rr, minlength=r)
    per_row = np.zeros((r, max(1, int(counts.max()) if r else 1)), dtype=np.int64)
    slot = np.arange(rr.size) - np.repeat(np.cumsum(counts) - counts, counts)
    per_row[rr, slot] = gaps
    heads = leb128_rows(per_row, counts)
    vals = codes[rr, cc].view(np.uint8).tobytes()
    starts = np.concatenate([[0], np.cumsum(counts)]).tolist()
    out = []
    for i in range(r):
        head, own = heads[i], vals[starts[i] : starts[i + 1]]
        if 4 * (-(-(len(head) + len(own)) // 3)) < 4 * (-(-d // 3)):
            pos, pairs = 0, bytearray()
            for c in own:  # each gap's LEB128 bytes, then its code
                while head[pos] & 0x80:
                    pairs.append(head[pos])
                    pos += 1
                pairs += bytes((head[pos], c))
                pos += 1
            out.append({"sparse": b64(bytes(pairs))})
        else:
            out.append({"vector": b64(codes[i].tobytes())})
    return out


def build_lean(catalog, emb, *, lists: Lists | None = None, **kw: Any) -> tuple[dict, dict[str, dict], dict[int, dict]]:
    """The version-7 document, the per-title files ``{id: document}`` and the name blocks
    ``{block: document}``; ``lists``: :func:`mangarec.kernel.lists_of` (``None``: computed here
    with ``kw``)."""
    from .publish import work_groups

    L = lists if lists is not None else lists_of(catalog, emb, **kw)
    ids, n = L.ids, len(L.ids)
    short = (L.meaning or catalog.fingerprint)[:HASH_HEX]
    doc = dict(L.doc, version=VERSION, catalog_hash=short)
    doc["titles"] = dict(doc["titles"], names=NAMES_PATH, block=BLOCK)
    row_of = {i: r for r, i in enumerate(ids)}
    order = np.argsort(catalog.tie_order, kind="stable")
    names = [catalog.items[k].title for k in order]
    groups = {m: g for g in work_groups(catalog, ids) for m in g}
    perm = np.argsort(L.rows, axis=1, kind="stable")
    near = np.take_along_axis(L.rows, perm, axis=1)
    gaps = np.diff(np.concatenate([np.full((n, 1), -1), near], axis=1), axis=1)
    rows_b64 = [b64(g) for g in leb128_rows(gaps)]
    ks = np.concatenate([np.take_along_axis(L.q[t], perm, axis=1) for t in range(len(L.q))], axis=1)
    width = 3 * (-(-ks.shape[1] // 2))
    packed = pack12_rows(ks)
    k_b64 = [b64(packed[r * width : (r + 1) * width]) for r in range(n)]
    steps = L.steps.T.tolist()
    floors = L.floors.T.tolist()
    codes = code_rows(L.compact.codes)
    files: dict[str, dict] = {}
    for r, iid in enumerate(ids):
        f: dict[str, Any] = {"schema": TITLE_SCHEMA, "version": VERSION, "catalog_hash": short, "id": iid, "row": r}
        f["title"] = names[r]
        f |= codes[r]
        if iid in groups:
            f["works"] = sorted(row_of[m] for m in groups[iid] if m != iid)
        f["near"] = {"rows": rows_b64[r], "step": steps[r], "k": k_b64[r], "floor": floors[r]}
        files[iid] = f
    blocks = {
        b: {
            "schema": NAMES_SCHEMA,
            "version": VERSION,
            "catalog_hash": short,
            "block": b,
            "ids": ids[b * BLOCK : (b + 1) * BLOCK],
            "titles": names[b * BLOCK : (b + 1) * BLOCK],
        }
        for b in range(-(-n // BLOCK))
    }
    return doc, files, blocks


def write_lean(
    out_dir: Path, doc: dict, files: Mapping[str, dict], blocks: Mapping[int, dict], previous: Path | None = None
) -> Written:
    """Write version 7 under ``out_dir/data``: the document (with a ``.gz`` twin), the title files
    and the name blocks, each unchanged file linked from ``previous`` (:func:`mangarec.taste_files.write_parts`)."""
    return write_parts(out_dir, doc, {TITLE_PATH: files, NAMES_PATH: blocks}, previous)


# ---------- reading ----------


def check_hash(f: Mapping[str, Any], doc: Mapping[str, Any], what: str) -> None:
    if f.get("catalog_hash") != doc.get("catalog_hash"):
        raise ValueError(f"{what} belongs to another catalog")


def read_lean_title(f: Mapping[str, Any], doc: Mapping[str, Any], scale: np.ndarray, bound: int) -> TitleRow:
    """A version-7 title file checked against its document (raises ``ValueError``)."""
    if f.get("schema") != TITLE_SCHEMA or f.get("version") != VERSION:
        raise ValueError(f"not a {TITLE_SCHEMA} version {VERSION} document")
    iid = f.get("id")
    check_hash(f, doc, f"title file {iid!r}")
    count, dim = int(doc["count"]), len(scale)
    row = f.get("row")
    if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < count:
        raise ValueError(f"title {iid!r}: row must be an integer below count")
    q = codes_of(f, dim)
    if q.size != dim:
        raise ValueError(f"title {iid!r}: vector holds {q.size} codes, expected {dim}")
    if q.size and int(np.abs(q.astype(np.int16)).max()) > bound:
        raise ValueError(f"title {iid!r}: a code exceeds ±{bound}")
    near = f["near"]
    gaps = unvarints(base64.b64decode(near["rows"], validate=True), count + 1)
    rows = np.cumsum(gaps) - 1 if gaps else np.zeros(0, dtype=np.int64)
    if gaps and (min(gaps) < 1 or int(rows[-1]) >= count):
        raise ValueError(f"title {iid!r}: near.rows must be increasing rows below count")
    T = len(doc["fold_in"].get("kernel_reg") or [0])
    ks = unpack12(base64.b64decode(near["k"], validate=True), T * len(rows))
    steps, floor = list(near["step"]), near["floor"]
    if not (len(steps) == T and isinstance(floor, list) and len(floor) == T):
        raise ValueError(f"title {iid!r}: near.step and near.floor need one value per anchor")
    kb = (1 << (KERNEL_BITS - 1)) - 1
    if any(isinstance(v, bool) or not isinstance(v, int) or abs(v) > kb for v in [*ks, *floor]):
        raise ValueError(f"title {iid!r}: near.k and near.floor must hold integers within ±{kb}")
    step = np.asarray(steps, dtype=np.float64)
    if not (np.isfinite(step).all() and (step >= 0).all()):
        raise ValueError(f"title {iid!r}: near.step must be finite and >= 0")
    works = f.get("works") or []
    if not all(isinstance(w, int) and not isinstance(w, bool) and 0 <= w < count for w in works):
        raise ValueError(f"title {iid!r}: works must list rows below count")
    if not isinstance(f.get("title"), str):
        raise ValueError(f"title {iid!r}: title must be a string")
    return TitleRow(
        id=str(iid),
        title=f["title"],
        vector=q.astype(np.float64) * scale,
        near=tuple(int(r) for r in rows),
        near_titles=(),
        kernel=np.asarray(ks, dtype=np.float64).reshape(T, len(rows)) * step[:, None],
        works=tuple(int(w) for w in works),
        floor=np.asarray(floor, dtype=np.float64) * step,
        row=int(row),
    )


def read_names(block: Mapping[str, Any], doc: Mapping[str, Any], b: int) -> dict[int, tuple[str, str]]:
    """A name block checked against its document: ``{row: (id, title)}`` (raises ``ValueError``)."""
    if block.get("schema") != NAMES_SCHEMA or block.get("version") != VERSION or block.get("block") != b:
        raise ValueError(f"name block {b} is not a {NAMES_SCHEMA} version {VERSION} document of block {b}")
    check_hash(block, doc, f"name block {b}")
    size = int(doc["titles"]["block"])
    ids, titles = block["ids"], block["titles"]
    first = b * size
    want = max(0, min(size, int(doc["count"]) - first))
    if not (isinstance(ids, list) and isinstance(titles, list) and len(ids) == len(titles) == want):
        raise ValueError(f"name block {b} must hold {want} ids and titles")
    return {first + k: (str(i), str(t)) for k, (i, t) in enumerate(zip(ids, titles))}

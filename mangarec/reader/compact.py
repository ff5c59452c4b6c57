"""Reading the compact form, embeddings version 4 (:mod:`mangarec.compact`): the codes of the
titles up front (base64 inline or the raw bytes of the file beside the document) and the shards
of the others, each checked against the document."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..compact import SHARD_SCHEMA, qmax, shard_of
from ..errors import InputError
from ..publish import dequantise
from .source import read_bytes, read_json, sibling

#: Most shards a version-4 document may name.
MAX_SHARDS = 100_000


def decode4(block: Mapping[str, Any], items: Mapping[str, Any], dim: int, codes: bytes | None = None) -> np.ndarray:
    """A version-4 block's vectors ``(n, dim)`` float64: int8 codes (base64 text, or the bytes of
    the file it names) within ``±(2^(bits−1) − 1)``, times ``items.scale``."""
    enc = block.get("encoding")
    if enc == "int8-base64":
        raw = base64.b64decode(block["vectors"], validate=True)
    elif enc == "int8-file" and block is items:
        if codes is None:
            raise ValueError(f"the codes file {block['vectors']!r} was not read")
        raw = codes
    else:
        raise ValueError(f"version 4 vectors are int8-base64 or (items) int8-file, not {enc!r}")
    bound = qmax(int(items["bits"]))
    q = np.frombuffer(raw, dtype=np.int8)
    n = len(block["ids"])
    if q.size != n * dim or len(items["scale"]) != dim:
        raise ValueError(f"vectors hold {q.size} values, expected {n}×{dim}")
    if q.size and int(np.abs(q.astype(np.int16)).max()) > bound:
        raise ValueError(f"a code exceeds ±{bound} ({items['bits']} bits)")
    return dequantise(q.reshape(n, dim), np.asarray(items["scale"], dtype=np.float64))


def shard_rows(
    doc: Mapping[str, Any], items: Mapping[str, Any], shards: Iterable[Mapping[str, Any]], dim: int, source: str
) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """The ids and vectors of the given shards of a version-4 document (checked against it)."""
    info = doc.get("shards")
    ids: list[str] = []
    out = []
    seen = set(items["ids"])
    for sh in shards:
        if info is None:
            raise ValueError("shards given for a document without shards")
        if sh.get("schema") != SHARD_SCHEMA or sh.get("version") != 4:
            raise ValueError(f"not a {SHARD_SCHEMA} version 4 document")
        if sh.get("catalog_hash") != doc.get("catalog_hash"):
            raise ValueError(f"shard {sh.get('shard')!r} belongs to another catalog")
        s = int(sh["shard"])
        if not 0 <= s < int(info["count"]) or any(shard_of(i, int(info["count"])) != s for i in sh["ids"]):
            raise ValueError(f"shard {s} holds titles of another shard")
        fresh = [i for i in sh["ids"] if i not in seen]
        if len(fresh) != len(sh["ids"]):
            raise ValueError(f"shard {s} repeats a title")
        seen.update(fresh)
        ids.extend(str(i) for i in fresh)
        out.append(decode4(sh, items, dim))
    return tuple(ids), out


def compact_parts(doc: Mapping[str, Any], path_or_url: str, shards: bool) -> tuple[list[Any], bytes | None]:
    """A version-4 document's shards (every one, unless ``shards`` is false) and the codes file
    its ``items.vectors`` names (``"int8-file"``), read beside it; ``([], None)`` for any other
    document."""
    parts = []
    v4 = isinstance(doc, Mapping) and doc.get("version") == 4
    info = doc.get("shards") if v4 else None
    codes = None
    items = doc.get("items") if v4 else None
    if isinstance(items, Mapping) and items.get("encoding") == "int8-file":
        name = items.get("vectors")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", name) or name.startswith("."):
            raise InputError("items.vectors must name a file beside the document", path_or_url)
        codes = read_bytes(sibling(path_or_url, name), binary=True)
    if shards and isinstance(info, Mapping):
        try:
            count, pattern = int(info["count"]), str(info["path"])
        except (KeyError, TypeError, ValueError):
            raise InputError("malformed shards block", path_or_url) from None
        if not 0 < count <= MAX_SHARDS or "{}" not in pattern or ".." in pattern or pattern.startswith("/"):
            raise InputError(f"shards.count must be 1..{MAX_SHARDS} and shards.path relative with {{}}", path_or_url)
        parts = [read_json(sibling(path_or_url, pattern.format(k))) for k in range(count)]
    return parts, codes

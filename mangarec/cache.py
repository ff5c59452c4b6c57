"""A content-addressed cache of stage artefacts.

A key is the SHA-256 of (stage name, the inputs' fingerprints, the parameters, the code
version). Arrays are stored as ``.npz`` next to a ``.json`` of the rest, written to a temporary
name and renamed, so an interrupted build never leaves a half-written entry. Nothing here is
ever sent anywhere: the cache is a local folder of the maintainer's.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import io
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from .fsutil import atomic_write
from .embedding import Embedding, Map, Neighbours

T = TypeVar("T")

_PKG = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 over the package's source files: any code change invalidates the cache.

    Computed once per process (the code a process runs cannot change under it).
    """
    h = hashlib.sha256()
    for p in sorted(_PKG.rglob("*.py")):
        h.update(p.relative_to(_PKG).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _canonical(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__type__": type(obj).__name__, **{k: _canonical(v) for k, v in dataclasses.asdict(obj).items()}}
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items())}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    return obj


def make_key(*parts: Any) -> str:
    """A hex key from JSON-able parts (dataclasses included)."""
    blob = json.dumps(_canonical(list(parts)), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _to_parts(value: Any) -> tuple[dict, dict[str, np.ndarray]]:
    """Split a result into (JSON meta, arrays)."""
    if isinstance(value, Embedding):
        arrays = {"vectors": value.vectors}
        if value.tag_vectors is not None:
            arrays["tag_vectors"] = value.tag_vectors
        return {"type": "Embedding", "model": value.model, "item_ids": list(value.item_ids),
                "tag_ids": list(value.tag_ids), "info": value.info}, arrays
    if isinstance(value, Neighbours):
        return {"type": "Neighbours", "model": value.model, "item_ids": list(value.item_ids),
                "method": value.method, "info": value.info}, {"indices": value.indices, "scores": value.scores}
    if isinstance(value, Map):
        arrays = {"xy": value.xy}
        if value.tag_xy is not None:
            arrays["tag_xy"] = value.tag_xy
        return {"type": "Map", "model": value.model, "item_ids": list(value.item_ids),
                "tag_ids": list(value.tag_ids), "info": value.info}, arrays
    return {"type": "json", "value": value}, {}


def _from_parts(meta: dict, arrays: dict[str, np.ndarray]) -> Any:
    kind = meta["type"]
    if kind == "Embedding":
        return Embedding(model=meta["model"], item_ids=tuple(meta["item_ids"]), vectors=arrays["vectors"],
                         tag_ids=tuple(meta["tag_ids"]), tag_vectors=arrays.get("tag_vectors"), info=meta["info"])
    if kind == "Neighbours":
        return Neighbours(model=meta["model"], item_ids=tuple(meta["item_ids"]), indices=arrays["indices"],
                          scores=arrays["scores"], method=meta["method"], info=meta["info"])
    if kind == "Map":
        return Map(model=meta["model"], item_ids=tuple(meta["item_ids"]), xy=arrays["xy"],
                   tag_ids=tuple(meta["tag_ids"]), tag_xy=arrays.get("tag_xy"), info=meta["info"])
    return meta["value"]


class Cache:
    """Artefacts by key in ``directory`` (``None``: a cache that stores nothing).

    ``hits`` and ``misses`` count lookups, so a build can report that an unchanged rebuild
    recomputed nothing.
    """

    def __init__(self, directory: Path | None):
        self.directory = Path(directory) if directory is not None else None
        self.hits = 0
        self.misses = 0
        #: ``{key: seconds}``: how long each artefact took to compute (stored with it).
        self.seconds: dict[str, float] = {}

    def _paths(self, key: str) -> tuple[Path, Path]:
        assert self.directory is not None
        d = self.directory / key[:2]
        return d / f"{key}.json", d / f"{key}.npz"

    def get(self, key: str) -> Any | None:
        if self.directory is None:
            return None
        meta_path, npz_path = self._paths(key)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            self.seconds[key] = float(meta.pop("seconds", 0.0))
            arrays: dict[str, np.ndarray] = {}
            if meta.pop("has_arrays", False):
                with np.load(npz_path, allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
            return _from_parts(meta, arrays)
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, value: Any, seconds: float = 0.0) -> None:
        self.seconds[key] = round(seconds, 3)
        if self.directory is None:
            return
        meta, arrays = _to_parts(value)
        meta["has_arrays"] = bool(arrays)
        meta["seconds"] = round(seconds, 3)
        meta_path, npz_path = self._paths(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        if arrays:
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            atomic_write(npz_path, buf.getvalue())
        atomic_write(meta_path, json.dumps(meta).encode())  # keeps dict order

    def get_or_compute(self, key: str, compute: Callable[[], T]) -> T:
        """The cached value for ``key``, or ``compute()`` stored under it."""
        value = self.get(key)
        if value is not None:
            self.hits += 1
            return value
        self.misses += 1
        t0 = time.perf_counter()
        value = compute()
        self.put(key, value, time.perf_counter() - t0)
        return value

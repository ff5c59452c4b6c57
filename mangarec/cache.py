"""A content-addressed cache of stage artefacts.

A stage's key is the SHA-256 of (its name, its inputs' keys, its own parameters, the digest of
the code it runs: :func:`module_digest`), so a change reaches exactly the stages downstream of
it. Arrays are stored as ``.npz`` next to a ``.json`` of the rest (holding the npz's SHA-256),
written to a temporary name and renamed, so an interrupted build never leaves a half-written
entry; an entry that is corrupt anyway (truncated, bit-flipped, edited) is a miss: recomputed,
rewritten, and noted. A cache that cannot be written (disk full, read-only) is noted and the
build goes on. Nothing here is ever sent anywhere: the cache is a local folder of the
maintainer's.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .embedding import Embedding, FitState, Map, Membership, Neighbours, WarmUpdate
from .foldin import Foldin
from .fsutil import atomic_write

T = TypeVar("T")

_PKG = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 over all of the package's source files (part of the output's up-to-date stamp).

    Computed once per process (the code a process runs cannot change under it). Stage keys use
    the finer :func:`module_digest`.
    """
    h = hashlib.sha256()
    for p in sorted(_PKG.rglob("*.py")):
        h.update(p.relative_to(_PKG).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _type_checking(node: ast.AST) -> bool:
    """Whether ``node`` is ``if TYPE_CHECKING:`` (or ``if typing.TYPE_CHECKING:``)."""
    if not isinstance(node, ast.If):
        return False
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST):
    """The import statements that run when the module is imported: at module level (under
    ``if``/``try``/``with`` too), not inside a function or class body's functions, and not
    under ``if TYPE_CHECKING:`` (whose ``else`` branch does run)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if _type_checking(child):
            assert isinstance(child, ast.If)
            for sub in child.orelse:
                yield from _import_nodes(ast.Module(body=[sub], type_ignores=[]))
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from _import_nodes(child)


def _targets(nodes, path: Path, module: str) -> set[str]:
    """The ``mangarec`` modules (and imported names) the import statements ``nodes`` of the
    source file ``path`` (the module ``module``) name."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "mangarec")
        else:
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "mangarec":
                continue
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
    return found


def _imports(path: Path, module: str) -> set[str]:
    """The ``mangarec`` modules a source file imports when it is imported (see :func:`_import_nodes`)."""
    return set(_parsed(path.read_bytes(), str(path), module)[0])


def lazy_imports(module: str) -> dict[str, set[str]]:
    """``{function: the mangarec modules and names it imports}`` for each function of ``module``
    whose body imports package code (a lazy import, which :func:`module_digest` does not follow)."""
    path = _source(module)
    if path is None:
        return {}
    return {fn: set(found) for fn, found in _parsed(path.read_bytes(), str(path), module)[1]}


@functools.lru_cache(maxsize=1024)
def _parsed(source: bytes, filename: str, module: str) -> tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]:
    """What :func:`_imports` and :func:`lazy_imports` read of a source file, parsed once per
    content (each stage's digest walks the modules its code imports: most are shared)."""
    path = Path(filename)
    tree = ast.parse(source, filename=filename)
    lazy: dict[str, set[str]] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nodes = [n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
            found = _targets(nodes, path, module)
            if found:
                lazy.setdefault(fn.name, set()).update(found)
    eager = frozenset(_targets(_import_nodes(tree), path, module))
    return eager, tuple((fn, frozenset(found)) for fn, found in lazy.items())


def _source(module: str) -> Path | None:
    if module.split(".")[0] != "mangarec":  # a model from outside (an entry point): its own file
        import importlib.util

        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
        origin = found.origin if found is not None else None
        return Path(origin) if origin and origin.endswith(".py") and Path(origin).is_file() else None
    parts = module.split(".")[1:]
    if not parts:
        return _PKG / "__init__.py"
    rel = Path(*parts)
    for cand in (_PKG / rel.with_suffix(".py"), _PKG / rel / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def module_sources(*modules: str) -> dict[str, bytes]:
    """``{module: source bytes}`` of ``modules`` and every package module they import when
    imported, transitively, parent packages included (a module without a source file: ``b""``);
    what :func:`module_digest` hashes. Each file is read and parsed once, however many of
    ``modules`` import it."""
    todo, seen = list(modules), {}
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        src = _source(m)
        if src is None:
            seen[m] = b""
            continue
        seen[m] = src.read_bytes()
        parts = m.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(_imports(src, m))
    return seen


@functools.cache
def module_digest(module: str) -> str:
    """SHA-256 over a module's source and that of every package module it imports, transitively.

    The import graph is read statically (``ast``), parent packages included, so a stage's key
    changes exactly when code it can run changes; editing the site writer does not recompute a
    model. Only the imports that run when a module is imported are followed: not those under
    ``if TYPE_CHECKING:`` (types only), nor a function's lazy imports (``config.load_config``
    reads input files through the loaders, which no model runs). So code a stage runs is
    imported at module level, or, where that would be an import cycle, named beside the stage's
    module in its key (the maps run ``neighbours.exact``: see ``pipeline``);
    ``tests/test_stage_keys.py`` fails on a lazy import of package code that a stage's key leaves out.
    """
    seen = module_sources(module)
    h = hashlib.sha256()
    for m in sorted(seen):
        h.update(m.encode() + b"\0" + seen[m] + b"\0")
    return h.hexdigest()


def code_digest(*modules: str) -> str:
    """SHA-256 over the :func:`module_digest` of each of ``modules``: the code of a stage whose
    module runs another through a lazy import (one that would be an import cycle at module level)."""
    return make_key(*(module_digest(m) for m in modules))


def tree_digest(*roots: Path) -> str:
    """SHA-256 over the relative names and bytes of every file under ``roots`` (sorted)."""
    h = hashlib.sha256()
    for root in roots:
        files = sorted(p for p in Path(root).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for p in files:
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
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
        sim_meta = None
        if value.similarity is not None:
            sim_meta, sim_arrays = value.similarity.parts("similarity.")
            arrays.update(sim_arrays)
        state = None
        if value.state is not None:
            state = {"meta": value.state.meta, "arrays": sorted(value.state.arrays)}
            arrays.update({f"state.{k}": v for k, v in value.state.arrays.items()})
        return {
            "type": "Embedding",
            "model": value.model,
            "item_ids": list(value.item_ids),
            "tag_ids": list(value.tag_ids),
            "info": value.info,
            "similarity": sim_meta,
            "foldin": value.foldin.to_dict(),
            "state": state,
            "membership": None if value.membership is None else dataclasses.asdict(value.membership),
            "warm": None if value.warm is None else dataclasses.asdict(value.warm),
        }, arrays
    if isinstance(value, Neighbours):
        return {
            "type": "Neighbours",
            "model": value.model,
            "item_ids": list(value.item_ids),
            "method": value.method,
            "info": value.info,
        }, {"indices": value.indices, "scores": value.scores}
    if isinstance(value, Map):
        arrays = {"xy": value.xy}
        if value.tag_xy is not None:
            arrays["tag_xy"] = value.tag_xy
        return {
            "type": "Map",
            "model": value.model,
            "item_ids": list(value.item_ids),
            "tag_ids": list(value.tag_ids),
            "info": value.info,
        }, arrays
    if isinstance(value, FitState):  # a state kept for the next night alone (e.g. the taste lists')
        return {"type": "FitState", "meta": dict(value.meta), "arrays": sorted(value.arrays)}, dict(value.arrays)
    return {"type": "json", "value": value}, {}


def _from_parts(meta: dict, arrays: dict[str, np.ndarray]) -> Any:
    kind = meta["type"]
    if kind == "Embedding":
        sim = None
        if meta.get("similarity") is not None:
            from .similarity import from_parts

            sim = from_parts(meta["similarity"], arrays, "similarity.")
        st = meta.get("state")
        state = None if st is None else FitState({k: arrays[f"state.{k}"] for k in st["arrays"]}, st["meta"])
        membership, warm = meta.get("membership"), meta.get("warm")
        return Embedding(
            model=meta["model"],
            item_ids=tuple(meta["item_ids"]),
            vectors=arrays["vectors"],
            tag_ids=tuple(meta["tag_ids"]),
            tag_vectors=arrays.get("tag_vectors"),
            info=meta["info"],
            similarity=sim,
            foldin=Foldin.from_dict(meta["foldin"]),
            state=state,
            membership=None if membership is None else Membership(**membership),
            warm=None if warm is None else WarmUpdate(**warm),
        )
    if kind == "Neighbours":
        return Neighbours(
            model=meta["model"],
            item_ids=tuple(meta["item_ids"]),
            indices=arrays["indices"],
            scores=arrays["scores"],
            method=meta["method"],
            info=meta["info"],
        )
    if kind == "Map":
        return Map(
            model=meta["model"],
            item_ids=tuple(meta["item_ids"]),
            xy=arrays["xy"],
            tag_ids=tuple(meta["tag_ids"]),
            tag_xy=arrays.get("tag_xy"),
            info=meta["info"],
        )
    if kind == "FitState":
        return FitState({k: arrays[k] for k in meta["arrays"]}, meta["meta"])
    return meta["value"]


class Cache:
    """Artefacts by key in ``directory`` (``None``: a cache that stores nothing).

    ``hits`` and ``misses`` count lookups, so a build can report that an unchanged rebuild
    recomputed nothing; ``notes`` says which entries were corrupt or could not be written.
    """

    def __init__(self, directory: Path | None):
        self.directory = Path(directory) if directory is not None else None
        self.hits = 0
        self.misses = 0
        #: ``{key: seconds}``: how long each artefact took to compute (stored with it).
        self.seconds: dict[str, float] = {}
        #: Problems met (corrupt entries, a cache that cannot be written), one sentence each.
        self.notes: list[str] = []
        self._writable = True

    def _paths(self, key: str) -> tuple[Path, Path]:
        assert self.directory is not None
        d = self.directory / key[:2]
        return d / f"{key}.json", d / f"{key}.npz"

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or ``None`` (absent, unreadable or corrupt: a miss)."""
        if self.directory is None:
            return None
        meta_path, npz_path = self._paths(key)
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or "type" not in meta:
                raise ValueError("not a cache entry")
            seconds = float(meta.pop("seconds", 0.0))
            arrays: dict[str, np.ndarray] = {}
            digest = meta.pop("npz_sha256", None)
            if meta.pop("has_arrays", False):
                raw = npz_path.read_bytes()
                if digest != hashlib.sha256(raw).hexdigest():
                    raise ValueError("array file does not match its checksum")
                with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
            value = _from_parts(meta, arrays)
        except Exception as e:  # any corruption is a miss: recompute and rewrite
            self.notes.append(f"cache entry {key[:12]} was corrupt ({type(e).__name__}): recomputed")
            return None
        self.seconds[key] = seconds
        return value

    def put(self, key: str, value: Any, seconds: float = 0.0) -> None:
        """Store ``value`` under ``key``; a cache that cannot be written is noted, not fatal."""
        self.seconds[key] = round(seconds, 3)
        if self.directory is None or not self._writable:
            return
        meta, arrays = _to_parts(value)
        meta["has_arrays"] = bool(arrays)
        meta["seconds"] = round(seconds, 3)
        meta_path, npz_path = self._paths(key)
        try:
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            if arrays:
                buf = io.BytesIO()
                np.savez(buf, **arrays)  # type: ignore[arg-type]
                raw = buf.getvalue()
                meta["npz_sha256"] = hashlib.sha256(raw).hexdigest()
                atomic_write(npz_path, raw)
            atomic_write(meta_path, json.dumps(meta).encode())  # keeps dict order
        except OSError as e:
            self._writable = False
            self.notes.append(
                f"cache {self.directory} cannot be written ({e.strerror}): this build's results are not cached"
            )

    def pointer(self, name: str) -> dict | None:
        """The small JSON record last stored under ``name`` by :meth:`set_pointer` (``None``:
        none, unreadable, or no directory): e.g. which map a model had last night."""
        if self.directory is None:
            return None
        try:
            value = json.loads((self.directory / "pointers" / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def set_pointer(self, name: str, value: dict) -> None:
        """Store ``value`` (JSON) under ``name``, atomically; a cache that cannot be written is noted."""
        if self.directory is None or not self._writable:
            return
        try:
            (self.directory / "pointers").mkdir(parents=True, exist_ok=True)
            atomic_write(self.directory / "pointers" / f"{name}.json", json.dumps(value, sort_keys=True).encode())
        except OSError as e:
            self._writable = False
            self.notes.append(
                f"cache {self.directory} cannot be written ({e.strerror}): this build's results are not cached"
            )

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

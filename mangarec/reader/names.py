"""Reading the name blocks of embeddings version 7 (:mod:`mangarec.lean`): which id and name a
ranked row has, fetched block by block as the picks need them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import InputError
from ..lean import NAMES_PATH, read_names
from .source import read_json, sibling


class NameTable:
    """The rows' ids and names of a version-7 document: the blocks given, and (with a
    ``source``, the document's path or URL) those read when a row of theirs is asked for."""

    def __init__(self, doc: Mapping[str, Any], source: str | None, blocks: Iterable[Mapping[str, Any]] = ()):
        self.doc, self.source = doc, source
        self.size = int(doc["titles"]["block"])
        path = doc["titles"].get("names", NAMES_PATH)
        if not isinstance(path, str) or "{}" not in path or ".." in path or path.startswith("/") or self.size < 1:
            raise ValueError("titles.names must be relative and hold {}, titles.block >= 1")
        self.path = path
        self.rows: dict[int, tuple[str, str]] = {}
        self.loaded: set[int] = set()
        for d in blocks:
            self._add(int(d.get("block", -1)), d)

    def _add(self, b: int, block: Mapping[str, Any]) -> None:
        if b in self.loaded:
            raise ValueError(f"name block {b} given twice")
        self.rows.update(read_names(block, self.doc, b))
        self.loaded.add(b)

    def lookup(self, rows: Iterable[int]) -> dict[int, tuple[str, str]]:
        """``{row: (id, title)}``, reading the blocks not held yet (an :class:`InputError` line
        when one cannot be read or is not this document's)."""
        rows = list(rows)
        for b in sorted({r // self.size for r in rows} - self.loaded):
            if self.source is None:
                raise InputError(f"name block {b} was not given", "embeddings JSON")
            where = sibling(self.source, self.path.format(b))
            try:
                self._add(b, read_json(where))
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"bad name block ({exc})", where) from None
        return {r: self.rows[r] for r in rows if r in self.rows}

    def row_of(self, item_id: str) -> int | None:
        """The row of ``item_id`` among the blocks held (``None``: not among them)."""
        for r, (i, _) in self.rows.items():
            if i == item_id:
                return r
        return None

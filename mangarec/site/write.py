"""Writing the output tree: UTF-8, ``\\n`` line ends, deterministic JSON, counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..fsutil import gzip_bytes
from .render import dumps


class Writer:
    """Writes files under ``out_dir`` and counts them.

    Attributes
    ----------
    pages:
        HTML files written.
    files:
        All files written (HTML, JSON, XML, text).
    bytes:
        Total bytes written.
    """

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.pages = 0
        self.files = 0
        self.bytes = 0
        self._dirs: set[Path] = set()

    def path(self, rel: str) -> Path:
        target = self.out_dir / rel
        parent = target.parent
        if parent not in self._dirs:
            parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(parent)
        return target

    def bytes_(self, rel: str, data: bytes, *, gz: bool = False) -> None:
        """Write ``data``; with ``gz`` also ``rel + ".gz"`` (mtime 0, so reproducible)."""
        with open(self.path(rel), "wb") as f:
            f.write(data)
        self.files += 1
        self.bytes += len(data)
        if rel.endswith(".html"):
            self.pages += 1
        if gz:
            self.bytes_(rel + ".gz", gzip_bytes(data))

    def text(self, rel: str, text: str) -> None:
        self.bytes_(rel, text.encode("utf-8"))

    def json(self, rel: str, obj: Any, *, gz: bool = False, sort_keys: bool = True) -> None:
        """Compact JSON (sorted keys unless ``sort_keys=False`` for dicts built in a fixed
        order); with ``gz`` also ``rel + ".gz"`` (mtime 0, so reproducible)."""
        self.bytes_(rel, dumps(obj, sort_keys).encode("utf-8"), gz=gz)

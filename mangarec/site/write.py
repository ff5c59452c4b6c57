"""Writing the output tree: UTF-8, ``\\n`` line ends, deterministic JSON, counted."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..fsutil import gzip_bytes
from .render import dumps


class Writer:
    """Writes files under ``out_dir`` and counts them.

    Every file is created exclusively (``"xb"``: a path written twice is an error, never an
    overwrite), so nothing is ever written into a file already there, such as a page hard-linked
    from the previous site (:meth:`link`, :mod:`.carry`).

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
        self._dirs: set[str] = set()

    def path(self, rel: str) -> str:
        """``out_dir / rel`` as a string, its folder created."""
        target = os.path.join(self.out_dir, rel)
        parent = os.path.dirname(target)
        if parent not in self._dirs:
            try:
                os.mkdir(parent)
            except FileExistsError:
                pass
            except FileNotFoundError:
                os.makedirs(parent, exist_ok=True)
            self._dirs.add(parent)
        return target

    def _count(self, rel: str, size: int) -> None:
        self.files += 1
        self.bytes += size
        if rel.endswith(".html"):
            self.pages += 1

    def bytes_(self, rel: str, data: bytes, *, gz: bool = False) -> None:
        """Write ``data``; with ``gz`` also ``rel + ".gz"`` (mtime 0, so reproducible)."""
        with open(self.path(rel), "xb") as f:
            f.write(data)
        self._count(rel, len(data))
        if gz:
            self.bytes_(rel + ".gz", gzip_bytes(data))

    def link(self, rel: str, source: str, data: bytes) -> None:
        """``rel`` as a hard link to ``source``, whose bytes are ``data`` (checked by the
        caller); written as a copy where no link can be made (another file system, or one
        without hard links)."""
        target = self.path(rel)
        try:
            os.link(source, target)
        except FileExistsError:
            raise
        except OSError:
            with open(target, "xb") as f:
                f.write(data)
        self._count(rel, len(data))

    def text(self, rel: str, text: str) -> None:
        self.bytes_(rel, text.encode("utf-8"))

    def json(self, rel: str, obj: Any, *, gz: bool = False, sort_keys: bool = True) -> None:
        """Compact JSON (sorted keys unless ``sort_keys=False`` for dicts built in a fixed
        order); with ``gz`` also ``rel + ".gz"`` (mtime 0, so reproducible)."""
        self.bytes_(rel, dumps(obj, sort_keys).encode("utf-8"), gz=gz)

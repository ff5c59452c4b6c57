"""Writing the per-title files of versions 6 and 7 (:mod:`mangarec.kernel`, :mod:`mangarec.lean`):
each created exclusively in the build's fresh staging directory, or hard-linked from the site
being replaced when its bytes come out the same (read there, never written into)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class Written(dict[str, int]):
    """``{relative path: bytes}`` of :func:`write_parts`, and how many files were ``linked`` from
    the previous site."""

    linked: int = 0


def write_parts(
    out_dir: Path, doc: dict, groups: Mapping[str, Mapping[Any, dict]], previous: Path | None = None
) -> Written:
    """Write a per-title document under ``out_dir/data`` as the compact document (with a ``.gz``
    twin) and each group's files at ``pattern.format(key)`` (``groups`` ``{pattern: {key:
    document}}``: the title files, version 7's name blocks; :func:`write_new`). Those files have
    no twin: a host compresses them on the fly like every other small file of the site (assets get
    a twin from 20 KB), and a twin would add a third to what each title costs the site. A file
    whose bytes are those of the same path in ``previous`` (the site being replaced) is a hard
    link to it, when the previous document has this one's ``catalog_hash`` (otherwise no file
    can be equal: none is read). Returns ``{relative path: bytes}``, each group summed under
    ``pattern.format('*')``. Everything is encoded before the first byte is written."""
    from .compact import DOC_NAME
    from .fsutil import atomic_write, gzip_bytes
    from .publish import dumps

    body = dumps(doc)
    parts = {f"data/{DOC_NAME}": body, f"data/{DOC_NAME}.gz": gzip_bytes(body)}
    encoded = {
        pattern: {f"data/{pattern.format(k)}": dumps(f) for k, f in sorted(files.items())}
        for pattern, files in groups.items()
    }
    if previous is not None and _hash_of(Path(previous) / f"data/{DOC_NAME}") != doc.get("catalog_hash"):
        previous = None
    out = Written({rel: len(data) for rel, data in parts.items()})
    for rel, data in parts.items():
        atomic_write(Path(out_dir) / rel, data)
    made: set[str] = set()
    for group in encoded.values():
        for rel, data in group.items():
            old = None if previous is None else os.path.join(previous, rel)
            out.linked += write_new(os.path.join(out_dir, rel), data, made, old)
    for pattern, group in encoded.items():
        out[f"data/{pattern.format('*')}"] = sum(len(v) for v in group.values())
    return out


def _hash_of(path: Path) -> str | None:
    """The ``catalog_hash`` of the document at ``path`` (``None``: none readable)."""
    import json

    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return doc.get("catalog_hash") if isinstance(doc, dict) else None


def write_new(path: str, data: bytes, made: set[str], previous: str | None = None) -> bool:
    """``data`` at ``path``, created exclusively (the build writes into a fresh staging
    directory: no temporary file and rename per title file), or a hard link to ``previous`` when
    that file holds exactly ``data`` (the previous site's: read, never written; ``True``). A file
    already at ``path`` is replaced atomically (:func:`mangarec.fsutil.atomic_write`), never
    written into. ``made``: folders known to exist."""
    from .fsutil import atomic_write

    parent = os.path.dirname(path)
    if parent not in made:
        os.makedirs(parent, exist_ok=True)
        made.add(parent)
    if previous is not None:
        try:  # never through a symbolic link: only a regular file of the previous site
            with os.fdopen(os.open(previous, os.O_RDONLY | os.O_NOFOLLOW), "rb") as old:
                same = old.read(len(data) + 1) == data
            if same:
                os.link(previous, path)
                return True
        except OSError:
            pass  # no previous file, a link, or no hard links here: written below
    try:
        f = open(path, "xb")
    except FileExistsError:
        atomic_write(path, data)
        return False
    with f:
        f.write(data)
    return False

"""Data specs (``PATH`` or ``FORMAT:PATH``) and format detection.

Detection looks at the extension (after a ``.gz`` / ``.xz`` / ``.bz2`` suffix) and the first
line, never at the whole file:

- a directory holding ``anime.csv[.gz]`` → ``mal`` (with ``ratings.csv[.gz]``, else
  ``history.csv[.gz]`` as implicit ratings); a directory of ``*.json`` pages → ``mangadex-v5``;
- ``.csv``: header ``anime_id,name,genre,...`` → ``mal``; a user column and an item column
  (see :mod:`.ratings`) → ``ratings``; ``id,title,kind,...`` → ``generic``;
- ``.jsonl`` / ``.json`` / ``.ndjson``: first object with ``is_r18`` and ``languages`` →
  ``mangadex-v3``; ``result`` + ``data``, or ``type: manga`` + ``attributes`` →
  ``mangadex-v5``; ``id``, ``title`` and ``kind`` → ``generic``.

Anything else is ambiguous: an error asks for ``FORMAT:PATH``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .inputs import exists, is_dir, list_directory, stat_input
from .io import base_suffix, first_data_line

_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(.+)$")


@dataclass(frozen=True)
class Spec:
    """A parsed data spec: ``format`` (None until detected) and ``path``."""

    format: str | None
    path: Path
    text: str


def parse_spec(spec: str | os.PathLike) -> Spec:
    """Split ``FORMAT:PATH``; a plain path (even one containing ``:``, if it exists) has no format."""
    spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec:
        raise InputError(f"a data spec must be a non-empty path, got {spec!r}")
    m = _PREFIX.match(spec)
    if m and not exists(spec) and len(m.group(1)) > 1:
        from .formats import FORMATS

        fmt = m.group(1).lower()
        if fmt not in FORMATS:
            raise InputError(f"unknown format {m.group(1)!r} (known: {', '.join(FORMATS)})", spec)
        return Spec(fmt, Path(m.group(2)), spec)
    return Spec(None, Path(spec), spec)


def _ambiguous(path: Path, why: str) -> InputError:
    from .formats import FORMATS

    return InputError(
        f"cannot detect the format ({why}); give it as FORMAT:PATH with FORMAT one of "
        f"{', '.join(f for f in FORMATS if f != 'history')}",
        str(path),
    )


def detect_format(path: Path) -> str:
    """The format of ``path`` (see the module docstring), or an InputError asking for FORMAT:PATH.

    The sniffers of :data:`~.formats.FORMATS` are asked in table order.
    """
    from .formats import FORMATS

    path = Path(path)
    stat_input(path)
    if is_dir(path):
        entries = list_directory(path)
        for f in FORMATS.values():
            if f.sniff_dir is not None and f.sniff_dir(path, entries):
                return f.name
        raise _ambiguous(path, "a directory with neither anime.csv nor *.json pages")
    ext = base_suffix(path)
    found = first_data_line(path)
    if found is None:
        raise InputError("empty file (only blank lines, or nothing once decompressed)", str(path))
    n, line = found
    if ext in (".csv", ".tsv", ".txt") or (
        ext not in (".json", ".jsonl", ".ndjson") and not line.lstrip().startswith("{")
    ):
        header = [h.strip() for h in line.split(",")]
        for f in FORMATS.values():
            if f.sniff_csv is not None and f.sniff_csv(header):
                return f.name
        raise _ambiguous(path, f"unrecognised CSV header {line[:80]!r}")
    try:
        first = json.loads(line)
    except (ValueError, RecursionError):  # let the loader report where the JSON breaks (or that it is truncated)
        for f in FORMATS.values():
            if f.sniff_text is not None and f.sniff_text(line):
                return f.name
        raise InputError("invalid JSON on the first line; cannot detect the format", str(path), n) from None
    if not isinstance(first, dict):
        raise _ambiguous(path, "the first line is not a JSON object")
    for f in FORMATS.values():
        if f.sniff_json is not None and f.sniff_json(first):
            return f.name
    raise _ambiguous(path, f"unrecognised keys {', '.join(sorted(first)[:8])}")

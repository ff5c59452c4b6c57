"""Helpers shared by the loader tests (writers of bad files, an InputError matcher)."""
from __future__ import annotations

import bz2
import gzip
import json
import lzma
import re
from pathlib import Path

from mangarec.errors import InputError


def write(path: Path, text: str | bytes, compression: str | None = None) -> Path:
    """Write ``text`` to ``path``, compressed with gzip / xz / bz2 if asked."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if compression == "gzip":
        data = gzip.compress(data, mtime=0)
    elif compression == "xz":
        data = lzma.compress(data)
    elif compression == "bz2":
        data = bz2.compress(data)
    path.write_bytes(data)
    return path


def jsonl(records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def v3_record(id=1, title="A Title", **kw) -> dict:
    rec = {
        "id": id, "title": title, "url": f"https://mangadex.org/manga/{id}",
        "description": "Plain description.", "is_r18": False, "rating": 8.0,
        "demographic": ["Shounen"], "content": [], "format": [], "genre": ["Action"], "theme": [],
        "languages": ["gb", "fr"], "related": [], "external": {"mal": "1"},
        "last_updated": "March 18, 2021 05:42:31 UTC", "matches": [],
    }
    rec.update(kw)
    return rec


def assert_input_error(exc: InputError, *, file: Path | str | None = None, line: int | None = None,
                       match: str | None = None) -> str:
    """Check an InputError is one line, names the file (and line) and matches ``match``."""
    msg = str(exc)
    assert "\n" not in msg and "Traceback" not in msg
    if file is not None:
        assert str(file) in msg, msg
        assert exc.source is not None and str(file) in exc.source
    if line is not None:
        assert exc.line == line, msg
        assert f":{line}: " in msg, msg
    if match is not None:
        assert re.search(match, msg), msg
    return msg

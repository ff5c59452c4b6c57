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
        "id": id,
        "title": title,
        "url": f"https://mangadex.org/manga/{id}",
        "description": "Plain description.",
        "is_r18": False,
        "rating": 8.0,
        "demographic": ["Shounen"],
        "content": [],
        "format": [],
        "genre": ["Action"],
        "theme": [],
        "languages": ["gb", "fr"],
        "related": [],
        "external": {"mal": "1"},
        "last_updated": "March 18, 2021 05:42:31 UTC",
        "matches": [],
    }
    rec.update(kw)
    return rec


def assert_input_error(
    exc: InputError, *, file: Path | str | None = None, line: int | None = None, match: str | None = None
) -> str:
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


def run_isolated(fn, *, timeout: float = 10.0, unprivileged: bool = False) -> dict:
    """Run ``fn()`` in a forked child and report how it ended, so that a call that blocks (a
    FIFO opened for reading) fails the test instead of hanging the suite.

    With ``unprivileged`` and when the tests run as root, the child drops to user and group
    ``nobody`` first, so that permission bits (a mode-000 file) apply as they do to a user.

    Returns ``{"kind": "ok", "value": repr}``, ``{"kind": "input_error", "message", "source",
    "line"}``, ``{"kind": "crash", "error": repr}`` or ``{"kind": "hang"}``.
    """
    import os
    import select
    import signal

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(r)
            if unprivileged and os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            try:
                out = {"kind": "ok", "value": repr(fn())[:500]}
            except InputError as e:
                out = {"kind": "input_error", "message": str(e), "source": e.source, "line": e.line}
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                out = {"kind": "crash", "error": f"{type(e).__name__}: {e}"[:500]}
            os.write(w, json.dumps(out).encode())
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], timeout)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            return {"kind": "hang"}
        data = b""
        while chunk := os.read(r, 65536):
            data += chunk
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    return json.loads(data) if data else {"kind": "crash", "error": "child died"}


def expect_isolated_error(fn, *, match: str, file=None, line=None, unprivileged: bool = False) -> str:
    """:func:`run_isolated` must end in a one-line InputError matching ``match``."""
    out = run_isolated(fn, unprivileged=unprivileged)
    assert out["kind"] == "input_error", out
    msg = out["message"]
    assert "\n" not in msg and re.search(match, msg), msg
    if file is not None:
        assert out["source"] is not None and str(file) in out["source"], out
    if line is not None:
        assert out["line"] == line, out
    return msg

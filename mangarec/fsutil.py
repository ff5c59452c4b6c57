"""Writing files so that a reader never sees half of one, with deterministic compression."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Modes for published files and folders: what ``open()`` and ``mkdir()`` would give
#: (``tempfile`` makes private 0600/0700 entries, which a web server could not read).
FILE_MODE = 0o666 & ~_umask()
DIR_MODE = 0o777 & ~_umask()


def atomic_write(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    An interruption leaves either the old file or the new one, never a partial file, and no
    temporary file behind. ``fsync`` flushes to disk first (for resumable downloads).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def hash_file(h: hashlib._Hash, path: str | os.PathLike) -> None:
    """Feed the bytes of ``path`` to the hash object ``h``, 1 MiB at a time."""
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)


def gzip_bytes(data: bytes, level: int = 9) -> bytes:
    """gzip with ``mtime = 0`` and no file name: equal inputs give equal bytes."""
    return gzip.compress(data, compresslevel=level, mtime=0)

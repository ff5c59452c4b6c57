"""Open data files whatever their compression, and stream their lines.

Compression is detected from the first bytes of the file (magic numbers), never from its name:
gzip (``1f 8b``), xz (``fd 37 7a 58 5a 00``), bzip2 (``42 5a 68``); anything else is read as
plain text. Every read goes through :func:`iter_lines`, which turns decompression, truncation
and encoding errors into a one-line :class:`~mangarec.errors.InputError` naming the file and
the line reached, so a loader never shows a traceback for a broken file.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import queue
import threading
import zlib
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError
from .inputs import open_input

#: (magic bytes, compression name), checked in order.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bz2"),
)

#: File name suffixes of compressed files (stripped before looking at the real extension).
COMPRESSED_SUFFIXES: tuple[str, ...] = (".gz", ".xz", ".bz2")

_DECODE_ERRORS = (EOFError, lzma.LZMAError, zlib.error, gzip.BadGzipFile, OSError)


def sniff_bytes(head: bytes) -> str | None:
    """The compression whose magic ``head`` starts with (:data:`MAGIC`), or None."""
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    return None


def _sniff(f: BinaryIO) -> str | None:
    head = f.read(8)
    f.seek(0)
    return sniff_bytes(head)


def compression_of(path: Path) -> str | None:
    """The compression of ``path`` from its first bytes: ``"gzip"``, ``"xz"``, ``"bz2"`` or None.

    The file is opened by :func:`~.inputs.open_input` (a FIFO, a directory, an empty or
    unreadable file is an InputError, never a wait).
    """
    with open_input(path) as f:
        return _sniff(f)


def base_suffix(path: Path) -> str:
    """The extension of ``path`` once a compression suffix is removed (``a.csv.gz`` → ``.csv``)."""
    name = Path(path).name.lower()
    for s in COMPRESSED_SUFFIXES:
        if name.endswith(s):
            name = name[: -len(s)]
            break
    return Path(name).suffix


@contextmanager
def open_binary(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for reading bytes, decompressing on the fly (streaming).

    The file is opened once, safely (:func:`~.inputs.open_input`); the decompressor reads from
    that handle.
    """
    raw = open_input(path)
    try:
        kind = _sniff(raw)
        if kind == "gzip":
            f: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        elif kind == "xz":
            f = lzma.LZMAFile(raw, "rb")  # type: ignore[assignment]
        elif kind == "bz2":
            f = bz2.BZ2File(raw, "rb")  # type: ignore[assignment]
        else:
            f = raw
        try:
            yield f
        finally:
            f.close()
    finally:
        raw.close()


def _stream_error(path: Path, kind: str | None, line: int | None, exc: BaseException) -> InputError:
    label = {"gzip": "gzip", "xz": "xz", "bz2": "bzip2"}.get(kind or "", "")
    if isinstance(exc, UnicodeDecodeError):
        return InputError(f"not valid UTF-8 text ({exc.reason})", str(path), line)
    if label:  # decompression works in blocks: the line is where the good data ends
        after = f" (after line {line - 1})" if line and line > 1 else ""
        return InputError(f"corrupt or truncated {label} stream{after}", str(path))
    return InputError(f"cannot read: {exc}", str(path), line)


def iter_lines(path: Path) -> Generator[tuple[int, bytes], None, None]:
    """Yield ``(line number, line bytes)`` of a (possibly compressed) file, streaming.

    Line numbers are 1-based; each line keeps its trailing ``b"\\n"`` if it had one, so a
    caller can tell an incomplete last line (a truncated file) from a complete one.

    Raises
    ------
    InputError
        "file:line: corrupt or truncated xz stream" (or gzip / bzip2) when decompression fails,
        "not valid UTF-8 text" is left to the caller (bytes are returned undecoded); a line
        longer than :data:`MAX_LINE_BYTES`; the refusals of :func:`~.inputs.open_input`.
    """
    path = Path(path)
    kind = compression_of(path)
    chunks = _read_chunks(path) if kind is None else _read_chunks_threaded(path)
    n = 0
    try:
        for lines in chunks:
            for line in lines:
                n += 1
                yield n, line
    except _LineTooLong as e:
        raise InputError(
            f"line longer than {MAX_LINE_BYTES} bytes (not a line-based text file?)", str(path), n + 1 + e.index
        ) from None
    except _DECODE_ERRORS as e:
        raise _stream_error(path, kind, n + 1, e) from None
    finally:
        chunks.close()  # stops the reader thread now, not when garbage is collected


_CHUNK = 1 << 20

#: The longest line a data file may have (a MangaDex v5 response of 100 manga is ~0.5 MB).
MAX_LINE_BYTES = 64 << 20


class _LineTooLong(Exception):
    """Raised by the chunk readers: the line ``index`` lines after the last chunk yielded is
    too long; :func:`iter_lines` turns it into a line number."""

    def __init__(self, index: int = 0):
        super().__init__(index)
        self.index = index


def _read_chunks(path: Path, max_line: int | None = None) -> Generator[list[bytes], None, None]:
    """Lists of complete lines, about ``_CHUNK`` bytes at a time; no line longer than ``max_line``."""
    limit = MAX_LINE_BYTES if max_line is None else max_line
    with open_binary(path) as f:
        pending: list[bytes] = []  # the start of a line that has not ended yet
        pending_len = 0
        while True:
            block = f.read(_CHUNK)
            if not block:
                if pending:
                    yield [b"".join(pending)]
                return
            end = block.rfind(b"\n") + 1
            if end == 0:
                pending.append(block)
                pending_len += len(block)
                if pending_len > limit:
                    raise _LineTooLong()
                continue
            head = block[:end]
            if pending:
                head = b"".join(pending) + head
                pending, pending_len = [], 0
            lines = io.BytesIO(head).readlines()
            if len(head) > limit:
                too_long = next((k for k, ln in enumerate(lines) if len(ln) > limit), None)
                if too_long is not None:
                    raise _LineTooLong(too_long)
            if end < len(block):
                pending, pending_len = [block[end:]], len(block) - end
            yield lines


def _read_chunks_threaded(path: Path) -> Generator[list[bytes], None, None]:
    """:func:`_read_chunks` with decompression in a background thread.

    zlib, lzma and bz2 release the GIL while decompressing, so on two cores parsing overlaps
    decompression. The queue is bounded (a few MiB in flight), so memory stays small; an
    exception in the thread is re-raised here; closing the generator stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for lines in _read_chunks(path):
                while not stop.is_set():
                    try:
                        q.put(lines, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as e:  # handed to the consumer
            q.put(e)

    t = threading.Thread(target=work, name=f"read:{path.name}", daemon=True)
    t.start()
    try:
        while True:
            x = q.get()
            if x is done:
                return
            if isinstance(x, BaseException):
                raise x
            yield x
    finally:
        stop.set()
        t.join(timeout=5)


def iter_text_lines(path: Path) -> Generator[tuple[int, str], None, None]:
    """Like :func:`iter_lines` but decoded as UTF-8 (a BOM on the first line is dropped)."""
    path = Path(path)
    with closing(iter_lines(path)) as lines:
        for n, raw in lines:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _stream_error(path, None, n, e) from None
            if n == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield n, text


def first_line(path: Path, max_bytes: int = 1 << 20) -> str:
    """The first line of ``path`` (decompressed, decoded, without its newline), for detection."""
    found = _first_lines(path, max_bytes, skip_blank=False)
    return found[1] if found else ""


def first_data_line(path: Path, max_bytes: int = 1 << 20) -> tuple[int, str] | None:
    """``(line number, text)`` of the first non-blank line in the first ``max_bytes`` bytes of
    ``path`` (decompressed, decoded, without its newline), or None if there is none."""
    return _first_lines(path, max_bytes, skip_blank=True)


def _first_lines(path: Path, max_bytes: int, *, skip_blank: bool) -> tuple[int, str] | None:
    path = Path(path)
    kind = compression_of(path)
    n = 0
    budget = max_bytes
    with open_binary(path) as f:
        while budget > 0:
            try:
                raw = f.readline(budget)
            except _DECODE_ERRORS as e:
                raise _stream_error(path, kind, n + 1, e) from None
            if not raw:
                return None
            n += 1
            budget -= len(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                # a line cut at max_bytes may end inside a character
                text = raw[: e.start].decode("utf-8", errors="strict") if e.start > 0 else ""
                if not text:
                    raise _stream_error(path, None, n, e) from None
            if n == 1:
                text = text.lstrip("\ufeff")
            text = text.rstrip("\r\n")
            if text.strip() or not skip_blank:
                return n, text
    return None


def count_lines(path: Path) -> int:
    """The number of lines in a (possibly compressed) file, streaming."""
    return sum(1 for _ in iter_lines(path))

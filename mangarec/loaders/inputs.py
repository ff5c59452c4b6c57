"""Open input paths safely: check first, never block, one-line errors.

Every file the build reads (catalogs, ratings, MangaDex pages, the configuration) is opened
through :func:`open_input`, every data directory is listed through :func:`list_directory`:

- the path is ``stat``-ed before it is opened: a missing path, a parent that cannot be
  searched, a directory where a file is expected, a named pipe (FIFO), a socket or a device is
  refused with an :class:`~mangarec.errors.InputError` **before** anything is read, so a FIFO
  given as ``--data`` or ``--config`` cannot make the build wait forever;
- the file is then opened with ``O_NONBLOCK`` (a FIFO swapped in after the check opens at once
  instead of waiting for a writer) and checked again on the open descriptor;
- permission problems (a mode-000 file or directory), an empty file, a file larger than the
  caller's bound and text that is not UTF-8 are one-line errors naming the path (and the line
  of the first undecodable byte).

Messages name the path as the error's ``source``; ``what`` words them ("config file not
found", "empty config file"), ``error`` picks the exception class (e.g.
:class:`~mangarec.errors.ConfigError`).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError

__all__ = [
    "MAX_TEXT_BYTES",
    "stat_input",
    "check_file",
    "check_directory",
    "list_directory",
    "open_input",
    "read_input_bytes",
    "read_input_text",
    "exists",
    "is_dir",
    "is_regular_file",
    "find_file",
]

#: Default bound of :func:`read_input_text` (a configuration file is a few kilobytes).
MAX_TEXT_BYTES = 1 << 20

_O_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)

PathLike = str | os.PathLike[str]


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"  # pragma: no cover - door files and the like


def _os_error(e: OSError, path: PathLike, what: str, error: type[InputError], *, listing: bool = False) -> InputError:
    src = os.fspath(path)
    code = e.errno
    if code == errno.ENOENT:
        return error(f"{what} not found", src)
    if code in (errno.EACCES, errno.EPERM):
        action = "list this directory" if listing else f"read this {what}"
        return error(f"permission denied: cannot {action} (or search a directory above it)", src)
    if code == errno.ENOTDIR:
        return error(f"{what} not found (a part of the path is not a directory)", src)
    if code == errno.EISDIR:
        return error(f"is a directory, expected a {what}", src)
    if code == errno.ELOOP:
        return error("too many levels of symbolic links", src)
    if code == errno.ENAMETOOLONG:
        return error("file name too long", src)
    return error(f"cannot open: {e.strerror or e}", src)


def stat_input(path: PathLike, *, what: str = "file", error: type[InputError] = InputError) -> os.stat_result:
    """``os.stat(path)`` (following symbolic links) with every failure as a one-line error."""
    try:
        return os.stat(path)
    except OSError as e:
        raise _os_error(e, path, what, error) from None
    except ValueError:  # an embedded NUL byte
        raise error("invalid path (it contains a NUL character)", repr(os.fspath(path))) from None


def exists(path: PathLike) -> bool:
    """True if ``path`` can be stat-ed; never raises (unlike ``Path.exists`` on EACCES)."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def is_dir(path: PathLike) -> bool:
    """True if ``path`` is a directory (following links); never raises."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def is_regular_file(path: PathLike) -> bool:
    """True if ``path`` is a regular file (following links); never raises, never opens it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def check_file(
    path: PathLike, *, what: str = "file", error: type[InputError] = InputError, allow_empty: bool = False
) -> os.stat_result:
    """Check that ``path`` is a regular, non-empty file, without opening it.

    Raises
    ------
    InputError
        Not found, permission denied on a parent, "is a directory / a named pipe (FIFO) / a
        socket / a device, expected a file", or (unless ``allow_empty``) "empty file".
    """
    st = stat_input(path, what=what, error=error)
    kind = _kind(st.st_mode)
    if kind is not None:
        raise error(f"is {kind}, expected a {what}", os.fspath(path))
    if st.st_size == 0 and not allow_empty:
        raise error(f"empty {what}", os.fspath(path))
    return st


def check_directory(path: PathLike, *, what: str = "directory", error: type[InputError] = InputError) -> Path:
    """Check that ``path`` is a directory this process can list and enter; return it as a Path."""
    st = stat_input(path, what=what, error=error)
    if not stat.S_ISDIR(st.st_mode):
        kind = _kind(st.st_mode) or "a file"
        raise error(f"is {kind}, expected a {what}", os.fspath(path))
    try:
        with os.scandir(os.fspath(path)):
            pass
        os.stat(os.path.join(path, "."))  # needs search (x) permission, as reading entries does
    except OSError as e:
        raise _os_error(e, path, what, error, listing=True) from None
    return Path(path)


def list_directory(path: PathLike, *, what: str = "directory", error: type[InputError] = InputError) -> list[Path]:
    """The entries of directory ``path`` (sorted by name), after :func:`check_directory`."""
    check_directory(path, what=what, error=error)
    try:
        with os.scandir(os.fspath(path)) as it:
            names = sorted(e.name for e in it)
    except OSError as e:
        raise _os_error(e, path, what, error, listing=True) from None
    return [Path(path) / n for n in names]


def open_input(
    path: PathLike, *, what: str = "file", error: type[InputError] = InputError, allow_empty: bool = False
) -> BinaryIO:
    """Open a regular file for reading bytes, refusing anything that could block or mislead.

    Parameters
    ----------
    path:
        The file.
    what:
        How messages name it ("file", "config file", "ratings file" ...).
    error:
        The exception class raised (an :class:`InputError` subclass).
    allow_empty:
        Accept a file of 0 bytes (else "empty file").

    Returns
    -------
    BinaryIO
        A buffered binary reader (the caller closes it).

    Raises
    ------
    InputError
        See :func:`check_file`; also "permission denied" for a file that cannot be read.
    """
    check_file(path, what=what, error=error, allow_empty=allow_empty)
    try:
        fd = os.open(path, _O_FLAGS)
    except OSError as e:
        raise _os_error(e, path, what, error) from None
    try:
        st = os.fstat(fd)
        kind = _kind(st.st_mode)
        if kind is not None:  # replaced between the check and the open
            raise error(f"is {kind}, expected a {what}", os.fspath(path))
        if st.st_size == 0 and not allow_empty:
            raise error(f"empty {what}", os.fspath(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_input_bytes(
    path: PathLike,
    *,
    max_bytes: int,
    what: str = "file",
    error: type[InputError] = InputError,
    allow_empty: bool = False,
) -> bytes:
    """The whole content of a small input file, at most ``max_bytes`` bytes (else an error)."""
    with open_input(path, what=what, error=error, allow_empty=allow_empty) as f:
        try:
            data = f.read(max_bytes + 1)
        except OSError as e:
            raise error(f"cannot read: {e.strerror or e}", os.fspath(path)) from None
    if len(data) > max_bytes:
        raise error(f"{what} too large: more than {max_bytes} bytes", os.fspath(path))
    return data


def read_input_text(
    path: PathLike,
    *,
    what: str = "file",
    error: type[InputError] = InputError,
    max_bytes: int = MAX_TEXT_BYTES,
    allow_empty: bool = False,
) -> str:
    """A small UTF-8 text file (a byte-order mark is dropped), safely opened and bounded.

    This is what the configuration loader and the CLI use for ``--config``::

        text = read_input_text(path, what="config file", error=ConfigError, allow_empty=True)

    Raises
    ------
    InputError
        The errors of :func:`open_input`, "config file too large: more than 1048576 bytes", and
        "not valid UTF-8 text (invalid start byte)" naming the line of the first bad byte.
    """
    data = read_input_bytes(path, max_bytes=max_bytes, what=what, error=error, allow_empty=allow_empty)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise error(f"not valid UTF-8 text ({e.reason})", os.fspath(path), line) from None
    return text[1:] if text.startswith("\ufeff") else text


def find_file(directory: Path, stem: str) -> Path | None:
    """``directory/stem`` or its ``.gz`` / ``.xz`` / ``.bz2`` variant, if one exists.

    Anything by that name counts (a FIFO or a directory called ``anime.csv`` is returned, and
    refused with a precise error when it is opened). ``directory`` must have been checked by
    :func:`check_directory` (so a missing entry is really missing).
    """
    for suffix in ("", ".gz", ".xz", ".bz2"):
        p = Path(directory) / f"{stem}{suffix}"
        if exists(p):
            return p
    return None

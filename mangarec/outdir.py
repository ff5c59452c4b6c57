"""The output directory: refuse anything but a previous build, stage beside it, swap atomically.

Rules (never delete or overwrite what the build did not create):

* ``--out`` must be a new path, an empty directory, or a previous build: a directory whose
  ``.mangarec-stamp`` lists exactly the files in it. Anything else (a file, a folder of the
  user's, a previous build with files added by hand) is refused before any work is done.
* ``--out`` may not be, or contain, the project, the current directory, the home directory or
  a data input.
* The new site is written into a staging directory beside ``--out`` (created first, so a
  read-only parent is found at once) and swapped in with one atomic ``renameat2(...,
  RENAME_EXCHANGE)``: at every instant the old or the new site is in place. Where the file
  system cannot exchange, two renames are used and a crash between them is repaired by the next
  build (the old site, left under its hidden name, is put back).
* Staging directories of builds that were killed are removed by the next build (only those
  holding this module's marker file and whose process is gone).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .fsutil import DIR_MODE

STAMP = ".mangarec-stamp"
MARKER = ".mangarec-staging"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@dataclass(frozen=True)
class Stamp:
    """What ``.mangarec-stamp`` records: the build key and the files the build wrote."""

    key: str
    manifest: str
    files: int

    def dumps(self) -> str:
        return json.dumps({"key": self.key, "manifest": self.manifest, "files": self.files}, sort_keys=True) + "\n"


def _listing(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            p = name if rel == "." else f"{rel}/{name}"
            if p != STAMP:
                out.append(p)
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):
                out.append((name if rel == "." else f"{rel}/{name}") + "/")
    return sorted(out)


def manifest(root: Path) -> tuple[str, int]:
    """SHA-256 of the sorted relative file names under ``root`` (the stamp excluded), and their count."""
    files = _listing(root)
    return hashlib.sha256("\n".join(files).encode("utf-8", "surrogateescape")).hexdigest(), len(files)


def read_stamp(out: Path) -> Stamp | None:
    """The stamp of a previous build in ``out`` (``None`` if there is none or it is unreadable)."""
    try:
        data = json.loads((out / STAMP).read_text(encoding="utf-8"))
        return Stamp(str(data["key"]), str(data["manifest"]), int(data["files"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _inside(a: Path, b: Path) -> bool:
    """``a`` is ``b`` or contains ``b``."""
    return a == b or a in b.parents


def check(out: Path, protected: Iterable[tuple[str, Path]] = ()) -> Path:
    """Refuse an unsafe ``--out`` (see the module docstring); return it resolved.

    Parameters
    ----------
    protected:
        ``(what, path)`` pairs ``out`` may not be or contain (project, cwd, home, inputs).

    Raises
    ------
    InputError
        One line naming ``--out`` and the reason; nothing is touched.
    """
    given = str(out)
    try:
        resolved = Path(os.path.abspath(out)).resolve()
    except (OSError, RuntimeError) as e:
        raise InputError(f"cannot use this path: {e}", f"--out {given}") from None
    if resolved == Path(resolved.anchor):
        raise InputError("is the file-system root: refusing to replace it", f"--out {given}")
    for what, p in protected:
        try:
            rp = Path(os.path.abspath(p)).resolve()
        except (OSError, RuntimeError):
            continue
        if _inside(resolved, rp):
            rel = "is" if resolved == rp else "contains"
            raise InputError(f"{rel} {what} ({rp}): choose a folder of its own for the site", f"--out {given}")
    parent = resolved.parent
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{parent} is a file, not a directory", f"--out {given}")
    if resolved.is_symlink() or (resolved.exists() and not resolved.is_dir()):
        raise InputError("is a file, not a directory: refusing to replace it", f"--out {given}")
    if resolved.is_dir():
        try:
            entries = os.listdir(resolved)
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror}", f"--out {given}") from None
        if entries:
            stamp = read_stamp(resolved)
            if stamp is None:
                raise InputError(
                    "is not empty and holds no previous build (no .mangarec-stamp): refusing to "
                    "replace it; choose an empty or new folder",
                    f"--out {given}",
                )
            digest, _ = manifest(resolved)
            if digest != stamp.manifest:
                raise InputError(
                    "holds files the build did not write (added or removed since the last build): "
                    "refusing to replace them; move them away or choose another folder",
                    f"--out {given}",
                )
    return resolved


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _staging_pid(p: Path) -> int | None:
    try:
        return int((p / MARKER).read_text().strip())
    except (OSError, ValueError):
        return None


def recover(out: Path) -> list[str]:
    """Repair what killed builds left beside ``out``; returns one note per repair."""
    notes: list[str] = []
    parent = out.parent
    if not parent.is_dir():
        return notes
    for p in sorted(parent.glob(f".{out.name}.tmp-*")):
        pid = _staging_pid(p)
        if p.is_dir() and not p.is_symlink() and pid is not None and not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)
            notes.append(f"removed {p.name}, left by a build that was stopped")
    for p in sorted(parent.glob(f".{out.name}.old-*")):
        if not (p.is_dir() and read_stamp(p) is not None):
            continue
        if not out.exists():
            os.rename(p, out)
            notes.append(f"put back the previous site from {p.name} (a build stopped while swapping)")
        else:
            shutil.rmtree(p, ignore_errors=True)
            notes.append(f"removed {p.name}, the previous site of an interrupted swap")
    return notes


def stage(out: Path) -> Path:
    """A new, empty staging directory beside ``out`` (readable by a web server), marked as ours.

    Raises
    ------
    InputError
        When the parent cannot be created or written (found before any model is fitted).
    """
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        (tmp / MARKER).write_text(f"{os.getpid()}\n")
        os.chmod(tmp, DIR_MODE)  # mkdtemp's 0700 would hide the published site from a web server
    except OSError as e:
        raise InputError(f"cannot write the site beside it: {e.strerror}", f"--out {out}") from None
    return tmp


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); ``False`` where it is not supported."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    libc = ctypes.CDLL(name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    r = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if r == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_in(tmp: Path, out: Path, key: str) -> None:
    """Stamp ``tmp`` and put it at ``out``; the previous site (if any) is removed after the swap."""
    (tmp / MARKER).unlink(missing_ok=True)
    digest, count = manifest(tmp)
    (tmp / STAMP).write_text(Stamp(key, digest, count).dumps())
    if not out.exists():
        os.rename(tmp, out)
        return
    if _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous site
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def discard(tmp: Path) -> None:
    """Remove a staging directory after a failed build."""
    shutil.rmtree(tmp, ignore_errors=True)

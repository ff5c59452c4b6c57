"""Atomic writes and deterministic gzip."""

from __future__ import annotations

import gzip
import os
import stat

import pytest

from mangarec.fsutil import FILE_MODE, atomic_write, gzip_bytes


def test_atomic_write_creates_a_readable_file(tmp_path):
    p = tmp_path / "sub" / "f.json"
    atomic_write(p, b"abc")
    assert p.read_bytes() == b"abc"
    assert stat.S_IMODE(os.stat(p).st_mode) == FILE_MODE
    assert FILE_MODE & 0o400  # at least the owner reads it; with the usual umask 022, everyone
    assert [q.name for q in p.parent.iterdir()] == ["f.json"]


def test_interrupted_write_leaves_old_file_and_no_temp(tmp_path):
    p = tmp_path / "f"
    atomic_write(p, b"old")

    with pytest.raises(TypeError):
        atomic_write(p, object())  # type: ignore[arg-type]
    assert p.read_bytes() == b"old"
    assert [q.name for q in tmp_path.iterdir()] == ["f"]


def test_gzip_bytes_is_deterministic_and_round_trips():
    a = gzip_bytes(b"x" * 1000)
    assert a == gzip_bytes(b"x" * 1000)
    assert a[4:8] == b"\0\0\0\0"  # mtime 0
    assert gzip.decompress(a) == b"x" * 1000

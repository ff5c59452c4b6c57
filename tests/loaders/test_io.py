"""mangarec.loaders.io: compression by magic bytes, streaming lines, broken streams."""

from __future__ import annotations

import gzip
import lzma

import pytest
from _loader_helpers import write

from mangarec.loaders.io import base_suffix, compression_of, count_lines, first_line, iter_lines, iter_text_lines

TEXT = "".join(f"line {k} é\n" for k in range(1, 2001))


@pytest.mark.parametrize("compression", [None, "gzip", "xz", "bz2"])
def test_reads_every_compression_by_magic_bytes(tmp_path, compression):
    # a misleading name: detection must not trust the extension
    p = write(tmp_path / "data.txt", TEXT, compression)
    assert compression_of(p) == compression
    lines = list(iter_text_lines(p))
    assert len(lines) == 2000
    assert lines[0] == (1, "line 1 é\n") and lines[-1] == (2000, "line 2000 é\n")
    assert count_lines(p) == 2000
    assert first_line(p) == "line 1 é"


def test_last_line_without_newline_is_kept_as_is(tmp_path):
    p = write(tmp_path / "a.txt", "a\nb", "xz")
    assert [raw for _, raw in iter_lines(p)] == [b"a\n", b"b"]


def test_base_suffix_strips_compression():
    assert base_suffix("x/anime.csv.gz") == ".csv"
    assert base_suffix("manga.jsonl.xz") == ".jsonl"
    assert base_suffix("a.JSONL") == ".jsonl"


def test_truncated_xz_is_a_one_line_error(tmp_path, expect_error):
    data = lzma.compress(TEXT.encode() * 20)
    p = tmp_path / "cut.jsonl.xz"
    p.write_bytes(data[: len(data) // 2])
    msg = expect_error(lambda: list(iter_lines(p)), file=p, match="corrupt or truncated xz stream")
    assert msg.startswith(f"{p}:")


def test_corrupt_gzip_is_a_one_line_error(tmp_path, expect_error):
    data = bytearray(gzip.compress(TEXT.encode() * 20, mtime=0))
    for k in range(40, 80):
        data[k] ^= 0x5A
    p = tmp_path / "bad.csv.gz"
    p.write_bytes(bytes(data))
    expect_error(lambda: list(iter_lines(p)), file=p, match="corrupt or truncated gzip stream")


def test_truncated_gzip_and_bz2(tmp_path, expect_error):
    for comp, label in (("gzip", "gzip"), ("bz2", "bzip2")):
        p = write(tmp_path / f"x.{comp}", TEXT * 5, comp)
        p.write_bytes(p.read_bytes()[:-30])
        expect_error(lambda p=p: list(iter_lines(p)), file=p, match=f"corrupt or truncated {label} stream")


def test_missing_file_and_directory(tmp_path, expect_error):
    expect_error(lambda: list(iter_lines(tmp_path / "nope.csv")), file=tmp_path / "nope.csv", match="file not found")
    expect_error(lambda: list(iter_lines(tmp_path)), file=tmp_path, match="directory")


def test_invalid_utf8_names_the_line(tmp_path, expect_error):
    p = write(tmp_path / "b.txt", b"ok\nbad \xff\xfe\n")
    expect_error(lambda: list(iter_text_lines(p)), file=p, line=2, match="UTF-8")


def test_stopping_early_stops_the_reader_thread(tmp_path):
    import threading

    p = write(tmp_path / "big.xz", TEXT * 20, "xz")
    before = threading.active_count()
    it = iter_lines(p)
    next(it)
    it.close()
    assert threading.active_count() == before

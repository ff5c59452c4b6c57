"""mangarec.loaders.inputs: FIFOs, sockets, devices, directories, mode-000 paths, empty files,
undecodable bytes; and every loader going through it (issue 8, items 7, 13, 20)."""

from __future__ import annotations

import gzip
import json
import os
import socket

import pytest
from _loader_helpers import expect_isolated_error, jsonl, run_isolated, v3_record, write

from mangarec.config import Config
from mangarec.errors import ConfigError
from mangarec.loaders import inputs, load_catalog
from mangarec.loaders import io as io_mod
from mangarec.loaders.detect import parse_spec
from mangarec.loaders.inputs import check_directory, list_directory, open_input, read_input_text

MAL = "anime_id,name,genre,type,episodes,rating,members\n1,One,Action,TV,1,7.0,10\n"


def fifo(path):
    os.mkfifo(path)
    return path


# -- item 7: a FIFO never blocks -----------------------------------------------------------------


@pytest.mark.parametrize("spec", ["{p}", "generic:{p}", "mangadex-v3:{p}", "mal:{p}"])
def test_fifo_as_data_is_refused_without_blocking(tmp_path, spec):
    p = fifo(tmp_path / "catalog.jsonl")
    expect_isolated_error(
        lambda: load_catalog([spec.format(p=p)]), file=p, match=r"is a named pipe \(FIFO\), expected a file"
    )


def test_fifo_as_config_is_refused_without_blocking(tmp_path):
    p = fifo(tmp_path / "site.toml")
    msg = expect_isolated_error(
        lambda: read_input_text(p, what="config file", error=ConfigError),
        file=p,
        match=r"is a named pipe \(FIFO\), expected a config file",
    )
    assert msg == f"{p}: is a named pipe (FIFO), expected a config file"


def test_fifo_inside_data_directories(tmp_path):
    mal = tmp_path / "mal"
    mal.mkdir()
    fifo(mal / "anime.csv")
    expect_isolated_error(lambda: load_catalog([str(mal)]), file=mal / "anime.csv", match="named pipe")
    v5 = tmp_path / "v5"
    v5.mkdir()
    fifo(v5 / "page-000-00000.json")
    expect_isolated_error(
        lambda: load_catalog([f"mangadex-v5:{v5}"]), file=v5 / "page-000-00000.json", match="named pipe"
    )
    anime = write(tmp_path / "anime.csv", MAL)
    ratings = fifo(tmp_path / "ratings.csv")
    expect_isolated_error(lambda: load_catalog([str(anime), f"ratings:{ratings}"]), file=ratings, match="named pipe")


def test_fifo_swapped_in_after_the_check_does_not_block(tmp_path, monkeypatch):
    """The open itself uses O_NONBLOCK and re-checks the descriptor (a race with the stat)."""
    p = fifo(tmp_path / "late.jsonl")
    monkeypatch.setattr(inputs, "check_file", lambda *a, **k: None)
    expect_isolated_error(lambda: open_input(p), file=p, match="named pipe")


def test_socket_and_device(tmp_path):
    path = tmp_path / "s.jsonl"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(path))
        expect_isolated_error(lambda: load_catalog([str(path)]), file=path, match="is a socket, expected a file")
    finally:
        s.close()
    expect_isolated_error(
        lambda: load_catalog(["generic:/dev/zero"]), file="/dev/zero", match="is a character device, expected a file"
    )
    expect_isolated_error(lambda: read_input_text("/dev/zero"), match="character device")


# -- item 13: directories, mode 000 ---------------------------------------------------------------


def test_directory_where_a_file_is_expected(tmp_path, expect_error):
    d = tmp_path / "site.toml"
    d.mkdir()
    msg = expect_error(
        lambda: read_input_text(d, what="config file", error=ConfigError),
        file=d,
        match="is a directory, expected a config file",
    )
    assert msg == f"{d}: is a directory, expected a config file"
    with pytest.raises(ConfigError):
        read_input_text(d, what="config file", error=ConfigError)
    expect_error(lambda: load_catalog([f"generic:{d}"]), file=d, match="is a directory")
    expect_error(lambda: check_directory(write(tmp_path / "f.txt", "x")), match="is a file, expected a directory")


def test_mode_000_file(open_tmp):
    p = write(open_tmp / "anime.csv", MAL)
    p.chmod(0)
    expect_isolated_error(
        lambda: load_catalog([str(p)]), file=p, match="permission denied: cannot read this file", unprivileged=True
    )
    expect_isolated_error(
        lambda: read_input_text(p, what="config file"),
        file=p,
        match="permission denied: cannot read this config file",
        unprivileged=True,
    )


@pytest.mark.parametrize("spec", ["{d}", "mal:{d}", "mangadex-v5:{d}", "mal-history:{d}"])
def test_mode_000_data_directory(open_tmp, spec):
    d = open_tmp / "anime-recdb"
    d.mkdir()
    write(d / "anime.csv", MAL)
    d.chmod(0)
    expect_isolated_error(
        lambda: load_catalog([spec.format(d=d)]),
        file=d,
        match="permission denied: cannot list this directory",
        unprivileged=True,
    )


def test_directory_that_can_be_listed_but_not_entered(open_tmp):
    d = open_tmp / "v5"
    d.mkdir()
    write(d / "page.json", "{}")
    d.chmod(0o444)  # r but no x: names are visible, the files cannot be opened
    expect_isolated_error(lambda: list_directory(d), file=d, match="permission denied: cannot list", unprivileged=True)


def test_file_below_a_directory_that_cannot_be_searched(open_tmp):
    d = open_tmp / "private"
    d.mkdir()
    p = write(d / "anime.csv", MAL)
    d.chmod(0)
    for spec in (str(p), f"mal:{p}"):
        assert run_isolated(lambda spec=spec: parse_spec(spec).path, unprivileged=True)["kind"] == "ok"
        expect_isolated_error(
            lambda spec=spec: load_catalog([spec]),
            file=p,
            match="permission denied: .*or search a directory above it",
            unprivileged=True,
        )


def test_the_permission_tests_do_test_permissions(open_tmp):
    """Sanity: the unprivileged child cannot read a mode-000 file (as root, only because it
    drops to nobody), so the tests above exercise real permission errors."""
    p = write(open_tmp / "x.txt", "secret")
    p.chmod(0)
    out = run_isolated(lambda: open(p).read(), unprivileged=True)
    assert out["kind"] == "crash" and "PermissionError" in out["error"]


# -- item 20 and the other one-line errors --------------------------------------------------------


@pytest.mark.parametrize(
    "name,data",
    [
        ("e.jsonl", b""),
        ("e.jsonl.gz", gzip.compress(b"", mtime=0)),
        ("e.jsonl", b"\n\n   \n"),
        ("e.csv", b""),
    ],
)
def test_empty_catalog_file_says_empty(tmp_path, expect_error, name, data):
    p = write(tmp_path / name, data)
    msg = expect_error(lambda: load_catalog([str(p)]), file=p, match="empty file")
    assert "invalid JSON" not in msg


def test_empty_file_with_a_forced_format_and_ratings(tmp_path, expect_error):
    e = write(tmp_path / "e.jsonl", b"  \n")
    for fmt in ("generic", "mangadex-v3", "mangadex-v5"):
        expect_error(lambda fmt=fmt: load_catalog([f"{fmt}:{e}"]), file=e, match="empty file")
    anime = write(tmp_path / "anime.csv", MAL)
    r = write(tmp_path / "r.csv", b"")
    expect_error(lambda: load_catalog([str(anime), f"ratings:{r}"]), file=r, match="empty file")


def test_blank_first_line_still_detects(tmp_path):
    p = write(tmp_path / "m.jsonl", "\n" + jsonl([v3_record(1)]))
    assert load_catalog([str(p)]).ids == ("1",)


def test_read_input_text(tmp_path, expect_error):
    p = write(tmp_path / "c.toml", "\ufeffa = 1\n")
    assert read_input_text(p) == "a = 1\n"
    bad = write(tmp_path / "b.toml", b"a = 1\nb = '\xff'\n")
    expect_error(lambda: read_input_text(bad, what="config file"), file=bad, line=2, match="not valid UTF-8")
    expect_error(
        lambda: read_input_text(p, max_bytes=4, what="config file"),
        file=p,
        match="config file too large: more than 4 bytes",
    )
    empty = write(tmp_path / "e.toml", b"")
    expect_error(lambda: read_input_text(empty, what="config file"), file=empty, match="empty config file")
    assert read_input_text(empty, allow_empty=True) == ""
    expect_error(lambda: read_input_text(tmp_path / "none.toml", what="config file"), match="config file not found")


def test_odd_paths(tmp_path, expect_error):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    expect_error(lambda: load_catalog([str(loop)]), file=loop, match="too many levels of symbolic links")
    f = write(tmp_path / "f", "x")
    expect_error(lambda: load_catalog([str(f / "child.jsonl")]), match="a part of the path is not a directory")
    expect_error(lambda: load_catalog(["a\0b.jsonl"]), match="contains a NUL character")
    expect_error(lambda: load_catalog(["x" * 5000 + ".jsonl"]), match="file name too long")


def test_line_longer_than_the_bound(tmp_path, expect_error, monkeypatch):
    monkeypatch.setattr(io_mod, "MAX_LINE_BYTES", 1000)
    for comp in (None, "xz"):
        p = write(tmp_path / f"long{comp}.jsonl", jsonl([v3_record(1)]) + json.dumps({"x": "y" * 5000}) + "\n", comp)
        expect_error(
            lambda p=p: load_catalog([f"mangadex-v3:{p}"]), file=p, line=2, match="line longer than 1000 bytes"
        )


def test_chunked_reading_keeps_every_line(tmp_path, monkeypatch):
    """Lines that straddle read blocks come out whole, in order, with their newlines."""
    monkeypatch.setattr(io_mod, "_CHUNK", 7)
    text = "".join(f"{'x' * (k % 23)}{k}\n" for k in range(300)) + "last"
    p = write(tmp_path / "t.txt", text)
    assert [raw for _, raw in io_mod.iter_lines(p)] == [ln.encode() for ln in text.splitlines(keepends=True)]


# -- issue 21, broken promise 7: the build (its inputs' digest) checks before it reads -----------


def _build(spec, out):
    from mangarec import pipeline

    return pipeline.run_build([spec], out, Config(), cache_dir=None)


@pytest.mark.parametrize("spec", ["{p}", "mal:{p}"])
def test_fifo_as_data_does_not_hang_the_build(tmp_path, spec):
    p = fifo(tmp_path / "anime.csv")
    expect_isolated_error(
        lambda: _build(spec.format(p=p), tmp_path / "out"),
        file=p,
        match=r"is a named pipe \(FIFO\), expected a file",
    )
    assert not (tmp_path / "out").exists()


def test_unreadable_directory_inside_a_data_folder_is_one_line(open_tmp):
    """The build's first read (its inputs' digest, before the up-to-date check) walks a data
    folder's files: a locked folder is one line, a locked subfolder (not an input) is skipped."""
    from mangarec.pipeline import inputs_digest, stamp_key  # imported here: the child is user nobody

    d = open_tmp / "anime-recdb"
    d.mkdir()
    write(d / "anime.csv", MAL)
    before = inputs_digest([str(d)])
    sub = d / "private"
    sub.mkdir()
    write(sub / "notes.txt", "x")
    sub.chmod(0)
    out = run_isolated(lambda: inputs_digest([str(d)]), unprivileged=True)
    assert out == {"kind": "ok", "value": repr(before)}, out
    sub.chmod(0o755)
    d.chmod(0)
    for spec in (str(d), f"mal:{d}"):
        expect_isolated_error(
            lambda spec=spec: stamp_key([spec], Config(), False, None),
            file=d,
            match="permission denied: cannot list this directory",
            unprivileged=True,
        )


def test_inputs_digest_never_opens_a_fifo(tmp_path, expect_error):
    from mangarec.pipeline import inputs_digest

    p = fifo(tmp_path / "ratings.csv")
    out = run_isolated(lambda: inputs_digest([str(p)]))
    assert out["kind"] == "input_error" and "named pipe" in out["message"], out
    d = tmp_path / "d"
    d.mkdir()
    write(d / "anime.csv", MAL)
    before = inputs_digest([str(d)])
    fifo(d / "pipe.csv")  # a FIFO inside a folder is not one of its files: skipped, not read
    assert run_isolated(lambda: inputs_digest([str(d)]))["value"] == repr(before)

"""The output directory never loses a user's files (issue: data loss cases), and swaps atomically."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mangarec import outdir
from mangarec.cli import main
from mangarec.errors import InputError
from mangarec.paths import DEFAULT_CATALOG, ROOT


def _tree(d: Path) -> dict[str, str]:
    return {
        p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def _build(out: Path, tmp: Path, *extra: str) -> int:
    return main(["build", "--out", str(out), "--cache-dir", str(tmp / "cache"), "--limit", "30", "-q", *extra])


@pytest.fixture
def documents(tmp_path) -> Path:
    d = tmp_path / "Documents"
    (d / "taxes").mkdir(parents=True)
    (d / "letter.txt").write_text("dear")
    (d / "taxes" / "2025.pdf").write_bytes(b"%PDF")
    return d


def test_a_folder_of_the_users_is_refused_and_untouched(documents, tmp_path, capsys):
    before = _tree(documents)
    assert _build(documents, tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert "no previous build" in err and str(documents) in err and "\n" not in err
    assert _tree(documents) == before
    assert not (tmp_path / "cache").exists(), "refused before any work"


@pytest.mark.build
@pytest.mark.parametrize("what", ["cwd", "project", "home", "data", "above-cwd"])
def test_protected_paths_are_refused(what, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work" / "sub"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    data = tmp_path / "data"
    data.mkdir()
    catalog = data / "catalog.jsonl"
    catalog.write_text(DEFAULT_CATALOG.read_text())
    out = {"cwd": Path("."), "project": ROOT, "home": tmp_path / "home", "data": data, "above-cwd": tmp_path / "work"}[
        what
    ]
    rc = main(["build", "--out", str(out), "--data", f"generic:{catalog}", "--cache-dir", str(tmp_path / "c"), "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert ("is " in err or "contains " in err) and "choose a folder of its own" in err
    assert catalog.read_text() == DEFAULT_CATALOG.read_text()
    assert (ROOT / "build.py").is_file() and (ROOT / "mangarec" / "cli.py").is_file()


def test_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    assert _build(f, tmp_path) == 2
    assert "is a file" in capsys.readouterr().err
    assert f.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_path_under_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    assert _build(f / "site", tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert "is a file, not a directory" in err and "\n" not in err and f.read_text() == "mine"


def test_dot_is_refused_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--out", ".", "-q", "--no-cache"]) == 2
    assert "the current directory" in capsys.readouterr().err


@pytest.mark.build
def test_a_previous_build_with_a_file_added_by_hand_is_refused(tmp_path, capsys):
    out = tmp_path / "site"
    assert _build(out, tmp_path) == 0
    (out / "CNAME").write_text("example.org")
    before = _tree(out)
    assert _build(out, tmp_path, "--force") == 2
    assert "files the build did not write" in capsys.readouterr().err
    assert _tree(out) == before


@pytest.mark.build
def test_a_new_empty_or_previous_output_is_accepted(tmp_path):
    out = tmp_path / "a" / "b" / "site"
    assert _build(out, tmp_path) == 0 and (out / "index.html").is_file()
    assert outdir.read_stamp(out) is not None
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _build(empty, tmp_path) == 0 and (empty / "index.html").is_file()
    assert _build(out, tmp_path, "--force") == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["site"], "no staging or old trees left"


def test_swap_exchanges_atomically(tmp_path):
    old, new = tmp_path / "out", tmp_path / ".out.tmp-x"
    old.mkdir()
    new.mkdir()
    (old / "a").write_text("old")
    (new / "a").write_text("new")
    outdir.swap_in(new, old, "k1")
    assert (old / "a").read_text() == "new" and outdir.read_stamp(old).key == "k1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_crash_between_the_two_renames_is_repaired(tmp_path, monkeypatch):
    """Where the file system cannot exchange, the old site left under its hidden name is put back."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("old")
    digest, count = outdir.manifest(out)
    (out / outdir.STAMP).write_text(outdir.Stamp("k0", digest, count).dumps())
    os.rename(out, tmp_path / ".out.old-12345")  # the state right after the first rename
    notes = outdir.recover(out)
    assert (out / "index.html").read_text() == "old" and "put back" in notes[0]


def test_fallback_swap_without_exchange(tmp_path, monkeypatch):
    monkeypatch.setattr(outdir, "_exchange", lambda a, b: False)
    out, new = tmp_path / "out", tmp_path / "new"
    out.mkdir()
    new.mkdir()
    (new / "x").write_text("n")
    outdir.swap_in(new, out, "k")
    assert (out / "x").read_text() == "n" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staging_trees_of_killed_builds_are_cleaned(tmp_path):
    out = tmp_path / "out"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = tmp_path / ".out.tmp-stale"
    stale.mkdir()
    (stale / outdir.MARKER).write_text(dead + "\n")
    (stale / "big.bin").write_bytes(b"x" * 1000)
    alive = tmp_path / ".out.tmp-alive"
    alive.mkdir()
    (alive / outdir.MARKER).write_text(f"{os.getpid()}\n")
    foreign = tmp_path / ".out.tmp-foreign"  # not ours: no marker
    foreign.mkdir()
    notes = outdir.recover(out)
    assert not stale.exists() and alive.exists() and foreign.exists()
    assert len(notes) == 1 and "stopped" in notes[0]


def test_read_only_parent_is_found_before_any_model(tmp_path, monkeypatch, capsys):
    """/proc refuses new folders even to root: the staging directory fails before any work."""
    import mangarec.models

    def no_fit(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("a model was fitted before the output was checked")

    monkeypatch.setattr(mangarec.models, "fit_model", no_fit)
    assert _build(Path("/proc/mangarec-site"), tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot write the site beside it" in err and "\n" not in err
    assert not (tmp_path / "cache").exists()


def test_check_refuses_the_root():
    with pytest.raises(InputError, match="file-system root"):
        outdir.check(Path("/"))

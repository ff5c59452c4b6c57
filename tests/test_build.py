"""build.py end to end: the bundled catalog, options, determinism, caching, atomic output."""
from __future__ import annotations

import gzip
import hashlib
import os
import json
from pathlib import Path

import pytest

import build
from mangarec import pipeline
from mangarec.paths import DEFAULT_CATALOG, ROOT


def _tree(d: Path) -> dict[str, str]:
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_config(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("cfg") / "site.toml"
    p.write_text("[site]\nshow_timings = false\n")
    return p


@pytest.fixture(scope="module")
def built(tmp_path_factory, small_config):
    d = tmp_path_factory.mktemp("build")
    out, cache = d / "out", d / "cache"
    rc = build.main(["--out", str(out), "--cache-dir", str(cache), "--config", str(small_config), "-q"])
    assert rc == 0
    return out, cache


def test_default_build_writes_site_and_data(built):
    out, _ = built
    assert (out / "index.html").is_file()
    report = json.loads((out / "data" / "report.json").read_text())
    n_items = sum(1 for line in DEFAULT_CATALOG.read_text().splitlines() if line.strip())
    assert report["catalog"]["items"] == n_items
    assert set(report["models"]) == {"lsi", "word2vec", "network", "text", "hybrid"}
    assert any("als left out" in n for n in report["notes"])
    for model in report["models"]:
        with gzip.open(out / "data" / "neighbours" / f"{model}.csv.gz", "rt") as f:
            header = f.readline().strip()
            first = f.readline().strip().split(",")
        assert header == "item_id,rank,neighbour_id,score"
        assert first[1] == "1" and first[0] != first[2]
    assert (out / "data" / "embeddings.json").is_file()


def test_unchanged_rebuild_does_nothing(built, small_config, capsys):
    out, cache = built
    before = _tree(out)
    rc = build.main(["--out", str(out), "--cache-dir", str(cache), "--config", str(small_config)])
    assert rc == 0
    assert "up to date" in capsys.readouterr().err
    assert _tree(out) == before


def test_forced_rebuild_hits_the_cache_for_every_stage(built, small_config, capsys):
    out, cache = built
    before = _tree(out)
    rc = build.main(["--out", str(out), "--cache-dir", str(cache), "--config", str(small_config), "--force"])
    assert rc == 0
    assert "0 miss(es)" in capsys.readouterr().err
    assert _tree(out) == before


def test_two_cold_builds_are_byte_identical(built, tmp_path, small_config):
    out, _ = built
    out2 = tmp_path / "out2"
    assert build.main(["--out", str(out2), "--cache-dir", str(tmp_path / "c2"), "--config", str(small_config), "-q"]) == 0
    assert _tree(out2) == _tree(out)


def test_source_date_epoch_is_honoured(tmp_path, small_config, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = tmp_path / "o"
    assert build.main(["--out", str(out), "--cache-dir", str(tmp_path / "c"), "--config", str(small_config),
                       "--limit", "40", "-q"]) == 0
    report = json.loads((out / "data" / "report.json").read_text())
    assert report["build"]["date"] == "2023-11-14T22:13:20Z"
    assert report["catalog"]["items"] == 40


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--data", "nope/missing.jsonl"], "missing.jsonl"),
        (["--limit", "1"], "--limit 1: must be at least 2"),
        (["--config", "nope.toml"], "config file not found"),
    ],
)
def test_bad_input_is_one_line_and_leaves_output(tmp_path, capsys, args, fragment):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous site")
    rc = build.main(["--out", str(out), "--cache-dir", str(tmp_path / "c"), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("error: ") and fragment in err and "\n" not in err
    assert (out / "keep.txt").read_text() == "previous site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] + (["c"] if (tmp_path / "c").exists() else [])


def test_bad_data_line_is_named(tmp_path, capsys):
    bad = tmp_path / "cat.jsonl"
    good = DEFAULT_CATALOG.read_text().splitlines()[:5]
    bad.write_text("\n".join(good + ['{"id": "x1", "title": ']) + "\n")
    rc = build.main(["--out", str(tmp_path / "out"), "--data", f"generic:{bad}", "--no-cache", "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and f"{bad}:6" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_failure_while_writing_keeps_previous_output(tmp_path, monkeypatch, small_config):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous site")

    def boom(*a, **k):
        raise RuntimeError("disk full")

    import mangarec.site

    monkeypatch.setattr(mangarec.site, "write_site", boom)
    with pytest.raises(RuntimeError):
        build.main(["--out", str(out), "--cache-dir", str(tmp_path / "c"), "--config", str(small_config),
                    "--limit", "30", "-q"])
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "out"]


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        build.main(["--help"])
    text = capsys.readouterr().out
    for opt in ("--data", "--out", "--config", "--seed", "--limit", "--include-adult", "--quiet", "--fetch",
                "--cache-dir"):
        assert opt in text
    assert build.main(["--help-config"]) == 0
    assert "neighbours.k = 20" in capsys.readouterr().out


def test_swap_in_replaces_atomically(tmp_path):
    new, out = tmp_path / "new", tmp_path / "out"
    new.mkdir(); out.mkdir()
    (new / "a").write_text("new"); (out / "a").write_text("old")
    pipeline.swap_in(new, out)
    assert (out / "a").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_build_py_is_at_the_root():
    assert (ROOT / "build.py").is_file()


def test_published_tree_is_world_readable_under_the_usual_umask(built):
    out, _ = built
    import stat

    mask = os.umask(0)
    os.umask(mask)
    if mask & 0o044:
        pytest.skip("this umask makes files private on purpose")
    assert stat.S_IMODE(out.stat().st_mode) & 0o055 == 0o055
    for p in [out / "data" / "embeddings.json", out / "data" / "neighbours" / "lsi.csv.gz", out / "index.html"]:
        assert stat.S_IMODE(p.stat().st_mode) & 0o044 == 0o044, p


def test_progress_bar_on_a_terminal_plain_lines_otherwise(tmp_path, small_config):
    import io

    from mangarec.config import load_config
    from mangarec.progress import StageLog

    class Tty(io.StringIO):
        def isatty(self):
            return True

    for stream, bar in ((Tty(), True), (io.StringIO(), False)):
        log = StageLog(stream=stream)
        pipeline.run_build([f"generic:{DEFAULT_CATALOG}"], tmp_path / f"o{bar}", load_config(small_config),
                           limit=30, cache_dir=tmp_path / "c", log=log)
        text = stream.getvalue()
        assert ("stage/s" in text or "stage]" in text or "it/s" in text or "%|" in text) == bar
        assert "model:lsi" in text and "write:site" in text
        if not bar:
            assert all(line.split()[-1] == "s" or line.startswith(("note:", "built"))
                       for line in text.splitlines())


def test_serve_subcommand_serves_the_site(built):
    """`python build.py serve --port 0` serves output/ on 127.0.0.1 with the right MIME types."""
    import re
    import subprocess
    import sys
    import urllib.request

    out, _ = built
    p = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--out", str(out), "--port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.headers.get_content_type() == "text/html" and b"<html" in r.read()
        js = next((out / "assets").rglob("*.js")).relative_to(out).as_posix()
        with urllib.request.urlopen(url + js, timeout=10) as r:
            assert r.headers.get_content_type() in ("text/javascript", "application/javascript")
    finally:
        p.terminate()
        p.wait(timeout=10)


def test_serve_without_a_site_is_a_one_line_error(tmp_path, capsys):
    assert build.main(["serve", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "run 'python build.py' first" in err and "\n" not in err


def test_catalog_with_ratings_gets_als_everywhere(tmp_path, shared_data):
    """MyAnimeList fixture (400 anime, 22,564 real ratings): ALS is built, shown, evaluated fairly
    (refitted without the held-out likes) and published as the embeddings JSON."""
    d = shared_data / "anime-recdb"
    out = tmp_path / "out"
    cfg = tmp_path / "site.toml"
    cfg.write_text("[site]\nshow_timings = false\n[models.als]\nfactors = 16\n")
    rc = build.main(["--data", f"mal:{d / 'fixture_anime.csv'}", "--data", f"ratings:{d / 'fixture_ratings.csv'}",
                     "--out", str(out), "--cache-dir", str(tmp_path / "c"), "--config", str(cfg), "-q"])
    assert rc == 0
    report = json.loads((out / "data" / "report.json").read_text())
    assert "als" in report["models"] and report["catalog"]["ratings"]["users"] == 300
    hr = report["hit_rate"]["scores"]
    assert hr["als"] > hr["random"] and hr["lsi"] > hr["random"]
    assert any("als was fitted on the training split" in n for n in report["hit_rate"]["notes"])
    assert report["published"]["model"] == "als"
    published = json.loads((out / "data" / "embeddings.json").read_text())
    assert published["model"] == "als" and published["fold_in"]["mode"] == "implicit"
    assert (out / "data" / "maps" / "als.json").is_file()
    shard = json.loads(next((out / "data" / "nb").glob("*.json")).read_text())
    assert all("als" in lists for lists in shard["nb"].values())
    with gzip.open(out / "data" / "neighbours" / "als.csv.gz", "rt") as f:
        assert f.readline().strip() == "item_id,rank,neighbour_id,score"

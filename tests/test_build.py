"""The build end to end: the bundled catalog, options, determinism, caching, atomic output."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest

import build
from mangarec import pipeline
from mangarec.errors import ConfigError
from mangarec.models import REGISTRY, available
from mangarec.paths import DEFAULT_CATALOG, ROOT

pytestmark = pytest.mark.build


def _tree(d: Path) -> dict[str, str]:
    return {
        p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small_config(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("cfg") / "site.toml"
    p.write_text("[site]\nshow_timings = false\ncsv_neighbours = 10\n")  # the optional tables too
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
    from mangarec.loaders import load_catalog

    expected, left_out = available(load_catalog([f"generic:{DEFAULT_CATALOG}"]), list(REGISTRY))
    assert set(report["models"]) == set(expected) and expected
    assert report["left_out"] == left_out and "als" in left_out
    assert any("model als left out: the catalog has no ratings" in n for n in report["notes"])
    for model in report["models"]:
        with gzip.open(out / "data" / "neighbours" / f"{model}.csv.gz", "rt") as f:
            header = f.readline().strip()
            first = f.readline().strip().split(",")
        assert header == "item_id,rank,neighbour_id,score"
        assert first[1] == "1" and first[0] != first[2]
    assert (out / "data" / "embeddings.json").is_file()


def test_maps_are_drawn_for_site_maps_only(built, tmp_path):
    """By default the models whose map would repeat LSI's get none (a registry declaration); the
    maps page lists only the drawn maps; site.maps chooses them."""
    from mangarec.config import load_config
    from mangarec.models import spec

    out, cache = built
    report = json.loads((out / "data" / "report.json").read_text())
    drawn = {p.stem for p in (out / "data" / "maps").glob("*.json")} - {"tags", "titles"}
    assert drawn == {m for m in report["models"] if spec(m).mapped} and "jaccard" not in drawn
    page = (out / "plots" / "index.html").read_text()
    assert 'value="lsi"' in page and 'value="jaccard"' not in page
    cfg = tmp_path / "maps.toml"
    cfg.write_text('[site]\nmaps = ["jaccard"]\n')
    result = pipeline.run_build([f"generic:{DEFAULT_CATALOG}"], tmp_path / "out", load_config(cfg), cache_dir=cache)
    assert set(result.maps) == {"jaccard"}
    cfg.write_text('[site]\nmaps = ["nope"]\n')
    with pytest.raises(ConfigError, match=r"site\.maps.*unknown model 'nope'"):
        load_config(cfg)


def test_models_page_shows_each_lists_recall_of_the_catalogs_own_truths(built):
    """The bundled catalog has franchise links: every model's franchise recall@20 (test half) is in
    the report and on the models page beside random lists; the series list finds more than random."""
    from mangarec.evaluation.content import HALVES_SEED

    out, _ = built
    report = json.loads((out / "data" / "report.json").read_text())
    c = report["evaluation"]["content"]
    assert c["seed"] == HALVES_SEED and c["franchise_links"]["test"] > 0 and set(c["models"]) == set(report["models"])
    rnd = c["random"]["franchise_recall"]
    assert c["models"]["series"]["franchise_recall"]["test"] > 10 * rnd
    assert c["models"]["jaccard"]["franchise_recall"]["test"] > 10 * rnd
    page = (out / "models" / "index.html").read_text()
    section = page[page.index('id="c-h"') : page.index("</section>", page.index('id="c-h"'))]
    assert section.count("<tr>") == len(c["models"]) + 2  # header, models, random
    assert (
        f"{c['models']['series']['franchise_recall']['test']:.3f}" in section and "baseline: tag-set Jaccard" in section
    )


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
    assert ", 0 miss(es)" in capsys.readouterr().err
    assert _tree(out) == before


def test_a_model_setting_recomputes_only_that_model_and_what_depends_on_it(built, tmp_path):
    from mangarec.config import load_config

    out, cache = built
    cfg = tmp_path / "hybrid.toml"

    def ran(text: str) -> set[str]:
        cfg.write_text(text)
        result = pipeline.run_build([f"generic:{DEFAULT_CATALOG}"], tmp_path / "out", load_config(cfg), cache_dir=cache)
        return {s.name for s in result.report.stages if not s.cached}

    assert ran("[models.hybrid]\ncontent_weight = 4.0\n") == {
        "model:hybrid",
        "neighbours:hybrid",
        "map:hybrid",
        "evaluate",
    }
    # series draws no map by default (it would repeat LSI's): its model and lists, and those of the
    # models depending on it (colike, which leaves the series out of its fit, draws no map either)
    assert ran("[models.series]\ntag_weight = 0.5\n") == {
        "model:series",
        "neighbours:series",
        "model:colike",
        "neighbours:colike",
        "model:hybrid",
        "neighbours:hybrid",
        "map:hybrid",
        "evaluate",
    }


def test_template_and_static_edits_change_the_stamp(tmp_path, monkeypatch):
    """An edit to a template, a CSS/JS file or a Markdown page makes the output out of date."""
    import shutil

    from mangarec.config import Config

    tpl, src = tmp_path / "templates", tmp_path / "site_src"
    shutil.copytree(pipeline.TEMPLATES, tpl)
    shutil.copytree(pipeline.SITE_SRC, src, ignore=shutil.ignore_patterns("catalog"))
    monkeypatch.setattr(pipeline, "TEMPLATES", tpl)
    monkeypatch.setattr(pipeline, "SITE_SRC", src)
    specs = [f"generic:{DEFAULT_CATALOG}"]
    keys = {pipeline.stamp_key(specs, Config(), False, None)}
    for edit in (
        tpl / "404.html",
        next(src.glob("static/css/*.css")),
        next(src.glob("static/js/*.js")),
        next(src.glob("pages/*.md")),
    ):
        edit.write_text(edit.read_text() + "\n")
        keys.add(pipeline.stamp_key(specs, Config(), False, None))
    assert len(keys) == 5


def test_stage_keys_follow_the_code_a_stage_runs(tmp_path, monkeypatch):
    """A model's code digest covers the modules it imports (transitively), not the site writer."""
    import shutil

    from mangarec import cache

    pkg = tmp_path / "mangarec"
    shutil.copytree(ROOT / "mangarec", pkg, ignore=shutil.ignore_patterns("__pycache__", "_data"))
    monkeypatch.setattr(cache, "_PKG", pkg)

    def digest(module):
        cache.module_digest.cache_clear()
        return cache.module_digest(module)

    lsi, nb = digest("mangarec.models.lsi"), digest("mangarec.neighbours")
    (pkg / "site" / "render.py").write_text((pkg / "site" / "render.py").read_text() + "\n# edit\n")
    assert (digest("mangarec.models.lsi"), digest("mangarec.neighbours")) == (lsi, nb)
    (pkg / "models" / "_svd.py").write_text((pkg / "models" / "_svd.py").read_text() + "\n# edit\n")
    assert digest("mangarec.models.lsi") != lsi  # lsi imports _svd
    assert digest("mangarec.neighbours") == nb  # neighbours does not
    cache.module_digest.cache_clear()


def test_two_cold_builds_are_byte_identical(built, tmp_path, small_config, monkeypatch):
    """The second build computes its stages one after another in one process (the first on the
    machine's cores, two here): the same bytes, report.json's stage list included."""
    out, _ = built
    out2 = tmp_path / "out2"
    monkeypatch.setenv("MANGAREC_WORKERS", "1")
    assert (
        build.main(["--out", str(out2), "--cache-dir", str(tmp_path / "c2"), "--config", str(small_config), "-q"]) == 0
    )
    assert _tree(out2) == _tree(out)


def _copy_checkout(dest: Path) -> Path:
    """The project's own files (what a fresh clone holds) copied to ``dest``."""
    import shutil
    import subprocess

    try:
        files = (
            subprocess.run(
                ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                cwd=ROOT,
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .split("\0")
        )
    except (OSError, subprocess.CalledProcessError):
        files = [
            p.relative_to(ROOT).as_posix()
            for p in ROOT.rglob("*")
            if p.is_file() and not {".git", ".venv", ".cache", "output", "__pycache__"} & set(p.relative_to(ROOT).parts)
        ]
    for rel in filter(None, files):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    return dest


def test_two_fresh_checkouts_in_different_directories_build_the_same_bytes(tmp_path):
    """Default settings, cold caches, different paths and file times: identical sites."""
    import subprocess
    import sys

    trees = []
    for i, name in enumerate(("one", "deeper/two")):
        src = _copy_checkout(tmp_path / name)
        stamp = 1_600_000_000 + i * 86_400 * 400
        for p in src.rglob("*"):
            os.utime(p, (stamp, stamp))
        env = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATE_EPOCH", "MANGAREC_CACHE_DIR")}
        env["PYTHONPATH"] = str(src)
        r = subprocess.run(
            [sys.executable, "build.py", "-q"], cwd=src, env=env, capture_output=True, text=True, timeout=900
        )
        assert r.returncode == 0, r.stderr
        trees.append(_tree(src / "output"))
    assert trees[0] == trees[1]


def test_source_date_epoch_is_honoured(tmp_path, small_config, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = tmp_path / "o"
    assert (
        build.main(
            [
                "--out",
                str(out),
                "--cache-dir",
                str(tmp_path / "c"),
                "--config",
                str(small_config),
                "--limit",
                "40",
                "-q",
            ]
        )
        == 0
    )
    report = json.loads((out / "data" / "report.json").read_text())
    assert report["build"]["date"] == "2023-11-14T22:13:20Z"
    assert report["catalog"]["items"] == 40


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--data", "nope/missing.jsonl"], "missing.jsonl"),
        (["--limit", "1"], "--limit: 1 is not between 2 and 10,000,000"),
        (["--config", "nope.toml"], "config file not found"),
    ],
)
def test_bad_input_is_one_line_and_leaves_output(built, tmp_path, capsys, args, fragment):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(built[0], out)
    before = _tree(out)
    rc = build.main(["--out", str(out), "--cache-dir", str(tmp_path / "c"), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("error: ") and fragment in err and "\n" not in err
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] + (["c"] if (tmp_path / "c").exists() else [])


def test_bad_data_line_is_named(tmp_path, capsys):
    bad = tmp_path / "cat.jsonl"
    good = DEFAULT_CATALOG.read_text().splitlines()[:5]
    bad.write_text("\n".join(good + ['{"id": "x1", "title": ']) + "\n")
    rc = build.main(["--out", str(tmp_path / "out"), "--data", f"generic:{bad}", "--no-cache", "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and f"{bad}:6" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_failure_while_writing_keeps_previous_output(built, tmp_path, monkeypatch, small_config, capsys):
    import errno
    import shutil

    out = tmp_path / "out"
    shutil.copytree(built[0], out)
    before = _tree(out)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "x"))

    import mangarec.site

    monkeypatch.setattr(mangarec.site, "write_site", full)
    rc = build.main(
        ["--out", str(out), "--cache-dir", str(tmp_path / "c"), "--config", str(small_config), "--limit", "30", "-q"]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "No space left on device" in err and "\n" not in err
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "out"]


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        build.main(["build", "--help"])
    text = capsys.readouterr().out
    for opt in (
        "--data",
        "--out",
        "--config",
        "--seed",
        "--limit",
        "--include-adult",
        "--quiet",
        "--fetch",
        "--cache-dir",
    ):
        assert opt in text
    assert build.main(["--help-config"]) == 0
    assert "neighbours.k = 20" in capsys.readouterr().out


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
        pipeline.run_build(
            [f"generic:{DEFAULT_CATALOG}"],
            tmp_path / f"o{bar}",
            load_config(small_config),
            limit=30,
            cache_dir=tmp_path / "c",
            log=log,
        )
        text = stream.getvalue()
        assert ("%|" in text) == bar
        assert "model:lsi" in text and "write:site" in text
        if not bar:
            assert all(
                line.split()[-1] in ("s", "cached") or line.startswith(("note:", "built")) for line in text.splitlines()
            )


def test_serve_subcommand_serves_the_site(built):
    """`python build.py serve --port 0` serves output/ on 127.0.0.1 with the right MIME types."""
    import re
    import subprocess
    import sys
    import urllib.request

    out, _ = built
    p = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "serve", "--out", str(out), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
    assert err.startswith("error: ") and "run 'mangarec build' first" in err and "\n" not in err


def test_catalog_with_ratings_gets_als_everywhere(tmp_path, shared_data):
    """MyAnimeList fixture (400 anime, 22,564 real ratings): ALS is built, shown, evaluated fairly
    (refitted without the held-out likes) and published as the embeddings JSON."""
    d = shared_data / "anime-recdb"
    out = tmp_path / "out"
    cfg = tmp_path / "site.toml"
    cfg.write_text("[site]\nshow_timings = false\n[models.als]\nfactors = 16\n")
    rc = build.main(
        [
            "--data",
            f"mal:{d / 'fixture_anime.csv'}",
            "--data",
            f"ratings:{d / 'fixture_ratings.csv'}",
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "c"),
            "--config",
            str(cfg),
            "-q",
        ]
    )
    assert rc == 0
    report = json.loads((out / "data" / "report.json").read_text())
    assert "als" in report["models"] and report["catalog"]["ratings"]["users"] == 300
    ev = report["evaluation"]
    hr = {r["method"]: r["metrics"]["ndcg"]["mean"] for r in ev["ranking"]}
    assert hr["als neighbours"] > hr["random"] and hr["lsi neighbours"] > hr["random"] and hr["ease"] > hr["popularity"]
    assert any("als was refitted on the training split" in n for n in ev["notes"])
    assert hr["als"] > hr["random"]  # the visitor-style fold-in of the held-out fit
    # co-like agreement beyond the series, both protocols; colike and ALS refitted for the cold start
    cl = {(c["model"], c["protocol"]): c for c in ev["colikes"]}
    for m in ("colike", "jaccard", "als"):
        assert {(m, "held-out likes"), (m, "cold start")} <= set(cl)
    assert cl[("colike", "cold start")]["lift_random"]["lo"] > 1
    assert "colike" in report["models"] and "hybrid" in report["models"]
    assert "Do the similar titles agree with what readers like together?" in (out / "models" / "index.html").read_text()
    visitor = next(v for v in ev["visitor"] if v["model"] == "als")
    assert set(visitor["onboarding"]) == {"onboarding picks", "random popular picks"}
    assert visitor["answered"]["onboarding picks"] > 0
    # the for-you page asks about the picks of mangarec.onboarding on the published ALS vectors
    from mangarec.client import load

    page = (out / "foryou" / "index.html").read_text()
    model = load(str(out / "data" / "embeddings.json"))
    first = page.index('data-id="', page.index('class="cards onboarding'))
    assert page[first + 9 : page.index('"', first + 9)] in model.ids[:120]
    assert ev["protocol"]["like_threshold"] == 8.0 and not ev["protocol"]["empty"]
    # issue 19: ALS against the content models on the same hidden likes; the best is published
    prec = {v["model"]: v["likes"]["all likes"]["precision"]["mean"] for v in ev["visitor"]}
    assert {"als", "lsi"} <= set(prec)
    assert report["published"]["model"] == max(prec, key=prec.get) == "als"
    assert "held-out precision@10" in report["published"]["why"]
    assert "Personalisation on this site." in (out / "models" / "index.html").read_text()
    published = json.loads((out / "data" / "embeddings.json").read_text())
    assert published["model"] == "als" and published["fold_in"]["mode"] == "implicit"
    # the configured visitor fold-in: its own α and λ for a dozen likes, training's from 48 on
    from mangarec.config import Config

    als_cfg = Config().models.als
    fo = published["fold_in"]
    assert (fo["alpha"], fo["reg"]) == (als_cfg.visitor_alpha, als_cfg.visitor_regularization)
    assert fo["schedule"] == {
        "few": als_cfg.visitor_few_likes,
        "many": als_cfg.visitor_many_likes,
        "alpha_many": als_cfg.alpha,
        "reg_many": als_cfg.regularization,
    }
    assert (out / "data" / "maps" / "als.json").is_file()
    shard = json.loads(next((out / "data" / "nb").glob("*.json")).read_text())
    als = shard["models"].index("als")
    assert all(entry[4][als][0] for entry in shard["items"].values())  # positions (data_files.encode_positions)
    assert not (out / "data" / "neighbours").exists()  # the CSV tables are optional (site.csv_neighbours)


@pytest.mark.parametrize(
    "text, fragment",
    [
        (
            '[site]\nmodels = ["als"]\n',
            "none of the models in site.models (als) can run on this catalog: als: the catalog has no ratings",
        ),
        ("[site]\nmodels = []\n", "site.models = []: must name at least one model"),
        ("[catalog]\nadult_tags = [1, 2]\n", "catalog.adult_tags[0] = 1: must be a string"),
    ],
)
def test_models_that_cannot_run_and_bad_lists_are_one_line(tmp_path, capsys, text, fragment):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    rc = build.main(["--out", str(tmp_path / "o"), "--config", str(cfg), "--no-cache", "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and fragment in err and "\n" not in err and not (tmp_path / "o").exists()


def test_collect_json_is_published_only_with_a_collect_url(built, tmp_path):
    """privacy.collect_url set: data/collect.json names the lobby, the smallest cohort and the
    index (embeddings-titles.json, same catalog hash); unset (the default): no such file."""
    out, cache = built
    assert not (out / "data" / "collect.json").exists()
    cfg = tmp_path / "site.toml"
    cfg.write_text(
        '[site]\nshow_timings = false\n[privacy]\ncollect_url = "https://collect.example.org/"\nmin_cohort = 40\n'
    )
    out2 = tmp_path / "out"
    assert build.main(["--out", str(out2), "--cache-dir", str(cache), "--config", str(cfg), "-q"]) == 0
    from mangarec.config import load_config
    from mangarec.privacy.lobby_client import load_collect

    doc, ids = load_collect(str(out2 / "data" / "collect.json"))
    titles = json.loads((out2 / "data" / "embeddings-titles.json").read_text())
    emb = json.loads((out2 / "data" / "embeddings.json").read_text())
    assert doc["collect_url"] == "https://collect.example.org" and doc["min_cohort"] == 40
    assert doc["catalog_hash"] == titles["catalog_hash"] == emb["catalog_hash"]
    assert ids == titles["ids"] == emb["items"]["ids"] and doc["count"] == len(ids)
    cfg.write_text('[privacy]\ncollect_url = "javascript:alert(1)"\n')
    with pytest.raises(ConfigError, match="collect_url"):
        load_config(cfg)

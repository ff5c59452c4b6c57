"""A night's build equals a cold build of the night's data, byte for byte.

The night reuses what the last build left in the stage cache (neighbour lists updated from
last night's: :mod:`mangarec.neighbours_update`); the site it writes must be exactly the site a
cold build (empty cache) writes from the same data, in another directory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from mangarec import pipeline
from mangarec.config import Config
from mangarec.paths import DEFAULT_CATALOG
from mangarec.progress import StageLog

pytestmark = pytest.mark.build

#: Maps keyed by their model alone; the test is about lists and pages.
CONFIG = replace(Config(), site=replace(Config().site, maps=["lsi"]))


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".mangarec-stamp"
    }


class _Log(StageLog):
    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)
        super().note(message)


def _edit(src: Path, dest: Path, picks: list[int]) -> None:
    rows = src.read_text(encoding="utf-8").rstrip("\n").split("\n")
    for j, k in enumerate(picks):
        r = json.loads(rows[k])
        if j % 2:
            r["description"] = (r.get("description") or "") + " Tonight a new arc begins at sea."
        else:
            tags = dict(r.get("tags") or {})
            genre = list(tags.get("genre", []))
            tags["genre"] = genre[1:] if "Comedy" in genre else sorted({*genre, "Comedy"})
            r["tags"] = tags
        rows[k] = json.dumps(r)
    dest.write_text("\n".join(rows) + "\n", encoding="utf-8")


def day_and_night(tmp: Path) -> tuple[Path, Path]:
    """The bundled catalog (the day) and a copy with five titles edited (the night), in ``tmp``."""
    day, night = tmp / "day.jsonl", tmp / "night.jsonl"
    day.write_text(DEFAULT_CATALOG.read_text(encoding="utf-8"), encoding="utf-8")
    _edit(day, night, [4, 50, 120, 333, 500])
    return day, night


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("night")
    day, night = day_and_night(tmp)
    pipeline.run_build([f"generic:{day}"], tmp / "site", CONFIG, cache_dir=tmp / "cache")
    log = _Log()
    warm = pipeline.run_build([f"generic:{night}"], tmp / "site", CONFIG, cache_dir=tmp / "cache", log=log)
    cold = pipeline.run_build([f"generic:{night}"], tmp / "cold" / "site", CONFIG, cache_dir=tmp / "cold-cache")
    assert warm is not None and cold is not None
    return tmp, warm, cold, log.notes


def test_the_night_updates_lists_instead_of_searching(nights):
    _, warm, _, notes = nights
    updated = {n.split(": ", 1)[0] for n in notes if "lists ranked again" in n}
    assert {"neighbours:jaccard", "neighbours:colike"} <= updated


def test_the_night_equals_a_cold_build_of_its_data(nights):
    tmp, warm, cold, _ = nights
    a, b = _files(tmp / "site"), _files(tmp / "cold" / "site")
    assert a.keys() == b.keys()
    assert [f for f in a if a[f] != b[f]] == []
    for name, nb in warm.neighbours.items():
        assert (nb.indices == cold.neighbours[name].indices).all(), name
        assert (nb.scores == cold.neighbours[name].scores).all(), name


def test_unchanged_title_pages_are_carried_over(nights):
    _, warm, _, notes = nights
    carried = [n for n in notes if n.startswith("write:site:") and "carried over" in n]
    assert carried, notes
    kept = int(carried[0].split()[1].replace(",", ""))
    assert 0 < kept < len(warm.catalog)  # some pages changed (the edited titles), the others were copied


def test_unchanged_titles_keep_their_candidate_lists_and_files(nights):
    """Version 7's lists of the titles no change can reach are last night's
    (:mod:`mangarec.taste_lists`), and its unchanged taste files are linked from the previous
    site; the site still equals the cold build's (the test above)."""
    _, warm, _, notes = nights
    kept = [n for n in notes if n.startswith("write:embeddings:") and "candidate lists kept" in n]
    assert kept, notes
    words = kept[0].replace(",", "").split()
    lists, files = int(words[1]), int(words[words.index("taste") - 1])
    assert 0 < lists < len(warm.catalog) and 0 < files < len(warm.catalog)


def test_a_page_edited_in_the_previous_site_is_rendered_again(tmp_path):
    """The bytes carried over are checked against the recorded digest: a previous page that no
    longer holds what the build wrote is rendered, never copied."""
    from mangarec.site.carry import Carry

    prev = tmp_path / "site"
    (prev / "title" / "x").mkdir(parents=True)
    page = prev / "title" / "x" / "index.html"
    page.write_bytes(b"<p>built</p>")
    sha = hashlib.sha256(b"<p>built</p>").hexdigest()
    d = "key of the page's inputs"
    carry = Carry(prev, {"title/x/index.html": (d, sha)})
    assert carry.take("title/x/index.html", d) == (b"<p>built</p>", sha)
    assert carry.take("title/x/index.html", "another key") is None
    page.write_bytes(b"<p>edited by hand</p>")
    assert carry.take("title/x/index.html", d) is None
    assert Carry(None, {"title/x/index.html": (d, sha)}).take("title/x/index.html", d) is None


def test_a_failed_night_leaves_the_previous_site_intact(tmp_path, monkeypatch):
    """The night links unchanged pages from the previous site into its staging folder; a build
    that fails after that leaves the previous site as it was (bytes and files) and no staging
    folder behind."""
    import mangarec.site as site_pkg

    day, night = day_and_night(tmp_path)
    site, cache = tmp_path / "site", tmp_path / "cache"
    pipeline.run_build([f"generic:{day}"], site, CONFIG, cache_dir=cache, limit=80)
    before = _files(site)

    def fail(*args, **kwargs):
        raise RuntimeError("the disk is gone")

    monkeypatch.setattr(site_pkg, "robots_txt", fail)  # the site's last file: after the title pages
    log = _Log()
    with pytest.raises(RuntimeError, match="the disk is gone"):
        pipeline.run_build([f"generic:{night}"], site, CONFIG, cache_dir=cache, limit=80, log=log)
    assert _files(site) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".site")) == []
    monkeypatch.undo()
    log = _Log()
    pipeline.run_build([f"generic:{night}"], site, CONFIG, cache_dir=cache, limit=80, log=log)
    carried = [n for n in log.notes if n.startswith("write:site:") and "carried over" in n]
    assert carried and int(carried[0].split()[1].replace(",", "")) > 0  # pages were linked from it

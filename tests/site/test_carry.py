"""Title pages carried over from the last build (mangarec.site.carry): the same bytes as a render.

A page is carried (hard-linked from the previous site) when the key of its inputs is unchanged;
the key is computed before any context, so every fact a page shows must be in it: each test
changes a fact, writes the site once carrying pages from the last one and once from nothing,
and compares the two byte for byte. A key that forgot the fact would carry the stale page.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from site_helpers import make_result

from mangarec.catalog import Catalog, Related, make_tags
from mangarec.site import write_site
from mangarec.site.carry import Carry, page_keys
from mangarec.site.prepare import Prepared
from mangarec.site.write import Writer
from tests.conftest import two_cluster_catalog


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def catalog(two_clusters) -> Catalog:
    return two_clusters


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """The day's site of the ``catalog`` fixture's catalog and what it recorded (written once;
    only read by the tests: a night links its pages, never writes into them)."""
    out = tmp_path_factory.mktemp("day") / "site"
    stats = write_site(make_result(two_cluster_catalog()), out, workers=1)
    return out, stats["digests"]


def _night(day, catalog: Catalog, tmp: Path) -> tuple[dict, dict[str, str], dict[str, str]]:
    """The night's site written carrying pages from ``day`` and written from nothing: (stats of
    the carried one, both trees' digests)."""
    previous, digests = day
    result = make_result(catalog)
    carried = write_site(result, tmp / "carried", workers=1, carry=Carry(previous, digests))
    write_site(result, tmp / "fresh", workers=1)
    return carried, _files(tmp / "carried"), _files(tmp / "fresh")


def _edit(catalog: Catalog, p: int, **fields) -> Catalog:
    items = list(catalog.items)
    items[p] = replace(items[p], **fields)
    return replace(catalog, items=tuple(items))


def _showing(catalog: Catalog, q: int) -> set[str]:
    """Pages (``title/<slug>/index.html``) whose shown lists hold title ``q``."""
    from mangarec.site.carry import shown_lists

    prep = Prepared(make_result(catalog))
    out = set()
    for m, k, _ in shown_lists(prep):
        pos = prep.neighbours[m][0][:, :k]
        out |= {f"title/{prep.slugs[p]}/index.html" for p in range(len(pos)) if q in pos[p] and p != q}
    return out


def test_an_unchanged_site_is_linked_whole(day, catalog, tmp_path):
    stats, carried, fresh = _night(day, catalog, tmp_path)
    assert carried == fresh
    assert stats["carried"] == len(catalog)
    previous, _ = day
    rel = next(iter(stats["digests"]))
    assert os.stat(tmp_path / "carried" / rel).st_ino == os.stat(previous / rel).st_ino  # a link, not a copy


def test_a_renamed_neighbour_renders_the_pages_that_show_it_again(day, catalog, tmp_path):
    q = 3
    showing = _showing(catalog, q)
    assert showing  # the test means something: title q is listed on other pages
    renamed = _edit(catalog, q, title="A new name <b>")
    stats, carried, fresh = _night(day, renamed, tmp_path)
    assert carried == fresh  # with a key blind to the neighbour's name, the pages showing q keep the old one
    previous, _ = day
    for rel in showing:
        assert "A new name &lt;b&gt;" in (tmp_path / "carried" / rel).read_text()
        assert os.stat(tmp_path / "carried" / rel).st_ino != os.stat(previous / rel).st_ino
    # pages neither of q nor showing it are carried
    assert stats["carried"] == len(catalog) - 1 - len(showing)


def test_a_related_title_and_another_format_are_inputs(day, catalog, tmp_path):
    linked = _edit(catalog, 0, related=(Related(id="s5", type="sequel"),))
    stats, carried, fresh = _night(day, linked, tmp_path)
    assert carried == fresh and stats["carried"] < len(catalog)
    (tmp_path / "again").mkdir()
    previous = tmp_path / "carried"
    renamed = _edit(linked, 5, title="Renamed sequel")  # page 0 names title 5 as its sequel
    result = make_result(renamed)
    write_site(result, tmp_path / "again" / "carried", workers=1, carry=Carry(previous, stats["digests"]))
    write_site(result, tmp_path / "again" / "fresh", workers=1)
    assert _files(tmp_path / "again" / "carried") == _files(tmp_path / "again" / "fresh")


EDITS = {
    "title": lambda it, other: {"title": it.title + " II"},
    "alt_titles": lambda it, other: {"alt_titles": (*it.alt_titles, "Alias & co")},
    "kind": lambda it, other: {"kind": "anime"},
    "type": lambda it, other: {"type": "Manhwa"},
    "year": lambda it, other: {"year": (it.year or 2000) + 1},
    "date": lambda it, other: {"date": "2001-02-03"},
    "description": lambda it, other: {"description": it.description + " A new arc."},
    "tags": lambda it, other: {"tags": make_tags({"genre": ["Comedy", "Drama", "Horror"]})},
    "score": lambda it, other: {"score": 7.25},
    "popularity": lambda it, other: {"popularity": it.popularity + 1000.0},
    "url": lambda it, other: {"url": "https://example.org/x"},
    "external": lambda it, other: {"external": (("mal", "123"),)},
    "related": lambda it, other: {"related": (Related(id=other, type="sequel"),)},
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.integers(0, 23), st.sampled_from(sorted(EDITS)), st.integers(0, 23)), min_size=1, max_size=3)
)
def test_carried_pages_equal_rendered_ones_after_any_edit(day, catalog, edits):
    for p, field, other in edits:
        catalog = _edit(catalog, p, **EDITS[field](catalog.items[p], catalog.items[other].id))
    with tempfile.TemporaryDirectory() as tmp:
        stats, carried, fresh = _night(day, catalog, Path(tmp))
    assert carried == fresh
    assert stats["carried"] < len(catalog)


def test_keys_are_computed_without_any_page_context(catalog, monkeypatch):
    from mangarec.site import context as C

    result = make_result(catalog)
    monkeypatch.setattr(C, "title_context", lambda *a, **k: pytest.fail("a context was built"))
    keys = page_keys(result, Prepared(result), {}, "salt")
    assert len(set(keys)) == len(catalog)
    assert keys != page_keys(result, Prepared(result), {}, "another template")


def test_the_writer_never_writes_into_an_existing_file(tmp_path):
    """A carried page shares its inode with the previous site's: writing that path again must
    fail, not change the previous site's page."""
    previous = tmp_path / "previous.html"
    previous.write_bytes(b"last night")
    w = Writer(tmp_path / "site")
    w.link("title/x/index.html", str(previous), b"last night")
    with pytest.raises(FileExistsError):
        w.bytes_("title/x/index.html", b"tonight")
    assert previous.read_bytes() == b"last night"
    assert (w.files, w.pages, w.bytes) == (1, 1, len(b"last night"))


@pytest.mark.parametrize("shift, carried_all", [(1e-6, True), (0.01, False)])
def test_a_page_is_keyed_on_the_scores_it_prints(catalog, tmp_path, shift, carried_all):
    """Scores moved below the printed third decimal leave the pages carried; moved above, the
    pages that print them are rendered again; either way the bytes are a render's."""
    day = make_result(catalog)
    lead = Prepared(day).lead_model
    stats = write_site(day, tmp_path / "day", workers=1)
    nb = day.neighbours[lead]
    moved = replace(nb, scores=(nb.scores.astype("float64") + shift).astype(nb.scores.dtype))
    night = replace(day, neighbours={**day.neighbours, lead: moved})
    carried = write_site(night, tmp_path / "carried", workers=1, carry=Carry(tmp_path / "day", stats["digests"]))
    write_site(night, tmp_path / "fresh", workers=1)
    assert _files(tmp_path / "carried") == _files(tmp_path / "fresh")
    assert (carried["carried"] == len(catalog)) is carried_all

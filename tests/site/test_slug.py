"""Title pages of a live catalog live at ``title/<22 characters>/`` (:mod:`mangarec.site.slug`):
known answers, lossless for every UUID, the same in the browser (slug.js), one line when two
ids would share a page, and a site of UUID ids whose every link resolves."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import uuid
from dataclasses import replace
from urllib.parse import unquote

import pytest
from htmlcheck import parse_file
from hypothesis import given
from hypothesis import strategies as st
from site_helpers import make_result

from mangarec.catalog import Catalog, Related
from mangarec.errors import InputError
from mangarec.paths import ROOT
from mangarec.site.slug import slug, slugs, uuid_of

KNOWN = {
    "0049ecdc-6271-53d1-9a79-e9ebd874cb81": "AEns3GJxU9Gaeenr2HTLgQ",
    "ffffffff-ffff-4fff-bfff-ffffffffffff": "________T_-__________w",
    "00000000-0000-0000-0000-000000000000": "AAAAAAAAAAAAAAAAAAAAAA",
    "123": "123",  # a v3 id: its own slug
    "0049ECDC-6271-53d1-9a79-e9ebd874cb81": "0049ECDC-6271-53d1-9a79-e9ebd874cb81",  # not canonical: kept
    "s3": "s3",
}


def test_known_answers():
    assert {i: slug(i) for i in KNOWN} == KNOWN


@given(st.uuids())
def test_a_uuid_is_22_url_safe_characters_and_comes_back(u):
    s = slug(str(u))
    assert len(s) == 22 and re.fullmatch(r"[A-Za-z0-9_-]{22}", s)
    assert uuid.UUID(bytes=base64.urlsafe_b64decode(s + "==")) == u  # lossless: no two UUIDs share a page
    assert uuid_of(s) == str(u)


def test_only_a_uuid_slug_has_a_uuid():
    for bad in ("123", "s3", "AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAA"):
        with pytest.raises(ValueError):
            uuid_of(bad)


def test_the_browser_computes_the_same_slugs():
    node = shutil.which("node")
    assert node, "node (>= 20) is needed: tests/run says how to install it"
    ids = [*KNOWN, *(str(uuid.uuid5(uuid.NAMESPACE_URL, str(k))) for k in range(50))]
    script = (
        "import {slug, uuidOf} from './site_src/static/js/slug.js';"
        f"const s = {json.dumps(ids)}.map(slug);"
        "console.log(JSON.stringify([s, s.filter(x => x.length === 22).map(uuidOf)]));"
    )
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    slugs_js, back = json.loads(out.stdout)
    assert slugs_js == [slug(i) for i in ids]
    assert back == [uuid_of(s) for s in slugs_js if len(s) == 22] == [i for i in ids if slug(i) != i]


def test_two_ids_sharing_a_page_are_one_line():
    u = "0049ecdc-6271-53d1-9a79-e9ebd874cb81"
    assert slugs([u, "x"]) == [KNOWN[u], "x"]
    with pytest.raises(InputError) as e:
        slugs([u, "x", KNOWN[u]])
    assert "\n" not in str(e.value) and u in str(e.value) and KNOWN[u] in str(e.value)


def uuid_catalog(cat: Catalog) -> Catalog:
    """``cat`` with UUID ids, each title related to the next."""
    new = {it.id: str(uuid.uuid5(uuid.NAMESPACE_URL, f"mangarec-test/{it.id}")) for it in cat.items}
    ids = list(new)
    items = tuple(
        replace(it, id=new[it.id], related=(Related(id=new[ids[(k + 1) % len(ids)]], type="Sequel", title=None),))
        for k, it in enumerate(cat.items)
    )
    return replace(cat, items=items)


def test_a_site_of_uuid_ids_links_every_title_page_by_its_slug(two_clusters, tmp_path):
    from mangarec.site import write_site

    cat = uuid_catalog(two_clusters)
    out = tmp_path / "site"
    write_site(make_result(cat), out)
    assert sorted(p.name for p in (out / "title").iterdir()) == sorted(slug(it.id) for it in cat.items)
    checked = 0
    for page in (out / "title").glob("*/index.html"):
        for a in parse_file(page).find_all("a"):
            href = a.attrs.get("href", "")
            if href.startswith(("http:", "https:", "#")) or "#" in href:
                continue
            target = (page.parent / unquote(href)).resolve()
            assert (target / "index.html" if href.endswith("/") else target).is_file(), (page, href)
            checked += 1
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'href="\.\./[0-9a-f]{8}-', text), page  # no sibling link by the long id
    assert checked > 10 * len(cat.items)
    sitemap = (out / "sitemap.xml").read_text(encoding="utf-8")
    assert all(f"title/{slug(it.id)}/" in sitemap for it in cat.items)


def test_short_ids_keep_their_folders(two_clusters, tmp_path):
    """A catalog of short ids keeps its pages where they were (title/<id>/)."""
    from mangarec.site import write_site

    cat = two_clusters
    write_site(make_result(cat), tmp_path / "site")
    assert sorted(p.name for p in (tmp_path / "site" / "title").iterdir()) == sorted(it.id for it in cat.items)

"""The written site as files: every page parses, links resolve, CSP, escaping, determinism."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from htmlcheck import parse_file
from site_helpers import make_result

from mangarec.catalog import Catalog, Item, Related, make_tags
from mangarec.paths import SITE_SRC
from mangarec.site import write_site
from mangarec.site.notfound import csp_hash, notfound_csp
from mangarec.site.render import CSP, CSP_PLOTS

PAGES = [
    "index.html",
    "explore/index.html",
    "plots/index.html",
    "feed/index.html",
    "foryou/index.html",
    "models/index.html",
    "404.html",
    "pages/about/index.html",
    "pages/privacy-overview/index.html",
    "pages/models/index.html",
    "pages/evaluation/index.html",
    "title/s0/index.html",
    "title/h11/index.html",
]


def html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_page_exists_and_parses(site_dir, two_clusters):
    for p in PAGES:
        root = parse_file(site_dir / p)
        assert root.find("main") is not None, p
        assert root.find("nav") is not None, p
        assert root.find("html").attrs["lang"] == "en"
    assert len(list((site_dir / "title").glob("*/index.html"))) == len(two_clusters)


def test_csp_meta_and_no_inline_code(site_dir):
    for path in html_files(site_dir):
        root = parse_file(path)
        metas = [m for m in root.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
        assert len(metas) == 1, path
        notfound = path.name == "404.html"
        expected = CSP_PLOTS if path.parent.name == "plots" else CSP
        if notfound:  # its own stylesheet inline, allowed by its hash only; no script at all
            css = (SITE_SRC / "static" / "css" / "site.css").read_text()
            expected = notfound_csp(CSP, css)
            assert csp_hash(css) in expected and "script-src" not in expected and "unsafe" not in expected
            assert [e.attrs.get("type") for e in root.find_all("script")] == ["application/json"]
        assert metas[0].attrs["content"] == expected
        for el in root.iter():
            assert not any(a.lower().startswith("on") for a in el.attrs), (path, el.tag, el.attrs)
            assert "style" not in el.attrs, (path, el.tag)
            if el.tag == "style":
                assert notfound and el.text() == css, path
            if el.tag == "script":
                if "src" in el.attrs:
                    assert not el.text().strip()
                else:
                    assert el.attrs.get("type") == "application/json", path
                    json.loads(el.text())
            for attr in ("href", "src", "action"):
                v = el.attrs.get(attr, "")
                assert not v.strip().lower().startswith(("javascript:", "data:", "vbscript:")), (path, v)


def _targets(site: Path, page: Path):
    root = parse_file(page)
    for el in root.iter():
        for attr in ("href", "src"):
            v = el.attrs.get(attr)
            if v is None or el.tag == "link" and el.attrs.get("rel") == "canonical":
                continue
            yield el, v


def test_relative_links_resolve(site_dir):
    """Crawl every page: each internal href/src is relative and names an existing file."""
    checked = 0
    for page in html_files(site_dir):
        if page.name == "404.html":
            continue
        for el, v in _targets(site_dir, page):
            parts = urlsplit(v)
            if parts.scheme in ("http", "https"):
                assert el.tag == "a" and "example.org/mangarec" not in v, (page, v)
                continue
            assert not v.startswith("/"), (page, v)
            target = (page.parent / unquote(parts.path)).resolve()
            if parts.path.endswith("/") or parts.path == "":
                target = target / "index.html" if parts.path else page
            assert target.is_file(), (page, v)
            assert site_dir.resolve() in target.parents, (page, v)
            checked += 1
    assert checked > 500


def test_404_is_self_contained(site_dir, result, tmp_path):
    """Served at any address: no stylesheet file to find, links from the host root while
    site_url is a placeholder, from site_url's path once configured."""
    root = parse_file(site_dir / "404.html")
    assert not [e for e in root.find_all("link") if e.attrs.get("rel") == "stylesheet"]
    assert root.find("style").text() == (SITE_SRC / "static" / "css" / "site.css").read_text()
    hrefs = [a.attrs["href"] for a in root.find("main").find_all("a")]
    assert hrefs == ["/explore/", "/"]
    out = tmp_path / "configured"
    write_site(make_result(result.catalog, site_url="https://recs.invalid/sub/"), out)
    hrefs = [a.attrs["href"] for a in parse_file(out / "404.html").find("main").find_all("a")]
    assert hrefs == ["/sub/explore/", "/sub/"]


def test_placeholder_site_url_is_reported(result, tmp_path):
    assert "placeholder" in write_site(result, tmp_path / "a")["notes"][0]
    assert write_site(make_result(result.catalog, site_url="https://recs.invalid/"), tmp_path / "b")["notes"] == []


def test_scripts_exist_and_data_island(site_dir):
    root = parse_file(site_dir / "explore" / "index.html")
    scripts = [e.attrs for e in root.find_all("script") if "src" in e.attrs]
    assert [(s["type"], s["src"].rsplit("/", 1)[1]) for s in scripts] == [("module", "explore.js")]
    assert (site_dir / "explore" / scripts[0]["src"]).resolve().is_file()
    island = json.loads(root.by_id("page-data").text())
    assert island["root"] == "../" and island["nb_shards"] >= 1
    assert [m["name"] for m in island["models"]] == ["lsi", "word2vec", "network"]
    plots = parse_file(site_dir / "plots" / "index.html")
    assert sum("plotly." in e.attrs.get("src", "") for e in plots.find_all("script")) == 1
    assert len(list((site_dir / "assets" / "js").glob("plotly.*.min.js"))) == 1


def test_title_page_content(site_dir, two_clusters):
    root = parse_file(site_dir / "title" / "s3" / "index.html")
    assert root.find("h1").text() == two_clusters["s3"].title
    lead = root.find("ol", class_="nb lead")
    others = root.find("dl", class_="others")
    cols = others.find_all("dd")
    assert lead.attrs["data-model"] == "lsi"  # the published model
    assert ", ".join(t.text() for t in others.find_all("dt")) == "word2vec (tags), Tag network"
    assert len(cols) == 2 and not any("data-model" in c.attrs for c in cols)  # the <dt> names the models
    links = [a.attrs["href"] for a in lead.find_all("a")]
    assert len(links) == 10
    # the two clusters are disjoint: every neighbour of a sports title is a sports title
    assert all(h.startswith("../s") for h in links[:5]), links
    for c in cols:  # each other model's top 3, a title the page links already named without a link
        names = c.text().split(" · ")
        assert len(names) == 3 and all(n.startswith("Sports title ") for n in names), names
    assert "../../explore/" in [a.attrs["href"] for a in root.find_all("a")]  # title.js adds "#s3"
    assert root.find("div", class_="rate") is None  # title.js adds the like buttons


def _evil_catalog() -> Catalog:
    evil = '<script>window.__xss=1</script>"><img src=x onerror=window.__xss=2>'
    items = [
        Item(
            id="e1",
            title=evil,
            kind="manga",
            tags=make_tags({"genre": ["<b>Bold</b>", "Horror"]}),
            alt_titles=("</script><script>window.__xss=3</script>",),
            description=evil + "\n\n" + evil,
            external=(("mal", "javascript:window.__xss=4"), ("web", "https://example.com/ok")),
            related=(
                Related(id="e2", type="sequel", title=evil),
                Related(id="zz", type="x", title="javascript:alert(1)"),
            ),
            url="javascript:window.__xss=5",
            year=2001,
        ),
        Item(
            id="e2", title="Plain & simple", kind="manga", tags=make_tags({"genre": ["Horror", "</script>"]}), year=2002
        ),
        Item(id="e3", title="Third", kind="manga", tags=make_tags({"genre": ["Horror", "<b>Bold</b>"]}), year=2003),
    ]
    return Catalog(items=tuple(items), sources=("evil",))


def test_malicious_catalog_is_inert_text(tmp_path):
    out = tmp_path / "evil"
    write_site(make_result(_evil_catalog(), k=2), out)
    for page in html_files(out):
        text = page.read_text()
        assert "<script>window" not in text and "<img src=x" not in text
        root = parse_file(page)
        for el in root.find_all("script"):
            assert "src" in el.attrs or el.attrs.get("type") == "application/json"
            assert "</script" not in el.text().lower()
        for el in root.iter():
            assert not any(a.startswith("on") for a in el.attrs)
            assert not el.attrs.get("href", "").lower().startswith("javascript:")
    root = parse_file(out / "title" / "e1" / "index.html")
    assert root.find("h1").text() == _evil_catalog()["e1"].title
    assert "https://example.com/ok" in [a.attrs.get("href") for a in root.find_all("a")]
    feed = parse_file(out / "feed" / "index.html")
    island = json.loads(feed.by_id("page-data").text())
    assert "<b>Bold</b>" in island["tags"] and "</script>" in island["tags"]
    for f in (out / "data").rglob("*.json"):
        json.loads(f.read_text())


def tree_digest(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*")) if p.is_file()
    }


def test_deterministic(result, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_site(result, a)
    write_site(result, b)
    assert tree_digest(a) == tree_digest(b)


def test_no_timestamps_other_than_build_date(site_dir):
    pattern = re.compile(r"20\d\d-\d\d-\d\d")
    for page in html_files(site_dir):
        for found in pattern.findall(page.read_text()):
            assert found == "2026-11-23", (page, found)


def test_write_site_stats(result, tmp_path):
    stats = write_site(result, tmp_path / "s")
    assert stats["pages"] == len(result.catalog) + 11
    assert stats["files"] > stats["pages"] and stats["seconds"] >= 0


def test_forked_title_workers_give_identical_output(result, tmp_path):
    a, b = tmp_path / "one", tmp_path / "two"
    sa = write_site(result, a, workers=1)
    sb = write_site(result, b, workers=2)
    assert tree_digest(a) == tree_digest(b)
    assert (sa["pages"], sa["files"], sa["bytes"]) == (sb["pages"], sb["files"], sb["bytes"])

"""assets, markdown pages, sitemap, render helpers, serve."""

from __future__ import annotations

import gzip
import re
import threading
import urllib.error
import urllib.request

import pytest
from htmlcheck import parse

from mangarec.site.assets import copy_assets
from mangarec.site.markdown_pages import load_pages, render_markdown
from mangarec.site.render import environment, json_island
from mangarec.site.serve import make_server
from mangarec.site.sitemap import robots_txt, sitemap_xml


def test_assets_hashed_and_plotly_copied(tmp_path):
    """Files get their hash in their names; ES modules, which import each other by relative
    path, are copied as a tree under one hash of its files (a change renames every file in it),
    each folder of modules its own tree; the contribution panel's trees only when asked."""
    static = tmp_path / "static"
    (static / "js" / "privacy").mkdir(parents=True)
    (static / "css").mkdir()
    (static / "js" / "a.js").write_text("1")
    (static / "js" / "b.js").write_text("import './a.js';")
    (static / "js" / "privacy" / "p.js").write_text("p")
    (static / "css" / "s.css").write_text("s")
    (static / "x.json").write_text("{}")  # top-level files are not assets
    m1 = copy_assets(tmp_path / "o1", static, trees=True)
    assert set(m1) == {"js/a.js", "js/b.js", "js/privacy/p.js", "css/s.css", "js/plotly.min.js"}
    assert re.fullmatch(r"assets/js\.[0-9a-f]{10}/a\.js", m1["js/a.js"]), m1
    assert m1["js/b.js"] == m1["js/a.js"][: -len("a.js")] + "b.js"  # siblings: "./a.js" resolves
    assert re.fullmatch(r"assets/js/privacy\.[0-9a-f]{10}/p\.js", m1["js/privacy/p.js"]), m1
    assert re.fullmatch(r"assets/css/s\.[0-9a-f]{10}\.css", m1["css/s.css"]), m1
    assert (tmp_path / "o1" / m1["js/a.js"]).read_text() == "1"
    assert (tmp_path / "o1" / m1["js/plotly.min.js"]).stat().st_size > 1_000_000
    (static / "js" / "a.js").write_text("2")
    m2 = copy_assets(tmp_path / "o2", static, trees=False)
    assert m2["js/a.js"] != m1["js/a.js"] and m2["js/b.js"] != m1["js/b.js"]
    assert m2["js/plotly.min.js"] == m1["js/plotly.min.js"] and m2["css/s.css"] == m1["css/s.css"]
    assert "js/privacy/p.js" not in m2


def test_markdown_escapes_raw_html():
    html = str(
        render_markdown(
            "# T\n\n<script>alert(1)</script>\n\nx <img src=x onerror=alert(1)> "
            "[a](javascript:alert(1)) [b](../ok/) [c](https://example.org)"
        )
    )
    root = parse(html)
    assert not root.find_all("script") and not root.find_all("img")
    assert "<script>alert(1)</script>" in root.text()
    hrefs = [a.attrs.get("href") for a in root.find_all("a")]
    assert hrefs == [None, "../ok/", "https://example.org"]


def test_site_pages_load():
    pages = {p.slug: p for p in load_pages()}
    assert {"about", "privacy-overview", "models", "evaluation"} <= set(pages)
    assert pages["privacy-overview"].title == "Privacy"
    assert parse(str(pages["models"].html)).find("table") is not None


def test_sitemap_and_robots():
    xml = sitemap_xml("https://e.org/s/", ["title/b/", "", "title/a&b/"], "2026-11-23T00:00:00Z")
    import xml.etree.ElementTree as ET

    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [e.text for e in ET.fromstring(xml).findall("s:url/s:loc", ns)]
    assert locs == ["https://e.org/s/", "https://e.org/s/title/a&b/", "https://e.org/s/title/b/"]
    assert "<lastmod>2026-11-23</lastmod>" in xml
    assert robots_txt("https://e.org/s/").endswith("Sitemap: https://e.org/s/sitemap.xml\n")


def test_json_island_cannot_close_script():
    text = str(json_island({"t": "</script><!-- & \u2028"}))
    assert "<" not in text and ">" not in text and "&" not in text
    import json

    assert json.loads(text) == {"t": "</script><!-- & \u2028"}


def test_environment_is_strict_and_autoescaping():
    from jinja2 import UndefinedError

    env = environment()
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    with pytest.raises(UndefinedError):
        env.from_string("{{ missing }}").render()


@pytest.fixture
def server(site_dir):
    srv = make_server(site_dir, port=0, base_path="/sub/path/")
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/sub/path/", site_dir
    srv.shutdown()
    srv.server_close()


def _get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_serve_mime_types_and_base_path(server):
    base, site = server
    status, h, body = _get(base + "explore/")
    assert status == 200 and h["Content-Type"].startswith("text/html")
    js = next(site.glob("assets/js.*/site.js")).relative_to(site).as_posix()  # a module: strict MIME
    assert _get(base + js)[1]["Content-Type"].startswith("text/javascript")
    assert _get(base + "data/maps/titles.json")[1]["Content-Type"] == "application/json"
    svg = next((site / "assets" / "img").glob("icon.*.svg")).name
    assert _get(base + "assets/img/" + svg)[1]["Content-Type"] == "image/svg+xml"
    status, h, body = _get(base + "no/such/page")
    assert status == 404 and b"Page not found" in body
    root = base.replace("/sub/path/", "/")
    assert _get(root + "index.html")[0] == 404
    assert _get(base + "explore")[0] == 200  # redirected to explore/


def test_serve_gzip(server):
    base, site = server
    data = b'{"a":1}'
    (site / "data" / "z.json.gz").write_bytes(gzip.compress(data, mtime=0))
    status, h, body = _get(base + "data/z.json.gz")
    assert status == 200 and h["Content-Type"] == "application/gzip" and gzip.decompress(body) == data
    status, h, body = _get(base + "data/z.json", {"Accept-Encoding": "gzip"})
    assert status == 200 and h.get("Content-Encoding") == "gzip" and h["Content-Type"] == "application/json"
    assert gzip.decompress(body) == data


def test_serve_prefers_a_gzip_copy_beside_the_file(server):
    """Like nginx's gzip_static: foo.bin.gz beside foo.bin goes to clients that accept gzip."""
    base, site = server
    data = bytes(range(256)) * 40
    (site / "data" / "y.bin").write_bytes(data)
    (site / "data" / "y.bin.gz").write_bytes(gzip.compress(data, mtime=0))
    status, h, body = _get(base + "data/y.bin", {"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and h.get("Content-Encoding") == "gzip" and h.get("Vary") == "Accept-Encoding"
    assert h["Content-Type"] == "application/octet-stream" and gzip.decompress(body) == data
    status, h, body = _get(base + "data/y.bin")
    assert status == 200 and "Content-Encoding" not in h and body == data

"""The For-you "Contribute anonymously" panel exists only on a site built with
``privacy.collect_url``, and only then does the page's CSP admit the collection origin."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from mangarec.config import load_config
from mangarec.site import write_site
from mangarec.site.context import collect_settings
from mangarec.site.render import CSP, csp_collecting

URL = "https://collect.example.org:8443/base/"


def _csp(html: str) -> str:
    m = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    assert m
    return m.group(1).replace("&#39;", "'")


def test_no_panel_and_no_collection_origin_by_default(site_dir):
    html = (site_dir / "foryou" / "index.html").read_text()
    assert 'id="contribute"' not in html and "panel" not in html and "Contribute anonymously" not in html
    assert _csp(html) == CSP
    assert not list((site_dir / "assets").rglob("*.mjs")) and not list((site_dir / "assets").rglob("panel.js"))
    assert collect_settings(load_config(None)) is None


def test_panel_and_csp_when_collecting(result, tmp_path):
    out = tmp_path / "site"
    cfg = result.config
    write_site(replace(result, config=replace(cfg, privacy=replace(cfg.privacy, collect_url=URL, min_cohort=40))), out)
    assert collect_settings(replace(cfg, privacy=replace(cfg.privacy, collect_url=URL))) == (URL.rstrip("/"), 32)
    html = (out / "foryou" / "index.html").read_text()
    assert '<h2 id="contribute-h">Contribute anonymously</h2>' in html
    assert '<button type="button" id="contribute-btn" class="btn">Contribute anonymously</button>' in html
    assert "could pick out your whole list" in html  # the re-identification caveat, in plain words
    csp = _csp(html)
    assert "connect-src 'self' https://collect.example.org:8443;" in csp
    assert csp == csp_collecting(URL)
    m = re.search(r'<script type="module" src="(\.\./assets/js/privacy\.[^"]+)"></script>', html)
    assert m and m.group(1).endswith("/panel.js")
    assert (out / "foryou" / m.group(1)).resolve().is_file()
    island = re.search(r'<script type="application/json" id="collect-config">([^<]*)</script>', html)
    assert island and '"collect_json":"../data/collect.json"' in island.group(1)
    for key in ("worker", "sodium", "profile"):
        path = re.search(f'"{key}":"([^"]+)"', island.group(1))
        assert path and (out / "foryou" / path.group(1)).resolve().is_file(), key
    for other in ("index.html", "explore/index.html", "feed/index.html"):  # other pages: the plain CSP
        assert "collect.example.org" not in _csp((out / other).read_text()), other


@pytest.mark.parametrize("bad", ["ftp://x.org", "https://", "https://x.org/ 'unsafe-inline'", "javascript:alert(1)"])
def test_collect_url_must_be_a_plain_http_origin(bad):
    with pytest.raises(ValueError, match="privacy.collect_url"):
        csp_collecting(bad)

"""For-you on the compact file (version 4), in headless Chromium: what it fetches, and when.

The bundled catalog's built site is copied and its compact file rewritten with only 150 titles
up front, so that some of the visitor's likes live in shards. Before the first recommendation
the page fetches the compact document, its codes file and the shards of the liked titles that
are not up front, nothing else of ``data/`` (no neighbour shard, not the full file); opening a
pick's details fetches its neighbour shard then.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from conftest import Server, assert_clean, open_page, wait_for

from mangarec import client, compact, lean, publish
from mangarec.models import spec

pytestmark = pytest.mark.browser

DATA_REQUESTS = (
    "return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)"
    ".filter(p => p.indexOf('/data/') === 0)"
)


@pytest.fixture(scope="module")
def small_front(built, tmp_path_factory):
    out, _, _, result = built
    site = tmp_path_factory.mktemp("compact") / "site"
    shutil.copytree(out, site, symlinks=True)
    name = result.report.published.model
    fold = result.embeddings[name].foldin
    doc, shards = compact.build_compact(
        result.catalog,
        result.embeddings[name],
        reg=fold.reg,
        mode=fold.mode,
        alpha=fold.alpha,
        schedule=fold.schedule,
        build_date="test",
        dims=0,
        bits=6,
        recommend_n=150,
        shard_size=8,
    )
    shutil.rmtree(site / "data" / "embeddings-compact", ignore_errors=True)  # none: every title was up front
    shutil.rmtree(site / "data" / "taste")  # the default form's (version 7)
    compact.write_compact(site, doc, shards)
    page = site / "foryou" / "index.html"  # the page of a site publishing version 4: no title files to prefetch
    page.write_text(page.read_text().replace('"taste_files":"taste/{}.json"', '"taste_files":null'))
    server = Server(site)
    yield site, server, result, doc
    server.close()


def test_first_answer_fetches_only_the_model_and_the_rated_shards(browser, small_front):
    site, server, result, doc = small_front
    order = np.argsort(result.catalog.tie_order, kind="stable")
    ids = [result.catalog.ids[k] for k in order]
    front = set(doc["items"]["ids"])
    likes = {i: "like" for i in ids[:3] + ids[200:203]}  # three up front, three in shards
    count = doc["shards"]["count"]
    need = {compact.shard_of(i, count) for i in likes if i not in front}
    open_page(browser, server.url + "foryou/")
    browser.execute_script(
        "localStorage.setItem('mangarec.ratings.v1', arguments[0]); location.reload();", json.dumps(likes)
    )
    wait_for(browser, "return document.querySelectorAll('#recs-list > li').length >= 10")
    fetched = browser.execute_script(DATA_REQUESTS)
    expect = {"/data/embeddings-compact.json", "/data/embeddings-compact.bin"} | {
        "/data/" + doc["shards"]["path"].format(k) for k in need
    }
    assert sorted(fetched) == sorted(expect), fetched  # each once, nothing else of data/
    recs = browser.execute_script(
        "return Array.from(document.querySelectorAll('#recs-list > li')).map(li => li.dataset.id)"
    )
    assert set(recs) <= front and not set(recs) & set(likes)
    # names from the model: the picks and the rated titles in shards are named, not shown as ids
    titles = browser.execute_script(
        "return Array.from(document.querySelectorAll('#recs-list .card-title, #rated-list .card-title'))"
        ".map(a => [a.closest('li').dataset.id, a.textContent])"
    )
    assert titles and all(t == result.catalog[i].title for i, t in titles), titles
    why = browser.find_element("css selector", "#recs-list > li .why").text
    assert why.startswith(("Pulled up by “", "Close to your taste")), why
    # the details of a pick fetch its neighbour shard, then
    first = browser.find_element("css selector", "#recs-list > li")
    first.find_element("css selector", "details.pick-details summary").click()
    wait_for(browser, "return document.querySelector('#recs-list > li details .tags .tag') !== null")
    after = browser.execute_script(DATA_REQUESTS)
    assert any(p.startswith("/data/nb/") for p in after) and set(after) - set(fetched) <= {
        p for p in after if p.startswith("/data/nb/")
    }
    assert_clean(browser)


def test_the_full_file_stays_for_other_readers(small_front):
    site, _, _, doc = small_front
    from mangarec import client

    full = client.load(str(site / "data" / "embeddings.json"))
    small = client.load(str(site / "data" / "embeddings-compact.json"))
    assert full.meta["subset"] is None and small.n_recommendable == 150 == doc["count"]
    assert sorted(small.ids) == sorted(full.ids)
    assert json.loads((site / "data" / "embeddings.json").read_text())["version"] == publish.SCHEMA_VERSION


def test_the_default_form_fetches_the_document_the_rated_titles_files_and_the_picks_names(browser, built):
    """The per-title form, version 7 (the default: ``compact_candidates = -1``, the published model's
    declared count): before the first recommendation For-you fetches the document, one file per
    rated title (beside the document, not after it) and the name blocks of the picks, nothing else
    of ``data/``; every pick is a candidate of a liked title, shown
    with its name, never its id; the page preloads the modules For-you imports."""
    out, _, _, result = built
    doc = json.loads((out / "data" / compact.DOC_NAME).read_text())
    declared = spec(result.report.published.model).candidates
    assert doc["version"] == lean.VERSION == 7 and doc["titles"]["candidates"] == declared
    html = (out / "foryou" / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="\.\./assets/js\.[0-9a-f]+/([a-z]+\.js)">', html))
    assert preloaded == {"site.js", "profile.js", "taste.js", "picks.js", "hash.js", "slug.js", "lean.js"}, preloaded
    order = np.argsort(result.catalog.tie_order, kind="stable")
    ids = [result.catalog.ids[k] for k in order]
    likes = {i: "like" for i in ids[:3] + ids[200:203]}
    server = Server(out)
    try:
        open_page(browser, server.url + "foryou/")
        browser.execute_script(
            "localStorage.setItem('mangarec.ratings.v1', arguments[0]); location.reload();", json.dumps(likes)
        )
        wait_for(browser, "return document.getElementById('recs-status').textContent.startsWith('Ranked')")
        fetched = browser.execute_script(DATA_REQUESTS)
        model = client.load(str(out / "data" / compact.DOC_NAME), rated=list(likes))
        top = model.recommend(likes, n=20)
        rows = {model.names.row_of(i) for i, _ in top}  # the rated titles are named by their own files
        blocks = {"/data/" + lean.NAMES_PATH.format(r // lean.BLOCK) for r in rows}
        expect = {"/data/" + compact.DOC_NAME} | {"/data/taste/" + i + ".json" for i in likes} | blocks
        assert sorted(fetched) == sorted(expect), fetched
        titles = browser.execute_script(
            "return Array.from(document.querySelectorAll('#recs-list .card-title'))"
            ".map(a => [a.closest('li').dataset.id, a.textContent])"
        )
        assert [i for i, _ in titles] == [i for i, _ in top]  # the Python client's picks, in order
        assert all(t == result.catalog[i].title for i, t in titles), titles
        rated = browser.execute_script(
            "return Array.from(document.querySelectorAll('#rated-list .card-title')).map(a => a.textContent)"
        )
        assert sorted(rated) == sorted(result.catalog[i].title for i in likes)
        # the rated titles' files were requested before the document had arrived
        timing = browser.execute_script(
            "return performance.getEntriesByType('resource').filter(e => e.name.indexOf('/data/') > 0)"
            ".map(e => [new URL(e.name).pathname, e.startTime, e.responseEnd])"
        )
        doc_end = next(end for p, _, end in timing if p.endswith(compact.DOC_NAME))
        assert all(start < doc_end for p, start, _ in timing if p.startswith("/data/taste/") and "names" not in p)
        assert_clean(browser)
    finally:
        server.close()

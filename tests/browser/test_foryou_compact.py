"""For-you on the compact file (version 4), in headless Chromium: what it fetches, and when.

The bundled catalog's built site is copied and its compact file rewritten with only 150 titles
up front, so that some of the visitor's likes live in shards. Before the first recommendation
the page fetches the compact document, its codes file and the shards of the liked titles that
are not up front, nothing else of ``data/`` (no neighbour shard, not the full file); opening a
pick's details fetches its neighbour shard then.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import Server, assert_clean, open_page, wait_for

from mangarec import compact, kernel, publish

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
    compact.write_compact(site, doc, shards)
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


def test_titles_form_first_answer_fetches_the_document_and_the_rated_titles_files(browser, built, tmp_path):
    """The per-title form (version 6, ``compact_candidates > 0``): before the first recommendation For-you fetches
    the document and one file per rated title, nothing else of ``data/``; every pick is a
    candidate of a liked title, named from the lists."""
    built_out, _, _, result = built
    out = tmp_path / "site"
    shutil.copytree(built_out, out, symlinks=True)
    name = result.report.published.model
    fold = result.embeddings[name].foldin
    kw = dict(reg=fold.reg, mode=fold.mode, alpha=fold.alpha, schedule=fold.schedule, build_date="test")
    kernel.write_titles(out, *kernel.build_titles(result.catalog, result.embeddings[name], candidates=100, **kw))
    doc = json.loads((out / "data" / compact.DOC_NAME).read_text())
    assert doc["version"] == kernel.VERSION == 6 and "ids" not in doc["items"]
    order = np.argsort(result.catalog.tie_order, kind="stable")
    ids = [result.catalog.ids[k] for k in order]
    likes = {i: "like" for i in ids[:3] + ids[200:203]}
    server = Server(out)
    try:
        open_page(browser, server.url + "foryou/")
        browser.execute_script(
            "localStorage.setItem('mangarec.ratings.v1', arguments[0]); location.reload();", json.dumps(likes)
        )
        wait_for(browser, "return document.querySelectorAll('#recs-list > li').length >= 10")
        fetched = browser.execute_script(DATA_REQUESTS)
        expect = {"/data/" + compact.DOC_NAME} | {"/data/taste/" + i + ".json" for i in likes}
        assert sorted(fetched) == sorted(expect), fetched
        listed = set()
        for i in likes:
            listed |= set(json.loads((out / "data" / "taste" / f"{i}.json").read_text())["near"]["ids"])
        titles = browser.execute_script(
            "return Array.from(document.querySelectorAll('#recs-list .card-title'))"
            ".map(a => [a.closest('li').dataset.id, a.textContent])"
        )
        assert titles and {i for i, _ in titles} <= listed - set(likes)
        assert all(t == result.catalog[i].title for i, t in titles), titles
        assert_clean(browser)
    finally:
        server.close()

"""The built site in headless Chromium: every page, search, plots, likes → feed, sub-path, XSS.

The site is built by the real pipeline (``mangarec.pipeline.run_build``) from the bundled
catalog (artefacts cached in ``$MANGAREC_CACHE_DIR`` or ``.cache/``), served by
``mangarec.site.serve`` on 127.0.0.1 (ephemeral port) at the root and under ``/sub/path/``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import Server, assert_clean, open_page, page_modules, wait_for

from mangarec.site.context import label

pytestmark = pytest.mark.browser


def first_id(result) -> str:
    return result.catalog.items[0].id


def test_every_page_loads_clean(browser, built):
    out, root, _, result = built
    ids = [first_id(result), result.catalog.items[-1].id]
    pages = {
        "": "return document.querySelector('.cards li') !== null",
        "explore/": "return document.getElementById('q') !== null",
        "plots/": "return (document.getElementById('plot-status').textContent || '').indexOf('titles.') > 0",
        "feed/": "return document.querySelectorAll('#feed > li').length > 0",
        "foryou/": "return !document.getElementById('profile-tools').hidden",
        "models/": "return document.querySelector('table.heatmap') !== null",
        "pages/about/": None,
        "pages/privacy-overview/": None,
        "pages/models/": None,
        "pages/evaluation/": None,
        "404.html": None,
        **{f"title/{i}/": "return !document.querySelector('.rate').hidden" for i in ids},
    }
    for path, ready in pages.items():
        open_page(browser, root.url + path, ready)
        assert_clean(browser)
        assert browser.find_element("css selector", "main h1").text.strip(), path
    # an unknown URL gets the styled 404 page (the only failed request is its own 404 status:
    # it knows the site root from the build, it does not probe for it)
    open_page(browser, root.url + "no/such/page/")
    assert "Page not found" in browser.find_element("css selector", "h1").text
    time.sleep(0.5)  # a probe would have been sent at load: give its answers time to be logged
    assert_clean(browser, allow=("no/such/page/ - Failed to load resource",))
    assert browser.execute_script("return getComputedStyle(document.body).margin") == "0px"  # CSS loaded


def _search_and_pick(browser, base: str, result):
    from selenium.webdriver.common.keys import Keys

    item = max(result.catalog.items, key=lambda it: it.popularity)
    open_page(browser, base + "explore/", "return document.getElementById('q') !== null")
    box = browser.find_element("id", "q")
    t0 = time.time()
    box.send_keys(item.title[:4])
    wait_for(browser, "return document.querySelectorAll('#results li').length > 0")
    elapsed = time.time() - t0
    options = browser.execute_script(
        "return Array.from(document.querySelectorAll('#results li')).map(li => li.dataset.id)"
    )
    assert item.id in options
    k = options.index(item.id)
    for _ in range(k + 1):
        box.send_keys(Keys.ARROW_DOWN)
    assert (
        browser.execute_script("return document.getElementById('q').getAttribute('aria-activedescendant')")
        == f"results-opt-{k}"
    )
    box.send_keys(Keys.ENTER)
    # "Same series" first (only its members shown), then the similar-title models in report order
    models = sorted(result.neighbours, key=lambda m: m != "series")
    wait_for(browser, f"return document.querySelectorAll('#model-columns .model-col').length === {len(models)}")
    cols = browser.execute_script("""
        return Array.from(document.querySelectorAll('#model-columns .model-col')).map(c => ({
          model: c.dataset.model, links: Array.from(c.querySelectorAll('a')).map(a => a.getAttribute('href')),
          scores: Array.from(c.querySelectorAll('.score')).map(s => parseFloat(s.textContent))}))""")
    assert [c["model"] for c in cols] == models
    p = result.catalog.index[item.id]
    for c in cols:
        nb = result.neighbours[c["model"]]
        membership = result.embeddings[c["model"]].membership
        floor = membership.member_score if membership is not None else None
        floor = -np.inf if floor is None else floor
        shown = [k for k in range(min(10, nb.k)) if nb.indices[p, k] >= 0 and nb.scores[p, k] >= floor - 1e-6]
        expected = [result.catalog.ids[nb.indices[p, k]] for k in shown]
        assert c["links"] == [f"../title/{i}/" for i in expected]
        assert c["scores"] == pytest.approx([float(nb.scores[p, k]) for k in shown], abs=1e-3)
    assert browser.find_element("id", "chosen-title").text == item.title
    return cols, elapsed


def test_search_pick_shows_neighbours_of_every_model(browser, built):
    out, root, _, result = built
    cols, elapsed = _search_and_pick(browser, root.url, result)
    assert_clean(browser)
    # follow a neighbour link to its title page
    browser.find_element("css selector", "#model-columns .model-col a").click()
    wait_for(browser, "return location.pathname.indexOf('/title/') >= 0 && document.querySelector('h1') !== null")
    target = next(c["links"][0] for c in cols if c["links"]).split("/")[-2]
    assert browser.find_element("css selector", "h1").text == result.catalog[target].title
    assert_clean(browser)


def test_plots_switch_models_and_colour(browser, built):
    out, root, _, result = built
    open_page(browser, root.url + "plots/", "return document.getElementById('plot').dataset.model")
    models = browser.execute_script("return Array.from(document.querySelectorAll('#model option')).map(o => o.value)")
    assert models == [m for m in result.neighbours if m in result.maps]
    for m in models[1:] + models[:1]:
        browser.execute_script(
            "const s = document.getElementById('model'); s.value = arguments[0];s.dispatchEvent(new Event('change'));",
            m,
        )
        wait_for(browser, f"return document.getElementById('plot').dataset.model === '{m}'")
        n = browser.execute_script("return document.getElementById('plot').data.reduce((a, t) => a + t.x.length, 0)")
        assert n == len(result.catalog)
        assert browser.execute_script("return document.getElementById('plot').data[0].type") == "scattergl"
    browser.execute_script(
        "const s = document.getElementById('colour'); s.value = 'group:genre';s.dispatchEvent(new Event('change'));"
    )
    wait_for(browser, "return document.getElementById('plot').data.length > 2")
    assert browser.execute_script("return document.querySelectorAll('#plot canvas').length") > 0
    assert_clean(browser)


def test_likes_on_title_pages_rerank_the_feed(browser, built):
    from mangarec.client import load

    out, root, _, result = built
    open_page(browser, root.url + "feed/", "return document.querySelectorAll('#feed > li').length > 0")
    recency = browser.execute_script(
        "return Array.from(document.querySelectorAll('#feed > li')).map(li => li.dataset.id)"
    )
    # like three titles that share the tags of the 40th recent title, dislike the first one
    target = result.catalog[recency[40]]
    pos = result.catalog.index[target.id]
    nb = result.neighbours[next(iter(result.neighbours))]
    liked = [target.id] + [result.catalog.ids[j] for j in nb.indices[pos, :2]]
    ratings = {i: "like" for i in liked}
    ratings[recency[0]] = "dislike"
    for iid, value in ratings.items():
        open_page(browser, root.url + f"title/{iid}/", "return !document.querySelector('.rate').hidden")
        browser.find_element("css selector", f".rate button[data-rate='{value}']").click()
        assert (
            browser.find_element("css selector", f".rate button[data-rate='{value}']").get_attribute("aria-pressed")
            == "true"
        )
        assert_clean(browser)
    open_page(
        browser,
        root.url + "feed/",
        "return (document.getElementById('feed-status').textContent || '').indexOf('Ranked for you') === 0",
    )
    order = browser.execute_script(
        "return Array.from(document.querySelectorAll('#feed > li')).map(li => li.dataset.id)"
    )
    why = browser.execute_script("return Array.from(document.querySelectorAll('#feed .why')).map(p => p.textContent)")
    assert sorted(order) == sorted(recency) and order != recency
    # the browser's ranking follows the Python client's fold-in on the same published JSON
    model = load(str(out / "data" / "embeddings.json"))
    taste = model.fit(ratings)
    score = {i: float(model.vectors[model.index[i]] @ taste) for i in order if i in model.index}
    # the rated titles and the other formats of their works are never recommended: they go last
    skip = {model.ids[r] for r in model.excluded(ratings)}
    ranked = [i for i in order if i not in skip]
    assert order[: len(ranked)] == ranked
    values = [score[i] for i in ranked]
    assert all(a >= b - 1e-6 for a, b in zip(values, values[1:]))
    in_feed = set(ratings) & set(order)
    assert recency[0] in in_feed and target.id in in_feed
    assert in_feed <= set(order[len(ranked) :]) == skip & set(order)  # rated titles (and their works) last
    assert why[0].startswith("Pulled up by “") and why[0].endswith("”, which you liked.")
    assert why[order.index(recency[0])] == "You disliked this."
    assert_clean(browser)


def test_foryou_onboarding_recommends_and_exports(browser, built, tmp_path):
    out, root, _, result = built
    open_page(browser, root.url + "foryou/", "return !document.getElementById('profile-tools').hidden")
    cards = browser.execute_script(
        "return Array.from(document.querySelectorAll('.onboarding .card')).map(c => c.dataset.id)"
    )
    assert len(cards) == 12 and len(set(cards)) == 12
    assert browser.find_element("id", "show-recs").get_attribute("hidden") is not None
    for k, value in ((0, "like"), (1, "like"), (2, "dislike")):
        browser.find_element("css selector", f".card[data-id='{cards[k]}'] button[data-rate='{value}']").click()
    assert "3 of 12 rated" in browser.find_element("id", "ob-progress").text
    browser.find_element("id", "show-recs").click()
    wait_for(browser, "return document.querySelectorAll('#recs-list > li').length >= 10")
    recs = browser.execute_script(
        "return Array.from(document.querySelectorAll('#recs-list > li')).map(li => li.dataset.id)"
    )
    assert not set(recs) & set(cards[:3])
    assert all(r in result.catalog.index for r in recs)
    # import replaces the profile with a file's ratings
    export = page_modules(browser, ("profile",), "return mod.profile.profile().exportJSON();")
    assert json.loads(export)["ratings"] == {cards[0]: "like", cards[1]: "like", cards[2]: "dislike"}
    f = tmp_path / "ratings.json"
    f.write_text(json.dumps({"schema": "mangarec-ratings", "version": 1, "ratings": {cards[5]: "like"}}))
    browser.find_element("id", "import").send_keys(str(f))
    wait_for(browser, "return document.getElementById('profile-status').textContent.indexOf('Imported') === 0")
    assert (
        browser.find_element("css selector", f".card[data-id='{cards[5]}'] button[data-rate='like']").get_attribute(
            "aria-pressed"
        )
        == "true"
    )
    assert (
        browser.find_element("css selector", f".card[data-id='{cards[0]}'] button[data-rate='like']").get_attribute(
            "aria-pressed"
        )
        == "false"
    )
    assert_clean(browser)


def test_site_works_under_a_sub_path(browser, built):
    out, _, sub, result = built
    assert sub.url.endswith("/sub/path/")
    open_page(browser, sub.url, "return document.querySelector('.cards li') !== null")
    assert_clean(browser)
    browser.find_element("css selector", "nav a[href='./explore/']").click()
    wait_for(browser, "return location.pathname === '/sub/path/explore/'")
    _search_and_pick(browser, sub.url, result)
    for path, ready in (
        ("plots/", "return document.getElementById('plot').dataset.model"),
        (f"title/{first_id(result)}/", "return !document.querySelector('.rate').hidden"),
        ("feed/", None),
        ("models/", None),
        ("pages/about/", None),
    ):
        open_page(browser, sub.url + path, ready)
        assert_clean(browser)
        hrefs = browser.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        internal = [h for h in hrefs if h.startswith(sub.url.split("/sub/")[0])]
        assert internal and all(h.startswith(sub.url) for h in internal), path


def test_title_page_readable_without_javascript(browser, built):
    out, root, _, result = built
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    iid = first_id(result)
    browser.get(root.url + f"title/{iid}/")
    assert browser.find_element("css selector", "h1").text == result.catalog[iid].title
    # without scripts the page keeps its lists: "Similar titles" (10, with shared tags) and the
    # top 3 of every other model, with the link to explore's full side by side
    lead = browser.find_elements("css selector", "ol.lead li a")
    assert len(lead) == 10 and browser.find_elements("css selector", "ol.lead li small")
    cols = browser.find_elements("css selector", "dl.others dd")
    others = [m for m in result.neighbours if m not in ("series", result.report.published.model)]
    # models that agree share a line, named by their labels in its <dt>
    lines = [dt.text.split(", ") for dt in browser.find_elements("css selector", "dl.others dt")]
    assert len(lines) == len(cols) and sorted(x for line in lines for x in line) == sorted(map(label, others))
    assert [line[0] for line in lines] == [label(m) for m in others if label(m) in {line[0] for line in lines}]
    assert all(len(c.text.split(" · ")) == 3 for c in cols)
    hrefs = [a.get_attribute("href") for a in browser.find_elements("css selector", "ol.lead a, dl.others a")]
    titles = [h for h in hrefs if "/title/" in h]
    assert len(titles) == len(set(titles)) >= 10  # each title linked once per page
    assert browser.find_element("link text", "explore").get_attribute("href").endswith("explore/")
    assert not browser.find_elements("css selector", ".rate")  # the like buttons come with the scripts


EVIL = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'


@pytest.fixture
def evil_site(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "site"))
    from site_helpers import make_result

    from mangarec.catalog import Catalog, Item, Related, make_tags
    from mangarec.site import write_site

    items = [
        Item(
            id="e1",
            title=EVIL + " javascript:alert(1)",
            kind="manga",
            tags=make_tags({"genre": ["<img src=x onerror=window.__xss=3>", "Horror"]}),
            alt_titles=("</script><script>window.__xss=4</script>",),
            description=EVIL + "\n\n</script>" + EVIL,
            external=(("mal", "javascript:window.__xss=5"),),
            url="javascript:window.__xss=6",
            related=(Related(id="e2", type="sequel", title=EVIL),),
            year=2020,
            popularity=10,
        )
    ]
    items += [
        Item(
            id=f"e{k}",
            title=f"Scripted {k} </script>{EVIL}",
            kind="manga",
            tags=make_tags({"genre": ["Horror", "</script><script>window.__xss=7</script>"]}),
            year=2000 + k,
            description=EVIL,
        )
        for k in range(2, 8)
    ]
    out = tmp_path / "evil"
    write_site(make_result(Catalog(items=tuple(items), sources=("evil",)), k=3), out)
    server = Server(out)
    yield server
    server.close()


def test_malicious_catalog_executes_nothing(browser, evil_site):
    from selenium.common.exceptions import NoAlertPresentException

    base = evil_site.url
    for path in ("", "explore/", "plots/", "feed/", "foryou/", "models/", "title/e1/", "title/e2/"):
        open_page(browser, base + path)
        time.sleep(0.5)
        assert browser.execute_script("return window.__xss") is None, path
        with pytest.raises(NoAlertPresentException):
            _ = browser.switch_to.alert.text
        assert_clean(browser)
    open_page(browser, base + "title/e1/")
    assert browser.find_element("css selector", "h1").text == EVIL + " javascript:alert(1)"
    assert EVIL in browser.find_element("css selector", ".description").text
    hrefs = browser.execute_script("return Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
    assert not any(h and h.lower().startswith("javascript:") for h in hrefs)
    # the type-ahead shows the evil names as text
    open_page(browser, base + "explore/", "return document.getElementById('q') !== null")
    browser.find_element("id", "q").send_keys("script")
    wait_for(browser, "return document.querySelectorAll('#results li').length > 0")
    texts = browser.execute_script(
        "return Array.from(document.querySelectorAll('#results li')).map(li => li.textContent)"
    )
    assert any("<script>window.__xss=1</script>" in t for t in texts)
    browser.find_element("id", "q").send_keys("\ue015\ue007")  # ArrowDown, Enter
    wait_for(browser, "return document.querySelectorAll('#model-columns .model-col').length > 0")
    assert browser.execute_script("return window.__xss") is None
    assert browser.execute_script("return document.querySelectorAll('main img, main script').length") == 0
    open_page(browser, base + "plots/", "return document.getElementById('plot').dataset.model")
    assert browser.execute_script("return window.__xss") is None
    assert_clean(browser)


def test_uuid_ids_link_to_their_slug_pages(browser, tmp_path):
    """A live catalog's UUID ids: explore (JavaScript, slug.js) links each neighbour to the same
    title/<slug>/ page the build wrote (mangarec.site.slug), and following one opens that title."""
    import sys
    import uuid

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "site"))
    from site_helpers import make_result

    from mangarec.catalog import Catalog, Item, make_tags
    from mangarec.site import write_site
    from mangarec.site.slug import slug

    genres = [["Horror", "Mystery", "Gore"], ["Sports", "Comedy", "School Life"]]
    items = tuple(
        Item(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"mangarec-test/{k}")),
            title=f"Title {k}",
            kind="manga",
            tags=make_tags({"genre": genres[k % 2][: 2 + k % 2]}),
            year=2000 + k,
            popularity=float(10 - k),
        )
        for k in range(8)
    )
    out = tmp_path / "uuid-site"
    write_site(make_result(Catalog(items=items, sources=("uuid",)), k=3), out)
    server = Server(out)
    try:
        first = items[0]
        ready = "return document.querySelector('#model-columns a') !== null"
        open_page(browser, server.url + f"explore/#{first.id}", ready)
        hrefs = browser.execute_script(
            "return Array.from(document.querySelectorAll('#chosen-title a, #model-columns a'), "
            "a => a.getAttribute('href'))"
        )
        slugs = {slug(it.id): it for it in items}
        assert hrefs and hrefs[0] == f"../title/{slug(first.id)}/"
        assert all(h.startswith("../title/") and h.split("/")[2] in slugs for h in hrefs), hrefs
        assert all((out / "title" / h.split("/")[2] / "index.html").is_file() for h in hrefs)
        browser.find_element("css selector", "#model-columns a").click()
        wait_for(browser, "return location.pathname.indexOf('/title/') >= 0 && document.querySelector('h1') !== null")
        here = browser.execute_script("return location.pathname").split("/")[-2]
        assert browser.find_element("css selector", "h1").text == slugs[here].title
        # the page carries the slug only; title.js recovers the UUID (slug.js uuidOf) for the like
        # buttons and the link to explore
        assert slugs[here].id not in (out / "title" / here / "index.html").read_text()
        wait_for(browser, "return document.querySelector('a[href*=\"explore/#\"]') !== null")
        assert browser.find_element("css selector", ".rate").get_attribute("data-id") == slugs[here].id
        browser.find_element("link text", "explore").click()
        wait_for(browser, "return location.pathname.endsWith('/explore/') && !document.getElementById('chosen').hidden")
        assert browser.execute_script("return location.hash") == f"#{slugs[here].id}"
        assert browser.find_element("css selector", "#chosen-title").text.startswith(slugs[here].title)
        assert_clean(browser)
    finally:
        server.close()

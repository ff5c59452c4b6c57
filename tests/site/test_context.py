"""Every page's context, built from a hand-made BuildResult."""

from __future__ import annotations

import pytest
from htmlcheck import parse
from markupsafe import Markup
from site_helpers import make_result

from mangarec.site import context as C
from mangarec.site import context_site as S
from mangarec.site.data_files import onboarding
from mangarec.site.prepare import Prepared
from mangarec.site.render import CSP, CSP_PLOTS

ASSETS = {
    "css/site.css": "assets/css/site.x.css",
    "js/site.js": "assets/js.x/site.js",
    "img/icon.svg": "assets/img/icon.x.svg",
}


@pytest.fixture
def prep(result):
    return Prepared(result)


def test_root_of():
    assert C.root_of("index.html") == "./"
    assert C.root_of("explore/index.html") == "../"
    assert C.root_of("title/abc/index.html") == "../../"


def test_base_context(result):
    ctx = C.base(result, "title/x/index.html", "title", "T", ASSETS)
    assert ctx["root"] == "../../"
    assert ctx["canonical"] == "https://example.org/mangarec/title/x/"
    assert ctx["csp"] == CSP
    assert [n["href"] for n in ctx["nav"]][:2] == ["../../", "../../explore/"]
    assert not any(n["current"] for n in ctx["nav"])
    assert ctx["build_date"] == "2026-11-23"


def test_home(result, prep):
    ctx = C.home_context(result, prep, ASSETS)
    assert ctx["n_items"] == 24 and ctx["kinds"] == ["manga"]
    assert [c["id"] for c in ctx["popular"]][:2] == ["h0", "s0"]  # popularity 100, tie by id
    assert ctx["nav"][0]["current"] and ctx["root"] == "./"


def test_explore(result, prep):
    ctx = C.explore_context(result, prep, ASSETS)
    assert [m["name"] for m in ctx["data"]["models"]] == ["lsi", "word2vec", "network"]
    assert ctx["data"]["tags"] == list(result.catalog.tag_vocabulary)
    assert ctx["module"] == "js/explore.js" and ctx["scripts"] == []


def _rows(html) -> list[dict]:
    """A similar-titles list's rows: link, the similarity (the row's own text) and shared tags."""
    rows = []
    for li in parse("<ol>" + str(html) + "</ol>").find_all("li"):
        own = "".join(c for c in li.children if isinstance(c, str)).split()
        small = li.find("small")
        rows.append({"href": li.find("a").attrs["href"], "score": float(own[-1]), "shared": small and small.text()})
    return rows


def test_title(result, prep):
    p = result.catalog.index["h2"]
    ctx = C.title_context(result, prep, p, ASSETS)
    assert ctx["item"]["title"] == "Horror title 2"
    assert isinstance(ctx["description"], Markup) and "haunted house" in ctx["description"]
    # "Similar titles": the published model's 10, with the tags each shares (they explain it);
    # the other models: their top 3, without shared tags (explore has the full side by side)
    assert result.report.published.model == "lsi"
    assert ctx["similar"]["name"] == "lsi"
    assert [n for o in ctx["others"] for n in o["names"]] == ["word2vec", "network"]
    rows = _rows(ctx["similar"]["html"])
    assert len(rows) == 10 and all(r["href"].startswith("../") and r["href"].count("/") == 2 for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert [r["href"].split("/")[-2] for r in rows] == [prep.items[q].id for q in prep.neighbour_lists["lsi"][p]]
    mine = set(result.catalog["h2"].tag_list)
    for r in rows:
        theirs = set(result.catalog[r["href"].split("/")[-2]].tag_list)
        if mine <= theirs:  # every tag of h2: said in short
            assert r["shared"] == f"all {len(mine)} tags"
        elif r["shared"].startswith("all but "):  # the tags it lacks: fewer words than those it has
            assert r["shared"][len("all but ") :].split(", ") == sorted(mine - theirs)
        else:
            assert r["shared"].split(", ") == sorted(mine & theirs)
    # the others' lines: a title's link once per page, so a title "Similar titles" links is named
    linked = {r["href"] for r in rows}
    for o in ctx["others"]:
        html = str(o["html"])
        assert isinstance(o["html"], Markup) and "<li" not in html and "<small" not in html
        top = [prep.items[q] for q in prep.neighbour_lists[o["names"][0]][p][:3]]
        assert html.split(" · ") == [
            it.title if f"../{it.id}/" in linked else f'<a href="../{it.id}/">{it.title}</a>' for it in top
        ]
        linked |= {f"../{it.id}/" for it in top}
    assert ctx["data"] == {"like_threshold": 8.0, "id": "h2"}


def test_shared_tags_in_the_shorter_form(result, prep):
    # h2's tags against each title: "all N tags", "all but …" (the ones it lacks) or those shared
    p = result.catalog.index["h2"]
    mine = set(result.catalog["h2"].tag_list)
    forms = set()
    for q, it in enumerate(prep.items):
        both, lacks = sorted(mine & set(it.tag_list)), sorted(mine - set(it.tag_list))
        text = prep.shared_text(p, q)
        if not lacks and len(mine) >= 2:
            assert text == f"all {len(mine)} tags"
        elif both and len("all but " + ", ".join(lacks)) < len(", ".join(both)):
            assert text == "all but " + ", ".join(lacks)
        else:
            assert text == ", ".join(both)
        forms.add(text.split(" ")[0] if text.startswith("all") else "named")
    assert forms >= {"all", "named"}


def test_shared_tags_name_the_few_missing():
    from mangarec.catalog import Catalog, Item, make_tags

    tags = ["Action", "Adventure", "Comedy", "Drama", "Fantasy"]
    items = [
        Item(id="a", title="A", kind="manga", tags=make_tags({"genre": tags})),
        Item(id="b", title="B", kind="manga", tags=make_tags({"genre": tags[:4]})),
        Item(id="c", title="C", kind="manga", tags=make_tags({"genre": tags[:1] + ["Horror"]})),
        Item(id="d", title="D", kind="manga", tags=make_tags({"genre": ["Horror"]})),
    ]
    prep = Prepared(make_result(Catalog(items=tuple(items), sources=("t",))))
    assert [prep.shared_text(0, q) for q in (1, 2, 3)] == ["all but Fantasy", "Action", ""]
    assert prep.shared_text(1, 0) == "all 4 tags"


def test_title_says_a_top_3_shared_by_models_once(result):
    from dataclasses import replace

    same = replace(result, neighbours={**result.neighbours, "network": result.neighbours["word2vec"]})
    prep = Prepared(same)
    ctx = C.title_context(same, prep, same.catalog.index["h2"], ASSETS)
    assert [o["names"] for o in ctx["others"]] == [["word2vec", "network"]]
    assert ctx["others"][0]["labels"] == [C.label("word2vec"), C.label("network")]
    assert str(ctx["others"][0]["html"]).count(" · ") == 2


def test_a_title_is_linked_once_per_page(result, prep):
    """Each title page links each other title at most once (the lists repeat titles: the other
    models often agree with the similar titles); every title it names is linked somewhere on it."""
    from mangarec.site.render import environment

    env = environment()
    for iid in ("h2", "s5"):
        p = result.catalog.index[iid]
        page = parse(env.get_template("title.html").render(**C.title_context(result, prep, p, ASSETS)))
        hrefs = [a.attrs["href"] for a in page.find("article").find_all("a") if a.attrs["href"].startswith("../")]
        siblings = [h for h in hrefs if h.count("/") == 2]
        assert len(siblings) == len(set(siblings)) >= 10
        others = page.find("dl", class_="others")
        named = [t.strip() for dd in others.find_all("dd") for t in dd.text().split(" · ")]
        titles = {result.catalog[h.split("/")[1]].title for h in siblings}
        assert len(named) == 3 * len(others.find_all("dd")) and set(named) <= titles


def test_plots(result, prep):
    ctx = S.plots_context(result, prep, ASSETS)
    assert ctx["csp"] == CSP_PLOTS
    assert [m["name"] for m in ctx["models"]] == ["lsi", "word2vec", "network"]
    assert all(m["tags"] for m in ctx["models"])
    assert ctx["scripts"] == ["js/plotly.min.js"] and ctx["module"] == "js/plots.js"


def test_feed_is_recent_first(result, prep):
    ctx = S.feed_context(result, prep, ASSETS)
    years = [c["year"] for c in ctx["items"]]
    assert years == sorted(years, reverse=True)
    assert ctx["items"][0]["id"] in ("h11", "s11")
    assert [i[0] for i in ctx["data"]["items"]] == [c["id"] for c in ctx["items"]]


def test_feed_size_and_id_order(two_clusters):
    from site_helpers import make_result

    res = make_result(two_clusters, feed_size=5)
    prep = Prepared(res)
    ctx = S.feed_context(res, prep, ASSETS)
    assert len(ctx["items"]) == 5


def test_foryou_onboarding_is_popular_and_diverse(result, prep):
    chosen = onboarding(prep, 6)
    ctx = C.foryou_context(result, prep, ASSETS, chosen)
    ids = ctx["data"]["onboarding"]
    assert len(ids) == 6 == len(set(ids))
    assert ids[0] == "h0"  # the most popular first
    assert {i[0] for i in ids} == {"s", "h"}  # both clusters of the map
    assert [c["id"] for c in ctx["onboarding"]] == ids


def test_models(result, prep):
    ctx = S.models_context(result, prep, ASSETS, [{"slug": "models", "title": "M", "html": Markup("<p>x</p>")}])
    assert [m["name"] for m in ctx["models"]] == ["lsi", "word2vec", "network"]
    j = ctx["agreement"]
    assert len(j["rows"]) == 3 and j["rows"][0]["cells"][0]["cls"] == "heat-10"
    ev = result.report.evaluation
    assert j["rows"][0]["cells"][1]["value"] == pytest.approx(ev.agreement.mean[0][1])
    assert j["rows"][0]["cells"][1]["lo"] <= j["rows"][0]["cells"][1]["value"] <= j["rows"][0]["cells"][1]["hi"]
    assert ctx["ranking"] is None and ctx["visitor"] == []  # no ratings in this catalog
    assert ctx["timings"] == []  # show_timings is off by default
    assert ctx["catalog"]["items"] == len(result.catalog)
    assert ctx["catalog"]["skipped"] == [(C.skipped_label(k), v) for k, v in sorted(result.catalog.skipped.items())]


def test_models_with_partial_report(two_clusters):
    from dataclasses import replace

    from site_helpers import make_result

    res = make_result(two_clusters)
    from mangarec.evaluation import evaluation_of

    res = replace(res, report=replace(res.report, evaluation=evaluation_of({})))
    ctx = S.models_context(res, Prepared(res), ASSETS, [])
    assert ctx["agreement"] is None and ctx["ranking"] is None and ctx["null"] == [] and ctx["protocol"] is None


def test_page_and_404(result):
    ctx = S.page_context(result, ASSETS, "about", "About", Markup("<p>hi</p>"))
    assert ctx["root"] == "../../" and ctx["page"] == "about"
    nf = S.notfound_context(result, ASSETS, "body { margin: 0 }")
    assert nf["root"] == "/"  # site_url is the example.org placeholder: links from the host root
    assert nf["nav"][1]["href"] == "/explore/"
    assert "'sha256-" in nf["csp"] and nf["inline_css"] == "body { margin: 0 }"
    configured = S.notfound_context(make_result(result.catalog, site_url="https://recs.invalid/mangarec/"), ASSETS, "")
    assert configured["root"] == "/mangarec/"
    assert configured["nav"][1]["href"] == "/mangarec/explore/"


def test_pages_carry_the_published_like_threshold(result):
    """One like rule (issue 21): every page's data gives site.js the threshold the published
    fold-in counts as a like (taste.js applies it); 8 (the 1-10 default) for a content model."""
    from dataclasses import replace

    from mangarec.publish import fold_in_block

    published = result.report.published.model
    assert C.base(result, "index.html", "home", "Home", ASSETS)["data"]["like_threshold"] == 8.0
    emb = result.embeddings[published]
    from mangarec.foldin import Foldin, ValueMap

    values = ValueMap(feedback="likes", threshold=4.0, step=0.5, dislike=None)
    als = replace(emb, foldin=Foldin(mode="implicit", values=values))
    res = replace(result, embeddings={**result.embeddings, published: als})
    page = C.base(res, "feed/index.html", "feed", "Feed", ASSETS, data={"x": 1})["data"]
    assert page == {"like_threshold": 4.0, "x": 1}
    assert fold_in_block(als, reg=1.0, mode="implicit", alpha=1.0)["threshold"] == page["like_threshold"]


def test_feed_orders_by_latest_upload_when_the_catalog_has_them(two_clusters):
    import dataclasses

    from mangarec.catalog import Catalog

    items = list(two_clusters.items)
    uploads = {
        items[3].id: "2026-12-07T21:00:00Z",
        items[7].id: "2026-12-07T23:30:00Z",
        items[0].id: "2026-11-01T08:00:00Z",
    }
    items = [dataclasses.replace(it, updated=uploads.get(it.id)) for it in items]
    res = make_result(Catalog(items), feed_size=4)
    prep = Prepared(res)
    assert prep.feed_order == "uploads"
    ctx = S.feed_context(res, prep, ASSETS)
    assert [c["id"] for c in ctx["items"][:3]] == [items[7].id, items[3].id, items[0].id]
    assert [c["date"] for c in ctx["items"][:3]] == ["2026-12-07", "2026-12-07", "2026-11-01"]
    assert ctx["order"] == "uploads"
    # a catalog without upload times keeps the release order, and says so
    assert Prepared(make_result(two_clusters)).feed_order == "dates"


def test_feed_page_says_which_order_it_uses(two_clusters, tmp_path):
    import dataclasses

    from mangarec.catalog import Catalog
    from mangarec.site import write_site

    items = [
        dataclasses.replace(it, updated="2026-12-07T21:00:00Z") if k == 2 else it
        for k, it in enumerate(two_clusters.items)
    ]
    write_site(make_result(Catalog(items)), tmp_path / "a")
    write_site(make_result(two_clusters), tmp_path / "b")
    a = (tmp_path / "a" / "feed" / "index.html").read_text()
    b = (tmp_path / "b" / "feed" / "index.html").read_text()
    assert "latest chapter uploads" in a and '<time datetime="2026-12-07">' in a
    assert "latest chapter uploads" not in b and "by release date" in b


def test_foryou_data_declares_the_published_model_from_its_spec(result, prep, monkeypatch):
    """For-you's wording reads the published model's declaration (label, trained on ratings),
    never its name: a renamed copy of a rating-trained spec is declared as such."""
    from dataclasses import replace

    from mangarec.models import REGISTRY
    from mangarec.report import Published

    name = result.report.published.model
    ctx = C.foryou_context(result, prep, ASSETS, [])
    assert ctx["data"]["published"] == {"model": name, "label": REGISTRY[name].label, "ratings": False}
    monkeypatch.setitem(REGISTRY, "toyrate", replace(REGISTRY["als"], name="toyrate", label="Toy"))  # type: ignore[index]
    renamed = replace(result, report=replace(result.report, published=Published("toyrate", "explicit", {})))
    assert C.published_model(renamed) == {"model": "toyrate", "label": "Toy", "ratings": True}
    assert C.published_model(replace(result, report=replace(result.report, published=None))) is None


def test_a_title_page_does_not_depend_on_the_catalog_date(result):
    """The catalog's date moves every night on a live catalog (the newest title's): a title page
    that showed it would never be carried over (mangarec.site.carry); the home page shows it."""
    from dataclasses import replace

    from mangarec.site.carry import page_keys

    later = replace(result, build_date="2027-01-01")
    for r in (result, later):
        assert C.home_context(r, Prepared(r), ASSETS)["build_date"] == r.build_date
    a, b = (C.title_context(r, Prepared(r), 0, ASSETS) for r in (result, later))
    assert a["build_date"] is None and a == b
    assert page_keys(result, Prepared(result), ASSETS, "s") == page_keys(later, Prepared(later), ASSETS, "s")

"""The static site: BuildResult → HTML pages, JSON shards, assets (``write_site``).

Modules: ``prepare`` (shared per-item facts), ``context`` (one pure function per page),
``render`` (Jinja2, autoescape everywhere), ``write`` (files), ``assets`` (hashed static files
and plotly.js), ``search_index`` (type-ahead shards), ``data_files`` (neighbour shards, maps),
``markdown_pages``, ``sanitize``, ``sitemap``, ``serve`` (local server).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

from ..paths import SITE_SRC, TEMPLATES
from ..result import BuildResult
from ..workers import fork_pool
from . import context as C
from .aliases import load_aliases
from .assets import copy_assets
from .carry import Carry, Digests, inputs_digest, render_digest
from .data_files import map_file, map_tags, map_titles, neighbour_shards, onboarding
from .markdown_pages import load_pages
from .notfound import site_notes
from .prepare import Prepared
from .render import environment
from .search_index import build_index
from .sitemap import robots_txt, sitemap_xml
from .write import Writer

__all__ = ["write_site"]

#: From this many titles on, the maps page's data files get a gzip copy beside them (for
#: hosts that serve precompressed files, like ``serve``); small sites gain nothing from it.
GZIP_FROM_ITEMS = 2000

#: Markdown pages shown on the models page (in this order) as methodology.
METHODOLOGY = ("models", "evaluation")


#: State the title-page workers inherit when forked (set only while writing).
_TITLES: tuple | None = None


def _title_pages(task: tuple[str, int, int]) -> tuple[int, int, int, Digests, int]:
    """Write title pages (``("titles", start, stop)``) or neighbour shards (``("nb", ...)``),
    in a forked worker or in-process; returns (pages, files, bytes, the title pages' digests,
    pages carried over unchanged from the previous build: :mod:`.carry`)."""
    result, prep, assets, template, out_dir, carry, salt = _TITLES  # type: ignore[misc]
    kind, start, stop = task
    w = Writer(out_dir)
    digests: Digests = {}
    before = carry.carried
    if kind == "titles":
        for p in range(start, stop):
            rel = f"title/{prep.slugs[p]}/index.html"
            ctx = C.title_context(result, prep, p, assets)
            d = inputs_digest(ctx, salt)
            kept = carry.take(rel, d)
            if kept is None:
                data = template.render(ctx).encode("utf-8")
                kept = data, hashlib.sha256(data).hexdigest()
            w.bytes_(rel, kept[0])
            digests[rel] = (d, kept[1])
    else:
        for s, content in neighbour_shards(prep, range(start, stop)).items():
            w.json(f"data/nb/{s}.json", content, sort_keys=False)
    return w.pages, w.files, w.bytes, digests, carry.carried - before


def _workers(requested: int | None, n: int) -> int:
    if requested is not None:
        return max(1, requested)
    if n < 3000 or not sys.platform.startswith("linux"):
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def write_site(
    result: BuildResult,
    out_dir: Path,
    *,
    templates: Path = TEMPLATES,
    site_src: Path = SITE_SRC,
    workers: int | None = None,
    carry: Carry | None = None,
) -> dict:
    """Write the whole static site into ``out_dir`` (which should be empty or new).

    Title pages and neighbour shards are written by ``workers`` forked processes (default: up to 4 on Linux for
    catalogs of 3,000 titles or more, else in-process); output is identical either way. ``carry``:
    the previous build's site and page digests; a title page whose inputs did not change is
    copied from it instead of rendered (:mod:`.carry`; the bytes are the same).

    Returns
    -------
    dict
        ``{"notes": remarks for the build log (e.g. a placeholder ``site_url``), "pages": HTML files,
        "files": all files, "bytes": total, "seconds": wall time,
        "seconds_titles": title pages and neighbour shards, "timings": {stage: seconds},
        "digests": {title page: (inputs digest, sha256)}, "carried": title pages carried over}``.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    mark = [t0]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(now - mark[0], 3)
        mark[0] = now

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment(templates)
    w = Writer(out_dir)
    prep = Prepared(result, load_aliases(site_src / "catalog" / "aliases.tsv"))
    # the contributor (its modules and libsodium) ships only with a site that collects
    assets = copy_assets(out_dir, site_src / "static", trees=bool(C.collect_settings(result.config)))
    site_url = result.config.site.site_url
    lap("assets")

    def page(name: str, path: str, ctx: dict) -> None:
        w.text(path, env.get_template(name).render(ctx))

    urls = [""]
    page("home.html", "index.html", C.home_context(result, prep, assets))
    page("explore.html", "explore/index.html", C.explore_context(result, prep, assets))
    page("plots.html", "plots/index.html", C.plots_context(result, prep, assets))
    page("feed.html", "feed/index.html", C.feed_context(result, prep, assets))
    page("foryou.html", "foryou/index.html", C.foryou_context(result, prep, assets, onboarding(prep)))
    urls += ["explore/", "plots/", "feed/", "foryou/", "models/"]

    md_pages = load_pages(site_src / "pages")
    by_slug = {p.slug: p for p in md_pages}
    methodology = [{"slug": s, "title": by_slug[s].title, "html": by_slug[s].html} for s in METHODOLOGY if s in by_slug]
    page("models.html", "models/index.html", C.models_context(result, prep, assets, methodology))
    for p in md_pages:
        page("page.html", f"pages/{p.slug}/index.html", C.page_context(result, assets, p.slug, p.title, p.html))
        urls.append(f"pages/{p.slug}/")
    css = (site_src / "static" / "css" / "site.css").read_text(encoding="utf-8")
    page("404.html", "404.html", C.notfound_context(result, assets, css))

    lap("pages")
    global _TITLES
    n = len(prep.items)
    for attr in (
        "neighbour_lists",
        "tag_masks",
        "esc_titles",
        "esc_ids",
        "slugs",
        "esc_tags",
        "item_tags",
        "score_text",
        "score_milli",
        "shard_of",
        "kind_labels",
        "esc_kind_labels",
        "alt_titles",
    ):
        getattr(prep, attr)  # computed once, before any fork
    salt = render_digest(templates)
    _TITLES = (result, prep, assets, env.get_template("title.html"), out_dir, carry or Carry(), salt)
    try:
        k = _workers(workers, n)
        parts = 4 * k if k > 1 else 1
        ns = prep.nb_shards
        tasks = [("titles", n * i // parts, n * (i + 1) // parts) for i in range(parts)]
        tasks += [("nb", ns * i // parts, ns * (i + 1) // parts) for i in range(parts)]
        if k > 1:
            with fork_pool(k) as pool:  # forked workers that die with the build
                done = list(pool.map(_title_pages, tasks, chunksize=1))
        else:
            done = [_title_pages(t) for t in tasks]
    finally:
        _TITLES = None
    w.pages += sum(d[0] for d in done)
    w.files += sum(d[1] for d in done)
    w.bytes += sum(d[2] for d in done)
    digests: Digests = {}
    for d in done:
        digests.update(d[3])
    urls += [f"title/{s}/" for s in prep.slugs]
    lap("titles + neighbour shards")

    index = build_index(
        [(prep.items[p].id, prep.items[p].title, prep.alt_titles[p]) for p in prep.by_popularity],
        result.config.site.shard_size,
        left_out=result.catalog.adult_names,
    )
    for name, content in index.files().items():
        w.json(f"data/search/{name}", content)
    lap("search")
    big = len(prep.items) >= GZIP_FROM_ITEMS
    w.json("data/maps/titles.json", map_titles(prep), gz=big)
    w.json("data/maps/tags.json", map_tags(prep), gz=big)
    for m in prep.models:
        mf = map_file(prep, m)
        if mf is not None:
            w.json(f"data/maps/{m}.json", mf[0])
            w.bytes_(f"data/maps/{m}.bin", mf[1], gz=big)

    w.text("sitemap.xml", sitemap_xml(site_url, urls, result.build_date))
    w.text("robots.txt", robots_txt(site_url))
    lap("maps, sitemap")
    return {
        "notes": site_notes(site_url),
        "pages": w.pages,
        "files": w.files,
        "bytes": w.bytes,
        "seconds": round(time.perf_counter() - t0, 3),
        "seconds_titles": timings["titles + neighbour shards"],
        "timings": timings,
        "digests": digests,
        "carried": sum(d[4] for d in done),
    }

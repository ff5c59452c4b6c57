"""The static site: BuildResult → HTML pages, JSON shards, assets (``write_site``).

Modules: ``prepare`` (shared per-item facts), ``context`` (one pure function per page),
``render`` (Jinja2, autoescape everywhere), ``write`` (files), ``assets`` (hashed static files
and plotly.js), ``search_index`` (type-ahead shards), ``data_files`` (neighbour shards, maps),
``markdown_pages``, ``sanitize``, ``sitemap``, ``serve`` (local server).
"""

from __future__ import annotations

import time
from pathlib import Path

from ..paths import SITE_SRC, TEMPLATES
from ..result import BuildResult
from . import context as C
from . import context_site as S
from .aliases import load_aliases
from .assets import copy_assets
from .carry import Carry, render_digest
from .data_files import map_file, map_tags, map_titles, onboarding
from .markdown_pages import load_pages
from .notfound import site_notes
from .prepare import Prepared
from .render import environment
from .search_index import build_index
from .sitemap import robots_txt, sitemap_xml
from .title_pages import write_titles
from .write import Writer

__all__ = ["write_site"]

#: From this many titles on, the maps page's data files get a gzip copy beside them (for
#: hosts that serve precompressed files, like ``serve``); small sites gain nothing from it.
GZIP_FROM_ITEMS = 2000

#: Markdown pages shown on the models page (in this order) as methodology.
METHODOLOGY = ("models", "evaluation")


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

    Title pages, neighbour shards, the search index and the maps' files are written by
    ``workers`` forked processes (default: up to 4 on Linux for catalogs of 3,000 titles or
    more, else in-process); output is identical either way. ``carry``:
    the previous build's site and page digests; a title page whose inputs did not change is
    linked from it instead of rendered (:mod:`.carry`; the bytes are the same).

    Returns
    -------
    dict
        ``{"notes": remarks for the build log (e.g. a placeholder ``site_url``), "pages": HTML files,
        "files": all files, "bytes": total, "seconds": wall time,
        "seconds_titles": title pages, neighbour shards, search index and maps' files, "timings": {stage: seconds},
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
    page("plots.html", "plots/index.html", S.plots_context(result, prep, assets))
    page("feed.html", "feed/index.html", S.feed_context(result, prep, assets))
    page("foryou.html", "foryou/index.html", C.foryou_context(result, prep, assets, onboarding(prep)))
    urls += ["explore/", "plots/", "feed/", "foryou/", "models/"]

    md_pages = load_pages(site_src / "pages")
    by_slug = {p.slug: p for p in md_pages}
    methodology = [{"slug": s, "title": by_slug[s].title, "html": by_slug[s].html} for s in METHODOLOGY if s in by_slug]
    page("models.html", "models/index.html", S.models_context(result, prep, assets, methodology))
    for p in md_pages:
        page("page.html", f"pages/{p.slug}/index.html", S.page_context(result, assets, p.slug, p.title, p.html))
        urls.append(f"pages/{p.slug}/")
    css = (site_src / "static" / "css" / "site.css").read_text(encoding="utf-8")
    page("404.html", "404.html", S.notfound_context(result, assets, css))

    lap("pages")

    def search(w: Writer) -> None:
        index = build_index(
            [(prep.items[p].id, prep.items[p].title, prep.alt_titles[p]) for p in prep.by_popularity],
            result.config.site.shard_size,
            left_out=result.catalog.adult_names,
        )
        for name, content in index.files().items():
            w.json(f"data/search/{name}", content)

    def maps(w: Writer) -> None:
        big = len(prep.items) >= GZIP_FROM_ITEMS
        w.json("data/maps/titles.json", map_titles(prep), gz=big)
        w.json("data/maps/tags.json", map_tags(prep), gz=big)
        for m in prep.models:
            mf = map_file(prep, m)
            if mf is not None:
                w.json(f"data/maps/{m}.json", mf[0])
                w.bytes_(f"data/maps/{m}.bin", mf[1], gz=big)

    # the search index and the maps' files need no title page: written by the same workers
    stats = write_titles(
        result,
        prep,
        assets,
        env.get_template("title.html"),
        out_dir,
        render_digest(templates),
        carry,
        workers,
        also=(search, maps),
    )
    w.pages += stats[0]
    w.files += stats[1]
    w.bytes += stats[2]
    urls += [f"title/{s}/" for s in prep.slugs]
    lap("titles, neighbour shards, search, maps")

    w.text("sitemap.xml", sitemap_xml(site_url, urls, result.build_date))
    w.text("robots.txt", robots_txt(site_url))
    lap("sitemap")
    return {
        "notes": site_notes(site_url),
        "pages": w.pages,
        "files": w.files,
        "bytes": w.bytes,
        "seconds": round(time.perf_counter() - t0, 3),
        "seconds_titles": timings["titles, neighbour shards, search, maps"],
        "timings": timings,
        "digests": stats[3],
        "carried": stats[4],
    }

"""Contexts of the site-wide pages (:mod:`.context` has the rules every page shares): the
maps, the feed, the models page, the Markdown pages and ``404.html``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .context import _card, base, label, skipped_label
from .evaluation_view import evaluation_view
from .prepare import Prepared


def plots_context(result, prep: Prepared, assets: Mapping[str, str]) -> dict:
    from .render import CSP_PLOTS

    models = [
        {"name": m, "label": label(m), "tags": result.maps[m].tag_xy is not None}
        for m in prep.models
        if m in result.maps
    ]
    data = {"models": models, "tags": list(prep.tags), "nb_shards": prep.nb_shards}
    ctx = base(
        result,
        "plots/index.html",
        "plots",
        "Maps",
        assets,
        module="js/plots.js",
        scripts=["js/plotly.min.js"],
        data=data,
        csp=CSP_PLOTS,
    )
    # opens on the first model whose map also places the tags (the baselines' maps do not)
    default = next((m["name"] for m in models if m["tags"]), models[0]["name"] if models else None)
    ctx.update(
        models=models,
        default_model=default,
        groups=[g for g, _ in prep.tag_groups],
        tags=list(prep.tags),
        n_items=len(prep.items),
    )
    return ctx


def feed_context(result, prep: Prepared, assets: Mapping[str, str]) -> dict:
    feed = prep.recent[: result.config.site.feed_size]
    data = {
        "items": [[prep.items[p].id, list(prep.item_tags[p])] for p in feed],
        "tags": list(prep.tags),
        "nb_shards": prep.nb_shards,
    }
    ctx = base(
        result,
        "feed/index.html",
        "feed",
        "Feed",
        assets,
        module="js/feed.js",
        data=data,
    )
    root = ctx["root"]
    cards = []
    uploads = prep.feed_order == "uploads"
    for p in feed:
        c = _card(prep, p, root)
        it = prep.items[p]
        c["date"] = (it.updated or "")[:10] if uploads else it.date
        if uploads:
            c["year"] = None
        cards.append(c)
    ctx.update(items=cards, order=prep.feed_order)
    return ctx


def models_context(result, prep: Prepared, assets: Mapping[str, str], methodology: Sequence[Mapping]) -> dict:
    """The evaluation page: report.json rendered as tables, plus methodology Markdown."""
    report = result.report
    ctx = base(result, "models/index.html", "models", "Models and evaluation", assets)
    models = [
        {
            "name": m.name,
            "label": m.label,
            "summary": m.summary,
            "dim": m.dim,
            "method": m.neighbours.method,
            "k": m.neighbours.k,
            "recall": m.neighbours.recall,
        }
        for m in report.models
    ]
    cat = report.catalog
    ctx.update(
        models=models,
        **evaluation_view(report.evaluation, label),
        timings=[{"stage": s.name, "seconds": s.seconds, "cached": s.cached} for s in report.stages]
        if result.config.site.show_timings
        else [],
        catalog={
            "items": cat.items,
            "tags": cat.tags,
            "sources": list(cat.sources),
            "skipped": [(skipped_label(k), v) for k, v in sorted(cat.skipped.items())],
            "ratings": cat.ratings,
        },
        build=report.build,
        missing=[{"label": label(m), "reason": why} for m, why in report.left_out.items()],
        methodology=list(methodology),
        published_why=report.published.why if report.published is not None else "",
    )
    return ctx


def page_context(result, assets: Mapping[str, str], slug: str, title: str, html) -> dict:
    """A Markdown page (``site_src/pages/<slug>.md``) at ``pages/<slug>/``."""
    ctx = base(result, f"pages/{slug}/index.html", slug if slug == "about" else "page", title, assets)
    ctx.update(content=html)
    return ctx


def notfound_context(result, assets: Mapping[str, str], css: str) -> dict:
    """404.html, served for any missing path: stylesheet inlined, links from the path of
    ``site_url`` (``/`` while it is a placeholder), no script (see :mod:`.notfound`)."""
    from . import notfound

    ctx = base(result, "404.html", "404", "Not found", assets)
    root = notfound.root_path(result.config.site.site_url)
    ctx["root"] = root
    ctx["nav"] = tuple({**n, "href": root + n["href"][len("./") :]} for n in ctx["nav"])
    ctx["csp"] = notfound.notfound_csp(ctx["csp"], css)
    ctx.update(notfound.inline(css))
    return ctx

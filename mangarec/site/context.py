"""One pure function per page: BuildResult (+ shared precomputed facts) → template context.

Every context holds ``root`` (the relative prefix from the page to the site root, e.g.
``"../../"``), so that links work at any base path, ``data``: the page's JSON data island for
its scripts, ``module``: the page's entry ES module (it imports the rest) and ``scripts``: the
vendored classic scripts it needs first (plotly.js on the maps page).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ..catalog import ID_PATTERN
from ..compact import DOC_NAME as COMPACT_DOC
from ..kernel import TITLE_PATH
from .external import external_link
from .prepare import NB_SHOW, NB_SHOW_OTHERS, Prepared, label
from .sanitize import description_html, safe_url

#: How the models page words the build's ``skipped`` counts (other reasons are shown as they are).
SKIPPED_LABELS = {
    "adult": "adult titles (the adult filter)",
    "no tags": "titles without tags",
    "ratings: filtered item": "ratings of titles left out",
    "ratings: unknown item": "ratings of titles not in the catalog",
    "ratings: unknown or unread item (limit)": "ratings of titles not in the catalog or past the --limit",
}

NAV = (
    ("home", "", "Home"),
    ("explore", "explore/", "Explore"),
    ("plots", "plots/", "Maps"),
    ("feed", "feed/", "Feed"),
    ("foryou", "foryou/", "For you"),
    ("models", "models/", "Models"),
    ("about", "pages/about/", "About"),
)


@lru_cache(maxsize=64)
def _nav(root: str, page: str) -> tuple:
    """The main navigation for a page (cached: title pages all share one)."""
    return tuple({"key": k, "href": root + h, "label": lbl, "current": k == page} for k, h, lbl in NAV)


def published_model(result) -> dict | None:
    """What For-you says of the published embeddings, from the model's declaration (its spec):
    ``{"model": name, "label": its label, "ratings": trained on ratings}``; ``None`` when the
    build publishes none. ``foryou.js`` words its explanation from this, naming no model."""
    from ..models import REGISTRY

    published = result.report.published
    if published is None:
        return None
    s = REGISTRY.get(published.model)
    return {
        "model": published.model,
        "label": label(published.model),
        "ratings": bool(s is not None and s.trained_on_ratings),
    }


def skipped_label(reason: str) -> str:
    return SKIPPED_LABELS.get(reason, reason)


def root_of(path: str) -> str:
    """Relative prefix from the file at ``path`` (e.g. ``"title/x/index.html"``) to the root."""
    depth = path.count("/")
    return "../" * depth if depth else "./"


def base(
    result,
    path: str,
    page: str,
    title: str,
    assets: Mapping[str, str],
    *,
    module: str | None = None,
    scripts: Sequence[str] = (),
    data: Mapping[str, Any] | None = None,
    description: str | None = None,
    csp: str | None = None,
) -> dict:
    """What every page has: site facts, root, canonical URL, nav, assets, CSP, data island."""
    from .render import CSP

    site = result.config.site
    description_ = _description(result)
    url_path = path[: -len("index.html")] if path.endswith("index.html") else path
    root = root_of(path)
    return {
        "site": {"title": site.title, "description": description_},
        "page": page,
        "page_title": title,
        "meta_description": description or description_,
        "root": root,
        "canonical": site.site_url + url_path,
        "nav": _nav(root, page),
        "assets": dict(assets),
        "module": module,
        "scripts": list(scripts),
        "csp": csp or CSP,
        "build_date": result.build_date,
        "data": {"like_threshold": like_threshold(result), **(data or {})},
    }


def like_threshold(result) -> float:
    """The smallest number the browser counts as a like (taste.js ``isLike``, which profile.js
    calls with this value from the page's data): the published model's ``fold_in.threshold``, what its
    fold-in counts as a like; for a model that publishes none (content models take numbers
    centred), the evaluation's default rule on MyAnimeList's 1-10 scale (8)."""
    published = result.report.published
    return _like_threshold(result.embeddings.get(published.model) if published is not None else None)


@lru_cache(maxsize=4)
def _like_threshold(emb) -> float:
    from ..feedback import like_threshold as scale_threshold
    from ..feedback import named_scale
    from ..publish import value_map

    threshold = value_map(emb).threshold if emb is not None else 0.0
    return float(threshold) if threshold > 0 else scale_threshold(named_scale("1-10"))


@lru_cache(maxsize=4)
def _kinds(catalog) -> tuple[str, ...]:
    """The catalog's kinds, sorted (cached per catalog object: every page asks)."""
    return tuple(sorted({it.kind for it in catalog.items}))


@lru_cache(maxsize=4)
def _description(result) -> str:
    return site_description(result)


def site_description(result) -> str:
    """``[site] description``; the default one is fitted to the catalog (its kinds, and
    whether it has ratings) so a manga-only site does not say "anime and manga"."""
    from ..config import SiteSection

    text = result.config.site.description
    if text != SiteSection.description:
        return text
    kinds = list(_kinds(result.catalog)) or ["anime", "manga"]
    noun = " and ".join(kinds)
    inputs = "tags and ratings" if result.catalog.ratings is not None else "tags and descriptions"
    return f"{noun[:1].upper()}{noun[1:]} recommendations computed from {inputs}, personalised in your browser."


def home_context(result, prep: Prepared, assets: Mapping[str, str]) -> dict:
    cat = result.catalog
    ctx = base(result, "index.html", "home", "Home", assets, module="js/home.js", data={})
    kinds = sorted({it.kind for it in cat.items})
    ctx.update(
        n_items=len(cat),
        n_tags=len(prep.tags),
        kinds=kinds,
        models=[{"name": m, "label": label(m)} for m in prep.models],
        has_ratings=cat.ratings is not None,
        example_title=prep.items[prep.by_popularity[0]].title if len(prep.items) else "",
        popular=[_card(prep, p, ctx["root"]) for p in prep.by_popularity[:12]],
    )
    return ctx


def _card(prep: Prepared, p: int, root: str) -> dict:
    it = prep.items[p]
    return {
        "id": it.id,
        "title": it.title,
        "href": f"{root}title/{prep.slugs[p]}/",
        "year": it.year,
        "kind": it.kind,
        "tags": [prep.tags[t] for t in prep.item_tags[p]],
    }


def explore_context(result, prep: Prepared, assets: Mapping[str, str]) -> dict:
    data = {
        "models": [{"name": m, "label": label(m), "series": m == prep.series_model} for m in prep.models],
        "tags": list(prep.tags),
        "nb_shards": prep.nb_shards,
    }
    ctx = base(
        result,
        "explore/index.html",
        "explore",
        "Explore",
        assets,
        module="js/explore.js",
        data=data,
    )
    ctx.update(models=data["models"], n_items=len(prep.items))
    return ctx


def title_base(result, slug: str, iid: str, title: str, assets: Mapping[str, str]) -> dict:
    """What a title page has of :func:`base`, for the title ``iid`` named ``title`` at ``title/<slug>/``."""
    ctx = base(
        result,
        f"title/{slug}/index.html",
        "title",
        title,
        assets,
        module="js/title.js",
        # a UUID's page has its slug only (title.js: slug.js uuidOf of the canonical URL's slug)
        data={"id": iid} if slug == iid else {},
        description=f"{title}: similar titles under every model.",
    )
    # the catalog's date (the footer's "data of") moves whenever a newer title arrives, i.e. every
    # night on a live catalog: a title page leaves it out, else none is ever carried over (.carry)
    ctx["build_date"] = None
    return ctx


def title_context(result, prep: Prepared, p: int, assets: Mapping[str, str]) -> dict:
    """A title page: details, sanitised description, tags, neighbours per model, related."""
    it = prep.items[p]
    ctx = title_base(result, prep.slugs[p], it.id, it.title, assets)
    here = "../"  # other title pages are siblings: title/<id>/ → ../<other>/ (shorter than root + title/)
    index = result.catalog.index
    lead = prep.lead_model
    labels = prep.labels
    similar = None
    if lead is not None:
        similar = {"name": lead, "label": labels[lead], "html": prep.neighbour_html(p, lead, here)}
    sm = prep.series_model
    series = prep.neighbour_html(p, sm, here) if sm and prep.has_neighbours(p, sm) else None
    # the other models' top 3, one line each (models whose top 3 are the same share their line);
    # a title linked above (the series, the similar titles) is named there without a second link
    linked = {q for m in (sm if series else None, lead) if m for q in prep.neighbour_lists[m][p] if q >= 0}
    others = [
        {"names": names, "labels": [labels[m] for m in names], "html": html}
        for names, html in prep.top_lines(p, [m for m in prep.models if m not in (sm, lead)], here, linked)
    ]
    also = [
        {
            "href": f"{here}{prep.slugs[q]}/",
            "title": prep.items[q].title,
            "format": prep.kind_labels[q] or prep.items[q].kind,
        }
        for q in prep.same_work[p]
        if q != p
    ]
    related = []
    for r in it.related:
        inside = r.id in index and ID_PATTERN.match(r.id) is not None
        related.append(
            {
                "type": r.type,
                "title": (prep.items[index[r.id]].title if inside else r.title) or r.id,
                "href": f"{here}{prep.slugs[index[r.id]]}/" if inside else None,
            }
        )
    external = [external_link(k, v, it.kind)._asdict() for k, v in it.external]
    ctx.update(
        item={
            "id": it.id,
            "title": it.title,
            "kind": it.kind,
            "type": it.type,
            "year": it.year,
            "date": it.date,
            "alt_titles": list(prep.alt_titles[p]),
            "popularity": it.popularity,
            "score": it.score,
            "url": safe_url(it.url),
        },
        description=description_html(it.description, result.config.site.max_description_chars),
        tag_groups=[{"group": g, "tags": list(names)} for g, names in it.tags],
        similar=similar,
        others=others,
        n_show=NB_SHOW,
        n_others=NB_SHOW_OTHERS,
        series=series,
        also=also,
        related=related,
        external=external,
    )
    return ctx


def collect_settings(config) -> tuple[str, int] | None:
    """(collect URL, minimum cohort) when the site is built with ``privacy.collect_url``, else None."""
    url = config.privacy.collect_url
    return (url.rstrip("/"), config.privacy.min_cohort) if url else None


def foryou_context(result, prep: Prepared, assets: Mapping[str, str], onboarding: Sequence[int]) -> dict:
    from .render import csp_collecting

    data = {
        "onboarding": [prep.items[p].id for p in onboarding],
        "tags": list(prep.tags),
        "nb_shards": prep.nb_shards,
        "embeddings": f"data/{COMPACT_DOC}",
        "published": published_model(result),
        # the per-title form (version 7): the rated titles' files are fetched beside the document
        "taste_files": TITLE_PATH if f"data/{TITLE_PATH.format('*')}" in result.report.published.sizes else None,
    }
    collect = collect_settings(result.config)
    ctx = base(
        result,
        "foryou/index.html",
        "foryou",
        "For you",
        assets,
        module="js/foryou.js",
        data=data,
        csp=csp_collecting(collect[0]) if collect else None,
    )
    ctx.update(onboarding=[_card(prep, p, ctx["root"]) for p in onboarding], collect=None)
    if collect:  # the "Contribute anonymously" panel: its module, worker and libsodium by asset name
        root = ctx["root"]
        ctx["collect"] = {
            "panel": root + assets["js/privacy/panel.js"],
            "config": {
                "collect_json": root + "data/collect.json",
                "worker": root + assets["js/privacy/worker.js"],
                "sodium": root + assets["js/vendor/libsodium/libsodium-wrappers.mjs"],
                "profile": root + assets["js/profile.js"],  # the visitor's ratings: For-you's own module
            },
        }
    return ctx

"""The configuration sections of what a build publishes: ``[site]`` (its pages, the models they
show and map), ``[publish]`` (the embeddings files) and ``[privacy]`` (collecting ratings).

Their checks and help texts read the model registry (:data:`mangarec.models.REGISTRY`): no model
is named here. :mod:`mangarec.config` assembles them with the build's other sections into
:class:`~mangarec.config.Config` (and re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import REGISTRY
from .schema import bounded, key

#: Every model's name, in display order (the registry's).
MODEL_NAMES: tuple[str, ...] = tuple(REGISTRY)


#: Help-text facts read from the registry (no model named here): what each model needs beyond
#: tags, and the models not mapped by default.
_NEEDS = ", ".join(
    f"{n} without {' or '.join(sorted(s.needs - {'tags'}))}" for n, s in REGISTRY.items() if s.needs - {"tags"}
)
_PREFERRED = ", then ".join(
    n for n, s in sorted(REGISTRY.items(), key=lambda x: x[1].publish_rank or 0) if s.publish_rank is not None
)
_UNMAPPED = ", ".join(n for n, s in REGISTRY.items() if not s.mapped) or "none"


def _map_models(v: list) -> str | None:
    bad = [m for m in v if m not in REGISTRY]
    if bad:
        return f"unknown model {bad[0]!r} (known: {', '.join(REGISTRY)})"
    return None if len(set(v)) == len(v) else "lists a model twice"


def _models(v: list) -> str | None:
    bad = [m for m in v if m not in REGISTRY]
    if bad:
        return f"unknown model {bad[0]!r} (known: {', '.join(REGISTRY)})"
    if not v:
        return "must name at least one model"
    return None if len(set(v)) == len(v) else "lists a model twice"


def _site_url(v: str) -> str | None:
    ok = v.startswith(("http://", "https://")) and v.endswith("/") and len(v) <= 2000
    return None if ok else "must be an http(s) URL ending in '/'"


@dataclass(frozen=True)
class SiteSection:
    """``[site]``: what the site is called and how pages are laid out."""

    title: str = key(
        "mangarec",
        "The site's name, shown in every page header.",
        lambda v: None if 0 < len(v.strip()) <= 200 else "must be 1 to 200 characters",
    )
    description: str = key(
        "Anime and manga recommendations computed from tags and ratings, personalised in your browser.",
        "One sentence about the site, for the home page and the meta description.",
        lambda v: None if len(v) <= 1000 else "must be at most 1000 characters",
    )
    site_url: str = key(
        "https://example.org/mangarec/",
        "Absolute URL where the site is published; used only for sitemap.xml, canonical links and "
        "the 404 page's links (its path: a host serves that page at any address; every other link "
        "is relative). The build warns while it is the example.org placeholder.",
        _site_url,
    )
    models: list[str] = key(
        list(MODEL_NAMES),
        "Which models the explore, plots and evaluation pages show, in this order. A model whose "
        f"input the catalog lacks ({_NEEDS}) is left out with a note saying why.",
        _models,
    )
    maps: list[str] = key(
        [n for n, s in REGISTRY.items() if s.mapped],
        "Which of site.models the maps page draws (a UMAP map each, most of a cold build's time). "
        "By default every model but those whose map would repeat another's (the same unit tag rows, "
        f"or the same eigenvectors rescaled: each model's declaration says): {_UNMAPPED}.",
        _map_models,
    )
    feed_size: int = key(200, "How many recent titles the feed page ranks.", bounded(1, 100_000))
    shard_size: int = key(
        1000,
        "Most names per shard of the explore page's search index (a fuller word prefix is split).",
        bounded(10, 100_000),
    )
    show_timings: bool = key(
        False,
        "Show on the models page how long each stage took to compute. Off by default: timings "
        "differ from run to run, and the published site must be byte-identical for the same inputs.",
    )
    max_description_chars: int = key(
        4000,
        "Descriptions longer than this are cut (at a word boundary) on title pages.",
        bounded(1, 1_000_000),
    )
    csv_neighbours: int = key(
        0,
        "Neighbours per title in downloadable tables data/neighbours/<model>.csv.gz (at most "
        "neighbours.k; 0 = no tables). Off by default: the explore page's shards (data/nb/) already "
        "publish every model's 10 nearest titles, and the tables would add ~0.7 KB per title to the host.",
        bounded(0, 200),
    )
    max_bytes: int = key(
        1_000_000_000,
        "The static host's size limit in bytes (GitHub Pages: 1 GB). The build prints the site's "
        "size and file count, and warns in one line once the site is within 10 % of this limit or over it.",
        bounded(1, 10**15),
    )


def _publish_model(v: str) -> str | None:
    return None if v == "auto" or v in REGISTRY else f"must be 'auto' or one of {', '.join(REGISTRY)}"


@dataclass(frozen=True)
class PublishSection:
    """``[publish]``: the embeddings JSON."""

    model: str = key(
        "auto",
        "Model whose vectors are published: 'auto' = the first built model in the registry's "
        f"order of preference (each model's publish_rank: {_PREFERRED}).",
        _publish_model,
    )
    top_n: int = key(2000, "Titles in the small 'top-N' variant (most popular first).", bounded(1, 10_000_000))
    compact_titles: int = key(
        0,
        "Compact file (version 4, what For-you loads): the most popular titles a visitor can be "
        "recommended, sent up front; the others are in shards fetched when rated (0: all up front).",
        bounded(0, 10_000_000),
    )
    compact_dims: int = key(0, "Compact file: principal directions kept (0: all).", bounded(0, 4096))
    compact_bits: int = key(8, "Compact file: bits per code (bench_foryou.py: size-quality curve).", bounded(2, 8))
    compact_shard_size: int = key(16, "Compact file: titles per shard of those not up front.", bounded(1, 100_000))
    compact_candidates: int = key(
        -1,
        "Compact file: version 7 (a file per title with its own code, this many candidates and the "
        "list's floor, fetched when rated; names in blocks fetched for the picks shown) when > 0; "
        "-1: the published model's declared count (ModelSpec.candidates: 200 for ALS, 50 for a "
        "content model); 0: version 4 (every recommendable title's vector up front). "
        "bench_foryou.py: anime-recdb keeps 0.98 of the visitor's P@10 from 150.",
        bounded(-1, 100_000),
    )
    compact_kernel_reg: float = key(
        0.0,
        "Compact file, version 7: the ridge term of the published implicit kernel (0: the fold-in's few-ratings λ).",
        bounded(0.0, 1e12),
    )


def _collect_url(v: str) -> str | None:
    if v == "":
        return None
    ok = v.startswith(("https://", "http://")) and len(v) <= 2000 and not any(c in v for c in " \"'<>?#")
    return None if ok else "must be empty or an http(s) URL without spaces, quotes, query or fragment"


@dataclass(frozen=True)
class PrivacySection:
    """``[privacy]``: private collection of the visitors' ratings (docs/privacy.md, "The lobby")."""

    collect_url: str = key(
        "",
        "The collection server's lobby (``mangarec privacy serve --lobby``), e.g. "
        "'https://collect.example.org'. Set: the build writes data/collect.json and the For-you page "
        "offers 'Contribute anonymously'. Empty: no collection (nothing is published about it).",
        _collect_url,
    )
    min_cohort: int = key(
        32,
        "The smallest cohort a visitor's browser accepts: a roster with fewer contributors is refused "
        "(published in data/collect.json; the anonymity set is at most this many).",
        bounded(2, 65_535),
    )

"""The build's configuration: one typed schema, read from ``site_src/site.toml``.

Every key is a dataclass field with a docstring in its metadata (``doc``) and, where a type
alone is not enough, a check. :func:`load_config` rejects unknown keys and bad values with one
line naming the file, the key and the value. ``python build.py --help-config`` prints the
whole schema (see :func:`describe`).
"""
from __future__ import annotations

import tomllib
import typing
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError

MODEL_NAMES: tuple[str, ...] = ("lsi", "word2vec", "network", "text", "hybrid", "als")


def _key(default: Any, doc: str, check: Callable[[Any], str | None] | None = None, **kw: Any) -> Any:
    meta = {"doc": doc, "check": check}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be > 0"


def _non_negative(v: Any) -> str | None:
    return None if v >= 0 else "must be >= 0"


def _fraction(v: Any) -> str | None:
    return None if 0 < v < 1 else "must be between 0 and 1 (exclusive)"


def _unit(v: Any) -> str | None:
    return None if 0 <= v <= 1 else "must be between 0 and 1"


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}"


def _models(v: list) -> str | None:
    bad = [m for m in v if m not in MODEL_NAMES]
    if bad:
        return f"unknown model {bad[0]!r} (known: {', '.join(MODEL_NAMES)})"
    return None if len(set(v)) == len(v) else "lists a model twice"


@dataclass(frozen=True)
class SiteSection:
    """``[site]``: what the site is called and how pages are laid out."""

    title: str = _key("mangarec", "The site's name, shown in every page header.")
    description: str = _key(
        "Anime and manga recommendations computed from tags and ratings, personalised in your browser.",
        "One sentence about the site, for the home page and the meta description.",
    )
    site_url: str = _key(
        "https://example.org/mangarec/",
        "Absolute URL where the site is published; used only for sitemap.xml and canonical links "
        "(every other link is relative).",
        lambda v: None if v.startswith(("http://", "https://")) and v.endswith("/") else "must be an http(s) URL ending in '/'",
    )
    models: list = _key(
        list(MODEL_NAMES),
        "Which models the explore, plots and evaluation pages show, in this order. A model with no "
        "input (ALS without ratings) is left out with a note.",
        _models,
    )
    feed_size: int = _key(200, "How many recent titles the feed page ranks.", _positive)
    shard_size: int = _key(
        1000, "Most names per shard of the explore page's search index (a fuller word prefix is split).",
        _positive,
    )
    show_timings: bool = _key(
        True,
        "Show on the models page how long each stage took to compute. The figures are stored with "
        "the cached artefacts, so rebuilds that share a cache give the same bytes; set false for "
        "byte-identical output from a cold cache too.",
    )
    max_description_chars: int = _key(
        4000, "Descriptions longer than this are cut (at a word boundary) on title pages.", _positive
    )


@dataclass(frozen=True)
class CatalogSection:
    """``[catalog]``: which items are published."""

    adult_tags: list = _key(
        ["Smut", "Sexual Violence", "Hentai"],
        "Items with any of these tags are adult content, left out unless --include-adult.",
    )
    min_tags: int = _key(
        1, "Items with fewer tags are skipped (and counted in the build's report).", _non_negative
    )


@dataclass(frozen=True)
class LSISection:
    """``[models.lsi]``: tag tf-idf + truncated SVD (latent semantic indexing)."""

    dim: int = _key(16, "Number of singular vectors kept (the embedding's dimension).", _positive)
    itemsets: bool = _key(
        False, "Add frequent tag pairs/triples as extra terms (the MangaDex study's extension)."
    )
    min_support: int = _key(
        50, "Minimum number of items an itemset must occur in to become a term.", _positive
    )
    max_itemset: int = _key(
        2, "Largest itemset size used as a term (2 = pairs, 3 = triples).",
        lambda v: None if v in (2, 3) else "must be 2 or 3",
    )


@dataclass(frozen=True)
class Word2VecSection:
    """``[models.word2vec]``: CBOW over tag sets (gensim, sg=0)."""

    dim: int = _key(
        0, "Vector size; 0 means sqrt(number of tags) rounded to a power of 2.", _non_negative
    )
    epochs: int = _key(20, "Training epochs.", _positive)
    negative: int = _key(5, "Negative samples per positive.", _non_negative)


@dataclass(frozen=True)
class NetworkSection:
    """``[models.network]``: spectral embedding of the item graph A = B Bᵀ."""

    dim: int = _key(16, "Number of eigenvectors kept (the trivial one excluded).", _positive)


@dataclass(frozen=True)
class TextSection:
    """``[models.text]``: tf-idf of title + description, reduced by SVD."""

    dim: int = _key(64, "SVD dimension of the text model.", _positive)
    max_features: int = _key(50000, "Largest vocabulary kept (most frequent words).", _positive)
    min_df: int = _key(2, "A word must occur in this many items to count.", _positive)


@dataclass(frozen=True)
class HybridSection:
    """``[models.hybrid]``: tags and description combined."""

    tag_weight: float = _key(
        0.6,
        "Weight of the (normalised) tag vector; the text vector gets 1 - tag_weight. Items with "
        "no description use their tag vector alone.",
        _unit,
    )


@dataclass(frozen=True)
class ALSSection:
    """``[models.als]``: alternating least squares on ratings."""

    factors: int = _key(32, "Latent factors.", _positive)
    regularization: float = _key(0.1, "L2 regularisation λ (also used for fold-in).", _positive)
    iterations: int = _key(15, "ALS sweeps.", _positive)
    implicit: bool = _key(
        True,
        "Implicit feedback (confidence 1 + alpha·r, as watch histories) instead of explicit ratings "
        "centred per user. Implicit ranks far better on held-out likes (benchmarks/bench_als.py), so "
        "it is the default for the published embeddings.",
    )
    alpha: float = _key(10.0, "Confidence scale for implicit feedback.", _positive)
    solver: str = _key(
        "cg", "'cg' (a few conjugate-gradient steps per row, warm-started; fast) or 'exact' "
        "(closed-form solves).", _one_of("cg", "exact"),
    )
    cg_steps: int = _key(3, "Conjugate-gradient steps per row and half-sweep (solver = 'cg').", _positive)


@dataclass(frozen=True)
class ModelsSection:
    """``[models]``: parameters of each model."""

    lsi: LSISection = field(default_factory=LSISection, metadata={"doc": "LSI parameters."})
    word2vec: Word2VecSection = field(default_factory=Word2VecSection, metadata={"doc": "word2vec parameters."})
    network: NetworkSection = field(default_factory=NetworkSection, metadata={"doc": "Tag network parameters."})
    text: TextSection = field(default_factory=TextSection, metadata={"doc": "Description model parameters."})
    hybrid: HybridSection = field(default_factory=HybridSection, metadata={"doc": "Hybrid model parameters."})
    als: ALSSection = field(default_factory=ALSSection, metadata={"doc": "ALS parameters."})


@dataclass(frozen=True)
class UMAPSection:
    """``[umap]``: the 2-D maps of the plots page."""

    n_neighbors: int = _key(15, "UMAP's n_neighbors.", lambda v: None if v >= 2 else "must be >= 2")
    min_dist: float = _key(0.1, "UMAP's min_dist.", _unit)
    init: str = _key(
        "pca", "Initialisation: 'pca' (robust to the many duplicate tag sets) or 'spectral'.",
        _one_of("pca", "spectral", "random"),
    )


@dataclass(frozen=True)
class NeighboursSection:
    """``[neighbours]``: top-k lists."""

    k: int = _key(20, "Neighbours kept per item and model.", _positive)
    method: str = _key(
        "auto", "'exact', 'nndescent' or 'auto' (exact up to exact_max_items items).",
        _one_of("auto", "exact", "nndescent"),
    )
    exact_max_items: int = _key(
        100000, "With method = 'auto', the largest catalog searched exactly.", _positive
    )
    recall_sample: int = _key(
        500, "Items sampled to measure the approximate search's recall against exact.", _positive
    )


@dataclass(frozen=True)
class EvaluationSection:
    """``[evaluation]``: comparing models with each other and with a null model."""

    permutations: int = _key(200, "Null-model draws for each significance test.", _positive)
    holdout: float = _key(0.2, "Fraction of each user's likes held out for hit rate.", _fraction)
    like_threshold: float = _key(
        8.0, "A rating at least this high counts as a like (explicit ratings).", _non_negative
    )
    max_users: int = _key(2000, "Users sampled for hit rate (to bound its time).", _positive)


@dataclass(frozen=True)
class PublishSection:
    """``[publish]``: the embeddings JSON."""

    model: str = _key(
        "auto", "Model whose vectors are published: 'auto' = ALS if ratings exist, else LSI.",
        lambda v: None if v == "auto" or v in MODEL_NAMES else f"must be 'auto' or one of {', '.join(MODEL_NAMES)}",
    )
    top_n: int = _key(
        2000, "Titles in the small 'top-N' variant (most popular first).", _positive
    )


@dataclass(frozen=True)
class Config:
    """The whole configuration (``site_src/site.toml``)."""

    seed: int = _key(42, "The build's seed; every stage derives its own from it.")
    site: SiteSection = field(default_factory=SiteSection, metadata={"doc": "The site."})
    catalog: CatalogSection = field(default_factory=CatalogSection, metadata={"doc": "The catalog."})
    models: ModelsSection = field(default_factory=ModelsSection, metadata={"doc": "The models."})
    umap: UMAPSection = field(default_factory=UMAPSection, metadata={"doc": "The maps."})
    neighbours: NeighboursSection = field(default_factory=NeighboursSection, metadata={"doc": "Neighbour lists."})
    evaluation: EvaluationSection = field(default_factory=EvaluationSection, metadata={"doc": "Evaluation."})
    publish: PublishSection = field(default_factory=PublishSection, metadata={"doc": "Published JSON."})


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}


def _build(cls: type, data: Any, prefix: str, source: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"[{prefix}] must be a table", source)
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for key in data:
        if key not in known:
            where = f"{prefix}.{key}" if prefix else key
            raise ConfigError(f"unknown key {where!r} (known: {', '.join(sorted(known))})", source)
    values = {}
    for name, value in data.items():
        f = known[name]
        where = f"{prefix}.{name}" if prefix else name
        typ = hints[name]
        if isinstance(typ, type) and hasattr(typ, "__dataclass_fields__"):
            values[name] = _build(typ, value, where, source)
            continue
        ok = isinstance(value, typ) and not (typ in (int, float) and isinstance(value, bool))
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise ConfigError(f"{where} = {value!r}: must be {_TYPE_NAMES.get(typ, typ.__name__)}", source)
        check = f.metadata.get("check")
        problem = check(value) if check else None
        if problem:
            raise ConfigError(f"{where} = {value!r}: {problem}", source)
        values[name] = value
    return cls(**values)


def load_config(path: str | Path | None) -> Config:
    """Read and validate a TOML configuration file; ``None`` gives the defaults.

    Raises
    ------
    ConfigError
        One line naming the file, the key and the bad value.
    """
    if path is None:
        return Config()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config file not found", str(p)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"not valid TOML: {e}", str(p)) from None
    return _build(Config, data, "", str(p))


def with_seed(config: Config, seed: int | None) -> Config:
    """The configuration with its seed replaced (when ``seed`` is not ``None``)."""
    return config if seed is None else replace(config, seed=seed)


def describe(cls: type = Config, prefix: str = "") -> list[str]:
    """Every key of the schema with its default and doc, one line each (for ``--help-config``)."""
    lines = []
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        where = f"{prefix}.{f.name}" if prefix else f.name
        typ = hints[f.name]
        if isinstance(typ, type) and hasattr(typ, "__dataclass_fields__"):
            lines.append(f"[{where}]  {(typ.__doc__ or '').strip().splitlines()[0]}")
            lines.extend(describe(typ, where))
            continue
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        lines.append(f"  {where} = {default!r}\n      {f.metadata.get('doc', '')}")
    return lines

"""The build's configuration: one typed schema, read from ``site_src/site.toml``.

Every key is a dataclass field made with :func:`mangarec.schema.key` (a docstring, a check;
every size key has an upper bound). The ``[models.<name>]`` sections are the ``Params`` of the
models in :data:`mangarec.models.REGISTRY`, so a new model brings its keys with it.
:func:`load_config` rejects unknown keys and bad values with one line naming the file, the key
and the value. ``mangarec build --help-config`` prints the whole schema (:func:`describe`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from . import schema
from .config_site import MODEL_NAMES, PrivacySection, PublishSection, SiteSection
from .errors import ConfigError
from .feedback import SCALES
from .models import REGISTRY, ModelParams
from .schema import all_of, bounded, fraction, key, max_items, one_of, section, unit
from .tags import DEFAULT_ADULT_TAGS

#: Largest configuration file read (a TOML file of this project is a few KB).
MAX_CONFIG_BYTES = 1 << 20


@dataclass(frozen=True)
class CatalogSection:
    """``[catalog]``: which items are published."""

    adult_tags: list[str] = key(
        list(DEFAULT_ADULT_TAGS),
        "Items with any of these tags are adult content, left out unless --include-adult.",
        max_items(1000),
    )
    min_tags: int = key(1, "Items with fewer tags are skipped (and counted in the build's report).", bounded(0, 1000))


@dataclass(frozen=True)
class UMAPSection:
    """``[umap]``: the 2-D maps of the plots page."""

    n_neighbors: int = key(15, "UMAP's n_neighbors.", bounded(2, 200))
    min_dist: float = key(0.1, "UMAP's min_dist.", unit)
    init: str = key(
        "pca",
        "Initialisation: 'pca' (robust to the many duplicate tag sets) or 'spectral'.",
        one_of("pca", "spectral", "random"),
    )
    warm_epochs: int = key(
        0,
        "Nightly rebuilds: when > 0, a map whose model changed starts from the previous build's "
        "coordinates (titles it still has; new ones placed among their nearest neighbours) and runs "
        "this many epochs instead of UMAP's 200. 0: every map starts cold, and the site does not "
        "depend on what the cache held.",
        bounded(0, 10_000),
    )


@dataclass(frozen=True)
class NeighboursSection:
    """``[neighbours]``: top-k lists."""

    k: int = key(20, "Neighbours kept per item and model.", bounded(1, 200))
    method: str = key(
        "auto",
        "'exact', 'nndescent' or 'auto' (exact up to exact_max_items items).",
        one_of("auto", "exact", "nndescent"),
    )
    exact_max_items: int = key(
        100000, "With method = 'auto', the largest catalog searched exactly.", bounded(2, 10_000_000)
    )
    recall_sample: int = key(
        500, "Items sampled to measure the approximate search's recall against exact.", bounded(1, 100_000)
    )


def _like_counts(v: list) -> str | None:
    ok = all(isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 1000 for x in v)
    return None if ok else "must be whole numbers between 1 and 1000"


@dataclass(frozen=True)
class EvaluationSection:
    """``[evaluation]``: the held-out protocol (ranking figures, null-model tests, agreement)."""

    permutations: int = key(200, "Bootstrap resamples for the agreement intervals.", bounded(1, 100_000))
    holdout: float = key(
        0.2,
        "Fraction of each evaluated user's likes held out (test; the same "
        "fraction of the rest is the validation split).",
        fraction,
    )
    scale: str = key(
        "auto",
        "Rating scale: 'auto' (detected from the values) or one of 'implicit', '1-10', '1-5', '0.5-5'.",
        one_of(*SCALES),
    )
    like_threshold: float = key(
        0.0,
        "A rating at least this high is a like; 0 = like_fraction of the way up the scale.",
        bounded(0, 1e6),
    )
    like_fraction: float = key(
        0.7, "Where likes start on the scale when like_threshold = 0 (0.7: 8 on 1-10, 4 on 0.5-5).", fraction
    )
    like_per_user: bool = key(False, "A like must also reach the user's own mean rating.")
    min_likes: int = key(5, "Users with fewer likes are not evaluated.", bounded(2, 1_000_000))
    max_users: int = key(2000, "Users evaluated (fixed-seed sample, to bound the time).", bounded(1, 10_000_000))
    ease_items: int = key(
        5000,
        "The EASE reference covers at most this many titles, the most liked (a dense n x n inverse "
        "per candidate λ: its time grows as n³, its memory as n²); the others score 0.",
        bounded(100, 20_000),
    )
    colike_users: int = key(
        100_000,
        "The cold-start co-like truth and the item-kNN baseline's similarities count the likes of at "
        "most this many users (a fixed-seed sample beyond it): their work grows with each counted "
        "user's likes squared.",
        bounded(100, 100_000_000),
    )
    visitor_likes: list = key(
        [5, 12, 48],
        "Likes a simulated visitor gives (besides all of them) in the visitor-path evaluation.",
        all_of(max_items(8), _like_counts),
    )


def _contact(v: str) -> str | None:
    ok = len(v) <= 200 and all(c.isprintable() and c not in "()" for c in v)
    return None if ok else "must be at most 200 printable characters, without parentheses"


@dataclass(frozen=True)
class FetchSection:
    """``[fetch]``: refreshing the catalog store from the live API (``mangarec fetch``, ``build --fetch``)."""

    contact: str = key(
        "",
        "How the API's operators can reach you (a URL or an e-mail address), sent in the "
        "User-Agent with the project's name. MangaDex asks for a real one; --contact overrides it.",
        _contact,
    )
    full_every_days: float = key(
        7.0,
        "A full listing (every id; titles no longer returned are dropped) when the last one is "
        "older than this; the nights between ask only for what changed.",
        bounded(0, 3650),
    )
    overlap_minutes: float = key(
        60.0,
        "A refresh asks for what changed since the last successful fetch minus this overlap.",
        bounded(0, 10_080),
    )
    feed_pages: int = key(
        10,
        "Most pages of latest uploads (100 chapters each) one fetch reads for the feed.",
        bounded(0, 100),
    )
    rate_per_second: float = key(4.0, "Most requests per second (MangaDex allows 5).", bounded(0.1, 5))
    deadline: float = key(120.0, "Seconds one request may take in all (connect, headers, body).", bounded(1, 3600))
    max_wait: float = key(
        300.0,
        "Longest wait a server may ask for (429 Retry-After); a longer one ends the fetch with one "
        "line naming the wait, so a nightly job ends.",
        bounded(1, 86_400),
    )


@dataclass(frozen=True)
class NightSection:
    """``[night]``: the nightly rebuild's warm updates (:mod:`mangarec.night`); off by default."""

    warm: bool = key(
        False,
        "Warm nights: a model fitted globally (SVD basis, idf, word vectors, spectrum) keeps last "
        "night's global state and recomputes only the changed and new titles' rows, when at most "
        "max_changed of the titles changed. Not equal to a cold build (bench_nightly.py --warm-night "
        "measures the agreement); false: every night equals a cold build of its data.",
    )
    max_changed: float = key(0.05, "Largest share of titles changed (new, edited or removed) for a warm night.", unit)
    cold_every_days: float = key(
        7.0,
        "A model whose global state is this many days old is refitted cold (so drift cannot "
        "accumulate); 0: every night cold.",
        bounded(0, 3650),
    )
    map_epochs: int = key(
        0,
        "On a warm night, umap.warm_epochs for the maps of models refitted cold (0: as umap.warm_epochs "
        "says); the maps of warm-updated models keep their titles' places and place only the changed ones.",
        bounded(0, 10_000),
    )
    reuse_evaluation: bool = key(
        True,
        "On a warm night, keep the last evaluation when at most max_changed of the titles changed "
        "(the models page names the build it was measured on).",
    )


#: ``[models]``: one section per model of the registry (its ``Params``); ``config.models.of(SPEC)``
#: is a model's section, typed as its ``Params`` (:class:`mangarec.models.ModelParams`).
ModelsSection: type[ModelParams] = schema.make_section(
    "ModelsSection",
    "``[models]``: parameters of each model.",
    {name: (s.params, f"{s.label}: {s.summary}") for name, s in REGISTRY.items()},
    base=ModelParams,
)


@dataclass(frozen=True)
class Config:
    """The whole configuration (``site_src/site.toml``)."""

    seed: int = key(42, "The build's seed; every stage derives its own from it.", bounded(0, 2**63 - 1))
    site: SiteSection = section(SiteSection, "The site.")
    catalog: CatalogSection = section(CatalogSection, "The catalog.")
    models: ModelParams = section(ModelsSection, "The models.")
    umap: UMAPSection = section(UMAPSection, "The maps.")
    neighbours: NeighboursSection = section(NeighboursSection, "Neighbour lists.")
    evaluation: EvaluationSection = section(EvaluationSection, "Evaluation.")
    publish: PublishSection = section(PublishSection, "Published JSON.")
    privacy: PrivacySection = section(PrivacySection, "Private collection of ratings.")
    fetch: FetchSection = section(FetchSection, "Fetching from the live API.")
    night: NightSection = section(NightSection, "Warm nightly rebuilds.")


def load_config(path: str | Path | None) -> Config:
    """Read and validate a TOML configuration file; ``None`` gives the defaults.

    Raises
    ------
    ConfigError
        One line naming the file, the key and the bad value (or why the file cannot be read).
    """
    if path is None:
        return Config()
    from .loaders.inputs import read_input_text

    p = Path(path)
    text = read_input_text(p, what="config file", error=ConfigError, max_bytes=MAX_CONFIG_BYTES, allow_empty=True)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}", str(p)) from None
    except RecursionError:
        raise ConfigError("not valid TOML: nested too deeply", str(p)) from None
    return schema.build(Config, data, "", str(p))


def check_config(path: str | Path) -> list[ConfigError]:
    """Every problem of the configuration file ``path``, one :class:`ConfigError` (one line)
    each, in file order (``mangarec config --check``); ``[]`` when it is valid. A file that
    cannot be read or parsed is one problem."""
    from .loaders.inputs import read_input_text

    p = Path(path)
    try:
        text = read_input_text(p, what="config file", error=ConfigError, max_bytes=MAX_CONFIG_BYTES, allow_empty=True)
        data = tomllib.loads(text)
    except ConfigError as e:
        return [e]
    except tomllib.TOMLDecodeError as e:
        return [ConfigError(f"not valid TOML: {e}", str(p))]
    except RecursionError:
        return [ConfigError("not valid TOML: nested too deeply", str(p))]
    problems: list[ConfigError] = []
    schema.build(Config, data, "", str(p), problems)
    return problems


def default_toml() -> str:
    """The default configuration as commented TOML: the shipped ``site_src/site.toml``."""
    return schema.to_toml(
        Config,
        "mangarec configuration. Every key is optional; these are the defaults. "
        "`mangarec build --help-config` prints the same schema; unknown keys are errors. "
        "Regenerate with `mangarec config --defaults > site_src/site.toml`.",
    )


def with_seed(config: Config, seed: int | None) -> Config:
    """The configuration with its seed replaced (when ``seed`` is not ``None``)."""
    return config if seed is None else replace(config, seed=seed)


def describe(cls: type = Config, prefix: str = "") -> list[str]:
    """Every key of the schema with its default and doc, one entry each (``--help-config``)."""
    return schema.describe(cls, prefix)


__all__ = [
    "CatalogSection",
    "Config",
    "ConfigError",
    "EvaluationSection",
    "check_config",
    "MODEL_NAMES",
    "ModelsSection",
    "NeighboursSection",
    "PublishSection",
    "SiteSection",
    "UMAPSection",
    "default_toml",
    "describe",
    "load_config",
    "with_seed",
]

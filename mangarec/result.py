"""What a build hands to the site writer: every stage's results in one value."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .catalog import Catalog
from .config import Config
from .embedding import Embedding, Map, Neighbours


@dataclass(frozen=True, eq=False)
class BuildResult:
    """Inputs of the site writer.

    Attributes
    ----------
    catalog:
        The published catalog (adult content already filtered unless asked otherwise).
    embeddings, neighbours, maps:
        ``{model name: result}``, in the order of ``config.site.models`` (models that could
        not run, e.g. ALS without ratings, are absent).
    report:
        The content of ``data/report.json`` (see ``mangarec.evaluate``).
    config:
        The validated configuration.
    build_date:
        ISO 8601 UTC timestamp of the build (``SOURCE_DATE_EPOCH`` when set).
    published:
        Facts about the published embeddings JSON (model, file sizes), JSON-able.
    """

    catalog: Catalog
    embeddings: Mapping[str, Embedding]
    neighbours: Mapping[str, Neighbours]
    maps: Mapping[str, Map]
    report: Mapping[str, Any]
    config: Config
    build_date: str
    published: Mapping[str, Any] = field(default_factory=dict)

    @property
    def models(self) -> tuple[str, ...]:
        """Model names in display order."""
        return tuple(self.neighbours)

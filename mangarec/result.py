"""What a build hands to the site writer: every stage's results in one value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .catalog import Catalog
from .config import Config
from .embedding import Embedding, Map, Neighbours
from .report import Report


@dataclass(frozen=True, eq=False)
class BuildResult:
    """Inputs of the site writer.

    Attributes
    ----------
    catalog:
        The published catalog (adult content already filtered unless asked otherwise).
    embeddings, neighbours, maps:
        ``{model name: result}``, in the order of ``config.site.models`` (models that could
        not run, e.g. ALS without ratings, are absent: ``report.left_out`` says why).
    report:
        The build report (``data/report.json``), see :mod:`mangarec.report`.
    config:
        The validated configuration.
    build_date:
        The build's date from content or ``SOURCE_DATE_EPOCH`` (``None``: the data carry none).
    """

    catalog: Catalog
    embeddings: Mapping[str, Embedding]
    neighbours: Mapping[str, Neighbours]
    maps: Mapping[str, Map]
    report: Report
    config: Config
    build_date: str | None

    @property
    def models(self) -> tuple[str, ...]:
        """Model names in display order."""
        return tuple(self.neighbours)

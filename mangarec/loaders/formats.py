"""The input formats as one table: what each reads, how it is recognised, its help text.

:data:`FORMATS` maps a format's name (the ``FORMAT`` of ``FORMAT:PATH``) to a
:class:`LoaderFormat`. Detection (:mod:`.detect`) asks each format's sniffers in table order;
loading (:func:`mangarec.loaders.load_catalog`) calls its ``reader``; the command line's
``--help`` lists the table (:func:`formats_help`). A new format is one entry here and its module.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog import Item
from . import generic, mal, mangadex_v3, mangadex_v5
from .inputs import find_file
from .io import base_suffix
from .ratings import ratings_columns

ItemIter = Generator[tuple[Item, int], None, None]


@dataclass(frozen=True)
class LoaderFormat:
    """One input format.

    Attributes
    ----------
    name:
        The ``FORMAT`` of ``FORMAT:PATH``.
    help:
        One phrase for ``--help`` and error messages.
    reader:
        ``reader(path) -> (Item, line)`` iterator; ``None`` for formats that hold ratings only.
    ratings:
        ``None`` (no ratings), ``"explicit"`` or ``"implicit"``: what a ratings file of this
        format holds.
    sniff_json:
        Is a first JSON object (a ``dict``) of this format?
    sniff_text:
        Is a first line that does not parse as JSON (e.g. truncated) likely of this format?
    sniff_csv:
        Is a CSV header (stripped column names) of this format?
    sniff_dir:
        Is a directory (given its entries) of this format?
    """

    name: str
    help: str
    reader: Callable[[Path], ItemIter] | None = None
    ratings: str | None = None
    sniff_json: Callable[[dict[str, Any]], bool] | None = None
    sniff_text: Callable[[str], bool] | None = None
    sniff_csv: Callable[[Sequence[str]], bool] | None = None
    sniff_dir: Callable[[Path, Sequence[Path]], bool] | None = None


def _generic_reader(path: Path) -> ItemIter:
    if base_suffix(path) == ".csv":
        return generic.iter_items_csv(path)
    return generic.iter_items_jsonl(path)


def _has_anime_csv(path: Path, entries: Sequence[Path]) -> bool:
    return find_file(path, "anime.csv") is not None


_TABLE = (
    LoaderFormat(
        "mangadex-v3",
        "legacy MangaDex JSONL (.xz/.gz)",
        mangadex_v3.iter_items,
        sniff_json=lambda o: "is_r18" in o and "languages" in o,
        sniff_text=lambda line: '"is_r18"' in line,
    ),
    LoaderFormat(
        "mangadex-v5",
        "MangaDex API list responses: a JSONL file or a directory of pages",
        mangadex_v5.iter_items,
        sniff_json=lambda o: ("result" in o and "data" in o) or (o.get("type") == "manga" and "attributes" in o),
        sniff_text=lambda line: '"result"' in line or '"attributes"' in line,
        sniff_dir=lambda path, entries: any(p.name.endswith(".json") for p in entries),
    ),
    LoaderFormat(
        "mal",
        "MyAnimeList anime.csv[.gz], or a folder holding anime.csv and ratings.csv (or history.csv)",
        mal.iter_items,
        sniff_csv=lambda header: list(header[:3]) == ["anime_id", "name", "genre"],
        sniff_dir=_has_anime_csv,
    ),
    LoaderFormat("mal-history", "a MyAnimeList folder with history.csv as implicit ratings", mal.iter_items),
    LoaderFormat(
        "ratings",
        "user,item,rating CSV: attaches ratings to the items of the other --data",
        ratings="explicit",
        sniff_csv=lambda header: ratings_columns(header) is not None,
    ),
    LoaderFormat("history", "user,item CSV of implicit feedback (a watch list)", ratings="implicit"),
    LoaderFormat(
        "generic",
        "the project's own JSONL/CSV (docs/catalog-formats.md)",
        _generic_reader,
        sniff_json=lambda o: {"id", "title", "kind"} <= set(o),
        sniff_text=lambda line: '"kind"' in line,
        sniff_csv=lambda header: {"id", "title", "kind"} <= set(header),
    ),
)

#: ``{name: LoaderFormat}`` in detection order.
FORMATS: dict[str, LoaderFormat] = {f.name: f for f in _TABLE}


def formats_help() -> str:
    """The formats for ``--help``: ``name: help; ...``."""
    return "; ".join(f"{f.name}: {f.help}" for f in FORMATS.values())

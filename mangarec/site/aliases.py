"""Extra names for well-known titles (``site_src/catalog/aliases.tsv``).

The MyAnimeList anime catalog has only the romanised Japanese name of each title, so
"attack on titan" would find nothing. The project ships a small alias file, written from
public knowledge (official or widely used English titles), keyed by MyAnimeList id. The site
adds these names to a title whose external ``mal`` id (and kind) match, for the search index
and the title page's "Also known as"; the catalog and the models are untouched.

Format: UTF-8 TSV, ``#`` comment lines, a header ``kind<TAB>mal_id<TAB>names``, then one row
per title, names separated by ``|``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import InputError
from .search_index import normalise

#: Most names one alias row may give, and the longest name.
MAX_NAMES = 8
MAX_NAME_CHARS = 200
#: The largest alias file read (bytes).
MAX_BYTES = 2_000_000

HEADER = ("kind", "mal_id", "names")


def load_aliases(path: Path) -> dict[tuple[str, str], tuple[str, ...]]:
    """``{(kind, MAL id): names}`` from an alias file; ``{}`` when the file does not exist.

    Raises
    ------
    InputError
        A malformed row (naming the file and line), or a file over :data:`MAX_BYTES`.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"alias file larger than {MAX_BYTES} bytes", str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 ({e.reason})", str(path)) from None
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    header = False
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if not header:
            if tuple(c.strip() for c in cols) != HEADER:
                raise InputError("the header must be: kind<TAB>mal_id<TAB>names", str(path), n)
            header = True
            continue
        if len(cols) != 3:
            raise InputError(f"expected 3 tab-separated columns, got {len(cols)}", str(path), n)
        kind, mal_id, names = (c.strip() for c in cols)
        if kind not in ("anime", "manga"):
            raise InputError(f"kind must be anime or manga, got {kind[:20]!r}", str(path), n)
        if not mal_id.isdigit():
            raise InputError(f"mal_id must be a number, got {mal_id[:20]!r}", str(path), n)
        parts = tuple(x.strip() for x in names.split("|") if x.strip())
        if not parts or len(parts) > MAX_NAMES or any(len(x) > MAX_NAME_CHARS for x in parts):
            raise InputError(
                f"names must be 1 to {MAX_NAMES} names of at most {MAX_NAME_CHARS} characters", str(path), n
            )
        if (kind, mal_id) in out:
            raise InputError(f"duplicate row for {kind} {mal_id}", str(path), n)
        out[(kind, mal_id)] = parts
    return out


def with_aliases(items: Sequence, aliases: Mapping[tuple[str, str], Sequence[str]]) -> list[tuple[str, ...]]:
    """Each item's alternative titles plus its aliases that neither its title nor an
    alternative title already gives (compared as :func:`normalise` forms), in item order."""
    out = []
    for it in items:
        extra: list[str] = []
        for code, value in it.external:
            if code == "mal":
                extra.extend(aliases.get((it.kind, value), ()))
        if not extra:
            out.append(tuple(it.alt_titles))
            continue
        seen = {normalise(it.title), *(normalise(a) for a in it.alt_titles)}
        alts = list(it.alt_titles)
        for name in extra:
            key = normalise(name)
            if key and key not in seen:
                seen.add(key)
                alts.append(name)
        out.append(tuple(alts))
    return out

"""User ratings CSV files, attached to the items of a catalog.

Accepted headers (extra columns such as ``timestamp`` are ignored):

- explicit: ``user_id,anime_id,rating`` (anime-recdb), ``user_id,item_id,rating``,
  ``pseudonym,item_id,rating`` (the privacy-preserving collection), ``userId,movieId,rating``
  (MovieLens);
- implicit (no ``rating`` column, every row means "liked / on the list", stored as 1.0):
  ``user_id,anime_id`` (anime-recdb ``history.csv.gz``), ``user_id,item_id``, ``pseudonym,item_id``.

A rating must be a finite number greater than 0 (0 cannot be stored in a sparse matrix and
MyAnimeList's -1 means "not rated") and at most :data:`MAX_RATING` (10⁶: every rating scale in
use is far below; a larger value is a broken file, and 1e20 would overflow the ALS solver).
The scale itself (1–10, 0.5–5 ...) is not checked here. A user rating the same item twice is an error naming
the line of the second rating. Ratings of items that are not in the catalog are dropped and
counted: ``skipped["ratings: filtered item"]`` for items a filter removed (adult, no tags),
``skipped["ratings: unknown item"]`` for ids no catalog file has (``"ratings: unknown or
unread item (limit)"`` when ``limit`` stopped the reading of the catalog early). A file none of
whose ratings names a title of the catalog (some unknown, the rest filtered) is an error naming
its first unknown id's line: it is another catalog's ratings, and the build would silently go
without the collaborative model. Users left with no rating are dropped. Users are numbered in
order of first appearance in the file.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..catalog import Ratings
from ..errors import InputError
from .base import iter_csv_rows

USER_COLUMNS: tuple[str, ...] = ("user_id", "userId", "pseudonym", "user")
ITEM_COLUMNS: tuple[str, ...] = ("anime_id", "item_id", "movieId", "manga_id")
RATING_COLUMN = "rating"
#: The largest rating accepted (see the module docstring).
MAX_RATING = 1e6


def ratings_columns(header: Sequence[str]) -> tuple[str, str, str | None] | None:
    """``(user column, item column, rating column or None)`` if ``header`` is a ratings header."""
    user = next((c for c in USER_COLUMNS if c in header), None)
    item = next((c for c in ITEM_COLUMNS if c in header), None)
    if user is None or item is None:
        return None
    if "name" in header or "title" in header:  # an item list (anime.csv has anime_id + name)
        return None
    return user, item, RATING_COLUMN if RATING_COLUMN in header else None


@dataclass(frozen=True, eq=False)
class RawRatings:
    """Ratings as read, before alignment with a catalog (one entry per row)."""

    source: str
    users: list[str]
    items: list[str]
    values: np.ndarray  # (n,) float32
    lines: np.ndarray  # (n,) int64, 1-based line numbers
    implicit: bool


def read_ratings(path: Path, *, implicit: bool | None = None) -> RawRatings:
    """Read a ratings CSV (streaming). ``implicit=True`` ignores a rating column."""
    from .base import csv_header

    src = str(path)
    header = csv_header(path)
    cols = ratings_columns(header)
    if cols is None:
        raise InputError(
            "missing columns: a ratings file needs a user column "
            f"({'/'.join(USER_COLUMNS)}) and an item column ({'/'.join(ITEM_COLUMNS)})",
            src,
            1,
        )
    ucol, icol, rcol = cols
    if implicit:
        rcol = None
    users: list[str] = []
    items: list[str] = []
    values: list[float] = []
    lines: list[int] = []
    header, rows = iter_csv_rows(path, tuple(c for c in (ucol, icol, rcol) if c))
    ui, ii = header.index(ucol), header.index(icol)
    ri = header.index(rcol) if rcol else -1
    for n, row in rows:
        u, i = row[ui].strip(), row[ii].strip()
        if not u:
            raise InputError(f"missing user id (column {ucol!r})", src, n)
        if not i:
            raise InputError(f"missing item id (column {icol!r})", src, n)
        if ri < 0:
            v = 1.0
        else:
            text = row[ri]
            try:
                v = float(text)
            except ValueError:
                raise InputError(
                    f"bad rating value {text.strip()[:40]!r} (column {rcol!r}): not a number", src, n
                ) from None
            if not (0 < v <= MAX_RATING):
                why = (
                    "must be a finite number > 0"
                    if not math.isfinite(v)
                    else "must be a number > 0"
                    if v <= 0
                    else f"must be at most {MAX_RATING:g}"
                )
                raise InputError(f"bad rating value {text.strip()[:40]!r} (column {rcol!r}): {why}", src, n)
        users.append(u)
        items.append(i)
        values.append(v)
        lines.append(n)
    return RawRatings(
        source=src,
        users=users,
        items=items,
        values=np.asarray(values, dtype=np.float32),
        lines=np.asarray(lines, dtype=np.int64),
        implicit=rcol is None,
    )


UNKNOWN = "ratings: unknown item"
UNKNOWN_OR_UNREAD = "ratings: unknown or unread item (limit)"
FILTERED = "ratings: filtered item"


def attach(
    raw: RawRatings, index: Mapping[str, int], filtered: Collection[str], *, limited: bool = False
) -> tuple[Ratings, Counter]:
    """Align ``raw`` with a catalog whose ``{item id: position}`` is ``index``.

    Returns
    -------
    (Ratings, Counter)
        The ratings (``matrix`` csr, shape ``(n_users, len(index))``, float32) and the skip
        counts described in the module docstring. With ``limited`` (reading stopped at the
        item limit), ids not seen are counted as "unknown or unread item (limit)".
    """
    n_items = len(index)
    skipped: Counter = Counter()
    user_pos: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    keep: list[int] = []
    first_unknown = -1
    for k, (u, i) in enumerate(zip(raw.users, raw.items)):
        c = index.get(i)
        if c is None:
            why = FILTERED if i in filtered else (UNKNOWN_OR_UNREAD if limited else UNKNOWN)
            skipped[why] += 1
            if why == UNKNOWN and first_unknown < 0:
                first_unknown = k
            continue
        r = user_pos.setdefault(u, len(user_pos))
        rows.append(r)
        cols.append(c)
        keep.append(k)
    if not keep and first_unknown >= 0:
        raise InputError(
            f"none of its {len(raw.items):,} rating(s) names a title of the catalog ({skipped[UNKNOWN]:,} "
            f"unknown id(s), the first {raw.items[first_unknown]!r}): are these the ratings of another catalog?",
            raw.source,
            int(raw.lines[first_unknown]),
        )
    r_arr = np.asarray(rows, dtype=np.int64)
    c_arr = np.asarray(cols, dtype=np.int64)
    k_arr = np.asarray(keep, dtype=np.int64)
    if len(k_arr):
        key = r_arr * max(n_items, 1) + c_arr
        order = np.argsort(key, kind="stable")
        dup = np.flatnonzero(key[order][1:] == key[order][:-1])
        if len(dup):
            second = k_arr[order[dup + 1]].min()
            u, i = raw.users[second], raw.items[second]
            raise InputError(
                f"duplicate rating: user {u!r} already rated item {i!r}", raw.source, int(raw.lines[second])
            )
    matrix = sp.csr_matrix((raw.values[k_arr], (r_arr, c_arr)), shape=(len(user_pos), n_items), dtype=np.float32)
    matrix.sort_indices()
    return Ratings(matrix=matrix, user_ids=tuple(user_pos), implicit=raw.implicit, source=raw.source), skipped

"""Ratings CSV input and the collected output (``pseudonym,item_id,rating``).

Input is read by the project's ratings loader (:func:`mangarec.loaders.ratings.read_ratings`:
any compression, the usual headers such as ``user_id,anime_id,rating``, one-line
``file:line: reason`` errors); this module only adds what the private collection
needs: integer item ids in [0, 2^20), integer ratings in [1, 15], one rating per
(user, item).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path

from mangarec.errors import InputError
from mangarec.fsutil import atomic_write
from mangarec.loaders.ratings import read_ratings as _read_raw

from .ratings_codec import MAX_ITEM, MAX_RATING

OUT_HEADER = ["pseudonym", "item_id", "rating"]


def read_ratings(path: str | os.PathLike) -> dict[str, list[tuple[int, int]]]:
    """Map user id -> [(item_id, rating)] in file order; raises InputError(file:line: ...)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", str(path))
    raw = _read_raw(path)
    if raw.implicit:
        raise InputError("a rating column is required", str(path), 1)
    users: dict[str, list[tuple[int, int]]] = {}
    seen: set[tuple[str, int]] = set()
    for user, item_s, value, line in zip(raw.users, raw.items, raw.values.tolist(), raw.lines.tolist()):
        try:
            item = int(item_s)
        except ValueError:
            raise InputError(f"item id {item_s[:40]!r} is not an integer", str(path), line) from None
        if not 0 <= item <= MAX_ITEM:
            raise InputError(f"item_id {item} outside [0, {MAX_ITEM}]", str(path), line)
        if value != int(value) or not 1 <= value <= MAX_RATING:
            raise InputError(f"rating {value:g} is not an integer in [1, {MAX_RATING}]", str(path), line)
        if (user, item) in seen:
            raise InputError(f"duplicate rating of item {item} by user {user}", str(path), line)
        seen.add((user, item))
        users.setdefault(user, []).append((item, int(value)))
    return users


def write_collected(path: str | os.PathLike, rows: Iterable[tuple[str, int | str, int]]) -> int:
    """Write rows sorted by (pseudonym, item_id) atomically; returns the row count."""
    rows = sorted(rows, key=lambda r: (r[0], str(r[1]) if isinstance(r[1], str) else r[1]))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(OUT_HEADER)
    w.writerows(rows)
    atomic_write(Path(path), buf.getvalue().encode("utf-8"))
    return len(rows)

"""Ratings CSV input (``user_id,anime_id,rating`` or ``user_id,item_id,rating``,
plain or gzip) and the collected output (``pseudonym,item_id,rating``)."""
from __future__ import annotations

import csv
import gzip
import io
import os
from pathlib import Path
from typing import Iterable

from .ratings_codec import MAX_ITEM, MAX_RATING

from mangarec.errors import InputError
from mangarec.fsutil import atomic_write

HEADERS = (["user_id", "anime_id", "rating"], ["user_id", "item_id", "rating"])
OUT_HEADER = ["pseudonym", "item_id", "rating"]


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_ratings(path: str | os.PathLike) -> dict[str, list[tuple[int, int]]]:
    """Map user id -> [(item_id, rating)] in file order; raises InputError(file:line: ...)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", str(path))
    users: dict[str, list[tuple[int, int]]] = {}
    seen: set[tuple[str, int]] = set()
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or [h.strip() for h in header] not in HEADERS:
                raise InputError("header must be user_id,anime_id,rating or "
                                 f"user_id,item_id,rating, got {header!r}", str(path), 1)
            for row in reader:
                line = reader.line_num
                if len(row) != 3:
                    raise InputError(f"expected 3 fields, got {len(row)}", str(path), line)
                user = row[0].strip()
                try:
                    item, rating = int(row[1]), int(row[2])
                except ValueError:
                    raise InputError("item_id and rating must be integers", str(path), line)
                if not user:
                    raise InputError("empty user_id", str(path), line)
                if not 0 <= item <= MAX_ITEM:
                    raise InputError(f"item_id {item} outside [0, {MAX_ITEM}]", str(path), line)
                if not 0 <= rating <= MAX_RATING:
                    raise InputError(f"rating {rating} outside [0, {MAX_RATING}]", str(path), line)
                if (user, item) in seen:
                    raise InputError(f"duplicate rating of item {item} by user {user}", str(path), line)
                seen.add((user, item))
                users.setdefault(user, []).append((item, rating))
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile, csv.Error) as exc:
        raise InputError(f"unreadable ({exc})", str(path))
    return users


def write_collected(path: str | os.PathLike, rows: Iterable[tuple[str, int, int]]) -> int:
    """Write rows sorted by (pseudonym, item_id) atomically; returns the row count."""
    path = Path(path)
    rows = sorted(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(OUT_HEADER)
    w.writerows(rows)
    atomic_write(path, buf.getvalue().encode("utf-8"))
    return len(rows)

"""The build's date, from content or ``SOURCE_DATE_EPOCH`` (reproducible builds).

This module imports nothing heavy: the command line checks ``SOURCE_DATE_EPOCH`` before numpy
and scipy are imported (numpy's f2py reads it at import time).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime

from .errors import InputError

#: The latest ``SOURCE_DATE_EPOCH`` accepted (the end of year 9999).
MAX_EPOCH = 253402300799


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` as an int, or ``None`` when unset.

    Raises
    ------
    InputError
        When it is not a whole number of seconds from 0 to :data:`MAX_EPOCH`.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return None
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or int(text) > MAX_EPOCH:
        raise InputError(f"SOURCE_DATE_EPOCH = {raw!r}: must be a whole number of seconds from 0 to {MAX_EPOCH}")
    return int(text)


def build_date(item_dates: Iterable[str | None]) -> str | None:
    """The build's date, from content only (so two machines agree).

    ``SOURCE_DATE_EPOCH`` as ISO 8601 UTC when set; otherwise the newest full date
    (``YYYY-MM-DD``) among ``item_dates`` ("data as of"); ``None`` when there is none.
    """
    epoch = source_date_epoch()
    if epoch is not None:
        return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    full = [d[:10] for d in item_dates if d and len(d) >= 10 and d[4] == "-" and d[7] == "-"]
    return max(full) if full else None

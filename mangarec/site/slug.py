"""Where a title's page lives: ``title/<slug>/``.

A live MangaDex catalog's ids are UUIDs, 36 characters, and every link to a title page carries
one (a title page links ~35 others: its lists and the other models' top 3). A canonical UUID
(lower-case ``8-4-4-4-12`` hex) is therefore written as its 16 bytes in URL-safe base64 without
padding, 22 characters; it is lossless (no two UUIDs share a slug) and any other id is its own
slug. Measured with ``benchmarks/bench_site_size.py --uuid``: see ``docs/deploy.md``, "Limits of
the host". ``site_src/static/js/slug.js`` is the same function for the browser (a test runs both
on the same ids).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Sequence

from ..errors import InputError

UUID_FORM = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def slug(item_id: str) -> str:
    """The path segment of ``item_id``'s title page (22 characters for a UUID, else the id)."""
    if UUID_FORM.fullmatch(item_id) is None:
        return item_id
    return base64.urlsafe_b64encode(bytes.fromhex(item_id.replace("-", ""))).rstrip(b"=").decode("ascii")


def uuid_of(slug_: str) -> str:
    """The UUID whose :func:`slug` is ``slug_`` (22 URL-safe base64 characters): a UUID title's
    page carries only its slug, and ``title.js`` recovers the id with the same function."""
    raw = base64.urlsafe_b64decode(slug_ + "==")
    if len(slug_) != 22 or len(raw) != 16:
        raise ValueError(f"{slug_!r} is not the slug of a UUID")
    return str(uuid.UUID(bytes=raw))


def slugs(ids: Sequence[str]) -> list[str]:
    """:func:`slug` of each id; one line naming both ids when two would share a page (an id that
    spells another's UUID slug)."""
    out = [slug(i) for i in ids]
    if len(set(out)) != len(out):
        seen: dict[str, str] = {}
        for i, s in zip(ids, out):
            if s in seen:
                raise InputError(f"ids {seen[s]!r} and {i!r} would share the page title/{s}/: rename one")
            seen[s] = i
    return out


__all__ = ["UUID_FORM", "slug", "slugs", "uuid_of"]

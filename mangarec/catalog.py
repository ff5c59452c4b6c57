"""The catalog: items (anime or manga) with tags, and optionally user ratings.

Loaders (``mangarec.loaders``) build a :class:`Catalog`; every model reads one. Items keep the
ids of their source data (as strings), so that downloads and URLs use ids a user recognises.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .errors import InputError

#: The tag groups, in display order. MangaDex uses all five; MyAnimeList only ``genre``.
TAG_GROUPS: tuple[str, ...] = ("demographic", "content", "format", "genre", "theme")

#: The kinds of item a catalog can hold.
KINDS: tuple[str, ...] = ("anime", "manga")

#: Item ids are used in URLs and file names: they must match this (use ``fullmatch``; the
#: pattern is anchored with ``\A`` / ``\Z`` so that ``match`` cannot accept a trailing newline
#: either, as ``$`` would).
ID_PATTERN = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")


@dataclass(frozen=True)
class Related:
    """A link from one item to another (sequel, adaptation, spin-off ...)."""

    id: str
    type: str
    title: str | None = None


@dataclass(frozen=True)
class Item:
    """One anime or manga.

    ``tags`` is a tuple of ``(group, tag names)`` pairs in :data:`TAG_GROUPS` order, each
    group's names sorted; tag names are canonical (see ``mangarec.tags``). ``description`` is
    plain text (paragraphs separated by blank lines), never markup. ``popularity`` is a
    members or rating count (or an approximate relative figure, for the bundled catalog).
    ``matches`` is a reference list of similar items published with the source data (MangaDex
    v3: another project's tf-idf + tag lists, best first), used only to evaluate models.
    """

    id: str
    title: str
    kind: str
    tags: tuple[tuple[str, tuple[str, ...]], ...] = ()
    alt_titles: tuple[str, ...] = ()
    type: str | None = None
    year: int | None = None
    date: str | None = None
    description: str = ""
    popularity: float = 0.0
    score: float | None = None
    external: tuple[tuple[str, str], ...] = ()
    related: tuple[Related, ...] = ()
    adult: bool = False
    url: str | None = None
    matches: tuple[str, ...] = ()
    #: When the source last published a chapter or episode of it (ISO date and time, UTC), if known.
    updated: str | None = None

    @property
    def tag_list(self) -> tuple[str, ...]:
        """All tag names of the item, sorted, without duplicates."""
        return tuple(sorted({t for _, names in self.tags for t in names}))

    @property
    def tag_groups(self) -> dict[str, tuple[str, ...]]:
        """The tags as a ``{group: names}`` dict (groups with no tag are absent)."""
        return {g: names for g, names in self.tags if names}


def make_tags(groups: Mapping[str, Iterable[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Normalise a ``{group: names}`` mapping into the :attr:`Item.tags` form.

    Unknown groups are kept after the known ones, in sorted order; empty groups are dropped.
    """
    order = list(TAG_GROUPS) + sorted(g for g in groups if g not in TAG_GROUPS)
    out = []
    for g in order:
        names = tuple(sorted({n for n in groups.get(g, ()) if n}))
        if names:
            out.append((g, names))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class Ratings:
    """User ratings aligned with a catalog's items.

    ``matrix`` is a ``scipy.sparse.csr_matrix`` of shape ``(n_users, n_items)`` and dtype
    float32 whose columns follow the catalog's item order; a stored value is a rating (explicit)
    or 1.0 (implicit). ``user_ids`` are the source's user ids or pseudonyms, as strings.
    """

    matrix: sp.csr_matrix
    user_ids: tuple[str, ...]
    implicit: bool = False
    source: str = ""

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)


#: The catalog's fields, as stages read them: ``{field: the item record keys it covers}``.
#: A stage's cache key holds the fingerprints of the fields it reads
#: (:meth:`Catalog.fields_fingerprint`), so a changed description recomputes the stages that
#: read text and nothing else. ``ids`` (the items and their order) is in every key; ``ratings``
#: is the ratings matrix (:attr:`Catalog.ratings_fingerprint`). Every record key of
#: :func:`item_record` belongs to exactly one field (a test checks it).
FIELDS: dict[str, tuple[str, ...]] = {
    "ids": ("id",),
    "titles": ("title", "alt_titles", "kind", "type"),
    "tags": ("tags",),
    "descriptions": ("description",),
    "popularity": ("popularity", "score"),
    "links": ("related",),
    "details": ("year", "date", "external", "adult", "url"),
    "matches": ("matches",),
    "ratings": (),
}

#: Most names kept per adult title left out (:attr:`Catalog.adult_names`).
MAX_ADULT_NAMES = 4


@dataclass(frozen=True, eq=False)
class Catalog:
    """An ordered collection of items, plus optional ratings on them.

    ``skipped`` counts items a loader left out, by reason (e.g. ``{"adult": 9161}``); the
    build reports it.
    """

    items: tuple[Item, ...]
    ratings: Ratings | None = None
    sources: tuple[str, ...] = ()
    skipped: Mapping[str, int] = field(default_factory=dict)
    #: Names (title, then up to :data:`MAX_ADULT_NAMES` - 1 alternative titles) of each item the
    #: adult filter left out, in input order: the site's search can then say that a title was
    #: left out, and publishes nothing else about it.
    adult_names: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise InputError(f"duplicate item id {item.id!r}", self._where())
            seen.add(item.id)
        if self.ratings is not None and self.ratings.matrix.shape[1] != len(self.items):
            raise ValueError("ratings matrix columns do not match the catalog's items")

    def _where(self) -> str | None:
        return ", ".join(self.sources) or None

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    @cached_property
    def ids(self) -> tuple[str, ...]:
        """Item ids in catalog order."""
        return tuple(i.id for i in self.items)

    @cached_property
    def index(self) -> dict[str, int]:
        """``{item id: position}``."""
        return {iid: k for k, iid in enumerate(self.ids)}

    def __getitem__(self, item_id: str) -> Item:
        return self.items[self.index[item_id]]

    @cached_property
    def tag_vocabulary(self) -> tuple[str, ...]:
        """Every tag name used by an item, sorted."""
        return tuple(sorted({t for item in self.items for t in item.tag_list}))

    @cached_property
    def tag_group_of(self) -> dict[str, str]:
        """``{tag name: group}`` (the first group a tag appears in)."""
        out: dict[str, str] = {}
        for item in self.items:
            for g, names in item.tags:
                for n in names:
                    out.setdefault(n, g)
        return dict(sorted(out.items()))

    @cached_property
    def tag_matrix(self) -> sp.csr_matrix:
        """Binary item x tag incidence matrix ``B``.

        Returns
        -------
        scipy.sparse.csr_matrix
            Shape ``(n_items, n_tags)``, dtype float32, columns in :attr:`tag_vocabulary` order.
        """
        col = {t: j for j, t in enumerate(self.tag_vocabulary)}
        indptr = [0]
        indices: list[int] = []
        for item in self.items:
            indices.extend(sorted(col[t] for t in item.tag_list))
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        return sp.csr_matrix(
            (data, np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
            shape=(len(self.items), len(col)),
        )

    @cached_property
    def popularity(self) -> np.ndarray:
        """Popularity per item, shape ``(n_items,)``, float64."""
        return np.array([i.popularity for i in self.items], dtype=np.float64)

    @cached_property
    def tie_order(self) -> np.ndarray:
        """Rank of each item for breaking ties: most popular first, then by id.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_items,)``, int64; ``tie_order[i]`` is 0 for the item that wins every tie.
        """
        order = sorted(range(len(self.items)), key=lambda k: (-self.items[k].popularity, self.items[k].id))
        rank = np.empty(len(order), dtype=np.int64)
        rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
        return rank

    @cached_property
    def items_fingerprint(self) -> str:
        """SHA-256 of the items (every field, in order), hex: the key of stages that read items."""
        h = hashlib.sha256()
        for item in self.items:
            h.update(json.dumps(item_record(item), sort_keys=True, ensure_ascii=True).encode())
            h.update(b"\n")
        return h.hexdigest()

    @cached_property
    def ratings_fingerprint(self) -> str | None:
        """SHA-256 of the ratings (matrix, user ids, kind), hex; ``None`` without ratings."""
        if self.ratings is None:
            return None
        h = hashlib.sha256()
        m = self.ratings.matrix.tocsr()
        m.sort_indices()
        for arr in (m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data.astype(np.float32)):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(("\n".join(self.ratings.user_ids) + f"|{self.ratings.implicit}").encode("utf-8", "backslashreplace"))
        return h.hexdigest()

    @cached_property
    def field_fingerprints(self) -> dict[str, str | None]:
        """``{field: SHA-256 hex}`` of every field of :data:`FIELDS` (``ratings``: ``None`` without)."""
        hashes = {f: hashlib.sha256() for f in FIELDS if f != "ratings"}
        for item in self.items:
            record = item_record(item)
            for f, h in hashes.items():
                part = {k: record[k] for k in FIELDS[f] if k in record}
                h.update(json.dumps(part, sort_keys=True, ensure_ascii=True).encode())
                h.update(b"\n")
        out: dict[str, str | None] = {f: h.hexdigest() for f, h in hashes.items()}
        out["ratings"] = self.ratings_fingerprint
        return out

    def fields_fingerprint(self, fields: Iterable[str]) -> str:
        """SHA-256 hex over the fingerprints of ``fields`` (``ids`` always included): the key of
        a stage that reads only those fields of the catalog.

        Raises
        ------
        ValueError
            For a name that is not in :data:`FIELDS`.
        """
        names = sorted({"ids", *fields})
        unknown = [f for f in names if f not in FIELDS]
        if unknown:
            raise ValueError(f"unknown catalog field(s) {unknown} (known: {', '.join(FIELDS)})")
        fp = self.field_fingerprints
        return hashlib.sha256("|".join(f"{f}={fp[f]}" for f in names).encode()).hexdigest()

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the catalog's content (items and ratings), hex."""
        return hashlib.sha256(f"{self.items_fingerprint}|{self.ratings_fingerprint}".encode()).hexdigest()

    @cached_property
    def work_of(self) -> np.ndarray:
        """The work each item belongs to: ``(n_items,)`` int64, the position of the work's first item.

        One work, several formats: items of **different kinds** (an anime and a manga) whose
        titles or alternative titles are equal after :func:`title_key` are one work (transitively).
        Items of the same kind are never merged by title alone (a remake is another entry).
        An item alone in its work has ``work_of[i] == i``.
        """
        return work_groups(self.items)

    def subset(self, positions: Sequence[int]) -> Catalog:
        """A catalog of the items at ``positions`` (in that order), ratings restricted too."""
        pos = np.asarray(positions, dtype=np.int64)
        items = tuple(self.items[k] for k in pos)
        ratings = None
        if self.ratings is not None:
            m = self.ratings.matrix[:, pos].tocsr()
            keep = np.flatnonzero(np.diff(m.indptr) > 0)
            ratings = replace(
                self.ratings,
                matrix=m[keep].tocsr(),
                user_ids=tuple(self.ratings.user_ids[k] for k in keep),
            )
        return Catalog(
            items=items, ratings=ratings, sources=self.sources, skipped=dict(self.skipped), adult_names=self.adult_names
        )


_KEY_DROP = re.compile(r"[\W_]+", re.UNICODE)


def title_key(title: str) -> str:
    """A title reduced for comparison: NFKC, case-folded, punctuation and spaces removed."""
    return _KEY_DROP.sub("", unicodedata.normalize("NFKC", title).casefold())


def work_groups(items: Sequence[Item]) -> np.ndarray:
    """``work_of`` for ``items`` (see :attr:`Catalog.work_of`): union-find over shared title keys."""
    n = len(items)
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    by_key: dict[str, list[int]] = {}
    for k, item in enumerate(items):
        for t in {title_key(t) for t in (item.title, *item.alt_titles)}:
            if t:
                by_key.setdefault(t, []).append(k)
    for members in by_key.values():
        if len(members) < 2 or len({items[m].kind for m in members}) < 2:
            continue
        kinds: dict[str, int] = {}
        for m in members:
            kinds.setdefault(items[m].kind, m)
        first = min(kinds.values())
        for m in kinds.values():  # one item per kind: same-kind entries are not merged
            ra, rb = find(first), find(m)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(k) for k in range(n)], dtype=np.int64)


def item_record(item: Item) -> dict:
    """A JSON-able dict of an item (used for hashing and the generic JSONL format)."""
    return {
        "id": item.id,
        "title": item.title,
        "alt_titles": list(item.alt_titles),
        "kind": item.kind,
        "type": item.type,
        "year": item.year,
        "date": item.date,
        "tags": {g: list(n) for g, n in item.tags},
        "description": item.description,
        "popularity": item.popularity,
        "score": item.score,
        "external": dict(item.external),
        "related": [{"id": r.id, "type": r.type, "title": r.title} for r in item.related],
        "adult": item.adult,
        "url": item.url,
        # only when present, so catalogs without reference lists keep their fingerprints
        **({"matches": list(item.matches)} if item.matches else {}),
        **({"updated": item.updated} if item.updated else {}),
    }

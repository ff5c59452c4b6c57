"""The explore page's type-ahead index: small shards keyed by word prefix.

Every title and alternative title is normalised (:func:`normalise`: NFKD, combining marks
removed, case-folded, split into letter/digit words). Each name is filed under the prefix of
each of its words (stop words aside), in one shard per prefix. A prefix whose shard would
hold more than ``shard_size`` names is split by one more character, down to
:data:`MAX_KEY` characters, so every shard stays small whatever the catalog's size; the
browser fetches ``index.json`` (the key table) and then the one shard the query needs.

Layout under ``data/search/``:

``index.json``
    ``{"v": 1, "keys": {prefix: 1 (leaf: every word with this prefix) | 2 (split; the file
    holds only the words equal to the prefix) | 0 (split, no such word)}, "stop": [...]}``
``k-<hex of the UTF-8 prefix>.json``
    ``{"i": {id: [title, popularity rank]}, "a": [[id, alternative title], ...]}``, plus
    ``"x": [name, ...]`` when names of titles left out by the adult filter fall in the shard
    (only their names are published: a search can say such a title was left out).

:func:`query` is the same algorithm as ``search.js``, for tests and benchmarks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

#: Words never used as shard keys (they would make huge shards); they still match.
STOP_WORDS: tuple[str, ...] = (
    "a",
    "an",
    "and",
    "da",
    "de",
    "del",
    "der",
    "des",
    "die",
    "du",
    "el",
    "ga",
    "in",
    "la",
    "le",
    "les",
    "mo",
    "na",
    "ni",
    "no",
    "o",
    "of",
    "on",
    "the",
    "to",
    "wa",
    "wo",
)
#: Longest shard key, in characters.
MAX_KEY = 6
#: Most alternative titles indexed per item.
MAX_ALT = 12

_WORD = re.compile(r"[^\W_]+")
_STOP = frozenset(STOP_WORDS)


def normalise(text: str) -> str:
    """Accent-, case- and punctuation-insensitive form: words joined by single spaces.

    ``"Shingeki no Kyojin: Ōtoshi"`` → ``"shingeki no kyojin otoshi"``.
    """
    t = unicodedata.normalize("NFKD", text)
    t = "".join(c for c in t if not unicodedata.category(c).startswith("M"))
    t = t.casefold()
    return " ".join(_WORD.findall(t))


def key_file(key: str) -> str:
    """The shard file name of a prefix (hex of its UTF-8 bytes, so any script is a safe name)."""
    return f"k-{key.encode('utf-8').hex()}.json"


@dataclass(frozen=True)
class SearchIndex:
    """An index in memory: ``keys`` (the key table) and ``shards`` ``{prefix: shard dict}``."""

    keys: Mapping[str, int]
    shards: Mapping[str, dict]

    def files(self) -> dict[str, dict]:
        """``{file name: JSON-able content}`` for ``data/search/``."""
        out = {
            "index.json": {
                "v": 1,
                "keys": dict(sorted(self.keys.items())),
                "stop": list(STOP_WORDS),
                "max_key": MAX_KEY,
            }
        }
        for key, shard in sorted(self.shards.items()):
            out[key_file(key)] = shard
        return out


def build_index(
    entries: Sequence[tuple[str, str, Sequence[str]]],
    shard_size: int = 2000,
    left_out: Sequence[Sequence[str]] = (),
) -> SearchIndex:
    """Build the sharded index.

    Parameters
    ----------
    entries:
        ``(id, title, alt_titles)`` per item, most popular first (the order is the rank).
    shard_size:
        Most names per shard before a prefix is split by one more character.
    left_out:
        The names of each title left out by the adult filter (title first): indexed as
        names only, under ``"x"``.
    """
    rank = {}
    names: list[tuple[str | None, str | None, tuple[str, ...]]] = []  # (id or None, alt or None, words)

    def add(iid: str | None, all_names: Sequence[str]) -> None:
        seen = set()
        for k, name in enumerate(all_names):
            norm = normalise(name)
            if not norm or norm in seen:
                continue
            seen.add(norm)
            words = tuple(dict.fromkeys(norm.split()))
            keyed = tuple(w for w in words if w not in _STOP) or words[:1]
            names.append((iid, None if (k == 0 and iid is not None) else name, keyed))

    for r, (iid, title, alts) in enumerate(entries):
        rank[iid] = (title, r)
        add(iid, [title, *list(alts)[:MAX_ALT]])
    for group in left_out:
        add(None, list(group)[: MAX_ALT + 1])

    keys: dict[str, int] = {}
    shards: dict[str, dict] = {}

    def shard_of(recs: Iterable[int]) -> dict:
        recs = sorted(set(recs))
        items = {}
        alts = []
        gone = []
        for n in recs:
            iid, alt, _ = names[n]
            if iid is None:
                if alt is not None:
                    gone.append(alt)
                continue
            items[iid] = [rank[iid][0], rank[iid][1]]
            if alt is not None:
                alts.append([iid, alt])
        out: dict[str, object] = {"i": dict(sorted(items.items())), "a": alts}
        if gone:
            out["x"] = sorted(set(gone))
        return out

    def place(prefix: str, pairs: list[tuple[str, int]]) -> None:
        recs = {n for _, n in pairs}
        if len(recs) <= shard_size or len(prefix) >= MAX_KEY:
            keys[prefix] = 1
            shards[prefix] = shard_of(recs)
            return
        exact = [n for w, n in pairs if len(w) == len(prefix)]
        if exact:
            keys[prefix] = 2
            shards[prefix] = shard_of(exact)
        else:
            keys[prefix] = 0
        groups: dict[str, list[tuple[str, int]]] = {}
        for w, n in pairs:
            if len(w) > len(prefix):
                groups.setdefault(w[: len(prefix) + 1], []).append((w, n))
        for child in sorted(groups):
            place(child, groups[child])

    top: dict[str, list[tuple[str, int]]] = {}
    for n, (_, _, words) in enumerate(names):
        for w in words:
            top.setdefault(w[:1], []).append((w, n))
    for prefix in sorted(top):
        place(prefix, top[prefix])
    return SearchIndex(keys=keys, shards=shards)


def resolve(keys: Mapping[str, int], word: str) -> tuple[str | None, bool]:
    """The shard key for one query word and whether that shard covers every completion.

    Returns ``(None, False)`` when no indexed word starts like ``word``.
    """
    for length in range(1, len(word) + 1):
        key = word[:length]
        flag = keys.get(key)
        if flag is None:
            return None, False
        if flag == 1:
            return key, True
        if length == len(word):
            return (key if flag == 2 else None), False
    return None, False


def matches(query_words: Sequence[str], name_words: Sequence[str]) -> bool:
    """Every query word is a prefix of some word of the name."""
    return all(any(w.startswith(q) for w in name_words) for q in query_words)


def _prepared(index: SearchIndex, key: str) -> list[tuple[str, str | None, str, list[str]]]:
    """A shard's names, normalised once (like ``search.js``, which keeps them per shard)."""
    cache = index.__dict__.setdefault("_prepared", {})
    if key not in cache:
        shard = index.shards[key]
        names = [(iid, None, v[0]) for iid, v in shard["i"].items()] + [(iid, a, a) for iid, a in shard["a"]]
        cache[key] = [(iid, alt, n, n.split()) for iid, alt, name in names for n in (normalise(name),)]
    return cache[key]


@dataclass(frozen=True)
class Found:
    """What a search finds: the first ``limit`` hits ``[(id, title, matched alternative title
    or None)]``, how many titles match in all, and the matching names of titles left out by
    the adult filter (at most ``limit``)."""

    results: list[tuple[str, str, str | None]]
    total: int
    left_out: list[str]


def search(index: SearchIndex, text: str, limit: int = 10) -> Found:
    """Search like ``search.js``.

    The shard is chosen by the most selective query word; names must contain every query
    word as a word prefix; names starting with the whole query come first, then by popularity.
    """
    none = Found([], 0, [])
    q = normalise(text)
    if not q:
        return none
    words = q.split()
    candidates = [w for w in words if w not in _STOP] or words
    best = None
    for w in candidates:
        key, complete = resolve(index.keys, w)
        if key is None:
            if complete is False and index.keys.get(w[:1]) is None:
                return none
            continue
        score = (complete, len(key), len(w))
        if best is None or score > best[0]:
            best = (score, key)
    if best is None:
        return none
    shard = index.shards[best[1]]
    hits: dict[str, tuple[tuple, str | None]] = {}
    for iid, alt, norm, name_words in _prepared(index, best[1]):
        if not matches(words, name_words):
            continue
        order = (0 if norm.startswith(q) else 1, shard["i"][iid][1], 0 if alt is None else 1)
        if iid not in hits or order < hits[iid][0]:
            hits[iid] = (order, alt)
    ranked = sorted(hits.items(), key=lambda kv: kv[1][0])[:limit]
    gone = [n for n in shard.get("x", ()) if matches(words, normalise(n).split())][:limit]
    return Found([(iid, shard["i"][iid][0], alt) for iid, (_, alt) in ranked], len(hits), gone)


def query(index: SearchIndex, text: str, limit: int = 10) -> list[tuple[str, str, str | None]]:
    """:func:`search`'s first ``limit`` hits only."""
    return search(index, text, limit).results

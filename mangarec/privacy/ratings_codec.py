"""A contributor's ratings as signed, fixed-size parts of one pseudonymous profile.

Message layout (``msg_bytes`` bytes, default 256)::

    version u8 (=2) | pseudonym key pk (32) | token T (32) | part u16 | parts u16 |
    count u8 | count x (item_id:20 bits | rating:4 bits), 3 big-endian bytes |
    zero padding | Ed25519 signature by pk (64)

The signature covers ``frame("part", collection, everything before it)``, where
``collection`` is the collector's token key (:mod:`tokens`): a part cannot be
forged under somebody else's pseudonym, nor replayed into another collection.
The token T = k·H(pk) proves the pseudonym was issued once to one roster member.

* item ids in [0, 2^20 - 1]; ratings in [0, 15] (the CSV reader accepts 1–15);
* ``capacity(msg_bytes) = (msg_bytes - 134) // 3`` ratings per part (40 at 256);
* at most ``max_parts`` (64) parts per profile, i.e. 2,560 ratings; more are
  returned as leftover (they go out later under another profile);
* ratings are sorted by item before packing, so the layout leaks no input order.

The published pseudonym is ``BLAKE2b(pk)[:8]`` (16 hex digits).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import ParameterError
from .primitives import RandomSource, SigningKey, frame, hash_bytes, verify

VERSION = 2
HEADER = struct.Struct(">B32s32sHHB")
SIG_BYTES = 64
ENTRY_BYTES = 3
MAX_ITEM = (1 << 20) - 1
MAX_RATING = 15
DEFAULT_MSG_BYTES = 256
DEFAULT_MAX_PARTS = 64


def capacity(msg_bytes: int = DEFAULT_MSG_BYTES) -> int:
    cap = min(255, (msg_bytes - HEADER.size - SIG_BYTES) // ENTRY_BYTES)
    if cap < 1:
        raise ParameterError(f"message size {msg_bytes} too small")
    return cap


def pseudonym_of(pk: bytes) -> bytes:
    return hash_bytes(frame(b"pseudonym", pk), size=16)[:8]


@dataclass(frozen=True)
class Part:
    pk: bytes
    token: bytes
    part: int
    parts: int
    ratings: tuple[tuple[int, int], ...]

    @property
    def pseudonym(self) -> bytes:
        return pseudonym_of(self.pk)


def _check(ratings: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    items = sorted((int(i), int(r)) for i, r in ratings)
    for i, r in items:
        if not 0 <= i <= MAX_ITEM:
            raise ParameterError(f"item id {i} outside [0, {MAX_ITEM}]")
        if not 0 <= r <= MAX_RATING:
            raise ParameterError(f"rating {r} outside [0, {MAX_RATING}]")
    return items


class Profile:
    """One contributor's pseudonymous profile: a fresh Ed25519 key and its parts.

    ``leftover`` holds the ratings beyond ``max_parts`` parts. The parts are
    signed by :meth:`messages` once the token is known.
    """

    def __init__(
        self,
        ratings: Sequence[tuple[int, int]],
        rng: RandomSource,
        *,
        msg_bytes: int = DEFAULT_MSG_BYTES,
        max_parts: int = DEFAULT_MAX_PARTS,
    ) -> None:
        items = _check(ratings)
        cap = capacity(msg_bytes)
        keep, self.leftover = items[: cap * max_parts], items[cap * max_parts :]
        self.chunks = [keep[k : k + cap] for k in range(0, len(keep), cap)]  # none if no ratings
        self.msg_bytes = msg_bytes
        self._key = SigningKey(rng.bytes(32))
        self.pk = self._key.verify_key

    @property
    def pseudonym(self) -> bytes:
        return pseudonym_of(self.pk)

    def messages(self, collection: bytes, token: bytes) -> list[bytes]:
        out = []
        for p, chunk in enumerate(self.chunks):
            body = HEADER.pack(VERSION, self.pk, token, p, len(self.chunks), len(chunk))
            body += b"".join(((i << 4) | r).to_bytes(3, "big") for i, r in chunk)
            body = body.ljust(self.msg_bytes - SIG_BYTES, b"\0")
            out.append(body + self._key.sign(frame(b"part", collection, body)))
        return out


def decode_message(msg: bytes, collection: bytes) -> Part:
    """Parse and verify one part; raises ParameterError if malformed or not signed by its pk."""
    if len(msg) < HEADER.size + SIG_BYTES:
        raise ParameterError("message too short")
    ver, pk, token, part, parts, count = HEADER.unpack_from(msg)
    end = len(msg) - SIG_BYTES
    if ver != VERSION or part >= parts or HEADER.size + 3 * count > end:
        raise ParameterError("malformed rating message")
    if any(msg[HEADER.size + 3 * count : end]):
        raise ParameterError("non-zero padding")
    if not verify(pk, frame(b"part", collection, msg[:end]), msg[end:]):
        raise ParameterError("part not signed by its pseudonym key")
    ent = []
    for k in range(count):
        v = int.from_bytes(msg[HEADER.size + 3 * k : HEADER.size + 3 * k + 3], "big")
        ent.append((v >> 4, v & 15))
    return Part(pk, token, part, parts, tuple(ent))


def assemble(parts: Iterable[Part]) -> tuple[dict[bytes, list[tuple[int, int]]], list[str]]:
    """Group verified parts by pseudonym -> sorted ratings (identical copies merged).

    A pseudonym with two different parts under one index, or parts that disagree on
    the profile's number of parts (only its key holder can sign them), is dropped whole
    and reported; so is an **incomplete** profile (some of its ``parts`` never arrived:
    censored or truncated), which is never published as if it were whole. Nothing else
    is affected.
    """
    seen: dict[tuple[bytes, int], Part] = {}
    conflicted: set[bytes] = set()
    total: dict[bytes, int] = {}
    for p in parts:
        key = (p.pk, p.part)
        if key in seen and seen[key] != p or total.setdefault(p.pk, p.parts) != p.parts:
            conflicted.add(p.pk)
        seen.setdefault(key, p)
    have: dict[bytes, int] = {}
    for pk, _ in seen:
        have[pk] = have.get(pk, 0) + 1
    incomplete = {pk for pk, k in have.items() if pk not in conflicted and k != total[pk]}
    out: dict[bytes, list[tuple[int, int]]] = {}
    for (pk, _), p in sorted(seen.items()):
        if pk not in conflicted and pk not in incomplete:
            out.setdefault(pseudonym_of(pk), []).extend(p.ratings)
    events = [f"profile {pseudonym_of(pk).hex()} dropped: conflicting copies of a part" for pk in sorted(conflicted)]
    events += [
        f"profile {pseudonym_of(pk).hex()} withheld: {have[pk]} of its {total[pk]} parts arrived"
        for pk in sorted(incomplete)
    ]
    return {k: sorted(v) for k, v in out.items()}, events

"""Encode one contributor's ratings into fixed-size messages for the anonymous channel.

Message layout (``msg_bytes`` bytes, default 128)::

    version u8 (=1) | pseudonym 8 bytes | part u16 | parts u16 | count u8 |
    count x (item_id:20 bits | rating:4 bits) as 3 big-endian bytes | zero padding

* item ids must lie in [0, 2^20 - 1] = [0, 1_048_575]; ratings in [0, 15];
* a message holds ``capacity(msg_bytes) = (msg_bytes - 14) // 3`` ratings
  (38 at 128 bytes); a contributor sends ``ceil(r / capacity)`` messages;
* at most ``max_parts`` (default 64) messages per contributor per round, i.e.
  2,432 ratings at 128 bytes. Ratings beyond that are returned as *leftover*;
  the simulator sends them in a later collection round under a new pseudonym
  (so they are no longer linkable to the first part — by design).

Ratings are sorted by item id before packing, so the layout leaks no input order.
The pseudonym is random per contributor and per round; all parts carry it so one
contributor's ratings stay together after collection, without naming anyone.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Sequence

from .errors import ParameterError

VERSION = 1
HEADER = struct.Struct(">B8sHHB")
ENTRY_BYTES = 3
MAX_ITEM = (1 << 20) - 1
MAX_RATING = 15
DEFAULT_MSG_BYTES = 128
DEFAULT_MAX_PARTS = 64


def capacity(msg_bytes: int = DEFAULT_MSG_BYTES) -> int:
    cap = min(255, (msg_bytes - HEADER.size) // ENTRY_BYTES)
    if cap < 1:
        raise ParameterError(f"message size {msg_bytes} too small")
    return cap


@dataclass(frozen=True)
class Part:
    pseudonym: bytes
    part: int
    parts: int
    ratings: tuple[tuple[int, int], ...]


def encode_user(ratings: Sequence[tuple[int, int]], pseudonym: bytes, *,
                msg_bytes: int = DEFAULT_MSG_BYTES,
                max_parts: int = DEFAULT_MAX_PARTS) -> tuple[list[bytes], list[tuple[int, int]]]:
    """Pack ``(item_id, rating)`` pairs; returns (messages, leftover ratings)."""
    if len(pseudonym) != 8:
        raise ParameterError("pseudonym must be 8 bytes")
    items = sorted((int(i), int(r)) for i, r in ratings)
    for i, r in items:
        if not 0 <= i <= MAX_ITEM:
            raise ParameterError(f"item id {i} outside [0, {MAX_ITEM}]")
        if not 0 <= r <= MAX_RATING:
            raise ParameterError(f"rating {r} outside [0, {MAX_RATING}]")
    cap = capacity(msg_bytes)
    keep, leftover = items[:cap * max_parts], items[cap * max_parts:]
    chunks = [keep[k:k + cap] for k in range(0, len(keep), cap)] or [[]]
    out = []
    for p, chunk in enumerate(chunks):
        body = HEADER.pack(VERSION, pseudonym, p, len(chunks), len(chunk))
        body += b"".join(((i << 4) | r).to_bytes(3, "big") for i, r in chunk)
        out.append(body.ljust(msg_bytes, b"\0"))
    return out, leftover


def decode_message(msg: bytes) -> Part:
    """Inverse of one packed message; raises ParameterError if malformed."""
    if len(msg) < HEADER.size:
        raise ParameterError("message too short")
    ver, pseud, part, parts, count = HEADER.unpack_from(msg)
    if ver != VERSION or part >= parts or HEADER.size + 3 * count > len(msg):
        raise ParameterError("malformed rating message")
    if any(msg[HEADER.size + 3 * count:]):
        raise ParameterError("non-zero padding")
    ent = []
    for k in range(count):
        v = int.from_bytes(msg[HEADER.size + 3 * k: HEADER.size + 3 * k + 3], "big")
        ent.append((v >> 4, v & 15))
    return Part(pseud, part, parts, tuple(ent))


def assemble(messages: Sequence[bytes]) -> dict[bytes, list[tuple[int, int]]]:
    """Group decoded messages by pseudonym -> sorted ratings (duplicates removed).

    Raises ParameterError if two different messages claim the same (pseudonym, part).
    """
    seen: dict[tuple[bytes, int], Part] = {}
    for m in messages:
        p = decode_message(m)
        key = (p.pseudonym, p.part)
        if key in seen and seen[key] != p:
            raise ParameterError(f"conflicting copies of part {p.part} of {p.pseudonym.hex()}")
        seen[key] = p
    out: dict[bytes, list[tuple[int, int]]] = {}
    for (pseud, _), p in sorted(seen.items()):
        out.setdefault(pseud, []).extend(p.ratings)
    return {k: sorted(v) for k, v in out.items()}

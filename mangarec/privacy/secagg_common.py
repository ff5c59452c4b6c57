"""What client and server of secure aggregation must compute identically.

* the signed payloads (advertisement, consistency check), each framed and
  labelled, bound to the session, and for the consistency check to the round,
  its parameters, the live and survivor sets and the hash chain;
* the PRG seeds of the masks, domain-separated per purpose, pair and round;
* the **hash chain** of round results: ``h_setup = H(session, KeyList frame)``
  and ``h_r = H(h_(r-1), RoundStart frame, survivors, result)``. Every
  RoundStart carries the server's ``h_(r-1)`` and every consistency signature
  covers it, and unmasking needs the signature of *every* survivor: a server
  that showed one user a different result (or key list, or round parameters)
  than the others cannot get a round unmasked with that user's upload in it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from . import encoding as E
from .primitives import frame, hash_bytes, prg_seed


def _ids(xs: Iterable[int]) -> bytes:
    s = sorted(xs)
    return struct.pack(f">{len(s)}I", *s)


def advertise_payload(session: bytes, uid: int, c_pk: bytes, s_pk: bytes, ext: bytes) -> bytes:
    return frame(b"advertise", session, uid, c_pk, s_pk, ext)


def consistency_payload(
    session: bytes, rnd: int, start_digest: bytes, live: Iterable[int], survivors: Iterable[int], chain: bytes
) -> bytes:
    return frame(b"consistency", session, rnd, start_digest, _ids(live), _ids(survivors), chain)


def shares_ad(session: bytes, sender: int, recipient: int) -> bytes:
    return frame(b"shares", session, sender, recipient)


def pair_seed(mask_key: bytes, session: bytes, rnd: int, u: int, v: int, length: int) -> bytes:
    return prg_seed(mask_key, session, rnd, "pair-mask", (min(u, v), max(u, v)), length)


def self_seed(b: bytes, session: bytes, rnd: int, u: int, length: int) -> bytes:
    return prg_seed(b, session, rnd, "self-mask", (u, u), length)


def start_digest(start: E.RoundStart) -> bytes:
    """Digest of a RoundStart frame (its ``prev`` field included)."""
    return hash_bytes(frame(b"round-start", E.encode(start)))


class Chain:
    """The hash chain over the key list and every round's start, survivors and result."""

    def __init__(self, session: bytes, keylist_frame: bytes) -> None:
        self.session = session
        self.head = hash_bytes(frame(b"chain-setup", session, keylist_frame))

    def extend(self, start: E.RoundStart, survivors: Iterable[int], result: bytes) -> bytes:
        self.head = hash_bytes(
            frame(
                b"chain-round",
                self.session,
                self.head,
                start_digest(start),
                _ids(survivors),
                hash_bytes(result, size=32),
            )
        )
        return self.head

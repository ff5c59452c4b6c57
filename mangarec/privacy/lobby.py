"""Enrollment without a pre-shared roster (issue 19): proof of work, the lobby, the signed
roster. No I/O: the HTTP side is :mod:`http_lobby`; every function takes ``now``.

* A contributor draws a **fresh Ed25519 identity key** per enrollment and proves work on
  it: an 8-byte ``nonce`` such that ``BLAKE2b-256(frame("lobby-pow", challenge, catalog,
  key, nonce))`` (personalisation ``mangarec-priv-v1``) starts with ``bits`` zero bits.
  The challenge is drawn by the server at start; the expected cost is ``2^bits`` hashes
  per enrolled key, that is per sybil.
* It signs ``frame("lobby-enroll", challenge, catalog, key)`` (possession of the key).
* The lobby keeps the keys that keep asking for their roster (a closed tab leaves after
  ``idle`` seconds). When ``min_cohort`` are waiting (after ``gather`` seconds more) or
  ``max_cohort`` are, it fixes a :class:`Roster`: the keys in ascending byte order (a
  member's uid is its position), a fresh nonce, the catalog hash, the threshold and the
  number of rounds and the **phase deadline** (:func:`phase_deadline`), signed by the lobby
  key. The session id is ``BLAKE2b-128`` of the signed payload, so every signature of the
  session commits to the whole roster: two contributors shown different rosters are in
  different sessions.
* A contributor refuses a roster without its key, smaller than **its own** minimum, for
  another catalog, with a threshold not above half, a phase deadline above ``MAX_DEADLINE``,
  or whose session id or signature does not match (:func:`check_roster`).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from .errors import ProtocolViolation
from .primitives import RandomSource, SigningKey, frame, hash_bytes, verify
from .shamir import validate_threshold

POW_NONCE = 8
DEFAULT_POW_BITS = 20
DEFAULT_MIN_COHORT = 32
KEY = 32
_Q = struct.Struct(">Q")
PER_MEMBER = 0.5  # seconds a phase's deadline grows per member of the cohort
MAX_DEADLINE = 3600  # a contributor refuses a roster whose phases may last longer (never a hang)


def phase_deadline(n: int, idle: float) -> int:
    """The most seconds one phase of a session of ``n`` may last: ``idle`` (the longest silence
    between two replies, ``--phase-timeout``) plus ``PER_MEMBER`` per member, whole seconds.

    A phase closes when every reply is in, after ``idle`` seconds without a new one, or at this
    deadline. Both sides know it: the lobby signs it into the roster, and a contributor waits
    for its next frame that long (plus its own timeout) before it gives up."""
    return min(MAX_DEADLINE, math.ceil(idle + PER_MEMBER * n))


def pow_digest(challenge: bytes, catalog: str, key: bytes, nonce: bytes) -> bytes:
    return hash_bytes(frame(b"lobby-pow", challenge, catalog, key, nonce))


def zero_bits(digest: bytes) -> int:
    """Leading zero bits of ``digest`` (bit 7 of byte 0 first)."""
    n = 0
    for b in digest:
        if b:
            return n + 8 - b.bit_length()
        n += 8
    return n


def pow_ok(challenge: bytes, catalog: str, key: bytes, nonce: bytes, bits: int) -> bool:
    return len(nonce) == POW_NONCE and zero_bits(pow_digest(challenge, catalog, key, nonce)) >= bits


def solve_pow(challenge: bytes, catalog: str, key: bytes, bits: int, rng: RandomSource | None = None) -> bytes:
    """A nonce for ``key`` (expected ``2^bits`` hashes), counting from a random start."""
    start = _Q.unpack((rng or RandomSource()).bytes(POW_NONCE))[0]
    head = frame(b"lobby-pow", challenge, catalog, key) + struct.pack(">I", POW_NONCE)
    for k in range(1 << 62):
        nonce = _Q.pack((start + k) & 0xFFFFFFFFFFFFFFFF)
        if zero_bits(hash_bytes(head + nonce)) >= bits:
            return nonce
    raise RuntimeError("unreachable")


def enroll_payload(challenge: bytes, catalog: str, key: bytes) -> bytes:
    return frame(b"lobby-enroll", challenge, catalog, key)


def default_threshold(n: int) -> int:
    return n // 2 + 1


@dataclass(frozen=True)
class Roster:
    """A fixed cohort: keys in ascending byte order (uid = position), signed by the lobby;
    ``deadline``: the most seconds a phase of its session may last (:func:`phase_deadline`)."""

    nonce: bytes
    catalog: str
    threshold: int
    rounds: int
    keys: tuple[bytes, ...]
    sig: bytes = b""
    deadline: int = 60

    def payload(self) -> bytes:
        keys = b"".join(self.keys)
        return frame(b"lobby-roster", self.nonce, self.catalog, self.threshold, self.rounds, self.deadline, keys)

    @property
    def session(self) -> bytes:
        return hash_bytes(self.payload(), size=16)

    def members(self) -> dict[int, bytes]:
        return dict(enumerate(self.keys))

    @classmethod
    def fix(
        cls, keys, catalog: str, rounds: int, lobby_key: SigningKey, rng: RandomSource, idle: float = 30.0
    ) -> Roster:
        ks = tuple(sorted(set(keys)))
        r = cls(rng.bytes(16), catalog, default_threshold(len(ks)), rounds, ks, deadline=phase_deadline(len(ks), idle))
        return cls(r.nonce, catalog, r.threshold, rounds, ks, lobby_key.sign(r.payload()), r.deadline)

    def to_json(self) -> dict:
        return {
            "nonce": self.nonce.hex(),
            "catalog_hash": self.catalog,
            "threshold": self.threshold,
            "rounds": self.rounds,
            "deadline": self.deadline,
            "keys": [k.hex() for k in self.keys],
            "session": self.session.hex(),
            "sig": self.sig.hex(),
        }

    @classmethod
    def from_json(cls, doc) -> Roster:
        """Parse a roster document; ProtocolViolation("bad-roster") if malformed."""
        try:
            keys = tuple(bytes.fromhex(k) for k in doc["keys"])
            r = cls(
                bytes.fromhex(doc["nonce"]),
                str(doc["catalog_hash"]),
                int(doc["threshold"]),
                int(doc["rounds"]),
                keys,
                bytes.fromhex(doc["sig"]),
                int(doc["deadline"]),
            )
            session = bytes.fromhex(doc["session"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ProtocolViolation("bad-roster", "malformed roster document") from None
        if len(r.nonce) != 16 or len(r.sig) != 64 or any(len(k) != KEY for k in keys):
            raise ProtocolViolation("bad-roster", "bad field length")
        if list(keys) != sorted(set(keys)):
            raise ProtocolViolation("bad-roster", "keys not strictly ascending")
        if session != r.session:
            raise ProtocolViolation("bad-roster", "the session id does not commit to this roster")
        return r


def check_roster(r: Roster, *, key: bytes, min_cohort: int, lobby_key: bytes, catalog: str, rounds: int) -> int:
    """This contributor's uid in ``r``, or ProtocolViolation naming why it refuses the roster."""
    if not verify(lobby_key, r.payload(), r.sig):
        raise ProtocolViolation("bad-roster", "not signed by the lobby key")
    if r.catalog != catalog or r.rounds != rounds:
        raise ProtocolViolation("bad-roster", "for another catalog or protocol")
    if key not in r.keys:
        raise ProtocolViolation("not-in-roster", "this contributor's key is not in the roster")
    if len(r.keys) < min_cohort:
        raise ProtocolViolation("short-roster", f"{len(r.keys)} members, this contributor wants {min_cohort}")
    try:
        validate_threshold(r.threshold, len(r.keys))
    except ValueError:
        raise ProtocolViolation("bad-roster", f"threshold {r.threshold} of {len(r.keys)}") from None
    if 2 * r.threshold <= len(r.keys):
        raise ProtocolViolation("bad-roster", f"threshold {r.threshold} is not above half of {len(r.keys)}")
    if not 1 <= r.deadline <= MAX_DEADLINE:
        raise ProtocolViolation("bad-roster", f"a phase deadline of {r.deadline} s (at most {MAX_DEADLINE})")
    return r.keys.index(key)


@dataclass
class Lobby:
    """The contributors waiting for a cohort of one catalog (one index)."""

    catalog: str
    challenge: bytes
    rounds: int
    min_cohort: int = DEFAULT_MIN_COHORT
    max_cohort: int = 256
    gather: float = 5.0  # seconds to wait for more once min_cohort are in
    pow_bits: int = DEFAULT_POW_BITS
    idle: float = 20.0  # a key that stops asking for its roster leaves the lobby
    phase_timeout: float = 30.0  # the sessions' longest silence between two replies (phase_deadline)
    keep: float = 120.0  # how long a fixed roster stays retrievable
    waiting: dict[bytes, float] = field(default_factory=dict)  # key -> last seen
    fixed: dict[bytes, tuple[Roster, float]] = field(default_factory=dict)
    used: set[bytes] = field(default_factory=set)
    since: float | None = None  # when min_cohort was first reached

    def __post_init__(self) -> None:
        if not 2 <= self.min_cohort <= self.max_cohort <= 65535:
            raise ValueError(f"need 2 <= min cohort ({self.min_cohort}) <= max cohort ({self.max_cohort}) <= 65535")

    def enroll(self, key: bytes, nonce: bytes, sig: bytes, now: float) -> int:
        """Admit ``key``; returns the number waiting. ProtocolViolation with a reason otherwise."""
        if len(key) != KEY or len(sig) != 64:
            raise ProtocolViolation("bad-format", "key of 32 bytes and signature of 64 expected")
        if not pow_ok(self.challenge, self.catalog, key, nonce, self.pow_bits):
            raise ProtocolViolation("bad-pow", f"the nonce does not give {self.pow_bits} zero bits")
        if not verify(key, enroll_payload(self.challenge, self.catalog, key), sig):
            raise ProtocolViolation("bad-signature", "enrollment not signed by its key")
        if key in self.used:
            raise ProtocolViolation("duplicate", "this key enrolled already")
        if len(self.waiting) >= self.max_cohort:
            raise ProtocolViolation("lobby-full", "the next cohort is full; retry")
        self.used.add(key)
        self.waiting[key] = now
        return len(self.waiting)

    def touch(self, key: bytes, now: float) -> Roster | str | None:
        """``"waiting"``, the key's fixed roster, or None (unknown or expired: enroll again)."""
        if key in self.waiting:
            self.waiting[key] = now
            return "waiting"
        got = self.fixed.get(key)
        return got[0] if got else None

    def tick(self, now: float, lobby_key: SigningKey, rng: RandomSource) -> Roster | None:
        """Drop idle keys and expired rosters; fix a roster when the cohort is ready."""
        for k, seen in list(self.waiting.items()):
            if now - seen > self.idle:
                del self.waiting[k]
        for k, (_, at) in list(self.fixed.items()):
            if now - at > self.keep:
                del self.fixed[k]
        n = len(self.waiting)
        if n < self.min_cohort:
            self.since = None
            return None
        self.since = now if self.since is None else self.since
        if n < self.max_cohort and now - self.since < self.gather:
            return None
        roster = Roster.fix(self.waiting, self.catalog, self.rounds, lobby_key, rng, self.phase_timeout)
        for k in roster.keys:
            self.fixed[k] = (roster, now)
        self.waiting.clear()
        self.since = None
        return roster

    def info(self) -> dict:
        return {
            "catalog_hash": self.catalog,
            "challenge": self.challenge.hex(),
            "pow_bits": self.pow_bits,
            "min_cohort": self.min_cohort,
            "max_cohort": self.max_cohort,
            "waiting": len(self.waiting),
            "rounds": self.rounds,
        }

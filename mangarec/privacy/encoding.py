"""Versioned binary wire format of the secure-aggregation messages (never pickle).

Frame: ``b"MRPV" | version u8 | kind u8 | fields`` where the fields of each kind
are listed in order by ``FIELDS`` and encoded as:

* ``u32`` — 4 bytes big-endian;  ``bytes`` — u32 length + raw bytes;
* ``str`` — like bytes, UTF-8;   ``ids`` — u32 count + sorted distinct u32;
* ``map`` — u32 count + (u32 key, u32 length, bytes) with strictly increasing keys.

Decoding is strict: trailing bytes, unsorted ids/keys, unknown kinds or versions
raise :class:`ProtocolViolation` (``bad-format`` / ``bad-version``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from .errors import ProtocolViolation

MAGIC = b"MRPV"
VERSION = 2
MAX_FRAME = 1 << 30


@dataclass(frozen=True)
class Message:
    KIND: ClassVar[int] = 0
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()
    session: bytes


_T = TypeVar("_T", bound=type)


def _m(kind: int, *spec: tuple[str, str]) -> Callable[[_T], _T]:
    """Register a message kind and its field encodings (in wire order)."""

    def deco(cls: _T) -> _T:
        cls.KIND = kind  # type: ignore[attr-defined]
        cls.FIELDS = (("session", "bytes"),) + spec  # type: ignore[attr-defined]
        return cls

    return deco


@_m(1, ("sender", "u32"), ("c_pk", "bytes"), ("s_pk", "bytes"), ("ext", "bytes"), ("sig", "bytes"))
@dataclass(frozen=True)
class Advertise(Message):
    """Signed keys; ``ext`` is application data bound by the same signature
    (the anonymous channel's blinded token request)."""

    sender: int
    c_pk: bytes
    s_pk: bytes
    ext: bytes
    sig: bytes


@_m(2, ("keys", "map"), ("ext", "bytes"))
@dataclass(frozen=True)
class KeyList(Message):
    keys: Mapping[int, bytes]  # uid -> c_pk(32) | s_pk(32) | sig(64) | ext
    ext: bytes = b""  # server application data, same for everyone (token key)


@_m(3, ("sender", "u32"), ("cts", "map"), ("commits", "map"), ("secret_commits", "bytes"))
@dataclass(frozen=True)
class ShareKeys(Message):
    sender: int
    cts: Mapping[int, bytes]  # recipient -> sealed shares
    commits: Mapping[int, bytes]  # recipient -> K x 16-byte share commitments
    secret_commits: bytes  # (K - 1) x 32-byte commitments of the self-mask secrets


@_m(4, ("recipient", "u32"), ("cts", "map"), ("ext", "bytes"))
@dataclass(frozen=True)
class ShareBundle(Message):
    recipient: int
    cts: Mapping[int, bytes]  # sender -> sealed shares
    ext: bytes = b""  # per-recipient application data (token evaluation)


@_m(15, ("sender", "u32"), ("commits", "map"))
@dataclass(frozen=True)
class ShareAck(Message):
    """The commitments the holder recomputed from the shares it decrypted (dealers
    whose ciphertexts failed are absent)."""

    sender: int
    commits: Mapping[int, bytes]


@_m(
    5,
    ("round", "u32"),
    ("purpose", "str"),
    ("group", "str"),
    ("length", "u32"),
    ("live", "ids"),
    ("params", "bytes"),
    ("prev", "bytes"),
)
@dataclass(frozen=True)
class RoundStart(Message):
    round: int
    purpose: str
    group: str
    length: int
    live: tuple[int, ...]
    params: bytes = b""
    prev: bytes = b""  # the hash chain of every earlier round (see secagg_common.Chain)


@_m(6, ("round", "u32"), ("sender", "u32"), ("vector", "bytes"))
@dataclass(frozen=True)
class MaskedInput(Message):
    round: int
    sender: int
    vector: bytes


@_m(7, ("round", "u32"), ("survivors", "ids"))
@dataclass(frozen=True)
class SurvivorSet(Message):
    round: int
    survivors: tuple[int, ...]


@_m(8, ("round", "u32"), ("sender", "u32"), ("sig", "bytes"))
@dataclass(frozen=True)
class ConsistencySig(Message):
    round: int
    sender: int
    sig: bytes


@_m(9, ("round", "u32"), ("sigs", "map"), ("b_for", "ids"), ("s_for", "ids"), ("seed_for", "ids"))
@dataclass(frozen=True)
class UnmaskRequest(Message):
    round: int
    sigs: Mapping[int, bytes]
    b_for: tuple[int, ...]
    s_for: tuple[int, ...]
    seed_for: tuple[int, ...]


@_m(10, ("round", "u32"), ("sender", "u32"), ("b_shares", "map"), ("s_shares", "map"), ("seeds", "map"))
@dataclass(frozen=True)
class UnmaskResponse(Message):
    round: int
    sender: int
    b_shares: Mapping[int, bytes]
    s_shares: Mapping[int, bytes]
    seeds: Mapping[int, bytes]


@_m(11, ("round", "u32"), ("vector", "bytes"))
@dataclass(frozen=True)
class RoundResult(Message):
    round: int
    vector: bytes


@_m(12, ("round", "u32"))
@dataclass(frozen=True)
class OpenRequest(Message):
    round: int


@_m(13, ("round", "u32"), ("sender", "u32"), ("input", "bytes"), ("self_seed", "bytes"), ("seeds", "map"))
@dataclass(frozen=True)
class OpenResponse(Message):
    round: int
    sender: int
    input: bytes
    self_seed: bytes
    seeds: Mapping[int, bytes]


@_m(14, ("round", "u32"), ("reason", "str"))
@dataclass(frozen=True)
class Abort(Message):
    round: int
    reason: str


KINDS: dict[int, type[Message]] = {
    c.KIND: c
    for c in (
        Advertise,
        KeyList,
        ShareKeys,
        ShareBundle,
        ShareAck,
        RoundStart,
        MaskedInput,
        SurvivorSet,
        ConsistencySig,
        UnmaskRequest,
        UnmaskResponse,
        RoundResult,
        OpenRequest,
        OpenResponse,
        Abort,
    )
}


def _put(out: bytearray, kind: str, v) -> None:
    if kind == "u32":
        out += struct.pack(">I", v)
    elif kind in ("bytes", "str"):
        raw = v.encode() if kind == "str" else bytes(v)
        out += struct.pack(">I", len(raw)) + raw
    elif kind == "ids":
        ids = sorted(set(v))
        if len(ids) != len(v):
            raise ValueError("duplicate ids")
        out += struct.pack(">I", len(ids)) + struct.pack(f">{len(ids)}I", *ids)
    elif kind == "map":
        out += struct.pack(">I", len(v))
        for k in sorted(v):
            out += struct.pack(">II", k, len(v[k])) + bytes(v[k])
    else:  # pragma: no cover
        raise AssertionError(kind)


def encode(msg: Message) -> bytes:
    """Serialise ``msg`` to its versioned frame."""
    out = bytearray(MAGIC + bytes([VERSION, msg.KIND]))
    for name, kind in msg.FIELDS:
        _put(out, kind, getattr(msg, name))
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.d, self.i = memoryview(data), 0
        self.b = data if isinstance(data, bytes) else bytes(data)

    def take(self, n: int) -> bytes:
        if n < 0 or self.i + n > len(self.d):
            raise ProtocolViolation("bad-format", "truncated frame")
        b = self.d[self.i : self.i + n].tobytes()
        self.i += n
        return b

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]


def _get(r: _Reader, kind: str):
    if kind == "u32":
        return r.u32()
    if kind in ("bytes", "str"):
        raw = r.take(r.u32())
        if kind == "bytes":
            return raw
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise ProtocolViolation("bad-format", "invalid UTF-8") from None
    if kind == "ids":
        n = r.u32()
        ids = struct.unpack(f">{n}I", r.take(4 * n))
        if any(a >= b for a, b in zip(ids, ids[1:])):
            raise ProtocolViolation("bad-format", "ids not strictly increasing")
        return tuple(ids)
    n, out, last = r.u32(), {}, -1
    b, i, end = r.b, r.i, len(r.b)
    unpack = _II
    for _ in range(n):
        if i + 8 > end:
            raise ProtocolViolation("bad-format", "truncated frame")
        k, ln = unpack(b, i)
        j = i + 8 + ln
        if k <= last or j > end:
            raise ProtocolViolation("bad-format", "map keys not increasing or truncated")
        out[k], last, i = b[i + 8 : j], k, j
    r.i = i
    return out


_U32 = struct.Struct(">I").unpack_from
_II = struct.Struct(">II").unpack_from


def frame_session(data: bytes) -> bytes:
    """The session id of a frame (its first field), without decoding the rest."""
    if len(data) < 10 or data[:4] != MAGIC:
        raise ProtocolViolation("bad-format", "bad magic")
    n = _U32(data, 6)[0]
    if n > 64 or 10 + n > len(data):
        raise ProtocolViolation("bad-format", "truncated frame")
    return bytes(data[10 : 10 + n])


def decode(data: bytes) -> Message:
    """Parse a frame produced by :func:`encode` (strict)."""
    if len(data) > MAX_FRAME:
        raise ProtocolViolation("bad-format", "frame too large")
    if len(data) < 6 or data[:4] != MAGIC:
        raise ProtocolViolation("bad-format", "bad magic")
    if data[4] != VERSION:
        raise ProtocolViolation("bad-version", f"version {data[4]} != {VERSION}")
    cls = KINDS.get(data[5])
    if cls is None:
        raise ProtocolViolation("bad-format", f"unknown kind {data[5]}")
    d, i, end, values = memoryview(data), 6, len(data), {}
    try:
        for name, kind in cls.FIELDS:
            if kind == "u32":
                values[name] = _U32(d, i)[0]
                i += 4
            elif kind == "bytes" or kind == "str":
                n = _U32(d, i)[0]
                if i + 4 + n > end:
                    raise ProtocolViolation("bad-format", "truncated frame")
                raw = d[i + 4 : i + 4 + n].tobytes()
                i += 4 + n
                values[name] = raw if kind == "bytes" else raw.decode()
            else:
                r = _Reader(data)
                r.i = i
                values[name] = _get(r, kind)
                i = r.i
    except (struct.error, UnicodeDecodeError) as exc:
        raise ProtocolViolation("bad-format", f"truncated or invalid field ({exc})") from None
    if i != end:
        raise ProtocolViolation("bad-format", "trailing bytes")
    return cls(**values)

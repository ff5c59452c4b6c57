"""Networked mode on 127.0.0.1: what server (:mod:`http_server`) and clients
(:mod:`http_client`) share. Standard library HTTP only; never pickle.

Endpoints:

* ``GET /v1/status`` -> JSON {"session", "state", "phase", "threshold", "users",
  "rounds", "round", "accepted", "events"} (public information);
* ``POST /v1/msg`` -> 200 {"ok": true} (also for an exact repeat of a frame
  already accepted: retries are idempotent) or 4xx {"reason", "detail"}. The
  body is ``b"MRPS" | uid u32 | Ed25519 signature (64) | frame``, the signature
  by the user's identity key over ``frame("http-post", session, uid, frame)``;
* ``GET /v1/poll?uid=U&seq=K&session=S`` with header ``X-Signature`` (hex of the
  identity signature over ``frame("http-poll", session, uid, seq)``) -> the K-th
  frame addressed to U (200, ``X-Seq``) or 204 after a 2 s long-poll.

Every header and parameter is validated: a bad one is a 4xx answer with a one-line
reason, never a traceback.
"""

from __future__ import annotations

import struct
from pathlib import Path

from .errors import ProtocolViolation
from .primitives import SigningKey, frame

POST_MAGIC = b"MRPS"
_HEAD = struct.Struct(">4sI64s")
POLL_WAIT = 2.0


def read_roster(path: str) -> dict[int, bytes]:
    """``uid hex-ed25519-public-key`` per line; ValueError naming the line otherwise."""
    roster: dict[int, bytes] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            uid_s, hexkey = line.split()
            uid, key = int(uid_s), bytes.fromhex(hexkey)
            if len(key) != 32 or uid < 0 or uid in roster:
                raise ValueError
        except ValueError:
            raise ValueError(f"{path}:{n}: expected 'uid hex-ed25519-public-key' (distinct uids)") from None
        roster[uid] = key
    return roster


def post_payload(session: bytes, uid: int, body: bytes) -> bytes:
    return frame(b"http-post", session, uid, body)


def poll_payload(session: bytes, uid: int, seq: int) -> bytes:
    return frame(b"http-poll", session, uid, seq)


def wrap_post(key: SigningKey, session: bytes, uid: int, body: bytes) -> bytes:
    return _HEAD.pack(POST_MAGIC, uid, key.sign(post_payload(session, uid, body))) + body


def unwrap_post(data: bytes) -> tuple[int, bytes, bytes]:
    """(uid, signature, frame) of a POST body; ProtocolViolation if malformed."""
    if len(data) <= _HEAD.size or data[:4] != POST_MAGIC:
        raise ProtocolViolation("bad-format", "POST body is not a signed frame")
    _, uid, sig = _HEAD.unpack_from(data)
    return uid, sig, data[_HEAD.size :]

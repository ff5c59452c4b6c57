"""I/O-free client state machine of secure aggregation (Bonawitz et al., CCS 2017).

One *session* = key setup (AdvertiseKeys, ShareKeys) followed by up to
``max_rounds`` aggregation rounds, each: MaskedInputCollection, ConsistencyCheck,
Unmasking. Fresh per-round self-mask secrets b_(u,r) are Shamir-shared at setup
together with the mask key s_u; pairwise seeds are derived per round from the
X25519 pair key, so revealing one round's seed reveals nothing about another.

Feed every frame from the server to :meth:`SecAggClient.receive`; it returns the
reply frame (or ``None``) and raises a :class:`ProtocolViolation` (with a reason),
:class:`ConsistencyError` or :class:`DecryptionError` on bad input.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import numpy as np

from . import encoding as E
from . import groups, shamir
from .errors import ConsistencyError, ProtocolViolation
from .primitives import (RandomSource, Verifier, _frame, agree, open_sealed, prg_seed, seal,
                         sign, signing_key, x25519_keypair)

CONTENT_FREE = frozenset({"count", "reserve"})


def advertise_payload(session: bytes, uid: int, c_pk: bytes, s_pk: bytes) -> bytes:
    return _frame(b"advertise", session, uid, c_pk, s_pk)


def consistency_payload(session: bytes, rnd: int, live, survivors) -> bytes:
    return _frame(b"consistency", session, rnd, struct.pack(f">{len(live)}I", *sorted(live)),
                  struct.pack(f">{len(survivors)}I", *sorted(survivors)))


def shares_ad(session: bytes, sender: int, recipient: int) -> bytes:
    return _frame(b"shares", session, sender, recipient)


def pair_seed(mask_key: bytes, session: bytes, rnd: int, u: int, v: int, length: int) -> bytes:
    return prg_seed(mask_key, session, rnd, "pair-mask", (min(u, v), max(u, v)), length)


def self_seed(b: bytes, session: bytes, rnd: int, u: int, length: int) -> bytes:
    return prg_seed(b, session, rnd, "self-mask", (u, u), length)


@dataclass
class _Round:
    start: E.RoundStart
    x: Optional[np.ndarray] = None
    survivors: Optional[tuple[int, ...]] = None
    unmasked: bool = False
    opened: bool = False
    result: Optional[np.ndarray] = None


InputFn = Callable[[E.RoundStart], np.ndarray]


class SecAggClient:
    """Client ``uid`` of session ``session``; ``roster`` maps uid -> Ed25519 verify key."""

    def __init__(self, uid: int, identity_seed: bytes, roster: Mapping[int, bytes],
                 session: bytes, threshold: int, input_fn: InputFn, *,
                 rng: Optional[RandomSource] = None, verifier: Optional[Verifier] = None,
                 max_rounds: int = 8) -> None:
        shamir.validate_threshold(threshold, len(roster))
        if uid not in roster:
            raise ValueError("uid not in roster")
        self.uid, self.session, self.t = uid, session, threshold
        self.roster = dict(roster)
        self._id_key = signing_key(identity_seed)
        self.input_fn, self.max_rounds = input_fn, max_rounds
        self.rng = rng or RandomSource()
        self.verify = verifier or Verifier()
        self.phase = "init"
        self.next_round = 0
        self.live: tuple[int, ...] = ()
        self.rounds: dict[int, _Round] = {}
        self.b_revealed: set[int] = set()
        self.s_revealed: set[int] = set()
        self.aborted: Optional[str] = None

    # -- setup -------------------------------------------------------------
    def start(self) -> bytes:
        if self.phase != "init":
            raise ProtocolViolation("out-of-order", "already started")
        self._c_sk, self.c_pk = x25519_keypair(self.rng)
        self._s_sk, self.s_pk = x25519_keypair(self.rng)
        self._b = [self.rng.bytes(32) for _ in range(self.max_rounds)]
        sig = sign(self._id_key, advertise_payload(self.session, self.uid, self.c_pk, self.s_pk))
        self.phase = "advertised"
        return E.encode(E.Advertise(self.session, self.uid, self.c_pk, self.s_pk, sig))

    def receive(self, data: bytes) -> Optional[bytes]:
        msg = E.decode(data)
        if msg.session != self.session:
            raise ProtocolViolation("foreign-session", msg.session.hex())
        if isinstance(msg, E.Abort):
            self.aborted, self.phase = msg.reason, "aborted"
            return None
        if self.phase == "aborted":
            raise ProtocolViolation("stale", "session aborted")
        handler = getattr(self, "_on_" + type(msg).__name__, None)
        if handler is None:
            raise ProtocolViolation("out-of-order", type(msg).__name__)
        out = handler(msg)
        return None if out is None else E.encode(out)

    def _expect(self, phase: str, what: str) -> None:
        if self.phase != phase:
            done = {"advertised": 0, "shared": 1, "ready": 2}
            if done.get(self.phase, 3) > done.get(phase, 3):
                raise ProtocolViolation("duplicate", f"{what} already processed")
            raise ProtocolViolation("out-of-order", f"{what} in phase {self.phase}")

    def _on_KeyList(self, m: E.KeyList) -> E.ShareKeys:
        self._expect("advertised", "key list")
        if len(m.keys) < self.t:
            raise ProtocolViolation("not-allowed", f"{len(m.keys)} keys < t={self.t}")
        mine = m.keys.get(self.uid)
        if mine is None or mine[:64] != self.c_pk + self.s_pk:
            raise ConsistencyError("server dropped or altered this client's own keys")
        self.peer_keys, self.enc_key, self.mask_key = {}, {}, {}
        for v, blob in m.keys.items():
            if v not in self.roster:
                raise ProtocolViolation("unknown-sender", str(v))
            if len(blob) != 128:
                raise ProtocolViolation("bad-format", "key entry length")
            c_pk, s_pk, sig = blob[:32], blob[32:64], blob[64:]
            if not self.verify(self.roster[v], advertise_payload(self.session, v, c_pk, s_pk), sig):
                raise ProtocolViolation("bad-signature", f"advertised keys of user {v}")
            self.peer_keys[v] = (c_pk, s_pk)
            if v != self.uid:
                self.enc_key[v] = agree(self._c_sk, self.uid, c_pk, v, self.session, "share-enc")
                self.mask_key[v] = agree(self._s_sk, self.uid, s_pk, v, self.session, "pair-mask")
        holders = sorted(m.keys)
        all_shares = shamir.share([self._s_sk] + self._b, holders, self.t, self.rng)
        cts = {}
        for v in holders:
            body = struct.pack(">II", self.uid, v) + all_shares[v]
            if v == self.uid:
                self._own_shares = all_shares[v]
            else:
                cts[v] = seal(self.enc_key[v], body, shares_ad(self.session, self.uid, v), self.rng)
        self.phase = "shared"
        return E.ShareKeys(self.session, self.uid, cts)

    def _on_ShareBundle(self, m: E.ShareBundle) -> None:
        self._expect("shared", "share bundle")
        if m.recipient != self.uid:
            raise ProtocolViolation("not-allowed", "bundle for another user")
        k = 1 + self.max_rounds
        self.held: dict[int, bytes] = {self.uid: self._own_shares}
        for v, box in m.cts.items():
            if v not in self.enc_key:
                raise ProtocolViolation("unknown-sender", str(v))
            body = open_sealed(self.enc_key[v], box, shares_ad(self.session, v, self.uid))
            if len(body) != 8 + k * shamir.SHARE_BYTES or struct.unpack(">II", body[:8]) != (v, self.uid):
                raise ProtocolViolation("bad-format", f"share payload from {v}")
            self.held[v] = body[8:]
        if len(self.held) < self.t:
            raise ProtocolViolation("not-allowed", "fewer than t users shared keys")
        self.live = tuple(sorted(self.held))
        self.phase = "ready"
        return None

    # -- rounds ------------------------------------------------------------
    def _round(self, r: int, what: str) -> _Round:
        if r not in self.rounds:
            raise ProtocolViolation("stale" if r < self.next_round else "out-of-order",
                                    f"{what} for round {r}")
        return self.rounds[r]

    def _on_RoundStart(self, m: E.RoundStart) -> E.MaskedInput:
        if self.phase != "ready":
            raise ProtocolViolation("out-of-order", "round before key setup")
        if m.round < self.next_round:
            raise ProtocolViolation("duplicate" if m.round in self.rounds else "stale",
                                    f"round {m.round}")
        if m.round != self.next_round or (self.rounds and not self.rounds[m.round - 1].unmasked):
            raise ProtocolViolation("out-of-order", f"round {m.round}, expected {self.next_round}")
        if m.round >= self.max_rounds:
            raise ProtocolViolation("not-allowed", "no self-mask secret left for this round")
        groups.check_length(m.group, m.length)
        live = set(m.live)
        if self.uid not in live or not live <= set(self.live) or len(live) < self.t:
            raise ProtocolViolation("not-allowed", "live set not a subset of the last survivors")
        x = np.asarray(self.input_fn(m))
        if x.dtype != groups.dtype(m.group) or x.shape != (m.length,):
            raise ValueError("input vector has the wrong dtype or shape")
        plus, minus = [], []
        for v in m.live:
            if v != self.uid:
                s = pair_seed(self.mask_key[v], self.session, m.round, self.uid, v, m.length)
                (plus if self.uid < v else minus).append(s)
        y = groups.apply_masks(m.group, x, self_seed(self._b[m.round], self.session, m.round,
                                                     self.uid, m.length), plus, minus)
        self.rounds[m.round] = _Round(m, x if m.purpose in CONTENT_FREE else None)
        self.next_round = m.round + 1
        return E.MaskedInput(self.session, m.round, self.uid, groups.to_bytes(y))

    def _on_SurvivorSet(self, m: E.SurvivorSet) -> E.ConsistencySig:
        rd = self._round(m.round, "survivor set")
        if rd.survivors is not None:
            raise ProtocolViolation("duplicate", "survivor set")
        surv = set(m.survivors)
        if self.uid not in surv or not surv <= set(rd.start.live) or len(surv) < self.t:
            raise ConsistencyError("survivor set invalid (not a subset / below t)")
        rd.survivors = m.survivors
        sig = sign(self._id_key, consistency_payload(self.session, m.round, rd.start.live, m.survivors))
        return E.ConsistencySig(self.session, m.round, self.uid, sig)

    def _on_UnmaskRequest(self, m: E.UnmaskRequest) -> E.UnmaskResponse:
        rd = self._round(m.round, "unmask request")
        if rd.survivors is None:
            raise ProtocolViolation("out-of-order", "unmask before consistency check")
        if rd.unmasked:
            raise ProtocolViolation("duplicate", "unmasking is one-shot")
        surv, live = set(rd.survivors), set(rd.start.live)
        if len(m.sigs) < self.t or not set(m.sigs) <= surv:
            raise ConsistencyError("fewer than t consistency signatures from survivors")
        payload = consistency_payload(self.session, m.round, rd.start.live, rd.survivors)
        for v, sig in m.sigs.items():
            if not self.verify(self.roster[v], payload, sig):
                raise ConsistencyError(f"user {v} signed a different survivor set")
        b_for, s_for, seed_for = set(m.b_for), set(m.s_for), set(m.seed_for)
        if b_for & (s_for | self.s_revealed) or s_for & self.b_revealed:
            raise ProtocolViolation("both-shares", "request would reveal both b and s of a user")
        if b_for != surv or s_for & seed_for or (s_for | seed_for) != live - surv:
            raise ProtocolViolation("not-allowed", "request does not match the survivor set")
        rd.unmasked = True
        self.b_revealed |= b_for
        self.s_revealed |= s_for
        self.live = tuple(sorted(surv))
        return E.UnmaskResponse(
            self.session, m.round, self.uid,
            {v: self._share(v, 1 + m.round) for v in b_for if v in self.held},
            {v: self._share(v, 0) for v in s_for if v in self.held},
            {v: pair_seed(self.mask_key[v], self.session, m.round, self.uid, v, rd.start.length)
             for v in seed_for})

    def _share(self, v: int, k: int) -> bytes:
        sb = shamir.SHARE_BYTES
        return self.held[v][k * sb:(k + 1) * sb]

    def _on_RoundResult(self, m: E.RoundResult) -> None:
        rd = self._round(m.round, "result")
        if not rd.unmasked or rd.result is not None:
            raise ProtocolViolation("duplicate" if rd.result is not None else "out-of-order", "result")
        rd.result = groups.from_bytes(rd.start.group, m.vector, rd.start.length)
        return None

    def _on_OpenRequest(self, m: E.OpenRequest) -> E.OpenResponse:
        rd = self._round(m.round, "open request")
        if rd.start.purpose not in CONTENT_FREE or rd.x is None:
            raise ProtocolViolation("not-allowed", f"round purpose {rd.start.purpose!r} is never opened")
        if rd.opened:
            raise ProtocolViolation("duplicate", "round already opened")
        rd.opened = True
        L = rd.start.length
        return E.OpenResponse(
            self.session, m.round, self.uid, groups.to_bytes(rd.x),
            self_seed(self._b[m.round], self.session, m.round, self.uid, L),
            {v: pair_seed(self.mask_key[v], self.session, m.round, self.uid, v, L)
             for v in rd.start.live if v != self.uid})

    def result(self, r: int) -> Optional[np.ndarray]:
        rd = self.rounds.get(r)
        return None if rd is None else rd.result

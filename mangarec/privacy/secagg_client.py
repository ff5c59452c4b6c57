"""I/O-free client state machine of secure aggregation (Bonawitz et al., CCS 2017).

One *session* = key setup (AdvertiseKeys, ShareKeys, ShareAck) followed by up to
``max_rounds`` aggregation rounds, each: MaskedInputCollection, ConsistencyCheck
(repeated on a smaller survivor set if some survivors did not sign),
Unmasking. Fresh per-round self-mask secrets b_(u,r) are shared at setup with
the mask key s_u (hash-committed, see :mod:`vss`); pairwise seeds are derived
per round, so revealing one round's seed reveals nothing about another.

Feed every frame from the server to :meth:`SecAggClient.receive`; it returns the
reply frame (or ``None``) and raises :class:`ProtocolViolation` (with a reason),
:class:`ConsistencyError` (the server showed this client something that another
client cannot have seen) or :class:`DecryptionError`. A share ciphertext that
fails does not stop the client: that dealer is simply not acknowledged.
A RoundStart that leaves this client out sets ``phase = "dropped"``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from . import encoding as E
from . import groups, shamir, vss
from .errors import ConsistencyError, DecryptionError, ProtocolViolation
from .primitives import RandomSource, Verifier, agree, open_sealed, seal, sign, signing_key, x25519_keypair
from .secagg_common import Chain, advertise_payload, consistency_payload, pair_seed, self_seed, shares_ad, start_digest

ENTRY = 128  # c_pk | s_pk | sig, then the advertisement's ext


class SetupHooks(Protocol):
    """Application data carried by key setup (the anonymous channel's tokens)."""

    def advertise_ext(self) -> bytes: ...

    def on_setup(self, keylist_ext: bytes, bundle_ext: bytes) -> None: ...


InputFn = Callable[[E.RoundStart], np.ndarray]
#: (round start, result, survivors) -> the broken invariant, or None to refuse an opening
OpenPolicy = Callable[[E.RoundStart, np.ndarray, tuple[int, ...]], str | None]


@dataclass
class _Round:
    start: E.RoundStart
    digest: bytes
    x: np.ndarray | None = None
    survivors: tuple[int, ...] | None = None
    unmasked: bool = False
    opened: bool = False
    result: np.ndarray | None = None


class SecAggClient:
    """Client ``uid`` of session ``session``; ``roster`` maps uid -> Ed25519 verify key.

    ``openable`` lists the round purposes whose input is kept for a possible
    opening, and ``open_policy`` decides, from the result this client received,
    whether an opening is justified (the application's invariants).
    """

    def __init__(
        self,
        uid: int,
        identity_seed: bytes,
        roster: Mapping[int, bytes],
        session: bytes,
        threshold: int,
        input_fn: InputFn,
        *,
        rng: RandomSource | None = None,
        verifier: Verifier | None = None,
        max_rounds: int = 8,
        hooks: SetupHooks | None = None,
        open_policy: OpenPolicy | None = None,
        openable: frozenset[str] = frozenset(),
    ) -> None:
        shamir.validate_threshold(threshold, len(roster))
        if uid not in roster:
            raise ValueError("uid not in roster")
        self.uid, self.session, self.t = uid, session, threshold
        self.roster = dict(roster)
        self._id_key = signing_key(identity_seed)
        self.input_fn, self.max_rounds = input_fn, max_rounds
        self.rng = rng or RandomSource()
        self.verify = verifier or Verifier()
        self.hooks, self.open_policy, self.openable = hooks, open_policy, openable
        self.phase = "init"
        self.next_round = 0
        self.live: tuple[int, ...] = ()
        self.rounds: dict[int, _Round] = {}
        self.b_revealed: set[int] = set()
        self.s_revealed: set[int] = set()
        self.failed_dealers: set[int] = set()
        self.aborted: str | None = None
        self._frame = b""

    # -- setup -------------------------------------------------------------
    def start(self) -> bytes:
        if self.phase != "init":
            raise ProtocolViolation("out-of-order", "already started")
        self._c_sk, self.c_pk = x25519_keypair(self.rng)
        self._s_sk, self.s_pk = x25519_keypair(self.rng)
        self._b = [self.rng.bytes(32) for _ in range(self.max_rounds)]
        self.ext = self.hooks.advertise_ext() if self.hooks else b""
        sig = sign(self._id_key, advertise_payload(self.session, self.uid, self.c_pk, self.s_pk, self.ext))
        self.phase = "advertised"
        return E.encode(E.Advertise(self.session, self.uid, self.c_pk, self.s_pk, self.ext, sig))

    def receive(self, data: bytes) -> bytes | None:
        msg = E.decode(data)
        if msg.session != self.session:
            raise ProtocolViolation("foreign-session", msg.session.hex())
        if isinstance(msg, E.Abort):
            self.aborted, self.phase = msg.reason, "aborted"
            return None
        if self.phase == "dropped" and isinstance(msg, E.RoundStart) and self.uid not in msg.live:
            return None  # still left out: nothing to do
        if self.phase in ("aborted", "dropped"):
            raise ProtocolViolation("stale", f"session {self.phase}")
        handler = getattr(self, "_on_" + type(msg).__name__, None)
        if handler is None:
            raise ProtocolViolation("out-of-order", type(msg).__name__)
        self._frame = data
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
        if mine is None or mine[:64] != self.c_pk + self.s_pk or mine[ENTRY:] != self.ext:
            raise ConsistencyError("server dropped or altered this client's own keys")
        self.peer_keys, self.enc_key, self.mask_key = {}, {}, {}
        for v, blob in m.keys.items():
            if v not in self.roster:
                raise ProtocolViolation("unknown-sender", str(v))
            if len(blob) < ENTRY:
                raise ProtocolViolation("bad-format", "key entry length")
            c_pk, s_pk, sig, ext = blob[:32], blob[32:64], blob[64:ENTRY], blob[ENTRY:]
            if not self.verify(self.roster[v], advertise_payload(self.session, v, c_pk, s_pk, ext), sig):
                raise ProtocolViolation("bad-signature", f"advertised keys of user {v}")
            self.peer_keys[v] = (c_pk, s_pk)  # agree() refuses small-order keys
            if v != self.uid:
                self.enc_key[v] = agree(self._c_sk, self.uid, c_pk, v, self.session, "share-enc")
                self.mask_key[v] = agree(self._s_sk, self.uid, s_pk, v, self.session, "pair-mask")
        self.keylist_ext = m.ext
        self.chain = Chain(self.session, self._frame)
        self.live = tuple(sorted(m.keys))
        dealing = self._deal([self._s_sk] + self._b)
        cts = {}
        for v in self.live:
            if v == self.uid:
                self._own = dealing.blobs[v]
            else:
                body = struct.pack(">II", self.uid, v) + dealing.blobs[v]
                cts[v] = seal(self.enc_key[v], body, shares_ad(self.session, self.uid, v), self.rng)
        secret_commits = b"".join(
            vss.secret_commitment(self.session, self.uid, 1 + r, b) for r, b in enumerate(self._b)
        )
        self.phase = "shared"
        return E.ShareKeys(self.session, self.uid, cts, dealing.commitments, secret_commits)

    def _deal(self, secrets: list[bytes]) -> vss.Dealing:
        """Share ``secrets`` (mask key, then one self-mask secret per round) with the key list."""
        return vss.deal(self.session, self.uid, secrets, self.live, self.t, self.rng)

    def _on_ShareBundle(self, m: E.ShareBundle) -> E.ShareAck:
        self._expect("shared", "share bundle")
        if m.recipient != self.uid:
            raise ProtocolViolation("not-allowed", "bundle for another user")
        size = 8 + (1 + self.max_rounds) * shamir.SHARE_BYTES
        self.held: dict[int, bytes] = {self.uid: self._own}
        acks = {self.uid: vss.commitments_of(self.session, self.uid, self.uid, self._own)}
        for v, box in m.cts.items():
            if v not in self.enc_key:
                self.failed_dealers.add(v)
                continue
            try:
                body = open_sealed(self.enc_key[v], box, shares_ad(self.session, v, self.uid))
            except DecryptionError:
                self.failed_dealers.add(v)  # not acknowledged: the server treats it as dropped
                continue
            if len(body) != size or struct.unpack(">II", body[:8]) != (v, self.uid):
                self.failed_dealers.add(v)
                continue
            self.held[v] = body[8:]
            acks[v] = vss.commitments_of(self.session, v, self.uid, body[8:])
        self.failed_dealers |= set(self.enc_key) - set(m.cts)
        if self.hooks:
            self.hooks.on_setup(self.keylist_ext, m.ext)
        self.phase = "ready"
        return E.ShareAck(self.session, self.uid, acks)

    # -- rounds ------------------------------------------------------------
    def _round(self, r: int, what: str) -> _Round:
        if r not in self.rounds:
            raise ProtocolViolation("stale" if r < self.next_round else "out-of-order", f"{what} for round {r}")
        return self.rounds[r]

    def _on_RoundStart(self, m: E.RoundStart) -> E.MaskedInput | None:
        if self.phase != "ready":
            raise ProtocolViolation("out-of-order", "round before key setup")
        if m.round < self.next_round:
            raise ProtocolViolation("duplicate" if m.round in self.rounds else "stale", f"round {m.round}")
        if self.uid not in m.live:
            self.phase = "dropped"  # the server went on without this client
            return None
        if m.round != self.next_round or (self.rounds and self.rounds[m.round - 1].result is None):
            raise ProtocolViolation("out-of-order", f"round {m.round}, expected {self.next_round}")
        if m.round >= self.max_rounds:
            raise ProtocolViolation("not-allowed", "no self-mask secret left for this round")
        if m.prev != self.chain.head:
            raise ConsistencyError(
                f"round {m.round} does not continue this client's hash chain "
                "(the server showed it a different earlier result)"
            )
        groups.check_length(m.group, m.length)
        live = set(m.live)
        if not live <= set(self.live) or len(live) < self.t:
            raise ProtocolViolation("not-allowed", "live set not a subset of the last survivors")
        x = np.asarray(self.input_fn(m))
        if x.dtype != groups.dtype(m.group) or x.shape != (m.length,):
            raise ValueError("input vector has the wrong dtype or shape")
        plus: list[bytes] = []
        minus: list[bytes] = []
        for v in m.live:
            if v != self.uid:
                s = pair_seed(self.mask_key[v], self.session, m.round, self.uid, v, m.length)
                (plus if self.uid < v else minus).append(s)
        y = groups.apply_masks(
            m.group, x, self_seed(self._b[m.round], self.session, m.round, self.uid, m.length), plus, minus
        )
        self.rounds[m.round] = _Round(m, start_digest(m), x if m.purpose in self.openable else None)
        self.next_round = m.round + 1
        return E.MaskedInput(self.session, m.round, self.uid, groups.to_bytes(y))

    def _on_SurvivorSet(self, m: E.SurvivorSet) -> E.ConsistencySig:
        rd = self._round(m.round, "survivor set")
        if rd.unmasked or rd.survivors == m.survivors:
            raise ProtocolViolation("duplicate", "survivor set")
        surv = set(m.survivors)
        if self.uid not in surv or not surv <= set(rd.start.live) or len(surv) < self.t:
            raise ConsistencyError("survivor set invalid (not a subset / below t)")
        if rd.survivors is not None and not surv < set(rd.survivors):
            raise ConsistencyError("a repeated survivor set must shrink the one signed before")
        rd.survivors = m.survivors
        sig = sign(self._id_key, self._payload(rd))
        return E.ConsistencySig(self.session, m.round, self.uid, sig)

    def _payload(self, rd: _Round) -> bytes:
        assert rd.survivors is not None
        return consistency_payload(
            self.session, rd.start.round, rd.digest, rd.start.live, rd.survivors, self.chain.head
        )

    def _on_UnmaskRequest(self, m: E.UnmaskRequest) -> E.UnmaskResponse:
        rd = self._round(m.round, "unmask request")
        if rd.survivors is None:
            raise ProtocolViolation("out-of-order", "unmask before consistency check")
        if rd.unmasked:
            raise ProtocolViolation("duplicate", "unmasking is one-shot")
        surv, live = set(rd.survivors), set(rd.start.live)
        if set(m.sigs) != surv:
            raise ConsistencyError("unmasking needs the consistency signature of every survivor")
        payload = self._payload(rd)
        for v, sig in m.sigs.items():
            if not self.verify(self.roster[v], payload, sig):
                raise ConsistencyError(
                    f"user {v} signed a different view of round {m.round} (survivors, parameters or earlier results)"
                )
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
            self.session,
            m.round,
            self.uid,
            {v: self._share(v, 1 + m.round) for v in b_for if v in self.held},
            {v: self._share(v, 0) for v in s_for if v in self.held},
            {v: pair_seed(self.mask_key[v], self.session, m.round, self.uid, v, rd.start.length) for v in seed_for},
        )

    def _share(self, v: int, k: int) -> bytes:
        sb = shamir.SHARE_BYTES
        return self.held[v][k * sb : (k + 1) * sb]

    def _on_RoundResult(self, m: E.RoundResult) -> None:
        rd = self._round(m.round, "result")
        if not rd.unmasked or rd.result is not None:
            raise ProtocolViolation("duplicate" if rd.result is not None else "out-of-order", "result")
        rd.result = groups.from_bytes(rd.start.group, m.vector, rd.start.length)
        assert rd.survivors is not None
        self.chain.extend(rd.start, rd.survivors, m.vector)
        return None

    def _on_OpenRequest(self, m: E.OpenRequest) -> E.OpenResponse:
        rd = self._round(m.round, "open request")
        if rd.opened:
            raise ProtocolViolation("duplicate", "round already opened")
        if rd.x is None:
            raise ProtocolViolation("not-allowed", f"round purpose {rd.start.purpose!r} is never opened")
        if m.round != self.next_round - 1 or rd.result is None:
            raise ProtocolViolation("not-allowed", "only the round just finished may be opened")
        assert rd.survivors is not None
        broken = self.open_policy(rd.start, rd.result, rd.survivors) if self.open_policy else None
        if broken is None:
            raise ProtocolViolation(
                "not-allowed", f"the result of round {m.round} this client received breaks no invariant"
            )
        rd.opened = True
        L = rd.start.length
        return E.OpenResponse(
            self.session,
            m.round,
            self.uid,
            groups.to_bytes(rd.x),
            self_seed(self._b[m.round], self.session, m.round, self.uid, L),
            {
                v: pair_seed(self.mask_key[v], self.session, m.round, self.uid, v, L)
                for v in rd.start.live
                if v != self.uid
            },
        )

    def result(self, r: int) -> np.ndarray | None:
        rd = self.rounds.get(r)
        return None if rd is None else rd.result

    def opened(self, r: int) -> bool:
        rd = self.rounds.get(r)
        return rd is not None and rd.opened

    def survivors(self, r: int) -> tuple[int, ...] | None:
        rd = self.rounds.get(r)
        return None if rd is None else rd.survivors

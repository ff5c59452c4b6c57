"""I/O-free server state machine of secure aggregation (see secagg_client).

The driver (simulation or HTTP transport) feeds client frames to :meth:`receive`
and closes each phase (e.g. on a deadline) by calling, in order::

    keylist() -> bundles() -> [start_round() -> survivors() -> unmask_request()
    -> finish_round() (-> open_request() -> finish_open())]*

Each closing method returns ``{uid: frame}`` to deliver. If fewer than ``t``
users remain at any step, :class:`RoundAborted` is raised, nothing is
unmasked and :meth:`abort_frames` gives the Abort notices. Every received frame
is kept in ``transcript`` (what an honest-but-curious server sees).
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from . import encoding as E
from . import groups, shamir
from .errors import ProtocolViolation, RoundAborted
from .primitives import Verifier, agree, prg_array
from .secagg_client import advertise_payload, consistency_payload, pair_seed, self_seed

from nacl.bindings import crypto_scalarmult_base


class SecAggServer:
    def __init__(self, session: bytes, roster: Mapping[int, bytes], threshold: int, *,
                 max_rounds: int = 8, verifier: Optional[Verifier] = None) -> None:
        shamir.validate_threshold(threshold, len(roster))
        self.session, self.roster, self.t = session, dict(roster), threshold
        self.max_rounds = max_rounds
        self.verify = verifier or Verifier()
        self.phase = "advertise"
        self.transcript: list[bytes] = []
        self.adverts: dict[int, E.Advertise] = {}
        self.sharekeys: dict[int, E.ShareKeys] = {}
        self.round = -1
        self.b_requested: set[int] = set()
        self.s_revealed: set[int] = set()
        self.aborted: Optional[str] = None

    # -- intake ------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        """Validate and store one client frame; raises ProtocolViolation with a reason."""
        msg = E.decode(data)
        if msg.session != self.session:
            raise ProtocolViolation("foreign-session", msg.session.hex())
        sender = getattr(msg, "sender", None)
        if sender not in self.roster:
            raise ProtocolViolation("unknown-sender", str(sender))
        if self.phase == "aborted":
            raise ProtocolViolation("stale", "session aborted")
        r = getattr(msg, "round", None)
        if r is not None and r != self.round:
            raise ProtocolViolation("stale" if r < self.round else "out-of-order", f"round {r}")
        expected = {"advertise": E.Advertise, "share": E.ShareKeys, "input": E.MaskedInput,
                    "consistency": E.ConsistencySig, "unmask": E.UnmaskResponse,
                    "open": E.OpenResponse}.get(self.phase)
        if not isinstance(msg, expected or ()):
            order = [E.Advertise, E.ShareKeys, E.MaskedInput, E.ConsistencySig,
                     E.UnmaskResponse, E.OpenResponse]
            late = type(msg) in order and expected in order and order.index(type(msg)) < order.index(expected)
            raise ProtocolViolation("stale" if late else "out-of-order",
                                    f"{type(msg).__name__} in phase {self.phase}")
        box = self._box()
        if sender in box:
            raise ProtocolViolation("duplicate", f"{type(msg).__name__} from {sender}")
        self._check(msg)
        box[sender] = msg
        self.transcript.append(bytes(data))

    def _box(self) -> dict:
        if self.phase == "advertise":
            return self.adverts
        if self.phase == "share":
            return self.sharekeys
        return self.inbox

    def _check(self, m) -> None:
        if isinstance(m, E.Advertise):
            if not self.verify(self.roster[m.sender],
                               advertise_payload(self.session, m.sender, m.c_pk, m.s_pk), m.sig):
                raise ProtocolViolation("bad-signature", f"advertise from {m.sender}")
            if len(m.c_pk) != 32 or len(m.s_pk) != 32:
                raise ProtocolViolation("bad-format", "key length")
        elif isinstance(m, E.ShareKeys):
            if m.sender not in self.adverts or not set(m.cts) <= set(self.adverts) - {m.sender}:
                raise ProtocolViolation("not-allowed", "shares for users outside the key list")
        elif isinstance(m, E.MaskedInput):
            if m.sender not in self.start.live:
                raise ProtocolViolation("not-allowed", f"user {m.sender} not live")
            groups.from_bytes(self.start.group, m.vector, self.start.length)
        elif isinstance(m, E.ConsistencySig):
            if m.sender not in self.U3:
                raise ProtocolViolation("not-allowed", "signature from a non-survivor")
            payload = consistency_payload(self.session, self.round, self.start.live, self.U3)
            if not self.verify(self.roster[m.sender], payload, m.sig):
                raise ProtocolViolation("bad-signature", f"consistency from {m.sender}")
        elif isinstance(m, E.UnmaskResponse):
            if m.sender not in self.request.sigs:
                raise ProtocolViolation("not-allowed", "unmask response from non-signer")
        elif isinstance(m, E.OpenResponse) and m.sender not in self.start.live:
            raise ProtocolViolation("not-allowed", "open response from non-participant")

    def _need(self, n: int, what: str) -> None:
        if n < self.t:
            self.phase, self.aborted = "aborted", f"{what}: {n} < t={self.t}"
            raise RoundAborted(self.aborted)

    def abort_frames(self) -> dict[int, bytes]:
        f = E.encode(E.Abort(self.session, max(self.round, 0), self.aborted or "aborted"))
        return {u: f for u in self.roster}

    # -- setup -------------------------------------------------------------
    def keylist(self) -> dict[int, bytes]:
        self._need(len(self.adverts), "AdvertiseKeys")
        keys = {u: a.c_pk + a.s_pk + a.sig for u, a in self.adverts.items()}
        self.phase = "share"
        f = E.encode(E.KeyList(self.session, keys))
        return {u: f for u in self.adverts}

    def bundles(self) -> dict[int, bytes]:
        self._need(len(self.sharekeys), "ShareKeys")
        U2 = sorted(self.sharekeys)
        self.U2, self.live = U2, tuple(U2)
        inbox: dict[int, dict[int, bytes]] = {v: {} for v in U2}
        for u in U2:  # transpose sender -> recipient maps in one pass
            for v, ct in self.sharekeys[u].cts.items():
                if v in inbox:
                    inbox[v][u] = ct
        out = {v: E.encode(E.ShareBundle(self.session, v, inbox[v])) for v in U2}
        self.phase = "ready"
        return out

    # -- rounds ------------------------------------------------------------
    def start_round(self, purpose: str, group: str, length: int, params: bytes = b"") -> dict[int, bytes]:
        if self.phase != "ready":
            raise ProtocolViolation("out-of-order", f"start_round in phase {self.phase}")
        if self.round + 1 >= self.max_rounds:
            raise ProtocolViolation("not-allowed", "session has no rounds left")
        groups.check_length(group, length)
        self.round += 1
        self.start = E.RoundStart(self.session, self.round, purpose, group, length, self.live, params)
        self.inbox, self.phase = {}, "input"
        f = E.encode(self.start)
        return {u: f for u in self.live}

    def survivors(self) -> dict[int, bytes]:
        self._need(len(self.inbox), "MaskedInputCollection")
        self.inputs = self.inbox
        self.U3 = tuple(sorted(self.inputs))
        self.inbox, self.phase = {}, "consistency"
        f = E.encode(E.SurvivorSet(self.session, self.round, self.U3))
        return {u: f for u in self.U3}

    def unmask_request(self) -> dict[int, bytes]:
        self._need(len(self.inbox), "ConsistencyCheck")
        sigs = {u: m.sig for u, m in self.inbox.items()}
        dropped = set(self.start.live) - set(self.U3)
        s_for = {v for v in dropped if v not in self.b_requested}
        self.request = E.UnmaskRequest(self.session, self.round, sigs, self.U3,
                                       tuple(sorted(s_for)), tuple(sorted(dropped - s_for)))
        self.b_requested |= set(self.U3)
        self.inbox, self.phase = {}, "unmask"
        f = E.encode(self.request)
        return {u: f for u in sigs}

    def finish_round(self) -> dict[int, bytes]:
        """Remove all masks and publish the aggregate (one-shot)."""
        resp: dict[int, E.UnmaskResponse] = self.inbox
        self._need(len(resp), "Unmasking")
        g, L = self.start.group, self.start.length
        total = groups.zeros(g, L)
        for m in self.inputs.values():
            groups.add_into(g, total, groups.from_bytes(g, m.vector, L))
        dt = total.dtype
        for v, b in zip(self.U3, self._reconstruct(resp, self.U3, 1 + self.round, "b_shares")):
            groups.sub_into(g, total, prg_array(self_seed(b, self.session, self.round, v, L), L, dt))
        for v, s_sk in zip(self.request.s_for, self._reconstruct(resp, self.request.s_for, 0, "s_shares")):
            if crypto_scalarmult_base(s_sk) != self.adverts[v].s_pk:
                self._need(0, f"reconstructed mask key of {v} does not match")
            self.s_revealed.add(v)
            for u in self.U3:
                k = agree(s_sk, v, self.adverts[u].s_pk, u, self.session, "pair-mask")
                self._cancel(total, u, v, pair_seed(k, self.session, self.round, u, v, L))
        for v in self.request.seed_for:
            for u in self.U3:
                if u not in resp or v not in resp[u].seeds:
                    self._need(0, f"pair seed ({u},{v}) unavailable")
                self._cancel(total, u, v, resp[u].seeds[v])
        self.result, self.live, self.phase = total, self.U3, "ready"
        f = E.encode(E.RoundResult(self.session, self.round, groups.to_bytes(total)))
        return {u: f for u in self.U3}

    def _cancel(self, total: np.ndarray, u: int, v: int, seed: bytes) -> None:
        """Remove the pairwise mask of survivor u towards dropped v from ``total``."""
        p = prg_array(seed, total.shape[0], total.dtype)
        (groups.sub_into if u < v else groups.add_into)(self.start.group, total, p)

    def _reconstruct(self, resp, owners, index: int, attr: str) -> list[bytes]:
        if not owners:
            return []
        table = {h: [getattr(m, attr).get(v) for v in owners] for h, m in resp.items()}
        table = {h: s for h, s in table.items() if all(x is not None for x in s)}
        self._need(len(table), f"shares for {attr}")
        try:
            return shamir.reconstruct_many(table, self.t)
        except ValueError as exc:
            self._need(0, f"bad shares: {exc}")
            raise  # pragma: no cover

    # -- blame (content-free rounds only) -----------------------------------
    def open_request(self) -> dict[int, bytes]:
        if self.phase != "ready" or self.start.purpose not in ("count", "reserve"):
            raise ProtocolViolation("not-allowed", "only a finished content-free round can be opened")
        self.inbox, self.phase = {}, "open"
        f = E.encode(E.OpenRequest(self.session, self.round))
        return {u: f for u in self.start.live}

    def finish_open(self) -> tuple[dict[int, np.ndarray], set[int]]:
        """Per-user inputs recomputed from revealed seeds, and the set of users who
        refused, lied (upload != masked input) or disagree on a pair seed."""
        st, g, L = self.start, self.start.group, self.start.length
        resp: dict[int, E.OpenResponse] = self.inbox
        bad = {u for u in self.U3 if u not in resp}
        inputs = {}
        for u, m in resp.items():
            if u not in self.inputs:
                continue
            try:
                x = groups.from_bytes(g, m.input, L)
                plus = [m.seeds[v] for v in st.live if v > u]
                minus = [m.seeds[v] for v in st.live if v < u]
            except (ProtocolViolation, KeyError):
                bad.add(u)
                continue
            for v in st.live:
                if v != u and v in resp and resp[v].seeds.get(u) != m.seeds[v]:
                    bad.add(u)
            y = groups.apply_masks(g, x, m.self_seed, plus, minus)
            if not np.array_equal(y, groups.from_bytes(g, self.inputs[u].vector, L)):
                bad.add(u)
            inputs[u] = x
        self.phase = "ready"
        return inputs, bad

    def expel(self, users) -> None:
        """Remove users (e.g. caught jammers) from the live set of later rounds."""
        self.live = tuple(u for u in self.live if u not in set(users))

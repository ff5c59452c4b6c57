"""I/O-free server state machine of secure aggregation (see secagg_client).

The driver (:mod:`driver`) feeds client frames to :meth:`receive` and closes
each phase (e.g. on a deadline) by calling, in order::

    keylist() -> bundles() -> acks() -> [start_round() -> survivors()
    -> unmask_request()+ -> finish_round() (-> open_request() -> finish_open())]*

``unmask_request`` sends a smaller SurvivorSet (and stays in phase
"consistency") while some survivors have not signed; it sends the
UnmaskRequest once every survivor has. Each closing method returns
``{uid: frame}`` to deliver. Below ``t`` users, or when a user's misbehaviour
makes unmasking impossible, :class:`RoundAborted` is raised (naming culprits if
any) and nothing is unmasked. ``blamed`` collects attributed misbehaviour
(uid -> reason); blamed users are left out of later rounds. ``transcript`` keeps
every received frame (what an honest-but-curious server sees).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
from nacl.bindings import crypto_scalarmult_base

from . import encoding as E
from . import groups, shamir, vss
from .errors import ProtocolViolation, RoundAborted
from .primitives import Verifier, agree, check_x25519_key, prg_array
from .secagg_common import Chain, advertise_payload, consistency_payload, pair_seed, self_seed, start_digest

MAX_EXT = 256
_BOXES = {
    "advertise": E.Advertise,
    "share": E.ShareKeys,
    "ack": E.ShareAck,
    "input": E.MaskedInput,
    "consistency": E.ConsistencySig,
    "unmask": E.UnmaskResponse,
    "open": E.OpenResponse,
}
_ORDER = list(_BOXES.values())


class ServerHooks(Protocol):
    """Application data of key setup (the anonymous channel's token issuer)."""

    def keylist_ext(self) -> bytes: ...

    def bundle_ext(self, uid: int, advertised: bytes) -> bytes: ...


class SecAggServer:
    def __init__(
        self,
        session: bytes,
        roster: Mapping[int, bytes],
        threshold: int,
        *,
        max_rounds: int = 8,
        verifier: Verifier | None = None,
        hooks: ServerHooks | None = None,
    ) -> None:
        shamir.validate_threshold(threshold, len(roster))
        self.session, self.roster, self.t = session, dict(roster), threshold
        self.max_rounds, self.hooks = max_rounds, hooks
        self.k = 1 + max_rounds  # secrets shared per user
        self.verify = verifier or Verifier()
        self.phase = "advertise"
        self.transcript: list[bytes] = []
        self.adverts: dict[int, E.Advertise] = {}
        self.sharekeys: dict[int, E.ShareKeys] = {}
        self.inbox: dict = {}
        self.round = -1
        self.live: tuple[int, ...] = ()
        self.b_requested: set[int] = set()
        self.s_revealed: set[int] = set()
        self.blamed: dict[int, str] = {}
        self.events: list[str] = []
        self.aborted: str | None = None

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
        expected = _BOXES.get(self.phase)
        if not isinstance(msg, expected or ()):
            late = type(msg) in _ORDER and expected in _ORDER and _ORDER.index(type(msg)) < _ORDER.index(expected)
            raise ProtocolViolation("stale" if late else "out-of-order", f"{type(msg).__name__} in phase {self.phase}")
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

    def expected(self) -> set[int]:
        """Users whose frame the current phase waits for."""
        return {
            "advertise": set(self.roster),
            "share": set(self.adverts),
            "ack": set(getattr(self, "U2", ())),
            "input": set(self.live),
            "consistency": set(getattr(self, "U3", ())),
            "unmask": set(getattr(getattr(self, "request", None), "sigs", ())),
            "open": set(getattr(self, "U3", ())),
        }.get(self.phase, set())

    def _check(self, m) -> None:
        if isinstance(m, E.Advertise):
            if not self.verify(
                self.roster[m.sender], advertise_payload(self.session, m.sender, m.c_pk, m.s_pk, m.ext), m.sig
            ):
                raise ProtocolViolation("bad-signature", f"advertise from {m.sender}")
            if len(m.ext) > MAX_EXT:
                raise ProtocolViolation("bad-length", "advertisement extension")
            check_x25519_key(m.c_pk)  # small-order keys refused here
            check_x25519_key(m.s_pk)
        elif isinstance(m, E.ShareKeys):
            peers = set(self.adverts)
            if m.sender not in peers or not set(m.cts) <= peers - {m.sender} or set(m.commits) != peers:
                raise ProtocolViolation("not-allowed", "shares for users outside the key list")
            if (
                any(len(c) != self.k * vss.COMMIT_BYTES for c in m.commits.values())
                or len(m.secret_commits) != (self.k - 1) * vss.SECRET_COMMIT_BYTES
            ):
                raise ProtocolViolation("bad-length", "share commitments")
        elif isinstance(m, E.ShareAck):
            if m.sender not in self.U2 or not set(m.commits) <= set(self.U2):
                raise ProtocolViolation("not-allowed", "acknowledgement outside the sharing set")
        elif isinstance(m, E.MaskedInput):
            if m.sender not in self.start.live:
                raise ProtocolViolation("not-allowed", f"user {m.sender} not live")
            groups.from_bytes(self.start.group, m.vector, self.start.length)
        elif isinstance(m, E.ConsistencySig):
            if m.sender not in self.U3:
                raise ProtocolViolation("not-allowed", "signature from a non-survivor")
            if not self.verify(self.roster[m.sender], self._payload(), m.sig):
                raise ProtocolViolation("bad-signature", f"consistency from {m.sender}")
        elif isinstance(m, E.UnmaskResponse):
            if m.sender not in self.request.sigs:
                raise ProtocolViolation("not-allowed", "unmask response from non-signer")
        elif isinstance(m, E.OpenResponse) and m.sender not in self.start.live:
            raise ProtocolViolation("not-allowed", "open response from non-participant")

    def _payload(self) -> bytes:
        return consistency_payload(
            self.session, self.round, self.start_digest, self.start.live, self.U3, self.chain.head
        )

    def _need(self, n: int, what: str, culprits=()) -> None:
        if n < self.t or culprits:
            self.phase = "aborted"
            self.aborted = f"{what}: {n} < t={self.t}" if not culprits else what
            raise RoundAborted(self.aborted, culprits)

    def abort_frames(self) -> dict[int, bytes]:
        f = E.encode(E.Abort(self.session, max(self.round, 0), self.aborted or "aborted"))
        return {u: f for u in self.roster}

    # -- setup -------------------------------------------------------------
    def keylist(self) -> dict[int, bytes]:
        self._need(len(self.adverts), "AdvertiseKeys")
        keys = {u: a.c_pk + a.s_pk + a.sig + a.ext for u, a in self.adverts.items()}
        self.phase = "share"
        f = E.encode(E.KeyList(self.session, keys, self.hooks.keylist_ext() if self.hooks else b""))
        self.chain = Chain(self.session, f)
        return {u: f for u in self.adverts}

    def bundles(self) -> dict[int, bytes]:
        self._need(len(self.sharekeys), "ShareKeys")
        self.U2 = tuple(sorted(self.sharekeys))
        inbox: dict[int, dict[int, bytes]] = {v: {} for v in self.U2}
        for u in self.U2:  # transpose sender -> recipient maps in one pass
            for v, ct in self.sharekeys[u].cts.items():
                if v in inbox:
                    inbox[v][u] = ct
        out = {}
        for v in self.U2:
            ext = self.hooks.bundle_ext(v, self.adverts[v].ext) if self.hooks else b""
            out[v] = E.encode(E.ShareBundle(self.session, v, inbox[v], ext))
        self.inbox, self.phase = {}, "ack"
        return out

    def acks(self) -> dict[int, bytes]:
        """Close the acknowledgements: keep a share of u as held by v only if v
        recomputed u's commitment; drop dealers refused by more than f holders."""
        acked = sorted(self.inbox)
        self._need(len(acked), "ShareAck")
        commits = {u: {v: c for v, c in self.sharekeys[u].commits.items() if v in self.inbox} for u in acked}
        self.held = vss.held_by(commits, {v: a.commits for v, a in self.inbox.items()})
        f = (len(acked) - self.t) // 2
        live = []
        for u in acked:
            refused = len(acked) - len(self.held[u])
            if refused > f:
                self.events.append(f"user {u} dropped: its shares failed for {refused} holders (more than {f})")
            else:
                live.append(u)
        self.live, self.inbox, self.phase = tuple(live), {}, "ready"
        self._need(len(live), "ShareAck")
        return {}

    # -- rounds ------------------------------------------------------------
    def start_round(self, purpose: str, group: str, length: int, params: bytes = b"") -> dict[int, bytes]:
        if self.phase != "ready":
            raise ProtocolViolation("out-of-order", f"start_round in phase {self.phase}")
        if self.round + 1 >= self.max_rounds:
            raise ProtocolViolation("not-allowed", "session has no rounds left")
        groups.check_length(group, length)
        self._need(len(self.live), "live users")
        self.round += 1
        self.start = E.RoundStart(self.session, self.round, purpose, group, length, self.live, params, self.chain.head)
        self.start_digest = start_digest(self.start)
        self.inbox, self.phase = {}, "input"
        f = E.encode(self.start)  # also to the users left out, so that they know
        return {u: f for u in self.U2}

    def survivors(self) -> dict[int, bytes]:
        self._need(len(self.inbox), "MaskedInputCollection")
        self.inputs = self.inbox
        self.U3 = tuple(sorted(self.inputs))
        self.inbox, self.phase = {}, "consistency"
        f = E.encode(E.SurvivorSet(self.session, self.round, self.U3))
        return {u: f for u in self.U3}

    def unmask_request(self) -> dict[int, bytes]:
        """UnmaskRequest once every survivor signed; else a smaller SurvivorSet."""
        signers = set(self.inbox)
        self._need(len(signers), "ConsistencyCheck")
        if signers != set(self.U3):  # silent survivors count as dropped: sign again
            self.U3 = tuple(sorted(signers))
            self.inputs = {u: self.inputs[u] for u in self.U3}
            self.inbox = {}
            f = E.encode(E.SurvivorSet(self.session, self.round, self.U3))
            return {u: f for u in self.U3}
        sigs = {u: m.sig for u, m in self.inbox.items()}
        dropped = set(self.start.live) - set(self.U3)
        s_for = {v for v in dropped if v not in self.b_requested}
        self.request = E.UnmaskRequest(
            self.session, self.round, sigs, self.U3, tuple(sorted(s_for)), tuple(sorted(dropped - s_for))
        )
        self.b_requested |= set(self.U3)
        self.inbox, self.phase = {}, "unmask"
        f = E.encode(self.request)
        return {u: f for u in sigs}

    def finish_round(self) -> dict[int, bytes]:
        """Remove all masks and publish the aggregate (one-shot)."""
        resp: dict[int, E.UnmaskResponse] = self.inbox
        self._need(len(resp), "Unmasking")
        g, L, r = self.start.group, self.start.length, self.round
        total = groups.zeros(g, L)
        for m in self.inputs.values():
            groups.add_into(g, total, groups.from_bytes(g, m.vector, L))
        dt = total.dtype
        commit = {u: self.sharekeys[u].secret_commits[r * 32 : (r + 1) * 32] for u in self.U3}
        b = self._rebuild(
            resp, self.U3, 1 + r, "b_shares", lambda u, s: vss.secret_commitment(self.session, u, 1 + r, s) == commit[u]
        )
        for v in self.U3:
            groups.sub_into(g, total, prg_array(self_seed(b[v], self.session, r, v, L), L, dt))
        s_keys = self._rebuild(
            resp, self.request.s_for, 0, "s_shares", lambda u, s: crypto_scalarmult_base(s) == self.adverts[u].s_pk
        )
        for v, s_sk in s_keys.items():
            self.s_revealed.add(v)
            for u in self.U3:
                k = agree(s_sk, v, self.adverts[u].s_pk, u, self.session, "pair-mask")
                self._cancel(total, u, v, pair_seed(k, self.session, r, u, v, L))
        for v in self.request.seed_for:
            for u in self.U3:
                if u not in resp or v not in resp[u].seeds:
                    self._need(0, f"pair seed ({u},{v}) unavailable")
                self._cancel(total, u, v, resp[u].seeds[v])
        self.result, self.phase = total, "ready"
        self.live = tuple(u for u in self.U3 if u not in self.blamed)
        self.chain.extend(self.start, self.U3, groups.to_bytes(total))
        f = E.encode(E.RoundResult(self.session, self.round, groups.to_bytes(total)))
        return {u: f for u in self.U3}

    def _cancel(self, total: np.ndarray, u: int, v: int, seed: bytes) -> None:
        """Remove the pairwise mask of survivor u towards dropped v from ``total``."""
        p = prg_array(seed, total.shape[0], total.dtype)
        (groups.sub_into if u < v else groups.add_into)(self.start.group, total, p)

    def _rebuild(self, resp, owners, index: int, attr: str, check) -> dict[int, bytes]:
        if not owners:
            return {}
        shares = {h: getattr(m, attr) for h, m in resp.items()}
        rec = vss.reconstruct_checked(self.session, index, owners, shares, self.held, self.t, check)
        for h, why in rec.blamed.items():
            self.blamed[h] = why
            self.events.append(f"round {self.round}: user {h} blamed: {why}")
        if rec.bad_dealers:
            self._need(
                0,
                f"round {self.round}: users {sorted(rec.bad_dealers)} dealt shares "
                "that do not reconstruct their committed secret",
                rec.bad_dealers,
            )
        if rec.missing:
            self._need(0, f"round {self.round}: fewer than t valid shares of {sorted(rec.missing)}")
        return rec.secrets

    # -- blame (content-free rounds only) -----------------------------------
    def open_request(self) -> dict[int, bytes]:
        if self.phase != "ready" or not hasattr(self, "result"):
            raise ProtocolViolation("not-allowed", "only a finished round can be opened")
        self.inbox, self.phase = {}, "open"
        f = E.encode(E.OpenRequest(self.session, self.round))
        return {u: f for u in self.U3}

    def finish_open(self) -> tuple[dict[int, np.ndarray], set[int]]:
        """Per-user inputs recomputed from revealed seeds, and the users who refused,
        lied (upload != recomputed masked input), or, if no one else is caught,
        disagree with a partner on a pair seed."""
        st, g, L = self.start, self.start.group, self.start.length
        resp: dict[int, E.OpenResponse] = self.inbox
        bad = {u for u in self.U3 if u not in resp}
        inputs, disagree = {}, set()
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
                    disagree.add(u)
            y = groups.apply_masks(g, x, m.self_seed, plus, minus)
            if not np.array_equal(y, groups.from_bytes(g, self.inputs[u].vector, L)):
                bad.add(u)
            inputs[u] = x
        self.phase = "ready"
        return inputs, bad or disagree

    def expel(self, users) -> None:
        """Remove users (e.g. caught cheaters) from the live set of later rounds."""
        self.live = tuple(u for u in self.live if u not in set(users))

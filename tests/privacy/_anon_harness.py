"""One anonymous-channel session driven step by step, for the attack tests (not a test module).

Honest steps use the project's own driver; a test plays the adversary by passing
deviating Contributor / SecAggClient / SecAggServer subclasses, or by sending
frames of its own to the clients with :meth:`AnonRun.send`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from mangarec.privacy import encoding as E
from mangarec.privacy.anonymous import OPENABLE, AnonParams
from mangarec.privacy.collector import Collector
from mangarec.privacy.contributor import Contributor
from mangarec.privacy.driver import run_round
from mangarec.privacy.errors import PrivacyError, ProtocolViolation
from mangarec.privacy.primitives import RandomSource, Verifier, signing_key
from mangarec.privacy.secagg_client import SecAggClient
from mangarec.privacy.secagg_server import SecAggServer
from mangarec.privacy.simulate import default_threshold


def ratings_of(u: int, k: int | None = None) -> list[tuple[int, int]]:
    k = 1 + (u * 37) % 90 if k is None else k
    return [(1000 * u + i, 1 + i % 10) for i in range(k)]


def profiles_of(ratings: Mapping[int, list]) -> Counter:
    """The profiles expected from these contributors (one with no rating sends nothing)."""
    return Counter(tuple(sorted(r)) for r in ratings.values() if r)


class AnonRun:
    def __init__(
        self,
        n: int,
        *,
        params: AnonParams = AnonParams(),
        contributors: Mapping[int, type] = {},
        clients: Mapping[int, type] = {},
        server: type = SecAggServer,
        ratings: Mapping[int, list] | None = None,
        collector: Collector | None = None,
    ) -> None:
        self.params = params
        self.ratings = dict(ratings) if ratings is not None else {u: ratings_of(u) for u in range(n)}
        self.contribs = {u: contributors.get(u, Contributor)(self.ratings[u], params) for u in range(n)}
        self.col = collector or Collector(params)
        ids = {u: RandomSource().bytes(32) for u in range(n)}
        roster = {u: signing_key(s).verify_key for u, s in ids.items()}
        self.session, self.t = RandomSource().bytes(16), default_threshold(n)
        ver = Verifier(memo=True)
        self.sv = server(self.session, roster, self.t, max_rounds=params.rounds, verifier=ver, hooks=self.col)
        self.clients = {}
        for u, c in self.contribs.items():
            self.clients[u] = clients.get(u, SecAggClient)(
                u,
                ids[u],
                roster,
                self.session,
                self.t,
                c.input_fn,
                verifier=ver,
                max_rounds=params.rounds,
                hooks=c,
                open_policy=c.open_policy,
                openable=OPENABLE,
            )
            c.attach(self.clients[u])
        self.errors: dict[int, PrivacyError] = {}
        self.refused: list[tuple[int, str]] = []
        self.dead: set[int] = set()

    def send(self, frames: Mapping[int, bytes]) -> dict[int, bytes]:
        """Deliver frames; returns the replies; client errors go to ``errors``."""
        out = {}
        for u, f in frames.items():
            if u in self.dead or u in self.errors:
                continue
            try:
                r = self.clients[u].start() if f == b"" else self.clients[u].receive(f)
            except PrivacyError as exc:
                self.errors[u] = exc
                continue
            if r is not None:
                out[u] = r
        return out

    def exchange(self, frames: Mapping[int, bytes], stage: str) -> None:
        if stage == "advertise":
            frames = {u: b"" for u in self.clients}
        for u, r in self.send(frames).items():
            try:
                self.sv.receive(r)
            except ProtocolViolation as exc:
                self.refused.append((u, exc.reason))

    def setup(self) -> None:
        self.exchange({}, "advertise")
        self.exchange(self.sv.keylist(), "share")
        self.exchange(self.sv.bundles(), "ack")
        self.sv.acks()
        self.col.new_session()

    def round(self) -> str:
        plan = self.col.next_round(len(self.sv.live))
        assert plan is not None, "the collector has nothing more to do"
        run_round(self.sv, self.col, plan, self.exchange)
        return plan[0]

    def run(self, max_rounds: int = 60) -> None:
        self.setup()
        while self.col.next_round(len(self.sv.live)) is not None and max_rounds:
            self.round()
            max_rounds -= 1
        for c in self.contribs.values():
            c.sync()

    def delivered(self) -> Counter:
        return Counter(tuple(v) for v in self.col.profiles().values())

    def honest_delivered(self, honest) -> bool:
        want = profiles_of({u: self.ratings[u] for u in honest})
        got = self.delivered()
        return all(got[k] >= c for k, c in want.items())

    def frames_to(self, frames: Mapping[int, bytes], kind: type) -> dict[int, E.Message]:
        return {u: E.decode(f) for u, f in frames.items() if E.decode(f).KIND == kind.KIND}

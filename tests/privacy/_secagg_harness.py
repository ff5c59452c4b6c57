"""Drive SecAggClient/SecAggServer in-process for the privacy tests (not a test module)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from mangarec.privacy import encoding as E
from mangarec.privacy.primitives import RandomSource, Verifier, signing_key
from mangarec.privacy.secagg_client import SecAggClient
from mangarec.privacy.secagg_server import SecAggServer

STAGES = ("advertise", "share", "input", "consistency", "unmask")


class Harness:
    """n users, one session; ``inputs[r][u]`` is user u's vector in round r."""

    def __init__(
        self,
        n: int,
        t: int,
        group: str = "add16",
        length: int = 16,
        seed: int = 1,
        max_rounds: int = 4,
        memo: bool = True,
        client_cls: Mapping = MappingProxyType({}),
    ) -> None:
        self.rng = RandomSource(bytes([seed % 256]) * 32)
        self.n, self.t, self.group, self.length = n, t, group, length
        self.session = self.rng.bytes(16)
        self.ids = {u: self.rng.bytes(32) for u in range(n)}
        self.roster = {u: bytes(signing_key(s).verify_key) for u, s in self.ids.items()}
        self.inputs: dict[int, dict[int, np.ndarray]] = {}
        ver = Verifier(memo=memo)
        self.server = SecAggServer(self.session, self.roster, t, max_rounds=max_rounds, verifier=ver)
        self.clients = {
            u: client_cls.get(u, SecAggClient)(
                u,
                self.ids[u],
                self.roster,
                self.session,
                t,
                self._input(u),
                rng=self.rng.child(u),
                verifier=ver,
                max_rounds=max_rounds,
            )
            for u in range(n)
        }
        self.dead: set[int] = set()
        self.sent: list[tuple[int, bytes]] = []  # (recipient, frame) server -> client

    def _input(self, u):
        def fn(st: E.RoundStart) -> np.ndarray:
            return self.inputs[st.round][u]

        return fn

    def deliver(self, frames: dict[int, bytes], drop: set[int] = frozenset()) -> None:
        self.dead |= set(drop)
        for u, f in frames.items():
            if u in self.dead:
                continue
            self.sent.append((u, f))
            reply = self.clients[u].receive(f)
            if reply is not None:
                self.server.receive(reply)

    def setup(self, drop: Mapping[str, set[int]] = MappingProxyType({})) -> None:
        self.dead |= drop.get("advertise", set())
        for u in range(self.n):
            if u not in self.dead:
                self.server.receive(self.clients[u].start())
        self.deliver(self.server.keylist(), drop.get("share", set()))
        self.deliver(self.server.bundles())
        self.server.acks()

    def round(self, inputs: dict[int, np.ndarray], drop: Mapping[str, set[int]] = MappingProxyType({})) -> np.ndarray:
        r = self.server.round + 1
        self.inputs[r] = inputs
        self.deliver(self.server.start_round("sum", self.group, self.length), drop.get("input", set()))
        self.deliver(self.server.survivors(), drop.get("consistency", set()))
        self.consistency()
        self.deliver(self.server.unmask_request(), drop.get("unmask", set()))
        self.deliver(self.server.finish_round())
        return self.server.result

    def consistency(self) -> None:
        """Re-run the consistency check until every survivor has signed."""
        while set(self.server.inbox) != set(self.server.U3):
            self.deliver(self.server.unmask_request())


def random_inputs(h: Harness, seed: int) -> dict[int, np.ndarray]:
    g = np.random.default_rng(seed)
    info = np.iinfo(np.dtype("uint16" if h.group == "add16" else "uint8"))
    dt = np.uint16 if h.group == "add16" else np.uint8
    return {u: g.integers(0, int(info.max) + 1, h.length).astype(dt) for u in range(h.n)}

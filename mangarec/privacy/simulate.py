"""In-process simulation: N users in cohorts, any crash-stop dropout pattern.

Every message really goes through its wire encoding (bytes) between the
I/O-free client and server state machines. A user's crash point is a tuple
``(session, round, stage)``: from that point on it sends and receives nothing
(``round`` is -1 for the key-setup stages ``advertise`` and ``share``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from .anonymous import AnonParams, Collector, Contributor
from .errors import ConsistencyError, DecryptionError, ProtocolViolation, RoundAborted
from .primitives import RandomSource, Verifier, _frame, hash_bytes, signing_key
from .ratings_codec import assemble, encode_user
from .secagg_client import SecAggClient
from .secagg_server import SecAggServer

STAGES = {"advertise": 0, "share": 1, "input": 2, "consistency": 3, "unmask": 4, "open": 5, "result": 5}
Crash = tuple[int, int, str]


def default_threshold(n: int) -> int:
    """Smallest honest majority: floor(n/2) + 1 (and at least 2)."""
    return max(2, n // 2 + 1)


def seed_source(seed: int, label: str) -> RandomSource:
    return RandomSource(hash_bytes(_frame(b"mangarec-privacy-sim", label, seed)))


@dataclass
class CohortReport:
    messages: list[bytes]
    events: list[str]
    sessions: int
    rounds: int
    anonymity_set: Optional[int]
    bytes_by_user: dict[int, int]
    transcripts: list[list[bytes]] = field(default_factory=list)
    expelled: set[int] = field(default_factory=set)


class Cohort:
    """Run the anonymous collection for one cohort of contributors."""

    def __init__(self, contributors: Mapping[int, Contributor], rng: RandomSource, *,
                 params: AnonParams = AnonParams(), crashes: Mapping[int, Crash] = {},
                 threshold=default_threshold, max_rounds: int = 10, max_sessions: int = 4,
                 verifier: Optional[Verifier] = None, keep_transcript: bool = False) -> None:
        self.contributors, self.rng, self.params = dict(contributors), rng, params
        self.crashes, self.threshold = dict(crashes), threshold
        self.max_rounds, self.max_sessions = max_rounds, max_sessions
        self.verifier = verifier or Verifier(memo=True)
        self.keep_transcript = keep_transcript
        self.ids = {u: rng.bytes(32) for u in self.contributors}
        self.vks = {u: bytes(signing_key(s).verify_key) for u, s in self.ids.items()}
        self.bytes = {u: 0 for u in self.contributors}
        self.stopped: set[int] = set()
        self._expelled: set[int] = set()

    def _crashed(self, u: int, s: int, r: int, stage: str) -> bool:
        c = self.crashes.get(u)
        return u in self.stopped or (c is not None and (s, r, STAGES[stage]) >= (c[0], c[1], STAGES[c[2]]))

    def _deliver(self, frames: dict[int, bytes], s: int, r: int, stage: str) -> None:
        for u, f in frames.items():
            if self._crashed(u, s, r, stage):
                continue
            self.bytes[u] += len(f)
            try:
                reply = self.clients[u].receive(f)
            except (ConsistencyError, DecryptionError, ProtocolViolation) as exc:
                self.events.append(f"user {u} stopped: {exc}")
                self.stopped.add(u)
                continue
            if reply is not None:
                self.bytes[u] += len(reply)
                self.server.receive(reply)

    def run(self) -> CohortReport:
        col = Collector(self.params)
        self.events = col.events
        alive = set(self.contributors)
        transcripts, rounds, expelled = [], 0, set()
        for s in range(self.max_sessions):
            alive = {u for u in alive if not self._crashed(u, s, -1, "advertise")} - expelled
            if len(alive) < 2:
                break
            roster = {u: self.vks[u] for u in sorted(alive)}
            t = self.threshold(len(roster))
            sess = self.rng.bytes(16)
            self.server = SecAggServer(sess, roster, t, max_rounds=self.max_rounds, verifier=self.verifier)
            self.clients = {}
            for u in roster:
                c = self.contributors[u]
                self.clients[u] = SecAggClient(u, self.ids[u], roster, sess, t, c.input_fn,
                                               rng=self.rng.child(f"{s}/{u}"), verifier=self.verifier,
                                               max_rounds=self.max_rounds)
                c.attach(self.clients[u])
            try:
                for u in roster:
                    if not self._crashed(u, s, -1, "advertise"):
                        f = self.clients[u].start()
                        self.bytes[u] += len(f)
                        self.server.receive(f)
                self._deliver(self.server.keylist(), s, -1, "share")
                self._deliver(self.server.bundles(), s, 0, "input")
                col.new_session()
                while True:
                    plan = col.next_round(self.server.round + 1)
                    if plan is None or self.server.round + 2 >= self.max_rounds:
                        break
                    self._round(s, plan, col)
                    rounds += 1
            except RoundAborted as exc:
                col.events.append(f"session {s} aborted: {exc}")
                self._deliver(self.server.abort_frames(), s, self.server.round, "result")
            finally:
                for c in self.contributors.values():
                    if c.client is not None:
                        c.sync()
                if self.keep_transcript:
                    transcripts.append(list(self.server.transcript))
            expelled |= self._expelled
            if col.phase != "count" and col.next_round(0) is None:
                break
            alive -= {u for u in alive if self._crashed(u, s, 1 << 30, "open")}
        return CohortReport(col.accepted, col.events, s + 1, rounds, col.min_anonymity,
                            self.bytes, transcripts, expelled)

    def _round(self, s: int, plan, col: Collector) -> None:
        purpose = plan[0]
        sv = self.server
        frames = sv.start_round(*plan)
        r = sv.round
        self._deliver(frames, s, r, "input")
        self._deliver(sv.survivors(), s, r, "consistency")
        self._deliver(sv.unmask_request(), s, r, "unmask")
        self._deliver(sv.finish_round(), s, r, "result")
        if col.on_result(purpose, r, sv.result, len(sv.U3), sv.session) == "open":
            self._deliver(sv.open_request(), s, r, "open")
            inputs, bad = sv.finish_open()
            cheaters = col.on_open(purpose, r, inputs, bad)
            sv.expel(cheaters)
            self._expelled |= cheaters


# -- whole-dataset collection ---------------------------------------------------
_STAGE_CHOICES = [(-1, "advertise"), (-1, "share")] + [
    (r, st) for r in range(4) for st in ("input", "consistency", "unmask")]


@dataclass(frozen=True)
class CollectionResult:
    rows: list[tuple[str, int, int]]      # (pseudonym hex, item_id, rating)
    contributors: int
    cohorts: int
    seconds: float
    bytes_per_user: float
    min_anonymity_set: Optional[int]
    dropped_users: int
    lost_ratings: int
    events: list[str]


def _run_cohort(args) -> tuple[list[bytes], dict, list[str], Optional[int], int]:
    """Worker: (cohort index, [(key, ratings)], seed, dropout, params) -> results."""
    idx, members, seed, dropout, params = args
    rng = seed_source(seed, f"cohort-{idx}")
    contribs, crashes = {}, {}
    for uid, (_, ratings) in enumerate(members):
        msgs, _ = encode_user(ratings, rng.bytes(8), msg_bytes=params.msg_bytes,
                              max_parts=params.max_parts)
        contribs[uid] = Contributor(msgs, params, rng.child(f"user-{uid}"))
        if dropout and rng.randbelow(1 << 30) < dropout * (1 << 30):
            r, st = _STAGE_CHOICES[rng.randbelow(len(_STAGE_CHOICES))]
            crashes[uid] = (0, r, st)
    rep = Cohort(contribs, rng, params=params, crashes=crashes).run()
    events = [f"cohort {idx}: {e}" for e in rep.events]
    return rep.messages, rep.bytes_by_user, events, rep.anonymity_set, len(crashes)


def simulate_collection(users: Mapping[str, Sequence[tuple[int, int]]], *, cohort: int = 200,
                        dropout: float = 0.0, seed: int = 0, params: AnonParams = AnonParams(),
                        workers: int = 1) -> CollectionResult:
    """Collect every user's ratings through the anonymous channel, in cohorts.

    Users are shuffled (by ``seed``) into ``ceil(N / cohort)`` cohorts of nearly
    equal size. Each user holds only its own rows. Ratings beyond the per-round
    limit go out in later passes under fresh pseudonyms (see ratings_codec).
    """
    if cohort < 3:
        raise ValueError("cohort size must be at least 3")
    if not 0.0 <= dropout < 1.0:
        raise ValueError("dropout must be in [0, 1)")
    t0 = time.perf_counter()
    from .ratings_codec import capacity
    per_pass = capacity(params.msg_bytes) * params.max_parts
    passes: list[list[tuple[str, list[tuple[int, int]]]]] = []
    for key in sorted(users):
        r = sorted(users[key])
        for k in range(0, max(1, len(r)), per_pass):
            while len(passes) <= k // per_pass:
                passes.append([])
            passes[k // per_pass].append((key, r[k:k + per_pass]))
    rng = seed_source(seed, "partition")
    jobs, n_cohorts, deferred = [], 0, []
    for p, members in enumerate(passes):
        if len(members) < 3:  # too few for a cohort: these ratings wait for a later round
            deferred.append(f"pass {p}: {len(members)} contributor(s) with ratings over the "
                            f"per-round limit deferred to a later collection round")
            continue
        order = list(range(len(members)))
        for i in range(len(order) - 1, 0, -1):  # Fisher-Yates with the seeded source
            j = rng.randbelow(i + 1)
            order[i], order[j] = order[j], order[i]
        k = max(1, -(-len(order) // cohort))
        for c in range(k):
            part = [members[i] for i in order[c::k]]
            jobs.append((n_cohorts, part, seed, dropout, params))
            n_cohorts += 1
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers) as ex:
            outs = list(ex.map(_run_cohort, jobs))
    else:
        outs = [_run_cohort(j) for j in jobs]
    messages, events, total_bytes, anon, dropped = [], list(deferred), 0, None, 0
    for msgs, by_user, ev, a, d in outs:
        messages += msgs
        events += ev
        total_bytes += sum(by_user.values())
        dropped += d
        if a is not None:
            anon = a if anon is None else min(anon, a)
    collected = assemble(messages)
    rows = [(p.hex(), i, r) for p, lst in collected.items() for i, r in lst]
    n_in = sum(len(v) for v in users.values())
    return CollectionResult(sorted(rows), len(users), n_cohorts, time.perf_counter() - t0,
                            total_bytes / max(1, len(users)), anon, dropped, n_in - len(rows), events)

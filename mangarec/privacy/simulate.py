"""In-process simulation: N users in cohorts, any crash-stop dropout pattern.

Every message really goes through its wire encoding (bytes) between the
I/O-free client and server state machines. A user's crash point is a tuple
``(session, round, stage)``: from that point on it sends and receives nothing
(``round`` is -1 for the key-setup stages ``advertise``, ``share`` and ``ack``).

All protocol randomness (identity keys, session ids, masks, pseudonym keys,
slots, nonces) comes from the operating system; the integer ``seed`` of
:func:`simulate_collection` only shapes the cohort partition and who drops out
where, so the published pseudonyms cannot be recomputed from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from mangarec import seeds

from .anonymous import OPENABLE, AnonParams
from .collector import Collector
from .contributor import Contributor
from .driver import run_session
from .errors import ConsistencyError, DecryptionError, ProtocolViolation, RoundAborted
from .primitives import RandomSource, Verifier, signing_key
from .ratings_codec import capacity
from .secagg_client import SecAggClient
from .secagg_server import SecAggServer

STAGES = {"advertise": 0, "share": 1, "ack": 2, "input": 3, "consistency": 4, "unmask": 5, "open": 6, "result": 6}
Crash = tuple[int, int, str]


def default_threshold(n: int) -> int:
    """Smallest honest majority: floor(n/2) + 1 (and at least 2)."""
    return max(2, n // 2 + 1)


@dataclass
class CohortReport:
    profiles: dict[bytes, list[tuple[int, int]]]
    events: list[str]
    sessions: int
    rounds: int
    anonymity_set: int | None
    bytes_by_user: dict[int, int]
    transcripts: list[list[bytes]] = field(default_factory=list)
    expelled: set[int] = field(default_factory=set)


class Cohort:
    """Run the anonymous collection for one cohort of contributors.

    ``server_factory`` and ``client_factory`` build the session's SecAggServer and
    each SecAggClient (tests pass deviating subclasses to play an adversary).
    """

    def __init__(
        self,
        contributors: Mapping[int, Contributor],
        *,
        params: AnonParams = AnonParams(),
        crashes: Mapping[int, Crash] = {},
        threshold: Callable[[int], int] = default_threshold,
        max_sessions: int = 4,
        verifier: Verifier | None = None,
        keep_transcript: bool = False,
        server_factory: Callable[..., SecAggServer] = SecAggServer,
        client_factory: Callable[..., SecAggClient] = SecAggClient,
    ) -> None:
        self.contributors, self.params = dict(contributors), params
        self.crashes, self.threshold, self.max_sessions = dict(crashes), threshold, max_sessions
        self.verifier = verifier or Verifier(memo=True)
        self.keep_transcript = keep_transcript
        self.server_factory, self.client_factory = server_factory, client_factory
        self.ids = {u: RandomSource().bytes(32) for u in self.contributors}
        self.vks = {u: signing_key(s).verify_key for u, s in self.ids.items()}
        self.bytes = {u: 0 for u in self.contributors}
        self.stopped: set[int] = set()

    def _crashed(self, u: int, s: int, r: int, stage: str) -> bool:
        c = self.crashes.get(u)
        return u in self.stopped or (c is not None and (s, r, STAGES[stage]) >= (c[0], c[1], STAGES[c[2]]))

    def _exchange(self, frames: dict[int, bytes], stage: str) -> None:
        s, r = self.s, self.server.round
        if stage == "advertise":
            frames = {u: b"" for u in self.clients}
        for u, f in frames.items():
            if self._crashed(u, s, -1 if stage in ("advertise", "share", "ack") else r, stage):
                continue
            self.bytes[u] += len(f)
            try:
                reply = self.clients[u].start() if stage == "advertise" else self.clients[u].receive(f)
            except (ConsistencyError, DecryptionError, ProtocolViolation) as exc:
                self.events.append(f"user {u} stopped: {exc}")
                self.stopped.add(u)
                continue
            if reply is not None:
                self.bytes[u] += len(reply)
                try:
                    self.server.receive(reply)
                except ProtocolViolation as exc:
                    self.events.append(f"server refused a frame of user {u}: {exc}")

    def run(self) -> CohortReport:
        col = Collector(self.params)
        self.events = col.events
        alive, transcripts, rounds = set(self.contributors), [], 0
        expelled: set[int] = set()
        s = 0
        for s in range(self.max_sessions):
            self.s = s
            alive = {u for u in alive - expelled if not self._crashed(u, s, -1, "advertise")}
            if len(alive) < 2:
                break
            roster = {u: self.vks[u] for u in sorted(alive)}
            t = self.threshold(len(roster))
            sess = RandomSource().bytes(16)
            self.server = self.server_factory(
                sess, roster, t, max_rounds=self.params.rounds, verifier=self.verifier, hooks=col
            )
            self.clients = {}
            for u in roster:
                c = self.contributors[u]
                self.clients[u] = self.client_factory(
                    u,
                    self.ids[u],
                    roster,
                    sess,
                    t,
                    c.input_fn,
                    verifier=self.verifier,
                    max_rounds=self.params.rounds,
                    hooks=c,
                    open_policy=c.open_policy,
                    openable=OPENABLE,
                )
                c.attach(self.clients[u])
            try:
                expelled |= run_session(self.server, col, self._exchange)
            except RoundAborted as exc:
                col.events.append(f"session {s} aborted: {exc}")
                expelled |= exc.culprits | set(self.server.blamed)
                self._exchange(self.server.abort_frames(), "result")
            finally:
                rounds += self.server.round + 1
                for c in self.contributors.values():
                    if c.client is not None:
                        c.sync()
                if self.keep_transcript:
                    transcripts.append(list(self.server.transcript))
            if col.done:
                break
            alive -= {u for u in alive if self._crashed(u, s, 1 << 30, "result")}
        events = list(col.events)
        profiles = col.profiles()
        events += col.events[len(events) :]
        for u, c in sorted(self.contributors.items()):
            events += [f"user {u} noticed: {e}" for e in c.events]
        return CohortReport(profiles, events, s + 1, rounds, col.min_anonymity, self.bytes, transcripts, expelled)


# -- whole-dataset collection ---------------------------------------------------
_STAGE_CHOICES = [(-1, "advertise"), (-1, "share"), (-1, "ack")] + [
    (r, st) for r in range(6) for st in ("input", "consistency", "unmask")
]


@dataclass(frozen=True)
class CollectionResult:
    rows: list[tuple[str, int, int]]  # (pseudonym hex, item_id, rating)
    contributors: int
    cohorts: int
    seconds: float
    bytes_per_user: float
    min_anonymity_set: int | None
    dropped_users: int
    lost_ratings: int
    events: list[str]


def _run_cohort(args) -> tuple[dict[bytes, list], dict, list[str], int | None, int]:
    """Worker: (cohort index, [(key, ratings)], seed, dropout, params) -> results."""
    idx, members, seed, dropout, params = args
    g = seeds.rng(seed, "privacy", "dropout", idx)
    contribs, crashes = {}, {}
    for uid, (_, ratings) in enumerate(members):
        contribs[uid] = Contributor(ratings, params)
        if dropout and g.random() < dropout:
            r, st = _STAGE_CHOICES[int(g.integers(len(_STAGE_CHOICES)))]
            crashes[uid] = (0, r, st)
    rep = Cohort(contribs, params=params, crashes=crashes).run()
    events = [f"cohort {idx}: {e}" for e in rep.events]
    return rep.profiles, rep.bytes_by_user, events, rep.anonymity_set, len(crashes)


def simulate_collection(
    users: Mapping[str, Sequence[tuple[int, int]]],
    *,
    cohort: int = 200,
    dropout: float = 0.0,
    seed: int = 0,
    params: AnonParams = AnonParams(),
    workers: int = 1,
) -> CollectionResult:
    """Collect every user's ratings through the anonymous channel, in cohorts.

    Users are shuffled (by ``seed``) into ``ceil(N / cohort)`` cohorts of nearly
    equal size. Each user holds only its own rows. Ratings beyond one profile's
    limit go out in later passes under fresh pseudonyms.
    """
    if cohort < 3:
        raise ValueError("cohort size must be at least 3")
    if not 0.0 <= dropout < 1.0:
        raise ValueError("dropout must be in [0, 1)")
    t0 = time.perf_counter()
    per_pass = capacity(params.msg_bytes) * params.max_parts
    passes: list[list[tuple[str, list[tuple[int, int]]]]] = []
    for key in sorted(users):
        r = sorted(users[key])
        for k in range(0, max(1, len(r)), per_pass):
            while len(passes) <= k // per_pass:
                passes.append([])
            passes[k // per_pass].append((key, r[k : k + per_pass]))
    g = seeds.rng(seed, "privacy", "partition")
    jobs, n_cohorts, deferred = [], 0, []
    for p, members in enumerate(passes):
        if len(members) < 3:  # too few for a cohort: these ratings wait for a later round
            deferred.append(
                f"pass {p}: {len(members)} contributor(s) with ratings over the "
                f"per-profile limit deferred to a later collection"
            )
            continue
        order = [int(i) for i in g.permutation(len(members))]
        k = max(1, -(-len(order) // cohort))
        for c in range(k):
            jobs.append((n_cohorts, [members[i] for i in order[c::k]], seed, dropout, params))
            n_cohorts += 1
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as ex:
            outs = list(ex.map(_run_cohort, jobs))
    else:
        outs = [_run_cohort(j) for j in jobs]
    rows, events, total_bytes, anon, dropped = [], list(deferred), 0, None, 0
    for profiles, by_user, ev, a, d in outs:
        rows += [(p.hex(), i, r) for p, lst in profiles.items() for i, r in lst]
        events += ev
        total_bytes += sum(by_user.values())
        dropped += d
        if a is not None:
            anon = a if anon is None else min(anon, a)
    n_in = sum(len(v) for v in users.values())
    return CollectionResult(
        sorted(rows),
        len(users),
        n_cohorts,
        time.perf_counter() - t0,
        total_bytes / max(1, len(users)),
        anon,
        dropped,
        n_in - len(rows),
        events,
    )

"""The order of one collection session, shared by the simulator and the HTTP server.

``exchange(frames, stage)`` is the transport: it delivers the server's frames
(``{uid: frame}``; for the "advertise" stage there are none, the clients start)
and returns once the replies of that stage are in the server (or a deadline
passed, in which case the silent users count as dropped).
"""

from __future__ import annotations

from collections.abc import Callable

from .collector import Collector, Plan
from .secagg_server import SecAggServer

Exchange = Callable[[dict[int, bytes], str], None]


def run_session(sv: SecAggServer, col: Collector, exchange: Exchange) -> set[int]:
    """Key setup and anonymous rounds; returns the users expelled for cheating.

    Raises :class:`RoundAborted` (its ``culprits`` are to be expelled as well).
    """
    expelled: set[int] = set()
    seen = 0

    def log() -> None:
        nonlocal seen
        col.events.extend(sv.events[seen:])
        seen = len(sv.events)

    try:
        exchange({}, "advertise")
        exchange(sv.keylist(), "share")
        exchange(sv.bundles(), "ack")
        sv.acks()
        log()
        col.new_session()
        while sv.round + 1 < sv.max_rounds:
            plan = col.next_round(len(sv.live))
            if plan is None:
                break
            expelled |= run_round(sv, col, plan, exchange)
            log()
        else:
            col.events.append("session out of rounds")
    finally:
        log()
    return expelled | set(sv.blamed)


def run_round(sv: SecAggServer, col: Collector, plan: Plan, exchange: Exchange) -> set[int]:
    """One round: input, consistency (repeated until every survivor signed),
    unmasking, result; then an opening if the collector asks for one."""
    exchange(sv.start_round(*plan), "input")
    exchange(sv.survivors(), "consistency")
    while True:
        frames = sv.unmask_request()
        if sv.phase == "unmask":
            exchange(frames, "unmask")
            break
        exchange(frames, "consistency")
    exchange(sv.finish_round(), "result")
    if col.on_result(plan[0], sv.round, sv.result, len(sv.U3), sv.session) != "open":
        return set()
    exchange(sv.open_request(), "open")
    inputs, bad = sv.finish_open()
    cheaters = col.on_open(plan[0], sv.round, inputs, bad)
    sv.expel(cheaters)
    return cheaters

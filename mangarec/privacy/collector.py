"""Server side of the anonymous channel: the plan of rounds, tokens and accepted parts.

A :class:`Collector` lives for one collection (one cohort, possibly several
sessions). It issues one token per roster member (:mod:`tokens`, as the
SecAggServer's setup hooks), plans reserve / marks / message rounds, judges
each result, asks for an opening only when a reservation result breaks an
invariant, and accepts a message only if it is a part signed by its pseudonym
key with a valid token. Everything it notices goes to ``events``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from . import tokens
from .anonymous import MARKS_GROUP, AnonParams, counter_group, opened_input_valid, parse_slots, reservation_violation
from .errors import ParameterError, ProtocolViolation
from .primitives import RandomSource
from .ratings_codec import Part, assemble, decode_message

Plan = tuple[str, str, int, bytes]


@dataclass
class Collector:
    params: AnonParams = field(default_factory=AnonParams)
    rng: RandomSource = field(default_factory=RandomSource)
    events: list[str] = field(default_factory=list)
    min_anonymity: int | None = None
    phase: str = "reserve"  # reserve | marks | message | done | gave-up
    attempts: int = 0

    def __post_init__(self) -> None:
        self.issuer = tokens.Issuer(self.rng)
        self.issued: set[int] = set()
        self.parts: list[Part] = []
        self._prev = -1
        self._singles = self._slots = np.zeros(0, dtype=np.int64)
        self._more = False

    # -- SecAggServer setup hooks ---------------------------------------------
    def keylist_ext(self) -> bytes:
        return self.issuer.public

    def bundle_ext(self, uid: int, advertised: bytes) -> bytes:
        """Evaluate a roster member's blinded token request, once per collection."""
        if not advertised:
            return b""
        if uid in self.issued:
            self.events.append(f"user {uid} asked for a second token: refused")
            return b""
        try:
            ev = self.issuer.evaluate(advertised)
        except ProtocolViolation as exc:
            self.events.append(f"user {uid}: token request refused ({exc})")
            return b""
        self.issued.add(uid)
        return ev

    # -- plan ---------------------------------------------------------------------
    def new_session(self) -> None:
        if self.phase != "done":
            self.phase, self.attempts = "reserve", 0

    @property
    def done(self) -> bool:
        return self.phase == "done"

    def next_round(self, live: int) -> Plan | None:
        """(purpose, group, length, params) of the next round, or None when done."""
        p = self.params
        if self.phase == "reserve":
            if self.attempts >= p.max_attempts:
                self.phase = "gave-up"
                self.events.append(f"gave up after {p.max_attempts} attempts with messages left")
                return None
            return "reserve", counter_group(live), p.load * p.budget * live, b""
        if self.phase == "marks":
            return (
                "marks",
                MARKS_GROUP,
                len(self._singles) * p.block + 1,
                struct.pack(">I", self._prev),
            )
        if self.phase == "message":
            return "message", "xor", len(self._slots) * p.slot_bytes, struct.pack(">I", self._prev)
        return None

    def on_result(self, purpose: str, rnd: int, result: np.ndarray, survivors: int, session: bytes) -> str:
        """Consume a round result; returns "ok" or "open" (open this reservation)."""
        p = self.params
        self._prev = rnd
        if purpose == "reserve":
            why = reservation_violation(result, survivors, p.budget)
            if why:
                self.events.append(f"round {rnd}: reservation invariant broken ({why})")
                self.attempts += 1
                return "open"
            self._singles = np.flatnonzero(result == 1)
            self.phase = "marks"
            return "ok"
        if purpose == "marks":
            marks, left = result[:-1], int(result[-1])
            self._slots = np.flatnonzero(marks != 0)
            self._more = left != 0
            if self.attempts == 0 and not len(self._slots) and not left:
                self.events.append(f"round {rnd}: nothing to collect (a total of zero)")
            self.phase = "message" if len(self._slots) else self._after_attempt()
            return "ok"
        if purpose == "message":
            valid, bad, _ = parse_slots(session, rnd, result.tobytes(), p)
            n = sum(self.accept(m) for m in valid)
            if n:
                self.min_anonymity = survivors if self.min_anonymity is None else min(self.min_anonymity, survivors)
            if bad:
                self.events.append(
                    f"round {rnd}: {bad} of {len(self._slots)} slots corrupted (collision or jamming); owners retry"
                )
                self._more = True
            self.phase = self._after_attempt()
            return "ok"
        raise ValueError(purpose)

    def _after_attempt(self) -> str:
        self.attempts += 1
        return "reserve" if self._more else "done"

    def on_open(self, purpose: str, rnd: int, inputs: dict[int, np.ndarray], bad: set[int]) -> set[int]:
        """Judge an opened reservation; returns the users to expel."""
        cheaters = set(bad) | {u for u, x in inputs.items() if not opened_input_valid(x, self.params.budget)}
        self.events.append(f"round {rnd} opened: expelled {sorted(cheaters)}")
        self.phase = "reserve"
        return cheaters

    # -- accepted parts ---------------------------------------------------------------
    def accept(self, msg: bytes) -> bool:
        """Keep ``msg`` if it is a part signed by its pseudonym key with a valid token."""
        try:
            part = decode_message(msg, self.issuer.public)
        except ParameterError as exc:
            self.events.append(f"message dropped: {exc}")
            return False
        if part.parts > self.params.max_parts:
            self.events.append(
                f"part of {part.pseudonym.hex()} dropped: a profile has at most "
                f"{self.params.max_parts} parts, it claims {part.parts}"
            )
            return False
        if not self.issuer.valid(part.pk, part.token):
            self.events.append(f"part of {part.pseudonym.hex()} dropped: its token was not issued by this collection")
            return False
        self.parts.append(part)
        return True

    def profiles(self) -> dict[bytes, list[tuple[int, int]]]:
        """pseudonym -> sorted ratings; conflicting pseudonyms dropped (and reported)."""
        out, events = assemble(self.parts)
        self.events.extend(e for e in events if e not in self.events)
        return out

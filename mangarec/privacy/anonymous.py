"""An anonymous channel built from secure aggregation (the Mangaki research idea).

Rounds inside one secure-aggregation session (all cohort members take part in
every round, including those with nothing left to send, so the anonymity set
stays the whole surviving cohort):

1. ``count`` (Z_2^32, length 1): sum of the users' pending message counts M.
2. ``reserve`` (Z_2^16, or Z_2^32 when M >= 2^16; length S+1, S = max(min_slots, load * M)): each user adds
   1 at one fresh random slot per pending message and its own count at index S.
   The result is a vector of *counters* (not XOR bits, so collisions of any
   multiplicity are visible). A slot with counter 1 belongs to exactly one user.
   Checks: sum of counters == declared total <= previous bound, no counter above
   the number of participants. A violation means someone wrote more than declared
   (e.g. every slot): the round is *opened* — it is content-free, so every user
   reveals its input and that round's seeds, the server recomputes each upload,
   and the cheater is identified and expelled before a fresh reservation.
3. ``message`` (GF(2), length K * slot): the K singly-owned slots are compacted in
   slot order; each owner XORs ``message | nonce | H(session, round, slot, nonce,
   message)`` into its compacted slot. Slots whose hash fails are collisions or
   jamming (a user writing every slot corrupts them all): they are discarded and
   their owners retry from step 2; valid slots are accepted.

Message rounds are never opened (clients refuse), so jamming of the message phase
is detected and costs a retry but cannot be attributed.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import encoding as E
from .primitives import RandomSource, _frame, hash_bytes
from .ratings_codec import DEFAULT_MAX_PARTS, DEFAULT_MSG_BYTES

NONCE = 16
TAG = 16


@dataclass(frozen=True)
class AnonParams:
    msg_bytes: int = DEFAULT_MSG_BYTES
    max_parts: int = DEFAULT_MAX_PARTS
    load: int = 48          # reservation slots per pending message
    min_slots: int = 64
    max_attempts: int = 6   # reservation+message attempts per session

    @property
    def slot_bytes(self) -> int:
        return self.msg_bytes + NONCE + TAG


def slot_tag(session: bytes, rnd: int, idx: int, nonce: bytes, msg: bytes) -> bytes:
    return hash_bytes(_frame(b"slot", session, rnd, idx, nonce, msg), size=TAG)


def parse_slots(session: bytes, rnd: int, data: bytes, params: AnonParams) -> tuple[list[bytes], int, int]:
    """(valid messages, corrupted slot count, empty slot count) of a message-round result."""
    sz, mb = params.slot_bytes, params.msg_bytes
    valid, bad, empty = [], 0, 0
    for idx in range(len(data) // sz):
        s = data[idx * sz:(idx + 1) * sz]
        msg, nonce, tag = s[:mb], s[mb:mb + NONCE], s[mb + NONCE:]
        if slot_tag(session, rnd, idx, nonce, msg) == tag:
            valid.append(msg)
        elif any(s):
            bad += 1
        else:
            empty += 1
    return valid, bad, empty


class Contributor:
    """Client-side logic: supplies round inputs to its SecAggClient (``input_fn``)."""

    def __init__(self, messages: list[bytes], params: AnonParams, rng: RandomSource) -> None:
        if any(len(m) != params.msg_bytes for m in messages):
            raise ValueError("messages must have exactly msg_bytes bytes")
        if len(messages) > params.max_parts:
            raise ValueError("more messages than max_parts")
        self.pending = list(messages)
        self.params, self.rng = params, rng
        self.client = None  # set by the driver: a SecAggClient
        self._reserved: dict[int, list[tuple[int, bytes]]] = {}
        self._written: dict[int, list[tuple[int, bytes, bytes]]] = {}
        self.cheat_message_rounds = 0   # test hook: jam the next N message rounds
        self.cheat_reserve_rounds = 0   # test hook: write every slot in N reservations

    def attach(self, client) -> None:
        self.client = client
        self._reserved.clear()
        self._written.clear()

    def sync(self) -> None:
        """Drop the pending messages that a published message-round result shows delivered."""
        sz = self.params.slot_bytes
        for r in list(self._written):
            res = self.client.result(r)
            if res is None:
                continue
            data = res.tobytes()
            for idx, content, msg in self._written.pop(r):
                if data[idx * sz:(idx + 1) * sz] == content and msg in self.pending:
                    self.pending.remove(msg)

    def input_fn(self, st: E.RoundStart) -> np.ndarray:
        self.sync()
        if st.purpose == "count":
            return np.array([len(self.pending)], dtype=np.uint32)
        if st.purpose == "reserve":
            S = st.length - 1
            x = np.zeros(st.length, dtype=np.uint16 if st.group == "add16" else np.uint32)
            k = min(len(self.pending), S)
            slots: list[int] = []
            while len(slots) < k:
                j = self.rng.randbelow(S)
                if j not in slots:
                    slots.append(j)
            x[slots] = 1
            x[S] = k
            if self.cheat_reserve_rounds:
                self.cheat_reserve_rounds -= 1
                x[:S] = 1
            self._reserved[st.round] = list(zip(slots, self.pending))
            return x
        if st.purpose == "message":
            (rr,) = struct.unpack(">I", st.params)
            counts = self.client.result(rr)
            sz = self.params.slot_bytes
            x = np.zeros(st.length, dtype=np.uint8)
            if counts is None or rr not in self._reserved:
                return x
            singles = np.flatnonzero(counts[:-1] == 1)
            if len(singles) * sz != st.length:
                raise ValueError("message round length disagrees with the reservation result")
            writes = []
            for slot, msg in self._reserved.pop(rr):
                if counts[slot] == 1:
                    idx = int(np.searchsorted(singles, slot))
                    nonce = self.rng.bytes(NONCE)
                    content = msg + nonce + slot_tag(st.session, st.round, idx, nonce, msg)
                    x[idx * sz:(idx + 1) * sz] = np.frombuffer(content, dtype=np.uint8)
                    writes.append((idx, content, msg))
            self._written[st.round] = writes
            if self.cheat_message_rounds:
                self.cheat_message_rounds -= 1
                x ^= np.frombuffer(self.rng.bytes(st.length), dtype=np.uint8)
            return x
        raise ValueError(f"unknown round purpose {st.purpose!r}")


@dataclass
class Collector:
    """Server-side plan of the anonymous rounds (no I/O, no secrets)."""

    params: AnonParams = field(default_factory=AnonParams)
    accepted: list[bytes] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    min_anonymity: Optional[int] = None
    phase: str = "count"
    bound: int = 0
    attempts: int = 0
    last_reserve: int = -1
    slots: int = 0
    singles: int = 0

    def new_session(self) -> None:
        self.phase, self.attempts = "count", 0

    def next_round(self, next_index: int) -> Optional[tuple[str, str, int, bytes]]:
        """(purpose, group, length, params) of the next round, or None when done."""
        if self.phase == "count":
            return "count", "add32", 1, b""
        if self.phase == "reserve":
            if self.bound <= 0:
                return None
            if self.attempts >= self.params.max_attempts:
                self.events.append(f"gave up with up to {self.bound} messages pending")
                return None
            self.slots = max(self.params.min_slots, self.params.load * self.bound)
            # counters must hold the declared total without wrapping
            return "reserve", "add16" if self.bound < 1 << 16 else "add32", self.slots + 1, b""
        if self.phase == "message":
            return ("message", "xor", self.singles * self.params.slot_bytes,
                    struct.pack(">I", self.last_reserve))
        return None

    def on_result(self, purpose: str, rnd: int, result: np.ndarray, survivors: int,
                  session: bytes) -> str:
        """Consume a round result; returns "ok" or "open" (blame this round)."""
        if purpose == "count":
            total = int(result[0])
            if total > survivors * self.params.max_parts:
                self.events.append(f"round {rnd}: count {total} exceeds the per-user limit")
                return "open"
            self.bound, self.phase = total, "reserve"
            return "ok"
        if purpose == "reserve":
            S = len(result) - 1
            c = result[:S].astype(np.int64)
            declared = int(result[S])
            if int(c.sum()) != declared or declared > self.bound or int(c.max(initial=0)) > survivors:
                self.events.append(f"round {rnd}: reservation invariant broken "
                                   f"(sum {int(c.sum())}, declared {declared}, bound {self.bound})")
                return "open"
            self.bound = declared
            self.singles = int((c == 1).sum())
            self.last_reserve = rnd
            self.attempts += 1
            self.phase = "message" if self.singles else "reserve"
            return "ok"
        if purpose == "message":
            valid, bad, empty = parse_slots(session, rnd, result.tobytes(), self.params)
            self.accepted.extend(valid)
            if valid:
                self.min_anonymity = survivors if self.min_anonymity is None else min(self.min_anonymity, survivors)
            if bad:
                self.events.append(f"round {rnd}: {bad} of {self.singles} slots corrupted "
                                   f"(collision or jamming); owners retry")
            self.bound = max(0, self.bound - len(valid))
            self.phase = "reserve"
            return "ok"
        raise ValueError(purpose)

    def on_open(self, purpose: str, rnd: int, inputs: dict[int, np.ndarray], bad: set[int]) -> set[int]:
        """Judge an opened content-free round; returns the users to expel."""
        cheaters = set(bad)
        for u, x in inputs.items():
            x = x.astype(np.int64)
            if purpose == "count":
                ok = x[0] <= self.params.max_parts
            else:
                ok = bool(np.all((x[:-1] == 0) | (x[:-1] == 1))) and x[:-1].sum() == x[-1] \
                    and x[-1] <= self.params.max_parts
            if not ok:
                cheaters.add(u)
        self.events.append(f"round {rnd} opened: expelled {sorted(cheaters)}")
        if purpose == "count":
            self.phase = "count"
        return cheaters

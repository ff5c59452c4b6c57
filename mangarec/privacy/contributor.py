"""Client side of the anonymous channel: one contributor's profile and round inputs.

A :class:`Contributor` is plugged into its session's SecAggClient as
``input_fn``, ``hooks`` (the token request rides on AdvertiseKeys, the answer
on the ShareBundle) and ``open_policy`` (it consents to opening only the
reservation just finished, and only if the result it received breaks an
invariant). It checks what it can of every result and records what it finds
in ``events``; it never writes into an opened reservation.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import encoding as E
from . import groups, tokens
from .anonymous import MARKS_GROUP, AnonParams, random_mark, reservation_violation, slot_content
from .errors import ConsistencyError, ProtocolViolation
from .primitives import RandomSource
from .ratings_codec import Profile


class Contributor:
    """One roster member's ratings, sent as one signed pseudonymous profile.

    ``rng`` defaults to OS randomness (the pseudonym key, slots and nonces must
    never be reproducible by anyone else). ``leftover`` holds the ratings that do
    not fit in ``max_parts`` parts.
    """

    def __init__(
        self, ratings: Sequence[tuple[int, int]], params: AnonParams = AnonParams(), rng: RandomSource | None = None
    ) -> None:
        self.params, self.rng = params, rng or RandomSource()
        self.profile = Profile(ratings, self.rng, msg_bytes=params.msg_bytes, max_parts=params.max_parts)
        self.leftover = self.profile.leftover
        self.request = tokens.Request.new(self.profile.pk, self.rng)
        self.collection: bytes | None = None
        self.token: bytes | None = None
        self.messages: list[bytes] = []
        self.pending: list[bytes] = []
        self.events: list[str] = []
        self.client: Any = None  # the session's SecAggClient, set by attach()
        self._blocks: dict[int, list[int]] = {}
        self._placed: dict[int, list[tuple[int, int, bytes]]] = {}
        self._retry: dict[int, int] = {}
        self._written: dict[int, list[tuple[int, bytes, bytes]]] = {}

    def attach(self, client) -> None:
        self.client = client
        for d in (self._blocks, self._placed, self._retry, self._written):
            d.clear()

    # -- key setup hooks -----------------------------------------------------
    def advertise_ext(self) -> bytes:
        return b"" if self.token is not None else self.request.blinded

    def on_setup(self, keylist_ext: bytes, bundle_ext: bytes) -> None:
        if not tokens.valid_point(keylist_ext):
            raise ConsistencyError("the collector's token key is not a valid point")
        if self.collection is not None and keylist_ext != self.collection:
            raise ConsistencyError("the collector's token key changed within a collection")
        self.collection = keylist_ext
        if self.token is None:
            if not bundle_ext:
                raise ConsistencyError("the collector issued no token to this contributor")
            self.token = self.request.finish(keylist_ext, bundle_ext)
            self.messages = self.profile.messages(keylist_ext, self.token)
            self.pending = list(self.messages)

    # -- openings --------------------------------------------------------------
    def open_policy(self, start: E.RoundStart, result: np.ndarray, survivors: tuple[int, ...]) -> str | None:
        """The broken invariant that justifies opening this reservation, or None."""
        if start.purpose != "reserve":
            return None
        why = reservation_violation(result, len(survivors), self.params.budget)
        if why is None and any(int(result[b]) == 0 for b in self._blocks.get(start.round, ())):
            why = "a block this contributor reserved reads 0 (cancelled by a negative write)"
        if why:
            self.events.append(f"round {start.round}: {why}; opening consented")
        return why

    # -- round inputs -----------------------------------------------------------
    def sync(self) -> None:
        """Drop the pending messages that a published message-round result shows delivered,
        and check that a flag of messages left this contributor raised was not cancelled."""
        for r in list(self._retry):
            res = self.client.result(r)
            if res is not None and self._retry.pop(r) and int(res[-1]) == 0:
                self.events.append(f"round {r}: the flag of messages left reads 0 (cancelled): a contributor lied")
        sz = self.params.slot_bytes
        for r in list(self._written):
            res = self.client.result(r)
            if res is None:
                continue
            data = res.tobytes()
            for idx, content, msg in self._written.pop(r):
                if data[idx * sz : (idx + 1) * sz] == content and msg in self.pending:
                    self.pending.remove(msg)

    def _previous(self, st: E.RoundStart) -> tuple[int, np.ndarray | None]:
        (prev,) = struct.unpack(">I", st.params) if len(st.params) == 4 else (-1,)
        if prev != st.round - 1:
            raise ConsistencyError(f"round {st.round} ({st.purpose}) must build on round {st.round - 1}, not {prev}")
        return prev, self.client.result(prev)

    def input_fn(self, st: E.RoundStart) -> np.ndarray:
        self.sync()
        x = groups.zeros(st.group, st.length)
        if st.purpose == "reserve":
            if st.length < self.params.budget:
                raise ConsistencyError("reservation table smaller than the budget")
            blocks = self.rng.sample(st.length, self.params.budget)
            x[blocks] = 1
            self._blocks[st.round] = blocks
            return x
        if st.purpose == "marks":
            return self._marks(st, x)
        if st.purpose == "message":
            return self._message(st, x)
        raise ProtocolViolation("bad-format", f"unknown round purpose {st.purpose!r}")

    def _marks(self, st: E.RoundStart, x: np.ndarray) -> np.ndarray:
        rr, counts = self._previous(st)
        blocks = self._blocks.pop(rr, None)
        if st.group != MARKS_GROUP:
            raise ConsistencyError(f"a marks round must be {MARKS_GROUP}, not {st.group}")
        if counts is None or blocks is None or self.client.opened(rr):
            x[-1] = random_mark(self.rng) if self.pending else 0  # an opened reservation is never written into
            return x
        singles = np.flatnonzero(counts == 1)
        B = self.params.block
        if len(singles) * B + 1 != st.length:
            raise ConsistencyError("marks round length disagrees with the reservation result")
        todo, placed = list(self.pending), []
        for b in sorted(b for b in blocks if counts[b] == 1):
            base = int(np.searchsorted(singles, b)) * B
            for j in range(min(B, len(todo))):
                placed.append((base + j, random_mark(self.rng), todo.pop(0)))
        for pos, mark, _ in placed:
            x[pos] = mark
        x[-1] = random_mark(self.rng) if todo else 0
        self._placed[st.round], self._retry[st.round] = placed, len(todo)
        return x

    def _message(self, st: E.RoundStart, x: np.ndarray) -> np.ndarray:
        mr, marks = self._previous(st)
        placed = self._placed.pop(mr, [])
        if marks is None:
            return x
        slots = np.flatnonzero(marks[:-1] != 0)
        sz = self.params.slot_bytes
        if len(slots) * sz != st.length:
            raise ConsistencyError("message round length disagrees with the marks result")
        writes = []
        for pos, mark, msg in placed:
            if marks[pos] == 0:  # a 32-bit guess came true: the message stays pending
                self.events.append(f"round {mr}: a slot this contributor marked reads 0 (cancelled)")
                continue
            if int(marks[pos]) != mark:  # somebody else wrote there; the slot is still ours to fill
                self.events.append(f"round {mr}: a slot this contributor marked was written by another")
            idx = int(np.searchsorted(slots, pos))
            content = slot_content(st.session, st.round, idx, self.rng.bytes(16), msg)
            x[idx * sz : (idx + 1) * sz] = np.frombuffer(content, dtype=np.uint8)
            writes.append((idx, content, msg))
        self._written[st.round] = writes
        return x

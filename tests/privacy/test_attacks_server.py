"""A server that deviates from the protocol (issue 12, items 1, 2 and 8).

Each test plays the adversary through the public API: frames of its own sent to
honest clients, or a SecAggServer subclass that lies.
"""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pytest
from _anon_harness import AnonRun

from mangarec.privacy import encoding as E
from mangarec.privacy.contributor import Contributor
from mangarec.privacy.errors import ConsistencyError, ProtocolViolation, RoundAborted
from mangarec.privacy.secagg_common import Chain
from mangarec.privacy.secagg_server import SecAggServer
from mangarec.privacy.simulate import simulate_collection


def _open_all(run: AnonRun, rnd: int) -> dict[int, bytes]:
    return run.send({u: E.encode(E.OpenRequest(run.session, rnd)) for u in run.clients})


# -- item 1: openings ---------------------------------------------------------------
def test_a_finished_reservation_is_never_opened_after_its_message_round():
    run = AnonRun(8)
    run.setup()
    assert run.round() == "reserve"
    reservation = run.sv.round
    assert (run.round(), run.round()) == ("marks", "message")
    assert run.col.parts  # delivered: opening the reservation now would link them to authors
    assert _open_all(run, reservation) == {}  # not one input revealed
    assert len(run.errors) == 8
    for e in run.errors.values():
        assert isinstance(e, ProtocolViolation) and e.reason == "not-allowed"
        assert "just finished" in str(e)


def test_a_valid_reservation_just_finished_is_not_opened():
    run = AnonRun(6)
    run.setup()
    assert run.round() == "reserve"
    assert _open_all(run, run.sv.round) == {}
    assert {e.reason for e in run.errors.values()} == {"not-allowed"}
    assert all("breaks no invariant" in str(e) for e in run.errors.values())


@pytest.mark.parametrize("purpose", ["marks", "message"])
def test_content_rounds_are_never_opened(purpose):
    run = AnonRun(6)
    run.setup()
    while run.round() != purpose:
        pass
    assert _open_all(run, run.sv.round) == {}
    assert all("never opened" in str(e) for e in run.errors.values()) and len(run.errors) == 6


class OverReserver(Contributor):
    """Reserves every block of the table (breaks the reservation invariant)."""

    def input_fn(self, st):
        x = super().input_fn(st)
        if st.purpose == "reserve":
            x[:] = 1
        return x


class Recorder(Contributor):
    """An honest contributor that keeps a copy of its inputs (for the test to inspect)."""

    def input_fn(self, st):
        x = super().input_fn(st)
        self.__dict__.setdefault("inputs", {})[st.round] = x.copy()
        return x


def test_an_opened_reservation_is_never_written_into():
    n = 6
    run = AnonRun(n, contributors={0: OverReserver, **{u: Recorder for u in range(1, n)}})
    run.setup()
    assert run.round() == "reserve"
    assert run.col.phase == "reserve" and 0 not in run.sv.live  # opened, cheater expelled
    assert any("expelled [0]" in e for e in run.col.events)
    opened = run.sv.round
    # the server then pretends the opened reservation still stands and asks for marks
    counts = run.sv.result
    singles = int((counts == 1).sum())
    frames = run.sv.start_round("marks", "add32", singles * run.params.block + 1, struct.pack(">I", opened))
    run.send(frames)
    for u in range(1, n):
        x = run.contribs[u].inputs[opened + 1]
        assert not x[:-1].any()  # no slot of the opened reservation is claimed
        assert (x[-1] != 0) == bool(run.contribs[u].pending)  # everything retries (flag raised)


# -- item 2: equivocation -----------------------------------------------------------
class Equivocator(SecAggServer):
    """Shows user ``target`` the true reservation result and everyone else a fake one of
    the same length, then keeps each user's hash chain consistent with what it saw."""

    target = 0

    def finish_round(self):
        before = self.chain.head
        frames = super().finish_round()
        if self.start.purpose != "reserve" or hasattr(self, "fake_head"):
            return frames
        # the same counters in another order: plausible, and the same number of singles,
        # so the next round has one length for everyone
        fake = np.random.default_rng(1).permutation(self.result)
        fake_bytes = fake.tobytes()
        alt = Chain(self.session, b"")
        alt.head = before
        self.fake_head = alt.extend(self.start, self.U3, fake_bytes)
        f = E.encode(E.RoundResult(self.session, self.round, fake_bytes))
        return {u: (v if u == self.target else f) for u, v in frames.items()}

    def start_round(self, *a, **k):
        frames = super().start_round(*a, **k)
        if not hasattr(self, "fake_head") or getattr(self, "sent_fake", False):
            return frames
        self.sent_fake = True
        other = E.encode(dataclasses.replace(self.start, prev=self.fake_head))
        return {u: (v if u == self.target else other) for u, v in frames.items()}

    def _check(self, m):
        if not isinstance(m, E.ConsistencySig):  # a lying server takes any signature
            super()._check(m)


def test_equivocated_result_aborts_the_next_round():
    run = AnonRun(7, server=Equivocator)
    run.setup()
    assert run.round() == "reserve"
    with pytest.raises(RoundAborted):
        run.round()  # the marks round: everyone signed its own view
    assert len(run.errors) == 7
    assert all(isinstance(e, ConsistencyError) for e in run.errors.values())
    assert not run.col.parts  # nothing read, no marks of the target linked


class SigDroppingEquivocator(Equivocator):
    """Keeps the target in the survivor set but hides its (mismatching) signature from the
    others, hoping t matching signatures are enough for them."""

    def unmask_request(self):
        frames = super().unmask_request()
        if self.phase != "unmask" or self.start.purpose != "marks":
            return frames
        sigs = {u: s for u, s in self.request.sigs.items() if u != self.target}
        other = E.encode(dataclasses.replace(self.request, sigs=sigs))
        return {u: (f if u == self.target else other) for u, f in frames.items()}


def test_equivocation_with_the_target_signature_hidden_still_aborts():
    run = AnonRun(7, server=SigDroppingEquivocator)
    run.setup()
    run.round()
    with pytest.raises(RoundAborted):
        run.round()
    assert Equivocator.target in run.sv.U3 and not run.col.parts
    for u in range(1, 7):
        assert "every survivor" in str(run.errors[u])


class SilentEquivocator(Equivocator):
    """Same, but hides the target's consistency signature instead of showing it."""

    def unmask_request(self):
        self.inbox.pop(self.target, None)
        return super().unmask_request()


def test_equivocation_with_the_target_left_out_excludes_its_upload():
    run = AnonRun(7, server=SilentEquivocator)
    run.setup()
    run.round()
    assert run.round() == "marks"
    assert Equivocator.target not in run.sv.U3  # its marks are not in the sum
    assert not run.errors


class SameChainEquivocator(Equivocator):
    """Equivocates but sends everyone the same chain head afterwards."""

    def start_round(self, *a, **k):
        return SecAggServer.start_round(self, *a, **k)


def test_equivocation_with_one_chain_head_is_caught_at_the_round_start():
    run = AnonRun(7, server=SameChainEquivocator)
    run.setup()
    run.round()
    with pytest.raises(RoundAborted):
        run.round()
    assert set(run.errors) == set(range(1, 7))  # the users shown the fake result
    assert all("hash chain" in str(e) for e in run.errors.values())


# -- item 8: simulate's pseudonyms ------------------------------------------------------
def test_simulate_pseudonyms_do_not_derive_from_the_seed():
    users = {f"u{k}": [(k * 10 + i, 1 + i % 9) for i in range(2 + k % 5)] for k in range(9)}
    a = simulate_collection(users, cohort=9, seed=0)
    b = simulate_collection(users, cohort=9, seed=0)

    def lists(res):
        by = {}
        for p, i, r in res.rows:
            by.setdefault(p, []).append((i, r))
        return by

    la, lb = lists(a), lists(b)
    assert sorted(la.values()) == sorted(lb.values()) == sorted(sorted(v) for v in users.values())
    assert not set(la) & set(lb)  # same seed, fresh pseudonyms: nothing to recompute

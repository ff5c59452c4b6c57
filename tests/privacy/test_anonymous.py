"""Anonymous channel: exact delivery, dropouts, jamming, collisions, no plaintext."""

from __future__ import annotations

from collections import Counter

import numpy as np
from _anon_harness import profiles_of, ratings_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mangarec.privacy.anonymous import AnonParams, parse_slots, reservation_violation, slot_content
from mangarec.privacy.collector import Collector
from mangarec.privacy.contributor import Contributor
from mangarec.privacy.simulate import Cohort

STAGES = [(-1, "advertise"), (-1, "share"), (-1, "ack")] + [
    (r, s) for r in range(4) for s in ("input", "consistency", "unmask")
]


def make(n: int, params=AnonParams(), sizes=None, cls=None):
    ratings = {u: ratings_of(u, None if sizes is None else sizes[u]) for u in range(n)}
    contribs = {u: (cls or {}).get(u, Contributor)(ratings[u], params) for u in range(n)}
    return contribs, ratings


def got(rep) -> Counter:
    return Counter(tuple(v) for v in rep.profiles.values())


def test_all_profiles_delivered_exactly_once():
    contribs, ratings = make(12)
    rep = Cohort(contribs).run()
    assert got(rep) == profiles_of(ratings)
    assert rep.anonymity_set == 12 and rep.sessions == 1 and not rep.events


def test_collisions_are_detected_and_retried():
    # a reservation table as large as the budget forces collisions at every attempt, and
    # each user needs all its 4 blocks (8 messages of 40 ratings, 2 per block)
    params = AnonParams(max_parts=8, block=2, budget=4, load=1, max_attempts=30)
    contribs, ratings = make(6, params, sizes=[320] * 6)
    rep = Cohort(contribs, params=params).run()
    assert got(rep) == profiles_of(ratings)
    assert rep.rounds >= 9 and rep.sessions == 1


def test_heavy_contributor_needs_several_blocks():
    params = AnonParams()
    contribs, ratings = make(5, params, sizes=[2000, 3, 40, 0, 81])
    rep = Cohort(contribs, params=params).run()
    assert got(rep) == profiles_of(ratings)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_dropouts_at_any_point_deliver_exactly_the_survivors_profiles(data):
    n = data.draw(st.integers(4, 8))
    contribs, ratings = make(n)
    k = data.draw(st.integers(0, (n - 1) // 2))
    who = data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k, unique=True))
    crashes = {u: (0,) + data.draw(st.sampled_from(STAGES)) for u in who}
    rep = Cohort(contribs, crashes=crashes).run()
    everything = {m for ms in ratings.values() for m in ms}
    delivered = [r for lst in rep.profiles.values() for r in lst]
    assert len(delivered) == len(set(delivered)) and set(delivered) <= everything
    for u in range(n):
        mine = set(ratings[u])
        if u not in crashes:  # every rating of a user who stayed arrives, in one profile
            assert sorted(mine) in rep.profiles.values()
        if u in crashes and crashes[u][1] == -1:  # crashed during key setup: nothing of it
            assert not mine & set(delivered)


class Jammer(Contributor):
    """XORs noise over the whole message vector of its first message round."""

    jammed = False

    def input_fn(self, st):
        x = super().input_fn(st)
        if st.purpose == "message" and not self.jammed:
            self.jammed = True
            x ^= np.frombuffer(self.rng.bytes(st.length), dtype=np.uint8)
        return x


def test_user_jamming_every_message_slot_is_detected_and_honest_profiles_recovered():
    contribs, ratings = make(8, cls={2: Jammer})
    rep = Cohort(contribs).run()
    assert any("corrupted" in e for e in rep.events)
    assert got(rep) == profiles_of(ratings)  # the jammer's own too, on the retry
    assert rep.rounds >= 6


def test_transcript_contains_no_plaintext_message():
    contribs, ratings = make(6)
    rep = Cohort(contribs, keep_transcript=True).run()
    blob = b"".join(f for tr in rep.transcripts for f in tr)
    assert got(rep) == profiles_of(ratings)  # delivered ...
    for c in contribs.values():
        for m in c.messages:
            assert m[:40] not in blob and m[-64:] not in blob  # ... but never seen in an upload


def test_parse_slots_rejects_slots_from_another_session():
    p = AnonParams()
    m = bytes(range(256))[: p.msg_bytes]
    nonce = b"n" * 16
    slot = slot_content(b"A" * 16, 3, 0, nonce, m)
    assert parse_slots(b"A" * 16, 3, slot, p)[0] == [m]
    assert parse_slots(b"B" * 16, 3, slot, p)[0] == []
    assert parse_slots(b"A" * 16, 4, slot, p)[1] == 1


def test_reservation_invariants_both_ways():
    budget, n = 4, 5
    ok = np.zeros(640, dtype=np.uint8)
    ok[np.arange(0, 40, 2)] = 1
    assert reservation_violation(ok, n, budget) is None
    extra = ok.copy()
    extra[1] = 1  # one more block than the budget allows
    assert "expected" in reservation_violation(extra, n, budget)
    wrapped = ok.copy()
    wrapped[0], wrapped[1], wrapped[3] = 0, 255, 2  # -1 on an empty block, sum kept
    wrapped[5] = 1
    assert "negative write" in reservation_violation(wrapped, n, budget)


def test_collector_opens_a_reservation_that_breaks_an_invariant():
    col = Collector(AnonParams())
    res = np.zeros(col.params.load * col.params.budget * 5, dtype=np.uint8)
    res[:21] = 1  # 21 blocks for 5 survivors x 4
    assert col.on_result("reserve", 0, res, 5, b"s" * 16) == "open"
    res[20] = 0
    assert col.on_result("reserve", 1, res, 5, b"s" * 16) == "ok"


def test_round_that_cannot_be_unmasked_restarts_in_a_fresh_session():
    """User 0 drops before uploading in round 1 (its b was revealed in round 0, so its s
    may not be), user 1 after uploading: the pair seed (1, 0) is gone, the round aborts
    cleanly and a new session with fresh keys delivers everyone else's profile."""
    contribs, ratings = make(7)
    rep = Cohort(contribs, crashes={0: (0, 1, "input"), 1: (0, 1, "unmask")}).run()
    assert rep.sessions == 2 and any("aborted" in e for e in rep.events)
    for u in range(2, 7):
        assert sorted(ratings[u]) in rep.profiles.values()

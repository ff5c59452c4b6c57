"""Malicious contributors (issue 12, items 3 to 6): each attack is refused or detected
with a reason, and the honest contributors' profiles are still delivered where the
protocol allows (exactly, otherwise)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _anon_harness import AnonRun, profiles_of, ratings_of
from _secagg_harness import Harness, random_inputs

from mangarec.privacy import encoding as E
from mangarec.privacy import shamir, vss
from mangarec.privacy.anonymous import AnonParams
from mangarec.privacy.collector import Collector
from mangarec.privacy.contributor import Contributor
from mangarec.privacy.errors import RoundAborted
from mangarec.privacy.primitives import RandomSource, sign
from mangarec.privacy.ratings_codec import HEADER, Profile, pseudonym_of
from mangarec.privacy.secagg_client import SecAggClient
from mangarec.privacy.secagg_common import advertise_payload
from mangarec.privacy.simulate import Cohort
from mangarec.privacy.tokens import Request


def _honest_exact(run: AnonRun, bad) -> None:
    honest = {u: r for u, r in run.ratings.items() if u not in bad}
    got = run.delivered()
    assert all(got[k] == c for k, c in profiles_of(honest).items()), run.col.events


# -- item 3: ballot stuffing ---------------------------------------------------------
class Stuffer(Contributor):
    """Reserves 600 blocks instead of its budget (it "declares" 600 messages)."""

    def input_fn(self, st):
        x = super().input_fn(st)
        if st.purpose == "reserve":
            free = np.flatnonzero(x == 0)
            x[free[:600]] = 1
        return x


def test_reserving_beyond_the_budget_is_caught_and_expelled():
    run = AnonRun(8, contributors={5: Stuffer})
    run.run()
    assert 5 not in run.sv.live
    assert any("reservation invariant broken" in e for e in run.col.events)
    assert any("expelled [5]" in e for e in run.col.events)
    _honest_exact(run, {5})
    assert sum(1 for e in run.col.events if "opened" in e) == 1  # one opening, not 32


class ProfileStuffer(Contributor):
    """Sends its 64 slots worth of one-rating profiles under 63 fresh keys of its own, and
    one real profile claiming 600 parts."""

    def on_setup(self, keylist_ext, bundle_ext):
        super().on_setup(keylist_ext, bundle_ext)
        fakes = []
        for k in range(63):
            p = Profile([(900_000 + k, 5)], RandomSource())
            fakes += p.messages(keylist_ext, self.token)  # the token is for another key
        own = self.profile
        body = HEADER.pack(2, own.pk, self.token, 0, 600, 1) + ((123 << 4) | 7).to_bytes(3, "big")
        body = body.ljust(own.msg_bytes - 64, b"\0")
        from mangarec.privacy.primitives import frame

        fakes.append(body + own._key.sign(frame(b"part", keylist_ext, body)))
        self.pending = fakes


def test_one_contributor_gets_at_most_one_profile():
    run = AnonRun(6, contributors={2: ProfileStuffer})
    run.run()
    _honest_exact(run, {2})
    assert len(run.col.profiles()) == 5  # the five honest ones, nothing of the stuffer
    assert sum("token was not issued" in e for e in run.col.events) == 63
    assert any("at most 64 parts, it claims 600" in e for e in run.col.events)


def test_a_second_token_is_refused():
    col = Collector(AnonParams())
    r1, r2 = Request.new(b"\1" * 32, RandomSource()), Request.new(b"\2" * 32, RandomSource())
    assert col.bundle_ext(3, r1.blinded)
    assert col.bundle_ext(3, r2.blinded) == b""  # same roster member, later session
    assert any("second token" in e for e in col.events)
    assert col.bundle_ext(4, b"\0" * 32) == b"" and any("refused" in e for e in col.events)


# -- item 4: forged and conflicting parts -------------------------------------------------
class Forger(Contributor):
    """Copies a victim's pseudonym and token from a published message round and injects
    a part of two ratings under it (it cannot sign it); lies about messages left so that
    there is a second attempt to write it in."""

    forged = False

    def input_fn(self, st):
        x = super().input_fn(st)
        if st.purpose == "marks" and not self.forged:
            x[-1] += 1
        return x

    def sync(self):
        super().sync()
        if self.forged or self.client is None:
            return
        for r in sorted(self.client.rounds):
            rd = self.client.rounds[r]
            if rd.start.purpose == "message" and rd.result is not None:
                data = rd.result.tobytes()
                msg = data[: self.params.msg_bytes]
                _, pk, token, _, _, _ = HEADER.unpack_from(msg)
                if pk == self.profile.pk:
                    msg = data[self.params.slot_bytes : self.params.slot_bytes + self.params.msg_bytes]
                    _, pk, token, _, _, _ = HEADER.unpack_from(msg)
                body = (
                    HEADER.pack(2, pk, token, 5, 6, 2)
                    + ((777 << 4) | 9).to_bytes(3, "big")
                    + ((778 << 4) | 9).to_bytes(3, "big")
                )
                body = body.ljust(self.params.msg_bytes - 64, b"\0")
                self.victim = pseudonym_of(pk)
                self.pending = [body + bytes(64)]
                self.forged = True
                return


def test_a_part_forged_under_another_pseudonym_is_dropped():
    run = AnonRun(6, contributors={4: Forger})
    run.run()
    assert run.contribs[4].forged
    assert any("not signed by its pseudonym key" in e for e in run.col.events)
    _honest_exact(run, set())  # the victim's profile is exactly its own
    victim = run.col.profiles()[run.contribs[4].victim]
    assert (777, 9) not in victim


class Conflicter(Contributor):
    """Sends two different, validly signed versions of its own part 0."""

    def on_setup(self, keylist_ext, bundle_ext):
        super().on_setup(keylist_ext, bundle_ext)
        alt = Profile([(424242, 3)], RandomSource())
        alt._key, alt.pk = self.profile._key, self.profile.pk
        self.pending.append(alt.messages(keylist_ext, self.token)[0])


def test_conflicting_parts_drop_that_profile_and_nothing_else():
    run = AnonRun(6, contributors={1: Conflicter})
    run.run()
    assert run.contribs[1].profile.pseudonym not in run.col.profiles()
    assert any("conflicting copies" in e for e in run.col.events)
    _honest_exact(run, {1})
    assert len(run.col.profiles()) == 5


# -- item 5: lies in the aggregate counts -----------------------------------------------------
class NegativeWriter(Contributor):
    """Writes -1 at one block besides its budget (a count that wraps)."""

    def input_fn(self, st):
        x = super().input_fn(st)
        if st.purpose == "reserve":
            x[np.flatnonzero(x == 0)[0]] = np.iinfo(x.dtype).max  # -1 mod 2^k
        return x


def test_a_negative_write_is_caught_once_and_the_liar_expelled():
    run = AnonRun(7, contributors={3: NegativeWriter})
    run.run()
    # the -1 lands on a free block (a count that wraps: "negative write") or, about one run in
    # thirty, on a block an honest user reserved, cancelling it (one reservation short): either
    # way the round is opened once and the liar alone expelled
    assert any("negative write" in e or "reservation invariant broken (27 blocks" in e for e in run.col.events)
    assert any("expelled [3]" in e for e in run.col.events)
    assert sum("opened" in e for e in run.col.events) == 1
    _honest_exact(run, {3})


def test_a_cancelled_block_is_grounds_for_its_owner_only():
    c = Contributor(ratings_of(1))
    c._blocks[4] = [3, 8]
    st = E.RoundStart(b"s" * 16, 4, "reserve", "add8", 20, (0, 1, 2))
    res = np.zeros(20, dtype=np.uint8)
    res[[1, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]] = 1  # 12 = 4 x 3, block 3 reads 0
    assert "cancelled" in c.open_policy(st, res, (0, 1, 2))
    other = Contributor(ratings_of(2))
    other._blocks[4] = [5, 9]
    assert other.open_policy(st, res, (0, 1, 2)) is None


class Understater(Contributor):
    """Subtracts, in every marks round, the others' number of messages left (as if it knew
    them) from the flag of messages left, so that the collector would stop early. Flags are
    random non-zero words: the subtraction does not cancel them."""

    others: list = []

    def input_fn(self, st):
        x = super().input_fn(st)
        if st.purpose == "marks":
            left = sum(o._retry.get(st.round, 0) for o in self.others)
            x[-1] = (int(x[-1]) - left) % (1 << 32)
        return x


class Leaky(Contributor):
    """An honest contributor whose flags of messages left leak to the test's adversary."""

    flags: dict = {}

    def input_fn(self, st):
        x = super().input_fn(st)
        if st.purpose == "marks":
            Leaky.flags[st.round] = Leaky.flags.get(st.round, 0) + int(x[-1])
        return x


class FlagCanceller(Understater):
    """The impossible adversary: it reads the others' flags (a 32-bit secret each) and
    cancels their sum. The collector stops early; the owners see their flag read 0."""

    def input_fn(self, st):
        x = Contributor.input_fn(self, st)
        if st.purpose == "marks":
            x[-1] = -Leaky.flags.get(st.round, 0) % (1 << 32)
        return x


def _many_parts_run(adversary: type) -> AnonRun:
    params = AnonParams(max_parts=8, block=2, budget=4, load=1, max_attempts=30)
    kinds = {u: Leaky for u in range(5)} | {5: adversary}
    Leaky.flags = {}
    run = AnonRun(6, params=params, contributors=kinds, ratings={u: ratings_of(u, 320) for u in range(6)})
    adversary.others = [run.contribs[u] for u in range(5)]
    run.run()
    return run


def test_understated_messages_left_change_nothing():
    run = _many_parts_run(Understater)
    assert run.col.done and not any(c.pending for c in run.contribs.values())
    _honest_exact(run, {5})


def test_a_cancelled_flag_of_messages_left_fails_loudly():
    run = _many_parts_run(FlagCanceller)
    assert run.col.done  # the collector believed nothing was left ...
    left = [u for u in range(5) if run.contribs[u].pending]
    assert left  # ... but honest messages were, and their owners say so
    for u in left:
        assert any("flag of messages left reads 0" in e for e in run.contribs[u].events)


class Inflater(Contributor):
    def input_fn(self, st):
        x = super().input_fn(st)
        if st.purpose == "marks":
            x[-1] += 600
        return x


def test_an_inflated_flag_of_messages_left_is_bounded():
    contribs = {u: (Inflater if u == 2 else Contributor)(ratings_of(u)) for u in range(6)}
    rep = Cohort(contribs, max_sessions=2).run()
    assert any("gave up" in e for e in rep.events)
    assert rep.sessions == 2 and rep.rounds <= 2 * AnonParams().rounds
    assert Counter_of(rep) == profiles_of({u: ratings_of(u) for u in range(6)})


def Counter_of(rep):
    from collections import Counter

    return Counter(tuple(v) for v in rep.profiles.values())


def test_a_total_of_zero_is_an_event():
    rep = Cohort({u: Contributor([]) for u in range(5)}).run()
    assert rep.profiles == {}
    assert any("nothing to collect" in e for e in rep.events)


# -- item 6: robust key setup -------------------------------------------------------------
class GarbageDealer(SecAggClient):
    def _on_KeyList(self, m):
        sk = super()._on_KeyList(m)
        junk = {v: RandomSource().bytes(len(c)) for v, c in sk.cts.items()}
        return dataclasses.replace(sk, cts=junk)


def test_a_dealer_whose_ciphertexts_fail_is_dropped_and_the_cohort_goes_on():
    run = AnonRun(7, clients={3: GarbageDealer})
    run.run()
    assert 3 not in run.sv.live and not run.errors
    assert any("user 3 dropped: its shares failed for 6 holders" in e for e in run.col.events + run.sv.events)
    _honest_exact(run, {3})


class SmallOrderKey(SecAggClient):
    def start(self):
        super().start()
        self.c_pk = bytes(32)  # the point of order 1 (u = 0): every shared key would be 0
        sig = sign(self._id_key, advertise_payload(self.session, self.uid, self.c_pk, self.s_pk, self.ext))
        return E.encode(E.Advertise(self.session, self.uid, self.c_pk, self.s_pk, self.ext, sig))


def test_a_small_order_key_is_refused_at_advertise_keys():
    run = AnonRun(6, clients={2: SmallOrderKey})
    run.run()
    assert (2, "bad-key") in run.refused
    assert 2 not in run.sv.adverts and not run.errors
    _honest_exact(run, {2})


def _tamper(shares: dict, owner: int) -> dict:
    out = dict(shares)
    s = bytearray(out[owner])
    s[3] ^= 1
    out[owner] = bytes(s)
    return out


class WrongShares(SecAggClient):
    """Answers the unmask request with one wrong share (of ``attr`` of user ``owner``)."""

    attr, owner = "b_shares", 0

    def _on_UnmaskRequest(self, m):
        r = super()._on_UnmaskRequest(m)
        return dataclasses.replace(r, **{self.attr: _tamper(getattr(r, self.attr), self.owner)})


@pytest.mark.parametrize("attr,owner", [("b_shares", 0), ("s_shares", 5)])
def test_a_wrong_share_is_detected_its_holder_blamed_and_the_sum_exact(attr, owner):
    cls = type("W", (WrongShares,), {"attr": attr, "owner": owner})
    h = Harness(6, 4, length=32, client_cls={1: cls})
    h.setup()
    inputs = random_inputs(h, 3)
    res = h.round(inputs, {"input": {5}})  # user 5 drops: its s is reconstructed
    want = sum(inputs[u].astype(np.int64) for u in range(5)) % (1 << 16)
    assert np.array_equal(res, want.astype(np.uint16))
    assert set(h.server.blamed) == {1} and "does not open its commitment" in h.server.blamed[1]
    assert 1 not in h.server.live  # left out of later rounds


class InconsistentDealer(SecAggClient):
    """Deals shares of its round-0 self-mask secret that lie on no single polynomial,
    committing to them as dealt (so every holder accepts its own share)."""

    def _deal(self, secrets):
        d = super()._deal(secrets)
        blobs = dict(d.blobs)
        v = min(blobs)
        sb = bytearray(blobs[v])
        sb[shamir.SHARE_BYTES + 2] ^= 1  # share index 1 = b_(u,0)
        blobs[v] = bytes(sb)
        comm = dict(d.commitments)
        comm[v] = vss.commitments_of(self.session, self.uid, v, blobs[v])
        return vss.Dealing(blobs, comm)


def test_a_dealer_of_inconsistent_shares_is_blamed_never_a_wrong_sum():
    h = Harness(6, 4, length=32, client_cls={2: InconsistentDealer})
    h.setup()
    with pytest.raises(RoundAborted) as e:
        h.round(random_inputs(h, 4))
    assert e.value.culprits == {2} and not hasattr(h.server, "result")


def test_an_inconsistent_dealer_is_expelled_and_the_next_session_delivers():
    contribs = {u: Contributor(ratings_of(u)) for u in range(6)}

    def factory(u, *a, **k):
        return (InconsistentDealer if u == 4 else SecAggClient)(u, *a, **k)

    rep = Cohort(contribs, client_factory=factory).run()
    assert 4 in rep.expelled and rep.sessions == 2
    assert any("do not reconstruct their committed secret" in e for e in rep.events)
    assert Counter_of(rep) == profiles_of({u: ratings_of(u) for u in range(6) if u != 4})


# -- issue 19: erasing the marks round ---------------------------------------------------
class Eraser(Contributor):
    """Adds −1 at every entry of every marks round (the owners' marks and the flag)."""

    def input_fn(self, st):
        x = super().input_fn(st)
        if st.purpose == "marks":
            x -= x.dtype.type(1)  # wraps: −1 in the group
        return x


class BlockEraser(Contributor):
    """Adds −1 at the first slot of each block: truncates every multi-part profile."""

    def input_fn(self, st):
        x = super().input_fn(st)
        if st.purpose == "marks":
            x[: len(x) - 1 : self.params.block] -= x.dtype.type(1)
        return x


@pytest.mark.parametrize("eraser", [Eraser, BlockEraser])
def test_erasing_marks_censors_and_truncates_nothing(eraser):
    ratings = {u: ratings_of(u, 30 + 25 * u) for u in range(12)}  # 1 to 8 parts each
    run = AnonRun(12, contributors={11: eraser}, ratings=ratings)
    run.run()
    _honest_exact(run, {11})
    honest = profiles_of({u: r for u, r in ratings.items() if u != 11})
    published = run.delivered()
    assert all(p in honest or p == tuple(sorted(ratings[11])) for p in published), "a partial profile was published"
    assert not any(run.contribs[u].pending for u in range(11))


def test_a_profile_missing_a_part_is_withheld_never_published_truncated():
    from mangarec.privacy.ratings_codec import Part, assemble

    pk, other = b"\1" * 32, b"\2" * 32
    parts = [Part(pk, b"t" * 32, 0, 3, ((1, 5),)), Part(pk, b"t" * 32, 2, 3, ((9, 7),))]
    parts.append(Part(other, b"u" * 32, 0, 1, ((4, 4),)))
    out, events = assemble(parts)
    assert out == {pseudonym_of(other): [(4, 4)]}
    assert any("withheld: 2 of its 3 parts" in e for e in events)
    out, events = assemble([*parts, Part(pk, b"t" * 32, 1, 2, ((3, 3),))])  # disagrees on the count
    assert pseudonym_of(pk) not in out and any("conflicting" in e for e in events)


def test_a_marks_round_in_a_small_group_is_refused():
    """A server that plans the marks in Z_2^8 would make a cancelling guess likely."""
    from mangarec.privacy.errors import ConsistencyError

    c = Contributor(ratings_of(1))
    c.attach(type("Client", (), {"result": lambda self, r: None, "opened": lambda self, r: False})())
    st = E.RoundStart(b"s" * 16, 1, "marks", "add8", 33, (0, 1, 2), params=(0).to_bytes(4, "big"))
    with pytest.raises(ConsistencyError, match="add32"):
        c.input_fn(st)

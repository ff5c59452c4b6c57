from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec.privacy.errors import ParameterError
from mangarec.privacy.primitives import RandomSource
from mangarec.privacy.ratings_codec import HEADER, MAX_ITEM, Profile, assemble, capacity, decode_message

K = b"K" * 32  # a collection key (only its bytes matter to the signature)
T = b"T" * 32


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.integers(0, MAX_ITEM), st.integers(0, 15), max_size=300))
def test_roundtrip(ratings):
    p = Profile(list(ratings.items()), RandomSource())
    msgs = p.messages(K, T)
    assert not p.leftover and all(len(m) == 256 for m in msgs)
    assert len(msgs) == -(-len(ratings) // capacity())
    parts = [decode_message(m, K) for m in msgs]
    got, events = assemble(parts)
    assert not events
    assert got == ({p.pseudonym: sorted(ratings.items())} if ratings else {})


def test_limits_and_leftover():
    assert capacity(256) == 40
    r = [(i, 5) for i in range(40 * 3 + 1)]
    p = Profile(r, RandomSource(), max_parts=3)
    assert len(p.messages(K, T)) == 3 and p.leftover == [(40 * 3, 5)]
    for bad in ([(MAX_ITEM + 1, 1)], [(1, 16)], [(-1, 3)]):
        with pytest.raises(ParameterError):
            Profile(bad, RandomSource())
    with pytest.raises(ParameterError):
        capacity(134)


def test_layout_is_independent_of_input_order():
    a = Profile([(5, 1), (2, 3), (9, 9)], RandomSource())
    b = Profile([(9, 9), (5, 1), (2, 3)], RandomSource())
    assert a.chunks == b.chunks


def test_parts_are_bound_to_their_key_and_collection():
    p = Profile([(1, 2)], RandomSource())
    (m,) = p.messages(K, T)
    assert decode_message(m, K).ratings == ((1, 2),)
    with pytest.raises(ParameterError, match="not signed"):
        decode_message(m, b"L" * 32)  # replayed into another collection
    forged = bytearray(m)
    forged[HEADER.size] ^= 1  # change the rating, keep the signature
    with pytest.raises(ParameterError, match="not signed"):
        decode_message(bytes(forged), K)
    for bad in (m[:5], b"\1" + m[1:], m[:-70] + b"\1" + m[-69:]):
        with pytest.raises(ParameterError):
            decode_message(bad, K)


def test_conflicting_parts_drop_the_profile_not_the_collection():
    p, q = Profile([(1, 2)], RandomSource()), Profile([(7, 7)], RandomSource())
    alt = Profile([(1, 3)], RandomSource())
    alt._key, alt.pk = p._key, p.pk
    parts = [decode_message(m, K) for m in p.messages(K, T) + q.messages(K, T) + alt.messages(K, T)]
    got, events = assemble(parts + parts[:1])  # an identical copy is merged, not a conflict
    assert got == {q.pseudonym: [(7, 7)]}
    assert len(events) == 1 and p.pseudonym.hex() in events[0]

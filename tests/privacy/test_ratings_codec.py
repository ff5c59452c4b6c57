from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from mangarec.privacy.errors import ParameterError
from mangarec.privacy.ratings_codec import (MAX_ITEM, assemble, capacity, decode_message,
                                            encode_user)


@given(st.dictionaries(st.integers(0, MAX_ITEM), st.integers(0, 15), max_size=300),
       st.binary(min_size=8, max_size=8))
def test_roundtrip(ratings, pseud):
    msgs, left = encode_user(list(ratings.items()), pseud)
    assert not left
    assert all(len(m) == 128 for m in msgs)
    assert len(msgs) == max(1, -(-len(ratings) // capacity()))
    assert assemble(msgs) == {pseud: sorted(ratings.items())}


def test_limits_and_leftover():
    assert capacity(128) == 38
    r = [(i, 5) for i in range(38 * 3 + 1)]
    msgs, left = encode_user(r, b"p" * 8, max_parts=3)
    assert len(msgs) == 3 and left == [(38 * 3, 5)]
    for bad in ([(MAX_ITEM + 1, 1)], [(1, 16)], [(-1, 3)]):
        with pytest.raises(ParameterError):
            encode_user(bad, b"p" * 8)
    with pytest.raises(ParameterError):
        capacity(14)


def test_layout_is_independent_of_input_order():
    a, _ = encode_user([(5, 1), (2, 3), (9, 9)], b"q" * 8)
    b, _ = encode_user([(9, 9), (5, 1), (2, 3)], b"q" * 8)
    assert a == b


def test_malformed_messages_rejected():
    m, _ = encode_user([(1, 2)], b"q" * 8)
    for bad in (m[0][:5], b"\2" + m[0][1:], m[0][:-1] + b"\1"):
        with pytest.raises(ParameterError):
            decode_message(bad)
    other, _ = encode_user([(1, 3)], b"q" * 8)
    with pytest.raises(ParameterError):
        assemble([m[0], other[0]])
    assert assemble([m[0], m[0]]) == {b"q" * 8: [(1, 2)]}

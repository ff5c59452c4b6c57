from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mangarec.privacy import shamir
from mangarec.privacy.errors import ParameterError
from mangarec.privacy.primitives import RandomSource


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), data=st.data())
def test_any_t_shares_reconstruct(n, data):
    t = data.draw(st.integers(n // 2 + 1, n))
    holders = sorted(data.draw(st.sets(st.integers(0, shamir.MAX_USERS - 1), min_size=n, max_size=n)))
    secrets = [os.urandom(32) for _ in range(3)]
    sh = shamir.share(secrets, holders, t, RandomSource())
    subset = data.draw(st.lists(st.sampled_from(holders), min_size=t, max_size=n, unique=True))
    got = shamir.reconstruct_many({h: shamir.split_blob(sh[h]) for h in subset}, t)
    assert got == secrets


def test_fewer_than_t_shares_fail_or_mislead():
    secrets = [bytes(range(32))]
    sh = shamir.share(secrets, list(range(7)), 4, RandomSource(b"\1" * 32))
    with pytest.raises(ValueError):
        shamir.reconstruct_many({h: shamir.split_blob(sh[h]) for h in range(3)}, 4)
    # interpolating t-1 shares as if t-1 were the threshold does not give the secret
    try:
        wrong = shamir.reconstruct_many({h: shamir.split_blob(sh[h]) for h in range(3)}, 3)
        assert wrong != secrets
    except ValueError:
        pass  # out-of-range chunk: also not the secret


def test_user_limit_enforced_no_wraparound():
    with pytest.raises(ParameterError):
        shamir.share([bytes(32)], [0, shamir.MAX_USERS], 2, RandomSource())
    with pytest.raises(ParameterError):
        shamir.share([bytes(32)], [1, 1, 2], 2, RandomSource())
    big = list(range(300))  # more than GF(256) could hold
    sh = shamir.share([b"\xff" * 32], big, 151, RandomSource())
    assert shamir.reconstruct_many({h: shamir.split_blob(sh[h]) for h in big[-151:]}, 151) == [b"\xff" * 32]


def test_shares_are_field_elements_of_the_stated_size():
    sh = shamir.share([bytes(32)] * 2, [0, 1, 2], 2, RandomSource())
    assert all(len(b) == 2 * shamir.SHARE_BYTES for b in sh.values())
    assert shamir.P == 2**31 - 1

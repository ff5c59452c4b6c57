from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mangarec.privacy import encoding as E
from mangarec.privacy.errors import ProtocolViolation

S = b"s" * 16
ids = st.lists(st.integers(0, 2**32 - 1), unique=True, max_size=8).map(lambda x: tuple(sorted(x)))
maps = st.dictionaries(st.integers(0, 2**32 - 1), st.binary(max_size=40), max_size=6)


@given(r=st.integers(0, 2**32 - 1), a=ids, b=ids, m=maps, v=st.binary(max_size=100))
def test_roundtrip_every_kind(r, a, b, m, v):
    for msg in (
        E.Advertise(S, r, v, v, v, v),
        E.KeyList(S, m, v),
        E.ShareKeys(S, r, m, m, v),
        E.ShareBundle(S, r, m, v),
        E.ShareAck(S, r, m),
        E.RoundStart(S, r, "reserve", "add16", r, a, v, v),
        E.MaskedInput(S, r, r, v),
        E.SurvivorSet(S, r, a),
        E.ConsistencySig(S, r, r, v),
        E.UnmaskRequest(S, r, m, a, b, a),
        E.UnmaskResponse(S, r, r, m, m, m),
        E.RoundResult(S, r, v),
        E.OpenRequest(S, r),
        E.OpenResponse(S, r, r, v, v, m),
        E.Abort(S, r, "x"),
    ):
        assert E.decode(E.encode(msg)) == msg


def test_strict_decoding():
    good = E.encode(E.SurvivorSet(S, 1, (1, 2, 3)))
    cases = {
        "bad-format": [good + b"\0", good[:-1], b"XXXX" + good[4:], good[:5] + b"\x63" + good[6:]],
        "bad-version": [good[:4] + b"\1" + good[5:], good[:4] + b"\3" + good[5:]],
    }
    unsorted = bytearray(good)
    unsorted[-8:] = (3).to_bytes(4, "big") + (2).to_bytes(4, "big")
    cases["bad-format"].append(bytes(unsorted))
    for reason, frames in cases.items():
        for f in frames:
            with pytest.raises(ProtocolViolation) as e:
                E.decode(f)
            assert e.value.reason == reason


def test_version_and_magic_are_in_every_frame():
    f = E.encode(E.OpenRequest(S, 7))
    assert f[:4] == b"MRPV" and f[4] == E.VERSION and f[5] == E.OpenRequest.KIND

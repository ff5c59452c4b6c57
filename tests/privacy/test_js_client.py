"""Cross-language known answers: the browser's client (site_src/static/js/privacy/) against
the Python protocol, both ways, in Node (v20, on the machine and in CI; no npm install: the
vendored libsodium is the one the site ships).

* Python produces, JS verifies: every derived key and seed (agree, PRG seeds, KDF, the seeded
  RandomSource), every hash (share and secret commitments, slot tags, pseudonyms, the hash chain,
  RoundStart digests, token hash to the group), every signed payload, the token protocol against
  a Python issuer, every message kind decoded and re-encoded byte for byte, and malformed frames
  refused with Python's reason.
* JS produces, Python verifies: signatures, sealed shares, X25519 agreement, Shamir shares
  (reconstructed by Python), share commitments, signed profile parts, blinded token elements,
  and a frame of every kind.
* A whole session: a JS client seeded like a Python client and fed the frames a Python server
  sent that Python client answers with the same bytes at every step (Advertise, ShareKeys,
  ShareAck, MaskedInput, ConsistencySig, UnmaskResponse); and every frame the Python client
  refuses (each refusal of secagg_client.py and contributor.py, the token key changing between two
  sessions of one collection included), the JS client refuses with the same error, reason and
  message.
"""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from nacl import bindings as nb

from mangarec.privacy import encoding as E
from mangarec.privacy import lobby, shamir, tokens, vss
from mangarec.privacy.anonymous import AnonParams, slot_tag
from mangarec.privacy.errors import PrivacyError
from mangarec.privacy.lobby import Roster, check_roster
from mangarec.privacy.primitives import (
    RandomSource,
    agree,
    frame,
    hash_bytes,
    kdf,
    open_sealed,
    prg,
    prg_seed,
    seal,
    signing_key,
    verify,
    x25519,
)
from mangarec.privacy.ratings_codec import Profile, decode_message, pseudonym_of
from mangarec.privacy.secagg_common import (
    Chain,
    advertise_payload,
    consistency_payload,
    pair_seed,
    self_seed,
    shares_ad,
    start_digest,
)
from mangarec.privacy.transport_http import poll_payload, wrap_post
from tests.privacy._js_harness import node, python_replay, record_session, seeded


def H(b: bytes) -> dict:
    return {"hex": b.hex()}


# --- Python produces, JS verifies ---------------------------------------------------------
def _inputs():
    s = {k: seeded(k) for k in ("a", "b", "c", "d", "session", "sk1", "sk2", "id", "rng", "tok", "pk")}
    session = s["session"][:16]
    sk1, sk2 = s["sk1"], s["sk2"]
    pk1, pk2 = nb.crypto_scalarmult_base(sk1), nb.crypto_scalarmult_base(sk2)
    issuer = tokens.Issuer(RandomSource(s["d"]))
    req = tokens.Request.new(s["pk"], RandomSource(s["tok"]))
    evaluation = issuer.evaluate(req.blinded)
    blob = shamir.share([s["a"], s["b"]], [0, 3, 5], 2, RandomSource(s["rng"]))[3]
    keylist = E.encode(E.KeyList(session, {0: s["a"] * 4, 2: s["b"] * 4}, s["c"]))
    start = E.RoundStart(session, 0, "reserve", "add8", 1024, (0, 2), b"", s["d"])
    start2 = E.RoundStart(session, 1, "marks", "add8", 33, (0, 2), struct.pack(">I", 0), s["c"])
    chain_steps = [(start, (0, 2), s["a"][:20]), (start2, (2,), s["b"])]
    chain = Chain(session, keylist)
    heads = [chain.head] + [chain.extend(st, sv, res) for st, sv, res in chain_steps]
    profile = Profile(
        [(1, 2), ((1 << 20) - 1, 15), (77, 0)] + [(i, i % 16) for i in range(100, 150)], RandomSource(s["id"])
    )
    coll = issuer.public
    r = RandomSource(s["rng"])
    sizes = [1, 5, 4096, 7, 5000, 3]
    draws = [r.bytes(n) for n in sizes]
    calls = {
        "frame": (
            ["frame", [H(b"label"), "purpose-é", 0, 2**40, H(b"")]],
            frame(b"label", "purpose-é", 0, 2**40, b""),
        ),
        "hash_plain": (["hash", [H(b"abc"), H(b""), 32]], hash_bytes(b"abc")),
        "hash_keyed16": (["hash", [H(s["a"]), H(s["b"]), 16]], hash_bytes(s["a"], key=s["b"], size=16)),
        "hash_keyed64": (["hash", [H(b""), H(s["b"][:20]), 64]], hash_bytes(b"", key=s["b"][:20], size=64)),
        "kdf": (["kdf", [H(s["a"]), H(b"rng"), 3]], kdf(s["a"], b"rng", 3)),
        "prg_seed": (
            ["prg_seed", [H(s["a"]), H(session), 4, "pair-mask", 2, 9, 12345]],
            prg_seed(s["a"], session, 4, "pair-mask", (2, 9), 12345),
        ),
        "pair_seed": (["pair_seed", [H(s["a"]), H(session), 2, 9, 2, 300]], pair_seed(s["a"], session, 2, 9, 2, 300)),
        "self_seed": (["self_seed", [H(s["b"]), H(session), 1, 4, 300]], self_seed(s["b"], session, 1, 4, 300)),
        "prg": (["prg", [H(s["c"]), 1000]], prg(s["c"], 1000)),
        "rng_bytes": (["rng_bytes", [H(s["rng"]), sizes]], [d.hex() for d in draws]),
        "rng_sample": (["rng_sample", [H(s["rng"]), 3000, 40]], RandomSource(s["rng"]).sample(3000, 40)),
        "x25519_pub": (["x25519_pub", [H(sk1)]], pk1),
        "agree12": (
            ["agree", [H(sk1), 1, H(pk2), 2, H(session), "share-enc"]],
            agree(sk1, 1, pk2, 2, session, "share-enc"),
        ),
        "agree21": (
            ["agree", [H(sk2), 2, H(pk1), 1, H(session), "pair-mask"]],
            agree(sk2, 2, pk1, 1, session, "pair-mask"),
        ),
        "ed25519": (
            ["ed25519", [H(s["id"]), H(b"message")]],
            [signing_key(s["id"]).verify_key.hex(), signing_key(s["id"]).sign(b"message").hex()],
        ),
        "seal": (
            ["seal", [H(s["a"]), H(b"shares of u"), H(shares_ad(session, 1, 2)), H(s["rng"])]],
            seal(s["a"], b"shares of u", shares_ad(session, 1, 2), RandomSource(s["rng"])),
        ),
        "open": (
            ["open", [H(s["a"]), H(seal(s["a"], b"x" * 50, b"ad", RandomSource(s["b"]))), H(b"ad")]],
            b"x" * 50,
        ),
        "hash_to_point": (["hash_to_point", [H(s["pk"])]], tokens.hash_to_point(s["pk"])),
        "token": (
            ["token", [H(s["pk"]), H(s["tok"]), H(issuer.public), H(evaluation)]],
            [req.blinded.hex(), issuer.token_of(s["pk"]).hex()],
        ),
        "pseudonym": (["pseudonym", [H(s["pk"])]], pseudonym_of(s["pk"])),
        "slot_tag": (
            ["slot_tag", [H(session), 5, 17, H(s["a"][:16]), H(s["b"] * 8)]],
            slot_tag(session, 5, 17, s["a"][:16], s["b"] * 8),
        ),
        "share": (
            ["share", [[H(s["a"]), H(s["b"])], [0, 3, 5], 2, H(s["rng"])]],
            {str(k): v.hex() for k, v in shamir.share([s["a"], s["b"]], [0, 3, 5], 2, RandomSource(s["rng"])).items()},
        ),
        "share_big": (
            ["share", [[H(s["c"])] * 10, list(range(0, 40, 2)), 11, H(s["d"])]],
            {
                str(k): v.hex()
                for k, v in shamir.share([s["c"]] * 10, list(range(0, 40, 2)), 11, RandomSource(s["d"])).items()
            },
        ),
        "commitments": (["commitments", [H(session), 1, 3, H(blob)]], vss.commitments_of(session, 1, 3, blob)),
        "secret_commitment": (
            ["secret_commitment", [H(session), 1, 4, H(s["a"])]],
            vss.secret_commitment(session, 1, 4, s["a"]),
        ),
        "start_digest": (["start_digest", [H(E.encode(start))]], start_digest(start)),
        "chain": (
            [
                "chain",
                [H(session), H(keylist), [[E.encode(st).hex(), list(sv), res.hex()] for st, sv, res in chain_steps]],
            ],
            [h.hex() for h in heads],
        ),
        "advertise_payload": (
            ["advertise_payload", [H(session), 3, H(pk1), H(pk2), H(b"ext")]],
            advertise_payload(session, 3, pk1, pk2, b"ext"),
        ),
        "consistency_payload": (
            ["consistency_payload", [H(session), 2, H(s["a"]), [0, 1, 5], [0, 5], H(s["b"])]],
            consistency_payload(session, 2, s["a"], (0, 1, 5), (0, 5), s["b"]),
        ),
        "shares_ad": (["shares_ad", [H(session), 1, 2]], shares_ad(session, 1, 2)),
        "post": (
            ["post", [H(s["id"]), H(session), 4, H(b"frame")]],
            wrap_post(signing_key(s["id"]), session, 4, b"frame"),
        ),
        "poll_payload": (["poll_payload", [H(session), 4, 17]], poll_payload(session, 4, 17)),
        "profile": (
            [
                "profile",
                [
                    [list(x) for x in [(1, 2), ((1 << 20) - 1, 15), (77, 0)] + [(i, i % 16) for i in range(100, 150)]],
                    H(s["id"]),
                    H(coll),
                    H(issuer.token_of(profile.pk)),
                ],
            ],
            [m.hex() for m in profile.messages(coll, issuer.token_of(profile.pk))],
        ),
    }
    frames = {k: E.encode(v) for k, v in _every_kind(session).items()}
    good = frames["RoundStart"]
    bad_frames = {
        "trailing": (good + b"\0", "bad-format"),
        "truncated": (good[:-1], "bad-format"),
        "version": (good[:4] + b"\x01" + good[5:], "bad-version"),
        "kind": (good[:5] + b"\x63" + good[6:], "bad-format"),
        "magic": (b"XRPV" + good[4:], "bad-format"),
        "unsorted_ids": (
            E.encode(E.SurvivorSet(session, 1, (1, 2))).replace(struct.pack(">II", 1, 2), struct.pack(">II", 2, 1)),
            "bad-format",
        ),
        "utf8": (E.encode(E.Abort(session, 1, "ab")).replace(b"ab", b"\xff\xfe"), "bad-format"),
    }
    for name, (f, reason) in bad_frames.items():  # Python refuses them too, with that reason
        with pytest.raises(PrivacyError) as exc:
            E.decode(f)
        assert exc.value.reason == reason, name  # type: ignore[attr-defined]
    return calls, frames, bad_frames, issuer


def _every_kind(session: bytes) -> dict[str, E.Message]:
    b = bytes(range(40))
    return {
        "Advertise": E.Advertise(session, 3, b[:32], b[1:33], b"", b * 2),
        "KeyList": E.KeyList(session, {0: b * 4, 7: b * 3}, b[:32]),
        "ShareKeys": E.ShareKeys(session, 2, {0: b, 5: b[:7]}, {0: b[:16], 5: b[:16]}, b[:32]),
        "ShareBundle": E.ShareBundle(session, 2, {1: b}, b[:96]),
        "ShareAck": E.ShareAck(session, 2, {1: b[:16], 2: b"\0" * 16}),
        "RoundStart": E.RoundStart(session, 2, "message", "xor", 288, (0, 1, 2), b"\0\0\0\1", b[:32]),
        "MaskedInput": E.MaskedInput(session, 2, 1, b),
        "SurvivorSet": E.SurvivorSet(session, 2, (0, 2)),
        "ConsistencySig": E.ConsistencySig(session, 2, 1, b + b[:24]),
        "UnmaskRequest": E.UnmaskRequest(session, 2, {0: b, 2: b}, (0, 2), (1,), ()),
        "UnmaskResponse": E.UnmaskResponse(session, 2, 0, {0: b[:44]}, {1: b[:44]}, {}),
        "RoundResult": E.RoundResult(session, 2, b),
        "OpenRequest": E.OpenRequest(session, 2),
        "OpenResponse": E.OpenResponse(session, 2, 1, b, b[:32], {0: b[:32]}),
        "Abort": E.Abort(session, 2, "below threshold"),
    }


def test_python_produces_js_verifies_and_js_produces_python_verifies():
    calls, frames, bad_frames, issuer = _inputs()
    got = node(
        "vectors",
        {
            "calls": {k: v[0] for k, v in calls.items()},
            "frames": {k: f.hex() for k, f in frames.items()},
            "bad_frames": {k: f.hex() for k, (f, _) in bad_frames.items()},
        },
    )
    for name, (_, want) in calls.items():
        want = want.hex() if isinstance(want, bytes) else want
        assert got[name] == want, name
    assert set(got["decoded"]) == set(E.KINDS[k].__name__ for k in E.KINDS)
    for name, d in got["decoded"].items():
        assert d["kind"] == name and d["reencoded"] == frames[name].hex(), name
    assert got["refused"] == {k: reason for k, (_, reason) in bad_frames.items()}

    p = {k: (bytes.fromhex(v) if isinstance(v, str) else v) for k, v in got["produced"].items()}
    assert verify(p["vk"], p["message"], p["sig"])
    assert not verify(p["vk"], p["message"] + b"!", p["sig"])
    assert open_sealed(p["aead_key"], p["box"], p["ad"]) == p["plaintext"]
    assert nb.crypto_scalarmult_base(p["x_sk_a"]) == p["x_pk_a"]
    assert agree(p["x_sk_b"], 8, p["x_pk_a"], 3, p["session"], "share-enc") == p["agree_ab"]
    assert x25519(p["x_sk_a"], p["x_pk_b"]) == x25519(p["x_sk_b"], p["x_pk_a"])
    shares = {int(h): bytes.fromhex(v) for h, v in got["produced"]["shares"].items()}
    assert sorted(shares) == p["holders"]
    secrets = [bytes.fromhex(x) for x in got["produced"]["secrets"]]
    for pick in ([0, 2, 3], [3, 7, 9], [0, 9, 2]):
        parts = {h: shamir.split_blob(shares[h]) for h in pick}
        assert shamir.reconstruct_many(parts, 3) == secrets
    assert len(p["commitments"]) == 3 * 16
    coll = bytes.fromhex(got["produced"]["collection"])
    parts = [decode_message(bytes.fromhex(m), coll) for m in got["produced"]["parts"]]
    assert [x.ratings for x in parts] == [((5, 1), (17, 10), (1048575, 15))]
    assert parts[0].pk == p["pk"] and parts[0].pseudonym == pseudonym_of(p["pk"])
    assert tokens.valid_point(p["blinded"])
    issuer.evaluate(p["blinded"])  # a valid blinded element for the Python issuer
    for kind, f in got["produced"]["frames"].items():
        m = E.decode(bytes.fromhex(f))
        assert type(m).__name__ == kind and E.encode(m).hex() == f


# --- a whole session, replayed -----------------------------------------------------------
def test_js_client_answers_a_python_session_byte_for_byte():
    run, rec, case = record_session()
    assert run.delivered()[tuple(sorted(run.ratings[0]))] == 1  # user 0's profile was collected
    got = node("replay", {**case, "frames": [f.hex() for f in rec.frames]})
    want = [None if s is None else s.hex() for s in rec.sent]
    kinds = {type(E.decode(bytes.fromhex(s))).__name__ for s in want if s}
    assert {"Advertise", "ShareKeys", "ShareAck", "MaskedInput", "ConsistencySig", "UnmaskResponse"} <= kinds
    assert got["steps"] == want
    assert got["messages"] == 1 and got["pending"] == 0 and got["events"] == []


def _mutate(frames: list[bytes], kind: type, change) -> list[bytes]:
    """The frames up to and including the first of ``kind``, that one changed."""
    for i, f in enumerate(frames):
        m = E.decode(f)
        if isinstance(m, kind):
            return frames[:i] + [E.encode(change(m))]
    raise AssertionError(f"no {kind.__name__} in the transcript")


def _flip(b: bytes, i: int = 0) -> bytes:
    return b[:i] + bytes([b[i] ^ 1]) + b[i + 1 :]


ATTACKS = {
    # a peer's advertised keys with a signature that does not hold
    "keylist-bad-signature": (E.KeyList, lambda m: replace(m, keys={**m.keys, 1: _flip(m.keys[1], 70)})),
    # the server alters this client's own keys
    "keylist-own-keys": (E.KeyList, lambda m: replace(m, keys={**m.keys, 0: _flip(m.keys[0], 3)})),
    # a key list below the threshold (a short roster)
    "keylist-short": (E.KeyList, lambda m: replace(m, keys={u: k for u, k in m.keys.items() if u in (0, 1)})),
    # a key of somebody outside the roster
    "keylist-outsider": (E.KeyList, lambda m: replace(m, keys={**m.keys, 99: m.keys[1]})),
    # an equivocated earlier result: the next RoundStart does not continue the chain
    "equivocated-result": (E.RoundResult, lambda m: replace(m, vector=_flip(m.vector))),
    "chain-head": (E.RoundStart, lambda m: replace(m, prev=_flip(m.prev))),
    # a survivor set without this client, or a second one that does not shrink
    "survivors-without-me": (E.SurvivorSet, lambda m: replace(m, survivors=tuple(u for u in m.survivors if u != 0))),
    # unmasking: a missing signature, a forged one, both shares of one user
    "unmask-missing-sig": (E.UnmaskRequest, lambda m: replace(m, sigs={u: s for u, s in m.sigs.items() if u != 1})),
    "unmask-forged-sig": (E.UnmaskRequest, lambda m: replace(m, sigs={**m.sigs, 1: _flip(m.sigs[1], 5)})),
    "unmask-both-shares": (E.UnmaskRequest, lambda m: replace(m, s_for=(1,))),
    # an opening of a round whose result breaks no invariant
    "open-unjustified": (E.RoundResult, None),
    # a frame of another session
    "foreign-session": (E.SurvivorSet, lambda m: replace(m, session=_flip(m.session))),
    # the collector's token: a proof that does not hold (it used another key: a tag), no token
    "token-proof-forged": (E.ShareBundle, lambda m: replace(m, ext=m.ext[:40] + _flip(m.ext[40:], 0))),
    "token-missing": (E.ShareBundle, lambda m: replace(m, ext=b"")),
    # an unmasking request that asks for other shares than the survivor set calls for
    "unmask-not-the-survivors": (E.UnmaskRequest, lambda m: replace(m, b_for=m.b_for[1:], seed_for=m.b_for[:1])),
    # a key entry too short to hold two keys and a signature
    "keylist-short-entry": (E.KeyList, lambda m: replace(m, keys={**m.keys, 1: m.keys[1][:100]})),
    # survivor sets naming a user the round did not start with, or fewer than t users
    "survivors-outside-live": (E.SurvivorSet, lambda m: replace(m, survivors=(*m.survivors, 99))),
    "survivors-below-t": (E.SurvivorSet, lambda m: replace(m, survivors=m.survivors[:2])),
    # round parameters no group holds; a result of the wrong length; a token evaluation cut short
    "round-empty": (E.RoundStart, lambda m: replace(m, length=0)),
    "round-unknown-group": (E.RoundStart, lambda m: replace(m, group="add7")),
    "result-wrong-length": (E.RoundResult, lambda m: replace(m, vector=m.vector[:-1])),
    "token-evaluation-malformed": (E.ShareBundle, lambda m: replace(m, ext=m.ext[:-1])),
}


def _after(frames: list[bytes], pick, *extra: bytes) -> list[bytes]:
    """The frames up to and including the first that ``pick`` chooses, then ``extra``."""
    for i, f in enumerate(frames):
        if pick(E.decode(f)):
            return frames[: i + 1] + list(extra)
    raise AssertionError("no such frame in the transcript")


def _first(frames: list[bytes], pick, change) -> list[bytes]:
    """The frames up to and including the first that ``pick`` chooses, that one changed."""
    got = _after(frames, pick)
    return got[:-1] + [E.encode(change(E.decode(got[-1])))]


def _growing_survivors(frames: list[bytes]) -> list[bytes]:
    """A survivor set without user 3 (signed), then one with it again: not a shrink."""
    got = _after(frames, lambda m: isinstance(m, E.SurvivorSet))
    first = E.decode(got[-1])
    smaller = replace(first, survivors=tuple(u for u in first.survivors if u != 3))  # type: ignore[attr-defined]
    return got[:-1] + [E.encode(smaller), got[-1]]


def _sid(frames: list[bytes]) -> bytes:
    return E.decode(frames[0]).session


def _rounds(frames: list[bytes]) -> list[bytes]:
    return [f for f in frames if isinstance(E.decode(f), E.RoundStart)]


def _twice(frames: list[bytes], kind: type) -> list[bytes]:
    got = _after(frames, lambda m: isinstance(m, kind))
    return got + got[-1:]


def _open(frames: list[bytes], after, rnd: int) -> list[bytes]:
    sid = E.decode(frames[0]).session
    return _after(frames, after, E.encode(E.OpenRequest(sid, rnd)))


# attacks that need more than one frame changed: the transcript -> the frames to replay
SEQUENCES = {
    # a token key that is not a point (checked with the token, at the ShareBundle)
    "token-key-not-a-point": lambda fs: (
        _first(fs, lambda m: isinstance(m, E.KeyList), lambda m: replace(m, ext=bytes(32)))
        + _after(fs, lambda m: isinstance(m, E.ShareBundle))[len(_after(fs, lambda m: isinstance(m, E.KeyList))) :]
    ),
    "survivors-not-shrinking": _growing_survivors,
    # a marks round is never opened, nor a reservation once a later round started
    "open-marks-round": lambda fs: _open(fs, lambda m: isinstance(m, E.RoundResult) and m.round == 1, 1),
    "open-older-round": lambda fs: _open(fs, lambda m: isinstance(m, E.RoundStart) and m.round == 1, 0),
    # a bundle addressed to another user; a round that does not follow the channel's sequence;
    # a marks round whose length disagrees with the reservation result
    "bundle-for-another": lambda fs: _first(
        fs, lambda m: isinstance(m, E.ShareBundle), lambda m: replace(m, recipient=m.recipient + 1)
    ),
    "round-out-of-sequence": lambda fs: _first(
        fs, lambda m: isinstance(m, E.RoundStart) and m.purpose == "marks", lambda m: replace(m, purpose="message")
    ),
    "marks-length": lambda fs: _first(
        fs, lambda m: isinstance(m, E.RoundStart) and m.purpose == "marks", lambda m: replace(m, length=m.length + 1)
    ),
    # a marks round in a group whose sum could wrap a mark to zero
    "marks-in-a-small-group": lambda fs: _first(
        fs, lambda m: isinstance(m, E.RoundStart) and m.purpose == "marks", lambda m: replace(m, group="add8")
    ),
    # a message round that names another round than the marks round before it
    "round-builds-on-another": lambda fs: _first(
        fs,
        lambda m: isinstance(m, E.RoundStart) and m.purpose == "message",
        lambda m: replace(m, params=struct.pack(">I", m.round - 2)),
    ),
    # a reservation table with fewer blocks than a contributor reserves; a purpose no client knows
    "reservation-below-budget": lambda fs: _first(
        fs, lambda m: isinstance(m, E.RoundStart), lambda m: replace(m, length=AnonParams().budget - 1)
    ),
    "unknown-purpose": lambda fs: _first(
        fs, lambda m: isinstance(m, E.RoundStart), lambda m: replace(m, purpose="lottery")
    ),
    # frames out of the protocol's order: after an abort, twice, before their phase, a kind only
    # the server receives
    "frame-after-abort": lambda fs: (
        _after(fs, lambda m: isinstance(m, E.KeyList), E.encode(E.Abort(_sid(fs), 0, "x")))
        + _after(fs, lambda m: isinstance(m, E.ShareBundle))[-1:]
    ),
    "keylist-twice": lambda fs: _after(fs, lambda m: isinstance(m, E.KeyList), fs[0]),
    "round-before-setup": lambda fs: fs[:1] + _after(fs, lambda m: isinstance(m, E.RoundStart))[-1:],
    "round-before-result": lambda fs: _after(fs, lambda m: isinstance(m, E.RoundStart)) + _rounds(fs)[1:2],
    "round-replayed": lambda fs: _after(fs, lambda m: isinstance(m, E.RoundStart) and m.round == 1) + _rounds(fs)[:1],
    "survivors-unknown-round": lambda fs: (
        _after(fs, lambda m: isinstance(m, E.RoundStart)) + [E.encode(E.SurvivorSet(_sid(fs), 7, (0, 1, 2)))]
    ),
    "survivors-repeated": lambda fs: _twice(fs, E.SurvivorSet),
    "unmask-before-survivors": lambda fs: (
        _after(fs, lambda m: isinstance(m, E.RoundStart)) + _after(fs, lambda m: isinstance(m, E.UnmaskRequest))[-1:]
    ),
    "unmask-twice": lambda fs: _twice(fs, E.UnmaskRequest),
    "result-before-unmask": lambda fs: (
        _after(fs, lambda m: isinstance(m, E.SurvivorSet)) + _after(fs, lambda m: isinstance(m, E.RoundResult))[-1:]
    ),
    "server-bound-kind": lambda fs: _after(
        fs, lambda m: isinstance(m, E.RoundStart), E.encode(E.MaskedInput(_sid(fs), 0, 1, bytes(8)))
    ),
    # a later round whose live set is below the threshold (see also live-outside-survivors)
    "live-below-threshold": lambda fs: _first(
        fs, lambda m: isinstance(m, E.RoundStart) and m.round == 1, lambda m: replace(m, live=m.live[:2])
    ),
}


def _live_outside_survivors():
    """User 3 left after key setup: round 0's survivors are 0, 1, 2; the marks round names 3 again."""
    run, rec, case = record_session(dead=(3,))
    assert E.decode(_after(rec.frames, lambda m: isinstance(m, E.SurvivorSet))[-1]).survivors == (0, 1, 2)
    pick = lambda m: isinstance(m, E.RoundStart) and m.round == 1  # noqa: E731
    return _first(rec.frames, pick, lambda m: replace(m, live=(*m.live, 3))), case


def _round_beyond_secrets():
    """A client that dealt self-mask secrets for the 3 rounds of one attempt; a fourth round starts."""
    run, rec, case = record_session()
    last = E.decode(rec.frames[-1])
    assert isinstance(last, E.RoundResult) and last.round == 2
    chain, signed = Chain(run.session, rec.frames[0]), {}
    for f in rec.frames:  # the chain head a fourth round continues
        m = E.decode(f)
        if isinstance(m, E.RoundStart):
            start = m
        elif isinstance(m, E.SurvivorSet):
            signed = m.survivors
        elif isinstance(m, E.RoundResult):
            chain.extend(start, signed, m.vector)
    start = E.RoundStart(run.session, 3, "reserve", "add8", 1024, (0, 1, 2, 3), b"", chain.head)
    return rec.frames + [E.encode(start)], {**case, "max_rounds": 3}


def _token_key_changed():
    """A second session of the same collection (the contributor keeps its token) whose key list,
    every entry signed by its owner, carries another collector key."""
    run, rec, case = record_session()
    nxt = {"session": seeded("second session")[:16].hex(), "client_seed": seeded("second client").hex()}
    session = bytes.fromhex(nxt["session"])
    adv = E.decode(bytes.fromhex(python_replay(case, [*rec.frames, nxt])[-1]))
    assert isinstance(adv, E.Advertise) and adv.ext == b""  # the token is held: none requested
    keys = {0: adv.c_pk + adv.s_pk + adv.sig}
    for v in (1, 2):
        c_pk, s_pk = (nb.crypto_scalarmult_base(seeded(f"peer {v} key {k}")) for k in "cs")
        keys[v] = c_pk + s_pk + signing_key(rec.ids[v]).sign(advertise_payload(session, v, c_pk, s_pk, b""))
    other = tokens.Issuer(RandomSource(seeded("another collector"))).public
    assert other != E.decode(rec.frames[0]).ext  # type: ignore[attr-defined]
    second = [E.KeyList(session, keys, other), E.ShareBundle(session, 0, {}, b"")]
    return [*rec.frames, nxt, *map(E.encode, second)], case


def _small_order_key():
    """Peer 1 signed an X25519 key of small order (the all-zero point): agreement refuses it."""
    run, rec, case = record_session()
    s_pk = nb.crypto_scalarmult_base(seeded("peer 1 key s"))
    entry = bytes(32) + s_pk + signing_key(rec.ids[1]).sign(advertise_payload(run.session, 1, bytes(32), s_pk, b""))
    return _mutate(rec.frames, E.KeyList, lambda m: replace(m, keys={**m.keys, 1: entry})), case


# attacks that need their own session: -> (the frames to replay, the replay case)
CRAFTED = {
    "keylist-small-order-key": _small_order_key,
    "live-outside-survivors": _live_outside_survivors,
    "round-beyond-secrets": _round_beyond_secrets,
    "token-key-changed": _token_key_changed,
}


ATTACK_NAMES = sorted(ATTACKS) + sorted(SEQUENCES) + sorted(CRAFTED)


def _attack(attack: str) -> tuple[dict, list, bool]:
    """``(replay case, frames, whether the messages must match)``: the frames end with the one
    ``attack`` makes (without ``message``, the detail quotes each language's crypto library)."""
    if attack in CRAFTED:
        frames, case = CRAFTED[attack]()
        return case, frames, attack != "keylist-small-order-key"  # libsodium's words
    run, rec, case = record_session()
    kind, change = ATTACKS.get(attack, (None, None))
    if attack in SEQUENCES:
        frames = SEQUENCES[attack](rec.frames)
    elif change is None:  # an OpenRequest right after the first (honest) reservation result
        frames = _mutate(rec.frames, kind, lambda m: m)
        frames.append(E.encode(E.OpenRequest(run.session, E.decode(frames[-1]).round)))  # type: ignore[attr-defined]
    elif attack == "equivocated-result":
        frames = _mutate(rec.frames, kind, change)
        frames += [f for f in rec.frames[len(frames) :] if isinstance(E.decode(f), E.RoundStart)][:1]
    else:
        frames = _mutate(rec.frames, kind, change)
    return case, frames, True


def _wire(frames: list) -> list:
    return [f if isinstance(f, dict) else f.hex() for f in frames]


@pytest.fixture(scope="module")
def js_replays() -> tuple[dict, dict]:
    """Every attack's case and the JS client's replay of it, all in one Node process (Node's
    start and libsodium's load cost ~0.3 s of CPU a process; each replay starts a fresh client)."""
    cases = {a: _attack(a) for a in ATTACK_NAMES}
    got = node("replay-many", {a: {**case, "frames": _wire(frames)} for a, (case, frames, _) in cases.items()})
    return cases, got


@pytest.mark.parametrize("attack", ATTACK_NAMES)
def test_js_client_refuses_what_the_python_client_refuses(attack, js_replays):
    cases, got = js_replays
    case, frames, message = cases[attack]
    _check_refused(attack, case, frames, got[attack], message)


def _check_refused(attack: str, case: dict, frames: list, got: dict, message: bool = True) -> None:
    """Both clients answer alike up to the last frame, and refuse it with the same error, reason
    and message (without ``message``, the detail quotes each language's crypto library)."""
    want = python_replay(case, frames)
    assert isinstance(want[-1], dict), f"the Python client accepted the {attack} frame"
    assert got["steps"][:-1] == want[:-1]
    if not message:
        for d in (got["steps"][-1], want[-1]):
            d["message"] = d["message"].split(":")[:2]
    assert got["steps"][-1] == want[-1]


# --- the lobby: proof of work and the roster a client accepts, against mangarec.privacy.lobby ------
def _roster(lobby_key, keys, *, catalog="c" * 64, t=None, rounds=9, nonce=b"n" * 16, deadline=46) -> dict:
    ks = tuple(sorted(keys))
    r = Roster(nonce, catalog, len(ks) // 2 + 1 if t is None else t, rounds, ks, deadline=deadline)
    return replace(r, sig=lobby_key.sign(r.payload())).to_json()


def _python_verdict(doc: dict, **kw) -> dict:
    try:
        r = Roster.from_json(doc)
        uid = check_roster(r, **kw)
    except PrivacyError as exc:
        return {"refused": exc.reason}  # type: ignore[attr-defined]
    return {"uid": uid, "session": r.session.hex(), "t": r.threshold, "n": len(r.keys), "deadline": r.deadline}


def test_lobby_proof_of_work_and_roster_checks():
    lobby_key, other = signing_key(seeded("lobby")), signing_key(seeded("other"))
    me = signing_key(seeded("me")).verify_key
    peers = [signing_key(seeded(f"peer{i}")).verify_key for i in range(40)]
    catalog = "c" * 64
    ok = _roster(lobby_key, [me] + peers[:31])
    rosters = {
        "ok": ok,
        "short": _roster(lobby_key, [me] + peers[:30]),
        "without-me": _roster(lobby_key, peers[:32]),
        "forged": _roster(other, [me] + peers[:31]),
        "unsorted": dict(ok, keys=list(reversed(ok["keys"]))),
        "session": dict(ok, session="00" * 16),
        "catalog": _roster(lobby_key, [me] + peers[:31], catalog="d" * 64),
        "threshold": _roster(lobby_key, [me] + peers[:31], t=16),
        "rounds": _roster(lobby_key, [me] + peers[:31], rounds=6),
        "deadline": _roster(lobby_key, [me] + peers[:31], deadline=lobby.MAX_DEADLINE + 1),
        "deadline-altered": dict(ok, deadline=ok["deadline"] + 1),  # not what was signed
    }
    challenge = seeded("challenge")[:16]
    pow_in = [(challenge, catalog, me, bytes(8)), (challenge, catalog, me, b"\xff" * 8)]
    got = node(
        "lobby",
        {
            "pow": [[c.hex(), cat, k.hex(), n.hex()] for c, cat, k, n in pow_in],
            "solve": {"challenge": challenge.hex(), "catalog": catalog, "key": me.hex(), "bits": 10},
            "rosters": rosters,
            "key": me.hex(),
            "lobby_key": lobby_key.verify_key.hex(),
            "catalog": catalog,
            "min_cohort": 32,
        },
    )
    for (c, cat, k, n), (digest, bits) in zip(pow_in, got["pow"]):
        assert digest == lobby.pow_digest(c, cat, k, n).hex() and bits == lobby.zero_bits(bytes.fromhex(digest))
    assert lobby.pow_ok(challenge, catalog, me, bytes.fromhex(got["solved"]), 10)
    assert got["enroll"] == lobby.enroll_payload(challenge, catalog, me).hex()
    kw = {"key": me, "min_cohort": 32, "lobby_key": lobby_key.verify_key, "catalog": catalog, "rounds": 9}
    want = {name: _python_verdict(doc, **kw) for name, doc in rosters.items()}
    assert want["ok"]["n"] == 32 and want["short"] == {"refused": "short-roster"}
    assert all("refused" in v for k, v in want.items() if k != "ok")
    assert got["rosters"] == want

"""Known-answer tests (RFC 7748, RFC 8032, pinned PRG) and primitive behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from nacl.bindings import crypto_scalarmult_base

from mangarec.privacy import primitives as P
from mangarec.privacy.errors import DecryptionError

H = bytes.fromhex


# RFC 7748 section 5.2 (X25519 test vectors)
@pytest.mark.parametrize(
    "scalar,u,out",
    [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ],
)
def test_x25519_rfc7748_section_5_2(scalar, u, out):
    assert P.x25519(H(scalar), H(u)) == H(out)


def test_x25519_rfc7748_section_6_1_diffie_hellman():
    a = H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    b = H("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    assert crypto_scalarmult_base(a) == H("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    assert crypto_scalarmult_base(b) == H("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    k = H("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    assert P.x25519(a, crypto_scalarmult_base(b)) == k == P.x25519(b, crypto_scalarmult_base(a))


# RFC 8032 section 7.1, TEST 1-3 (Ed25519)
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize("sk,pk,msg,sig", RFC8032)
def test_ed25519_rfc8032_section_7_1(sk, pk, msg, sig):
    key = P.signing_key(H(sk))
    assert bytes(key.verify_key) == H(pk)
    assert P.sign(key, H(msg)) == H(sig)
    assert P.verify(H(pk), H(msg), H(sig))
    bad = bytearray(H(sig))
    bad[0] ^= 1
    assert not P.verify(H(pk), H(msg), bytes(bad))
    assert not P.verify(H(pk), H(msg) + b"x", H(sig))


def test_memoised_verifier_never_caches_failures():
    sk, pk, msg, sig = RFC8032[1]
    v = P.Verifier(memo=True)
    assert v(H(pk), H(msg), H(sig)) and v(H(pk), H(msg), H(sig))
    forged = bytes([H(sig)[0] ^ 1]) + H(sig)[1:]
    assert not v(H(pk), H(msg), forged) and not v(H(pk), H(msg), forged)
    assert not v(H(pk), b"other", H(sig))


# Computed once with PyNaCl 1.6 / libsodium and pinned: any change of the seed
# derivation (framing, personalisation, key) or of the PRG breaks these.
PINNED_SEED = "34dd403b0ad533e70a1a62d8976cc426abdd9876f3c2f91727c64f18ffa81338"
PINNED_STREAM = "9d70a989e7438108fe4c599460a39d1ab12f6416d893c4fc6b92750d710d1463"
PINNED_ZERO_SEED_STREAM = "a11f8f12d0876f736d2d8fd26e14c2de88f163e3271710c676c7384cb3621279"


def test_prg_pinned_output():
    seed = P.prg_seed(bytes(range(32)), b"S" * 16, 7, "pair-mask", (3, 9), 1000)
    assert seed.hex() == PINNED_SEED
    assert P.prg(seed, 32).hex() == PINNED_STREAM
    assert P.prg(bytes(32), 32).hex() == PINNED_ZERO_SEED_STREAM
    arr = P.prg_array(seed, 16, np.uint16)
    assert arr.tobytes() == P.prg(seed, 32)


def test_prg_seeds_are_domain_separated():
    k, s = b"k" * 32, b"S" * 16
    base = P.prg_seed(k, s, 1, "pair-mask", (1, 2), 10)
    variants = [
        P.prg_seed(k, b"T" * 16, 1, "pair-mask", (1, 2), 10),
        P.prg_seed(k, s, 2, "pair-mask", (1, 2), 10),
        P.prg_seed(k, s, 1, "self-mask", (1, 2), 10),
        P.prg_seed(k, s, 1, "pair-mask", (1, 3), 10),
        P.prg_seed(k, s, 1, "pair-mask", (1, 2), 11),
        P.prg_seed(b"j" * 32, s, 1, "pair-mask", (1, 2), 10),
    ]
    assert len({base, *variants}) == 7
    assert P.prg_seed(k, s, 1, "pair-mask", (1, 2), 10) == base


def test_agree_is_symmetric_and_not_the_raw_point():
    r = P.RandomSource(b"\1" * 32)
    (a, A), (b, B) = P.x25519_keypair(r), P.x25519_keypair(r)
    k1 = P.agree(a, 1, B, 2, b"S" * 16, "pair-mask")
    assert k1 == P.agree(b, 2, A, 1, b"S" * 16, "pair-mask")
    assert k1 != P.x25519(a, B)
    assert k1 != P.agree(a, 1, B, 2, b"S" * 16, "share-enc")


def test_small_order_point_rejected():
    from mangarec.privacy.errors import ProtocolViolation

    with pytest.raises(ProtocolViolation):
        P.x25519(b"\1" * 32, b"\0" * 32)


def test_aead_rejects_tampering_and_wrong_associated_data():
    r = P.RandomSource(b"\2" * 32)
    key = r.bytes(32)
    box = P.seal(key, b"share", b"ad-1", r)
    assert P.open_sealed(key, box, b"ad-1") == b"share"
    bad = bytearray(box)
    bad[-1] ^= 1
    for b, ad in ((bytes(bad), b"ad-1"), (box, b"ad-2"), (box[:10], b"ad-1")):
        with pytest.raises(DecryptionError):
            P.open_sealed(key, b, ad)


def test_random_source_is_deterministic_when_seeded():
    a, b = P.RandomSource(b"\3" * 32), P.RandomSource(b"\3" * 32)
    assert [a.bytes(5), a.bytes(5000), a.randbelow(7)] == [b.bytes(5), b.bytes(5000), b.randbelow(7)]
    assert P.RandomSource().bytes(16) != P.RandomSource().bytes(16)

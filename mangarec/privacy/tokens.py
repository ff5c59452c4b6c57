"""One anonymous token per contributor and collection: a verifiable OPRF.

The structure of RFC 9497 (VOPRF mode) on the prime-order subgroup of
edwards25519, with libsodium's group operations through ``nacl.bindings``
(PyNaCl 1.6 exposes no ristretto255): every point received is checked with
``crypto_core_ed25519_is_valid_point`` (canonical, on the main subgroup, not of
small order) and scalar multiplications use the ``noclamp`` variants.

* The collector draws a key k and publishes K = k·G once per collection.
* A contributor picks a fresh pseudonym key pk, maps it to P = H(pk) (two
  Elligator 2 maps added, as RFC 9380's hash_to_curve does, each output is on
  the main subgroup), blinds B = r·P with a random scalar r and sends B inside
  its signed AdvertiseKeys; only once per identity and collection is B
  evaluated.
* The collector answers Z = k·B with a Chaum–Pedersen proof that log_G K =
  log_B Z (Fiat–Shamir over BLAKE2b-512), so it cannot tag a contributor with
  a key of its own; the contributor checks the proof and unblinds T = r⁻¹·Z =
  k·P.
* Every part of the contributor's profile carries (pk, T) and a signature by
  pk. The collector accepts a part only if T = k·H(pk): B is uniform given P,
  so T cannot be linked to the evaluation that produced it, and one evaluation
  per identity means at most one profile per contributor.
"""

from __future__ import annotations

from dataclasses import dataclass

from nacl import bindings as _b
from nacl.exceptions import CryptoError

from .errors import ConsistencyError, ProtocolViolation
from .primitives import RandomSource, frame, hash_bytes

POINT_BYTES = 32
SCALAR_BYTES = 32
EVAL_BYTES = 3 * 32  # Z | c | s
_DOMAIN = b"mangarec-token-v1"


def _scalar(rng: RandomSource) -> bytes:
    while True:
        s = _b.crypto_core_ed25519_scalar_reduce(rng.bytes(64))
        if any(s):
            return s


def _hash_scalar(*parts: bytes) -> bytes:
    return _b.crypto_core_ed25519_scalar_reduce(hash_bytes(frame(_DOMAIN, b"dleq", *parts), size=64))


def valid_point(p: bytes) -> bool:
    return len(p) == POINT_BYTES and bool(_b.crypto_core_ed25519_is_valid_point(p))


def hash_to_point(data: bytes) -> bytes:
    """P = map(H0(data)) + map(H1(data)) on the main subgroup."""
    h = hash_bytes(frame(_DOMAIN, b"h2c", data), size=64)
    return _b.crypto_core_ed25519_add(
        _b.crypto_core_ed25519_from_uniform(h[:32]), _b.crypto_core_ed25519_from_uniform(h[32:])
    )


def _mul(s: bytes, p: bytes) -> bytes:
    return _b.crypto_scalarmult_ed25519_noclamp(s, p)


def _base(s: bytes) -> bytes:
    return _b.crypto_scalarmult_ed25519_base_noclamp(s)


class Issuer:
    """The collector's OPRF key; ``public`` is K = k·G."""

    def __init__(self, rng: RandomSource) -> None:
        self._k = _scalar(rng)
        self.public = _base(self._k)
        self._rng = rng

    def evaluate(self, blinded: bytes) -> bytes:
        """Z | c | s for a blinded element; ProtocolViolation if it is not a valid point."""
        if not valid_point(blinded):
            raise ProtocolViolation("bad-key", "blinded token element is not a valid point")
        z = _mul(self._k, blinded)
        rho = _scalar(self._rng)
        c = _hash_scalar(self.public, blinded, z, _base(rho), _mul(rho, blinded))
        s = _b.crypto_core_ed25519_scalar_sub(rho, _b.crypto_core_ed25519_scalar_mul(c, self._k))
        return z + c + s

    def token_of(self, pk: bytes) -> bytes:
        return _mul(self._k, hash_to_point(pk))

    def valid(self, pk: bytes, token: bytes) -> bool:
        """Whether ``token`` = k·H(pk) (constant inputs: no secret-dependent branch on token)."""
        return len(token) == POINT_BYTES and self.token_of(pk) == token


@dataclass
class Request:
    """A contributor's pending token request: the blinded element and its blind."""

    pk: bytes
    blinded: bytes
    _r: bytes

    @classmethod
    def new(cls, pk: bytes, rng: RandomSource) -> Request:
        r = _scalar(rng)
        return cls(pk, _mul(r, hash_to_point(pk)), r)

    def finish(self, issuer_public: bytes, evaluation: bytes) -> bytes:
        """Check the proof and unblind; ConsistencyError if the proof fails."""
        if len(evaluation) != EVAL_BYTES or not valid_point(issuer_public):
            raise ConsistencyError("token evaluation malformed")
        z, c, s = evaluation[:32], evaluation[32:64], evaluation[64:]
        if not valid_point(z):
            raise ConsistencyError("token evaluation is not a valid point")
        try:
            a1 = _b.crypto_core_ed25519_add(_base(s), _mul(c, issuer_public))
            a2 = _b.crypto_core_ed25519_add(_mul(s, self.blinded), _mul(c, z))
        except (CryptoError, RuntimeError, ValueError):
            raise ConsistencyError("token proof does not verify") from None
        if _hash_scalar(issuer_public, self.blinded, z, a1, a2) != c:
            raise ConsistencyError("token proof does not verify (the collector used another key)")
        return _mul(_b.crypto_core_ed25519_scalar_invert(self._r), z)

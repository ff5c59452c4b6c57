"""Cryptographic helpers, all on PyNaCl (libsodium); nothing is hand-rolled.

* X25519 key agreement (``crypto_scalarmult``); the raw shared point is never
  used directly: :func:`kdf` hashes it with a domain label first.
* Ed25519 signatures (``nacl.signing``).
* XChaCha20-Poly1305 AEAD with associated data binding session, round and pair.
* PRG: ``randombytes_deterministic`` (ChaCha20, fixed nonce). Every PRG seed is
  derived by keyed BLAKE2b over (session id, round, purpose, pair, length), so no
  seed is ever used for two purposes.
"""
from __future__ import annotations

import struct
from typing import Optional

import numpy as np
from nacl import bindings as _b
from nacl._sodium import ffi as _ffi, lib as _lib
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import SigningKey, VerifyKey
from nacl.utils import random as _os_random
from nacl.utils import randombytes_deterministic

from .errors import DecryptionError, ProtocolViolation

KEY_BYTES = 32
NONCE_BYTES = 24
TAG_BYTES = 16
_PERSON = b"mangarec-priv-v1"  # 16 bytes: BLAKE2b personalisation


_I = struct.Struct(">I").pack
_Q8 = struct.Struct(">IQ").pack


def _frame(*parts: bytes | str | int) -> bytes:
    """Unambiguous concatenation: every part is length-prefixed (ints as u64)."""
    out = []
    for p in parts:
        if isinstance(p, int):
            out.append(_Q8(8, p))
            continue
        if isinstance(p, str):
            p = p.encode()
        out.append(_I(len(p)))
        out.append(p)
    return b"".join(out)


def hash_bytes(data: bytes, *, key: bytes = b"", size: int = 32) -> bytes:
    """Keyed (or unkeyed) BLAKE2b with the module personalisation.

    Calls libsodium's ``crypto_generichash_blake2b_salt_personal`` through
    PyNaCl's own cffi handle (the checked wrapper costs ~4x more per call).
    """
    if not 16 <= size <= 64 or len(key) > 64:
        raise ValueError("BLAKE2b digest size must be 16..64 and key <= 64 bytes")
    out = _ffi.new("unsigned char[]", size)
    rc = _lib.crypto_generichash_blake2b_salt_personal(
        out, size, data, len(data), key if key else _ffi.NULL, len(key), _ffi.NULL, _PERSON)
    if rc != 0:
        raise RuntimeError("BLAKE2b failed")
    return _ffi.buffer(out, size)[:]


def kdf(secret: bytes, *context: bytes | str | int, size: int = 32) -> bytes:
    """Derive a key from ``secret`` for ``context`` (domain separation)."""
    return hash_bytes(_frame(*context), key=secret, size=size)


def prg_seed(key: bytes, session: bytes, rnd: int, purpose: str,
             pair: tuple[int, int], length: int) -> bytes:
    """PRG seed = BLAKE2b_key(session, round, purpose, pair, length).

    Same framing as ``kdf(key, b"prg", session, rnd, purpose, *pair, length)``,
    written out for speed (it runs once per pair and round).
    """
    p = purpose.encode()
    data = (b"\0\0\0\3prg" + struct.pack(">I", len(session)) + session
            + struct.pack(">IQI", 8, rnd, len(p)) + p
            + struct.pack(">IQIQIQ", 8, pair[0], 8, pair[1], 8, length))
    return hash_bytes(data, key=key)


def prg(seed: bytes, nbytes: int) -> bytes:
    """``nbytes`` of ChaCha20 keystream from a 32-byte seed."""
    if len(seed) != KEY_BYTES:
        raise ValueError("PRG seed must be 32 bytes")
    return randombytes_deterministic(nbytes, seed)


def prg_array(seed: bytes, count: int, dtype: np.dtype) -> np.ndarray:
    """``count`` PRG elements of ``dtype``, shape (count,), little-endian.

    Same stream as :func:`prg` (``randombytes_buf_deterministic``), written
    straight into a numpy buffer through PyNaCl's cffi handle (no copy).
    """
    if len(seed) != KEY_BYTES:
        raise ValueError("PRG seed must be 32 bytes")
    dt = np.dtype(dtype).newbyteorder("<")
    out = np.empty(count, dtype=dt)
    if count:
        _lib.randombytes_buf_deterministic(_ffi.from_buffer(out), out.nbytes, seed)
    return out


class RandomSource:
    """Client/server randomness: OS entropy, or a deterministic stream from ``seed``.

    A seeded source exists so simulations with ``--seed`` are reproducible; the
    stream is ChaCha20 keyed by ``seed`` with a fresh derived key per draw.
    """

    _BLOCK = 4096

    def __init__(self, seed: Optional[bytes] = None) -> None:
        self._seed = seed
        self._counter = 0
        self._buf = b""

    def bytes(self, n: int) -> bytes:
        if self._seed is None:
            return _os_random(n)
        if n > self._BLOCK:
            self._counter += 1
            return prg(kdf(self._seed, b"rng", self._counter), n)
        if n > len(self._buf):
            self._counter += 1
            self._buf = prg(kdf(self._seed, b"rng", self._counter), self._BLOCK)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def randbelow(self, n: int) -> int:
        """Uniform integer in [0, n) by rejection."""
        if n <= 0:
            raise ValueError("n must be positive")
        nbits = max(1, (n - 1).bit_length())
        while True:
            v = int.from_bytes(self.bytes((nbits + 7) // 8), "big") >> (-nbits % 8)
            if v < n:
                return v

    def child(self, label: str | int) -> "RandomSource":
        if self._seed is None:
            return RandomSource(None)
        return RandomSource(kdf(self._seed, b"child", label))


# --- X25519 -----------------------------------------------------------------
def x25519_keypair(rng: RandomSource) -> tuple[bytes, bytes]:
    """(secret, public) X25519 key pair."""
    sk = rng.bytes(32)
    return sk, _b.crypto_scalarmult_base(sk)


def x25519(sk: bytes, pk: bytes) -> bytes:
    """Raw X25519 (RFC 7748); rejects the all-zero output of small-order points."""
    try:
        return _b.crypto_scalarmult(sk, pk)
    except (CryptoError, RuntimeError, ValueError) as exc:
        raise ProtocolViolation("bad-format", f"X25519 rejected the public key: {exc}")


def agree(sk: bytes, my_id: int, pk: bytes, peer_id: int, session: bytes, purpose: str) -> bytes:
    """Pair key = KDF(X25519(sk, pk), "agree", session, purpose, min id, max id).

    Same framing as ``kdf(point, b"agree", session, purpose, lo, hi)``, written out.
    """
    lo, hi = (my_id, peer_id) if my_id < peer_id else (peer_id, my_id)
    p = purpose.encode()
    data = (b"\0\0\0\5agree" + _I(len(session)) + session + _I(len(p)) + p
            + _Q8(8, lo) + _Q8(8, hi))
    return hash_bytes(data, key=x25519(sk, pk))


# --- Ed25519 ----------------------------------------------------------------
def signing_key(seed: bytes) -> SigningKey:
    return SigningKey(seed)


def sign(sk: SigningKey, message: bytes) -> bytes:
    """Detached 64-byte Ed25519 signature."""
    return sk.sign(message).signature


def verify(vk: bytes, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(vk).verify(message, signature)
        return True
    except (BadSignatureError, ValueError, TypeError):
        return False


class Verifier:
    """Ed25519 verification; ``memo=True`` remembers *valid* (key, msg, sig) triples.

    Verification is a pure function, so an in-process simulation of many clients
    may share one memo: each client still checks every signature it relies on,
    identical bytes simply are not re-verified. Invalid signatures are never memoised.
    """

    def __init__(self, memo: bool = False) -> None:
        self._memo: Optional[set[tuple[bytes, bytes, bytes]]] = set() if memo else None

    def __call__(self, vk: bytes, message: bytes, signature: bytes) -> bool:
        if self._memo is None:
            return verify(vk, message, signature)
        k = (bytes(vk), bytes(message), bytes(signature))
        if k in self._memo:
            return True
        ok = verify(vk, message, signature)
        if ok:
            self._memo.add(k)
        return ok


# --- AEAD -------------------------------------------------------------------
def seal(key: bytes, plaintext: bytes, ad: bytes, rng: RandomSource) -> bytes:
    """nonce (24) || XChaCha20-Poly1305(key, plaintext, ad).

    libsodium's ``crypto_aead_xchacha20poly1305_ietf_encrypt`` via PyNaCl's cffi
    handle (the checked wrapper's argument checks cost more than the cipher here).
    """
    if len(key) != KEY_BYTES:
        raise ValueError("AEAD key must be 32 bytes")
    nonce = rng.bytes(NONCE_BYTES)
    n = len(plaintext) + TAG_BYTES
    out = _ffi.new("unsigned char[]", n)
    outlen = _ffi.new("unsigned long long *")
    rc = _lib.crypto_aead_xchacha20poly1305_ietf_encrypt(
        out, outlen, plaintext, len(plaintext), ad, len(ad), _ffi.NULL, nonce, key)
    if rc != 0:
        raise RuntimeError("AEAD encryption failed")
    return nonce + _ffi.buffer(out, outlen[0])[:]


def open_sealed(key: bytes, box: bytes, ad: bytes) -> bytes:
    """Inverse of :func:`seal`; raises DecryptionError on any authentication failure."""
    if len(box) < NONCE_BYTES + TAG_BYTES or len(key) != KEY_BYTES:
        raise DecryptionError("ciphertext too short")
    ct = box[NONCE_BYTES:]
    out = _ffi.new("unsigned char[]", len(ct))
    outlen = _ffi.new("unsigned long long *")
    rc = _lib.crypto_aead_xchacha20poly1305_ietf_decrypt(
        out, outlen, _ffi.NULL, ct, len(ct), ad, len(ad), box[:NONCE_BYTES], key)
    if rc != 0:
        raise DecryptionError("authentication failed (tampered, replayed or misrouted)")
    return _ffi.buffer(out, outlen[0])[:]

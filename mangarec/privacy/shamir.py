"""Shamir t-of-n secret sharing of 32-byte secrets over GF(p), p = 2^31 - 1.

A secret is cut into 11 chunks of 3 bytes (each < 2^24 < p); every chunk is
shared with its own independent random polynomial, so the scheme is perfectly
hiding chunk-wise. Evaluation points are ``x = user_id + 1``; the field allows
p - 1 distinct points, and the protocol enforces the stricter limit
``MAX_USERS = 65535`` (user ids 0..65534), so no point can ever wrap or repeat.
Arithmetic is vectorised in int64 (products < 2^62).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .errors import ParameterError
from .primitives import RandomSource

P = (1 << 31) - 1
MAX_USERS = 65535
SECRET_BYTES = 32
CHUNK_BYTES = 3
N_CHUNKS = -(-SECRET_BYTES // CHUNK_BYTES)  # 11
SHARE_BYTES = 4 * N_CHUNKS  # 44


def validate_threshold(t: int, n: int) -> None:
    """2 <= t <= n <= MAX_USERS and t > n/2 (honest-majority rule, see docs)."""
    if not 2 <= n <= MAX_USERS:
        raise ParameterError(f"number of users {n} outside [2, {MAX_USERS}]")
    if not 2 <= t <= n:
        raise ParameterError(f"threshold t={t} must satisfy 2 <= t <= n={n}")
    if 2 * t <= n:
        raise ParameterError(f"threshold t={t} must exceed n/2 (n={n})")


def _chunks(secrets: Sequence[bytes]) -> np.ndarray:
    """(k, N_CHUNKS) int64 chunk matrix of k 32-byte secrets."""
    for s in secrets:
        if len(s) != SECRET_BYTES:
            raise ValueError("secrets must be 32 bytes")
    raw = np.frombuffer(b"".join(s + b"\0" for s in secrets), dtype=np.uint8)
    raw = raw.reshape(len(secrets), N_CHUNKS, CHUNK_BYTES).astype(np.int64)
    return (raw[..., 0] << 16) | (raw[..., 1] << 8) | raw[..., 2]


def _unchunks(chunks: np.ndarray) -> list[bytes]:
    if np.any(chunks >= (1 << 24)) or np.any(chunks < 0):
        raise ValueError("reconstructed value out of range: inconsistent shares")
    b = np.stack([(chunks >> 16) & 255, (chunks >> 8) & 255, chunks & 255], axis=-1)
    flat = b.astype(np.uint8).reshape(chunks.shape[0], -1)
    return [bytes(row[:SECRET_BYTES]) for row in flat]


def _field_elements(rng: RandomSource, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform elements of GF(p) by rejection of 31-bit draws equal to p."""
    count = int(np.prod(shape))
    out = np.frombuffer(rng.bytes(4 * count), dtype=np.uint32).astype(np.int64) & P
    bad = np.flatnonzero(out == P)
    while bad.size:
        out[bad] = np.frombuffer(rng.bytes(4 * bad.size), dtype=np.uint32).astype(np.int64) & P
        bad = bad[out[bad] == P]
    return out.reshape(shape)


def share(secrets: Sequence[bytes], holders: Sequence[int], t: int, rng: RandomSource) -> dict[int, bytes]:
    """Share each secret t-of-len(holders); returns holder -> its shares, concatenated.

    Each share is ``SHARE_BYTES`` bytes (11 big-endian u32 field elements); the
    share of secret k for holder h is ``out[h][k * SHARE_BYTES:(k + 1) * SHARE_BYTES]``.
    """
    validate_threshold(t, len(holders))
    if len(set(holders)) != len(holders) or min(holders) < 0 or max(holders) >= MAX_USERS:
        raise ParameterError("holder ids must be distinct and in [0, MAX_USERS)")
    c0 = _chunks(secrets)  # (k, C)
    coeffs = _field_elements(rng, (t - 1,) + c0.shape)  # (t-1, k, C)
    xs = np.asarray(holders, dtype=np.int64)[:, None, None] + 1  # (n, 1, 1)
    acc = np.zeros((len(holders),) + c0.shape, dtype=np.int64)
    for j in range(t - 2, -1, -1):  # Horner, highest degree first
        acc = (acc + coeffs[j][None]) * xs % P
    acc = (acc + c0[None]) % P
    be = acc.astype(">u4")
    return {h: be[i].tobytes() for i, h in enumerate(holders)}


def split_blob(blob: bytes) -> list[bytes]:
    """The individual shares of a holder's concatenated share blob."""
    if len(blob) % SHARE_BYTES:
        raise ValueError("share blob length")
    return [blob[k : k + SHARE_BYTES] for k in range(0, len(blob), SHARE_BYTES)]


@lru_cache(maxsize=256)
def _lagrange_at_zero(xs: tuple[int, ...]) -> np.ndarray:
    lam = []
    for i, xi in enumerate(xs):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if j != i:
                num = num * xj % P
                den = den * (xj - xi) % P
        lam.append(num * pow(den, P - 2, P) % P)
    return np.asarray(lam, dtype=np.int64)


def reconstruct_many(shares: dict[int, Sequence[bytes]], t: int) -> list[bytes]:
    """Recover secrets from ``{holder: [share_0, share_1, ...]}`` (>= t holders).

    The first t holders (by id) are used; all share lists must have equal length.
    """
    if len(shares) < t:
        raise ValueError(f"need {t} shares, got {len(shares)}")
    holders = sorted(shares)[:t]
    k = len(shares[holders[0]])
    arr = np.empty((t, k, N_CHUNKS), dtype=np.int64)
    for i, h in enumerate(holders):
        if len(shares[h]) != k or any(len(s) != SHARE_BYTES for s in shares[h]):
            raise ValueError("malformed share")
        arr[i] = np.frombuffer(b"".join(shares[h]), dtype=">u4").reshape(k, N_CHUNKS)
    if np.any(arr >= P):
        raise ValueError("share value outside the field")
    lam = _lagrange_at_zero(tuple(h + 1 for h in holders))
    sec = (arr * lam[:, None, None] % P).sum(axis=0) % P
    return _unchunks(sec)


def reconstruct(shares: dict[int, bytes], t: int) -> bytes:
    return reconstruct_many({h: [s] for h, s in shares.items()}, t)[0]

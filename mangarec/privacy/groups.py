"""The aggregation groups: Z_(2^k) addition (``add8/16/32/64``) or GF(2) XOR (``xor``).

Vectors are 1-d numpy arrays: ``add{k}`` uses ``uint{k}`` (wrapping arithmetic),
``xor`` uses ``uint8`` (one element = one byte). PRG output is mapped onto the
group by ``np.frombuffer`` so masks cost one ChaCha20 pass plus one vector op.
"""

from __future__ import annotations

import numpy as np

from .errors import ProtocolViolation
from .primitives import prg_array

GROUPS = {"add8": np.uint8, "add16": np.uint16, "add32": np.uint32, "add64": np.uint64, "xor": np.uint8}
MAX_LENGTH = 1 << 28


def dtype(group: str) -> np.dtype:
    try:
        return np.dtype(GROUPS[group])
    except KeyError:
        raise ProtocolViolation("bad-format", f"unknown group {group!r}") from None


def check_length(group: str, length: int) -> None:
    if not 0 < length <= MAX_LENGTH:
        raise ProtocolViolation("bad-length", f"vector length {length}")
    dtype(group)


def zeros(group: str, length: int) -> np.ndarray:
    return np.zeros(length, dtype=dtype(group))


def add_into(group: str, acc: np.ndarray, vec: np.ndarray) -> None:
    """acc <- acc (+) vec, in place."""
    if group == "xor":
        np.bitwise_xor(acc, vec, out=acc)
    else:
        np.add(acc, vec, out=acc)


def sub_into(group: str, acc: np.ndarray, vec: np.ndarray) -> None:
    """acc <- acc (-) vec, in place (XOR is its own inverse)."""
    if group == "xor":
        np.bitwise_xor(acc, vec, out=acc)
    else:
        np.subtract(acc, vec, out=acc)


def apply_masks(group: str, x: np.ndarray, self_seed: bytes, plus: list[bytes], minus: list[bytes]) -> np.ndarray:
    """y = x + PRG(self_seed) + sum PRG(plus) - sum PRG(minus) (a new array)."""
    dt, n = x.dtype, x.shape[0]
    y = x.copy()
    add_into(group, y, prg_array(self_seed, n, dt))
    for s in plus:
        add_into(group, y, prg_array(s, n, dt))
    for s in minus:
        sub_into(group, y, prg_array(s, n, dt))
    return y


def from_bytes(group: str, data: bytes, length: int) -> np.ndarray:
    dt = dtype(group)
    if len(data) != length * dt.itemsize:
        raise ProtocolViolation("bad-length", f"{len(data)} bytes for {length} x {dt}")
    return np.frombuffer(data, dtype=dt.newbyteorder("<")).astype(dt)


def to_bytes(vec: np.ndarray) -> bytes:
    """Little-endian wire bytes of a group vector."""
    return vec.astype(vec.dtype.newbyteorder("<"), copy=False).tobytes()

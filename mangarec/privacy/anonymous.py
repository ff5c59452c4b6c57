"""An anonymous channel built from secure aggregation: parameters and invariants.

Every attempt is three rounds of one secure-aggregation session, and every
cohort member takes part in all of them, so the anonymity set stays the whole
surviving cohort:

1. ``reserve`` (counters, Z_2^8 below 255 users): every contributor adds 1 at
   exactly ``budget`` distinct random blocks of a table of ``load x budget x
   |live|`` blocks, whatever it has to send. A fixed budget is what the
   aggregate can check: Σ counters = budget x |U3| and no counter above |U3|;
   a contributor also checks that none of its own blocks reads 0 (a negative
   write cancelled it). A broken invariant is the only ground for *opening*
   this round (it is content-free: each input is ``budget`` random blocks, the
   same for everyone, and a contributor never uses an opened reservation).
2. ``marks`` (Z_2^32): the singly-owned blocks are compacted, each into
   ``block`` message slots; a contributor adds a uniformly random *non-zero*
   32-bit mark at one slot per message it places in its own single blocks, and
   at the last entry a random non-zero flag if it has messages it could not
   place (they retry). Never opened. Random marks make a negative write
   useless: cancelling a mark (to censor or truncate a profile) means guessing
   a 32-bit value, and so does cancelling the flag of messages left.
3. ``message`` (GF(2)): the non-zero marks are compacted; each owner XORs
   ``message | nonce | BLAKE2b-128(session, round, slot, nonce, message)`` into
   its slot. Valid slots are read; corrupted ones (collision, jamming) retry.

The collector goes on with another attempt while the last marks entry is non-zero
or a message slot was corrupted (at most ``max_attempts``), and publishes a
profile only when all its parts arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ParameterError
from .primitives import RandomSource, frame, hash_bytes
from .ratings_codec import DEFAULT_MAX_PARTS, DEFAULT_MSG_BYTES

NONCE = 16
TAG = 16
OPENABLE = frozenset({"reserve"})
#: The marks round's group: a mark is a random non-zero element (see the module doc).
MARKS_GROUP = "add32"


@dataclass(frozen=True)
class AnonParams:
    msg_bytes: int = DEFAULT_MSG_BYTES
    max_parts: int = DEFAULT_MAX_PARTS
    block: int = 16  # message slots per reservation block
    budget: int = 4  # blocks every contributor reserves in every attempt
    load: int = 32  # table blocks per reserved block (collision rate ~ 1 / load)
    max_attempts: int = 3  # reserve + marks + message attempts per session

    def __post_init__(self) -> None:
        if self.block * self.budget < self.max_parts:
            raise ParameterError("block x budget must cover max_parts messages")
        if min(self.block, self.budget, self.load, self.max_attempts) < 1:
            raise ParameterError("anonymous-channel parameters must be positive")

    @property
    def slot_bytes(self) -> int:
        return self.msg_bytes + NONCE + TAG

    @property
    def rounds(self) -> int:
        """Secure-aggregation rounds one session needs."""
        return 3 * self.max_attempts


def counter_group(max_value: int) -> str:
    """The smallest Z_2^k whose counters hold ``max_value`` with room to see a wrap."""
    return "add8" if max_value < 255 else "add16" if max_value < 65535 else "add32"


def random_mark(rng: RandomSource) -> int:
    """A uniformly random non-zero element of the marks group (a mark or a flag)."""
    return 1 + rng.randbelow((1 << 32) - 1)


def reservation_violation(counts: np.ndarray, survivors: int, budget: int) -> str | None:
    """Why a reservation result is impossible for an honest cohort, or None."""
    c = counts.astype(np.int64)
    top = int(c.max(initial=0))
    if top > survivors:
        return f"a block counter reads {top} > {survivors} survivors (a negative write)"
    total = int(c.sum())
    if total != budget * survivors:
        return f"{total} blocks reserved, {budget} x {survivors} survivors expected"
    return None


def opened_input_valid(x: np.ndarray, budget: int) -> bool:
    """An opened reservation input: exactly ``budget`` ones, zeros elsewhere."""
    x = x.astype(np.int64)
    return bool(np.all((x == 0) | (x == 1))) and int(x.sum()) == budget


def slot_tag(session: bytes, rnd: int, idx: int, nonce: bytes, msg: bytes) -> bytes:
    return hash_bytes(frame(b"slot", session, rnd, idx, nonce, msg), size=TAG)


def slot_content(session: bytes, rnd: int, idx: int, nonce: bytes, msg: bytes) -> bytes:
    return msg + nonce + slot_tag(session, rnd, idx, nonce, msg)


def parse_slots(session: bytes, rnd: int, data: bytes, params: AnonParams) -> tuple[list[bytes], int, int]:
    """(valid messages, corrupted slot count, empty slot count) of a message-round result."""
    sz, mb = params.slot_bytes, params.msg_bytes
    valid, bad, empty = [], 0, 0
    for idx in range(len(data) // sz):
        s = data[idx * sz : (idx + 1) * sz]
        msg, nonce, tag = s[:mb], s[mb : mb + NONCE], s[mb + NONCE :]
        if slot_tag(session, rnd, idx, nonce, msg) == tag:
            valid.append(msg)
        elif any(s):
            bad += 1
        else:
            empty += 1
    return valid, bad, empty

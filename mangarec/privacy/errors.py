"""Exceptions of the private collection protocol.

Every rejection carries a short machine-readable ``reason`` so tests and
transports can tell a replay from a foreign-session message. Misbehaviour that
the protocol can attribute names its ``culprits`` (user ids).
"""

from __future__ import annotations

from collections.abc import Iterable


class PrivacyError(Exception):
    """Base class of every protocol error."""


class ProtocolViolation(PrivacyError):
    """A message was rejected; ``reason`` is one of ``REASONS``."""

    REASONS = (
        "foreign-session",
        "duplicate",
        "stale",
        "out-of-order",
        "unknown-sender",
        "bad-format",
        "bad-version",
        "bad-signature",
        "both-shares",
        "not-allowed",
        "bad-length",
        "bad-key",
        # the lobby (issue 19)
        "bad-pow",
        "bad-roster",
        "short-roster",
        "not-in-roster",
        "unknown-catalog",
        "lobby-full",
    )

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class DecryptionError(PrivacyError):
    """An authenticated ciphertext failed to verify (tampered, replayed, misrouted)."""


class ConsistencyError(PrivacyError):
    """The server showed inconsistent views: survivor sets, round results (the hash
    chain), round parameters, or forged consistency signatures."""


class RoundAborted(PrivacyError):
    """The round stops and nothing is unmasked: fewer than ``t`` users remain, or a
    user's misbehaviour made unmasking impossible (then ``culprits`` names it)."""

    def __init__(self, reason: str, culprits: Iterable[int] = ()) -> None:
        self.culprits = frozenset(culprits)
        super().__init__(reason)


class ParameterError(PrivacyError, ValueError):
    """Invalid protocol parameters (threshold, sizes, limits)."""

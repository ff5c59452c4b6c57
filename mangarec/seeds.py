"""Explicit, per-stage randomness.

A build has one integer ``seed``. Each stage derives its own independent seed from it with a
label, so that adding or reordering stages never changes the random numbers of another stage.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(seed: int, *labels: str | int) -> int:
    """Derive a 32-bit seed for one stage from the build seed and a label path.

    Parameters
    ----------
    seed:
        The build seed (any int).
    labels:
        A path naming the stage, e.g. ``("model", "word2vec")``.

    Returns
    -------
    int
        A seed in ``[0, 2**32)``; the same inputs always give the same seed.
    """
    h = hashlib.blake2b(digest_size=8, person=b"mangarec-seed")
    h.update(str(int(seed)).encode())
    for label in labels:
        h.update(b"\x00" + str(label).encode("utf-8"))
    return int.from_bytes(h.digest(), "big") & 0xFFFFFFFF


def rng(seed: int, *labels: str | int) -> np.random.Generator:
    """A numpy ``Generator`` for one stage (see :func:`derive_seed`)."""
    return np.random.default_rng(derive_seed(seed, *labels))

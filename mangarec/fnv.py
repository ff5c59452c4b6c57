"""32-bit FNV-1a: the hash that places a title in a shard, for the site's neighbour shards
(:mod:`mangarec.site.prepare`) and the compact model's (:func:`mangarec.compact.shard_of`);
``hash.js`` computes the same in the browser. Neither side owns it, so both import it at module
level (and the stages that run it have it in their cache keys)."""

from __future__ import annotations


def fnv1a(text: str) -> int:
    """32-bit FNV-1a of the UTF-8 bytes (``hash.js`` computes the same to find a shard)."""
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h

"""The vendored libsodium is byte for byte what VENDOR.md says (pinned version, recorded hashes)."""

from __future__ import annotations

import hashlib
import re

from mangarec.paths import SITE_SRC

VENDOR = SITE_SRC / "static" / "js" / "vendor" / "libsodium"


def test_vendored_files_match_their_recorded_hashes():
    doc = (VENDOR / "VENDOR.md").read_text()
    recorded = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|$", doc, re.M))
    assert set(recorded) == {"libsodium-sumo.mjs", "libsodium-wrappers.mjs", "LICENSE"}
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert {p.name for p in VENDOR.iterdir()} == set(recorded) | {"VENDOR.md"}
    wrappers = (VENDOR / "libsodium-wrappers.mjs").read_text()
    assert 'from"./libsodium-sumo.mjs"' in wrappers and 'from"libsodium-sumo"' not in wrappers

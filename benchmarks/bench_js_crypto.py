"""Which crypto library for the browser contributor: size and speed, measured side by side.

Fetches ``libsodium-wrappers-sumo`` (the vendored one's version) and the ``@noble/curves`` +
``@noble/hashes`` + ``@noble/ciphers`` trio with ``npm pack`` into a temporary directory (the npm
registry only), then times, in one Node process, the operations a contributor performs: Ed25519
verify (every peer's advertisement and consistency signature) and sign, X25519 (two agreements
per peer), keyed BLAKE2b with personalisation (share commitments), ChaCha20 keystream (masks) and
XChaCha20-Poly1305 (sealed shares). Also checks that both give the same bytes where both can
(ChaCha20 with libsodium's fixed nonce, personalised BLAKE2b). Prints the bytes each option
ships (raw and gzip -9: libsodium's two ESM files; noble's modules the contributor would import,
unminified, no bundler) beside the per-operation times.

    python benchmarks/bench_js_crypto.py
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SODIUM = "0.8.4"
NOBLE = "2.0.1"
NOBLE_FILES = {
    "curves": [
        "ed25519",
        "abstract/edwards",
        "abstract/montgomery",
        "abstract/curve",
        "abstract/modular",
        "abstract/hash-to-curve",
        "utils",
    ],
    "hashes": ["blake2", "_blake", "_md", "sha2", "utils", "_u64"],
    "ciphers": ["chacha", "_arx", "_poly1305", "utils"],
}

BENCH = Path(__file__).with_suffix(".mjs")


def _pack(tmp: Path, spec: str) -> Path:
    out = subprocess.run(
        ["npm", "pack", "--silent", spec], cwd=tmp, check=True, capture_output=True, text=True, timeout=300
    )
    tgz = tmp / out.stdout.strip().splitlines()[-1]
    dest = tmp / tgz.stem
    with tarfile.open(tgz) as t:
        t.extractall(dest, filter="data")
    return dest / "package"


def _size(paths: list[Path]) -> tuple[int, int]:
    data = b"".join(p.read_bytes() for p in paths)
    return len(data), len(gzip.compress(data, 9, mtime=0))


def main() -> int:
    if not (shutil.which("npm") and shutil.which("node")):
        print("error: this benchmark needs node and npm (apt-get install nodejs npm)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        nm = tmp / "node_modules"
        (nm / "@noble").mkdir(parents=True)
        pk = {
            "libsodium-wrappers-sumo": _pack(tmp, f"libsodium-wrappers-sumo@{SODIUM}"),
            "libsodium-sumo": _pack(tmp, f"libsodium-sumo@{SODIUM}"),
        }
        for name in NOBLE_FILES:
            pk[f"@noble/{name}"] = _pack(tmp, f"@noble/{name}@{NOBLE}")
        for name, path in pk.items():
            (nm / name).symlink_to(path, target_is_directory=True)
        shutil.copy(BENCH, tmp / "bench.mjs")
        res = json.loads(
            subprocess.run(
                ["node", "bench.mjs"], cwd=tmp, check=True, capture_output=True, text=True, timeout=600
            ).stdout
        )
        sodium_files = [
            pk["libsodium-sumo"] / "dist/modules-sumo-esm/libsodium-sumo.mjs",
            pk["libsodium-wrappers-sumo"] / "dist/modules-sumo-esm/libsodium-wrappers.mjs",
        ]
        noble_files = [
            pk[f"@noble/{n}"] / f"{f}.js"
            for n, fs in NOBLE_FILES.items()
            for f in fs
            if (pk[f"@noble/{n}"] / f"{f}.js").exists()
        ]
        (sr, sg), (nr, ng) = _size(sodium_files), _size(noble_files)
    print(f"shipped bytes: libsodium-wrappers-sumo {SODIUM}: {sr:,} raw, {sg:,} gzip")
    print(f"               noble {NOBLE} trio (unminified modules): {nr:,} raw, {ng:,} gzip")
    print(f"libsodium WebAssembly instantiation: {res['init']:.0f} ms (once, when the visitor contributes)")
    print(f"{'operation':28} {'libsodium µs':>14} {'noble µs':>12} {'noble / libsodium':>18}")
    for op, (a, b) in res["rows"].items():
        print(f"{op:28} {a:14.1f} {b:12.1f} {b / a:17.1f}x")
    print(
        f"same bytes: ChaCha20 PRG {res['same']['prg']}, personalised BLAKE2b {res['same']['blake2b']}; "
        f"libsodium's crypto_core_ed25519_from_uniform (the tokens' hash to the group): "
        f"{'libsodium only' if res['same']['from_uniform'] else 'missing'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

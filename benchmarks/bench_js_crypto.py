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
    "curves": ["ed25519", "abstract/edwards", "abstract/montgomery", "abstract/curve", "abstract/modular", "abstract/hash-to-curve", "utils"],
    "hashes": ["blake2", "_blake", "_md", "sha2", "utils", "_u64"],
    "ciphers": ["chacha", "_arx", "_poly1305", "utils"],
}

BENCH = r"""
import sodium from 'libsodium-wrappers-sumo';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { blake2b } from '@noble/hashes/blake2.js';
import { xchacha20poly1305, chacha20 } from '@noble/ciphers/chacha.js';
const t0 = performance.now(); await sodium.ready; const init = performance.now() - t0;
const s = sodium, L = s.libsodium;
const time = (n, f) => { f(); const a = performance.now(); for (let i = 0; i < n; i++) f(); return (performance.now() - a) / n * 1000; };
const msg = new Uint8Array(200).fill(1), key = new Uint8Array(32).fill(7), seed = new Uint8Array(32).fill(3);
const person = new TextEncoder().encode('mangarec-priv-v1');
const out = L._malloc(64), pin = L._malloc(4096), pk = L._malloc(64), pp = L._malloc(16);
const b2 = (m) => { L.HEAPU8.set(m, pin); L.HEAPU8.set(key, pk); L.HEAPU8.set(person, pp);
  L._crypto_generichash_blake2b_salt_personal(out, 32, pin, m.length, 0, pk, 32, 0, pp); return L.HEAPU8.slice(out, out + 32); };
const kp = s.crypto_sign_seed_keypair(seed), sig = s.crypto_sign_detached(msg, kp.privateKey);
const npk = ed25519.getPublicKey(seed), nsig = ed25519.sign(msg, seed), xpk = x25519.getPublicKey(key);
const rows = {
  'Ed25519 verify': [time(100, () => s.crypto_sign_verify_detached(sig, msg, kp.publicKey)), time(100, () => ed25519.verify(nsig, msg, npk))],
  'Ed25519 sign': [time(100, () => s.crypto_sign_detached(msg, kp.privateKey)), time(100, () => ed25519.sign(msg, seed))],
  'X25519': [time(100, () => s.crypto_scalarmult(key, xpk)), time(100, () => x25519.getSharedSecret(key, xpk))],
  'BLAKE2b keyed, 200 B': [time(3000, () => b2(msg)), time(3000, () => blake2b(msg, { key, personalization: person, dkLen: 32 }))],
  'ChaCha20, 1 MiB': [time(5, () => s.randombytes_buf_deterministic(1 << 20, seed)), time(5, () => chacha20(seed, new TextEncoder().encode('LibsodiumDRG'), new Uint8Array(1 << 20)))],
  'XChaCha20-Poly1305, 200 B': [time(1000, () => s.crypto_aead_xchacha20poly1305_ietf_encrypt(msg, null, null, new Uint8Array(24), key)), time(1000, () => xchacha20poly1305(key, new Uint8Array(24)).encrypt(msg))],
};
const same = {
  prg: Buffer.from(s.randombytes_buf_deterministic(100, seed)).equals(Buffer.from(chacha20(seed, new TextEncoder().encode('LibsodiumDRG'), new Uint8Array(100)))),
  blake2b: Buffer.from(b2(msg)).equals(Buffer.from(blake2b(msg, { key, personalization: person, dkLen: 32 }))),
  from_uniform: typeof s.crypto_core_ed25519_from_uniform === 'function',
};
console.log(JSON.stringify({ init, rows, same }));
"""


def _pack(tmp: Path, spec: str) -> Path:
    out = subprocess.run(["npm", "pack", "--silent", spec], cwd=tmp, check=True, capture_output=True, text=True, timeout=300)
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
        (tmp / "bench.mjs").write_text(BENCH)
        res = json.loads(subprocess.run(["node", "bench.mjs"], cwd=tmp, check=True, capture_output=True, text=True, timeout=600).stdout)
        sodium_files = [
            pk["libsodium-sumo"] / "dist/modules-sumo-esm/libsodium-sumo.mjs",
            pk["libsodium-wrappers-sumo"] / "dist/modules-sumo-esm/libsodium-wrappers.mjs",
        ]
        noble_files = [pk[f"@noble/{n}"] / f"{f}.js" for n, fs in NOBLE_FILES.items() for f in fs if (pk[f"@noble/{n}"] / f"{f}.js").exists()]
        (sr, sg), (nr, ng) = _size(sodium_files), _size(noble_files)
    print(f"shipped bytes          libsodium-wrappers-sumo {SODIUM}: {sr:,} raw, {sg:,} gzip   noble {NOBLE} trio: {nr:,} raw, {ng:,} gzip")
    print(f"libsodium WebAssembly instantiation: {res['init']:.0f} ms (once, when the visitor contributes)")
    print(f"{'operation':28} {'libsodium µs':>14} {'noble µs':>12} {'noble / libsodium':>18}")
    for op, (a, b) in res["rows"].items():
        print(f"{op:28} {a:14.1f} {b:12.1f} {b / a:17.1f}x")
    print(f"same bytes: ChaCha20 PRG {res['same']['prg']}, personalised BLAKE2b {res['same']['blake2b']}; "
          f"libsodium's crypto_core_ed25519_from_uniform (the tokens' hash to the group): "
          f"{'libsodium only' if res['same']['from_uniform'] else 'missing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

/* Timed by benchmarks/bench_js_crypto.py (run from a directory holding both libraries). */
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

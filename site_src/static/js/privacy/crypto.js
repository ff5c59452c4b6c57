/* Cryptographic helpers of the private collection, on libsodium (libsodium-wrappers-sumo,
 * the same C library PyNaCl wraps, compiled to WebAssembly); nothing is hand-rolled.
 * The mirror of mangarec/privacy/primitives.py and tokens.py: every function here has a
 * Python twin and the cross-language known-answer tests (tests/privacy/test_js_client.py)
 * compare them byte for byte.
 *
 * libsodium is injected (`init(sodium)`) so the same module runs in the worker (the vendored
 * file, loaded only when the visitor contributes) and in Node for the tests. */

export const PERSON = new TextEncoder().encode('mangarec-priv-v1');
const TOKEN_DOMAIN = new TextEncoder().encode('mangarec-token-v1');
const UTF8 = new TextEncoder();

let S = null; // the libsodium wrappers object, once ready

export class PrivacyError extends Error {}

export class ProtocolViolation extends PrivacyError {
  constructor(reason, detail) { super(`${reason}: ${detail}`); this.reason = reason; }
}

export class ConsistencyError extends PrivacyError {}

export class DecryptionError extends PrivacyError {}

/** Use `sodium` (the resolved libsodium-wrappers-sumo module) from now on. */
export function init(sodium) { S = sodium; }

export function sodium() {
  if (!S) throw new Error('crypto.init(sodium) was not called');
  return S;
}

// --- bytes ------------------------------------------------------------------------------
export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
}

export function u32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v); return b; }

function u64(v) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v)); return b; }

export function equal(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function hex(b) { return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(''); }

export function unhex(s) {
  if (s.length % 2 || /[^0-9a-f]/i.test(s)) throw new Error('not hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Unambiguous concatenation: bytes and strings length-prefixed (u32), ints as u64. */
export function frame(...parts) {
  const out = [];
  for (const p of parts) {
    if (p instanceof Uint8Array) out.push(u32(p.length), p);
    else if (typeof p === 'string') { const raw = UTF8.encode(p); out.push(u32(raw.length), raw); }
    else out.push(u32(8), u64(p));
  }
  return concat(...out);
}

/* Scratch space on libsodium's heap for hash(), allocated once (a message buffer grown as
 * needed): BLAKE2b runs hundreds of times per round (commitments, proof of work). */
let scratch = null;

function heap(need) {
  const L = sodium().libsodium;
  if (!scratch || scratch.L !== L) scratch = { L, out: L._malloc(64), key: L._malloc(64), person: L._malloc(16), data: 0, cap: 0 };
  if (need > scratch.cap) {
    if (scratch.data) L._free(scratch.data);
    scratch.cap = Math.max(need, 2 * scratch.cap, 256);
    scratch.data = L._malloc(scratch.cap);
  }
  L.HEAPU8.set(PERSON, scratch.person);
  return scratch;
}

function blake2b(h, len, keyLen, size) {
  if (h.L._crypto_generichash_blake2b_salt_personal(h.out, size, h.data, len, 0, keyLen ? h.key : 0, keyLen, 0, h.person)) {
    throw new Error('BLAKE2b failed');
  }
  return h.L.HEAPU8.subarray(h.out, h.out + size);
}

/** Keyed (or unkeyed) BLAKE2b-`size` with the personalisation "mangarec-priv-v1".
 * The wrapper of crypto_generichash_blake2b_salt_personal hashes no message (it is a KDF
 * helper), so the libsodium function itself is called on the module's heap. */
export function hash(data, key = new Uint8Array(0), size = 32) {
  if (size < 16 || size > 64 || key.length > 64) throw new Error('BLAKE2b digest 16..64, key <= 64 bytes');
  const h = heap(data.length);
  h.L.HEAPU8.set(data, h.data);
  h.L.HEAPU8.set(key, h.key);
  return blake2b(h, data.length, key.length, size).slice();
}

/** Unkeyed BLAKE2b-256 of `prefix || tail` for many tails (a proof of work): the prefix stays on
 * the heap, only the tail is written per call. `digest(tail)` returns a view valid until the
 * next hash. */
export function prefixHasher(prefix, tailLength) {
  return {
    digest(tail) {
      const h = heap(prefix.length + tailLength);
      if (h.prefix !== prefix) { h.L.HEAPU8.set(prefix, h.data); h.prefix = prefix; }
      h.L.HEAPU8.set(tail, h.data + prefix.length);
      return blake2b(h, prefix.length + tailLength, 0, 32);
    },
  };
}

/** Key for `context` derived from `secret` (domain separation). */
export function kdf(secret, ...context) { return hash(frame(...context), secret); }

/** PRG seed = BLAKE2b_key(frame("prg", session, round, purpose, pair, length)). */
export function prgSeed(key, session, rnd, purpose, pair, length) {
  return hash(frame('prg', session, rnd, purpose, pair[0], pair[1], length), key);
}

/** `n` bytes of ChaCha20 keystream (randombytes_buf_deterministic). */
export function prg(seed, n) {
  if (seed.length !== 32) throw new Error('PRG seed must be 32 bytes');
  return sodium().randombytes_buf_deterministic(n, seed);
}

/** OS randomness (the collection), or a ChaCha20 stream from `seed` (known-answer tests only),
 * drawn exactly as primitives.RandomSource draws it. */
export class RandomSource {
  constructor(seed = null) { this.seed = seed; this.counter = 0; this.buf = new Uint8Array(0); }

  bytes(n) {
    if (this.seed === null) return sodium().randombytes_buf(n);
    if (n > 4096) { this.counter += 1; return prg(kdf(this.seed, UTF8.encode('rng'), this.counter), n); }
    if (n > this.buf.length) { this.counter += 1; this.buf = prg(kdf(this.seed, UTF8.encode('rng'), this.counter), 4096); }
    const out = this.buf.slice(0, n);
    this.buf = this.buf.slice(n);
    return out;
  }

  randbelow(n) {
    if (!(n > 0)) throw new Error('n must be positive');
    const bits = n === 1 ? 1 : (n - 1).toString(2).length; // max(1, (n - 1).bit_length())
    const nb = Math.ceil(bits / 8), shift = (8 - (bits % 8)) % 8;
    for (;;) {
      let v = 0;
      for (const x of this.bytes(nb)) v = v * 256 + x;
      v = Math.floor(v / 2 ** shift);
      if (v < n) return v;
    }
  }

  sample(n, k) {
    if (!(k >= 0 && k <= n)) throw new Error('cannot sample k > n');
    const picked = [], seen = new Set();
    while (picked.length < k) {
      const j = this.randbelow(n);
      if (!seen.has(j)) { seen.add(j); picked.push(j); }
    }
    return picked;
  }
}

// --- X25519 ---------------------------------------------------------------------------
export function x25519Keypair(rng) {
  const sk = rng.bytes(32);
  return [sk, sodium().crypto_scalarmult_base(sk)];
}

export function x25519(sk, pk) {
  try {
    return sodium().crypto_scalarmult(sk, pk);
  } catch (e) {
    throw new ProtocolViolation('bad-key', `X25519 rejected the public key: ${e.message}`);
  }
}

/** Pair key = KDF(X25519(sk, pk); "agree", session, purpose, min id, max id). */
export function agree(sk, myId, pk, peerId, session, purpose) {
  const [lo, hi] = myId < peerId ? [myId, peerId] : [peerId, myId];
  return hash(frame('agree', session, purpose, lo, hi), x25519(sk, pk));
}

// --- Ed25519 ---------------------------------------------------------------------------
export class SigningKey {
  constructor(seed) {
    if (seed.length !== 32) throw new Error('Ed25519 seed must be 32 bytes');
    const kp = sodium().crypto_sign_seed_keypair(seed);
    this.verifyKey = kp.publicKey;
    this.sk = kp.privateKey;
  }

  sign(message) { return sodium().crypto_sign_detached(message, this.sk); }
}

export function verify(vk, message, sig) {
  if (!vk || vk.length !== 32 || !sig || sig.length !== 64) return false;
  try {
    return sodium().crypto_sign_verify_detached(sig, message, vk);
  } catch (e) {
    return false;
  }
}

// --- AEAD ------------------------------------------------------------------------------
/** nonce (24) || XChaCha20-Poly1305(key, plaintext, ad). */
export function seal(key, plaintext, ad, rng) {
  const nonce = rng.bytes(24);
  return concat(nonce, sodium().crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key));
}

export function openSealed(key, box, ad) {
  if (box.length < 40 || key.length !== 32) throw new DecryptionError('ciphertext too short');
  try {
    return sodium().crypto_aead_xchacha20poly1305_ietf_decrypt(null, box.subarray(24), ad, box.subarray(0, 24), key);
  } catch (e) {
    throw new DecryptionError('authentication failed (tampered, replayed or misrouted)');
  }
}

// --- tokens (verifiable OPRF on edwards25519, the mirror of tokens.py) -----------------------
function scalar(rng) {
  for (;;) {
    const s = sodium().crypto_core_ed25519_scalar_reduce(rng.bytes(64));
    if (s.some((x) => x)) return s;
  }
}

function hashScalar(...parts) {
  return sodium().crypto_core_ed25519_scalar_reduce(hash(frame(TOKEN_DOMAIN, 'dleq', ...parts), undefined, 64));
}

export function validPoint(p) {
  return p instanceof Uint8Array && p.length === 32 && sodium().crypto_core_ed25519_is_valid_point(p);
}

/** P = map(H0(data)) + map(H1(data)) on the main subgroup. */
export function hashToPoint(data) {
  const h = hash(frame(TOKEN_DOMAIN, 'h2c', data), undefined, 64);
  const s = sodium();
  return s.crypto_core_ed25519_add(s.crypto_core_ed25519_from_uniform(h.slice(0, 32)), s.crypto_core_ed25519_from_uniform(h.slice(32)));
}

const mul = (k, p) => sodium().crypto_scalarmult_ed25519_noclamp(k, p);
const base = (k) => sodium().crypto_scalarmult_ed25519_base_noclamp(k);

/** A pending token request: the blinded element B = r·H(pk) and its blind r. */
export class TokenRequest {
  constructor(pk, rng) {
    this.pk = pk;
    this.r = scalar(rng);
    this.blinded = mul(this.r, hashToPoint(pk));
  }

  /** Check the collector's Chaum–Pedersen proof and unblind: T = r⁻¹·Z = k·H(pk). */
  finish(issuerPublic, evaluation) {
    if (evaluation.length !== 96 || !validPoint(issuerPublic)) throw new ConsistencyError('token evaluation malformed');
    const z = evaluation.slice(0, 32), c = evaluation.slice(32, 64), s = evaluation.slice(64);
    if (!validPoint(z)) throw new ConsistencyError('token evaluation is not a valid point');
    const so = sodium();
    let a1, a2;
    try {
      a1 = so.crypto_core_ed25519_add(base(s), mul(c, issuerPublic));
      a2 = so.crypto_core_ed25519_add(mul(s, this.blinded), mul(c, z));
    } catch (e) {
      throw new ConsistencyError('token proof does not verify');
    }
    if (!equal(hashScalar(issuerPublic, this.blinded, z, a1, a2), c)) {
      throw new ConsistencyError('token proof does not verify (the collector used another key)');
    }
    return mul(so.crypto_core_ed25519_scalar_invert(this.r), z);
  }
}

/* Node side of the cross-language known-answer tests (driven by tests/privacy/test_js_client.py).
 *
 *   node run.mjs vectors < inputs.json   -> JSON: what the JS modules compute for Python's inputs,
 *                                            and what JS produces with OS randomness for Python to verify
 *   node run.mjs replay  < case.json     -> JSON: a seeded JS client fed Python's frames, step by step
 *                                            (an object {session, client_seed} instead of a frame: a new session)
 *   node run.mjs replay-many < {name: case} -> JSON: {name: what replay gives}, each from a fresh client
 *
 * It loads the vendored libsodium and the site's modules exactly as the worker does. */

import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

if (!globalThis.crypto) globalThis.crypto = (await import('node:crypto')).webcrypto; // Node 18 (Debian's)
const here = path.dirname(fileURLToPath(import.meta.url));
const js = path.resolve(here, '../../../site_src/static/js');
const load = (p) => import(pathToFileURL(path.join(js, p)).href);
const sodium = (await load('vendor/libsodium/libsodium-wrappers.mjs')).default;
await sodium.ready;
const C = await load('privacy/crypto.js');
const W = await load('privacy/wire.js');
const A = await load('privacy/secagg.js');
const H = await load('privacy/channel.js');
C.init(sodium);

const { hex, unhex } = C;
const te = new TextEncoder();
const input = JSON.parse(readFileSync(0, 'utf8'));

/** JSON value -> JS: {"hex": ".."} bytes, {"map": {k: hex}}, {"int": n} (bigint-safe). */
function arg(v) {
  if (Array.isArray(v)) return v.map(arg);
  if (v && typeof v === 'object' && 'hex' in v) return unhex(v.hex);
  if (v && typeof v === 'object' && 'map' in v) return new Map(Object.entries(v.map).map(([k, x]) => [Number(k), unhex(x)]));
  return v;
}

function out(v) {
  if (v instanceof Uint8Array) return hex(v);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, out(x)]));
  if (Array.isArray(v)) return v.map(out);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, out(x)]));
  return v;
}

function vectors(inp) {
  const res = {};
  for (const [name, [fn, args]] of Object.entries(inp.calls)) {
    const a = args.map(arg);
    res[name] = out(CALLS[fn](...a));
  }
  res.decoded = Object.fromEntries(Object.entries(inp.frames).map(([k, f]) => {
    const m = W.decode(unhex(f));
    return [k, { kind: m.kind, reencoded: hex(W.encode(m)) }];
  }));
  res.refused = Object.fromEntries(Object.entries(inp.bad_frames).map(([k, f]) => {
    try { W.decode(unhex(f)); return [k, 'accepted']; } catch (e) { return [k, e.reason || e.message]; }
  }));
  res.produced = out(produce());
  return res;
}

const CALLS = {
  frame: (...parts) => C.frame(...parts.map((p) => (typeof p === 'object' && p !== null && 'int' in p ? p.int : p))),
  hash: (data, key, size) => C.hash(data, key, size),
  kdf: (secret, ...ctx) => C.kdf(secret, ...ctx),
  prg_seed: (key, session, rnd, purpose, a, b, length) => C.prgSeed(key, session, rnd, purpose, [a, b], length),
  prg: (seed, n) => C.prg(seed, n),
  rng_bytes: (seed, sizes) => { const r = new C.RandomSource(seed); return sizes.map((n) => r.bytes(n)); },
  rng_sample: (seed, n, k) => new C.RandomSource(seed).sample(n, k),
  x25519_pub: (sk) => sodium.crypto_scalarmult_base(sk),
  agree: (sk, me, pk, peer, session, purpose) => C.agree(sk, me, pk, peer, session, purpose),
  ed25519: (seed, message) => { const k = new C.SigningKey(seed); return [k.verifyKey, k.sign(message)]; },
  seal: (key, pt, ad, seed) => C.seal(key, pt, ad, new C.RandomSource(seed)),
  open: (key, box, ad) => C.openSealed(key, box, ad),
  hash_to_point: (data) => C.hashToPoint(data),
  token: (pk, seed, issuer, evaluation) => { const r = new C.TokenRequest(pk, new C.RandomSource(seed)); return [r.blinded, evaluation ? r.finish(issuer, evaluation) : new Uint8Array(0)]; },
  pseudonym: (pk) => H.pseudonymOf(pk),
  slot_tag: (session, rnd, idx, nonce, m) => H.slotTag(session, rnd, idx, nonce, m),
  share: (secrets, holders, t, seed) => A.shamirShare(secrets, holders, t, new C.RandomSource(seed)),
  commitments: (session, dealer, holder, blob) => A.commitmentsOf(session, dealer, holder, blob),
  secret_commitment: (session, dealer, index, secret) => A.secretCommitment(session, dealer, index, secret),
  pair_seed: (key, session, rnd, u, v, length) => A.pairSeed(key, session, rnd, u, v, length),
  self_seed: (b, session, rnd, u, length) => A.selfSeed(b, session, rnd, u, length),
  start_digest: (f) => A.startDigest(W.decode(f)),
  chain: (session, keylist, steps) => {
    const c = new A.Chain(session, keylist);
    const heads = [c.head];
    for (const [start, surv, result] of steps) heads.push(c.extend(W.decode(unhex(start)), surv, unhex(result)));
    return heads;
  },
  advertise_payload: (...a) => A.advertisePayload(...a),
  consistency_payload: (session, rnd, digest, live, surv, chain) => A.consistencyPayload(session, rnd, digest, live, surv, chain),
  shares_ad: (...a) => A.sharesAd(...a),
  post: (seed, session, uid, body) => W.wrapPost(new C.SigningKey(seed), session, uid, body),
  poll_payload: (session, uid, seq) => W.pollPayload(session, uid, seq),
  profile: (ratings, seed, collection, token) => new H.Profile(ratings, new C.RandomSource(seed)).messages(collection, token),
};

/** What JS makes with OS randomness, for Python to verify (JS produces, Python verifies). */
function produce() {
  const rng = new C.RandomSource();
  const seed = rng.bytes(32), key = new C.SigningKey(seed), message = rng.bytes(77);
  const aeadKey = rng.bytes(32), ad = te.encode('shares'), pt = rng.bytes(100);
  const [skA, pkA] = C.x25519Keypair(rng);
  const [skB, pkB] = C.x25519Keypair(rng);
  const session = rng.bytes(16);
  const secrets = [rng.bytes(32), rng.bytes(32), rng.bytes(32)];
  const holders = [0, 2, 3, 7, 9];
  const profile = new H.Profile([[5, 1], [1048575, 15], [17, 10]], rng);
  const collection = sodium.crypto_scalarmult_ed25519_base_noclamp(sodium.crypto_core_ed25519_scalar_reduce(rng.bytes(64)));
  const token = new C.TokenRequest(profile.pk, rng);
  return {
    vk: key.verifyKey, message, sig: key.sign(message),
    aead_key: aeadKey, ad, plaintext: pt, box: C.seal(aeadKey, pt, ad, rng),
    x_sk_a: skA, x_pk_a: pkA, x_sk_b: skB, x_pk_b: pkB, session, agree_ab: C.agree(skA, 3, pkB, 8, session, 'share-enc'),
    secrets, holders, shares: A.shamirShare(secrets, holders, 3, rng),
    commitments: A.commitmentsOf(session, 1, 2, A.shamirShare(secrets, [1, 2, 3], 2, rng).get(2)),
    collection, parts: profile.messages(collection, collection), pk: profile.pk,
    blinded: token.blinded,
    frames: Object.fromEntries(Object.keys(W.KINDS).map((k) => [k, W.encode(sample(k, session, rng))])),
  };
}

function sample(kind, session, rng) {
  const m = { kind, session };
  for (const [name, enc] of W.KINDS[kind].slice(1)) {
    if (enc === 'u32') m[name] = 7;
    else if (enc === 'bytes') m[name] = rng.bytes(9);
    else if (enc === 'str') m[name] = 'reserve-é';
    else if (enc === 'ids') m[name] = [1, 4, 9];
    else m[name] = new Map([[2, rng.bytes(3)], [5, new Uint8Array(0)]]);
  }
  return m;
}

/** A seeded JS client fed Python's frames: its replies, or the error it raised, per step. */
function replay(c) {
  const t0 = performance.now();
  const roster = new Map(Object.entries(c.roster).map(([u, k]) => [Number(u), unhex(k)]));
  const contributor = new H.Contributor(c.ratings, H.PARAMS, new C.RandomSource(unhex(c.contrib_seed)));
  const clientOf = (session, seed) => {
    const cl = new A.SecAggClient(c.uid, unhex(c.id_seed), roster, unhex(session), c.t, contributor, {
      rng: new C.RandomSource(unhex(seed)), maxRounds: c.max_rounds,
    });
    contributor.attach(cl);
    return cl;
  };
  let client = clientOf(c.session, c.client_seed);
  const steps = [hex(client.start())];
  for (const f of c.frames) {
    if (typeof f === 'object') { // a second session of the same collection: the same contributor, a fresh client
      client = clientOf(f.session, f.client_seed);
      steps.push(hex(client.start()));
      continue;
    }
    try {
      const r = client.receive(unhex(f));
      steps.push(r === null ? null : hex(r));
    } catch (e) {
      steps.push({ error: e.constructor.name, reason: e.reason || null, message: e.message });
      break;
    }
  }
  contributor.sync();
  return { ms: performance.now() - t0, steps, pending: contributor.pending.length, messages: contributor.messages.length, events: contributor.events, phase: client.phase };
}

/** The lobby's roster checks and proof of work (lobby.js) on Python-made rosters. */
async function lobby(c) {
  const L = await load('privacy/lobby.js');
  const pow = c.pow.map(([ch, cat, key, nonce]) => [hex(L.powDigest(unhex(ch), cat, unhex(key), unhex(nonce))), L.zeroBits(L.powDigest(unhex(ch), cat, unhex(key), unhex(nonce)))]);
  const solved = L.solvePow(unhex(c.solve.challenge), c.solve.catalog, unhex(c.solve.key), c.solve.bits, new Uint8Array(8));
  const enroll = hex(L.enrollPayload(unhex(c.solve.challenge), c.solve.catalog, unhex(c.solve.key)));
  const rosters = Object.fromEntries(Object.entries(c.rosters).map(([name, r]) => {
    try {
      const ok = L.checkRoster(r, { key: unhex(c.key), lobbyKey: unhex(c.lobby_key), catalog: c.catalog, minCohort: c.min_cohort, rounds: 9 });
      return [name, { uid: ok.uid, session: hex(ok.session), t: ok.t, n: ok.roster.size, deadline: ok.deadline }];
    } catch (e) { return [name, { refused: e.reason || e.message }]; }
  }));
  return { pow, solved: hex(solved), enroll, rosters };
}

const cmd = process.argv[2];
const result = cmd === 'vectors' ? vectors(input) : cmd === 'lobby' ? await lobby(input)
  : cmd === 'replay-many' ? Object.fromEntries(Object.entries(input).map(([name, c]) => [name, replay(c)])) : replay(input);
process.stdout.write(JSON.stringify(result));

/* I/O-free client state machine of secure aggregation: the mirror of secagg_client.py,
 * secagg_common.py, groups.py, shamir.py (dealing only) and vss.py (commitments).
 * `receive(frame)` returns the reply frame or null and throws ProtocolViolation,
 * ConsistencyError or DecryptionError exactly where the Python client does. */

import {
  ConsistencyError, DecryptionError, ProtocolViolation, RandomSource, SigningKey, agree, concat, equal, frame, hash, hex,
  openSealed, prg, prgSeed, seal, u32, verify, x25519Keypair,
} from './crypto.js';
import { decode, encode, msg } from './wire.js';

// --- groups (groups.py) ------------------------------------------------------------------
const ARRAYS = { add8: Uint8Array, add16: Uint16Array, add32: Uint32Array, add64: BigUint64Array, xor: Uint8Array };
const DTYPES = { add8: 'uint8', add16: 'uint16', add32: 'uint32', add64: 'uint64', xor: 'uint8' }; // numpy's names, in refusals
const MAX_LENGTH = 2 ** 28;

export function arrayType(group) {
  const T = ARRAYS[group];
  if (!T) throw new ProtocolViolation('bad-format', `unknown group '${group}'`);
  return T;
}

export function checkLength(group, length) {
  if (!(length > 0 && length <= MAX_LENGTH)) throw new ProtocolViolation('bad-length', `vector length ${length}`);
  arrayType(group);
}

/** The group vector of little-endian wire bytes (a copy). */
export function fromBytes(group, data, length) {
  const T = arrayType(group);
  if (data.length !== length * T.BYTES_PER_ELEMENT) throw new ProtocolViolation('bad-length', `${data.length} bytes for ${length} x ${DTYPES[group]}`);
  return new T(data.slice().buffer); // typed arrays are little-endian on every browser platform
}

export const toBytes = (v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();

function applyMasks(group, x, selfSeed, plus, minus) {
  const T = arrayType(group), n = x.length, y = x.slice();
  const mask = (seed) => new T(prg(seed, n * T.BYTES_PER_ELEMENT).buffer);
  const xor = group === 'xor';
  for (const [seeds, sign] of [[[selfSeed, ...plus], 1], [minus, -1]]) {
    for (const s of seeds) {
      const m = mask(s);
      if (xor) for (let i = 0; i < n; i++) y[i] ^= m[i];
      else if (sign > 0) for (let i = 0; i < n; i++) y[i] += m[i]; // stores wrap modulo 2^k
      else for (let i = 0; i < n; i++) y[i] -= m[i];
    }
  }
  return y;
}

// --- Shamir dealing over GF(2^31 - 1) and hash commitments (shamir.py, vss.py) ---------------
const P = 2 ** 31 - 1;
const CHUNKS = 11;
export const SHARE_BYTES = 4 * CHUNKS;

function fieldElements(rng, count) {
  const draw = (k) => { const b = rng.bytes(4 * k), dv = new DataView(b.buffer, b.byteOffset); return Array.from({ length: k }, (_, j) => (dv.getUint32(4 * j, true) & P) >>> 0); };
  const out = draw(count);
  let badIdx = out.flatMap((v, j) => (v === P ? [j] : []));
  while (badIdx.length) {
    const redo = draw(badIdx.length);
    badIdx.forEach((j, q) => { out[j] = redo[q]; });
    badIdx = badIdx.filter((j) => out[j] === P);
  }
  return out;
}

/** Share each 32-byte secret t-of-len(holders): holder -> its K shares concatenated. */
export function shamirShare(secrets, holders, t, rng) {
  const k = secrets.length;
  const c0 = secrets.map((s) => {
    const b = concat(s, new Uint8Array(1));
    return Array.from({ length: CHUNKS }, (_, c) => (b[3 * c] << 16) | (b[3 * c + 1] << 8) | b[3 * c + 2]);
  });
  const coeffs = fieldElements(rng, (t - 1) * k * CHUNKS); // (t-1, k, C), row-major
  const out = new Map();
  for (const h of holders) {
    const x = h + 1; // < 2^16: every product below stays exact in a double
    const blob = new Uint8Array(k * SHARE_BYTES), dv = new DataView(blob.buffer);
    for (let s = 0; s < k; s++) {
      for (let c = 0; c < CHUNKS; c++) {
        let acc = 0;
        for (let j = t - 2; j >= 0; j--) acc = ((acc + coeffs[(j * k + s) * CHUNKS + c]) * x) % P;
        dv.setUint32(4 * (s * CHUNKS + c), (acc + c0[s][c]) % P);
      }
    }
    out.set(h, blob);
  }
  return out;
}

export function commitmentsOf(session, dealer, holder, blob) {
  const parts = [];
  for (let k = 0; k < blob.length / SHARE_BYTES; k++) {
    parts.push(hash(frame('share-commit', session, dealer, holder, k, blob.subarray(k * SHARE_BYTES, (k + 1) * SHARE_BYTES)), undefined, 16));
  }
  return concat(...parts);
}

export const secretCommitment = (session, dealer, index, secret) => hash(frame('secret-commit', session, dealer, index, secret), undefined, 32);

// --- signed payloads, seeds, hash chain (secagg_common.py) -----------------------------------
const ids = (xs) => concat(...[...xs].sort((a, b) => a - b).map(u32));
export const advertisePayload = (session, uid, cPk, sPk, ext) => frame('advertise', session, uid, cPk, sPk, ext);
export const consistencyPayload = (session, rnd, digest, live, survivors, chain) => frame('consistency', session, rnd, digest, ids(live), ids(survivors), chain);
export const sharesAd = (session, sender, recipient) => frame('shares', session, sender, recipient);
export const pairSeed = (key, session, rnd, u, v, length) => prgSeed(key, session, rnd, 'pair-mask', [Math.min(u, v), Math.max(u, v)], length);
export const selfSeed = (b, session, rnd, u, length) => prgSeed(b, session, rnd, 'self-mask', [u, u], length);
export const startDigest = (start) => hash(frame('round-start', encode(start)));

export class Chain {
  constructor(session, keylistFrame) { this.session = session; this.head = hash(frame('chain-setup', session, keylistFrame)); }

  extend(start, survivors, result) {
    this.head = hash(frame('chain-round', this.session, this.head, startDigest(start), ids(survivors), hash(result)));
    return this.head;
  }
}

// --- the client ------------------------------------------------------------------------------
const ENTRY = 128; // c_pk | s_pk | sig, then the advertisement's ext
const DONE = { advertised: 0, shared: 1, ready: 2 };
const subset = (a, b) => [...a].every((x) => b.has(x));

export class SecAggClient {
  /** `roster`: Map uid -> Ed25519 verify key; `channel`: the anonymous channel's Contributor
   * (input, setup hooks, opening policy); `openable`: purposes whose input is kept. */
  constructor(uid, identitySeed, roster, session, threshold, channel, { rng = new RandomSource(), maxRounds = 8, openable = new Set(['reserve']) } = {}) {
    if (!(threshold >= 2 && threshold <= roster.size && 2 * threshold > roster.size)) throw new ProtocolViolation('not-allowed', `threshold ${threshold} for ${roster.size} users`);
    if (!roster.has(uid)) throw new Error('uid not in roster');
    Object.assign(this, { uid, roster, session, t: threshold, channel, rng, maxRounds, openable });
    this.idKey = new SigningKey(identitySeed);
    this.phase = 'init';
    this.nextRound = 0;
    this.live = [];
    this.rounds = new Map();
    this.bRevealed = new Set();
    this.sRevealed = new Set();
    this.failedDealers = new Set();
    this.aborted = null;
  }

  start() {
    if (this.phase !== 'init') throw new ProtocolViolation('out-of-order', 'already started');
    [this.cSk, this.cPk] = x25519Keypair(this.rng);
    [this.sSk, this.sPk] = x25519Keypair(this.rng);
    this.b = Array.from({ length: this.maxRounds }, () => this.rng.bytes(32));
    this.ext = this.channel.advertiseExt();
    const sig = this.idKey.sign(advertisePayload(this.session, this.uid, this.cPk, this.sPk, this.ext));
    this.phase = 'advertised';
    return encode(msg('Advertise', { session: this.session, sender: this.uid, c_pk: this.cPk, s_pk: this.sPk, ext: this.ext, sig }));
  }

  receive(data) {
    const m = decode(data);
    if (!equal(m.session, this.session)) throw new ProtocolViolation('foreign-session', hex(m.session));
    if (m.kind === 'Abort') { this.aborted = m.reason; this.phase = 'aborted'; return null; }
    if (this.phase === 'dropped' && m.kind === 'RoundStart' && !m.live.includes(this.uid)) return null;
    if (this.phase === 'aborted' || this.phase === 'dropped') throw new ProtocolViolation('stale', `session ${this.phase}`);
    const handler = this['on' + m.kind];
    if (!handler) throw new ProtocolViolation('out-of-order', m.kind);
    this.frame = data;
    const out = handler.call(this, m);
    return out ? encode(out) : null;
  }

  expect(phase, what) {
    if (this.phase !== phase) {
      if ((DONE[this.phase] ?? 3) > (DONE[phase] ?? 3)) throw new ProtocolViolation('duplicate', `${what} already processed`);
      throw new ProtocolViolation('out-of-order', `${what} in phase ${this.phase}`);
    }
  }

  onKeyList(m) {
    this.expect('advertised', 'key list');
    if (m.keys.size < this.t) throw new ProtocolViolation('not-allowed', `${m.keys.size} keys < t=${this.t}`);
    const mine = m.keys.get(this.uid);
    if (!mine || !equal(mine.subarray(0, 64), concat(this.cPk, this.sPk)) || !equal(mine.subarray(ENTRY), this.ext)) {
      throw new ConsistencyError("server dropped or altered this client's own keys");
    }
    this.encKey = new Map();
    this.maskKey = new Map();
    for (const [v, blob] of m.keys) {
      if (!this.roster.has(v)) throw new ProtocolViolation('unknown-sender', String(v));
      if (blob.length < ENTRY) throw new ProtocolViolation('bad-format', 'key entry length');
      const cPk = blob.subarray(0, 32), sPk = blob.subarray(32, 64), sig = blob.subarray(64, ENTRY), ext = blob.subarray(ENTRY);
      if (!verify(this.roster.get(v), advertisePayload(this.session, v, cPk, sPk, ext), sig)) {
        throw new ProtocolViolation('bad-signature', `advertised keys of user ${v}`);
      }
      if (v !== this.uid) {
        this.encKey.set(v, agree(this.cSk, this.uid, cPk, v, this.session, 'share-enc'));
        this.maskKey.set(v, agree(this.sSk, this.uid, sPk, v, this.session, 'pair-mask'));
      }
    }
    this.keylistExt = m.ext;
    this.chain = new Chain(this.session, this.frame);
    this.live = [...m.keys.keys()].sort((a, b) => a - b);
    const blobs = shamirShare([this.sSk, ...this.b], this.live, this.t, this.rng);
    const cts = new Map(), commits = new Map();
    for (const v of this.live) {
      commits.set(v, commitmentsOf(this.session, this.uid, v, blobs.get(v)));
      if (v === this.uid) this.own = blobs.get(v);
      else cts.set(v, seal(this.encKey.get(v), concat(u32(this.uid), u32(v), blobs.get(v)), sharesAd(this.session, this.uid, v), this.rng));
    }
    const secretCommits = concat(...this.b.map((b, r) => secretCommitment(this.session, this.uid, 1 + r, b)));
    this.phase = 'shared';
    return msg('ShareKeys', { session: this.session, sender: this.uid, cts, commits, secret_commits: secretCommits });
  }

  onShareBundle(m) {
    this.expect('shared', 'share bundle');
    if (m.recipient !== this.uid) throw new ProtocolViolation('not-allowed', 'bundle for another user');
    const size = 8 + (1 + this.maxRounds) * SHARE_BYTES;
    this.held = new Map([[this.uid, this.own]]);
    const acks = new Map([[this.uid, commitmentsOf(this.session, this.uid, this.uid, this.own)]]);
    for (const [v, box] of m.cts) {
      if (!this.encKey.has(v)) { this.failedDealers.add(v); continue; }
      let body;
      try {
        body = openSealed(this.encKey.get(v), box, sharesAd(this.session, v, this.uid));
      } catch (e) {
        if (!(e instanceof DecryptionError)) throw e;
        this.failedDealers.add(v); // not acknowledged: the server treats it as dropped
        continue;
      }
      const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (body.length !== size || dv.getUint32(0) !== v || dv.getUint32(4) !== this.uid) { this.failedDealers.add(v); continue; }
      this.held.set(v, body.slice(8));
      acks.set(v, commitmentsOf(this.session, v, this.uid, body.subarray(8)));
    }
    for (const v of this.encKey.keys()) if (!m.cts.has(v)) this.failedDealers.add(v);
    this.channel.onSetup(this.keylistExt, m.ext);
    this.phase = 'ready';
    return msg('ShareAck', { session: this.session, sender: this.uid, commits: acks });
  }

  round(r, what) {
    const rd = this.rounds.get(r);
    if (!rd) throw new ProtocolViolation(r < this.nextRound ? 'stale' : 'out-of-order', `${what} for round ${r}`);
    return rd;
  }

  onRoundStart(m) {
    if (this.phase !== 'ready') throw new ProtocolViolation('out-of-order', 'round before key setup');
    if (m.round < this.nextRound) throw new ProtocolViolation(this.rounds.has(m.round) ? 'duplicate' : 'stale', `round ${m.round}`);
    if (!m.live.includes(this.uid)) { this.phase = 'dropped'; return null; }
    if (m.round !== this.nextRound || (this.rounds.size && this.rounds.get(m.round - 1).result === null)) {
      throw new ProtocolViolation('out-of-order', `round ${m.round}, expected ${this.nextRound}`);
    }
    if (m.round >= this.maxRounds) throw new ProtocolViolation('not-allowed', 'no self-mask secret left for this round');
    if (!equal(m.prev, this.chain.head)) {
      throw new ConsistencyError(`round ${m.round} does not continue this client's hash chain (the server showed it a different earlier result)`);
    }
    checkLength(m.group, m.length);
    if (!subset(m.live, new Set(this.live)) || m.live.length < this.t) throw new ProtocolViolation('not-allowed', 'live set not a subset of the last survivors');
    const x = this.channel.input(m);
    if (!(x instanceof arrayType(m.group)) || x.length !== m.length) throw new Error('input vector has the wrong type or length');
    const plus = [], minus = [];
    for (const v of m.live) {
      if (v !== this.uid) (this.uid < v ? plus : minus).push(pairSeed(this.maskKey.get(v), this.session, m.round, this.uid, v, m.length));
    }
    const y = applyMasks(m.group, x, selfSeed(this.b[m.round], this.session, m.round, this.uid, m.length), plus, minus);
    this.rounds.set(m.round, { start: m, digest: startDigest(m), x: this.openable.has(m.purpose) ? x : null, survivors: null, unmasked: false, opened: false, result: null });
    this.nextRound = m.round + 1;
    return msg('MaskedInput', { session: this.session, round: m.round, sender: this.uid, vector: toBytes(y) });
  }

  onSurvivorSet(m) {
    const rd = this.round(m.round, 'survivor set');
    if (rd.unmasked || (rd.survivors && rd.survivors.join() === m.survivors.join())) throw new ProtocolViolation('duplicate', 'survivor set');
    const surv = new Set(m.survivors);
    if (!surv.has(this.uid) || !subset(surv, new Set(rd.start.live)) || surv.size < this.t) throw new ConsistencyError('survivor set invalid (not a subset / below t)');
    if (rd.survivors && !(subset(surv, new Set(rd.survivors)) && surv.size < rd.survivors.length)) {
      throw new ConsistencyError('a repeated survivor set must shrink the one signed before');
    }
    rd.survivors = m.survivors;
    return msg('ConsistencySig', { session: this.session, round: m.round, sender: this.uid, sig: this.idKey.sign(this.payload(rd)) });
  }

  payload(rd) { return consistencyPayload(this.session, rd.start.round, rd.digest, rd.start.live, rd.survivors, this.chain.head); }

  onUnmaskRequest(m) {
    const rd = this.round(m.round, 'unmask request');
    if (!rd.survivors) throw new ProtocolViolation('out-of-order', 'unmask before consistency check');
    if (rd.unmasked) throw new ProtocolViolation('duplicate', 'unmasking is one-shot');
    const surv = new Set(rd.survivors), live = new Set(rd.start.live);
    if (m.sigs.size !== surv.size || !subset(m.sigs.keys(), surv)) throw new ConsistencyError('unmasking needs the consistency signature of every survivor');
    const payload = this.payload(rd);
    for (const [v, sig] of m.sigs) {
      if (!verify(this.roster.get(v), payload, sig)) {
        throw new ConsistencyError(`user ${v} signed a different view of round ${m.round} (survivors, parameters or earlier results)`);
      }
    }
    const bFor = new Set(m.b_for), sFor = new Set(m.s_for), seedFor = new Set(m.seed_for);
    const meets = (a, b) => [...a].some((x) => b.has(x));
    if (meets(bFor, sFor) || meets(bFor, this.sRevealed) || meets(sFor, this.bRevealed)) {
      throw new ProtocolViolation('both-shares', 'request would reveal both b and s of a user');
    }
    const dropped = new Set([...live].filter((v) => !surv.has(v)));
    const rest = new Set([...sFor, ...seedFor]);
    if (bFor.size !== surv.size || !subset(bFor, surv) || meets(sFor, seedFor) || rest.size !== dropped.size || !subset(rest, dropped)) {
      throw new ProtocolViolation('not-allowed', 'request does not match the survivor set');
    }
    rd.unmasked = true;
    bFor.forEach((v) => this.bRevealed.add(v));
    sFor.forEach((v) => this.sRevealed.add(v));
    this.live = [...surv].sort((a, b) => a - b);
    const shares = (set, k) => new Map([...set].filter((v) => this.held.has(v)).map((v) => [v, this.held.get(v).slice(k * SHARE_BYTES, (k + 1) * SHARE_BYTES)]));
    const seeds = new Map([...seedFor].map((v) => [v, pairSeed(this.maskKey.get(v), this.session, m.round, this.uid, v, rd.start.length)]));
    return msg('UnmaskResponse', { session: this.session, round: m.round, sender: this.uid, b_shares: shares(bFor, 1 + m.round), s_shares: shares(sFor, 0), seeds });
  }

  onRoundResult(m) {
    const rd = this.round(m.round, 'result');
    if (!rd.unmasked || rd.result !== null) throw new ProtocolViolation(rd.result !== null ? 'duplicate' : 'out-of-order', 'result');
    rd.result = fromBytes(rd.start.group, m.vector, rd.start.length);
    this.chain.extend(rd.start, rd.survivors, m.vector);
    return null;
  }

  onOpenRequest(m) {
    const rd = this.round(m.round, 'open request');
    if (rd.opened) throw new ProtocolViolation('duplicate', 'round already opened');
    if (rd.x === null) throw new ProtocolViolation('not-allowed', `round purpose '${rd.start.purpose}' is never opened`);
    if (m.round !== this.nextRound - 1 || rd.result === null) throw new ProtocolViolation('not-allowed', 'only the round just finished may be opened');
    if (!this.channel.openPolicy(rd.start, rd.result, rd.survivors)) {
      throw new ProtocolViolation('not-allowed', `the result of round ${m.round} this client received breaks no invariant`);
    }
    rd.opened = true;
    const L = rd.start.length;
    const seeds = new Map(rd.start.live.filter((v) => v !== this.uid).map((v) => [v, pairSeed(this.maskKey.get(v), this.session, m.round, this.uid, v, L)]));
    return msg('OpenResponse', { session: this.session, round: m.round, sender: this.uid, input: toBytes(rd.x), self_seed: selfSeed(this.b[m.round], this.session, m.round, this.uid, L), seeds });
  }

  result(r) { const rd = this.rounds.get(r); return rd ? rd.result : null; }

  opened(r) { const rd = this.rounds.get(r); return Boolean(rd && rd.opened); }

  survivors(r) { const rd = this.rounds.get(r); return rd ? rd.survivors : null; }
}

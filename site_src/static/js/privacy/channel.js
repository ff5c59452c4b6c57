/* The anonymous channel's client side: one contributor's profile (ratings_codec.py) and its
 * round inputs (contributor.py, anonymous.py). I/O-free; plugged into a SecAggClient as its
 * `channel`. The same parameters, layout and checks as the Python contributor. */

import { ConsistencyError, ProtocolViolation, RandomSource, SigningKey, TokenRequest, concat, equal, frame, hash, validPoint } from './crypto.js';
import { arrayType } from './secagg.js';

/** The marks round's group: a mark is a random non-zero 32-bit word (an eraser must guess it). */
export const MARKS_GROUP = 'add32';
export const randomMark = (rng) => 1 + rng.randbelow(2 ** 32 - 1);

export const PARAMS = Object.freeze({ msgBytes: 256, maxParts: 64, block: 16, budget: 4, load: 32, maxAttempts: 3 });
const HEADER = 70; // version u8 | pk 32 | token 32 | part u16 | parts u16 | count u8
const VERSION = 2;
export const MAX_ITEM = 2 ** 20 - 1;
export const capacity = (msgBytes = PARAMS.msgBytes) => Math.min(255, Math.floor((msgBytes - HEADER - 64) / 3));
export const rounds = (p = PARAMS) => 3 * p.maxAttempts;
const slotBytes = (p) => p.msgBytes + 32;

export const pseudonymOf = (pk) => hash(frame('pseudonym', pk), undefined, 16).slice(0, 8);

export const slotTag = (session, rnd, idx, nonce, m) => hash(frame('slot', session, rnd, idx, nonce, m), undefined, 16);

/** Why a reservation result is impossible for an honest cohort, or null (anonymous.py). */
export function reservationViolation(counts, survivors, budget) {
  let top = 0, total = 0;
  for (const c of counts) { top = Math.max(top, Number(c)); total += Number(c); }
  if (top > survivors) return `a block counter reads ${top} > ${survivors} survivors (a negative write)`;
  if (total !== budget * survivors) return `${total} blocks reserved, ${budget} x ${survivors} survivors expected`;
  return null;
}

/** A contributor's ratings as signed 256-byte parts of one pseudonymous profile. */
export class Profile {
  constructor(ratings, rng, p = PARAMS) {
    const items = ratings.map(([i, r]) => [i, r]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (const [i, r] of items) {
      if (!(Number.isInteger(i) && i >= 0 && i <= MAX_ITEM)) throw new RangeError(`item id ${i} outside [0, ${MAX_ITEM}]`);
      if (!(Number.isInteger(r) && r >= 0 && r <= 15)) throw new RangeError(`rating ${r} outside [0, 15]`);
    }
    const cap = capacity(p.msgBytes);
    const keep = items.slice(0, cap * p.maxParts);
    this.leftover = items.slice(cap * p.maxParts);
    this.chunks = [];
    for (let k = 0; k < keep.length; k += cap) this.chunks.push(keep.slice(k, k + cap));
    this.msgBytes = p.msgBytes;
    this.key = new SigningKey(rng.bytes(32));
    this.pk = this.key.verifyKey;
  }

  messages(collection, token) {
    return this.chunks.map((chunk, part) => {
      const body = new Uint8Array(this.msgBytes - 64), dv = new DataView(body.buffer);
      body[0] = VERSION;
      body.set(this.pk, 1);
      body.set(token, 33);
      dv.setUint16(65, part);
      dv.setUint16(67, this.chunks.length);
      body[69] = chunk.length;
      chunk.forEach(([i, r], k) => { const v = i * 16 + r; body.set([v >>> 16, (v >>> 8) & 255, v & 255], HEADER + 3 * k); });
      return concat(body, this.key.sign(frame('part', collection, body)));
    });
  }
}

/** One roster member's ratings, sent as one signed pseudonymous profile; `events` records what
 * it noticed (a cancelled block, an understated total), as contributor.Contributor does. */
export class Contributor {
  constructor(ratings, p = PARAMS, rng = new RandomSource()) {
    this.p = p;
    this.rng = rng;
    this.profile = new Profile(ratings, rng, p);
    this.leftover = this.profile.leftover;
    this.request = new TokenRequest(this.profile.pk, rng);
    this.collection = null;
    this.token = null;
    this.messages = [];
    this.pending = [];
    this.events = [];
    this.client = null;
  }

  attach(client) {
    this.client = client;
    this.blocks = new Map();
    this.placed = new Map();
    this.retry = new Map();
    this.written = new Map();
  }

  advertiseExt() { return this.token !== null ? new Uint8Array(0) : this.request.blinded; }

  onSetup(keylistExt, bundleExt) {
    if (!validPoint(keylistExt)) throw new ConsistencyError("the collector's token key is not a valid point");
    if (this.collection !== null && !equal(keylistExt, this.collection)) throw new ConsistencyError("the collector's token key changed within a collection");
    this.collection = keylistExt;
    if (this.token === null) {
      if (!bundleExt.length) throw new ConsistencyError('the collector issued no token to this contributor');
      this.token = this.request.finish(keylistExt, bundleExt);
      this.messages = this.profile.messages(keylistExt, this.token);
      this.pending = [...this.messages];
    }
  }

  openPolicy(start, result, survivors) {
    if (start.purpose !== 'reserve') return null;
    let why = reservationViolation(result, survivors.length, this.p.budget);
    if (!why && (this.blocks.get(start.round) || []).some((b) => Number(result[b]) === 0)) {
      why = 'a block this contributor reserved reads 0 (cancelled by a negative write)';
    }
    if (why) this.events.push(`round ${start.round}: ${why}; opening consented`);
    return why;
  }

  /** Drop the pending messages a published message-round result shows delivered; check every
   * published total of messages left against this contributor's own. */
  sync() {
    for (const [r, left] of [...this.retry]) {
      const res = this.client.result(r);
      if (res === null) continue;
      this.retry.delete(r);
      if (left && Number(res[res.length - 1]) === 0) this.events.push(`round ${r}: the flag of messages left reads 0 (cancelled): a contributor lied`);
    }
    const sz = slotBytes(this.p);
    for (const [r, writes] of [...this.written]) {
      const res = this.client.result(r);
      if (res === null) continue;
      this.written.delete(r);
      for (const [idx, content, m] of writes) {
        const k = this.pending.indexOf(m);
        if (equal(res.subarray(idx * sz, (idx + 1) * sz), content) && k >= 0) this.pending.splice(k, 1);
      }
    }
  }

  previous(st) {
    const prev = st.params.length === 4 ? new DataView(st.params.buffer, st.params.byteOffset).getUint32(0) : -1;
    if (prev !== st.round - 1) throw new ConsistencyError(`round ${st.round} (${st.purpose}) must build on round ${st.round - 1}, not ${prev}`);
    return [prev, this.client.result(prev)];
  }

  input(st) {
    this.sync();
    const x = new (arrayType(st.group))(st.length);
    if (st.purpose === 'reserve') {
      if (st.length < this.p.budget) throw new ConsistencyError('reservation table smaller than the budget');
      const blocks = this.rng.sample(st.length, this.p.budget);
      for (const b of blocks) x[b] = 1;
      this.blocks.set(st.round, blocks);
      return x;
    }
    if (st.purpose === 'marks') return this.marks(st, x);
    if (st.purpose === 'message') return this.message(st, x);
    throw new ProtocolViolation('bad-format', `unknown round purpose '${st.purpose}'`);
  }

  marks(st, x) {
    const [rr, counts] = this.previous(st);
    const blocks = this.blocks.get(rr);
    this.blocks.delete(rr);
    if (st.group !== MARKS_GROUP) throw new ConsistencyError(`a marks round must be ${MARKS_GROUP}, not ${st.group}`);
    if (counts === null || blocks === undefined || this.client.opened(rr)) {
      x[x.length - 1] = this.pending.length ? randomMark(this.rng) : 0; // an opened reservation is never written into
      return x;
    }
    const singles = [];
    counts.forEach((c, b) => { if (Number(c) === 1) singles.push(b); });
    const B = this.p.block;
    if (singles.length * B + 1 !== st.length) throw new ConsistencyError('marks round length disagrees with the reservation result');
    const todo = [...this.pending], placed = [];
    for (const b of blocks.filter((b) => Number(counts[b]) === 1).sort((a, b) => a - b)) {
      const base = singles.indexOf(b) * B;
      const n = Math.min(B, todo.length);
      for (let j = 0; j < n; j++) placed.push([base + j, randomMark(this.rng), todo.shift()]);
    }
    for (const [pos, mark] of placed) x[pos] = mark;
    x[x.length - 1] = todo.length ? randomMark(this.rng) : 0;
    this.placed.set(st.round, placed);
    this.retry.set(st.round, todo.length);
    return x;
  }

  message(st, x) {
    const [mr, marks] = this.previous(st);
    const placed = this.placed.get(mr) || [];
    this.placed.delete(mr);
    if (marks === null) return x;
    const slots = [];
    for (let i = 0; i < marks.length - 1; i++) if (marks[i] !== 0) slots.push(i);
    const sz = slotBytes(this.p);
    if (slots.length * sz !== st.length) throw new ConsistencyError('message round length disagrees with the marks result');
    const writes = [];
    for (const [pos, mark, m] of placed) {
      if (marks[pos] === 0) { this.events.push(`round ${mr}: a slot this contributor marked reads 0 (cancelled)`); continue; }
      if (marks[pos] !== mark) this.events.push(`round ${mr}: a slot this contributor marked was written by another`);
      const idx = slots.indexOf(pos);
      const nonce = this.rng.bytes(16);
      const content = concat(m, nonce, slotTag(st.session, st.round, idx, nonce, m));
      x.set(content, idx * sz);
      writes.push([idx, content, m]);
    }
    this.written.set(st.round, writes);
    return x;
  }

  /** How many of this contributor's ratings went out in delivered parts. */
  delivered() {
    this.sync();
    let n = 0;
    this.messages.forEach((m, k) => { if (!this.pending.includes(m)) n += this.profile.chunks[k].length; });
    return n;
  }
}

/* Enrollment without a pre-shared roster (the lobby of `mangarec privacy serve --lobby`):
 * the proof of work and the checks of a fixed, signed roster. Pure functions, no I/O; the
 * format is /work/wt/notes/lobby-api.md §2–3 (docs/privacy.md, "Lobby").
 *
 * What a visitor's client refuses, whatever the server says: a roster without its own key,
 * one smaller than the site's own minimum (privacy.min_cohort, published in collect.json,
 * never the server's word), keys not strictly ascending, a threshold outside (n/2, n], a
 * session id that is not the hash of the roster, a signature that does not hold under the
 * lobby key seen before enrolling, another catalog, another number of rounds, a phase deadline
 * (the most seconds the server may wait for the others in one phase) outside 1 … MAX_DEADLINE. */

import { ProtocolViolation, concat, equal, frame, hash, hex, prefixHasher, u32, unhex, verify } from './crypto.js';

export const MAX_DEADLINE = 3600; // lobby.MAX_DEADLINE: never wait longer for one phase

/** Leading zero bits of a digest (bit 7 of byte 0 first). */
export function zeroBits(d) {
  let n = 0;
  for (const b of d) {
    if (b === 0) { n += 8; continue; }
    return n + Math.clz32(b) - 24;
  }
  return n;
}

export const powDigest = (challenge, catalog, key, nonce) => hash(frame('lobby-pow', challenge, catalog, key, nonce));

/** An 8-byte nonce whose digest has `bits` leading zero bits, counting up from `start`
 * (random bytes). */
export function solvePow(challenge, catalog, key, bits, start) {
  const nonce = start.slice();
  const h = prefixHasher(concat(frame('lobby-pow', challenge, catalog, key), u32(8)), 8); // frame(..., nonce)
  for (;;) {
    if (zeroBits(h.digest(nonce)) >= bits) return nonce;
    for (let i = 7; i >= 0; i--) { nonce[i] = (nonce[i] + 1) & 255; if (nonce[i]) break; }
  }
}

export const enrollPayload = (challenge, catalog, key) => frame('lobby-enroll', challenge, catalog, key);

export function rosterPayload(r) {
  return frame('lobby-roster', unhex(r.nonce), r.catalog_hash, r.threshold, r.rounds, r.deadline, concat(...r.keys.map(unhex)));
}

/** Check a fixed roster (JSON as the lobby sends it); returns {uid, roster: Map, session, t, deadline}. */
export function checkRoster(r, { key, lobbyKey, catalog, minCohort, rounds }) {
  const badRoster = (why) => new ProtocolViolation('bad-roster', why);
  if (!r || !Array.isArray(r.keys) || typeof r.nonce !== 'string' || typeof r.session !== 'string' || typeof r.sig !== 'string') {
    throw badRoster('roster malformed');
  }
  let keys, sig, nonce;
  try {
    keys = r.keys.map(unhex);
    sig = unhex(r.sig);
    nonce = unhex(r.nonce);
  } catch (e) {
    throw badRoster('roster not hex');
  }
  if (nonce.length !== 16 || keys.some((k) => k.length !== 32)) throw badRoster('key or nonce length');
  for (let i = 1; i < r.keys.length; i++) if (!(r.keys[i - 1] < r.keys[i])) throw badRoster('keys not strictly ascending');
  if (r.catalog_hash !== catalog) throw badRoster('roster for another catalog');
  if (r.rounds !== rounds) throw badRoster(`roster runs ${r.rounds} rounds, this client ${rounds}`);
  const n = keys.length;
  if (!(Number.isInteger(r.threshold) && 2 * r.threshold > n && r.threshold <= n)) throw badRoster(`threshold ${r.threshold} for ${n} users`);
  if (!(Number.isInteger(r.deadline) && r.deadline >= 1 && r.deadline <= MAX_DEADLINE)) throw badRoster(`a phase deadline of ${r.deadline} s (at most ${MAX_DEADLINE})`);
  const payload = rosterPayload(r);
  if (!equal(hash(payload, undefined, 16), unhex(r.session))) throw badRoster('session id is not the hash of the roster');
  if (!verify(lobbyKey, payload, sig)) throw badRoster('roster not signed by the lobby key');
  const uid = r.keys.indexOf(hex(key));
  if (uid < 0) throw new ProtocolViolation('not-in-roster', "this contributor's key is not in the roster");
  if (n < minCohort) throw new ProtocolViolation('short-roster', `${n} contributors < this site's minimum of ${minCohort}`);
  return { uid, roster: new Map(keys.map((k, i) => [i, k])), session: unhex(r.session), t: r.threshold, deadline: r.deadline };
}

/* Enrollment in the lobby (I/O; the checks are lobby.js): a fresh identity key, the proof of
 * work solved here in the worker, the signed enrollment, then long-polls until the lobby fixes
 * a roster, which is checked against this site's own minimum before anything is sent. */

import { ProtocolViolation, RandomSource, SigningKey, hex, unhex } from './crypto.js';
import { PARAMS, rounds } from './channel.js';
import { checkRoster, enrollPayload, solvePow } from './lobby.js';
import { Unreachable, json, request } from './session.js';

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

/** Resolves to the Participant's job {base, uid, seed, roster, session, t, deadline} once a roster is fixed. */
export async function enroll(o, progress, timeout = 600) {
  const base = o.collectUrl.replace(/\/+$/, '');
  const end = Date.now() + timeout * 1000;
  for (;;) {
    if (Date.now() > end) throw new Unreachable('the lobby fixed no roster in time');
    let lobby;
    try {
      const r = await request(`${base}/v1/lobby?catalog=${encodeURIComponent(o.catalog)}`);
      if (r.status !== 200) throw new ProtocolViolation('not-allowed', `the lobby answered ${r.status}`);
      lobby = json(r.body);
    } catch (e) {
      if (!(e instanceof Unreachable)) throw e;
      await sleep(1000);
      continue;
    }
    const rng = new RandomSource();
    const seed = rng.bytes(32), key = new SigningKey(seed);
    const challenge = unhex(lobby.challenge), lobbyKey = unhex(lobby.lobby_key);
    progress({ stage: 'work', bits: lobby.pow_bits });
    const nonce = solvePow(challenge, o.catalog, key.verifyKey, lobby.pow_bits, rng.bytes(8));
    const body = JSON.stringify({ catalog_hash: o.catalog, key: hex(key.verifyKey), nonce: hex(nonce), sig: hex(key.sign(enrollPayload(challenge, o.catalog, key.verifyKey))) });
    let e = null, repeat = false;
    while (e === null) { // a network error: the same POST again (perhaps it was admitted)
      try {
        e = await request(base + '/v1/enroll', { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
      } catch (err) {
        if (!(err instanceof Unreachable) || Date.now() > end) throw err;
        repeat = true;
        await sleep(1000);
      }
    }
    if (e.status === 429 || e.status === 503) { await sleep(2000); continue; }
    const admitted = e.status === 200 || (repeat && e.status === 409 && json(e.body).reason === 'duplicate');
    if (!admitted) throw new ProtocolViolation('not-allowed', `enrollment refused (${e.status})`);
    for (;;) { // keep polling with this key, whatever the network does: a key abandoned here would
      // end up in a roster as a member that never speaks; one not polled for 20 s leaves the lobby
      let w;
      try { w = await request(`${base}/v1/wait?key=${hex(key.verifyKey)}`, {}, 15000); } catch (err) { if (err instanceof Unreachable) { await sleep(1000); continue; } throw err; }
      if (w.status === 404) break; // the lobby restarted or forgot this key: enroll again
      if (w.status !== 200) { await sleep(1000); continue; }
      const s = json(w.body);
      if (s.state === 'waiting') { progress({ stage: 'waiting', waiting: s.waiting, min: Math.max(s.min_cohort, o.minCohort) }); continue; }
      const fixed = checkRoster(s.roster, { key: key.verifyKey, lobbyKey, catalog: o.catalog, minCohort: o.minCohort, rounds: rounds(PARAMS) });
      return { base, seed, ...fixed }; // uid, roster, session, t, deadline
    }
  }
}

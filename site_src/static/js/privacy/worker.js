/* The contributor's Web Worker: loads libsodium (only now, when the visitor contributes),
 * then runs the protocol off the page's thread and posts where it stands.
 *
 * Messages in:  {start: {sodium, ratings, minCohort, catalog, collectUrl}}          (the lobby)
 *               {start: {sodium, ratings, server, uid, seed, roster}}             (a fixed roster)
 * Messages out: {progress: {...}}, {receipt: {...}}, {error: "..."}
 * Closing the tab ends the worker: the server counts this contributor as dropped. */

import * as C from './crypto.js';
import { Participant } from './session.js';
import { enroll } from './enroll.js';

const MAX_ENROLLMENTS = 4;

async function start(o) {
  const mod = await import(o.sodium);
  const sodium = mod.default || mod;
  await sodium.ready;
  C.init(sodium);
  const progress = (p) => postMessage({ progress: p });
  for (let k = 0; k < MAX_ENROLLMENTS; k++) {
    let job;
    if (o.roster) {
      const roster = new Map(Object.entries(o.roster).map(([u, key]) => [Number(u), C.unhex(key)]));
      job = { base: o.server, uid: o.uid, seed: C.unhex(o.seed), roster };
    } else {
      job = await enroll(o, progress);
    }
    const receipt = await new Participant({ ...job, ratings: o.ratings, timeout: o.timeout || 60, progress }).run();
    if (!receipt.reenroll) { postMessage({ receipt }); return; }
    progress({ stage: 'restart' }); // the lobby restarted: a new key, a new enrollment
  }
  postMessage({ error: 'no collection completed', reason: null });
}

self.onmessage = (ev) => {
  if (!ev.data || !ev.data.start) return;
  start(ev.data.start).catch((e) => postMessage({ error: `${e.constructor.name}: ${e.message}`, reason: e.reason || null }));
};

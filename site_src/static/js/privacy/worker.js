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

async function start(o) {
  const mod = await import(o.sodium);
  const sodium = mod.default || mod;
  await sodium.ready;
  C.init(sodium);
  const progress = (p) => postMessage({ progress: p });
  let job;
  if (o.roster) {
    const roster = new Map(Object.entries(o.roster).map(([u, k]) => [Number(u), C.unhex(k)]));
    job = { base: o.server, uid: o.uid, seed: C.unhex(o.seed), roster };
  } else {
    job = await enroll(o, progress);
  }
  const p = new Participant({ ...job, ratings: o.ratings, timeout: o.timeout || 60, progress });
  postMessage({ receipt: await p.run() });
}

self.onmessage = (ev) => {
  if (!ev.data || !ev.data.start) return;
  start(ev.data.start).catch((e) => postMessage({ error: `${e.constructor.name}: ${e.message}`, reason: e.reason || null }));
};

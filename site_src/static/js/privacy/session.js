/* A contributor over HTTP: the mirror of http_client.Participant (fetch instead of urllib).
 * Every POST and poll is signed with the identity key over the session id; POSTs and polls
 * are retried until `timeout` seconds pass without progress, plus the session's phase deadline
 * (signed into a lobby's roster, else the server's status, at most MAX_DEADLINE); every request has its own
 * deadline (AbortController). A phase this client missed makes it dropped: it reports so and
 * ends. `progress(state)` is told where the protocol stands, for the page. */

import { PrivacyError, ProtocolViolation, RandomSource, SigningKey, hex, unhex } from './crypto.js';
import { Contributor, PARAMS, rounds as roundsOf } from './channel.js';
import { SecAggClient } from './secagg.js';
import { pollPayload, wrapPost } from './wire.js';
import { MAX_DEADLINE } from './lobby.js';

const IGNORABLE = new Set(['stale', 'out-of-order', 'duplicate', 'foreign-session']);
const REQUEST_TIMEOUT = 10000; // ms, one request
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

export class Unreachable extends Error {}

/** fetch with a deadline; network errors become Unreachable (retried by the callers). */
export async function request(url, init = {}, ms = REQUEST_TIMEOUT) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  try {
    const r = await fetch(url, { ...init, signal: ctl.signal, credentials: 'omit', cache: 'no-store' });
    return { status: r.status, body: new Uint8Array(await r.arrayBuffer()) };
  } catch (e) {
    throw new Unreachable(String(e && e.message));
  } finally {
    clearTimeout(timer);
  }
}

export const json = (body) => JSON.parse(new TextDecoder().decode(body));

function reasonOf(body) {
  try { return json(body).reason || 'bad-format'; } catch (e) { return 'bad-format'; }
}

/** One contributor's loop against a collection session (roster-based or fixed by the lobby). */
export class Participant {
  /** `session` (bytes): the one session a lobby fixed for this contributor; without it, whatever
   * session the server runs (the roster mode). */
  constructor({ base, uid, seed, roster, ratings, session = null, t = null, deadline = null, timeout = 60, params = PARAMS, progress = () => {} }) {
    Object.assign(this, { base: base.replace(/\/+$/, ''), uid, seed, roster, ratings, timeout, params, progress });
    this.deadline = deadline; // the signed roster's phase deadline (a lobby's), else the status's
    this.fixed = session ? hex(session) : null;
    this.t = t; // the signed roster's threshold, when a lobby fixed it
    this.key = new SigningKey(seed);
    this.contrib = null;
    this.client = null;
  }

  /** POST until accepted; the URL names the session, so a server that does not run it answers
   * 409 at once (as http_client.Http.post). */
  async post(body, session, deadline) {
    for (;;) {
      try {
        const r = await request(`${this.base}/v1/msg?session=${hex(session)}`, { method: 'POST', body, headers: { 'Content-Type': 'application/octet-stream' } });
        if (r.status < 300) return;
        if (r.status < 500 && r.status !== 408) { // 408: the body arrived too slowly, send again
          const reason = reasonOf(r.body);
          if (IGNORABLE.has(reason)) return; // a closed phase: the protocol goes on without this frame
          throw new ProtocolViolation(reason, 'server rejected a frame');
        }
      } catch (e) {
        if (!(e instanceof Unreachable)) throw e;
      }
      if (Date.now() > deadline) throw new Unreachable('server unreachable');
      await sleep(200);
    }
  }

  newSession(st) {
    if (st.rounds !== roundsOf(this.params)) throw new ProtocolViolation('not-allowed', `server runs ${st.rounds} rounds per session, this client ${roundsOf(this.params)}`);
    if (this.t !== null && st.threshold !== this.t) throw new ProtocolViolation('not-allowed', `the server's threshold ${st.threshold} is not the signed roster's ${this.t}`);
    this.contrib = new Contributor(this.ratings, this.params, new RandomSource());
    this.client = new SecAggClient(this.uid, this.seed, this.roster, unhex(st.session), st.threshold, this.contrib, { maxRounds: st.rounds });
    this.contrib.attach(this.client);
    return this.client;
  }

  tell(st) {
    const c = this.client;
    const r = c ? c.nextRound - 1 : -1;
    this.progress({
      stage: r < 0 ? 'setup' : 'rounds', users: st.users, advertised: st.advertised,
      round: r, rounds: st.rounds, step: r < 0 ? 0 : (r % 3) + 1, attempt: r < 0 ? 0 : Math.floor(r / 3) + 1,
    });
  }

  /** Run until the collection ends; resolves to the receipt. */
  async run() {
    let patience = (this.timeout + (this.deadline || 0)) * 1000; // ms without a frame before giving up
    let deadline = Date.now() + patience, session = null, seq = 0, st = null;
    while (Date.now() < deadline) {
      try {
        const c = this.client;
        if (c && c.phase !== 'dropped' && c.phase !== 'aborted') {
          const sig = hex(this.key.sign(pollPayload(c.session, this.uid, seq)));
          const r = await request(`${this.base}/v1/poll?uid=${this.uid}&seq=${seq}&session=${session}`, { headers: { 'X-Signature': sig } });
          if (r.status === 200) {
            seq += 1;
            deadline = Date.now() + patience;
            let reply = null;
            try {
              reply = c.receive(r.body);
            } catch (e) {
              if (!(e instanceof ProtocolViolation) || !IGNORABLE.has(e.reason)) throw e;
              continue; // a frame of a phase this client missed
            }
            if (reply) await this.post(wrapPost(this.key, c.session, this.uid, reply), c.session, deadline);
            if (st) this.tell(st);
            continue;
          }
          if (r.status === 503) { await sleep(200); continue; }
          if (r.status >= 400 && r.status < 500 && r.status !== 404) {
            const reason = reasonOf(r.body);
            if (reason !== 'foreign-session') throw new ProtocolViolation(reason, 'server refused a poll');
          }
        }
        const sr = await request(this.base + '/v1/status' + (this.fixed ? `?session=${this.fixed}` : ''));
        if (sr.status === 409 && this.fixed) return { reenroll: true }; // the lobby's session is gone
        st = json(sr.body);
        if (this.fixed && st.session !== this.fixed) throw new ProtocolViolation('foreign-session', 'the server runs another session');
        if (st.session !== session) { // first contact, or the server restarted
          if (st.state !== 'running') { await sleep(200); continue; }
          session = st.session;
          seq = 0;
          if (this.deadline === null) {
            patience = (this.timeout + Math.min(MAX_DEADLINE, Math.max(0, Number(st.deadline) || 0))) * 1000;
            deadline = Date.now() + patience;
          }
          const client = this.newSession(st);
          this.tell(st);
          await this.post(wrapPost(this.key, client.session, this.uid, client.start()), client.session, deadline);
        } else if (this.client && (st.state !== 'running' || this.client.phase === 'dropped' || this.client.phase === 'aborted')) {
          return this.receipt(st);
        } else {
          this.tell(st);
        }
      } catch (e) {
        if (e instanceof Unreachable || e instanceof SyntaxError) { await sleep(200); continue; }
        if (e instanceof PrivacyError) return this.receipt(st, e);
        throw e;
      }
    }
    return this.receipt(st, new Unreachable(`no progress for ${patience / 1000} s`));
  }

  receipt(st, error = null) {
    const c = this.contrib, client = this.client;
    const sent = c ? c.profile.chunks.reduce((n, ch) => n + ch.length, 0) : 0;
    let collected = 0, among = null;
    if (c && c.client) {
      collected = st && st.state === 'done' ? c.delivered() : 0;
      for (const [r, rd] of client.rounds) if (rd.start.purpose === 'message' && rd.result !== null) among = client.survivors(r).length;
    }
    if (st && Number.isInteger(st.anonymity)) among = st.anonymity; // the smallest set that delivered a part
    const dropped = Boolean(client) && (client.phase === 'dropped' || [...client.rounds.values()].some((rd) => rd.result === null));
    const ok = !error && st && st.state === 'done' && c && c.messages.length > 0 && c.pending.length === 0;
    return {
      ok: Boolean(ok), state: st ? st.state : 'unreachable', error: error ? `${error.constructor.name}: ${error.message}` : null,
      reason: error && error.reason ? error.reason : null,
      sent, collected, among, contributors: st ? st.users : null, profiles: st && Number.isInteger(st.profiles) ? st.profiles : null, dropped, events: c ? c.events : [],
      leftover: c ? c.leftover.length : 0,
    };
  }
}

/* Versioned binary wire format of the secure-aggregation messages: the mirror of
 * mangarec/privacy/encoding.py (same kinds, fields, order and strictness), plus the HTTP
 * envelope of transport_http.py. Messages are plain objects {kind, session, ...}: `map`
 * fields are Map<int, Uint8Array>, `ids` fields sorted arrays of ints. */

import { ProtocolViolation, concat, frame, u32 } from './crypto.js';

const MAGIC = [0x4d, 0x52, 0x50, 0x56]; // "MRPV"
export const VERSION = 2;
const MAX_FRAME = 1 << 30;

/** kind name -> [code, [field, encoding] ...] (after `session`), as encoding.py registers them. */
export const KINDS = {
  Advertise: [1, ['sender', 'u32'], ['c_pk', 'bytes'], ['s_pk', 'bytes'], ['ext', 'bytes'], ['sig', 'bytes']],
  KeyList: [2, ['keys', 'map'], ['ext', 'bytes']],
  ShareKeys: [3, ['sender', 'u32'], ['cts', 'map'], ['commits', 'map'], ['secret_commits', 'bytes']],
  ShareBundle: [4, ['recipient', 'u32'], ['cts', 'map'], ['ext', 'bytes']],
  RoundStart: [5, ['round', 'u32'], ['purpose', 'str'], ['group', 'str'], ['length', 'u32'], ['live', 'ids'], ['params', 'bytes'], ['prev', 'bytes']],
  MaskedInput: [6, ['round', 'u32'], ['sender', 'u32'], ['vector', 'bytes']],
  SurvivorSet: [7, ['round', 'u32'], ['survivors', 'ids']],
  ConsistencySig: [8, ['round', 'u32'], ['sender', 'u32'], ['sig', 'bytes']],
  UnmaskRequest: [9, ['round', 'u32'], ['sigs', 'map'], ['b_for', 'ids'], ['s_for', 'ids'], ['seed_for', 'ids']],
  UnmaskResponse: [10, ['round', 'u32'], ['sender', 'u32'], ['b_shares', 'map'], ['s_shares', 'map'], ['seeds', 'map']],
  RoundResult: [11, ['round', 'u32'], ['vector', 'bytes']],
  OpenRequest: [12, ['round', 'u32']],
  OpenResponse: [13, ['round', 'u32'], ['sender', 'u32'], ['input', 'bytes'], ['self_seed', 'bytes'], ['seeds', 'map']],
  Abort: [14, ['round', 'u32'], ['reason', 'str']],
  ShareAck: [15, ['sender', 'u32'], ['commits', 'map']],
};
const BY_CODE = new Map(Object.entries(KINDS).map(([name, spec]) => [spec[0], name]));
const UTF8 = new TextEncoder();
const UTF8_STRICT = new TextDecoder('utf-8', { fatal: true });

function put(out, enc, v) {
  if (enc === 'u32') out.push(u32(v));
  else if (enc === 'bytes' || enc === 'str') {
    const raw = enc === 'str' ? UTF8.encode(v) : v;
    out.push(u32(raw.length), raw);
  } else if (enc === 'ids') {
    const ids = [...new Set(v)].sort((a, b) => a - b);
    if (ids.length !== v.length) throw new Error('duplicate ids');
    out.push(u32(ids.length), ...ids.map(u32));
  } else {
    const keys = [...v.keys()].sort((a, b) => a - b);
    out.push(u32(keys.length));
    for (const k of keys) out.push(u32(k), u32(v.get(k).length), v.get(k));
  }
}

/** The versioned frame of `msg`. */
export function encode(msg) {
  const spec = KINDS[msg.kind];
  const out = [new Uint8Array([...MAGIC, VERSION, spec[0]])];
  put(out, 'bytes', msg.session);
  for (const [name, enc] of spec.slice(1)) put(out, enc, msg[name]);
  return concat(...out);
}

const bad = (why) => new ProtocolViolation('bad-format', why);

/** Parse a frame produced by encode (strict: as encoding.decode). */
export function decode(data) {
  if (data.length > MAX_FRAME) throw bad('frame too large');
  if (data.length < 6 || MAGIC.some((b, i) => data[i] !== b)) throw bad('bad magic');
  if (data[4] !== VERSION) throw new ProtocolViolation('bad-version', `version ${data[4]} != ${VERSION}`);
  const kind = BY_CODE.get(data[5]);
  if (kind === undefined) throw bad(`unknown kind ${data[5]}`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let i = 6;
  const need = (n) => { if (n < 0 || i + n > data.length) throw bad('truncated frame'); };
  const rd = () => { need(4); const v = dv.getUint32(i); i += 4; return v; };
  const take = (n) => { need(n); const b = data.slice(i, i + n); i += n; return b; };
  const msg = { kind };
  for (const [name, enc] of [['session', 'bytes'], ...KINDS[kind].slice(1)]) {
    if (enc === 'u32') msg[name] = rd();
    else if (enc === 'bytes') msg[name] = take(rd());
    else if (enc === 'str') {
      try { msg[name] = UTF8_STRICT.decode(take(rd())); } catch (e) { if (e instanceof ProtocolViolation) throw e; throw bad('invalid UTF-8'); }
    } else if (enc === 'ids') {
      const n = rd();
      need(4 * n);
      const ids = [];
      for (let k = 0; k < n; k++) ids.push(rd());
      for (let k = 1; k < n; k++) if (ids[k - 1] >= ids[k]) throw bad('ids not strictly increasing');
      msg[name] = ids;
    } else {
      const n = rd(), m = new Map();
      let last = -1;
      for (let k = 0; k < n; k++) {
        if (i + 8 > data.length) throw bad('truncated frame');
        const key = rd(), ln = rd();
        if (key <= last || i + ln > data.length) throw bad('map keys not increasing or truncated');
        m.set(key, take(ln));
        last = key;
      }
      msg[name] = m;
    }
  }
  if (i !== data.length) throw bad('trailing bytes');
  return msg;
}

/** Build a message object of `kind` (fields in any order). */
export function msg(kind, fields) { return { kind, ...fields }; }

// --- the HTTP envelope (transport_http.py) ------------------------------------------------
const POST_MAGIC = new Uint8Array([0x4d, 0x52, 0x50, 0x53]); // "MRPS"

export const postPayload = (session, uid, body) => frame('http-post', session, uid, body);
export const pollPayload = (session, uid, seq) => frame('http-poll', session, uid, seq);

/** "MRPS" | uid u32 | signature by the identity key over postPayload | frame. */
export function wrapPost(key, session, uid, body) {
  return concat(POST_MAGIC, u32(uid), key.sign(postPayload(session, uid, body)), body);
}

/*
 * mangarec: version 7's packed fields (mangarec/lean.py, docs/embeddings-json.md "Version 7"):
 * base64, LEB128 gaps, signed 12-bit pairs, sparse codes, and a title file's list as rows.
 * Every failure throws "mangarec taste: ..." (fail: taste.js's too).
 */
export function fail(msg) { throw new Error("mangarec taste: " + msg); }

function bytesOf(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) { fail("bad base64"); }
  var bin = atob(text), out = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
  return out;
}

/* LEB128 non-negative integers, each below limit. */
function unvarints(bytes, limit) {
  var out = [], v = 0, mul = 1;
  for (var i = 0; i < bytes.length; i++) {
    v += (bytes[i] & 0x7f) * mul;
    if (bytes[i] & 0x80) { mul *= 128; if (mul > 268435456) { fail("a varint is too long"); } continue; }
    if (v >= limit) { fail("a varint is out of range"); }
    out.push(v);
    v = 0; mul = 1;
  }
  if (mul !== 1) { fail("a varint is truncated"); }
  return out;
}

/* Signed 12-bit integers, two in three bytes. */
function unpack12(bytes, count) {
  if (bytes.length !== 3 * Math.floor((count + 1) / 2)) { fail("packed values do not match their count"); }
  var out = [];
  for (var i = 0; i < bytes.length; i += 3) {
    var a = bytes[i] | ((bytes[i + 1] & 0xf) << 8), b = (bytes[i + 1] >> 4) | (bytes[i + 2] << 4);
    out.push(a & 0x800 ? a - 0x1000 : a, b & 0x800 ? b - 0x1000 : b);
  }
  return out.slice(0, count);
}

/* A version-7 title's int8 codes: "vector" (dense) or "sparse" ((gap, code) pairs), exactly one. */
export function leanCodes(doc, d) {
  if ((doc.vector === undefined) === (doc.sparse === undefined)) { fail("bad title file " + doc.id); }
  if (doc.vector !== undefined) { return Int8Array.from(bytesOf(doc.vector), function (b) { return (b << 24) >> 24; }); }
  var raw = bytesOf(doc.sparse), out = new Int8Array(d), at = -1, k = 0;
  while (k < raw.length) {
    var gap = 0, mul = 1, byte;
    do {
      if (k >= raw.length || mul > 268435456) { fail("sparse codes are truncated"); }
      byte = raw[k++];
      gap += (byte & 0x7f) * mul;
      mul *= 128;
    } while (byte & 0x80);
    at += gap;
    if (gap < 1 || at >= d || k >= raw.length) { fail("sparse codes do not fit the dimension"); }
    out[at] = (raw[k++] << 24) >> 24;
  }
  return out;
}

/* Version 7: a title file's list as rows, its kernel values and floors (no names). */
export function leanList(model, id, doc) {
  var near = doc.near, T = model.anchors.length, n = model.count;
  if (!Number.isInteger(doc.row) || doc.row < 0 || doc.row >= n || !near || !Array.isArray(near.step) ||
      near.step.length !== T || !Array.isArray(near.floor) || near.floor.length !== T) { fail("bad title file " + id); }
  var gaps = unvarints(bytesOf(near.rows), n + 1), rows = [], at = -1;
  gaps.forEach(function (g) { if (g < 1) { fail("bad title file " + id); } at += g; rows.push(at); });
  if (at >= n) { fail("bad title file " + id); }
  var N = rows.length, ks = unpack12(bytesOf(near.k), T * N), kernel = [];
  for (var t = 0; t < T; t++) {
    if (!(near.step[t] >= 0)) { fail("bad title file " + id); }
    kernel.push(Float64Array.from(ks.slice(t * N, (t + 1) * N), function (v) { return v * near.step[t]; }));
  }
  var floor = near.floor.map(function (v, a) {
    if (!Number.isInteger(v) || Math.abs(v) > 2047) { fail("bad kernel value in " + id); }
    return v * near.step[a];
  });
  var works = Array.isArray(doc.works) ? doc.works : [];
  works.forEach(function (w) { if (!Number.isInteger(w) || w < 0 || w >= n) { fail("bad title file " + id); } });
  return {id: id, row: doc.row, near: rows, kernel: kernel, floor: floor, works: works.slice()};
}


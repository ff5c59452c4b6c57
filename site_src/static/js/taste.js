/*
 * mangarec taste: personal recommendations computed in the visitor's browser.
 *
 * Loads the site's published embeddings (data/embeddings.json, see docs/embeddings-json.md),
 * keeps the visitor's likes/dislikes/scores in localStorage, folds them into a taste vector
 * (the same maths as mangarec/foldin.py and the Python client mangarec.client) and ranks the
 * catalog. Nothing is ever sent anywhere: the only network use is fetch() of the same-origin
 * static JSON file named by the caller.
 *
 * An ES module (browsers and Node); it imports hash.js (which shard holds a title) and lean.js
 * (version 7's packed fields).
 */
import {fnv1a} from "./hash.js";
import {fail, leanCodes, leanList} from "./lean.js";

var VERSION = "1";
var SCHEMA = "mangarec-embeddings";
var STORAGE_KEY = "mangarec.ratings.v1";


/* ---------- decoding ---------- */

function base64Bytes(text) {
  var bin;
  if (typeof atob === "function") { bin = atob(text); }
  else { fail("no base64 decoder"); }
  var out = new Int8Array(bin.length);
  for (var i = 0; i < bin.length; i++) { out[i] = (bin.charCodeAt(i) << 24) >> 24; }
  return out;
}

/* bits: version 4 codes lie within +-(2^(bits-1) - 1); scale: the block's own, or (shards)
   the document's items.scale. */
function decodeBlock(block, dim, bits, scale, codes) {
  var n = block.ids.length, q, bound = bits ? (1 << (bits - 1)) - 1 : 127;
  scale = scale || block.scale;
  if (block.encoding === "int8-base64") { q = base64Bytes(block.vectors); }
  else if (block.encoding === "int8-file" && bits && codes) { q = codes; }
  else if (block.encoding === "int-list" && !bits) { q = block.vectors; }
  else { fail("unknown vector encoding " + block.encoding); }
  if (q.length !== n * dim || scale.length !== dim) { fail("vectors do not match ids x dim"); }
  var out = new Float64Array(n * dim);
  for (var i = 0; i < n; i++) {
    for (var j = 0; j < dim; j++) {
      var c = q[i * dim + j];
      if (c > bound || c < -bound) { fail("a code exceeds +-" + bound); }
      out[i * dim + j] = c * scale[j];
    }
  }
  return out;
}

/* The d x d fold-in Gram matrix of a published fold_in.gram (version 4: its diagonal). */
function gramFromDiagonal(values, d) {
  if (!Array.isArray(values) || values.length !== d) { fail("fold_in.gram does not match dim"); }
  var G = new Float64Array(d * d);
  for (var a = 0; a < d; a++) {
    if (!(values[a] >= 0)) { fail("fold_in.gram must hold values >= 0"); }
    G[a * d + a] = values[a];
  }
  return G;
}

/* codes: an Int8Array of the file a version-4 document's items.vectors names (int8-file). */
function parseEmbeddings(doc, codes) {
  if (!doc || doc.schema !== SCHEMA) { fail("not a " + SCHEMA + " document"); }
  if ([1, 2, 3, 4, 5, 6, 7].indexOf(doc.version) < 0) { fail("unsupported version " + doc.version); }
  if (doc.version >= 5) { return parseTitles(doc); }
  var dim = doc.dim, items = doc.items, fo = doc.fold_in, v4 = doc.version === 4;
  var index = new Map();
  for (var i = 0; i < items.ids.length; i++) { index.set(items.ids[i], i); }
  if (v4 && [2, 3, 4, 5, 6, 7, 8].indexOf(items.bits) < 0) { fail("items.bits must be 2..8"); }
  var model = {
    model: doc.model, dim: dim, ids: items.ids.slice(), index: index,
    titles: items.titles ? items.titles.slice() : null,
    vectors: decodeBlock(items, dim, v4 ? items.bits : 0, null, codes),
    /* version 4: only the first rows may be recommended; rated titles beyond them come from
       shards (loadRated) and only enter the fit */
    recommendable: items.ids.length, bits: v4 ? items.bits : 0, scale: items.scale,
    shards: v4 && doc.shards ? {count: doc.shards.count, path: doc.shards.path, loaded: new Map()} : null,
    url: null,
    mode: fo.mode, reg: fo.reg, alpha: fo.alpha, like: fo.like,
    /* version 1 has no value mapping: likes +1, dislikes -1, numbers centred ("explicit") */
    dislike: fo.dislike === undefined ? -1 : fo.dislike,
    feedback: fo.feedback === undefined ? "explicit" : fo.feedback,
    threshold: fo.threshold === undefined ? 0 : fo.threshold,
    step: fo.step === undefined ? 1 : fo.step,
    regExponent: fo.reg_exponent === undefined ? 0 : fo.reg_exponent,
    regCols: fo.reg_cols === undefined ? 1 : fo.reg_cols,
    /* version 3: alpha and reg move with the count of ratings (null / absent: they do not) */
    schedule: fo.schedule ? {few: fo.schedule.few, many: fo.schedule.many,
      alphaMany: fo.schedule.alpha_many, regMany: fo.schedule.reg_many} : null,
    tagIds: doc.tags ? doc.tags.ids.slice() : [],
    tagVectors: doc.tags ? decodeBlock(doc.tags, dim) : null,
    buildDate: doc.build_date, catalogHash: doc.catalog_hash, subset: doc.subset,
    workOf: new Map(), gram: v4 && fo.gram ? gramFromDiagonal(fo.gram, dim) : null
  };
  /* One work in several formats (an anime and its manga): never recommend one after the other. */
  (Array.isArray(doc.works) ? doc.works : []).forEach(function (group) {
    if (!Array.isArray(group)) { return; }
    group.forEach(function (id) { model.workOf.set(String(id), group.map(String)); });
  });
  if (model.mode !== "explicit" && model.mode !== "implicit") { fail("unknown fold-in mode " + model.mode); }
  return model;
}

/* Versions 5 and 6: the fold-in block, the scales and the Gram diagonal only; the rated titles'
   files (their codes and candidate lists) come with loadRated (docs/embeddings-json.md). */
function parseTitles(doc) {
  var fo = doc.fold_in, items = doc.items, dim = doc.dim, implicit = fo.mode === "implicit";
  if ([2, 3, 4, 5, 6, 7, 8].indexOf(items.bits) < 0 || items.scale.length !== dim) { fail("bad items block"); }
  if (!doc.titles || typeof doc.titles.path !== "string" || doc.titles.path.indexOf("{}") < 0 ||
      doc.titles.path.indexOf("..") >= 0 || doc.titles.path.charAt(0) === "/") { fail("bad titles block"); }
  var anchors = implicit ? fo.kernel_reg : [0];
  if (!Array.isArray(anchors) || anchors.length < 1 || anchors.length > 4 ||
      anchors.some(function (a) { return implicit && !(a > 0); })) { fail("fold_in.kernel_reg must list 1 to 4 values > 0"); }
  var model = parseEmbeddings({schema: SCHEMA, version: 3, model: doc.model, dim: dim, fold_in: fo,
    items: {ids: [], scale: items.scale, encoding: "int-list", vectors: []}, tags: null,
    build_date: doc.build_date, catalog_hash: doc.catalog_hash, subset: null});
  model.version = doc.version;
  model.bits = items.bits;
  model.recommendable = 0;
  model.titles = [];
  model.lists = new Map();
  model.names = new Map();
  model.missing = new Set();
  model.titlePath = doc.titles.path;
  model.anchors = anchors.slice();
  model.gramDiag = implicit ? Float64Array.from(fo.gram) : null;
  model.gram = implicit ? gramFromDiagonal(fo.gram, dim) : new Float64Array(dim * dim);
  if (doc.version === 7) {
    /* rows rank; ids and names come from the name blocks (loadNames) */
    var np = doc.titles.names, size = doc.titles.block;
    if (typeof np !== "string" || np.indexOf("{}") < 0 || np.indexOf("..") >= 0 || np.charAt(0) === "/" ||
        !Number.isInteger(size) || size < 1 || !Number.isInteger(doc.count) || doc.count < 0) { fail("bad titles block"); }
    model.count = doc.count;
    model.namesPath = np;
    model.block = size;
    model.rowId = new Map();
    model.idRow = new Map();
    model.blocks = new Map();
  }
  return model;
}

/* Versions 5 and 6: one title's file added (its code, its candidate list and (6) the list's
   floor, its work). */
function addTitle(model, id, doc) {
  var d = model.dim, T = model.anchors.length, near = doc && doc.near;
  var schema = model.version === 7 ? "mangarec-title" : "mangarec-embeddings-title";
  if (!doc || doc.schema !== schema || doc.version !== model.version || doc.id !== id ||
      doc.catalog_hash !== model.catalogHash || !near) { fail("bad title file " + id); }
  if (model.version === 7) { return addLean(model, id, doc); }
  if (!Array.isArray(near.ids) ||
      !Array.isArray(near.titles) || !Array.isArray(near.k) || !Array.isArray(near.step) ||
      near.k.length !== T || near.step.length !== T) { fail("bad title file " + id); }
  var N = near.ids.length, kernel = [];
  for (var t = 0; t < T; t++) {
    var kt = near.k[t], row = new Float64Array(N);
    if (!Array.isArray(kt) || kt.length !== N || near.titles.length !== N || !(near.step[t] >= 0)) { fail("bad title file " + id); }
    for (var i = 0; i < N; i++) {
      if (!Number.isInteger(kt[i]) || Math.abs(kt[i]) > 2047) { fail("bad kernel value in " + id); }
      row[i] = kt[i] * near.step[t];
    }
    kernel.push(row);
  }
  /* version 6: what a title left out of the list counts, per anchor (version 5: nothing) */
  var floor = null;
  if (model.version === 6) {
    if (!Array.isArray(near.floor) || near.floor.length !== T) { fail("bad title file " + id); }
    floor = near.floor.map(function (v, a) {
      if (!Number.isInteger(v) || Math.abs(v) > 2047) { fail("bad kernel value in " + id); }
      return v * near.step[a];
    });
  }
  var v = decodeBlock({ids: [id], encoding: "int8-base64", vectors: doc.vector}, d, model.bits, model.scale);
  var n = model.ids.length, grown = new Float64Array((n + 1) * d);
  grown.set(model.vectors);
  grown.set(v, n * d);
  model.vectors = grown;
  model.ids.push(id);
  model.index.set(id, n);
  model.titles.push(String(doc.title));
  model.names.set(id, String(doc.title));
  near.ids.forEach(function (c, k) { if (!model.names.has(c)) { model.names.set(String(c), String(near.titles[k])); } });
  model.lists.set(id, {id: id, near: near.ids.map(String), kernel: kernel, floor: floor});
  if (Array.isArray(doc.works) && doc.works.length) { model.workOf.set(id, [id].concat(doc.works.map(String))); }
}

/* Version 7: one title's file added (its codes, its list of rows, its works as rows). */
function addLean(model, id, doc) {
  var d = model.dim, list = leanList(model, id, doc), q = leanCodes(doc, d), bound = (1 << (model.bits - 1)) - 1;
  if (q.length !== d) { fail("vectors do not match ids x dim"); }
  var n = model.ids.length, grown = new Float64Array((n + 1) * d);
  grown.set(model.vectors);
  for (var j = 0; j < d; j++) {
    if (q[j] > bound || q[j] < -bound) { fail("a code exceeds +-" + bound); }
    grown[n * d + j] = q[j] * model.scale[j];
  }
  model.vectors = grown;
  model.ids.push(id);
  model.index.set(id, n);
  model.lists.set(id, list);
  model.rowId.set(list.row, id);
  model.idRow.set(id, list.row);
  if (typeof doc.title !== "string") { fail("bad title file " + id); }
  model.titles.push(doc.title);
  model.names.set(id, doc.title);
}

/* Version 7: fetches the name blocks holding these rows (once each); resolves when their ids
   and names are known (model.rowId, model.names). Nothing to do for other versions. */
function loadNames(model, rows) {
  if (model.version !== 7) { return Promise.resolve(model); }
  var need = new Set();
  rows.forEach(function (r) { need.add(Math.floor(r / model.block)); });
  return loadParts(model, model.blocks, model.namesPath, need, function (b, doc) { addNames(model, b, doc); });
}

/* The files numbered `keys` beside the model's document (path, {} = the number), each fetched
   once (cache: number -> promise; a failure is forgotten) and added by add(number, doc). */
function loadParts(model, cache, path, keys, add) {
  return Promise.all(Array.from(keys).sort(function (a, b) { return a - b; }).map(function (k) {
    if (!cache.has(k)) {
      var url = new URL(path.replace("{}", String(k)), new URL(model.url || "", document.baseURI)).href;
      cache.set(k, getJSON(url).then(function (doc) { add(k, doc); })
        .catch(function (e) { cache.delete(k); throw e; }));
    }
    return cache.get(k);
  })).then(function () { return model; });
}

function addNames(model, b, doc) {
  var first = b * model.block, want = Math.max(0, Math.min(model.block, model.count - first));
  if (!doc || doc.schema !== "mangarec-names" || doc.version !== 7 || doc.block !== b ||
      doc.catalog_hash !== model.catalogHash || !Array.isArray(doc.ids) || !Array.isArray(doc.titles) ||
      doc.ids.length !== want || doc.titles.length !== want) { fail("bad name block " + b); }
  doc.ids.forEach(function (id, k) {
    model.rowId.set(first + k, String(id));
    model.idRow.set(String(id), first + k);
    model.names.set(String(id), String(doc.titles[k]));
  });
}

function getJSON(url) {
  return fetch(url, { credentials: "same-origin", mode: "same-origin" }).then(function (resp) {
    if (!resp.ok) { fail("cannot load " + url + ": HTTP " + resp.status); }
    return resp.json();
  });
}

function fetchTitle(url) { return fetch(url, { credentials: "same-origin", mode: "same-origin" }); }

/* Loads a document (and, version 4 with "int8-file", the codes file beside it). prefetch: the
   title files' path relative to the document ("taste/{}.json") and the rated ids, fetched beside
   the document instead of after it (used when the document names the same path). */
function loadEmbeddings(url, prefetch) {
  var early = new Map();
  if (prefetch && typeof prefetch.path === "string") {
    var base = new URL(url, document.baseURI);
    (prefetch.ids || []).filter(function (id) { return /^[A-Za-z0-9_-]{1,64}$/.test(id); }).sort().forEach(function (id) {
      early.set(id, fetchTitle(new URL(prefetch.path.replace("{}", id), base).href));
    });
  }
  return getJSON(url).then(function (doc) {
    var items = doc && doc.items;
    if (!(doc && doc.version === 4 && items && items.encoding === "int8-file")) { return [doc, null]; }
    if (typeof items.vectors !== "string" || !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(items.vectors)) {
      fail("items.vectors must name a file beside the document");
    }
    var codesUrl = new URL(items.vectors, new URL(url, document.baseURI)).href;
    return fetch(codesUrl, { credentials: "same-origin", mode: "same-origin" }).then(function (resp) {
      if (!resp.ok) { fail("cannot load " + codesUrl + ": HTTP " + resp.status); }
      return resp.arrayBuffer();
    }).then(function (buf) { return [doc, new Int8Array(buf)]; });
  }).then(function (pair) {
    var model = parseEmbeddings(pair[0], pair[1]);
    model.url = url;
    if (model.lists && prefetch && model.titlePath === prefetch.path) { model.early = early; }
    return model;
  });
}

/* Version 4: a shard document's rows appended to the model (fit only, never recommended). */
function addShard(model, k, doc) {
  var sh = model.shards, d = model.dim;
  if (!doc || doc.schema !== "mangarec-embeddings-shard" || doc.version !== 4 || doc.shard !== k ||
      doc.catalog_hash !== model.catalogHash || !Array.isArray(doc.ids)) { fail("bad embeddings shard " + k); }
  doc.ids.forEach(function (id) {
    if (fnv1a(id) % sh.count !== k || model.index.has(id)) { fail("embeddings shard " + k + " holds a foreign title"); }
  });
  var rows = decodeBlock(doc, d, model.bits, model.scale), n = model.ids.length;
  var grown = new Float64Array((n + doc.ids.length) * d);
  grown.set(model.vectors);
  grown.set(rows, n * d);
  model.vectors = grown;
  doc.ids.forEach(function (id, r) { model.ids.push(id); model.index.set(id, n + r); });
  if (model.titles && Array.isArray(doc.titles)) { doc.titles.forEach(function (t) { model.titles.push(String(t)); }); }
}

/* Fetches the shards holding the rated titles that are not up front (version 4; nothing
   otherwise) and resolves to the model, ready for fit / rank / explain of these ratings. */
function loadRated(model, ratings) {
  if (model.lists) { return loadTitles(model, ratings); }
  var sh = model.shards;
  if (!sh) { return Promise.resolve(model); }
  var need = new Set();
  entriesOf(ratings).forEach(function (e) {
    if (!model.index.has(String(e[0]))) { need.add(fnv1a(String(e[0])) % sh.count); }
  });
  return loadParts(model, sh.loaded, sh.path, need, function (k, doc) { addShard(model, k, doc); });
}

/* Versions 5 and 6: fetches the files of the rated titles (a title without one is unknown). */
function loadTitles(model, ratings) {
  var ids = entriesOf(ratings).map(function (e) { return String(e[0]); }).filter(function (id) {
    return /^[A-Za-z0-9_-]{1,64}$/.test(id) && !model.index.has(id) && !model.missing.has(id);
  }).sort();
  model.pending = model.pending || new Map();
  return Promise.all(ids.map(function (id) {
    if (!model.pending.has(id)) {
      var url = new URL(model.titlePath.replace("{}", id), new URL(model.url || "", document.baseURI)).href;
      var got = model.early && model.early.has(id) ? model.early.get(id) : fetchTitle(url);
      if (model.early) { model.early.delete(id); }
      model.pending.set(id, got.then(function (resp) {
        if (resp.status === 404) { model.missing.add(id); return null; }
        if (!resp.ok) { fail("cannot load " + url + ": HTTP " + resp.status); }
        return resp.json().then(function (doc) { if (!model.index.has(id)) { addTitle(model, id, doc); } });
      }).catch(function (e) { model.pending.delete(id); throw e; }));
    }
    return model.pending.get(id);
  })).then(function () { return model; });
}

/* ---------- ratings -> model-scale values ---------- */

function entriesOf(ratings) {
  if (!ratings) { return []; }
  if (ratings instanceof Map) { return Array.from(ratings.entries()); }
  if (Array.isArray(ratings)) { return ratings; }
  if (typeof ratings.entries === "function" && !(ratings.constructor === Object)) { return ratings.entries(); }
  return Object.keys(ratings).map(function (k) { return [k, ratings[k]]; });
}

function checkValue(id, v) {
  if (v === "like" || v === "dislike") { return; }
  if (typeof v !== "number" || !isFinite(v)) {
    fail("rating of " + JSON.stringify(id) + " must be 'like', 'dislike' or a finite number");
  }
}

/* The site's one like rule, for the fold-in below and for every page (site.js isLike): "like",
   or a number at least the like threshold (the published fold_in.threshold; pages get the same
   value as data.like_threshold, see mangarec.site.context.like_threshold). */
function isLike(v, threshold) { return v === "like" || (typeof v === "number" && v >= threshold - 1e-9); }
/* A dislike for the pages: "dislike", or a number at most half the like threshold (4 on 1-10). */
function isDislike(v, threshold) { return v === "dislike" || (typeof v === "number" && v <= threshold / 2 + 1e-9); }

/* A number's model-scale value under the published mapping (null: left out of the fit),
   exactly as training mapped a user's rating (mangarec/feedback.py, mangarec/foldin.py). */
function numberValue(model, r) {
  var f = model.feedback, liked = isLike(r, model.threshold);
  if (f === "raw") { return r; }
  if (f === "likes") { return liked ? model.like : null; }
  if (f === "graded") { return liked ? 1 + (r - model.threshold) / model.step : null; }
  if (f === "likes-dislikes") { return liked ? model.like : model.dislike; }
  fail("no numeric mapping for feedback " + f);
}

/* Returns {idx: rows ascending, vals} of the ratings that enter the fit: like -> model.like,
   dislike -> model.dislike (left out when null), numbers by the published mapping ("explicit":
   centred on the mean of the visitor's numbers, known titles only, summed in row order). */
function toValues(model, ratings) {
  var known = [];
  entriesOf(ratings).forEach(function (e) {
    checkValue(e[0], e[1]);
    var row = model.index.get(e[0]);
    if (row !== undefined) { known.push([row, e[1]]); }
  });
  known.sort(function (a, b) { return a[0] - b[0]; });
  var sum = 0, count = 0, k, explicit = model.feedback === "explicit";
  for (k = 0; k < known.length; k++) {
    if (explicit && typeof known[k][1] === "number") { sum += known[k][1]; count++; }
  }
  var mean = count ? sum / count : 0;
  var idx = [], vals = [];
  for (k = 0; k < known.length; k++) {
    var v = known[k][1], x;
    if (v === "like") { x = model.like; }
    else if (v === "dislike") { x = model.dislike; }
    else if (explicit) { x = v - mean; }
    else { x = numberValue(model, v); }
    if (x !== null) { idx.push(known[k][0]); vals.push(x); }
  }
  return { idx: Int32Array.from(idx), vals: Float64Array.from(vals) };
}

/* a^(1-t) b^t as exp((1-t) log a + t log b), as mangarec.foldin does (linear if either <= 0). */
function geo(a, b, t) {
  if (a <= 0 || b <= 0) { return a + (b - a) * t; }
  return Math.exp((1 - t) * Math.log(a) + t * Math.log(b));
}

/* {alpha, reg} of a fit with m ratings: the published values up to schedule.few, the
   schedule's from schedule.many, geometric in log m between (mangarec.foldin.Schedule). */
function settings(model, m) {
  var s = model.schedule;
  if (!s || !(0 < s.few && s.few < s.many) || m <= s.few) { return {alpha: model.alpha, reg: model.reg}; }
  if (m >= s.many) { return {alpha: s.alphaMany, reg: s.regMany}; }
  var t = Math.log(m / s.few) / Math.log(s.many / s.few);
  return {alpha: geo(model.alpha, s.alphaMany, t), reg: geo(model.reg, s.regMany, t)};
}

/* The implicit fold-in's ridge penalty: reg * ((n + alpha * sum|v|) / n) ^ nu, n = regCols. */
function implicitReg(model, set, vals) {
  if (model.regExponent === 0) { return set.reg; }
  var n = Math.max(model.regCols, 1), total = 0;
  for (var k = 0; k < vals.length; k++) { total += Math.abs(vals[k]); }
  return set.reg * Math.pow((n + set.alpha * total) / n, model.regExponent);
}

/* ---------- linear algebra (Float64Array, row-major d x d) ---------- */

function gramOf(model) {
  if (model.gram) { return model.gram; }
  var d = model.dim, Y = model.vectors, n = model.ids.length, G = new Float64Array(d * d);
  for (var i = 0; i < n; i++) {
    var o = i * d;
    for (var a = 0; a < d; a++) {
      var ya = Y[o + a];
      if (ya === 0) { continue; }
      for (var b = 0; b < d; b++) { G[a * d + b] += ya * Y[o + b]; }
    }
  }
  model.gram = G;
  return G;
}

/* The fold-in system A x = rhs and the right-hand-side weights w (rhs = sum_j w_j y_j). */
function system(model, values) {
  var d = model.dim, Y = model.vectors, m = values.idx.length;
  var A = new Float64Array(d * d), w = new Float64Array(m), a, b, k, set = settings(model, m);
  if (model.mode === "explicit") {
    for (a = 0; a < d; a++) { A[a * d + a] = set.reg * m; }
    for (k = 0; k < m; k++) { w[k] = values.vals[k]; }
  } else {
    A.set(gramOf(model));
    var mu = implicitReg(model, set, values.vals);
    for (a = 0; a < d; a++) { A[a * d + a] += mu; }
  }
  for (k = 0; k < m; k++) {
    var o = values.idx[k] * d, weight = 1;
    if (model.mode === "implicit") {
      var v = values.vals[k], c = 1 + set.alpha * Math.abs(v);
      weight = c - 1;
      w[k] = v >= 0 ? c : 0;
    }
    for (a = 0; a < d; a++) {
      var ya = Y[o + a] * weight;
      if (ya === 0) { continue; }
      for (b = 0; b < d; b++) { A[a * d + b] += ya * Y[o + b]; }
    }
  }
  return { A: A, w: w };
}

function cholesky(A, d) {
  var L = new Float64Array(d * d);
  for (var j = 0; j < d; j++) {
    var s = A[j * d + j];
    for (var k = 0; k < j; k++) { s -= L[j * d + k] * L[j * d + k]; }
    if (!(s > 0)) { fail("fold-in system is not positive definite"); }
    var ljj = Math.sqrt(s);
    L[j * d + j] = ljj;
    for (var i = j + 1; i < d; i++) {
      var t = A[i * d + j];
      for (k = 0; k < j; k++) { t -= L[i * d + k] * L[j * d + k]; }
      L[i * d + j] = t / ljj;
    }
  }
  return L;
}

function cholSolve(L, d, rhs) {
  var y = new Float64Array(d), x = new Float64Array(d), i, k, s;
  for (i = 0; i < d; i++) {
    s = rhs[i];
    for (k = 0; k < i; k++) { s -= L[i * d + k] * y[k]; }
    y[i] = s / L[i * d + i];
  }
  for (i = d - 1; i >= 0; i--) {
    s = y[i];
    for (k = i + 1; k < d; k++) { s -= L[k * d + i] * x[k]; }
    x[i] = s / L[i * d + i];
  }
  return x;
}

/* ---------- fit, rank, explain ---------- */

function fit(model, ratings) {
  var d = model.dim, values = toValues(model, ratings), m = values.idx.length;
  if (m === 0) { return new Float64Array(d); }
  var sys = system(model, values), rhs = new Float64Array(d), Y = model.vectors;
  for (var k = 0; k < m; k++) {
    var o = values.idx[k] * d, wk = sys.w[k];
    for (var a = 0; a < d; a++) { rhs[a] += wk * Y[o + a]; }
  }
  return cholSolve(cholesky(sys.A, d), d, rhs);
}

function score(model, taste, row) {
  var d = model.dim, o = row * d, s = 0;
  for (var a = 0; a < d; a++) { s += model.vectors[o + a] * taste[a]; }
  return s;
}

function idSet(ex) {
  if (!ex) { return new Set(); }
  if (ex instanceof Set) { return ex; }
  if (Array.isArray(ex)) { return new Set(ex); }
  if (ex instanceof Map) { return new Set(ex.keys()); }
  return new Set(Object.keys(ex));
}

/* The excluded ids plus the other formats of their works (model.workOf). */
function withWorks(model, skip) {
  if (!model.workOf || !model.workOf.size) { return skip; }
  var out = new Set(skip);
  skip.forEach(function (id) {
    var group = model.workOf.get(id);
    if (group) { group.forEach(function (m) { out.add(m); }); }
  });
  return out;
}

/* Best first; ties go to the earlier row (the JSON lists titles most popular first). The
   excluded titles (the rated ones) take the other formats of their works with them. */
function rank(model, taste, opts) {
  opts = opts || {};
  var skip = withWorks(model, idSet(opts.exclude)), rows = [];
  var n = model.recommendable === undefined ? model.ids.length : model.recommendable, scores = new Float64Array(n);
  for (var i = 0; i < n; i++) {
    if (skip.has(model.ids[i])) { continue; }
    scores[i] = score(model, taste, i);
    rows.push(i);
  }
  rows.sort(function (a, b) { return scores[b] - scores[a] || a - b; });
  if (opts.n !== undefined && opts.n !== null) { rows = rows.slice(0, opts.n); }
  return rows.map(function (r) { return { id: model.ids[r], score: scores[r] }; });
}

/* Why is `id` recommended? Its score is exactly the sum over rated titles j of
   w_j * y_id' A^-1 y_j; returns the n largest contributions [{id, contribution}]. */
function explain(model, ratings, id, n) {
  if (model.lists) { return explainLists(model, ratings, id, n); }
  var row = model.index.get(id), values = toValues(model, ratings), m = values.idx.length;
  if (row === undefined || m === 0) { return []; }
  var d = model.dim, sys = system(model, values), Y = model.vectors;
  var z = cholSolve(cholesky(sys.A, d), d, Y.subarray(row * d, row * d + d));
  var out = [];
  for (var k = 0; k < m; k++) {
    var o = values.idx[k] * d, s = 0;
    for (var a = 0; a < d; a++) { s += Y[o + a] * z[a]; }
    out.push({ row: values.idx[k], id: model.ids[values.idx[k]], contribution: sys.w[k] * s });
  }
  out.sort(function (x, y) { return y.contribution - x.contribution || x.row - y.row; });
  return out.slice(0, n === undefined ? 3 : n).map(function (e) { return { id: e.id, contribution: e.contribution }; });
}

/* ---------- versions 5 and 6: candidate lists (mangarec/kernel.py) ---------- */

/* x solving A x = b (m x m, row-major) by Gaussian elimination with partial pivoting. */
function solve(A, b, m) {
  A = Float64Array.from(A);
  b = Float64Array.from(b);
  var col, r, k, t;
  for (col = 0; col < m; col++) {
    var p = col;
    for (r = col + 1; r < m; r++) { if (Math.abs(A[r * m + col]) > Math.abs(A[p * m + col])) { p = r; } }
    if (A[p * m + col] === 0) { fail("the candidate system is singular"); }
    if (p !== col) {
      for (k = 0; k < m; k++) { t = A[col * m + k]; A[col * m + k] = A[p * m + k]; A[p * m + k] = t; }
      t = b[col]; b[col] = b[p]; b[p] = t;
    }
    for (r = col + 1; r < m; r++) {
      var f = A[r * m + col] / A[col * m + col];
      if (f !== 0) {
        for (k = col; k < m; k++) { A[r * m + k] -= f * A[col * m + k]; }
        b[r] -= f * b[col];
      }
    }
  }
  var z = new Float64Array(m);
  for (r = m - 1; r >= 0; r--) {
    var s = b[r];
    for (k = r + 1; k < m; k++) { s -= A[r * m + k] * z[k]; }
    z[r] = s / A[r * m + r];
  }
  return z;
}

/* beta: least squares of 1/(g + mu) on the anchors' 1/(g + mu_t) (exact at an anchor). */
function anchorWeights(g, anchors, mu) {
  var T = anchors.length, t, u, a;
  for (t = 0; t < T; t++) { if (anchors[t] === mu) { var e = new Float64Array(T); e[t] = 1; return e; } }
  var M = new Float64Array(T * T), r = new Float64Array(T);
  for (a = 0; a < g.length; a++) {
    var h = 1 / (g[a] + mu);
    for (t = 0; t < T; t++) {
      var ft = 1 / (g[a] + anchors[t]);
      r[t] += ft * h;
      for (u = 0; u < T; u++) { M[t * T + u] += ft / (g[a] + anchors[u]); }
    }
  }
  return solve(M, r, T);
}

/* The rated titles in the fit, their weights z ((I + Gamma K_SS) z = w), the score scale and beta. */
function kernelSystem(model, ratings) {
  var values = toValues(model, ratings), m = values.idx.length, d = model.dim, Y = model.vectors;
  var rows = [], K = new Float64Array(m * m), gamma = new Float64Array(m), w = new Float64Array(m);
  var dinv = new Float64Array(d), scale = 1, beta = [1], i, j, a;
  var set = settings(model, Math.max(m, 1));
  for (i = 0; i < m; i++) { rows.push(model.lists.get(model.ids[values.idx[i]])); }
  if (model.mode === "explicit") {
    scale = 1 / (set.reg * Math.max(m, 1));
    for (i = 0; i < m; i++) { gamma[i] = 1; w[i] = values.vals[i]; }
  } else if (m) {
    var mu = implicitReg(model, set, values.vals);
    for (a = 0; a < d; a++) { dinv[a] = 1 / (model.gramDiag[a] + mu); }
    for (i = 0; i < m; i++) {
      var c = 1 + set.alpha * Math.abs(values.vals[i]);
      gamma[i] = c - 1;
      w[i] = values.vals[i] >= 0 ? c : 0;
    }
    beta = anchorWeights(model.gramDiag, model.anchors, mu);
  }
  for (i = 0; i < m; i++) {
    for (j = 0; j < m; j++) {
      var s = 0, oi = values.idx[i] * d, oj = values.idx[j] * d;
      for (a = 0; a < d; a++) { s += Y[oi + a] * Y[oj + a] * (model.mode === "explicit" ? 1 : dinv[a]); }
      K[i * m + j] = gamma[i] * (model.mode === "explicit" ? scale * s : s) + (i === j ? 1 : 0);
    }
  }
  return {rows: rows, z: m ? solve(K, w, m) : new Float64Array(0), scale: scale, beta: beta};
}

function combined(row, beta) {
  var out = new Float64Array(row.near.length);
  for (var t = 0; t < beta.length; t++) {
    for (var i = 0; i < out.length; i++) { out[i] = out[i] + beta[t] * row.kernel[t][i]; }
  }
  return out;
}

/* What a title left out of the list counts at the visitor's mu (version 5: 0). */
function floorOf(row, beta) {
  var out = 0;
  if (row.floor) { for (var t = 0; t < beta.length; t++) { out = out + beta[t] * row.floor[t]; } }
  return out;
}

/* Best first over the union of the rated titles' lists; ties go to the first appearance. */
function rankLists(model, ratings, opts) {
  var sys = kernelSystem(model, ratings), acc = new Map(), base = 0, lean = model.version === 7;
  var byId = sys.rows.map(function (row, j) { return j; }).sort(function (a, b) {
    return sys.rows[a].id < sys.rows[b].id ? -1 : sys.rows[a].id > sys.rows[b].id ? 1 : 0;
  });
  byId.forEach(function (j) {
    var row = sys.rows[j], f = sys.scale * sys.z[j], k = combined(row, sys.beta), low = floorOf(row, sys.beta);
    base += f * low;
    row.near.forEach(function (c, i) { acc.set(c, (acc.has(c) ? acc.get(c) : 0) + f * (k[i] - low)); });
  });
  if (lean) {  /* version 7: the rated titles' rows and their works' rows */
    idSet(opts.exclude).forEach(function (id) {
      var list = model.lists.get(id);
      if (list) { acc.delete(list.row); list.works.forEach(function (w) { acc.delete(w); }); }
    });
  } else {
    withWorks(model, idSet(opts.exclude)).forEach(function (id) { acc.delete(id); });
  }
  /* ties: the first appearance (rated titles by id, each list in its order: value, then popularity);
     version 7: the lower row (the more popular title) */
  var out = Array.from(acc.entries()).map(function (e, k) { return [e[0], base + e[1], lean ? e[0] : k]; })
    .sort(function (x, y) { return y[1] - x[1] || x[2] - y[2]; });
  if (opts.n !== undefined && opts.n !== null) { out = out.slice(0, opts.n); }
  return out.map(function (e) {
    return lean ? {id: model.rowId.has(e[0]) ? model.rowId.get(e[0]) : null, row: e[0], score: e[1]} : {id: e[0], score: e[1]};
  });
}

/* A pick of recommend with its id known: version 7 fetches the name block of its row (a promise). */
function named(model, pick) {
  if (pick.id !== null && pick.id !== undefined) { return Promise.resolve(pick); }
  return loadNames(model, [pick.row]).then(function () { return {id: model.rowId.get(pick.row), score: pick.score}; });
}

/* recommend, with every pick's id and name known (version 7: their name blocks read; a promise). */
function recommendNamed(model, ratings, opts) {
  return Promise.all(recommend(model, ratings, opts).map(function (e) { return named(model, e); }));
}

/* Recommendations for ratings, any version: {exclude, n} as rank's. */
function recommend(model, ratings, opts) {
  opts = opts || {};
  if (model.lists) { return rankLists(model, ratings, opts); }
  return rank(model, fit(model, ratings), opts);
}

function explainLists(model, ratings, id, n) {
  var sys = kernelSystem(model, ratings), out = [], key = model.version === 7 ? model.idRow.get(id) : id;
  sys.rows.forEach(function (row, j) {
    var i = key === undefined ? -1 : row.near.indexOf(key);
    if (i >= 0) { out.push({id: row.id, contribution: sys.scale * sys.z[j] * combined(row, sys.beta)[i]}); }
    else if (row.floor) { out.push({id: row.id, contribution: sys.scale * sys.z[j] * floorOf(row, sys.beta)}); }
  });
  out.sort(function (x, y) { return y.contribution - x.contribution || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0); });
  return out.slice(0, n === undefined ? 3 : n);
}

function placeFromTags(model, tags) {
  var d = model.dim, out = new Float64Array(d);
  if (!model.tagVectors) { fail("these embeddings have no tag vectors"); }
  var uniq = Array.from(new Set(tags)).sort();
  uniq.forEach(function (t) {
    var k = model.tagIds.indexOf(t);
    if (k < 0) { return; }
    for (var a = 0; a < d; a++) { out[a] += model.tagVectors[k * d + a]; }
  });
  return out;
}

/* ---------- the visitor's ratings, in localStorage ---------- */

function memoryStorage() {
  var m = new Map();
  return {
    getItem: function (k) { return m.has(k) ? m.get(k) : null; },
    setItem: function (k, v) { m.set(k, String(v)); },
    removeItem: function (k) { m.delete(k); }
  };
}

function defaultStorage() {
  try {
    if (typeof localStorage !== "undefined" && localStorage) { return localStorage; }
  } catch (e) { /* storage disabled: fall back to memory */ }
  return memoryStorage();
}

function Profile(storage, key) {
  if (!(this instanceof Profile)) { return new Profile(storage, key); }
  this.storage = storage || defaultStorage();
  this.key = key || STORAGE_KEY;
}

Profile.prototype._read = function () {
  var text = this.storage.getItem(this.key);
  if (!text) { return {}; }
  try {
    var obj = JSON.parse(text);
    return obj && typeof obj === "object" && !Array.isArray(obj) ? obj : {};
  } catch (e) { return {}; }
};
Profile.prototype._write = function (obj) { this.storage.setItem(this.key, JSON.stringify(obj)); };
Profile.prototype.get = function (id) {
  var r = this._read();
  return Object.prototype.hasOwnProperty.call(r, id) ? r[id] : null;
};
Profile.prototype.set = function (id, value) {
  if (typeof id !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) { fail("bad title id " + JSON.stringify(id)); }
  checkValue(id, value);
  var r = this._read();
  r[id] = value;
  this._write(r);
};
Profile.prototype.remove = function (id) {
  var r = this._read();
  delete r[id];
  this._write(r);
};
Profile.prototype.entries = function () {
  var r = this._read();
  return Object.keys(r).sort().map(function (k) { return [k, r[k]]; });
};
Profile.prototype.ratings = function () {
  var out = {};
  this.entries().forEach(function (e) { out[e[0]] = e[1]; });
  return out;
};
Profile.prototype.clear = function () { this.storage.removeItem(this.key); };
Profile.prototype.exportJSON = function () {
  return JSON.stringify({ schema: "mangarec-ratings", version: 1, ratings: this.ratings() }, null, 1);
};
/* Replaces the stored ratings with the file's (after checking every entry); returns the count. */
Profile.prototype.importJSON = function (text) {
  var doc;
  try { doc = JSON.parse(text); } catch (e) { fail("the file is not JSON"); }
  if (!doc || doc.schema !== "mangarec-ratings" || doc.version !== 1 || typeof doc.ratings !== "object" || doc.ratings === null) {
    fail("the file is not a mangarec ratings export");
  }
  var clean = {};
  Object.keys(doc.ratings).forEach(function (k) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(k)) { fail("bad title id " + JSON.stringify(k)); }
    checkValue(k, doc.ratings[k]);
    clean[k] = doc.ratings[k];
  });
  this._write(clean);
  return Object.keys(clean).length;
};

export {
  VERSION as version,
  loadEmbeddings,
  parseEmbeddings,
  loadRated,
  loadNames,
  named,
  recommendNamed,
  Profile,
  isLike,
  isDislike,
  toValues,
  fit,
  rank,
  recommend,
  explain,
  placeFromTags
};

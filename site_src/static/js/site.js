/* mangarec: what every page shares (an ES module with no dependency but hash.js).
 * Reads the page's JSON data island (#page-data), resolves site-relative URLs, fetches
 * data shards, builds elements. The visitor's profile is profile.js. */
import {fnv1a} from './hash.js';
import {slug} from './slug.js';

const island = document.getElementById('page-data');
export const data = island ? JSON.parse(island.textContent) : {};
export const root = data.root || './';
const cache = new Map();

export function url(path) { return root + path; }

export function fetchJSON(path) {
  if (!cache.has(path)) {
    cache.set(path, fetch(url(path), {credentials: 'same-origin'}).then(function (r) {
      if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
      return r.json();
    }).catch(function (e) { cache.delete(path); throw e; }));
  }
  return cache.get(path);
}

/* The neighbour shard holding an item: {models, items, nb} (mangarec.site.data_files). */
export function itemShard(id, nShards) {
  const n = nShards || data.nb_shards;
  return fetchJSON('data/nb/' + (fnv1a(id) % n) + '.json');
}

/* One title's own facts from its shard: {item: {t, g, y, k} | null}. */
export function itemFacts(id, nShards) {
  return itemShard(id, nShards).then(function (s) {
    const a = s.items[id];
    return {item: a ? {t: a[0], g: a[1], y: a[2], k: a[3]} : null};
  });
}

/* The dictionaries every shard points into: [titles.json {ids, t, kinds, k}, tags.json {g}]. */
function dictionaries() {
  return Promise.all([fetchJSON('data/maps/titles.json'), fetchJSON('data/maps/tags.json')]);
}

/* The digits of a shard's positions (data_files.POSITION_DIGITS). */
const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/* A shard list's positions: `w` base-64 digits each, most significant first (data_files.encode_positions). */
function positions(text, w) {
  const out = [];
  for (let i = 0; i < text.length; i += w) {
    let q = 0;
    for (let j = i; j < i + w; j++) q = q * 64 + DIGITS.indexOf(text[j]);
    out.push(q);
  }
  return out;
}

/* One title's facts and neighbours: {item: {t, g, y, k} | null, nb: {model: [[id, score,
 * [shared tag numbers], title, kind label]]}, ref: {id: title}}. Shards store neighbours as
 * catalog positions into the dictionaries and scores in thousandths, delta-coded. */
export function itemInfo(id, nShards) {
  return itemShard(id, nShards).then(function (s) {
    const a = s.items[id];
    if (!a) return {item: null, nb: {}, ref: {}};
    const item = {t: a[0], g: a[1], y: a[2], k: a[3]};
    const lists = a[4] || [];
    if (!lists.length) return {item: item, nb: {}, ref: {}};
    return dictionaries().then(function (d) {
      const names = d[0];
      const tagsOf = d[1].g;
      const mine = new Set(item.g);
      const nb = {};
      const ref = {};
      s.models.forEach(function (m, j) {
        const pair = lists[j];
        let score = 0;
        nb[m] = positions(pair[0], s.w).map(function (q, k) {
          score = k ? score - pair[1][k] : pair[1][0];
          const qid = names.ids[q];
          ref[qid] = names.t[q];
          return [qid, score / 1000, tagsOf[q].filter(function (t) { return mine.has(t); }), names.t[q],
            names.kinds[names.k[q]] || ''];
        });
      });
      return {item: item, nb: nb, ref: ref};
    });
  });
}

/* Accent-, case- and punctuation-insensitive words, like search_index.normalise. */
export function normalise(text) {
  const t = String(text).normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()
    .replace(/ß/g, 'ss').replace(/ς/g, 'σ');
  const words = t.match(/[\p{L}\p{N}]+/gu);
  return words ? words.join(' ') : '';
}

/* Build an element; text is always set as text, never parsed as HTML. */
export function el(tag, attrs, text) {
  const e = document.createElement(tag);
  if (attrs) {
    for (const k of Object.keys(attrs)) {
      if (attrs[k] === null || attrs[k] === undefined || attrs[k] === false) continue;
      e.setAttribute(k, attrs[k] === true ? '' : String(attrs[k]));
    }
  }
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

export function titleHref(id) { return url('title/' + encodeURIComponent(slug(id)) + '/'); }

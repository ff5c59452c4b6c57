/* mangarec: what every page shares (an ES module with no dependency but hash.js).
 * Reads the page's JSON data island (#page-data), resolves site-relative URLs, fetches
 * data shards, builds elements. The visitor's profile is profile.js. */
import {fnv1a} from './hash.js';

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

/* The neighbour shard holding an item: {items, nb, ref}. */
export function itemShard(id, nShards) {
  const n = nShards || data.nb_shards;
  return fetchJSON('data/nb/' + (fnv1a(id) % n) + '.json');
}

/* One title's facts from its shard: {item: {t, g, y, k} | null, nb: {model: [[id, score,
 * [shared tag numbers], title, kind label]]}, ref: {id: title}}. Shards store neighbours as numbers into
 * a shard-local table of [id, title, tags] and scores in thousandths. */
export function itemInfo(id, nShards) {
  return itemShard(id, nShards).then(function (s) {
    const a = s.items[id];
    if (!a) return {item: null, nb: {}, ref: {}};
    const item = {t: a[0], g: a[1], y: a[2], k: a[3]};
    const mine = new Set(item.g);
    const nb = {};
    const ref = {};
    const lists = s.nb[id] || {};
    Object.keys(lists).forEach(function (m) {
      const pair = lists[m];
      nb[m] = pair[0].map(function (r, k) {
        const x = s.ref[r];
        ref[x[0]] = x[1];
        return [x[0], pair[1][k] / 1000, x[2].filter(function (t) { return mine.has(t); }), x[1], x[3] || ''];
      });
    });
    return {item: item, nb: nb, ref: ref};
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

export function titleHref(id) { return url('title/' + encodeURIComponent(id) + '/'); }

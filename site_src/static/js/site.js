/* mangarec: shared helpers for every page (classic script, no dependencies).
 * Reads the page's JSON data island (#page-data), resolves site-relative URLs, fetches
 * data shards, and wraps the visitor's profile from taste.js (MangarecTaste). */
(function () {
  'use strict';
  const island = document.getElementById('page-data');
  const data = island ? JSON.parse(island.textContent) : {};
  const root = data.root || './';
  const cache = new Map();

  function url(path) { return root + path; }

  function fetchJSON(path) {
    if (!cache.has(path)) {
      cache.set(path, fetch(url(path), {credentials: 'same-origin'}).then(function (r) {
        if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
        return r.json();
      }).catch(function (e) { cache.delete(path); throw e; }));
    }
    return cache.get(path);
  }

  /* 32-bit FNV-1a over UTF-8 bytes: the same as mangarec.site.prepare.fnv1a. */
  function fnv1a(text) {
    const bytes = new TextEncoder().encode(text);
    let h = 0x811c9dc5;
    for (let i = 0; i < bytes.length; i++) {
      h ^= bytes[i];
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h >>> 0;
  }

  /* The neighbour shard holding an item: {models, items, nb} (mangarec.site.data_files). */
  function itemShard(id, nShards) {
    const n = nShards || data.nb_shards;
    return fetchJSON('data/nb/' + (fnv1a(id) % n) + '.json');
  }

  /* One title's own facts from its shard: {item: {t, g, y, k} | null}. */
  function itemFacts(id, nShards) {
    return itemShard(id, nShards).then(function (s) {
      const a = s.items[id];
      return {item: a ? {t: a[0], g: a[1], y: a[2], k: a[3]} : null};
    });
  }

  /* The dictionaries every shard points into: [titles.json {ids, t, kinds, k}, tags.json {g}]. */
  function dictionaries() {
    return Promise.all([fetchJSON('data/maps/titles.json'), fetchJSON('data/maps/tags.json')]);
  }

  /* One title's facts and neighbours: {item: {t, g, y, k} | null, nb: {model: [[id, score,
   * [shared tag numbers], title, kind label]]}, ref: {id: title}}. Shards store neighbours as
   * catalog positions into the dictionaries and scores in thousandths, delta-coded. */
  function itemInfo(id, nShards) {
    return itemShard(id, nShards).then(function (s) {
      const a = s.items[id];
      if (!a) return {item: null, nb: {}, ref: {}};
      const item = {t: a[0], g: a[1], y: a[2], k: a[3]};
      const lists = s.nb[id] || [];
      if (!lists.length) return {item: item, nb: {}, ref: {}};
      return dictionaries().then(function (d) {
        const T = d[0];
        const G = d[1].g;
        const mine = new Set(item.g);
        const nb = {};
        const ref = {};
        s.models.forEach(function (m, j) {
          const pair = lists[j];
          let score = 0;
          nb[m] = pair[0].map(function (q, k) {
            score = k ? score - pair[1][k] : pair[1][0];
            const qid = T.ids[q];
            ref[qid] = T.t[q];
            return [qid, score / 1000, G[q].filter(function (t) { return mine.has(t); }), T.t[q], T.kinds[T.k[q]] || ''];
          });
        });
        return {item: item, nb: nb, ref: ref};
      });
    });
  }

  /* Accent-, case- and punctuation-insensitive words, like search_index.normalise. */
  function normalise(text) {
    const t = String(text).normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()
      .replace(/ß/g, 'ss').replace(/ς/g, 'σ');
    const words = t.match(/[\p{L}\p{N}]+/gu);
    return words ? words.join(' ') : '';
  }

  /* Build an element; text is always set as text, never parsed as HTML. */
  function el(tag, attrs, text) {
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

  function titleHref(id) { return url('title/' + encodeURIComponent(id) + '/'); }

  /* The visitor's profile from taste.js, whatever its shape (object or class); null without it. */
  let profileObj;
  function profile() {
    if (profileObj !== undefined) return profileObj;
    const T = globalThis.MangarecTaste;
    profileObj = null;
    if (T && T.Profile) {
      const P = T.Profile;
      if (typeof P.get === 'function' && typeof P.set === 'function') profileObj = P;
      else if (typeof P === 'function') {
        try { profileObj = new P(); } catch (e) { profileObj = null; }
      }
    }
    return profileObj;
  }

  /* [[id, value]] pairs from Profile.entries(), which may be an array or an object. */
  function ratings() {
    const p = profile();
    if (!p) return [];
    const e = p.entries();
    if (Array.isArray(e)) {
      return e.map(function (x) {
        return Array.isArray(x) ? [String(x[0]), x[1]] : [String(x.id), x.value !== undefined ? x.value : x.rating];
      });
    }
    if (e && typeof e === 'object') return Object.keys(e).sort().map(function (k) { return [k, e[k]]; });
    return [];
  }

  /* taste.js's one like rule, at the threshold the build published (pages that call these load taste.js). */
  function isLike(v) { return globalThis.MangarecTaste.isLike(v, data.like_threshold); }
  function isDislike(v) { return globalThis.MangarecTaste.isDislike(v, data.like_threshold); }

  /* The published embeddings model (taste.js), or null when unavailable: the file the page
   * names (For you: the compact version 4, the recommendable titles up front), else the full one. */
  let modelPromise;
  function tasteModel() {
    const T = globalThis.MangarecTaste;
    if (!T || typeof T.loadEmbeddings !== 'function') return Promise.resolve(null);
    if (!modelPromise) {
      modelPromise = Promise.resolve().then(function () {
        const full = 'data/embeddings.json';
        if (!data.embeddings || data.embeddings === full) return T.loadEmbeddings(url(full));
        return T.loadEmbeddings(url(data.embeddings)).catch(function () { return T.loadEmbeddings(url(full)); });
      }).catch(function () { return null; });
    }
    return modelPromise;
  }

  /* The model with the vectors of every rated title loaded (version 4 fetches the shards of
   * rated titles that are not up front), or null. */
  function ratedModel(pairs) {
    const T = globalThis.MangarecTaste;
    return tasteModel().then(function (model) {
      if (!model || typeof T.loadRated !== 'function') return model;
      return T.loadRated(model, pairs);
    }).catch(function () { return null; });
  }

  /* A title's name as the loaded model knows it (null when it does not). */
  function modelTitle(model, id) {
    const row = model && model.titles ? model.index.get(id) : undefined;
    return row === undefined ? null : model.titles[row];
  }

  /* Ranks every title by the visitor's taste: Map id -> score, or null without a model. */
  function tasteScores(pairs) {
    const T = globalThis.MangarecTaste;
    return ratedModel(pairs).then(function (model) {
      if (!model || !pairs.length) return null;
      const p = profile();
      const taste = T.fit(model, p ? p.entries() : pairs);
      const exclude = pairs.map(function (x) { return x[0]; });
      const n = (model.ids && model.ids.length) || (model.itemIds && model.itemIds.length) || 100000;
      const ranked = T.rank(model, taste, {exclude: exclude, n: n});
      const scores = new Map();
      ranked.forEach(function (r) { scores.set(String(r.id), r.score); });
      return scores;
    }).catch(function () { return null; });
  }

  /* Why a taste pick ranks high: the liked titles whose fold-in contributions (taste.js
   * explain: the score is exactly their sum) pull it up most, best first: [{id, contribution}]. */
  function pulledUpBy(pairs, id, n) {
    const T = globalThis.MangarecTaste;
    return ratedModel(pairs).then(function (model) {
      if (!model || !pairs.length || typeof T.explain !== 'function') return [];
      const p = profile();
      return T.explain(model, p ? p.entries() : pairs, id, pairs.length).filter(function (e) {
        return e.contribution > 0 && isLike(p ? p.get(e.id) : undefined);
      }).slice(0, n || 2);
    }).catch(function () { return []; });
  }

  /* A like / dislike control like the template's rate_buttons macro (for cards built here). */
  function rateBox(id, title) {
    const box = el('div', {class: 'rate', 'data-id': id});
    box.appendChild(el('button', {type: 'button', class: 'btn like', 'data-rate': 'like', 'aria-pressed': 'false',
      'aria-label': 'Like ' + title}, 'Like'));
    box.appendChild(el('button', {type: 'button', class: 'btn dislike', 'data-rate': 'dislike', 'aria-pressed': 'false',
      'aria-label': 'Dislike ' + title}, 'Dislike'));
    return box;
  }

  globalThis.Mangarec = {
    data: data, root: root, url: url, fetchJSON: fetchJSON, fnv1a: fnv1a, itemShard: itemShard,
    itemInfo: itemInfo, itemFacts: itemFacts, normalise: normalise, el: el, titleHref: titleHref, profile: profile,
    ratings: ratings, isLike: isLike, isDislike: isDislike, tasteModel: tasteModel, tasteScores: tasteScores,
    pulledUpBy: pulledUpBy, rateBox: rateBox, ratedModel: ratedModel, modelTitle: modelTitle
  };

  /* Like / dislike controls (title pages, feed, For you): shown only when a profile store
   * exists. One delegated listener per document, so cards added later work too; every box of
   * the same title is kept in sync. */
  function syncRate(box) {
    const p = profile();
    const v = p ? p.get(box.dataset.id) : undefined;
    box.hidden = !p;
    box.querySelectorAll('button[data-rate]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(v === b.dataset.rate));
    });
  }
  function syncAll(id) {
    document.querySelectorAll('.rate[data-id]').forEach(function (box) {
      if (id === undefined || box.dataset.id === id) syncRate(box);
    });
  }
  const listeners = [];
  let delegated = false;
  globalThis.Mangarec.initRateButtons = function (onChange) {
    const p = profile();
    if (!p) return false;
    if (onChange) listeners.push(onChange);
    syncAll();
    if (!delegated) {
      delegated = true;
      document.addEventListener('click', function (ev) {
        const b = ev.target.closest && ev.target.closest('.rate[data-id] button[data-rate]');
        if (!b) return;
        const id = b.closest('.rate').dataset.id;
        if (p.get(id) === b.dataset.rate) p.remove(id); else p.set(id, b.dataset.rate);
        syncAll(id);
        listeners.forEach(function (f) { f(id, p.get(id)); });
      });
    }
    return true;
  };
  globalThis.Mangarec.syncRate = syncRate;
  globalThis.Mangarec.syncAll = syncAll;
})();

/* Type-ahead over the sharded title index (data/search/); the same algorithm as
 * mangarec.site.search_index.query. Loads index.json (the prefix table) once, then only the
 * one shard the query needs. */
(function () {
  'use strict';
  const M = globalThis.Mangarec;
  let meta = null;
  const prepared = new Map(); // shard key -> [{id, title, alt, words, norm, rank}]

  function hex(text) {
    return Array.from(new TextEncoder().encode(text), function (b) {
      return b.toString(16).padStart(2, '0');
    }).join('');
  }

  function loadMeta() {
    if (!meta) meta = M.fetchJSON('data/search/index.json');
    return meta;
  }

  /* [key, complete] for one query word, or [null, false]. */
  function resolve(keys, word) {
    const chars = Array.from(word);
    for (let n = 1; n <= chars.length; n++) {
      const key = chars.slice(0, n).join('');
      const flag = keys[key];
      if (flag === undefined) return [null, false];
      if (flag === 1) return [key, true];
      if (n === chars.length) return [flag === 2 ? key : null, false];
    }
    return [null, false];
  }

  function shard(key) {
    return M.fetchJSON('data/search/k-' + hex(key) + '.json').then(function (s) {
      if (!prepared.has(key)) {
        const names = [];
        for (const id of Object.keys(s.i)) {
          const norm = M.normalise(s.i[id][0]);
          names.push({id: id, title: s.i[id][0], alt: null, norm: norm, words: norm.split(' '), rank: s.i[id][1]});
        }
        for (const pair of s.a) {
          const norm = M.normalise(pair[1]);
          const info = s.i[pair[0]];
          names.push({id: pair[0], title: info[0], alt: pair[1], norm: norm, words: norm.split(' '), rank: info[1]});
        }
        prepared.set(key, names);
      }
      return prepared.get(key);
    });
  }

  /* Promise of {results: [{id, title, alt}], complete, empty}. */
  function query(text, limit) {
    limit = limit || 10;
    const q = M.normalise(text);
    if (!q) return Promise.resolve({results: [], complete: true, empty: true});
    return loadMeta().then(function (m) {
      const stop = new Set(m.stop);
      const words = q.split(' ');
      let candidates = words.filter(function (w) { return !stop.has(w); });
      if (!candidates.length) candidates = words;
      let best = null;
      for (const w of candidates) {
        const r = resolve(m.keys, w);
        if (r[0] === null) {
          if (m.keys[Array.from(w)[0]] === undefined) return {results: [], complete: true};
          continue;
        }
        const score = [r[1] ? 1 : 0, Array.from(r[0]).length, Array.from(w).length];
        if (!best || score[0] > best.score[0] || (score[0] === best.score[0] && (score[1] > best.score[1] ||
            (score[1] === best.score[1] && score[2] > best.score[2])))) {
          best = {score: score, key: r[0]};
        }
      }
      if (!best) return {results: [], complete: false};
      return shard(best.key).then(function (names) {
        const hits = new Map();
        for (const n of names) {
          let ok = true;
          for (const qw of words) {
            if (!n.words.some(function (w) { return w.startsWith(qw); })) { ok = false; break; }
          }
          if (!ok) continue;
          const order = [n.norm.startsWith(q) ? 0 : 1, n.rank, n.alt === null ? 0 : 1];
          const prev = hits.get(n.id);
          if (!prev || cmp(order, prev.order) < 0) hits.set(n.id, {order: order, n: n});
        }
        const ranked = Array.from(hits.values()).sort(function (a, b) { return cmp(a.order, b.order); });
        return {
          results: ranked.slice(0, limit).map(function (h) { return {id: h.n.id, title: h.n.title, alt: h.n.alt}; }),
          complete: best.score[0] === 1
        };
      });
    });
  }

  function cmp(a, b) {
    for (let i = 0; i < a.length; i++) { if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1; }
    return 0;
  }

  globalThis.MangarecSearch = {query: query};
})();

/* Type-ahead over the sharded title index (data/search/); the same algorithm as
 * mangarec.site.search_index.query. Loads index.json (the prefix table) once, then only the
 * one shard the query needs. */
import {el, fetchJSON, normalise} from './site.js';

let meta = null;
const prepared = new Map(); // shard key -> [{id, title, alt, words, norm, rank}]

function hex(text) {
  return Array.from(new TextEncoder().encode(text), function (b) {
    return b.toString(16).padStart(2, '0');
  }).join('');
}

function loadMeta() {
  if (!meta) meta = fetchJSON('data/search/index.json');
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
  return fetchJSON('data/search/k-' + hex(key) + '.json').then(function (s) {
    if (!prepared.has(key)) {
      const names = [];
      for (const id of Object.keys(s.i)) {
        const norm = normalise(s.i[id][0]);
        names.push({id: id, title: s.i[id][0], alt: null, norm: norm, words: norm.split(' '), rank: s.i[id][1]});
      }
      for (const pair of s.a) {
        const norm = normalise(pair[1]);
        const info = s.i[pair[0]];
        names.push({id: pair[0], title: info[0], alt: pair[1], norm: norm, words: norm.split(' '), rank: info[1]});
      }
      const gone = (s.x || []).map(function (name) {
        const norm = normalise(name);
        return {name: name, words: norm.split(' ')};
      });
      prepared.set(key, {names: names, gone: gone});
    }
    return prepared.get(key);
  });
}

/* Promise of {results: [{id, title, alt}] (the first `limit`), total (every matching title),
 * leftOut: [names of titles left out by the adult filter that match], complete, empty}. */
export function query(text, limit) {
  limit = limit || 10;
  const q = normalise(text);
  const none = {results: [], total: 0, leftOut: [], complete: true};
  if (!q) return Promise.resolve(Object.assign({}, none, {empty: true}));
  return loadMeta().then(function (m) {
    const stop = new Set(m.stop);
    const words = q.split(' ');
    let candidates = words.filter(function (w) { return !stop.has(w); });
    if (!candidates.length) candidates = words;
    let best = null;
    for (const w of candidates) {
      const r = resolve(m.keys, w);
      if (r[0] === null) {
        if (m.keys[Array.from(w)[0]] === undefined) return none;
        continue;
      }
      const score = [r[1] ? 1 : 0, Array.from(r[0]).length, Array.from(w).length];
      if (!best || score[0] > best.score[0] || (score[0] === best.score[0] && (score[1] > best.score[1] ||
          (score[1] === best.score[1] && score[2] > best.score[2])))) {
        best = {score: score, key: r[0]};
      }
    }
    if (!best) return Object.assign({}, none, {complete: false});
    function matches(nameWords) {
      for (const qw of words) {
        if (!nameWords.some(function (w) { return w.startsWith(qw); })) return false;
      }
      return true;
    }
    return shard(best.key).then(function (sh) {
      const hits = new Map();
      for (const n of sh.names) {
        if (!matches(n.words)) continue;
        const order = [n.norm.startsWith(q) ? 0 : 1, n.rank, n.alt === null ? 0 : 1];
        const prev = hits.get(n.id);
        if (!prev || cmp(order, prev.order) < 0) hits.set(n.id, {order: order, n: n});
      }
      const ranked = Array.from(hits.values()).sort(function (a, b) { return cmp(a.order, b.order); });
      return {
        results: ranked.slice(0, limit).map(function (h) { return {id: h.n.id, title: h.n.title, alt: h.n.alt}; }),
        total: ranked.length,
        leftOut: sh.gone.filter(function (g) { return matches(g.words); }).slice(0, limit).map(function (g) { return g.name; }),
        complete: best.score[0] === 1
      };
    });
  });
}

function cmp(a, b) {
  for (let i = 0; i < a.length; i++) { if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1; }
  return 0;
}

/* An accessible combobox (ARIA 1.2 list autocomplete) over the index: typing lists the
 * first `step` matching titles; when more match, a last option shows the next ones; names
 * of titles left out by the adult filter are said in the status line. onPick({id, title}). */
export function combobox(input, list, status, onPick, step) {
  step = step || 12;
  let results = [];
  let active = -1;
  let seq = 0;
  let limit = step;
  let total = 0;

  function close() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  }

  function options() { return list.querySelectorAll('li[role="option"]'); }

  function setActive(i) {
    const items = options();
    items.forEach(function (li, k) { li.setAttribute('aria-selected', String(k === i)); });
    active = i;
    if (i >= 0 && items[i]) {
      input.setAttribute('aria-activedescendant', items[i].id);
      items[i].scrollIntoView({block: 'nearest'});
    }
  }

  function plural(n) { return n.toLocaleString() + (n === 1 ? ' title' : ' titles'); }

  function render(res, keep) {
    list.textContent = '';
    results = res.results;
    total = res.total;
    const prefix = list.id + '-opt-';
    results.forEach(function (r, k) {
      const li = el('li', {id: prefix + k, role: 'option', 'aria-selected': 'false', 'data-id': r.id});
      li.appendChild(el('span', {class: 'result-title'}, r.title));
      if (r.alt) li.appendChild(el('span', {class: 'alt-match'}, r.alt));
      li.addEventListener('mousedown', function (ev) { ev.preventDefault(); choose(k); });
      list.appendChild(li);
    });
    if (total > results.length) {
      const more = Math.min(step, total - results.length);
      const li = el('li', {id: prefix + 'more', role: 'option', 'aria-selected': 'false', class: 'more'},
        'Show ' + more + ' more (' + plural(total - results.length) + ' not shown)');
      li.addEventListener('mousedown', function (ev) { ev.preventDefault(); choose(results.length); });
      list.appendChild(li);
    }
    const n = results.length;
    list.hidden = n === 0;
    input.setAttribute('aria-expanded', String(n > 0));
    active = -1;
    if (keep !== undefined && keep >= 0) setActive(Math.min(keep, options().length - 1));
    const gone = res.leftOut || [];
    const goneText = gone.length ? ' Left out by the adult filter: ' + gone.slice(0, 3).join(', ') +
      (gone.length > 3 ? ' and ' + (gone.length - 3) + ' more' : '') + '.' : '';
    if (res.empty) status.textContent = '';
    else if (n === 0) status.textContent = (gone.length ? 'No title to show.' : (res.complete ? 'No matching title.' : 'Keep typing…')) + goneText;
    else status.textContent = plural(total) + ' found' + (total > n ? ', ' + n + ' shown' : '') +
      (res.complete ? '.' : ' so far: keep typing for more.') + goneText;
  }

  function run(keep) {
    const my = ++seq;
    query(input.value, limit).then(function (res) {
      if (my === seq) render(res, keep);
    }).catch(function (e) {
      if (my === seq) status.textContent = 'Search unavailable: ' + e.message;
    });
  }

  function choose(k) {
    if (k >= results.length) {  // the "show more" option
      limit += step;
      input.focus();
      run(k);
      return;
    }
    const r = results[k];
    if (!r) return;
    input.value = r.title;
    close();
    onPick(r);
  }

  input.addEventListener('input', function () { limit = step; run(); });
  input.addEventListener('keydown', function (ev) {
    const n = options().length;
    if (ev.key === 'ArrowDown' && n) { ev.preventDefault(); list.hidden = false; setActive((active + 1) % n); }
    else if (ev.key === 'ArrowUp' && n) { ev.preventDefault(); setActive((active - 1 + n) % n); }
    else if (ev.key === 'Enter') { if (n) { ev.preventDefault(); choose(active >= 0 ? active : 0); } }
    else if (ev.key === 'Escape') { close(); }
  });
  input.addEventListener('blur', function () { setTimeout(close, 150); });
  return {close: close, total: function () { return total; }};
}

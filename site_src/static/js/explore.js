/* Explore page: an accessible combobox over the search index; picking a title shows its
 * tags and its neighbours under every model (fetched lazily from data/nb/<shard>.json). */
(function () {
  'use strict';
  const M = globalThis.Mangarec;
  const S = globalThis.MangarecSearch;
  const input = document.getElementById('q');
  const list = document.getElementById('results');
  const status = document.getElementById('search-status');
  const models = M.data.models || [];
  const tags = M.data.tags || [];
  let results = [];
  let active = -1;
  let seq = 0;

  function close() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  }

  function setActive(i) {
    const items = list.querySelectorAll('li');
    items.forEach(function (li, k) { li.setAttribute('aria-selected', String(k === i)); });
    active = i;
    if (i >= 0 && items[i]) {
      input.setAttribute('aria-activedescendant', items[i].id);
      items[i].scrollIntoView({block: 'nearest'});
    }
  }

  function render(res) {
    list.textContent = '';
    results = res.results;
    results.forEach(function (r, k) {
      const li = M.el('li', {id: 'opt-' + k, role: 'option', 'aria-selected': 'false', 'data-id': r.id});
      li.appendChild(M.el('span', {class: 'result-title'}, r.title));
      if (r.alt) li.appendChild(M.el('span', {class: 'alt-match'}, r.alt));
      li.addEventListener('mousedown', function (ev) { ev.preventDefault(); pick(k); });
      list.appendChild(li);
    });
    const n = results.length;
    list.hidden = n === 0;
    input.setAttribute('aria-expanded', String(n > 0));
    active = -1;
    if (res.empty) status.textContent = '';
    else if (n === 0) status.textContent = res.complete ? 'No matching title.' : 'Keep typing…';
    else status.textContent = n + (n === 1 ? ' title' : ' titles') + ' found' + (res.complete ? '.' : ' so far: keep typing for more.');
  }

  input.addEventListener('input', function () {
    const my = ++seq;
    S.query(input.value, 12).then(function (res) {
      if (my === seq) render(res);
    }).catch(function (e) {
      if (my === seq) status.textContent = 'Search unavailable: ' + e.message;
    });
  });

  input.addEventListener('keydown', function (ev) {
    const n = results.length;
    if (ev.key === 'ArrowDown' && n) { ev.preventDefault(); list.hidden = false; setActive((active + 1) % n); }
    else if (ev.key === 'ArrowUp' && n) { ev.preventDefault(); setActive((active - 1 + n) % n); }
    else if (ev.key === 'Enter') { if (n) { ev.preventDefault(); pick(active >= 0 ? active : 0); } }
    else if (ev.key === 'Escape') { close(); }
  });
  input.addEventListener('blur', function () { setTimeout(close, 150); });

  function pick(k) {
    const r = results[k];
    if (!r) return;
    input.value = r.title;
    close();
    show(r.id);
    if (history.replaceState) history.replaceState(null, '', '#' + encodeURIComponent(r.id));
  }

  function tagList(ids, cls) {
    const ul = M.el('ul', {class: 'tags ' + (cls || '')});
    ids.forEach(function (t) { ul.appendChild(M.el('li', {class: 'tag'}, tags[t])); });
    return ul;
  }

  function show(id) {
    const section = document.getElementById('chosen');
    status.textContent = 'Loading neighbours…';
    M.itemInfo(id).then(function (info) {
      if (!info.item) { status.textContent = 'Unknown title.'; return; }
      section.hidden = false;
      const h = document.getElementById('chosen-title');
      h.textContent = '';
      h.appendChild(M.el('a', {href: M.titleHref(id)}, info.item.t));
      document.getElementById('chosen-meta').textContent =
        info.item.k + (info.item.y ? ' · ' + info.item.y : '');
      const tl = document.getElementById('chosen-tags');
      tl.textContent = '';
      info.item.g.forEach(function (t) { tl.appendChild(M.el('li', {class: 'tag'}, tags[t])); });
      const cols = document.getElementById('model-columns');
      cols.textContent = '';
      /* "Same series" first, apart from the similar-title columns. */
      const ordered = models.filter(function (m) { return m.series; })
        .concat(models.filter(function (m) { return !m.series; }));
      ordered.forEach(function (m) {
        const col = M.el('section', {class: 'model-col' + (m.series ? ' series' : ''), 'aria-label': m.label, 'data-model': m.name});
        col.appendChild(M.el('h3', null, m.label));
        const ol = M.el('ol', {class: 'nb'});
        const rows = info.nb[m.name] || [];
        rows.forEach(function (row) {
          const li = M.el('li');
          li.appendChild(M.el('a', {href: M.titleHref(row[0])}, info.ref[row[0]] || row[0]));
          if (row[4]) {
            li.appendChild(document.createTextNode(' '));
            li.appendChild(M.el('span', {class: 'format'}, row[4]));
          }
          li.appendChild(document.createTextNode(' '));
          li.appendChild(M.el('span', {class: 'score', title: 'similarity score'}, Number(row[1]).toFixed(3)));
          if (row[2].length) {
            li.appendChild(M.el('span', {class: 'shared'}, row[2].map(function (t) { return tags[t]; }).join(', ')));
          }
          ol.appendChild(li);
        });
        if (!rows.length) ol.appendChild(M.el('li', {class: 'none'}, m.series ? 'No other title of this series.' : 'No neighbours.'));
        col.appendChild(ol);
        cols.appendChild(col);
      });
      status.textContent = '';
      h.setAttribute('tabindex', '-1');
    }).catch(function (e) { status.textContent = 'Could not load neighbours: ' + e.message; });
  }

  if (location.hash.length > 1) {
    try { show(decodeURIComponent(location.hash.slice(1))); } catch (e) { /* ignore a bad hash */ }
  }
})();

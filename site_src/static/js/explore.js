/* Explore page: an accessible combobox over the search index; picking a title shows its
 * tags and its neighbours under every model (fetched lazily from data/nb/<shard>.json).
 * The chosen title lives in the address (#id): each pick is a history entry, so Back returns
 * to the previous pick, and a deep link or a hash change shows its title. */
import {data, el, itemInfo, titleHref} from './site.js';
import {combobox} from './search.js';

const input = document.getElementById('q');
const list = document.getElementById('results');
const status = document.getElementById('search-status');
const section = document.getElementById('chosen');
const models = data.models || [];
const tags = data.tags || [];
let shown = null;
let seq = 0;

combobox(input, list, status, function (r) {
  const hash = '#' + encodeURIComponent(r.id);
  if (location.hash === hash) show(r.id);
  else location.hash = hash;  // a new history entry; hashchange shows it
});

function fromHash() {
  if (location.hash.length <= 1) {
    shown = null;
    section.hidden = true;
    input.value = '';
    return;
  }
  let id;
  try { id = decodeURIComponent(location.hash.slice(1)); } catch (e) { status.textContent = 'Unknown title.'; return; }
  if (id !== shown) show(id);
}
window.addEventListener('hashchange', fromHash);

function show(id) {
  const my = ++seq;
  shown = id;
  status.textContent = 'Loading neighbours…';
  itemInfo(id).then(function (info) {
    if (my !== seq) return;
    if (!info.item) { status.textContent = 'Unknown title.'; section.hidden = true; return; }
    input.value = info.item.t;
    section.hidden = false;
    const h = document.getElementById('chosen-title');
    h.textContent = '';
    h.appendChild(el('a', {href: titleHref(id)}, info.item.t));
    document.getElementById('chosen-meta').textContent =
      info.item.k + (info.item.y ? ' · ' + info.item.y : '');
    const tl = document.getElementById('chosen-tags');
    tl.textContent = '';
    info.item.g.forEach(function (t) { tl.appendChild(el('li', {class: 'tag'}, tags[t])); });
    const cols = document.getElementById('model-columns');
    cols.textContent = '';
    /* "Same series" first, apart from the similar-title columns. */
    const ordered = models.filter(function (m) { return m.series; })
      .concat(models.filter(function (m) { return !m.series; }));
    ordered.forEach(function (m) {
      const col = el('section', {class: 'model-col' + (m.series ? ' series' : ''), 'aria-label': m.label, 'data-model': m.name});
      col.appendChild(el('h3', null, m.label));
      const ol = el('ol', {class: 'nb'});
      const rows = info.nb[m.name] || [];
      rows.forEach(function (row) {
        const li = el('li');
        li.appendChild(el('a', {href: titleHref(row[0])}, info.ref[row[0]] || row[0]));
        if (row[4]) {
          li.appendChild(document.createTextNode(' '));
          li.appendChild(el('span', {class: 'kind'}, row[4]));
        }
        li.appendChild(document.createTextNode(' '));
        li.appendChild(el('span', {class: 'score', title: 'similarity under ' + m.label}, Number(row[1]).toFixed(3)));
        if (row[2].length) {
          li.appendChild(el('span', {class: 'shared'}, row[2].map(function (t) { return tags[t]; }).join(', ')));
        }
        ol.appendChild(li);
      });
      if (!rows.length) ol.appendChild(el('li', {class: 'none'}, m.series ? 'No other title of this series.' : 'No neighbours.'));
      col.appendChild(ol);
      cols.appendChild(col);
    });
    status.textContent = '';
    h.setAttribute('tabindex', '-1');
  }).catch(function (e) { if (my === seq) status.textContent = 'Could not load neighbours: ' + e.message; });
}

fromHash();

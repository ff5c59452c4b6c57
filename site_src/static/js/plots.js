/* Maps page: one WebGL scatter (scattergl) per model. The first picture needs only that
 * model's quantised coordinates (data/maps/<model>.json + .bin); titles (hover, clicks) load
 * next, and tags (data/maps/tags.json) only when the map is coloured. A click or tap shows the
 * point below the map with links to its page and its neighbours; nothing navigates by itself. */
import {data, el, fetchJSON, itemFacts, titleHref, url} from './site.js';

const P = globalThis.Plotly;  // plotly.js: the vendored classic script the page loads first
const models = data.models || [];
const wrap = document.getElementById('maps');
const status = document.getElementById('plot-status');
const modelSel = document.getElementById('model');
const colourSel = document.getElementById('colour');
const plotDiv = document.getElementById('plot');
const tagDiv = document.getElementById('tag-plot');
const plotTitle = document.getElementById('plot-title');
const tagTitle = document.getElementById('tag-plot-title');
const colourHelp = document.getElementById('colour-help');
const pick = document.getElementById('pick');

const css = getComputedStyle(document.documentElement);
function v(name, fallback) { return css.getPropertyValue(name).trim() || fallback; }
const fg = v('--fg', '#222');
const bg = v('--card', '#fff');
const accent = v('--accent', '#3457d5');
const otherColour = v('--map-other', '#5f6368');
const noneColour = v('--map-none', '#c8cad3');
/* Nine distinct hues (no grey: grey is for "other" and "no tag"). */
const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];
const maps = new Map();  // model -> Promise {header, x: Float32Array, y: Float32Array}
let titles = null;       // {ids, t}
let tagData = null;      // {tags, groups, g}
let bound = false;
let seq = 0;

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function layout(kind) {
  return {
    paper_bgcolor: bg, plot_bgcolor: bg, font: {color: fg},
    margin: {l: 8, r: 8, t: 34, b: 8}, hovermode: 'closest', dragmode: 'pan',
    xaxis: {showgrid: false, zeroline: false, showticklabels: false},
    yaxis: {showgrid: false, zeroline: false, showticklabels: false, scaleanchor: 'x'},
    showlegend: kind === 'titles',
    legend: {orientation: 'h', x: 0, y: 0, yanchor: 'top', font: {color: fg}}
  };
}
const config = {responsive: true, displaylogo: false, scrollZoom: true,
  modeBarButtonsToRemove: ['select2d', 'lasso2d', 'toImage', 'autoScale2d']};

function loadMap(name) {
  if (!maps.has(name)) {
    const p = fetchJSON('data/maps/' + name + '.json').then(function (header) {
      return fetch(url('data/maps/' + header.bin), {credentials: 'same-origin'}).then(function (r) {
        if (!r.ok) throw new Error(header.bin + ': HTTP ' + r.status);
        return r.arrayBuffer();
      }).then(function (buf) {
        const n = header.n;
        const view = new DataView(buf);
        if (buf.byteLength !== 4 * n) throw new Error(header.bin + ': wrong size');
        const x = new Float32Array(n), y = new Float32Array(n);
        const sx = (header.x[1] - header.x[0]) / 65534, sy = (header.y[1] - header.y[0]) / 65534;
        for (let i = 0; i < n; i++) {
          const qx = view.getUint16(2 * i, true), qy = view.getUint16(2 * (n + i), true);
          x[i] = qx === 65535 ? NaN : header.x[0] + qx * sx;
          y[i] = qy === 65535 ? NaN : header.y[0] + qy * sy;
        }
        return {header: header, x: x, y: y};
      });
    });
    p.catch(function () { maps.delete(name); });
    maps.set(name, p);
  }
  return maps.get(name);
}

function loadTags() {
  return fetchJSON('data/maps/tags.json').then(function (d) { tagData = d; return d; });
}

/* The hover label: the title (and its tags once loaded), as text, beside the pointer. */
const hoverBox = el('div', {class: 'map-hover', 'aria-hidden': 'true', hidden: true});
function showHover(ev) {
  const pt = ev.points && ev.points[0];
  if (!pt || !titles) return;
  const i = pt.customdata;
  hoverBox.textContent = '';
  hoverBox.appendChild(el('strong', null, titles.t[i]));
  if (tagData) hoverBox.appendChild(el('span', null, tagData.g[i].map(function (k) { return tagData.tags[k]; }).join(', ')));
  const box = plotDiv.parentNode.getBoundingClientRect();
  const e = ev.event || {};
  hoverBox.hidden = false;
  const x = (e.clientX || box.left) - box.left, y = (e.clientY || box.top) - box.top;
  hoverBox.style.left = Math.max(0, Math.min(x + 12, box.width - hoverBox.offsetWidth - 4)) + 'px';
  hoverBox.style.top = Math.max(0, y + 12 + hoverBox.offsetHeight > box.height ? y - hoverBox.offsetHeight - 8 : y + 12) + 'px';
}

/* Traces for a colouring: [{name, color, idx, opacity}]. For a tag group, the nine most
 * common tags of the group get a colour each; a title with several of them takes the least
 * common one (so a frequent tag does not swallow the others), ties to the more common. */
function groupsOf(colour, n) {
  const all = [];
  for (let i = 0; i < n; i++) all.push(i);
  if (!colour) return {traces: [{name: 'titles', color: accent, idx: all}], help: ''};
  if (colour.startsWith('tag:')) {
    const t = Number(colour.slice(4));
    const yes = [], no = [];
    for (let i = 0; i < n; i++) (tagData.g[i].indexOf(t) >= 0 ? yes : no).push(i);
    return {traces: [{name: 'other titles (' + no.length.toLocaleString() + ')', color: noneColour, idx: no, opacity: 0.45},
                     {name: tagData.tags[t] + ' (' + yes.length.toLocaleString() + ')', color: accent, idx: yes}],
            help: ''};
  }
  const group = colour.slice(6);
  const members = new Set((tagData.groups.find(function (g) { return g[0] === group; }) || [null, []])[1]);
  const count = new Map();
  for (let i = 0; i < n; i++) {
    for (const t of tagData.g[i]) if (members.has(t)) count.set(t, (count.get(t) || 0) + 1);
  }
  const top = Array.from(count.keys()).sort(function (a, b) { return count.get(b) - count.get(a) || a - b; }).slice(0, 9);
  const slot = new Map(top.map(function (t, k) { return [t, k]; }));
  const out = top.map(function (t, k) { return {tag: t, color: palette[k], idx: []}; });
  const other = {name: 'other ' + group, color: otherColour, idx: []};
  const none = {name: 'no ' + group + ' tag', color: noneColour, idx: [], opacity: 0.45};
  for (let i = 0; i < n; i++) {
    let best = -1, any = false;
    for (const t of tagData.g[i]) {
      if (!members.has(t)) continue;
      any = true;
      if (slot.has(t) && (best < 0 || count.get(t) < count.get(top[best]) ||
          (count.get(t) === count.get(top[best]) && slot.get(t) < best))) best = slot.get(t);
    }
    if (best >= 0) out[best].idx.push(i); else if (any) other.idx.push(i); else none.idx.push(i);
  }
  out.forEach(function (o) { o.name = tagData.tags[o.tag] + ' (' + o.idx.length.toLocaleString() + ')'; });
  other.name += ' (' + other.idx.length.toLocaleString() + ')';
  none.name += ' (' + none.idx.length.toLocaleString() + ')';
  return {traces: [none].concat(out, other.idx.length ? [other] : []),
          help: 'Colours: the ' + top.length + ' most common ' + group + ' tags. A title with several of them ' +
            'takes the least common one; "other" titles have only rarer ' + group + ' tags.'};
}

function draw() {
  const my = ++seq;
  const name = modelSel.value;
  const label = modelSel.options[modelSel.selectedIndex].text;
  const colour = colourSel.value;
  status.textContent = 'Loading the ' + label + ' map…';
  Promise.all([loadMap(name), colour && !tagData ? loadTags() : Promise.resolve(tagData)]).then(function (res) {
    if (my !== seq) return null;
    const map = res[0];
    const n = map.header.n;
    const size = n > 10000 ? 3 : 5;
    const g = groupsOf(colour, n);
    const traces = g.traces.filter(function (t) { return t.idx.length; }).map(function (t) {
      const x = new Float32Array(t.idx.length), y = new Float32Array(t.idx.length);
      t.idx.forEach(function (i, k) { x[k] = map.x[i]; y[k] = map.y[i]; });
      return {
        type: 'scattergl', mode: 'markers', name: esc(t.name), x: x, y: y, customdata: t.idx,
        hoverinfo: 'none',  // our own label (showHover): per-point text arrays slow panning down
        marker: {size: size, color: t.color, opacity: t.opacity || (n > 10000 ? 1 : 0.85)}
      };
    });
    plotTitle.textContent = label + ': titles';
    colourHelp.hidden = !g.help;
    colourHelp.textContent = g.help;
    return P.react(plotDiv, traces, layout('titles'), config).then(function () {
      if (my !== seq) return;
      plotDiv.dataset.model = name;
      plotDiv.dataset.colour = colour;
      if (!bound) {
        bound = true;
        plotDiv.on('plotly_click', function (ev) {
          const pt = ev.points && ev.points[0];
          if (pt && titles) showPick(pt.customdata);
        });
        plotDiv.on('plotly_hover', showHover);
        plotDiv.on('plotly_unhover', function () { hoverBox.hidden = true; });
      }
      status.textContent = label + ': ' + n.toLocaleString() + ' titles.' + (titles ? '' : ' Loading their names…');
      drawTags(map.header, label);
      if (!titles) {
        fetchJSON('data/maps/titles.json').then(function (t) {
          titles = t;
          if (my === seq) status.textContent = label + ': ' + n.toLocaleString() + ' titles.';
        }).catch(function (e) { status.textContent = 'Could not load the titles: ' + e.message; });
      }
    });
  }).catch(function (e) { if (my === seq) status.textContent = 'Could not draw the map: ' + e.message; });
}

function showPick(i) {
  const id = titles.ids[i];
  pick.hidden = false;
  pick.textContent = '';
  const h = el('h3', null);
  h.appendChild(el('a', {href: titleHref(id)}, titles.t[i]));
  pick.appendChild(h);
  const meta = el('p', {class: 'meta'});
  const tl = el('ul', {class: 'tags', 'aria-label': 'Tags'});
  pick.appendChild(meta);
  pick.appendChild(tl);
  const links = el('p');
  links.appendChild(el('a', {href: titleHref(id)}, 'Open its page'));
  links.appendChild(document.createTextNode(' · '));
  links.appendChild(el('a', {href: url('explore/#' + encodeURIComponent(id))}, 'Compare its neighbours'));
  pick.appendChild(links);
  pick.dataset.id = id;
  itemFacts(id).then(function (info) {
    if (!info.item || pick.dataset.id !== id) return;
    meta.textContent = info.item.k + (info.item.y ? ' · ' + info.item.y : '');
    info.item.g.forEach(function (t) { tl.appendChild(el('li', {class: 'tag'}, (data.tags || [])[t] || '')); });
  }).catch(function () { /* the links are enough */ });
}

/* Labels for the most common tags that do not collide with a label already placed. */
function labelled(tags) {
  const k = tags.t.length;
  const xs = tags.x, ys = tags.y;
  const x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
  const y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
  const w = (x1 - x0) || 1, h = (y1 - y0) || 1;
  const order = Array.from({length: k}, function (_, i) { return i; })
    .sort(function (a, b) { return (tags.n ? tags.n[b] - tags.n[a] : 0) || a - b; });
  const kept = [];
  const text = new Array(k).fill('');
  for (const i of order) {
    if (kept.length >= 40) break;
    const u = (xs[i] - x0) / w, v2 = (ys[i] - y0) / h;
    const half = Math.min(0.2, 0.012 * tags.t[i].length);
    if (kept.every(function (q) { return Math.abs(q[0] - u) > half + q[2] || Math.abs(q[1] - v2) > 0.05; })) {
      kept.push([u, v2, half]);
      text[i] = esc(tags.t[i]);
    }
  }
  return text;
}

function drawTags(header, label) {
  const fig = tagDiv.closest('figure');
  if (!header.tags) {
    P.purge(tagDiv);
    fig.hidden = true;
    tagDiv.dataset.model = header.model;  // updated for this model: it has no tag map
    return;
  }
  fig.hidden = false;
  tagTitle.textContent = label + ': tags';
  const tags = header.tags;
  const trace = {type: 'scatter', mode: 'markers+text', x: tags.x, y: tags.y,
    text: labelled(tags), hovertext: tags.t.map(function (t, i) { return esc(t) + (tags.n ? ' (' + tags.n[i] + ' titles)' : ''); }),
    textposition: 'top center', hovertemplate: '%{hovertext}<extra></extra>',
    marker: {size: 6, color: accent}, textfont: {color: fg, size: 11}};
  P.react(tagDiv, [trace], layout('tags'), config).then(function () { tagDiv.dataset.model = header.model; });
}

/* The maps need the page's models and container, and plotly.js. */
function start() {
  if (!models.length || !wrap) return;
  wrap.hidden = false;
  if (!P) { status.textContent = 'plotly.js did not load.'; return; }
  plotDiv.parentNode.appendChild(hoverBox);
  modelSel.addEventListener('change', draw);
  colourSel.addEventListener('change', draw);
  draw();
}

start();

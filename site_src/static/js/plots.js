/* Plots page: one WebGL scatter (scattergl) per model from data/maps/<model>.json, points'
 * titles and tags from data/points.json; colour by a tag or a tag group; click opens the title. */
(function () {
  'use strict';
  const M = globalThis.Mangarec;
  const P = globalThis.Plotly;
  const models = M.data.models || [];
  const status = document.getElementById('plot-status');
  const modelSel = document.getElementById('model');
  const colourSel = document.getElementById('colour');
  const plotDiv = document.getElementById('plot');
  const tagDiv = document.getElementById('tag-plot');
  if (!models.length || !plotDiv) return;
  if (!P) { status.textContent = 'plotly.js did not load.'; return; }

  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue('--fg').trim() || '#222';
  const bg = css.getPropertyValue('--card').trim() || '#fff';
  const accent = css.getPropertyValue('--accent').trim() || '#3457d5';
  const muted = css.getPropertyValue('--muted').trim() || '#888';
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
    '#17becf', '#bcbd22', '#7f7f7f'];
  let points = null;
  let hover = null;
  let bound = false;

  function esc(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  function layout(title) {
    return {
      title: {text: esc(title), font: {color: fg}},
      paper_bgcolor: bg, plot_bgcolor: bg, font: {color: fg},
      margin: {l: 30, r: 10, t: 40, b: 30}, hovermode: 'closest', dragmode: 'pan',
      xaxis: {showgrid: false, zeroline: false, showticklabels: false},
      yaxis: {showgrid: false, zeroline: false, showticklabels: false, scaleanchor: 'x'},
      legend: {orientation: 'h', font: {color: fg}}
    };
  }
  const config = {responsive: true, displaylogo: false, scrollZoom: true,
    modeBarButtonsToRemove: ['select2d', 'lasso2d', 'toImage']};

  function groupsOf(colour) {
    const n = points.ids.length;
    if (!colour) return [{name: 'titles', color: accent, idx: Array.from({length: n}, function (_, i) { return i; })}];
    if (colour.startsWith('tag:')) {
      const t = Number(colour.slice(4));
      const yes = [], no = [];
      for (let i = 0; i < n; i++) (points.g[i].indexOf(t) >= 0 ? yes : no).push(i);
      return [{name: 'other titles', color: muted, idx: no, opacity: 0.35},
              {name: points.tags[t], color: accent, idx: yes}];
    }
    const group = colour.slice(6);
    const members = new Set((points.groups.find(function (g) { return g[0] === group; }) || [null, []])[1]);
    const count = new Map();
    const first = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      for (const t of points.g[i]) { if (members.has(t)) { first[i] = t; count.set(t, (count.get(t) || 0) + 1); break; } }
    }
    const top = Array.from(count.keys()).sort(function (a, b) { return count.get(b) - count.get(a) || a - b; }).slice(0, 9);
    const slot = new Map(top.map(function (t, k) { return [t, k]; }));
    const out = top.map(function (t, k) { return {name: points.tags[t], color: palette[k], idx: []}; });
    const other = {name: 'other ' + group, color: palette[9], idx: []};
    const none = {name: 'no ' + group + ' tag', color: muted, idx: [], opacity: 0.3};
    for (let i = 0; i < n; i++) {
      if (first[i] < 0) none.idx.push(i); else if (slot.has(first[i])) out[slot.get(first[i])].idx.push(i); else other.idx.push(i);
    }
    return [none].concat(out, other.idx.length ? [other] : []);
  }

  function draw() {
    const name = modelSel.value;
    const label = modelSel.options[modelSel.selectedIndex].text;
    status.textContent = 'Loading the ' + label + ' map…';
    Promise.all([M.fetchJSON('data/points.json'), M.fetchJSON('data/maps/' + name + '.json')]).then(function (res) {
      points = res[0];
      const map = res[1];
      if (!hover) {
        hover = points.t.map(function (t, i) {
          return '<b>' + esc(t) + '</b><br>' + esc(points.g[i].map(function (k) { return points.tags[k]; }).join(', '));
        });
      }
      const traces = groupsOf(colourSel.value).filter(function (g) { return g.idx.length; }).map(function (g) {
        return {
          type: 'scattergl', mode: 'markers', name: esc(g.name),
          x: g.idx.map(function (i) { return map.x[i]; }), y: g.idx.map(function (i) { return map.y[i]; }),
          customdata: g.idx, text: g.idx.map(function (i) { return hover[i]; }),
          hovertemplate: '%{text}<extra></extra>',
          marker: {size: 4, color: g.color, opacity: g.opacity || 0.8}
        };
      });
      return P.react(plotDiv, traces, layout(label), config).then(function () {
        plotDiv.dataset.model = name;
        if (!bound) {
          bound = true;
          plotDiv.on('plotly_click', function (ev) {
            const pt = ev.points && ev.points[0];
            if (pt && points) location.href = M.titleHref(points.ids[pt.customdata]);
          });
        }
        status.textContent = label + ': ' + points.ids.length.toLocaleString() + ' titles.';
        drawTags(map, label);
      });
    }).catch(function (e) { status.textContent = 'Could not draw the map: ' + e.message; });
  }

  function drawTags(map, label) {
    if (!tagDiv) return;
    if (!map.tags) {
      P.purge(tagDiv);
      tagDiv.hidden = true;
      return;
    }
    tagDiv.hidden = false;
    const trace = {type: 'scatter', mode: 'markers+text', x: map.tags.x, y: map.tags.y,
      text: map.tags.t.map(esc), textposition: 'top center', hovertemplate: '%{text}<extra></extra>',
      marker: {size: 6, color: accent}, textfont: {color: fg, size: 11}};
    P.react(tagDiv, [trace], layout(label + ': tags'), config);
  }

  modelSel.addEventListener('change', draw);
  colourSel.addEventListener('change', draw);
  draw();
})();
